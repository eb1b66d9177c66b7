"""The publication ledger: new findings go out at once, updates at the republication pace.

Story: a SIEM wants to hear about a new finding immediately, but not about each of its
repeats; GuardDuty republishes an aggregated finding every 15 min / 1 h / 6 h. The ledger is
part of the checkpoint, so what was due but not yet sent survives a restart.
"""

from __future__ import annotations

import pickle
from typing import Any

from detector.service.ledger import Ledger


def finding(fid: str, count: int = 1) -> dict[str, Any]:
    return {"id": fid, "type": "Exfiltration:S3/AnomalousBehavior", "service": {"count": count}}


def test_a_new_id_is_due_at_once_and_its_updates_only_after_the_republish_interval() -> None:
    ledger = Ledger(republish_seconds=900)
    ledger.offer([finding("a")])
    assert ledger.due(now=0.0) == [finding("a")]
    ledger.accepted([finding("a")], now=0.0)
    assert ledger.due(now=1.0) == []

    ledger.offer([finding("a", 2)])
    ledger.offer([finding("a", 3)])  # repeats aggregate: only the newest version is kept
    assert ledger.due(now=899.0) == []
    assert ledger.due(now=900.0) == [finding("a", 3)]
    assert ledger.unpublished_new() == 0  # an update never blocks acknowledgements


def test_flush_sends_every_pending_update_now() -> None:
    ledger = Ledger(republish_seconds=900)
    ledger.offer([finding("a")])
    ledger.accepted(ledger.due(0.0), 0.0)
    ledger.offer([finding("a", 2)])
    assert ledger.due(now=5.0, flush=True) == [finding("a", 2)]


def test_due_findings_come_sorted_by_id() -> None:
    ledger = Ledger()
    ledger.offer([finding("c"), finding("a"), finding("b")])
    assert [f["id"] for f in ledger.due(0.0)] == ["a", "b", "c"]


def test_unpublished_new_counts_new_ids_until_accepted() -> None:
    ledger = Ledger()
    ledger.offer([finding("a"), finding("b")])
    assert ledger.unpublished_new() == 2
    ledger.accepted([finding("a")], 0.0)
    assert ledger.unpublished_new() == 1
    ledger.accepted([finding("b")], 0.0)
    assert ledger.unpublished_new() == 0
    assert ledger.pending == {}


def test_a_version_offered_during_publication_stays_pending() -> None:
    ledger = Ledger(republish_seconds=60)
    ledger.offer([finding("a")])
    sending = ledger.due(0.0)
    ledger.offer([finding("a", 2)])  # arrives while the first version is on its way
    ledger.accepted(sending, 0.0)
    assert ledger.pending == {"a": finding("a", 2)}
    assert ledger.due(30.0) == [] and ledger.due(60.0) == [finding("a", 2)]


def test_prune_forgets_old_publications_but_never_pending_ones() -> None:
    ledger = Ledger(republish_seconds=60, forget_seconds=100)
    ledger.offer([finding("old"), finding("busy")])
    ledger.accepted(ledger.due(0.0), 0.0)
    ledger.offer([finding("busy", 2)])
    ledger.prune(now=150.0)
    assert set(ledger.published) == {"busy"}
    # A forgotten id seen again is new again: published at once (same id, at least once).
    ledger.offer([finding("old", 9)])
    assert ledger.unpublished_new() == 1


def test_state_survives_a_pickled_checkpoint() -> None:
    ledger = Ledger(republish_seconds=60)
    ledger.offer([finding("a"), finding("b")])
    ledger.accepted([finding("a")], 10.0)
    ledger.offer([finding("a", 2)])

    restored = Ledger(republish_seconds=60)
    restored.restore(pickle.loads(pickle.dumps(ledger.state())))
    assert restored.published == {"a": 10.0}
    assert restored.unpublished_new() == 1  # "b" still has to go out
    assert restored.due(20.0) == [finding("b")]
    assert restored.due(70.0) == [finding("a", 2), finding("b")]


def test_state_is_a_copy() -> None:
    ledger = Ledger()
    ledger.offer([finding("a")])
    state = ledger.state()
    ledger.accepted([finding("a")], 0.0)
    assert state["pending"] == {"a": finding("a")} and state["published"] == {}
