"""Map files → partial window aggregates, merge them: the parallel half of training/backtests.

Each worker reads its files with the *same* reader, normalizer and ``WindowAgg`` as the service
and returns partial aggregates keyed by (account, principal, window start). ``WindowAgg.merge``
is associative and commutative, so the merged windows are identical whatever the number of
workers or the way files were split among them (tested).

Differences from the streaming service, on purpose: there is no lateness (history is complete,
so every event joins its window) and duplicates are removed per file (a CloudTrail redelivery
repeating an event in another file is counted twice; removing those would need a global set of
eventIDs, which is what keeps the service single-pass).
"""

from __future__ import annotations

import dataclasses
import gc
import logging
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from detector.errors import SkippedInput, UnreadableInput, WorkerLost
from detector.events import S3Event
from detector.ingest.reader import Decoded
from detector.normalize import NOT_S3, Normalizer
from detector.windows import WindowAgg, states

log = logging.getLogger(__name__)

Key = tuple[str, str, int]
# files read and skipped, records by fate: summed by ``merge``, carried by pickling
COUNTERS = (
    "files",
    "skipped",
    "read",
    "not_s3",
    "invalid",
    "duplicates",
    "out_of_range",
    "windowed",
)


@dataclass(slots=True)
class Partial:
    """Windows and counts from a share of the files."""

    windows: dict[Key, WindowAgg] = field(default_factory=dict)
    files: int = 0
    skipped: int = 0
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    read: int = 0
    not_s3: int = 0
    invalid: int = 0
    duplicates: int = 0
    out_of_range: int = 0
    windowed: int = 0

    def merge(self, other: Partial) -> None:
        for key, w in other.windows.items():
            mine = self.windows.get(key)
            if mine is None:
                self.windows[key] = w
            else:
                mine.merge(w)
        self.unreadable.extend(other.unreadable)
        for name in COUNTERS:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled with its windows as ``state()`` tuples: workers send every window they read
        to the parent, and rows of plain values pickle in under half the time of the objects
        (2M-record bench trail, a 150-file partial: dumps 8.3 → 5.7 µs a window, loads
        5.9 → 4.0, evidence already dropped as training does).
        """
        counts = tuple(getattr(self, c) for c in COUNTERS)
        return (_unpickle_partial, (states(self.windows.values()), self.unreadable, counts))

    def closed(self) -> list[WindowAgg]:
        """Merged windows, sealed, in (start, account, principal) order — the service's order."""
        return [self.windows[k].seal() for k in sorted(self.windows, key=_service_order)]

    def pop_closed(self, last_start: float = float("inf")) -> list[WindowAgg]:
        """Remove and return, as ``closed`` does, the windows starting at or before
        ``last_start`` (all of them by default): training learns them and lets them go."""
        windows = self.windows
        keys = sorted((k for k in windows if k[2] <= last_start), key=_service_order)
        return [windows.pop(k).seal() for k in keys]


def _service_order(key: Key) -> tuple[int, str, str]:
    return key[2], key[0], key[1]


def _unpickle_partial(
    rows: list[tuple[Any, ...]], unreadable: list[tuple[str, str]], counts: tuple[int, ...]
) -> Partial:
    part = Partial(unreadable=unreadable)
    for name, n in zip(COUNTERS, counts, strict=True):
        setattr(part, name, n)
    windows = part.windows
    from_state = WindowAgg.from_state
    for row in rows:
        w = from_state(row)
        windows[(w.account, w.principal, w.start)] = w
    return part


@dataclass(frozen=True, slots=True)
class CollectSpec:
    """What every worker needs (picklable)."""

    width: int = 300
    start: float | None = None  # keep events with start <= eventTime < end
    end: float | None = None
    accounts: frozenset[str] | None = None
    notable: Callable[[S3Event], bool] | None = None
    now: float | None = None  # "now" for the future-timestamp check (None: wall clock)
    max_future: float = 3600.0  # input.max_future_seconds: later events are invalid
    # Keep each window's evidence (its earliest event ids), which only a finding shows.
    # Training counts findings by type and never shows one, so it drops them in the worker:
    # a third of what a partial weighs in pickling, and the parent's memory.
    evidence: bool = True

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuilt by calling the class: compiled (``detector.native``), a frozen dataclass
        # cannot be filled in field by field as pickle otherwise would.
        return (CollectSpec, tuple(getattr(self, f.name) for f in dataclasses.fields(self)))


