"""A tampered or incompatible artifact is refused with a message naming what differs, and no
file of it is ever deserialised.

Story: someone with write access to the model bucket swaps a pickle for one that runs code.
The daemon must refuse to start (exit 2, a clear reason) without unpickling anything; and an
artifact from another build (feature list, library versions, window width) is refused before
it can score windows on the wrong scale.
"""

from __future__ import annotations

import io
import pickle
import re
from pathlib import Path
from typing import Any

import orjson
import pytest
from test_train_support import copy_artifact, small_settings, tiny_model

from detector.cli import main
from detector.detect.iforest import fit_iforest, save_iforest
from detector.errors import ModelError
from detector.model import safe_pickle
from detector.model.format import METADATA, sha256_hex
from detector.model.loader import load_artifact


class Marker:
    """Unpickling this creates a file: proof that something was deserialised."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (str(self.path), "w"))


@pytest.fixture
def model(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> Path:
    return copy_artifact(tiny_model(tmp_path_factory), tmp_path / "model")


def edit_metadata(model: Path, change: Any) -> None:
    meta = orjson.loads((model / METADATA).read_bytes())
    change(meta)
    (model / METADATA).write_bytes(orjson.dumps(meta))


def refused(model: Path | str, match: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The loader refuses with ``match``, and ``s3ad replay --model`` exits 2 saying so."""
    with pytest.raises(ModelError, match=match):
        load_artifact(str(model), small_settings())
    code = main(["replay", "--model", str(model), "--log-level", "CRITICAL", "/nonexistent"])
    assert code == 2
    assert "s3ad: " in (err := capsys.readouterr().err) and ModelError.__name__ not in err
    assert re.search(match, err)


def test_the_untouched_artifact_loads(model: Path) -> None:
    assert load_artifact(str(model), small_settings()).warm.online


def test_a_flipped_byte_in_a_model_file_is_refused(
    model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = bytearray((model / "iforest.pkl").read_bytes())
    data[len(data) // 2] ^= 0x01
    (model / "iforest.pkl").write_bytes(bytes(data))
    refused(model, r"iforest\.pkl does not match metadata\.json", capsys)


def test_a_pickle_that_runs_code_is_never_unpickled(
    model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    marker = tmp_path / "pwned"
    evil = pickle.dumps(Marker(marker))
    pickle.loads(pickle.dumps(Marker(tmp_path / "proof")))  # the payload does work…
    assert (tmp_path / "proof").exists()
    (model / "online.pkl").write_bytes(evil)  # …and nothing else is fixed up
    refused(model, r"online\.pkl does not match metadata\.json", capsys)
    assert not marker.exists()


def test_a_forged_pickle_with_forged_hashes_is_refused_by_the_allow_list(
    model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    marker = tmp_path / "pwned"
    evil = pickle.dumps(Marker(marker))
    (model / "online.pkl").write_bytes(evil)

    def forge(meta: dict[str, Any]) -> None:
        meta["files"]["online.pkl"] = {"sha256": sha256_hex(evil), "bytes": len(evil)}

    edit_metadata(model, forge)
    refused(model, r"online\.pkl refers to io\.open, which no s3ad model holds", capsys)
    assert not marker.exists()


def test_an_edited_feature_hash_is_refused(model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit_metadata(model, lambda m: m["features"].update(hash="0123456789abcdef"))
    refused(model, r"trained on features 0123456789abcdef .* this build computes", capsys)


def test_a_different_feature_list_is_named(model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def drop(meta: dict[str, Any]) -> None:
        meta["features"]["names"].remove("hour_rarity")
        meta["features"]["names"].append("moon_phase")

    edit_metadata(model, drop)
    refused(model, r"this build adds hour_rarity; this build lacks moon_phase", capsys)


@pytest.mark.parametrize(
    ("library", "version"), [("scikit-learn", "0.24.2"), ("river", "0.1.0"), ("numpy", "9.0.0")]
)
def test_a_model_from_other_library_versions_is_refused(
    model: Path, library: str, version: str, capsys: pytest.CaptureFixture[str]
) -> None:
    edit_metadata(model, lambda m: m["versions"].update({library: version}))
    refused(model, rf"incompatible libraries: {library}: model trained with {version}", capsys)


def test_another_window_width_is_refused(model: Path) -> None:
    with pytest.raises(ModelError, match=r"trained on 300-second windows, this service uses 60"):
        load_artifact(str(model), small_settings(**{"window.width_seconds": 60}))


def test_file_names_cannot_leave_the_artifact(
    model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit_metadata(model, lambda m: m["files"].update({"../../etc/passwd": {"sha256": "0"}}))
    refused(model, r"invalid file name '\.\./\.\./etc/passwd'", capsys)


def test_a_missing_model_file_is_named(model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (model / "baselines.json.gz").unlink()
    refused(model, r"baselines\.json\.gz is listed in metadata\.json but missing", capsys)


def test_a_bare_pickle_without_metadata_is_never_loaded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    save_iforest(fit_iforest([[float(i % 7)] * 34 for i in range(50)]), tmp_path / "old")
    refused(tmp_path / "old", r"no metadata\.json; only artifacts written by `s3ad train`", capsys)


def test_a_pin_must_match_the_metadata(model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    digest = sha256_hex((model / METADATA).read_bytes())
    assert load_artifact(f"{model}#sha256={digest}", small_settings()).digest == digest
    refused(f"{model}#sha256={'0' * 64}", r"the pin says 0{64}", capsys)


def test_the_allow_list_accepts_model_classes_only() -> None:
    with pytest.raises(ModelError, match=r"refers to os\.system"):
        safe_pickle.loads(b"cos\nsystem\n(S'true'\ntR.", "x.pkl")
    buf = io.BytesIO()
    pickle.dump({"a": (1.0, [2])}, buf)
    assert safe_pickle.loads(buf.getvalue(), "x.pkl") == {"a": (1.0, [2])}
