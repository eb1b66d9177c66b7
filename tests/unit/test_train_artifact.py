"""A trained artifact round-trips, and every way of running s3ad starts warm from it.

Story: a team trains on last month's trail, then points ``s3ad replay`` and the daemon at the
artifact. The service must judge its first window with the trained baselines, population
models and IsolationForest — not spend a day learning again.
"""

from __future__ import annotations

from pathlib import Path

import boto3
import numpy as np
import orjson
import pytest
from test_train_support import small_settings, tiny_model, tiny_trail, train_to

from detector.cli import main
from detector.detect.detector import Detector
from detector.detect.rules import RuleBook
from detector.detect.runner import replay_findings
from detector.detect.scorer import WARM
from detector.features import FEATURE_HASH, FEATURES
from detector.metrics import Metrics
from detector.model.format import METADATA, MODEL_FILES, library_versions
from detector.model.loader import load_artifact
from detector.model.writer import model_files, write_artifact
from detector.pipeline import Pipeline
from detector.replay import FileReport
from detector.service.app import build_service
from detector.train.collect import CollectSpec, collect
from detector.train.fit import fit_forest
from detector.train.sample import matrix
from detector.train.sources import FileReader, KeyFilter, list_sources
from detector.train.warm import warm_pass

FEATURES_META = {"names": list(FEATURES), "hash": FEATURE_HASH}


