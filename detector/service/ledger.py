"""Which findings the sinks have accepted, and which updates are due for republication.

A finding with a new id is published at once. Repeats aggregate into the same id (count,
eventLastSeen) and are republished at most every ``republish_seconds`` — GuardDuty uses
15 min / 1 h / 6 h — and at shutdown or drain. The ledger is part of the checkpoint, so an
update that was due but not yet sent survives a restart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


class Ledger:
    def __init__(
        self, republish_seconds: float = 900.0, forget_seconds: float = 7 * 86400.0
    ) -> None:
        self.republish_seconds = republish_seconds
        self.forget_seconds = forget_seconds
        self.published: dict[str, float] = {}  # id → wall time of the last accepted publication
        self.pending: dict[str, dict[str, Any]] = {}  # id → newest version not yet published

    def offer(self, findings: Iterable[Mapping[str, Any]]) -> None:
        """Record new or updated findings; the newest version of each id wins."""
        for f in findings:
            self.pending[str(f["id"])] = dict(f)

    def due(self, now: float, flush: bool = False) -> list[dict[str, Any]]:
        """Findings to publish now: every new id, and updates whose republication time has come."""
        out = []
        for fid, f in self.pending.items():
            last = self.published.get(fid)
            if last is None or flush or now - last >= self.republish_seconds:
                out.append(f)
        return sorted(out, key=lambda f: str(f["id"]))

    def accepted(self, findings: Iterable[Mapping[str, Any]], now: float) -> None:
        for f in findings:
            fid = str(f["id"])
            self.published[fid] = now
            if self.pending.get(fid) == f:
                del self.pending[fid]

    def unpublished_new(self) -> int:
        """New findings not yet accepted: while > 0, no message may be deleted."""
        return sum(1 for fid in self.pending if fid not in self.published)

    def prune(self, now: float) -> None:
        cutoff = now - self.forget_seconds
        for fid in [
            fid for fid, t in self.published.items() if t < cutoff and fid not in self.pending
        ]:
            del self.published[fid]

    def state(self) -> dict[str, Any]:
        return {"published": dict(self.published), "pending": dict(self.pending)}

    def restore(self, state: Mapping[str, Any]) -> None:
        self.published = dict(state["published"])
        self.pending = dict(state["pending"])
