"""Drop repeated eventIDs for as long as a repeat could still be counted.

CloudTrail may deliver the same event again (``addendum``, redelivered files), and SQS delivers
messages at least once. A redelivered event keeps its eventTime, so IDs are kept per account in
per-minute buckets of event time and only the event's own minute is checked.

An account's minute is forgotten only when both hold (``expire``):
- it is older than the horizon behind the account's newest event, and
- every window it fed is closed (``closed_until``, from the windower).

The second condition is what makes a repeat harmless: while its window is open, a repeat would
be counted in it, however far the account's newest event has moved on. That happens whenever
windows are held open while events keep arriving — a restarted daemon holds closing until the
messages in flight at the crash come back, and by then newer files may have pushed the newest
event past the horizon. A hard cap on the number of remembered IDs bounds memory whatever the
input.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_NEVER = float("-inf")


class Dedup:
    """``seen(account, event_id, time)`` → True when the ID was already seen and is remembered."""

    def __init__(self, horizon_seconds: float = 1800.0, max_ids: int = 2_000_000) -> None:
        self.horizon = horizon_seconds
        self.max_ids = max_ids
        self.buckets: dict[str, dict[int, set[str]]] = {}  # account → minute → IDs
        self.newest: dict[str, float] = {}  # account → newest event time seen
        self.size = 0
        self.duplicates = 0

    def seen(self, account: str, event_id: str, t: float) -> bool:
        if not event_id:
            return False  # nothing to dedup on; counting it twice beats dropping it
        minute = int(t) // 60
        by_minute = self.buckets.get(account)
        if by_minute is None:
            by_minute = self.buckets[account] = {}
        bucket = by_minute.get(minute)
        if bucket is None:
            bucket = by_minute[minute] = set()
        elif event_id in bucket:
            self.duplicates += 1
            return True
        bucket.add(event_id)
        self.size += 1
        if t > self.newest.get(account, _NEVER):
            self.newest[account] = t
        if self.size > self.max_ids:
            self._shrink()
        return False

    def expire(self, closed_until: Mapping[str, float]) -> None:
        """Forget what no repeat can need any more (see the module docstring).

        ``closed_until``: account → event time before which all its windows are closed. An
        account missing from it has closed nothing, so all of its IDs are kept.
        """
        for account, by_minute in self.buckets.items():
            keep = min(
                self.newest.get(account, _NEVER) - self.horizon, closed_until.get(account, _NEVER)
            )
            if keep == _NEVER:
                continue
            cutoff = int(keep) // 60
            for m in [m for m in by_minute if m < cutoff]:
                self.size -= len(by_minute.pop(m))

    def _shrink(self) -> None:
        """Over the cap: drop the oldest minutes of any account, down to 90 % of it."""
        for m, account in sorted(
            (m, a) for a, by_minute in self.buckets.items() for m in by_minute
        ):
            if self.size <= self.max_ids * 0.9:
                break
            self.size -= len(self.buckets[account].pop(m))

    def state(self) -> dict[str, Any]:
        return {
            "buckets": {
                account: {m: sorted(ids) for m, ids in by_minute.items()}
                for account, by_minute in self.buckets.items()
            },
            "newest": dict(self.newest),
        }

    def restore(self, state: Mapping[str, Any], accounts: list[str] | None = None) -> None:
        """Load a ``state()``. A checkpoint written before IDs were kept per account holds one
        set of minutes for all accounts: each of ``accounts`` (those the checkpoint knew)
        gets a copy, so no ID is forgotten across the upgrade."""
        buckets, newest = state["buckets"], state["newest"]
        if not isinstance(newest, Mapping):  # the older, account-less layout
            buckets = {a: buckets for a in accounts or []}
            newest = {a: newest for a in accounts or []}
        self.buckets = {
            account: {int(m): set(ids) for m, ids in by_minute.items()}
            for account, by_minute in buckets.items()
        }
        self.newest = {account: float(t) for account, t in newest.items()}
        self.size = sum(len(s) for by_minute in self.buckets.values() for s in by_minute.values())
