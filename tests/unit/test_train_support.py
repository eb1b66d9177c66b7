"""Shared pieces of the training tests (no tests here): a tiny generated trail, settings sized
for it, and a trained artifact.

The trail is one day, two accounts, ~15,000 records and ~2,600 windows: big enough that population models warm up
(with ``warmup_windows`` lowered to 40) and small enough to train in about a second.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from detector.config import Settings, load_settings
from detector.gen import GenConfig, generate
from detector.train.trainer import TrainOptions, TrainResult, train

SMALL = {"models.warmup_windows": 40, "models.river_window": 20}


def small_settings(**overrides: object) -> Settings:
    return load_settings(None, {**SMALL, **overrides}, env={})


def make_trail(root: Path, principals: int = 30, records: int = 15000) -> Path:
    """A generated trail under ``root``; returns its ``AWSLogs`` folder."""
    generate(GenConfig(out=str(root), days=1, principals=principals, records=records))
    return root / "AWSLogs"


def train_to(
    out: Path, sources: list[str], settings: Settings | None = None, **options: object
) -> TrainResult:
    opts = TrainOptions(out=out, sources=tuple(sources), progress=False, **options)  # type: ignore[arg-type]
    return train(opts, settings or small_settings())


def copy_artifact(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest)
    return dest


def tiny_trail(factory: pytest.TempPathFactory) -> Path:
    """The tiny trail, generated once per test session (cached under the base temp dir)."""
    root = factory.getbasetemp() / "train-trail"
    if not (root / "labels.jsonl").exists():
        make_trail(root)
    return root / "AWSLogs"


def tiny_model(factory: pytest.TempPathFactory) -> Path:
    """An artifact trained on the tiny trail (2 workers, no report), once per session."""
    out = factory.getbasetemp() / "train-model" / "tiny"
    if not (out / "metadata.json").exists():
        train_to(out, [str(tiny_trail(factory))], workers=2, report=False, trees=50)
    return out


def test_s3_readers_retry_or_report_a_file_s3_keeps_failing_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A backtest retries a body cut mid-stream and then stops (Spark retries the task);
    # training tries once beyond botocore's own retries and reports the file as unreadable.
    from detector.aws.s3read import TransientError
    from detector.engines import sources as engine_sources
    from detector.engines.sources import TrailReader
    from detector.errors import UnreadableInput
    from detector.train.sources import FileReader

    monkeypatch.setattr(engine_sources.time, "sleep", lambda _s: None)
    for reader, attempts, error in (
        (TrailReader(), 3, TransientError),
        (FileReader(1), 1, UnreadableInput),
    ):
        calls = []

        def fail(ref: object, calls: list[object] = calls) -> bytes:
            calls.append(ref)
            raise TransientError("b/k", "connection reset")

        monkeypatch.setattr(reader, "_fetch", fail)
        with pytest.raises(error) as info:
            reader("s3://b/AWSLogs/k.json.gz")
        assert len(calls) == attempts
        assert "connection reset" in str(info.value)
