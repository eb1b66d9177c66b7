"""The core stages in one small class: normalize → dedup → window → features → history.

``replay``, ``run`` and ``train`` all drive this same object; detection sits after it and tells
it which closed windows may be learned from. Counting is exact: every record handed to
``ingest`` ends up in exactly one of windowed / late / duplicate / not_s3 / invalid.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from detector.config import Settings
from detector.dedup import Dedup
from detector.events import API_CLASSES, S3Event
from detector.features import featurize, learn
from detector.history import HistoryStore
from detector.normalize import INVALID, NOT_S3, Normalizer
from detector.windows import WindowAgg, Windower


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
        normalize = self.normalizer.normalize
        seen = self.dedup.seen
        now = self.clock()
        events: list[S3Event] = []
        append = events.append
        c = self.counts
        for rec in records:
            c.read += 1
            ev = normalize(rec, now)
            if type(ev) is str:
                if ev is NOT_S3:
                    c.not_s3 += 1
                else:
                    assert ev is INVALID
                    c.invalid += 1
                continue
            assert isinstance(ev, S3Event)
            if seen(ev.event_id, ev.time):
                c.duplicates += 1
                continue
            append(ev)
        late = self.windower.add(events)
        c.late += len(late)
        c.windowed += len(events) - len(late)
        self._late.extend(late)

    def step(self, final: bool = False) -> Batch:
        """Close what the watermarks allow (everything when ``final``) and featurize it."""
        closed = self.windower.close_all() if final else self.windower.close_ready()
        peek = self.history.peek
        vectors = [featurize(w, peek(w.account, w.principal)) for w in closed]
        late, self._late = self._late, []
        return Batch(closed, vectors, late)

    def learn(self, windows: Iterable[WindowAgg]) -> None:
        """Absorb windows into per-principal history (detection excludes those with findings)."""
        get = self.history.get
        for w in windows:
            learn(w, get(w.account, w.principal))


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
        "bytes_in": w.bytes_in,
        "bytes_out": w.bytes_out,
        "errors": w.errors,
        "access_denied": w.denied,
        "buckets": sorted(w.buckets)[:20],
        "source_ips": sorted(w.ips)[:10],
        "features": {n: round(v, 6) for n, v in zip(features, vector, strict=True)},
    }


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
