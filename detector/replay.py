"""``s3ad replay``: local CloudTrail files → the same pipeline as the daemon → an output.

Every input is accounted for: read, skipped (digest / Insight) or unreadable (with its reason).
The exit status says whether everything could be read (0) or not (3).
"""

from __future__ import annotations

import gc
import logging
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from detector.config import Settings
from detector.detect.text import clean
from detector.engine import Batch, Engine
from detector.errors import SkippedInput, UnreadableInput
from detector.ingest.reader import Decoded, list_inputs, read_local
from detector.metrics import Metrics

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_UNREADABLE = 3


@dataclass(slots=True)
class FileReport:
    files_read: int = 0
    files_skipped: int = 0
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    invalid_lines: int = 0


def read_inputs(
    paths: list[Path], settings: Settings, metrics: Metrics, report: FileReport
) -> Iterator[tuple[str, Decoded]]:
    """Yield (name, records) for every readable input; log and count everything else."""
    inputs = list_inputs(paths)
    for p in inputs.missing:
        log.error("input not found", extra={"file": str(p), "reason": "not-found"})
        metrics.incr("files.unreadable", reason="not-found")
        report.unreadable.append((str(p), "not-found"))
    for p, kind in inputs.skipped:
        log.info("skipping file", extra={"file": str(p), "reason": kind})
        metrics.incr("files.skipped", reason=kind)
        report.files_skipped += 1
    for path in inputs.files:
        try:
            decoded = read_local(path, settings.input.max_object_bytes)
        except SkippedInput as exc:
            log.info("skipping file", extra={"file": exc.name, "reason": exc.reason})
            metrics.incr("files.skipped", reason=exc.reason)
            report.files_skipped += 1
            continue
        except UnreadableInput as exc:
            log.error(
                "unreadable input",
                extra={"file": exc.name, "reason": exc.reason, "detail": exc.detail},
            )
            metrics.incr("files.unreadable", reason=exc.reason)
            report.unreadable.append((exc.name, exc.reason))
            continue
        if decoded.invalid_lines:
            log.warning(
                "lines skipped",
                extra={"file": str(path), "reason": "not-json", "count": decoded.invalid_lines},
            )
            metrics.incr("records.invalid_lines", decoded.invalid_lines)
            report.invalid_lines += decoded.invalid_lines
        report.files_read += 1
        metrics.incr("files.read")
        yield str(path), decoded


def drive(
    engine: Engine,
    inputs: Iterator[tuple[str, Decoded]],
    on_batch: Callable[[Batch], None],
) -> None:
    """Feed files through the engine, handing each closed round to ``on_batch``.

    ``on_batch`` must ``learn`` what it wants learned before returning: the next round is
    featurized against the history it leaves.

    The garbage collector is paused for the loop: long-lived window state would otherwise be
    walked again and again (issue 6); the loop creates no reference cycles.
    """
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _name, decoded in inputs:
            engine.ingest(decoded.records)
            del decoded
            for batch in engine.rounds():
                on_batch(batch)
        for batch in engine.rounds(final=True):
            on_batch(batch)
    finally:
        if gc_was_enabled:
            gc.enable()


def summary_lines(
    engine: Engine, report: FileReport, elapsed: float, extra: dict[str, Any] | None = None
) -> list[str]:
    """A short human summary of a replay."""
    c = engine.counts
    rate = c.read / elapsed if elapsed > 0 else 0.0
    lines = [
        f"files      {report.files_read} read, {report.files_skipped} skipped (digest/Insight), {len(report.unreadable)} unreadable",
        f"records    {c.read:,} read: {c.windowed:,} windowed, {c.late:,} late, {c.duplicates:,} duplicate, "
        f"{c.not_s3:,} not S3, {c.invalid:,} invalid",
        f"windows    {engine.windower.stats.windows_closed:,} closed over {len(engine.history.by_key):,} principals",
        f"time       {elapsed:.1f} s ({rate:,.0f} records/s)",
    ]
    for name, reason in report.unreadable:
        # File names come from object keys (``aws s3 sync``): any character but "/" is allowed.
        lines.append(f"unreadable {clean(name, 1024)}: {reason}")
    for k, v in (extra or {}).items():
        lines.append(f"{k:<10} {v}")
    return lines


def print_summary(lines: list[str]) -> None:
    sys.stderr.write("\n".join(["", "s3ad replay summary", *lines, ""]) + "\n")
    sys.stderr.flush()


def exit_status(report: FileReport) -> int:
    return EXIT_UNREADABLE if report.unreadable else EXIT_OK


def now() -> float:
    return time.perf_counter()
