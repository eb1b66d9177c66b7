"""``s3ad backtest`` and the map/merge engines, without starting Spark.

Story: whatever splits the files (processes, Spark tasks) and in whatever order the partial
windows are merged, the windows are the ones one process would build, and a window that
travelled through pickle is judged exactly like one that never left the process. The driver
lists a year-long trail for a one-day backtest without walking the other 364 days, and the
command line says what it read, what it found, and why it stopped.
"""

from __future__ import annotations

import doctest
import pickle
import random
import subprocess
import sys
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

import detector.backtest
import detector.engines
import detector.engines.sources
import detector.engines.spark
from detector.backtest import collect_windows, detect
from detector.cli import main
from detector.config import Settings, load_settings
from detector.detect.detector import Detector
from detector.engines import open_engine
from detector.engines.local import LocalEngine
from detector.engines.sources import Listing, TrailReader, list_sources
from detector.engines.spark import map_chunks, merge_values, rebuild
from detector.errors import ConfigError
from detector.train.collect import CollectSpec, Partial, chunks
from detector.windows import WindowAgg

NOW = datetime(2026, 11, 20, tzinfo=UTC).timestamp()
DAY = datetime(2026, 11, 1, tzinfo=UTC).timestamp()


@pytest.fixture(scope="module")
def trail(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("trail")
    subprocess.run(
        [
            *(sys.executable, "-m", "detector.gen.cli", "--out", str(out), "--days", "1"),
            *("--principals", "20", "--accounts", "2", "--seed", "5", "--records", "4000"),
        ],
        capture_output=True,
        timeout=120,
        check=True,
    )
    return out / "AWSLogs"


@pytest.fixture(scope="module")
def settings() -> Settings:
    return load_settings(None, {})


@pytest.fixture(scope="module")
def listing(trail: Path) -> Listing:
    return list_sources([str(trail)])


def states(windows: list[WindowAgg]) -> list[tuple[Any, ...]]:
    return [w.state() for w in windows]


@pytest.mark.parametrize(
    "module",
    [detector.backtest, detector.engines, detector.engines.sources, detector.engines.spark],
)
def test_doctests(module: Any) -> None:
    assert doctest.testmod(module).failed == 0


def test_any_split_and_merge_order_gives_one_process_windows(
    listing: Listing, settings: Settings
) -> None:
    """What ``reduceByKey`` does, by hand: tasks emit pairs, Spark merges them in any order."""
    spec = CollectSpec(width=settings.window.width_seconds, now=NOW)
    reader = TrailReader()
    single = LocalEngine(1).collect(listing.names, spec, reader)
    rng = random.Random(8)
    for tasks in (2, 7, len(listing.names)):
        by_key: dict[Any, list[Any]] = defaultdict(list)
        for work in chunks(listing.names, tasks):
            for key, value in map_chunks(spec, reader, [work]):
                by_key[key].append(pickle.loads(pickle.dumps(value)))  # the shuffle
        merged = []
        for key, values in by_key.items():
            rng.shuffle(values)
            acc = values[0]
            for v in values[1:]:
                acc = merge_values(acc, v)
            merged.append((key, acc))
        rng.shuffle(merged)
        part = rebuild(merged)
        assert states(part.closed()) == states(single.closed())
        assert (part.files, part.read, part.windowed) == (
            single.files,
            single.read,
            single.windowed,
        )


def test_windows_that_went_through_pickle_raise_the_same_findings(
    listing: Listing, settings: Settings
) -> None:
    """Events come back from pickle with equal, not identical, strings: rules must not care."""
    d = Detector(settings)
    closed = collect_windows(LocalEngine(1), listing, settings, d.rules.notable, now=NOW).closed()
    travelled = [WindowAgg.from_state(s) for s in pickle.loads(pickle.dumps(states(closed)))]
    at_home: list[dict[str, Any]] = []
    away: list[dict[str, Any]] = []
    detect(closed, settings, Detector(settings), at_home.extend)
    detect(travelled, settings, Detector(settings), away.extend)
    assert any("credential-read" in f["service"]["additionalInfo"]["value"] for f in at_home)
    assert [orjson.dumps(f, option=orjson.OPT_SORT_KEYS) for f in away] == [
        orjson.dumps(f, option=orjson.OPT_SORT_KEYS) for f in at_home
    ]


class FakeS3:
    """``list_objects_v2`` with prefixes and delimiters, counting the folders listed."""

    def __init__(self, keys: list[str]) -> None:
        self.keys = sorted(keys)
        self.listed: list[str] = []

    def get_paginator(self, name: str) -> FakeS3:
        assert name == "list_objects_v2"
        return self

    def paginate(self, Bucket: str, Prefix: str, Delimiter: str = "") -> list[dict[str, Any]]:
        self.listed.append(Prefix)
        contents, prefixes = [], set()
        for k in self.keys:
            if not k.startswith(Prefix):
                continue
            rest = k[len(Prefix) :]
            if Delimiter and Delimiter in rest:
                prefixes.add(Prefix + rest.split(Delimiter)[0] + Delimiter)
            else:
                contents.append({"Key": k})
        return [{"Contents": contents, "CommonPrefixes": [{"Prefix": p} for p in sorted(prefixes)]}]


def year_of_keys() -> list[str]:
    keys = []
    for day in range(365):
        t = datetime.fromtimestamp(DAY - 200 * 86400 + day * 86400, UTC)
        folder = f"AWSLogs/o-abc123def4/111122223333/CloudTrail/us-east-1/{t:%Y/%m/%d}/"
        for hour in (0, 12, 23):
            stamp = f"{t:%Y%m%d}T{hour:02d}05Z"
            keys.append(
                f"{folder}111122223333_CloudTrail_us-east-1_{stamp}_abcdefghijklmnop.json.gz"
            )
        keys.append(
            f"AWSLogs/o-abc123def4/111122223333/CloudTrail-Digest/us-east-1/{t:%Y/%m/%d}/d.json.gz"
        )
    return keys


def test_a_one_day_backtest_of_a_year_lists_only_that_day(settings: Settings) -> None:
    s3 = FakeS3(year_of_keys())
    out = list_sources(["s3://trail/AWSLogs/"], DAY, DAY + 86400, s3)
    stamps = [n.rsplit("_", 2)[1] for n in out.names]
    # The day's three files, and the next day's first (delivered within LATE of the end).
    assert stamps == ["20261101T0005Z", "20261101T1205Z", "20261101T2305Z", "20261102T0005Z"]
    assert all(n.startswith("s3://trail/AWSLogs/o-abc123def4/") for n in out.names)
    day_folders = [p for p in s3.listed if p.count("/") == 8]
    assert len(day_folders) == 3  # 10-31 (files up to 15 min early), 11-01, 11-02
    assert not any("CloudTrail-Digest" in p for p in s3.listed)
    assert len(s3.listed) < 20


def test_without_a_range_every_log_key_is_listed_once() -> None:
    s3 = FakeS3(year_of_keys())
    out = list_sources(["s3://trail/"], s3=s3)
    assert len(out.names) == 365 * 3 and len(out.skipped) == 365
    assert out.names == sorted(out.names, key=lambda n: n.rsplit("_", 2)[1])


def test_the_reader_travels_without_its_client(trail: Path) -> None:
    reader = TrailReader(cap=1 << 20)
    reader._s3 = object()  # a client must never be pickled into a worker
    copy = pickle.loads(pickle.dumps(reader))
    assert copy._s3 is None and copy.cap == 1 << 20
    name = next(str(p) for p in sorted(trail.rglob("*_CloudTrail_*.json.gz")))
    assert copy(name).records


def test_backtest_command_prints_a_summary_and_publishes_findings(
    trail: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "findings.jsonl"
    status = main(["backtest", "--workers", "2", "--sink", f"jsonl://{out}", str(trail)])
    assert status == 0
    err = capsys.readouterr().err
    assert "s3ad backtest summary" in err and "local, 2 workers" in err
    findings = [orjson.loads(line) for line in out.read_text().splitlines()]
    assert findings and all(f["type"] in err for f in findings)


def test_a_missing_source_is_reported_and_exits_3(
    trail: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["backtest", "--sink", "null://", str(trail), str(tmp_path / "nope")])
    assert status == 3
    assert "nope: not-found" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["--start", "2026-11-02", "--end", "2026-11-01"],
        ["--workers", "-1"],
        ["--model", "/nonexistent/model"],
    ],
)
def test_bad_arguments_exit_2(trail: Path, argv: list[str]) -> None:
    assert main(["backtest", "--sink", "null://", *argv, str(trail)]) == 2


def test_unknown_engine_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown engine"):
        open_engine("dask")


def test_spark_without_pyspark_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyspark", None)
    with pytest.raises(ConfigError, match=r"s3ad\[spark\]"):
        open_engine("spark")


def test_empty_listing_collects_nothing(settings: Settings) -> None:
    spec = CollectSpec(now=NOW)
    assert LocalEngine(1).collect([], spec, TrailReader()).windows == {}
    assert isinstance(rebuild([]), Partial)
