"""Learn while reading: the sequential pass runs in the parent while workers read later files.

Reading (parallel) and learning (sequential per account) would otherwise follow each other, and
the learning pass — the service's own Detector, ~170 µs a window — leaves one core idle when one
account dominates. Files are read in delivery order, so once the files delivered before time D
are merged, a window ending before ``D - lag`` can only receive more events from a file delivered
more than ``lag`` after them. CloudTrail delivers within minutes, so such windows are learned
right away, overlapping the reading of later files.

That is a bet, and it is checked: a later file adding events to a window already learned makes
the streamed pass void (counted as ``late``); every window is then learned again from scratch
after reading, as without streaming. Either way the result is the one-pass result, exactly.
Files whose names carry no delivery time (exports) disable streaming.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import multiprocessing
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from detector.config import Settings
from detector.ingest.keys import key_delivery_time
from detector.train.collect import (
    CollectSpec,
    Key,
    Partial,
    Reader,
    chunks,
    collect,
    collect_chunk,
    task_count,
)
from detector.train.warm import Learner
from detector.windows import WindowAgg

log = logging.getLogger(__name__)
LAG = 3600.0  # seconds a file may be delivered after its events and still be learned in order


@dataclass(slots=True)
class Streamed:
    """Everything read, and the learner that has already seen the first windows (or None)."""

    part: Partial
    windows: list[WindowAgg] = field(default_factory=list)  # all windows, in order
    learner: Learner | None = None  # None: not streamed, or the bet failed
    learned: int = 0  # windows learned while reading
    late: int = 0  # windows that received events after they were learned


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
    """``collect`` that feeds a ``Learner`` with the windows no later file can change."""
    stamps = [key_delivery_time(n) for n in names]
    if workers <= 1 or not _in_delivery_order(stamps):
        part = collect(names, spec, reader, workers, progress)
        windows = part.closed()
        part.windows = {}
        return Streamed(part, windows)
    jobs = _tapered(chunks(list(names), task_count(len(names), workers)))
    firsts, i = [], 0  # the earliest delivery time of each chunk
    for job in jobs:
        firsts.append(stamps[i].timestamp())  # type: ignore[union-attr]
        i += len(job)
    out = Streamed(Partial(), learner=Learner(settings, k, seed))
    total = out.part
    learned: dict[Key, WindowAgg] = {}  # windows fed to the learner, in order
    edge = float("-inf")  # every window starting before this has been learned
    ctx = multiprocessing.get_context("fork")
    # The garbage collector is paused by ``train`` for the whole run (partials unpickle here).
    with ctx.Pool(min(workers, len(jobs)), initializer=_yield_to_learner) as pool:
        args = [(c, spec, reader) for c in jobs]
        for n, part in enumerate(pool.imap(collect_chunk, args)):
            late = sum(1 for key in part.windows if key[2] < edge)
            if late:
                log.warning(
                    "events arrived more than the lag after their window was learned: "
                    "learning every window again after reading",
                    extra={"windows": late, "lag_seconds": lag},
                )
                out.learner, out.late, edge = None, late, float("-inf")
                total.windows.update(learned)  # late events must join these windows
                learned = {}
            total.merge(part)
            if progress:
                progress(part.files + part.skipped + len(part.unreadable))
            if out.learner is None or n + 1 == len(jobs):
                continue
            ready = _pop_ready(total.windows, firsts[n + 1] - lag - spec.width)
            if ready:
                out.learner.feed(ready)
                learned.update(((w.account, w.principal, w.start), w) for w in ready)
                edge = float(ready[-1].start + spec.width)
    out.learned = len(learned)
    out.windows = [*learned.values(), *total.closed()]
    total.windows = {}
    return out


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


def _pop_ready(windows: dict[Key, WindowAgg], last_start: float) -> list[WindowAgg]:
    """Remove and return, sealed and in order, the windows starting at or before ``last_start``."""
    keys = [key for key in windows if key[2] <= last_start]
    keys.sort(key=lambda key: (key[2], key[0], key[1]))
    return [windows.pop(key).seal() for key in keys]
