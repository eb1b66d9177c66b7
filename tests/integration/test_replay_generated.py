"""Replaying a generated day of CloudTrail: the whole pipeline on realistic traffic.

Story: the project's own generator writes a trail as CloudTrail would — two accounts, two
regions, an org-trail key layout, hourly digests, late and out-of-order delivery, management
and non-S3 events, and labelled attack scenarios. Replaying it must skip the digests, account
for every record exactly once, keep late deliveries within the lateness in their windows, and
produce windows for the trail's many principals, including each labelled scenario's.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest

from detector.config import Settings
from detector.engine import Batch, Engine
from detector.metrics import Metrics
from detector.replay import FileReport, drive, read_inputs
from detector.windows import WindowAgg

pytest.importorskip("detector.gen.cli", reason="the trail generator is not in this tree")

WIDTH = Settings().window.width_seconds


@dataclass
class Replayed:
    summary: dict
    labels: list[dict]
    engine: Engine
    report: FileReport
    windows: list[WindowAgg] = field(default_factory=list)
    late_seen: int = 0


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replayed]:
    out = tmp_path_factory.mktemp("trail")
    gen = subprocess.run(
        [
            *(sys.executable, "-m", "detector.gen.cli", "--out", str(out), "--days", "1"),
            *("--principals", "40", "--records", "20000", "--seed", "11"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    summary = json.loads(gen.stdout.splitlines()[-1])
    labels_text = Path(summary["labels"]).read_text()  # absolute: --out is absolute
    labels = [json.loads(line) for line in labels_text.splitlines() if line]

    engine = Engine(Settings())
    report = FileReport()
    result = Replayed(summary, labels, engine, report)

    def on_batch(batch: Batch) -> None:
        result.windows.extend(batch.windows)
        result.late_seen += len(batch.late)
        engine.learn(batch.windows)

    drive(engine, read_inputs([out / "AWSLogs"], Settings(), Metrics(), report), on_batch)
    yield result


def test_the_trail_is_multi_hour_and_busy(replayed: Replayed) -> None:
    starts = [w.start for w in replayed.windows]
    assert max(starts) - min(starts) >= 20 * 3600
    assert replayed.summary["records"] >= 10_000


def test_every_log_file_is_read_and_every_digest_skipped(replayed: Replayed) -> None:
    assert replayed.report.unreadable == []
    assert replayed.report.files_read == replayed.summary["files"]
    assert replayed.report.files_skipped == replayed.summary["digest_files"] > 0


def test_every_record_is_accounted_for_exactly_once(replayed: Replayed) -> None:
    c = replayed.engine.counts
    assert c.read == replayed.summary["records"]
    assert c.reconciles(), c
    assert sum(w.n for w in replayed.windows) == c.windowed
    assert replayed.late_seen == c.late  # late records are handed on, not dropped silently
    assert c.not_s3 > 0  # the trail mixes in other services' events
    assert c.invalid == 0


def test_late_delivery_within_the_lateness_still_lands_in_windows(replayed: Replayed) -> None:
    c = replayed.engine.counts
    assert c.late <= c.read // 1000  # CloudTrail is ~5 min late; the lateness is 15 min


def test_windows_cover_the_trails_principals(replayed: Replayed) -> None:
    principals = {(w.account, w.principal) for w in replayed.windows}
    assert len(principals) >= 0.8 * replayed.summary["principals"]
    assert {w.account for w in replayed.windows} == set(replayed.summary["accounts"])
    assert any(w.service for w in replayed.windows)  # AWS services are there, and tagged


def test_each_labelled_scenario_has_windows_for_its_principal(replayed: Replayed) -> None:
    assert replayed.labels
    by_key: dict[tuple[str, str], list[WindowAgg]] = {}
    for w in replayed.windows:
        by_key.setdefault((w.account, w.principal), []).append(w)
    for label in replayed.labels:
        from_t = _epoch(label["start"]) - WIDTH
        to_t = _epoch(label["end"])
        mine = by_key.get((label["account"], label["principal"]), [])
        assert any(from_t < w.start <= to_t for w in mine), label["scenario"]


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
