"""The compiled build and the source give the same models and the same findings, to the byte.

Story: s3ad ships its hot path compiled with mypyc (issue 6) and keeps the source as the
fallback (``S3AD_PURE_PYTHON=1``, or no C compiler). A security team must get the same
findings whichever build runs, and a model trained by one build must mean the same to the
other. Here a generated day with attacks is trained on with two worker processes (partials and
the rule book cross processes as pickles) by each build, and replayed with the model by each.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from detector import native

pytest.importorskip("detector.gen.cli", reason="the trail generator is not in this tree")
pytestmark = pytest.mark.slow

if native.select().mode != native.COMPILED:
    pytest.skip(
        f"not running the compiled build ({native.select().reason})", allow_module_level=True
    )


def _run(args: list[str], pure: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != native.PURE_ENV}
    if pure:
        env[native.PURE_ENV] = "1"
    return subprocess.run(
        [sys.executable, "-m", "detector", *args, "--log-level", "WARNING"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )


@pytest.fixture(scope="module")
def trail(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("trail")
    subprocess.run(
        [
            *(sys.executable, "-m", "detector.gen.cli", "--out", str(out), "--days", "1"),
            *("--principals", "30", "--accounts", "2", "--records", "30000", "--seed", "7"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return out / "AWSLogs"


def _model_digest(d: Path) -> dict[str, str]:
    return {
        f.name: hashlib.sha256(f.read_bytes()).hexdigest()
        for f in sorted(d.iterdir())
        if f.is_file() and f.name != "metadata.json"  # holds timings
    }


@pytest.fixture(scope="module")
def models(trail: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[bool, Path]:
    out = {}
    for pure in (False, True):
        d = tmp_path_factory.mktemp("pure" if pure else "compiled")
        args = ["train", "--out", str(d), "--workers", "2", "--no-report", str(trail)]
        _run(args, pure)
        out[pure] = d
    return out


def test_both_builds_train_the_same_model(models: dict[bool, Path]) -> None:
    compiled, pure = _model_digest(models[False]), _model_digest(models[True])
    assert len(compiled) >= 3  # the online models, the IsolationForest, the histories…
    assert compiled == pure
    meta = [json.loads((models[p] / "metadata.json").read_text()) for p in (False, True)]
    assert meta[0]["data"] == meta[1]["data"]


def test_both_builds_find_the_same_findings(
    trail: Path, models: dict[bool, Path], tmp_path: Path
) -> None:
    rows = {}
    for pure in (False, True):
        sink = tmp_path / f"{pure}.jsonl"
        args = ["replay", "--model", str(models[False]), "--sink", f"jsonl://{sink}", str(trail)]
        _run(args, pure)
        rows[pure] = sink.read_bytes()
    assert rows[False].count(b"\n") >= 5  # the generated attacks are found
    assert rows[False] == rows[True]
