"""Per-principal tumbling windows in event time, closed by a per-account watermark.

State is keyed by (recipient account, principal) and the watermark is per account, so accounts
can be split across daemons (issue 8) without changing anyone's windows. A window
``[start, start+width)`` closes once the account's watermark (newest event time seen minus the
allowed lateness) passes its end. Within the lateness the order of files does not matter; an
event whose window has already closed is *late*: counted, and handed back to the caller so
event-level rules still see it, but not added to any window.

Aggregates are small, mergeable (``WindowAgg.merge``) and hold no per-event objects except a
bounded evidence sample and a bounded list of notable events.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from detector.events import ANONYMOUS, API_CLASSES, S3Event
from detector.sketch import K, h32, prune

CLASS_INDEX = {c: i for i, c in enumerate(API_CLASSES)}
EVIDENCE = 16  # eventIDs kept per window, the earliest by (time, id)
NOTABLE = 64  # events kept per window for rules that read the request (policies, ACLs…)
MAX_SMALL_SET = 256  # IPs / user agents remembered per window
SKETCH_SLACK = 2048  # prune the key sketch to K when it grows past this


# Named outside the class: a compiled class (``detector.native``) has no ``__slots__`` to read.
WINDOW_SLOTS = (
    "account",
    "akids",
    "anonymous",
    "buckets",
    "bytes_in",
    "bytes_out",
    "counts",
    "cross",
    "delete_objects",
    "denied",
    "errors",
    "evidence",
    "first",
    "ips",
    "keys",
    "last",
    "n",
    "name",
    "notable",
    "prefixes",
    "principal",
    "ptype",
    "service",
    "ssec",
    "start",
    "uas",
)


class WindowAgg:
    """Aggregate of one principal's events in one window."""

    __slots__ = WINDOW_SLOTS

    def __init__(self, account: str, principal: str, start: int, ev: S3Event | None = None) -> None:
        self.account = account
        self.principal = principal
        self.start = start
        self.n = 0
        self.counts = [0] * len(API_CLASSES)
        self.bytes_in = 0
        self.bytes_out = 0
        self.errors = 0
        self.denied = 0
        self.ssec = 0
        self.delete_objects = 0
        self.cross = 0
        self.buckets: set[str] = set()
        self.keys: set[int] = set()
        self.prefixes: set[int] = set()
        self.ips: set[str] = set()
        self.uas: set[str] = set()
        self.akids: set[str] = set()
        self.evidence: list[tuple[float, str]] = []
        self.notable: list[S3Event] = []
        self.first = float("inf")
        self.last = float("-inf")
        self.name = ev.principal_name if ev else ""
        self.ptype = ev.principal_type if ev else ""
        self.service = ev.service if ev else False
        self.anonymous = ev.principal_type == ANONYMOUS if ev else False

    def add(self, ev: S3Event, notable: bool) -> None:
        """Fold one event in (the hot path: one tuple unpack, no attribute lookups on ``ev``)."""
        (t, event_id, _a, _r, _p, _pt, _pn, akid, _s, name, cls, bucket, key, b_in, b_out,
         ip, ua, err, sse_c, _au, _v, cross, _d, _sv, _rq) = ev  # fmt: skip
        self.n += 1
        self.counts[CLASS_INDEX[cls]] += 1
        if b_in:
            self.bytes_in += b_in
        if b_out:
            self.bytes_out += b_out
        if err:
            self.errors += 1
            if err.startswith("AccessDenied"):
                self.denied += 1
        if bucket:
            self.buckets.add(bucket)
        if key:
            keys = self.keys
            keys.add(h32(key))
            slash = key.rfind("/")
            self.prefixes.add(h32(key[:slash]) if slash > 0 else 0)
            if len(keys) > SKETCH_SLACK:
                self.keys = prune(keys)
                self.prefixes = prune(self.prefixes)
        # Keep the smallest values, not the first seen, so a window is the same whatever the
        # order of its events (files arrive out of order; ``merge`` must equal one pass).
        ips = self.ips
        ips.add(ip)
        if len(ips) > 2 * MAX_SMALL_SET:
            self.ips = _cap(ips)
        uas = self.uas
        uas.add(ua)
        if len(uas) > 2 * MAX_SMALL_SET:
            self.uas = _cap(uas)
        if akid:
            akids = self.akids
            akids.add(akid)
            if len(akids) > 2 * MAX_SMALL_SET:
                self.akids = _cap(akids)
        if sse_c:
            self.ssec += 1
        if name == "DeleteObjects":
            self.delete_objects += 1
        if cross:
            self.cross += 1
        if t < self.first:
            self.first = t
        if t > self.last:
            self.last = t
        ev_list = self.evidence
        ev_list.append((t, event_id))
        if len(ev_list) > 4 * EVIDENCE:
            ev_list.sort()
            del ev_list[EVIDENCE:]
        if notable:
            nl = self.notable
            nl.append(ev)
            if len(nl) > 2 * NOTABLE:
                nl.sort(key=_event_order)
                del nl[NOTABLE:]

    def merge(self, other: WindowAgg) -> None:
        """Fold another partial aggregate of the same (account, principal, start) in."""
        self.n += other.n
        self.counts = [a + b for a, b in zip(self.counts, other.counts, strict=True)]
        self.bytes_in += other.bytes_in
        self.bytes_out += other.bytes_out
        self.errors += other.errors
        self.denied += other.denied
        self.ssec += other.ssec
        self.delete_objects += other.delete_objects
        self.cross += other.cross
        self.buckets |= other.buckets
        self.keys = prune(self.keys | other.keys)
        self.prefixes = prune(self.prefixes | other.prefixes)
        self.ips = _cap(self.ips | other.ips)
        self.uas = _cap(self.uas | other.uas)
        self.akids = _cap(self.akids | other.akids)
        self.first = min(self.first, other.first)
        self.last = max(self.last, other.last)
        self.evidence = sorted(self.evidence + other.evidence)[:EVIDENCE]
        self.notable = sorted(self.notable + other.notable, key=_event_order)[:NOTABLE]
        if not self.name:
            self.name, self.ptype = other.name, other.ptype
            self.service, self.anonymous = other.service, other.anonymous

    def seal(self) -> WindowAgg:
        """Canonical form once closed: pruned sketches, trimmed samples (idempotent)."""
        # Every closed window passes here: the size checks are inlined so that the common,
        # small window costs no calls (the same result as calling each helper unconditionally).
        if len(self.keys) > K:
            self.keys = prune(self.keys)
        if len(self.prefixes) > K:
            self.prefixes = prune(self.prefixes)
        if len(self.ips) > MAX_SMALL_SET:
            self.ips = _cap(self.ips)
        if len(self.uas) > MAX_SMALL_SET:
            self.uas = _cap(self.uas)
        if len(self.akids) > MAX_SMALL_SET:
            self.akids = _cap(self.akids)
        if len(self.evidence) > 1:
            self.evidence = sorted(self.evidence)[:EVIDENCE]
        if len(self.notable) > 1:
            self.notable = sorted(self.notable, key=_event_order)[:NOTABLE]
        return self

    def state(self) -> tuple[Any, ...]:
        """Plain-data form, for checkpoints, equality tests and multiprocessing."""
        return _state_of(self)

    @classmethod
    def from_state(cls, state: tuple[Any, ...]) -> WindowAgg:
        """The inverse of ``state`` (one unpacking, no per-slot calls: training moves windows
        between processes this way, hundreds of thousands per run)."""
        w = cls("", "", 0)  # a compiled class is made by calling it; every slot is set below
        (
            w.account,
            w.akids,
            w.anonymous,
            w.buckets,
            w.bytes_in,
            w.bytes_out,
            w.counts,
            w.cross,
            w.delete_objects,
            w.denied,
            w.errors,
            w.evidence,
            w.first,
            w.ips,
            w.keys,
            w.last,
            w.n,
            w.name,
            w.notable,
            w.prefixes,
            w.principal,
            w.ptype,
            w.service,
            w.ssec,
            w.start,
            w.uas,
        ) = state  # fmt: skip
        # events as S3Events again, in a list of their own (``add`` appends to it)
        w.notable = [S3Event(*e) for e in w.notable] if w.notable else []
        return w


