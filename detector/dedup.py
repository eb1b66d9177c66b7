"""Drop repeated eventIDs over a bounded event-time horizon.

CloudTrail may deliver the same event again (``addendum``, redelivered files), and SQS delivers
messages at least once. A redelivered event keeps its eventTime, so IDs are kept in per-minute
buckets of event time and only the event's own minute is checked. Buckets older than the
horizon are dropped: an event that old would be late for windowing anyway. A hard cap on the
number of remembered IDs bounds memory whatever the input.
"""

from __future__ import annotations

from typing import Any


class Dedup:
    """``seen(event_id, time)`` → True when the ID was already seen within the horizon."""

    def __init__(self, horizon_seconds: float = 1800.0, max_ids: int = 2_000_000) -> None:
        self.horizon = horizon_seconds
        self.max_ids = max_ids
        self.buckets: dict[int, set[str]] = {}
        self.size = 0
        self.newest = float("-inf")
        self.duplicates = 0

    def seen(self, event_id: str, t: float) -> bool:
        if not event_id:
            return False  # nothing to dedup on; counting it twice beats dropping it
        minute = int(t) // 60
        bucket = self.buckets.get(minute)
        if bucket is None:
            bucket = self.buckets[minute] = set()
        elif event_id in bucket:
            self.duplicates += 1
            return True
        bucket.add(event_id)
        self.size += 1
        if t > self.newest:
            newest_minute = int(self.newest) // 60 if self.newest != float("-inf") else minute
            self.newest = t
            if minute > newest_minute:
                self._expire()
        if self.size > self.max_ids:
            self._shrink()
        return False

    def _expire(self) -> None:
        cutoff = int(self.newest - self.horizon) // 60
        for m in [m for m in self.buckets if m < cutoff]:
            self.size -= len(self.buckets.pop(m))

    def _shrink(self) -> None:
        for m in sorted(self.buckets):
            if self.size <= self.max_ids * 0.9:
                break
            self.size -= len(self.buckets.pop(m))

    def state(self) -> dict[str, Any]:
        return {"buckets": {m: sorted(s) for m, s in self.buckets.items()}, "newest": self.newest}

    def restore(self, state: dict[str, Any]) -> None:
        self.buckets = {int(m): set(ids) for m, ids in state["buckets"].items()}
        self.size = sum(len(s) for s in self.buckets.values())
        self.newest = float(state["newest"])
