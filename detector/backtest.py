"""``s3ad backtest``: history → findings, for tuning and for proving a model before deploying it.

1. The driver lists the sources (folders, files, ``s3://bucket/prefix``), by key within
   ``--start/--end``.
2. The chosen engine (``local`` processes or ``spark`` tasks) reads and folds the files into
   window aggregates and merges them: the same windows, bit for bit, whichever engine.
3. One sequential pass here: ``Engine.rounds_of`` featurizes each window start against the
   history of all earlier windows, ``Detector`` judges it, findings go to the sinks, and only
   the windows that raised nothing are learned — exactly as the daemon would have, minus
   lateness (history is complete, so no event is late) and with duplicates removed per file.

Exit status: 0, 2 for a usage or model error, 3 when some inputs could not be read.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from detector.config import Settings
from detector.detect.text import clean
from detector.engine import Engine
from detector.engines import MapMergeEngine, add_engine_arguments, open_engine
from detector.engines.sources import Listing, TrailReader, list_sources
from detector.errors import ConfigError
from detector.metrics import Metrics
from detector.replay import EXIT_OK, EXIT_UNREADABLE
from detector.sinks import open_sinks
from detector.train.collect import CollectSpec, Partial
from detector.windows import WindowAgg

if TYPE_CHECKING:
    from detector.detect.detector import Detector

Publish = Callable[[list[dict[str, Any]]], None]


@dataclass(slots=True)
class BacktestResult:
    listing: Listing
    partial: Partial
    engine: str  # the engine's one-line description
    windows: int = 0
    principals: int = 0
    latest: dict[str, dict[str, Any]] = field(default_factory=dict)  # id → finding as it ends
    published: int = 0  # occurrences (a repeat of an id counts again)
    suppressed: int = 0
    map_seconds: float = 0.0
    detect_seconds: float = 0.0

    @property
    def unreadable(self) -> list[tuple[str, str]]:
        return self.listing.unreadable + self.partial.unreadable


def collect_windows(
    engine: MapMergeEngine,
    listing: Listing,
    settings: Settings,
    notable: Callable[[Any], bool] | None,
    start: float | None = None,
    end: float | None = None,
    now: float | None = None,
) -> Partial:
    """The map/merge half: every listed file folded into merged windows by ``engine``."""
    spec = CollectSpec(
        width=settings.window.width_seconds,
        start=start,
        end=end,
        notable=notable,
        # One "now" for every worker, so the future-timestamp check cannot differ between them.
        now=time.time() if now is None else now,
        max_future=settings.input.max_future_seconds,
    )
    return engine.collect(listing.names, spec, TrailReader(settings.input.max_object_bytes))


def detect(
    closed: list[WindowAgg], settings: Settings, detector: Detector, publish: Publish
) -> tuple[dict[str, dict[str, Any]], int, int]:
    """The sequential half: rounds → findings; returns (latest by id, occurrences, principals).

    The garbage collector is paused as in ``replay.drive``: the loop makes no cycles, and
    walking months of window state again and again would dominate the run.
    """
    core = Engine(settings, notable=detector.notable)
    detector.bind(core.history)
    latest: dict[str, dict[str, Any]] = {}
    published = 0
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        for batch in core.rounds_of(closed):
            found = detector.process(batch)
            if found:
                publish(found)
                published += len(found)
                latest.update((f["id"], f) for f in found)
            core.learn(detector.learnable(batch))
    finally:
        if was_enabled:
            gc.enable()
    return latest, published, len(core.history.by_key)


def run_backtest(
    sources: Sequence[str],
    settings: Settings,
    engine: MapMergeEngine,
    publish: Publish,
    start: float | None = None,
    end: float | None = None,
    s3: Any = None,
    now: float | None = None,
    artifact: Any = None,
) -> BacktestResult:
    """List, map/merge on ``engine``, then detect in order; ``s3`` lists ``s3://`` sources;
    ``artifact``: a verified model from ``s3ad train`` to start warm from (the one to prove)."""
    from detector.detect.detector import Detector  # scikit-learn and river: ~1 s to import

    detector = Detector(settings, artifact=artifact)
    listing = list_sources(sources, start, end, s3)
    started = time.perf_counter()
    # The rules' predicate, not the detector's bound method: it is what travels to each worker.
    partial = collect_windows(engine, listing, settings, detector.rules.notable, start, end, now)
    result = BacktestResult(listing, partial, engine.describe())
    result.map_seconds = time.perf_counter() - started
    closed = partial.closed()
    result.windows = len(closed)
    started = time.perf_counter()
    result.latest, result.published, result.principals = detect(closed, settings, detector, publish)
    result.detect_seconds = time.perf_counter() - started
    result.suppressed = detector.stats.suppressed
    return result


def summary_lines(r: BacktestResult) -> list[str]:
    """A short human summary: files, records, windows, findings by type."""
    p, listing = r.partial, r.listing
    rate = p.read / r.map_seconds if r.map_seconds > 0 else 0.0
    lines = [
        f"engine     {r.engine}",
        f"files      {p.files:,} read, {len(listing.skipped) + p.skipped:,} skipped "
        f"(digest/Insight), {len(r.unreadable):,} unreadable, "
        f"{listing.outside:,} outside --start/--end by key",
        f"records    {p.read:,} read: {p.windowed:,} windowed, {p.duplicates:,} duplicate, "
        f"{p.not_s3:,} not S3, {p.invalid:,} invalid, {p.out_of_range:,} outside the range",
        f"windows    {r.windows:,} over {r.principals:,} principals",
        f"time       map/merge {r.map_seconds:.1f} s ({rate:,.0f} records/s), "
        f"detection {r.detect_seconds:.1f} s",
        f"findings   {len(r.latest):,} ({r.published:,} occurrences incl. updates), "
        f"{r.suppressed:,} suppressed",
    ]
    by_type = Counter(f["type"] for f in r.latest.values())
    lines += [f"  {n:>6,}  {t}" for t, n in sorted(by_type.items(), key=lambda kv: (-kv[1], kv[0]))]
    # Names come from object keys: any character but "/" is allowed (see replay).
    lines += [f"unreadable {clean(name, 1024)}: {reason}" for name, reason in r.unreadable]
    return lines


def parse_utc(value: str, end: bool = False) -> float:
    """``YYYY-MM-DD`` (a whole UTC day) or an ISO time (UTC unless it says otherwise) → epoch
    seconds; as ``--end`` a day is included, a time excluded (the same as ``s3ad train``).

    >>> parse_utc("2026-11-01"), parse_utc("2026-11-01T00:05Z")
    (1793491200.0, 1793491500.0)
    >>> parse_utc("2026-11-01", end=True) - parse_utc("2026-11-01")
    86400.0
    """
    try:
        t = datetime.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date or ISO time: {value!r}") from exc
    seconds = (t if t.tzinfo else t.replace(tzinfo=UTC)).timestamp()
    return seconds + 86400 if end and len(value) == 10 else seconds


def add_backtest_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "sources", nargs="+", metavar="SOURCE", help="folders, files or s3://bucket/prefix"
    )
    add_engine_arguments(p)
    p.add_argument(
        "--sink",
        action="append",
        metavar="URL",
        help="stdout:// (default), jsonl://PATH, eventbridge://BUS, null:// (repeatable)",
    )
    p.add_argument(
        "--model", metavar="DIR|s3://…", help="artifact from s3ad train (models.iforest_path)"
    )
    p.add_argument(
        "--rules-only", action="store_true", help="disable the models (models.enabled = false)"
    )
    p.add_argument(
        "--start", type=parse_utc, metavar="DAY|TIME", help="first day (or time) of events, UTC"
    )
    p.add_argument(
        "--end",
        type=lambda v: parse_utc(v, end=True),
        metavar="DAY|TIME",
        help="last day included (or time excluded), UTC",
    )


def cmd_backtest(args: argparse.Namespace, settings: Settings) -> int:
    """The command: a refused ``--model`` raises ``ModelError`` before any work (exit 2)."""
    from detector.detect.runner import findings_table

    if args.start is not None and args.end is not None and args.start >= args.end:
        raise ConfigError("--start must be before --end")
    model = settings.models.iforest_path
    s3 = None
    if model.startswith("s3://") or any(s.startswith("s3://") for s in args.sources):
        import boto3

        from detector.aws.clients import s3_client

        s3 = s3_client(boto3.session.Session())
    artifact = None
    if model:
        from detector.model.loader import load_artifact

        artifact = load_artifact(model, settings, s3)
    sink = open_sinks(args.sink or ["stdout://"], metrics=Metrics())
    try:
        engine = open_engine(args.engine, args.workers, args.spark_master)
        try:
            result = run_backtest(
                args.sources,
                settings,
                engine,
                sink.publish,
                args.start,
                args.end,
                s3,
                None,
                artifact,
            )
        finally:
            engine.close()
    finally:
        sink.close()
    lines = ["", "s3ad backtest summary", *summary_lines(result), ""]
    lines += [*findings_table(list(result.latest.values())), ""]
    sys.stderr.write("\n".join(lines))
    sys.stderr.flush()
    return EXIT_UNREADABLE if result.unreadable else EXIT_OK
