"""Redelivered CloudTrail events are counted once, with memory bounded whatever the input.

Story: CloudTrail redelivers files and SQS delivers at least once, so the same eventID shows up
again; the user must not see doubled counts. The dedup memory must stay bounded on a
months-long replay, and survive a checkpoint.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from detector.config import Settings
from detector.dedup import Dedup
from detector.engine import Engine

RECORDS = Path(__file__).resolve().parents[1] / "data" / "records"
T0 = 1_793_527_200.0  # 2026-11-01T10:00:00Z


A = "111122223333"
B = "444455556666"


def test_a_repeated_event_id_is_seen_and_counted() -> None:
    d = Dedup()
    assert d.seen(A, "e-1", T0 + 5) is False
    assert d.seen(A, "e-2", T0 + 5) is False
    assert d.seen(A, "e-1", T0 + 5) is True
    assert d.duplicates == 1


def test_records_without_event_id_are_never_dropped() -> None:
    d = Dedup()
    assert [d.seen(A, "", T0) for _ in range(3)] == [False, False, False]
    assert d.duplicates == 0


def test_ids_older_than_the_horizon_in_closed_windows_are_forgotten() -> None:
    d = Dedup(horizon_seconds=600)
    for i in range(100):
        d.seen(A, f"old-{i}", T0 + i)
    d.seen(A, "new", T0 + 3600)
    d.expire({A: T0 + 3000})  # the windows before T0 + 50 min are closed
    assert d.size == 1
    # A redelivery within the horizon is still caught.
    d.seen(A, "recent", T0 + 3500)
    assert d.seen(A, "recent", T0 + 3500) is True


def test_ids_in_open_windows_are_kept_past_the_horizon() -> None:
    # A restarted daemon holds windows open while newer files move the newest event on: a
    # repeat of an old event would still be counted, so its ID must still be known.
    d = Dedup(horizon_seconds=600)
    d.seen(A, "old", T0)
    d.seen(A, "new", T0 + 3600)
    d.expire({A: T0 - 300})  # nothing after T0 - 5 min is closed yet
    assert d.seen(A, "old", T0) is True
    d.expire({})  # an account that closed nothing keeps everything
    assert d.seen(A, "old", T0) is True
    d.expire({A: T0 + 300})  # its window closed: now it can go
    assert d.seen(A, "old", T0) is False


def test_each_account_keeps_its_ids_by_its_own_newest_event() -> None:
    # A busy account's clock must not expire a slower account's IDs.
    d = Dedup(horizon_seconds=600)
    d.seen(A, "a-1", T0)
    d.seen(B, "b-1", T0 + 86400)
    d.expire({A: T0 + 86400, B: T0 + 86400})
    assert d.seen(A, "a-1", T0) is True
    d.seen(A, "a-2", T0 + 3600)
    d.expire({A: T0 + 86400, B: T0 + 86400})
    assert d.seen(A, "a-1", T0) is False


def test_memory_is_capped_by_max_ids() -> None:
    d = Dedup(horizon_seconds=10**9, max_ids=1000)
    for i in range(10_000):
        d.seen(A if i % 2 else B, f"id-{i}", T0 + i)  # one minute bucket per 60 ids
        assert d.size <= 1000
    assert d.size == sum(len(ids) for by in d.buckets.values() for ids in by.values())
    assert d.seen(B, "id-9998", T0 + 9998) is True  # the newest are the ones kept
    assert d.seen(A, "id-1", T0 + 1) is False


def test_state_survives_a_checkpoint_round_trip() -> None:
    d = Dedup()
    for i in range(50):
        d.seen(A if i % 2 else B, f"id-{i}", T0 + i * 7)
    state = json.loads(json.dumps(d.state()))  # checkpoints are JSON: int keys become strings
    restored = Dedup(horizon_seconds=60)
    restored.restore(state)
    assert restored.size == 50
    assert restored.seen(A, "id-17", T0 + 17 * 7) is True
    assert restored.seen(B, "id-50", T0 + 50 * 7) is False
    restored.expire({A: T0 + 86400, B: T0 + 86400})  # the restored newest times drive expiry
    assert restored.seen(B, "id-0", T0) is False  # 6 minutes before B's newest event
    assert restored.seen(B, "id-48", T0 + 48 * 7) is True  # in its last minute


def test_a_checkpoint_from_before_per_account_ids_forgets_nothing() -> None:
    old = {"buckets": {str(int(T0) // 60): ["id-1", "id-2"]}, "newest": T0 + 10}
    d = Dedup()
    d.restore(old, accounts=[A, B])
    assert d.seen(A, "id-1", T0) is True
    assert d.seen(B, "id-2", T0) is True
    assert d.size == 4


def test_a_redelivered_file_adds_nothing_to_the_windows() -> None:
    records = [json.loads(p.read_text()) for p in sorted(RECORDS.glob("identity_*.json"))]
    engine = Engine(Settings(), clock=lambda: T0 + 86400)
    engine.ingest(records)
    engine.ingest(records)  # the same file delivered again
    windows = engine.step(final=True).windows
    assert sum(w.n for w in windows) == len(records)
    assert engine.counts.duplicates == len(records)
    assert engine.counts.reconciles()


def test_a_file_redelivered_while_closing_is_held_is_not_counted_twice() -> None:
    # The daemon's crash case: file X is in the checkpoint but its message was not deleted;
    # the restarted daemon holds closing, reads newer files (the newest event moves hours on),
    # then X comes back. Its windows are still open, so its events must be known duplicates.
    records = [json.loads(p.read_text()) for p in sorted(RECORDS.glob("identity_*.json"))]
    later = [
        {**r, "eventID": f"later-{i}", "eventTime": r["eventTime"].replace("T10:", "T14:")}
        for i, r in enumerate(records)
    ]
    engine = Engine(Settings(), clock=lambda: T0 + 86400)
    engine.ingest(records)
    engine.ingest(later)
    restarted = Engine(Settings(), clock=lambda: T0 + 86400)
    restarted.restore(engine.state())
    restarted.ingest(records)  # X again, with no window closed in between
    assert restarted.counts.duplicates == len(records)
    windows = [w for b in restarted.rounds(final=True) for w in b.windows]
    assert sum(w.n for w in windows) == 2 * len(records)
    assert (restarted.counts.late, restarted.counts.windowed) == (0, 2 * len(records))
    assert restarted.counts.reconciles()
    # Once closed and past the horizon, they are forgotten: memory stays bounded.
    assert restarted.dedup.size == len(later)


def test_an_engine_checkpoint_from_before_per_account_ids_still_knows_its_events() -> None:
    records = [json.loads(p.read_text()) for p in sorted(RECORDS.glob("identity_*.json"))]
    engine = Engine(Settings(), clock=lambda: T0 + 86400)
    engine.ingest(records)
    state = engine.state()
    state["dedup"] = account_less(state["dedup"])
    upgraded = Engine(Settings(), clock=lambda: T0 + 86400)
    upgraded.restore(state)
    upgraded.ingest(records)
    assert upgraded.counts.duplicates == len(records)


def account_less(state: dict[str, Any]) -> dict[str, Any]:
    """A dedup ``state()`` in the layout before IDs were kept per account."""
    minutes: dict[int, list[str]] = {}
    for by_minute in state["buckets"].values():
        for m, ids in by_minute.items():
            minutes.setdefault(m, []).extend(ids)
    return {"buckets": minutes, "newest": max(state["newest"].values())}
