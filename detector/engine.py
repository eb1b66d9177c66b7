"""The core stages in one small class: normalize → dedup → window → features → history.

``replay``, ``run`` and ``train`` all drive this same object; detection sits after it and tells
it which closed windows may be learned from. Counting is exact: every record handed to
``ingest`` ends up in exactly one of windowed / late / duplicate / not_s3 / invalid.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from detector.config import Settings
from detector.dedup import Dedup
from detector.events import API_CLASSES, S3Event
from detector.features import featurize, learn
from detector.history import HistoryStore, PrincipalHistory
from detector.normalize import NOT_S3, Normalizer
from detector.windows import WindowAgg, Windower, WindowStats


@dataclass(slots=True)
class Counts:
    read: int = 0
    not_s3: int = 0
    invalid: int = 0
    duplicates: int = 0
    late: int = 0
    windowed: int = 0

    def reconciles(self) -> bool:
        return self.read == self.not_s3 + self.invalid + self.duplicates + self.late + self.windowed


@dataclass(slots=True)
class Batch:
    """Windows closed by one step, their feature vectors, and late events seen since the last step."""

    windows: list[WindowAgg] = field(default_factory=list)
    vectors: list[list[float]] = field(default_factory=list)
    late: list[S3Event] = field(default_factory=list)


class Engine:
    """Stateful core shared by every command."""

    def __init__(
        self,
        settings: Settings,
        notable: Callable[[S3Event], bool] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.normalizer = Normalizer(settings.input.max_future_seconds)
        self.dedup = Dedup(settings.dedup.horizon_seconds, settings.dedup.max_ids)
        self.windower = Windower(
            settings.window.width_seconds, settings.window.lateness_seconds, notable
        )
        self.history = HistoryStore(
            settings.history.idle_days * 86400, settings.history.max_principals
        )
        self.counts = Counts()
        self.clock = clock
        self._late: list[S3Event] = []

    def ingest(self, records: Iterable[Any]) -> None:
        """Normalize, dedup and window a batch of raw records (one file's worth)."""
        normalizer = self.normalizer  # objects, not bound methods, in locals (detector.native)
        dedup = self.dedup
        now = self.clock()
        events: list[S3Event] = []
        c = self.counts
        read = 0
        for rec in records:
            read += 1
            ev = normalizer.normalize(rec, now)
            if isinstance(ev, str):  # a reason, not an event (and mypy narrows on it)
                if ev is NOT_S3:
                    c.not_s3 += 1
                else:
                    c.invalid += 1  # INVALID: normalize returns no other string
                continue
            if dedup.seen(ev.account, ev.event_id, ev.time):
                c.duplicates += 1
                continue
            events.append(ev)
        c.read += read
        late = self.windower.add(events)
        c.late += len(late)
        c.windowed += len(events) - len(late)
        self._late.extend(late)

    def step(self, final: bool = False) -> Batch:
        """Close what the watermarks allow (everything when ``final``) and featurize it."""
        closed = self._close(final)
        history = self.history
        vectors = [featurize(w, history.peek(w.account, w.principal)) for w in closed]
        late, self._late = self._late, []
        return Batch(closed, vectors, late)

    def rounds(self, final: bool = False) -> Iterator[Batch]:
        """Close what the watermarks allow (everything when ``final``), one window start at a time.

        Each round holds at most one window per principal and is featurized only when the
        caller asks for it, i.e. after it has ``learn``ed from the previous round. So a
        principal's windows are always judged against the history of all its earlier windows,
        however many closed together (after a backlog, a restart or in training) — which makes
        the result independent of how closing was grouped. Late events ride on the first round.
        """
        closed = self._close(final)
        late, self._late = self._late, []
        return self.rounds_of(closed, late)

    def _close(self, final: bool) -> list[WindowAgg]:
        closed = self.windower.close_all() if final else self.windower.close_ready()
        # Only closing lets dedup forget: a repeat of an event whose window is open would count.
        self.dedup.expire(self.windower.closed_until)
        return closed

    def rounds_of(
        self, closed: list[WindowAgg], late: list[S3Event] | None = None
    ) -> Iterator[Batch]:
        """Rounds over already-closed windows sorted by (start, account, principal).

        Training merges partial windows from many workers and feeds them through here, so it
        judges windows exactly as the service does.
        """
        late = late or []
        if not closed:
            if late:
                yield Batch([], [], late)
            return
        history = self.history
        for _start, group in itertools.groupby(closed, key=lambda w: w.start):
            windows = list(group)
            vectors = [featurize(w, history.peek(w.account, w.principal)) for w in windows]
            yield Batch(windows, vectors, late)
            late = []

    def learn(self, windows: Iterable[WindowAgg]) -> None:
        """Absorb windows into per-principal history (detection excludes those with findings)."""
        history = self.history
        for w in windows:
            learn(w, history.get(w.account, w.principal))

    def state(self) -> dict[str, Any]:
        """Everything a restart needs, as plain picklable data (open windows, watermarks,
        dedup horizon, histories, counts)."""
        w = self.windower
        return {
            "open": {
                acct: {
                    start: [agg.state() for agg in by_p.values()]
                    for start, by_p in by_start.items()
                }
                for acct, by_start in w.open.items()
            },
            "newest": dict(w.newest),
            "closed_until": dict(w.closed_until),
            "stats": dataclasses.astuple(w.stats),
            "dedup": self.dedup.state(),
            "history": {k: h.state() for k, h in self.history.by_key.items()},
            "counts": dataclasses.astuple(self.counts),
            "late": [tuple(ev) for ev in self._late],
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Load what ``state()`` produced (replacing the current state)."""
        w = self.windower
        w.open = {}
        for acct, by_start in state["open"].items():
            w.open[acct] = {}
            for start, aggs in by_start.items():
                restored = [WindowAgg.from_state(a) for a in aggs]
                w.open[acct][start] = {a.principal: a for a in restored}
        w.newest = dict(state["newest"])
        w.closed_until = dict(state["closed_until"])
        w.stats = WindowStats(*state["stats"])
        self.dedup.restore(state["dedup"], accounts=list(w.newest))
        self.history.by_key = {
            tuple(k): PrincipalHistory.from_state(v) for k, v in state["history"].items()
        }  # type: ignore[misc]
        self.counts = Counts(*state["counts"])
        self._late = [S3Event(*ev) for ev in state["late"]]


# A window sums whatever byte counts its records claim; JSON encoders stop at 64-bit integers.
JSON_INT_MAX = 2**63 - 1


def window_record(
    w: WindowAgg, vector: list[float], features: tuple[str, ...], width: int
) -> dict[str, Any]:
    """A closed window as plain JSON data (``replay --emit windows``)."""
    return {
        "account": w.account,
        "principal": w.principal,
        "principal_name": w.name,
        "principal_type": w.ptype,
        "service": w.service,
        "window_start": _iso(w.start),
        "window_end": _iso(w.start + width),
        "first_event": _iso(w.first),
        "last_event": _iso(w.last),
        "events": w.n,
        "counts": {c: n for c, n in zip(API_CLASSES, w.counts, strict=True) if n},
        "bytes_in": min(w.bytes_in, JSON_INT_MAX),
        "bytes_out": min(w.bytes_out, JSON_INT_MAX),
        "errors": w.errors,
        "access_denied": w.denied,
        "buckets": sorted(w.buckets)[:20],
        "source_ips": sorted(w.ips)[:10],
        "features": {n: round(v, 6) for n, v in zip(features, vector, strict=True)},
    }


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