@pytest.fixture(scope="module")
def trail(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_trail(tmp_path_factory)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_model(tmp_path_factory)


def probes(n: int = 50) -> np.ndarray:
    rng = np.random.default_rng(3)
    return rng.uniform(0, 4, size=(n, len(FEATURES)))


def test_the_artifact_holds_what_the_issue_lists(model: Path) -> None:
    meta = orjson.loads((model / METADATA).read_bytes())
    assert meta["features"] == {"names": list(FEATURES), "hash": FEATURE_HASH}
    assert {"python", "scikit-learn", "river", "numpy", "s3ad"} <= set(meta["versions"])
    assert meta["data"]["first_event"].startswith("2026-11-01")
    counts = meta["counts"]
    assert counts["files"]["read"] > 100 and counts["records"]["read"] > 10_000
    assert counts["windows"]["total"] > 2000 and counts["principals"] > 20
    assert counts["windows"]["flagged"] > 0 and counts["findings"]  # attacks are not learned
    assert meta["parameters"]["window_seconds"] == 300
    assert set(MODEL_FILES) <= set(meta["files"])
    assert all(len(f["sha256"]) == 64 for f in meta["files"].values())


def test_round_trip_gives_back_exactly_the_models_in_memory(trail: Path, tmp_path: Path) -> None:
    settings = small_settings()
    names = list_sources([str(trail)], KeyFilter()).names
    spec = CollectSpec(notable=RuleBook(settings.rules).notable)
    windows = collect(names, spec, FileReader(1 << 30), 1).closed()
    result = warm_pass(windows, settings, k=1000, seed=5)
    fitted = fit_forest(matrix(result.sample, len(FEATURES)), seed=5, trees=30)
    digest = write_artifact(
        tmp_path / "m",
        model_files(fitted.adapter, result.warm),
        {"features": FEATURES_META}
        | {"versions": library_versions(), "parameters": {"window_seconds": 300}},
    )
    loaded = load_artifact(str(tmp_path / "m"), settings)
    assert loaded.digest == digest
    x = probes()
    assert np.array_equal(loaded.iforest.raw(x), fitted.adapter.raw(x))
    assert np.array_equal(loaded.iforest.quantiles, fitted.adapter.quantiles)
    w = result.warm
    assert {k: h.state() for k, h in loaded.warm.histories.items()} == {
        k: h.state() for k, h in w.histories.items()
    }
    assert loaded.warm.first_seen == w.first_seen and loaded.warm.ssec == w.ssec
    assert sorted(loaded.warm.online) == sorted(w.online)
    for key, model in w.online.items():
        again = loaded.warm.online[key]
        assert again.learned == model.learned and again.calibrator.counts == model.calibrator.counts
        for row in x[:5]:
            v = dict(zip(FEATURES, (float(c) / 10 for c in row), strict=True))
            assert again.hst.score_one(v) == model.hst.score_one(v)


def test_a_detector_built_from_the_artifact_is_warm(model: Path) -> None:
    settings = small_settings()
    artifact = load_artifact(str(model), settings)
    cold = Detector(settings)
    warm = Detector(settings, artifact=artifact)
    assert cold.online.status().state != WARM and cold.iforest is None
    assert warm.online.status().state == WARM
    assert warm.iforest is artifact.iforest
    assert warm.first_seen == artifact.warm.first_seen
    assert any("model artifact" in note for note in warm.startup_notes())


def test_the_pipeline_and_the_daemon_get_the_trained_baselines(model: Path) -> None:
    settings = small_settings(**{"service.queue_url": "http://127.0.0.1:1/q"})
    artifact = load_artifact(str(model), settings)
    pipeline = Pipeline(settings, Detector(settings, artifact=artifact))
    assert set(pipeline.engine.history.by_key) == set(artifact.warm.histories)
    session = boto3.session.Session(
        aws_access_key_id="x", aws_secret_access_key="x", region_name="us-east-1"
    )
    service = build_service(settings, Detector(settings, artifact=artifact), Metrics(), session)
    assert set(service.pipeline.engine.history.by_key) == set(artifact.warm.histories)
    assert service.pipeline.detection.online.models  # type: ignore[attr-defined]


def test_models_iforest_path_alone_loads_through_the_verifying_loader(model: Path) -> None:
    # Scripts build Detector(settings) directly: the setting must take the same verified path.
    d = Detector(small_settings(**{"models.iforest_path": str(model)}))
    assert d.artifact is not None and d.artifact.digest
    assert d.online.status().state == WARM


def test_replay_with_the_model_starts_warm(model: Path, trail: Path) -> None:
    settings = small_settings()
    artifact = load_artifact(str(model), settings)
    seen: list[dict[str, object]] = []
    result = replay_findings(
        [trail], settings, seen.extend, Metrics(), FileReport(), artifact=artifact
    )
    assert result.detector.artifact is artifact and result.detector.iforest is artifact.iforest
    # the trained baselines were there from the first window: every trained principal is known
    assert set(artifact.warm.histories) <= set(result.engine.history.by_key)
    assert result.engine.counts.windowed > 10_000 and seen


def test_replay_command_line_with_model(model: Path, trail: Path, tmp_path: Path) -> None:
    out = tmp_path / "findings.jsonl"
    code = main(
        [
            *("replay", "--model", str(model), "--sink", f"jsonl://{out}"),
            *("--log-level", "ERROR", "--config", str(write_config(tmp_path)), str(trail)),
        ]
    )
    assert code == 0
    assert out.read_text().count("\n") > 0


def write_config(tmp_path: Path) -> Path:
    cfg = tmp_path / "small.toml"
    cfg.write_text("[models]\nwarmup_windows = 40\nriver_window = 20\n")
    return cfg


def test_the_report_renders_and_is_hashed_like_the_model(trail: Path, tmp_path: Path) -> None:
    result = train_to(tmp_path / "r", [str(trail)], workers=2, report=True, trees=20)
    out = tmp_path / "r"
    report = (out / "report.md").read_text()
    for png in ("scores", "top_windows", "features"):
        data = (out / "plots" / f"{png}.png").read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000
        assert f"(plots/{png}.png)" in report
    listing = orjson.loads((out / METADATA).read_bytes())["files"]
    assert {"report.md", "plots/scores.png", "plots/features.png"} <= set(listing)
    assert "## Most anomalous training windows" in report and "| 1 |" in report
    assert load_artifact(str(out), small_settings()).digest == result.digest
