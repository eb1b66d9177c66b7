"""Bounded per-principal history: what is usual for this principal.

It gives features their principal-relative half (first-seen IP, rare hour, z-scores) and gives
findings their explanation vocabulary ("310× its usual", UNSEEN / RARE). Per principal it holds a
handful of numbers and a few capped frequency tables — never per-event data — so memory grows
with principals, not with events.
"""

from __future__ import annotations

import math
from typing import Any

# Metrics tracked as exponentially weighted mean/variance of log1p(value) per active window.
TRACKED = (
    "events",
    "reads",
    "writes",
    "deletes",
    "lists",
    "bytes_out",
    "bytes_in",
    "buckets",
    "errors",
)
ALPHA = 0.05  # EWMA weight: ~20 active windows of memory
_KEEP = 1 - ALPHA
MAX_IPS = 32
MAX_UAS = 16
MAX_BUCKETS = 128

UNSEEN = "UNSEEN"
RARE = "RARE"
INFREQUENT = "INFREQUENT"
FREQUENT = "FREQUENT"


def _bump(table: dict[str, int], value: str, cap: int) -> None:
    if value in table:
        table[value] += 1
        return
    if len(table) >= cap:
        # Forget the least used entry (ties: the smallest value, for determinism). Two scans
        # without a key function: a third of the time of one ``min`` with a lambda (issue 6).
        least = min(table.values())
        del table[min([v for v, n in table.items() if n == least])]
    table[value] = 1


# Named outside the class: a compiled class (``detector.native``) has no ``__slots__`` to read.
HISTORY_SLOTS = ("buckets", "hours", "ips", "last_seen", "mean", "uas", "var", "windows")


class PrincipalHistory:
    """What one principal usually does."""

    __slots__ = HISTORY_SLOTS

    def __init__(self) -> None:
        self.windows = 0
        self.last_seen = 0.0
        self.mean = [0.0] * len(TRACKED)
        self.var = [0.0] * len(TRACKED)
        self.hours = [0] * 24
        self.ips: dict[str, int] = {}
        self.uas: dict[str, int] = {}
        self.buckets: dict[str, int] = {}

    def update(
        self,
        values: list[float],
        hour: int,
        ips: set[str],
        uas: set[str],
        buckets: set[str],
        t: float,
    ) -> None:
        """Absorb one closed window (values are raw counts, in TRACKED order)."""
        mean, var, log1p = self.mean, self.var, math.log1p
        if self.windows == 0:
            for i, v in enumerate(values):
                mean[i] = log1p(v)
                var[i] = 0.25
        else:
            for i, v in enumerate(values):
                d = log1p(v) - mean[i]
                mean[i] += ALPHA * d
                var[i] = _KEEP * (var[i] + ALPHA * d * d)
        self.windows += 1
        self.hours[hour] += 1
        for ip in sorted(ips):
            _bump(self.ips, ip, MAX_IPS)
        for ua in sorted(uas):
            _bump(self.uas, ua, MAX_UAS)
        for b in sorted(buckets):
            _bump(self.buckets, b, MAX_BUCKETS)
        self.last_seen = max(self.last_seen, t)

    def z(self, i: int, value: float) -> float:
        """Robust z-score of log1p(value) against this principal's usual, clipped to ±10."""
        if self.windows == 0:
            return 0.0
        sd = math.sqrt(self.var[i]) + 0.5
        return max(-10.0, min(10.0, (math.log1p(value) - self.mean[i]) / sd))

    def usual(self, i: int) -> float:
        """The typical raw value (inverse of the log mean)."""
        return math.expm1(self.mean[i]) if self.windows else 0.0

    def state(self) -> list[Any]:
        return [getattr(self, s) for s in HISTORY_SLOTS]

    @classmethod
    def from_state(cls, state: list[Any]) -> PrincipalHistory:
        h = cls()  # not ``cls.__new__``: a compiled class is made by calling it
        for slot, value in zip(HISTORY_SLOTS, state, strict=True):
            setattr(h, slot, value)
        return h


def frequency_subtype(seen: int, total: int) -> str:
    """GuardDuty-style profile subtype of a value seen ``seen`` times in ``total`` windows.

    >>> frequency_subtype(0, 50), frequency_subtype(1, 50), frequency_subtype(5, 50), frequency_subtype(40, 50)
    ('UNSEEN', 'RARE', 'INFREQUENT', 'FREQUENT')
    """
    if seen <= 0:
        return UNSEEN
    share = seen / max(total, 1)
    if share < 0.05:
        return RARE
    if share < 0.25:
        return INFREQUENT
    return FREQUENT


class HistoryStore:
    """Histories by (account, principal), with eviction of principals idle for too long."""

    def __init__(self, idle_seconds: float = 30 * 86400, max_principals: int = 1_000_000) -> None:
        self.by_key: dict[tuple[str, str], PrincipalHistory] = {}
        self.idle_seconds = idle_seconds
        self.max_principals = max_principals

    def get(self, account: str, principal: str) -> PrincipalHistory:
        key = (account, principal)
        h = self.by_key.get(key)
        if h is None:
            h = self.by_key[key] = PrincipalHistory()
        return h

    def peek(self, account: str, principal: str) -> PrincipalHistory | None:
        return self.by_key.get((account, principal))

    def evict(self, now: float) -> int:
        """Forget principals idle longer than the horizon (and the oldest beyond the cap)."""
        cutoff = now - self.idle_seconds
        stale = [k for k, h in self.by_key.items() if h.last_seen < cutoff]
        for k in stale:
            del self.by_key[k]
        over = len(self.by_key) - self.max_principals
        if over > 0:
            oldest = sorted(self.by_key.items(), key=lambda kv: (kv[1].last_seen, kv[0]))[:over]
            for k, _ in oldest:
                del self.by_key[k]
            return len(stale) + over
        return len(stale)