_state_of: Callable[[WindowAgg], tuple[Any, ...]] = attrgetter(*WINDOW_SLOTS)


def states(windows: Iterable[WindowAgg]) -> list[tuple[Any, ...]]:
    """``state()`` of each window, one C call each."""
    return list(map(_state_of, windows))


def _cap(values: set[str]) -> set[str]:
    if len(values) <= MAX_SMALL_SET:
        return values
    return set(sorted(values)[:MAX_SMALL_SET])


def _event_order(ev: S3Event) -> tuple[float, str]:
    return (ev.time, ev.event_id)


@dataclass(slots=True)
class WindowStats:
    """How the windower accounted for every event it was given."""

    windowed: int = 0
    late: int = 0
    windows_opened: int = 0
    windows_closed: int = 0


class Windower:
    """Groups events into per-(account, principal) tumbling windows and closes them in order."""

    def __init__(
        self,
        width: int = 300,
        lateness: int = 900,
        notable: Callable[[S3Event], bool] | None = None,
    ) -> None:
        if width <= 0 or lateness < 0:
            raise ValueError("window width must be > 0 and lateness >= 0")
        self.width = width
        self.lateness = lateness
        self._notable = notable or (lambda ev: False)
        # account → window start → principal → aggregate
        self.open: dict[str, dict[int, dict[str, WindowAgg]]] = {}
        self.newest: dict[str, float] = {}  # account → newest event time seen
        self.closed_until: dict[str, int] = {}  # account → every window ending ≤ this is closed
        self.stats = WindowStats()

    def watermark(self, account: str) -> float:
        return self.newest.get(account, float("-inf")) - self.lateness

    def add(self, events: Iterable[S3Event]) -> list[S3Event]:
        """Fold events in; return the late ones (their window had already closed)."""
        late: list[S3Event] = []
        width = self.width
        opened = self.open
        newest = self.newest
        closed_until = self.closed_until
        notable = self._notable
        stats = self.stats
        windowed = 0
        for ev in events:
            acct = ev.account
            t = ev.time
            start = int(t)
            start -= start % width
            if start + width <= closed_until.get(acct, -1):
                late.append(ev)
                continue
            if t > newest.get(acct, float("-inf")):
                newest[acct] = t
            by_start = opened.get(acct)
            if by_start is None:
                by_start = opened[acct] = {}
            by_principal = by_start.get(start)
            if by_principal is None:
                by_principal = by_start[start] = {}
            agg = by_principal.get(ev.principal)
            if agg is None:
                agg = by_principal[ev.principal] = WindowAgg(acct, ev.principal, start, ev)
                stats.windows_opened += 1
            agg.add(ev, notable(ev))
            windowed += 1
        stats.windowed += windowed
        stats.late += len(late)
        return late

    def close_ready(self) -> list[WindowAgg]:
        """Close every window whose end the account's watermark has passed, in (end, key) order."""
        out: list[WindowAgg] = []
        for acct, by_start in self.open.items():
            wm = self.newest.get(acct, float("-inf")) - self.lateness
            # Every window ending by the watermark is closed, open or not: whether an event is
            # late must not depend on whether another principal happened to have a window there.
            edge = int(wm) - int(wm) % self.width
            self.closed_until[acct] = max(self.closed_until.get(acct, -1), edge)
            for s in sorted(s for s in by_start if s + self.width <= wm):
                out.extend(by_start.pop(s).values())
        return self._finish(out)

    def close_all(self) -> list[WindowAgg]:
        """Close everything (end of a replay or drain)."""
        out: list[WindowAgg] = []
        for acct, by_start in self.open.items():
            for s in sorted(by_start):
                out.extend(by_start[s].values())
            if by_start:
                end = max(by_start) + self.width
                self.closed_until[acct] = max(self.closed_until.get(acct, -1), end)
            by_start.clear()
        return self._finish(out)

    def _finish(self, out: list[WindowAgg]) -> list[WindowAgg]:
        out.sort(key=lambda w: (w.start, w.account, w.principal))
        self.stats.windows_closed += len(out)
        return [w.seal() for w in out]

    def open_windows(self) -> int:
        return sum(len(p) for s in self.open.values() for p in s.values())
