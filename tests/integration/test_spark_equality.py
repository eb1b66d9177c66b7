"""Spark gives the same windows and the same findings as the local engine (issue 8).

Story: a team backtests months of organisation trails on EMR Serverless instead of one machine.
They must get exactly what ``--engine local`` would have given — the same windows, so the same
training inputs, and the same findings with the same ids — or a model proven on Spark proves
nothing about the daemon. Here a generated day (two accounts, attacks included) goes through
the local engine with one and two processes and through Spark ``local[2]``, whose tasks run the
project's own ``collect_chunk``; then through Spark again from a moto S3 bucket, read by boto3
inside the tasks, listed by key within ``--start/--end``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import orjson
import pytest

from detector.backtest import BacktestResult, run_backtest
from detector.config import Settings, load_settings
from detector.engines.local import LocalEngine
from detector.ingest.keys import key_delivery_time
from detector.train.trainer import TrainOptions, train

pytest.importorskip(
    "pyspark", reason="pyspark is not installed: pip install -e '.[dev,spark]' (make venv does)"
)
from detector.engines.spark import SparkEngine

NOW = datetime(2026, 11, 20, tzinfo=UTC).timestamp()  # one "now" for the future-time check
DAY = datetime(2026, 11, 1, tzinfo=UTC).timestamp()


@pytest.fixture(scope="module")
def trail(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("trail")
    gen = subprocess.run(
        [
            *(sys.executable, "-m", "detector.gen.cli", "--out", str(out), "--days", "1"),
            *("--principals", "20", "--accounts", "2", "--seed", "5"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert json.loads(gen.stdout.splitlines()[-1])["attacks"] > 0
    return out / "AWSLogs"


@pytest.fixture(scope="module")
def settings() -> Settings:
    return load_settings(None, {})  # config/default.toml, as the CLI resolves it


@pytest.fixture(scope="module")
def spark(moto_endpoint: str) -> Iterator[SparkEngine]:
    # After moto's environment is set: the JVM and its Python workers inherit it, so tasks
    # reach the moto server the way they would reach S3, with no test switch in the code.
    engine = SparkEngine(master="local[2]")
    yield engine
    engine.close()


Run = tuple[BacktestResult, list[dict[str, Any]]]


def backtest(sources: list[str], settings: Settings, engine: Any, **kw: Any) -> Run:
    published: list[dict[str, Any]] = []
    result = run_backtest(sources, settings, engine, published.extend, now=NOW, **kw)
    return result, published


@pytest.fixture(scope="module")
def runs(trail: Path, settings: Settings, spark: SparkEngine) -> dict[str, Run]:
    engines = {"local/1": LocalEngine(1), "local/2": LocalEngine(2), "spark": spark}
    return {name: backtest([str(trail)], settings, e) for name, e in engines.items()}


def states(result: BacktestResult) -> list[tuple[Any, ...]]:
    return [w.state() for w in result.partial.closed()]


def test_spark_windows_equal_the_local_engine_bit_for_bit(runs: dict[str, Run]) -> None:
    reference = states(runs["local/1"][0])
    assert len(reference) > 1000
    assert len({s[0] for s in reference}) == 2  # both accounts
    assert states(runs["local/2"][0]) == reference
    assert states(runs["spark"][0]) == reference


def test_every_file_and_record_is_counted_the_same(runs: dict[str, Run]) -> None:
    def counts(r: BacktestResult) -> tuple[Any, ...]:
        p = r.partial
        return (p.files, p.skipped, p.read, p.windowed, p.not_s3, p.invalid, p.duplicates)

    local = counts(runs["local/1"][0])
    assert local[0] > 800 and local[2] > 15_000
    assert counts(runs["spark"][0]) == local
    assert len(runs["spark"][0].listing.skipped) == 100  # the hourly digests
    assert runs["spark"][0].unreadable == []


def test_spark_backtest_publishes_the_same_findings(runs: dict[str, Run]) -> None:
    def as_json(published: list[dict[str, Any]]) -> list[bytes]:
        return [orjson.dumps(f, option=orjson.OPT_SORT_KEYS) for f in published]

    local = runs["local/1"][1]
    types = {f["type"] for f in local}
    assert "AttackSequence:S3/CompromisedData" in types and len(types) > 5
    assert as_json(runs["local/2"][1]) == as_json(local)
    assert as_json(runs["spark"][1]) == as_json(local)
    assert runs["spark"][0].latest.keys() == runs["local/1"][0].latest.keys()


def test_spark_tasks_read_s3_and_the_driver_lists_only_the_range(
    trail: Path, settings: Settings, spark: SparkEngine, aws: boto3.session.Session
) -> None:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="org-trail")
    uploaded = 0
    for path in sorted(trail.rglob("*.json.gz")):
        stamp = key_delivery_time(str(path))
        # Six hours of logs, and every digest: enough to leave files out on both sides.
        if stamp is None or 8 <= stamp.hour < 14:
            key = f"trail/{path.relative_to(trail.parent)}"
            s3.put_object(Bucket="org-trail", Key=key, Body=path.read_bytes())
            uploaded += 1
    start, end = DAY + 10 * 3600, DAY + 12 * 3600

    from_s3, found_s3 = backtest(
        ["s3://org-trail/trail/"], settings, spark, start=start, end=end, s3=s3
    )
    local, found_local = backtest([str(trail)], settings, LocalEngine(1), start=start, end=end)

    assert from_s3.unreadable == []
    assert all(n.startswith("s3://org-trail/trail/AWSLogs/") for n in from_s3.listing.names)
    assert 0 < len(from_s3.listing.names) < uploaded
    assert from_s3.partial.out_of_range > 0  # delivered in range, events just outside it
    assert states(from_s3) == states(local)
    assert {w.start for w in from_s3.partial.closed()} <= set(range(int(start), int(end), 300))
    assert [f["id"] for f in found_s3] == [f["id"] for f in found_local]


def test_training_on_spark_writes_the_same_model(
    trail: Path, settings: Settings, spark: SparkEngine, tmp_path: Path
) -> None:
    def trained(name: str, engine: str) -> tuple[dict[str, bytes], dict[str, Any]]:
        out = tmp_path / name
        opts = TrainOptions(
            out,
            (str(trail),),
            workers=2,
            engine=engine,
            spark_master="local[2]",
            report=False,
            progress=False,
        )
        meta = train(opts, settings).metadata
        files = {p.name: p.read_bytes() for p in out.iterdir() if p.name != "metadata.json"}
        return files, meta["counts"]

    local_files, local_counts = trained("local", "local")
    spark_files, spark_counts = trained("spark", "spark")
    assert len(local_files) >= 3
    assert spark_files == local_files  # baselines, river models, IsolationForest: byte for byte
    assert spark_counts == local_counts
    assert spark.sc._jsc is not None  # the shared context was found, not stopped
