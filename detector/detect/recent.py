"""Short-term memory per (account, principal): what the last few windows added up to.

Bursts do not respect window boundaries: 90 denied calls over 15 minutes are 30 per 5-minute
window, under any per-window threshold. ``Recent`` keeps, for each principal active within
``span`` seconds, the per-window counts the burst rules need, so a rule can compare the span's
total with its floor. ``SsecHabit`` remembers how much a principal usually writes with SSE-C
customer keys (the engine's history does not track it), learned from clean windows only.
"""

from __future__ import annotations

from typing import NamedTuple

from detector.events import DELETE
from detector.windows import CLASS_INDEX, WindowAgg

MAX_BUCKETS = 256
ALPHA = 0.05  # the same memory as the principal history's EWMA (~20 active windows)


class Counts(NamedTuple):
    start: int
    deletes: int
    delete_objects: int
    ssec: int
    denied: int
    calls: int
    buckets: frozenset[str]


class Totals(NamedTuple):
    """Sums over the span (the current window included) and the number of windows in it."""

    deletes: int
    delete_objects: int
    ssec: int
    denied: int
    calls: int
    buckets: int
    windows: int


_DELETE = CLASS_INDEX[DELETE]


def counts_of(w: WindowAgg) -> Counts:
    b = w.buckets
    buckets = frozenset(b) if len(b) <= MAX_BUCKETS else frozenset(sorted(b)[:MAX_BUCKETS])
    return Counts(w.start, w.counts[_DELETE], w.delete_objects, w.ssec, w.denied, w.n, buckets)


class Recent:
    """Per-principal counts of the windows of the last ``span`` seconds."""

    def __init__(self, span: float) -> None:
        self.span = span
        self.by_key: dict[tuple[str, str], list[Counts]] = {}

    def add(self, w: WindowAgg) -> Totals:
        """Record a closed window and return the span's totals, this window included."""
        key = (w.account, w.principal)
        kept = [c for c in self.by_key.get(key, []) if w.start - c.start < self.span]
        kept.append(counts_of(w))
        self.by_key[key] = kept
        # One pass over the (few) windows of the span, every sum at once (once per window).
        deletes = delete_objects = ssec = denied = calls = 0
        buckets: set[str] = set()
        for _start, c_deletes, c_objects, c_ssec, c_denied, c_calls, c_buckets in kept:
            deletes += c_deletes
            delete_objects += c_objects
            ssec += c_ssec
            denied += c_denied
            calls += c_calls
            buckets |= c_buckets
        return Totals(deletes, delete_objects, ssec, denied, calls, len(buckets), len(kept))

    def prune(self, now: float) -> None:
        for key in [k for k, v in self.by_key.items() if now - v[-1].start >= self.span]:
            del self.by_key[key]


class SsecHabit:
    """EWMA of SSE-C writes per active window, for principals that ever used SSE-C."""

    def __init__(self) -> None:
        self.usual: dict[tuple[str, str], float] = {}

    def get(self, account: str, principal: str) -> float:
        return self.usual.get((account, principal), 0.0)

    def learn(self, w: WindowAgg) -> None:
        key = (w.account, w.principal)
        old = self.usual.get(key)
        if old is None:
            if w.ssec:
                self.usual[key] = float(w.ssec)
            return
        self.usual[key] = old + ALPHA * (w.ssec - old)