def fold_records(
    records: Iterable[Any], spec: CollectSpec, part: Partial, normalizer: Normalizer
) -> None:
    """Normalize and aggregate one file's records into ``part`` (per-file dedup)."""
    seen: set[str] = set()
    width = spec.width
    windows = part.windows
    notable = spec.notable
    for rec in records:
        part.read += 1
        ev = normalizer.normalize(rec, spec.now)
        if isinstance(ev, str):  # a reason, not an event (as in ``Engine.ingest``)
            if ev is NOT_S3:
                part.not_s3 += 1
            else:
                part.invalid += 1  # INVALID: normalize returns no other string
            continue
        if (
            (spec.start is not None and ev.time < spec.start)
            or (spec.end is not None and ev.time >= spec.end)
            or (spec.accounts is not None and ev.account not in spec.accounts)
        ):
            part.out_of_range += 1
            continue
        if ev.event_id:
            if ev.event_id in seen:
                part.duplicates += 1
                continue
            seen.add(ev.event_id)
        start = int(ev.time)
        start -= start % width
        key = (ev.account, ev.principal, start)
        w = windows.get(key)
        if w is None:
            w = windows[key] = WindowAgg(ev.account, ev.principal, start, ev)
        w.add(ev, notable(ev) if notable is not None else False)
        part.windowed += 1


Reader = Callable[[str], Decoded]


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector around allocation-heavy loops that make no cycles.

    Folding records and unpickling partials allocate millions of small containers; each
    allocation burst triggers a collection that walks every live window again. Measured here:
    unpickling a 14,000-window partial takes 1.2 s with the collector on and 0.12 s with it
    off; workers fold 15–45 % more records per second.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@contextmanager
def worker_pool(
    workers: int, initializer: Callable[[], None] | None = None
) -> Iterator[ProcessPoolExecutor]:
    """Worker processes for ``collect_chunk``; a worker that dies fails the run at once.

    A worker killed by the system (out of memory, most often) or crashing raises ``WorkerLost``
    in the parent. ``multiprocessing.Pool`` would replace the dead worker and wait for ever for
    the result of the task it was running. Leaving the block cancels the tasks not started.
    """
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    ctx = multiprocessing.get_context(method)
    pool = ProcessPoolExecutor(workers, mp_context=ctx, initializer=initializer)
    try:
        yield pool
    except BrokenProcessPool as exc:
        raise WorkerLost(
            "a worker process died (killed by the system, most often for lack of "
            "memory, or crashed); try fewer --workers or more memory"
        ) from exc
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def collect_chunk(args: tuple[Sequence[str], CollectSpec, Reader]) -> Partial:
    """Worker entry point: read and fold a chunk of files."""
    with gc_paused():
        return _fold_chunk(*args)


def _fold_chunk(names: Sequence[str], spec: CollectSpec, reader: Reader) -> Partial:
    part = Partial()
    normalizer = Normalizer(spec.max_future)
    for name in names:
        try:
            decoded = reader(name)
        except SkippedInput:
            part.skipped += 1
            continue
        except UnreadableInput as exc:
            log.error(
                "unreadable input",
                extra={"file": exc.name, "reason": exc.reason, "detail": exc.detail},
            )
            part.unreadable.append((exc.name, exc.reason))
            continue
        fold_records(decoded.records, spec, part, normalizer)
        part.files += 1
    if not spec.evidence:
        for w in part.windows.values():
            w.evidence = []
    return part


def chunks(names: Sequence[str], n: int) -> list[list[str]]:
    """Split ``names`` into ``n`` contiguous chunks.

    Files are time-sorted, so contiguous chunks hold mostly disjoint windows and the merge in
    the parent is cheap; interleaved chunks would make every partial hold every window.

    >>> chunks(["a", "b", "c", "d", "e"], 2)
    [['a', 'b', 'c'], ['d', 'e']]
    """
    size = -(-len(names) // max(n, 1))
    return [list(names[i : i + size]) for i in range(0, len(names), max(size, 1))]


FILES_PER_TASK = 64  # small enough for a live progress bar, large enough to merge little


def task_count(files: int, workers: int) -> int:
    """How many chunks ``files`` are cut into: ≥ 4 per worker, ≤ ``FILES_PER_TASK`` files each.

    >>> task_count(1207, 2)
    19
    """
    return max(1, min(files, max(workers * 4, -(-files // FILES_PER_TASK))))


def collect(
    names: Sequence[str],
    spec: CollectSpec,
    reader: Reader,
    workers: int = 0,
    progress: Callable[[int], None] | None = None,
) -> Partial:
    """Map/merge ``names`` over ``workers`` processes (0: all cores; 1: in this process).

    Partials are merged in file order (``map``, not as completed): fields that keep the
    first value seen, such as a window's display name, then come from the earliest file
    whatever the split, so the result is the same for any number of workers. ``progress``
    receives the number of files finished by each task.
    """
    workers = workers or os.cpu_count() or 1
    jobs = [(c, spec, reader) for c in chunks(list(names), task_count(len(names), workers))]
    total = Partial()
    if not jobs:
        return total
    if workers == 1:
        for part in map(collect_chunk, jobs):
            _absorb(total, part, progress)
        return total
    with worker_pool(min(workers, len(jobs))) as pool, gc_paused():  # partials unpickle here
        for part in pool.map(collect_chunk, jobs):
            _absorb(total, part, progress)
    return total


def _absorb(total: Partial, part: Partial, progress: Callable[[int], None] | None) -> None:
    total.merge(part)
    if progress:
        progress(part.files + part.skipped + len(part.unreadable))
