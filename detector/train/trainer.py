"""``s3ad train``: history → windows (parallel) → warm detection state → IsolationForest → artifact.

1. list the sources (local folders, ``s3://`` prefixes), cheap filters on key names;
2. map/merge files into windows over ``workers`` processes (``collect``) and, meanwhile, run
   the windows no later file can change through a real Detector + Engine (``stream``);
3. learn the rest in the same pass — or, when streaming was not possible, everything in
   account shards in parallel (``warm``);
4. fit the IsolationForest on a bounded sample of the clean windows (``fit``);
5. write the verified artifact and its report (``detector.model``).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from detector.config import Settings
from detector.detect.rules import RuleBook
from detector.errors import ConfigError
from detector.features import FEATURES
from detector.model.writer import check_destination, model_files, write_artifact
from detector.train.collect import CollectSpec, gc_paused
from detector.train.fit import Fitted, fit_forest, raw_threshold
from detector.train.forked import Forked, can_fork
from detector.train.metadata import build_metadata
from detector.train.progress import Progress
from detector.train.sample import matrix
from detector.train.sources import FileReader, KeyFilter, list_sources
from detector.train.stream import LAG, Streamed, collect_learning, unstreamed
from detector.train.warm import WarmResult, warm_sharded

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TrainOptions:
    out: Path
    sources: tuple[str, ...]
    start: datetime | None = None  # events at or after (UTC)
    end: datetime | None = None  # events before (UTC)
    accounts: frozenset[str] | None = None
    workers: int = 0  # 0: every core
    engine: str = "local"  # map/merge on local processes or Spark (detector.engines, issue 8)
    spark_master: str | None = None
    report: bool = True
    sample: int = 200_000  # clean windows the IsolationForest is fitted on, at most
    trees: int = 200
    seed: int = 42
    progress: bool = True  # a bar on stderr when it is a terminal
    lag: float = LAG  # learn while reading windows this much older than the files being read


@dataclass(slots=True)
class TrainResult:
    out: Path
    digest: str  # sha256 of metadata.json
    metadata: dict[str, Any]
    unreadable: list[tuple[str, str]] = field(default_factory=list)


def train(opts: TrainOptions, settings: Settings, s3_client: Any = None) -> TrainResult:
    """Train from ``opts.sources`` and write the artifact to ``opts.out``.

    The cyclic garbage collector stays paused throughout: once the windows are read, every
    collection walks millions of live objects, and the tail (sorting the windows, the metadata,
    the last learning) spent seconds in collections that free nothing (issue 6: a set of
    principals over 243k windows took 3 s with it on). Training makes no reference cycles worth
    collecting, and it is one run of one process.
    """
    with gc_paused():
        return _train(opts, settings, s3_client)


def _train(opts: TrainOptions, settings: Settings, s3_client: Any) -> TrainResult:
    workers = opts.workers or os.cpu_count() or 1
    check_destination(opts.out)
    timing: dict[str, float] = {}
    t0 = time.perf_counter()
    listing = list_sources(
        list(opts.sources), KeyFilter(opts.start, opts.end, opts.accounts), s3_client
    )
    if listing.missing:
        raise ConfigError(f"training source(s) not found: {', '.join(listing.missing)}")
    if not listing.names:
        raise ConfigError(f"no CloudTrail log files in {', '.join(opts.sources)} (after filters)")
    t1 = time.perf_counter()
    timing["list"] = t1 - t0
    streamed = _read(opts, settings, listing.names, workers)
    part = streamed.part
    if not streamed.seen.windows:
        raise ConfigError("no S3 data events in the training data (after filters)")
    t2 = time.perf_counter()
    timing["read"] = t2 - t1
    warm = _learn_rest(opts, settings, streamed, workers)
    t3 = time.perf_counter()
    timing["learn"] = t3 - t2
    x = matrix(warm.sample, len(FEATURES))
    fitted = fit_forest(x, opts.seed, opts.trees, workers)
    t4 = time.perf_counter()
    timing["fit"] = t4 - t3
    meta = build_metadata(opts, settings, listing, streamed, warm, fitted, workers, timing)
    del streamed  # nothing below needs it: let its windows go now
    plotting = _start_report(opts, settings, meta, x, fitted, warm) if opts.report else None
    files = model_files(fitted.adapter, warm.warm)  # while the report is drawn
    if plotting is not None:
        files.update(plotting())
    timing["write"] = time.perf_counter() - t4
    meta["timing"]["write"] = round(timing["write"], 3)
    digest = write_artifact(opts.out, files, meta)
    return TrainResult(opts.out, digest, meta, part.unreadable)


def _read(opts: TrainOptions, settings: Settings, names: list[str], workers: int) -> Streamed:
    """Files → merged windows; locally, the first windows are learned while later files are read."""
    spec = CollectSpec(
        width=settings.window.width_seconds,
        start=opts.start.timestamp() if opts.start else None,
        end=opts.end.timestamp() if opts.end else None,
        accounts=opts.accounts,
        notable=RuleBook(settings.rules).notable,
        max_future=settings.input.max_future_seconds,
        evidence=False,  # findings are only counted here
    )
    bar = Progress("read", len(names), "files", enabled=opts.progress)
    reader = FileReader(settings.input.max_object_bytes)
    try:
        if opts.engine == "local":
            k, seed, lag = opts.sample, opts.seed, opts.lag
            return collect_learning(
                names, spec, reader, workers, settings, k, seed, lag, bar.advance
            )
        # the same windows, bit for bit, from Spark tasks (test_spark_equality.py)
        from detector.engines import open_engine

        engine = open_engine(opts.engine, opts.workers, opts.spark_master)
        try:
            part = engine.collect(names, spec, reader)
        finally:
            engine.close()
        return unstreamed(part)
    finally:
        bar.close()


def _learn_rest(
    opts: TrainOptions, settings: Settings, streamed: Streamed, workers: int
) -> WarmResult:
    """Finish the learning pass: the tail after streaming, or everything in account shards."""
    learner, todo = streamed.learner, streamed.windows
    bar = Progress("learn", len(todo), "windows", enabled=opts.progress)
    try:
        if learner is not None:
            learner.feed(todo, bar.advance)
            return learner.finish()
        return warm_sharded(todo, settings, workers, opts.sample, opts.seed, bar.advance)
    finally:
        bar.close()


def _start_report(
    opts: TrainOptions,
    settings: Settings,
    meta: dict[str, Any],
    x: Any,
    fitted: Fitted,
    warm: WarmResult,
) -> Callable[[], dict[str, bytes]]:
    """Start drawing the report in a forked child (see ``forked``); call the result to wait."""
    from detector.model.report import ReportInput, render_report

    rows = [(r.start, r.account, r.name or r.principal, r.events) for r in warm.sample]
    thr = raw_threshold(fitted.adapter, settings.models.threshold)
    report = ReportInput(opts.out.name, meta, x, fitted.raw, rows, settings.models.threshold, thr)
    if not can_fork():
        files = render_report(report)
        return lambda: files
    child = Forked(lambda _tick: render_report(report))
    return lambda: dict(child.result())
