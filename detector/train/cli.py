"""``s3ad train`` on the command line: arguments, the run, a summary on stderr.

Imports only the standard library at module level: ``s3ad --help`` must stay fast; training
loads scikit-learn and river when it starts.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from detector.config import Settings

EXIT_OK, EXIT_USAGE, EXIT_UNREADABLE = 0, 2, 3


def _date(value: str, end: bool) -> datetime:
    """``YYYY-MM-DD`` (a whole UTC day) or an ISO-8601 time (UTC when no zone is given).

    >>> _date("2026-11-01", end=False).isoformat()
    '2026-11-01T00:00:00+00:00'
    >>> _date("2026-11-01", end=True).isoformat()  # --end DAY includes that day
    '2026-11-02T00:00:00+00:00'
    >>> _date("2026-11-01T12:30Z", end=True).isoformat()
    '2026-11-01T12:30:00+00:00'
    """
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date or ISO time: {value!r}") from None
    t = t if t.tzinfo else t.replace(tzinfo=UTC)
    if end and len(value) == 10:
        t += timedelta(days=1)
    return t


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "sources", nargs="+", metavar="SOURCE", help="folder, file or s3://bucket/prefix"
    )
    p.add_argument("--out", required=True, type=Path, help="artifact directory, e.g. models/prod")
    p.add_argument(
        "--start", type=lambda v: _date(v, end=False), help="first day (or time) of events, UTC"
    )
    p.add_argument(
        "--end", type=lambda v: _date(v, end=True), help="last day included (or time excluded)"
    )
    p.add_argument("--accounts", help="comma-separated account ids (default: all)")
    p.add_argument("--workers", type=int, default=0, help="processes (default: every core)")
    from detector.engines import add_engine_arguments  # issue 8: --engine, --spark-master

    add_engine_arguments(p, workers=False)
    p.add_argument("--no-report", action="store_true", help="skip report.md and the plots")
    p.add_argument("--sample", type=int, default=200_000, help="IsolationForest rows, at most")
    p.add_argument("--trees", type=int, default=200, help="IsolationForest trees")
    p.add_argument("--seed", type=int, default=42)


def cmd_train(args: argparse.Namespace, settings: Settings) -> int:
    from detector.errors import ConfigError, ModelError
    from detector.train.trainer import TrainOptions, train

    if args.workers < 0 or args.sample < 2 or args.trees < 1:
        raise ConfigError("--workers must be ≥ 0, --sample ≥ 2 and --trees ≥ 1")
    if args.start and args.end and args.start >= args.end:
        raise ConfigError("--start must be before --end")
    accounts = (
        frozenset(a.strip() for a in args.accounts.split(",") if a.strip())
        if args.accounts
        else None
    )
    opts = TrainOptions(
        out=args.out,
        sources=tuple(args.sources),
        start=args.start,
        end=args.end,
        accounts=accounts or None,
        workers=args.workers,
        engine=args.engine,
        spark_master=args.spark_master,
        report=not args.no_report,
        sample=args.sample,
        trees=args.trees,
        seed=args.seed,
    )
    try:
        result = train(opts, settings)
    except ModelError as exc:
        sys.stderr.write(f"s3ad: {exc}\n")
        return EXIT_USAGE
    sys.stderr.write("\n".join(["", "s3ad train summary", *summary(result.metadata), ""]))
    sys.stderr.write(
        f"model      {result.out}  sha256:{result.digest}\n"
        f"           load with --model {result.out}  (pin: --model '{result.out}#sha256={result.digest}')\n"
    )
    for name, reason in result.unreadable:
        sys.stderr.write(f"unreadable {name}: {reason}\n")
    return EXIT_UNREADABLE if result.unreadable else EXIT_OK


def summary(meta: dict[str, object]) -> list[str]:
    c: dict[str, dict[str, int]] = meta["counts"]  # type: ignore[assignment]
    t: dict[str, float] = meta["timing"]  # type: ignore[assignment]
    f, r, w = c["files"], c["records"], c["windows"]
    rate = r["read"] / t["read"] if t["read"] else 0.0
    workers = meta["parameters"]["workers"]  # type: ignore[index]
    schedule: dict[str, int] = meta.get("schedule", {})  # type: ignore[assignment]
    streamed = schedule.get("learned_while_reading", 0)
    meanwhile = f"; {streamed:,} windows learned meanwhile" if streamed else ""
    more = " more" if streamed else ""
    plural = "" if workers == 1 else "s"
    return [
        f"files      {f['read']:,} read, {f['skipped']:,} skipped, {f['unreadable']:,} unreadable",
        f"records    {r['read']:,} read: {r['windowed']:,} windowed, {r['out_of_range']:,} out of "
        f"range, {r['duplicates']:,} duplicate, {r['not_s3']:,} not S3, {r['invalid']:,} invalid",
        f"windows    {w['total']:,} over {c['principals']:,} principals: {w['flagged']:,} flagged "
        f"(not learned), {w['clean']:,} clean, {w['sampled']:,} fitted",
        f"time       read {t['read']:.1f} s ({rate:,.0f} records/s, "
        f"{workers} worker{plural}{meanwhile}), "
        f"learn {t['learn']:.1f} s{more}, fit {t['fit']:.1f} s, write {t['write']:.1f} s; "
        f"total {sum(t.values()):.1f} s",
    ]
