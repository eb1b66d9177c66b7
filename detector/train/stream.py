"""Learn while reading: the sequential pass runs in the parent while workers read later files.

Reading (parallel) and learning (sequential per account) would otherwise follow each other, and
the learning pass — the service's own Detector, ~60 µs a window — leaves one core idle when one
account dominates. Files are read in delivery order, so once the files delivered before time D
are merged, a window ending before ``D - lag`` can only receive more events from a file delivered
more than ``lag`` after them. CloudTrail delivers within minutes, so such windows are learned
right away, overlapping the reading of later files, and then let go: what training holds is the
windows of the last ``lag`` or so, not the whole history (``Seen`` keeps what ``metadata.json``
says about them all).

That is a bet, and it is checked: a later file adding events to a window already learned makes
the streamed pass void (counted as ``late``); every file is then read again and every window
learned after reading, as without streaming. Either way the result is the one-pass result,
exactly. Files whose names carry no delivery time (exports) disable streaming.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from detector.config import Settings
from detector.ingest.keys import key_delivery_time
from detector.train.collect import (
    CollectSpec,
    Partial,
    Reader,
    chunks,
    collect,
    collect_chunk,
    task_count,
    worker_pool,
)
from detector.train.warm import Learner
from detector.windows import WindowAgg

log = logging.getLogger(__name__)
A = TypeVar("A")
R = TypeVar("R")
LAG = 3600.0  # seconds a file may be delivered after its events and still be learned in order


@dataclass(slots=True)
class Seen:
    """What ``metadata.json`` reports about every window, gathered as they pass."""

    windows: int = 0
    principals: set[tuple[str, str]] = field(default_factory=set)  # (account, principal)
    first_event: float = float("inf")
    last_event: float = float("-inf")
    first_window: float = float("inf")
    last_window: float = float("-inf")

    def add(self, windows: list[WindowAgg]) -> None:
        """Count windows sorted by start (the first and last window come from the ends)."""
        if not windows:
            return
        self.windows += len(windows)
        self.principals.update([(w.account, w.principal) for w in windows])
        self.first_event = min(self.first_event, min(w.first for w in windows))
        self.last_event = max(self.last_event, max(w.last for w in windows))
        self.first_window = min(self.first_window, windows[0].start)
        self.last_window = max(self.last_window, windows[-1].start)

    @property
    def accounts(self) -> set[str]:
        return {account for account, _ in self.principals}


@dataclass(slots=True)
class Streamed:
    """What was read: the counts, the windows still to learn and the learner that has already
    seen (and let go of) the others — or, when not streamed, every window and no learner."""

    part: Partial
    windows: list[WindowAgg] = field(default_factory=list)  # to learn, in order
    learner: Learner | None = None  # None: not streamed, or the bet failed
    learned: int = 0  # windows learned while reading
    late: int = 0  # windows that received events after they were learned
    seen: Seen = field(default_factory=Seen)  # every window, learned or not


def unstreamed(part: Partial) -> Streamed:
    """Every window of ``part``, closed, to be learned after reading."""
    windows = part.pop_closed()
    out = Streamed(part, windows)
    out.seen.add(windows)
    return out


def collect_learning(
    names: Sequence[str],
    spec: CollectSpec,
    reader: Reader,
    workers: int,
    settings: Settings,
    k: int,
    seed: int,
    lag: float = LAG,
    progress: Callable[[int], None] | None = None,
) -> Streamed:
    """``collect`` that feeds a ``Learner`` with the windows no later file can change.

    With one worker the chunks are read in this process, one at a time, and learned from in
    between: the same result, with the memory of a few chunks instead of every window.
    """
    stamps = [key_delivery_time(n) for n in names]
    if not _in_delivery_order(stamps):
        return unstreamed(collect(names, spec, reader, workers, progress))
    jobs = _tapered(chunks(list(names), task_count(len(names), workers)))
    firsts, i = [], 0  # the earliest delivery time of each chunk
    for job in jobs:
        firsts.append(stamps[i].timestamp())  # type: ignore[union-attr]
        i += len(job)
    learner = Learner(settings, k, seed)
    out = Streamed(Partial(), learner=learner)
    args = [(c, spec, reader) for c in jobs]
    if workers <= 1:
        parts: Iterator[Partial] = map(collect_chunk, args)
        late = _learn_along(out, learner, parts, firsts, lag, spec.width, progress)
    else:
        # The GC is paused by ``train`` for the whole run (partials unpickle here).
        with worker_pool(min(workers, len(jobs)), initializer=_yield_to_learner) as pool:
            parts = read_ahead(pool, collect_chunk, args, AHEAD * workers)
            late = _learn_along(out, learner, parts, firsts, lag, spec.width, progress)
        # leaving the pool cancels the chunks read ahead if the bet failed
    if late:
        log.warning(
            "events arrived more than the lag after their window was learned: "
            "reading every file again, to learn every window after reading",
            extra={"windows": late, "lag_seconds": lag},
        )
        again = unstreamed(collect(names, spec, reader, workers))
        again.late = late
        return again
    out.windows = out.part.pop_closed()
    out.seen.add(out.windows)
    return out


def _learn_along(
    out: Streamed,
    learner: Learner,
    parts: Iterator[Partial],
    firsts: list[float],
    lag: float,
    width: int,
    progress: Callable[[int], None] | None,
) -> int:
    """Merge ``parts`` (chunk by chunk, in order) into ``out.part``, learning each window no
    later chunk can change; the number of late windows if that bet failed (then stop), else 0."""
    total = out.part
    edge = float("-inf")  # every window starting before this has been learned
    for n, part in enumerate(parts):
        late = sum(1 for key in part.windows if key[2] < edge)
        if late:
            return late
        total.merge(part)
        if progress:
            progress(part.files + part.skipped + len(part.unreadable))
        if n + 1 == len(firsts):
            continue
        ready = total.pop_closed(firsts[n + 1] - lag - width)
        if ready:
            learner.feed(ready)
            out.seen.add(ready)
            out.learned += len(ready)
            edge = float(ready[-1].start + width)
    return 0


AHEAD = 2  # chunks read ahead of the learner, per worker


def read_ahead(pool: Executor, fn: Callable[[A], R], args: Sequence[A], limit: int) -> Iterator[R]:
    """``pool.map(fn, args)`` with at most ``limit`` tasks submitted ahead of the caller.

    When learning is the slower half (long histories: a window every ~3 records over 16 days),
    ``map`` lets finished partials pile up in the parent without bound — 10 GB on 8M records.
    Holding the readers back costs nothing then; when reading is the slower half, ``limit``
    chunks are enough to keep every reader busy.
    """
    todo = iter(args)
    pending = deque(pool.submit(fn, a) for a in itertools.islice(todo, max(limit, 1)))
    while pending:
        result = pending.popleft().result()  # a worker's exception is raised here
        for a in itertools.islice(todo, 1):
            pending.append(pool.submit(fn, a))
        yield result


TAIL_PIECES = 4


def _tapered(jobs: list[list[str]]) -> list[list[str]]:
    """The last chunk cut into ``TAIL_PIECES``: the windows of the span of the last chunk (plus
    the lag) can only be learned once it is merged, on one core after reading; a short last
    chunk shortens that tail (2M records, 2 workers: ~1 h 50 min of windows → ~1 h 10 min).

    >>> _tapered([["a", "b"], ["c", "d", "e", "f"]])
    [['a', 'b'], ['c'], ['d'], ['e'], ['f']]
    """
    if not jobs:
        return jobs
    return [*jobs[:-1], *chunks(jobs[-1], TAIL_PIECES)]


READER_NICENESS = 5


def _yield_to_learner() -> None:
    """Readers run at a lower priority than the parent, whose learning pass is the critical path.

    With as many readers as cores, the scheduler shares the learner's core with them and the
    learner falls behind, left to finish alone on one core. Lower-priority readers take what the
    learner leaves (2M records, 2 cores, two runs each: 47.6 / 46.6 s → 46.6 / 45.6 s).
    """
    with contextlib.suppress(OSError):  # not permitted here: the same result, less overlap
        os.nice(READER_NICENESS)


def _in_delivery_order(stamps: list[datetime | None]) -> bool:
    """Streaming needs every file's delivery time, in order (``list_sources`` sorts by it)."""
    if not stamps or any(t is None for t in stamps):
        return False
    return all(a <= b for a, b in itertools.pairwise(stamps))  # type: ignore[operator]
