"""Redelivered CloudTrail events are counted once, with memory bounded whatever the input.

Story: CloudTrail redelivers files and SQS delivers at least once, so the same eventID shows up
again; the user must not see doubled counts. The dedup memory must stay bounded on a
months-long replay, and survive a checkpoint.
"""

from __future__ import annotations

import json
from pathlib import Path

from detector.config import Settings
from detector.dedup import Dedup
from detector.engine import Engine

RECORDS = Path(__file__).resolve().parents[1] / "data" / "records"
T0 = 1_793_527_200.0  # 2026-11-01T10:00:00Z


def test_a_repeated_event_id_is_seen_and_counted() -> None:
    d = Dedup()
    assert d.seen("e-1", T0 + 5) is False
    assert d.seen("e-2", T0 + 5) is False
    assert d.seen("e-1", T0 + 5) is True
    assert d.duplicates == 1


def test_records_without_event_id_are_never_dropped() -> None:
    d = Dedup()
    assert [d.seen("", T0) for _ in range(3)] == [False, False, False]
    assert d.duplicates == 0


def test_ids_older_than_the_horizon_are_forgotten() -> None:
    d = Dedup(horizon_seconds=600)
    for i in range(100):
        d.seen(f"old-{i}", T0 + i)
    d.seen("new", T0 + 3600)
    assert d.size == 1
    # A redelivery within the horizon is still caught.
    d.seen("recent", T0 + 3500)
    assert d.seen("recent", T0 + 3500) is True


def test_memory_is_capped_by_max_ids() -> None:
    d = Dedup(horizon_seconds=10**9, max_ids=1000)
    for i in range(10_000):
        d.seen(f"id-{i}", T0 + i)  # one minute bucket per 60 ids
        assert d.size <= 1000
    assert d.size == sum(len(ids) for ids in d.buckets.values())
    assert d.seen("id-9999", T0 + 9999) is True  # the newest are the ones kept


def test_state_survives_a_checkpoint_round_trip() -> None:
    d = Dedup()
    for i in range(50):
        d.seen(f"id-{i}", T0 + i * 7)
    state = json.loads(json.dumps(d.state()))  # checkpoints are JSON: int keys become strings
    restored = Dedup()
    restored.restore(state)
    assert restored.size == 50
    assert restored.seen("id-17", T0 + 17 * 7) is True
    assert restored.seen("id-50", T0 + 50 * 7) is False


def test_a_redelivered_file_adds_nothing_to_the_windows() -> None:
    records = [json.loads(p.read_text()) for p in sorted(RECORDS.glob("identity_*.json"))]
    engine = Engine(Settings(), clock=lambda: T0 + 86400)
    engine.ingest(records)
    engine.ingest(records)  # the same file delivered again
    windows = engine.step(final=True).windows
    assert sum(w.n for w in windows) == len(records)
    assert engine.counts.duplicates == len(records)
    assert engine.counts.reconciles()
