"""Command line: ``s3ad replay | run | train | evaluate | check-config | gen``.

Builds settings once, sets up JSON logging on stderr, and hands over to one module per command.
Exit status: 0 success, 2 usage or configuration error, 3 some inputs were unreadable.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import orjson

from detector import native
from detector.backtest import add_backtest_arguments, cmd_backtest
from detector.config import Settings, load_settings, settings_dict
from detector.engine import Batch, Engine, window_record
from detector.errors import ConfigError, ModelError, WorkerLost
from detector.evaluate import add_evaluate_arguments, cmd_evaluate
from detector.features import FEATURES
from detector.logs import setup_logging
from detector.metrics import Metrics
from detector.replay import (
    EXIT_USAGE,
    FileReport,
    drive,
    exit_status,
    now,
    print_summary,
    read_inputs,
    summary_lines,
)
from detector.shards_cli import add_shards_arguments, cmd_shards
from detector.sinks import open_sinks
from detector.train.cli import add_train_arguments, cmd_train

EXIT_FAILED = 1  # the run could not finish (a worker process lost)
log = logging.getLogger("s3ad")


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config", metavar="F", help="TOML settings file (defaults: config/default.toml)"
    )
    p.add_argument("--log-level", help="DEBUG, INFO, WARNING, ERROR")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="s3ad", description="Anomaly detection for CloudTrail S3 data events."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    rp = sub.add_parser("replay", help="run local CloudTrail files through the pipeline")
    _add_common(rp)
    rp.add_argument(
        "paths",
        nargs="+",
        type=Path,
        metavar="PATH",
        help="files or folders (.json, .jsonl, .json.gz)",
    )
    rp.add_argument("--emit", choices=("windows", "findings"), default="findings")
    rp.add_argument(
        "--sink", action="append", metavar="URL", help="stdout:// (default), jsonl://PATH, null://"
    )
    rp.add_argument(
        "--model", metavar="DIR|s3://…", help="artifact from s3ad train (models.iforest_path)"
    )
    rp.add_argument(
        "--rules-only", action="store_true", help="disable the models (models.enabled = false)"
    )
    rp.add_argument("--window-seconds", type=int, help="window width (window.width_seconds)")
    rp.add_argument(
        "--lateness-seconds", type=int, help="allowed lateness (window.lateness_seconds)"
    )

    bt = sub.add_parser(
        "backtest", help="history → findings on the local or Spark engine (tuning, model proof)"
    )
    _add_common(bt)
    add_backtest_arguments(bt)

    ev = sub.add_parser("evaluate", help="score findings against a labelled trail")
    _add_common(ev)
    add_evaluate_arguments(ev)

    run = sub.add_parser("run", help="the daemon: SQS → S3 → pipeline → sinks")
    _add_common(run)
    run.add_argument("--queue-url", help="SQS queue fed by the trail bucket (service.queue_url)")
    run.add_argument(
        "--sink",
        action="append",
        metavar="URL",
        help="eventbridge://BUS, jsonl://PATH, stdout://, null:// (repeatable)",
    )
    run.add_argument("--model", metavar="DIR|s3://…", help="model artifact (models.iforest_path)")
    run.add_argument("--state", metavar="DIR|s3://…", help="checkpoint location (service.state)")
    run.add_argument(
        "--drain", action="store_true", default=None, help="exit once the queue stays empty"
    )
    run.add_argument(
        "--health-port", type=int, help="health/metrics port; 0 picks one, -1 disables"
    )
    run.add_argument("--health-bind", help="health/metrics address (default 127.0.0.1)")
    run.add_argument("--accounts", metavar="A,B", help="account shard: accept only these accounts")
    run.add_argument(
        "--account-prefixes",
        metavar="0,1,2",
        help="account shard: accept only account ids starting with these digits",
    )

    shards = sub.add_parser("shards", help="split accounts over several daemons (account shards)")
    add_shards_arguments(shards)

    # issue 4: offline training → a verified artifact for --model
    tr = sub.add_parser("train", help="train models from historical trails → models/NAME")
    _add_common(tr)
    add_train_arguments(tr)

    cc = sub.add_parser("check-config", help="print the resolved settings")
    _add_common(cc)

    gen = sub.add_parser(
        "gen", help="generate a sample CloudTrail trail (see scripts/gen_trail)", add_help=False
    )
    gen.add_argument("rest", nargs=argparse.REMAINDER)
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {
        "log.level": getattr(args, "log_level", None),
        "window.width_seconds": getattr(args, "window_seconds", None),
        "window.lateness_seconds": getattr(args, "lateness_seconds", None),
        "models.iforest_path": getattr(args, "model", None),
        "models.enabled": False if getattr(args, "rules_only", False) else None,
        "service.queue_url": getattr(args, "queue_url", None),
        "service.sinks": getattr(args, "sink", None) if args.command == "run" else None,
        "service.state": getattr(args, "state", None),
        "service.drain": getattr(args, "drain", None),
        "service.health_port": getattr(args, "health_port", None),
        "service.health_bind": getattr(args, "health_bind", None),
        "service.accounts": getattr(args, "accounts", None) if args.command == "run" else None,
        "service.account_prefixes": getattr(args, "account_prefixes", None),
    }
    return load_settings(args.config, {k: v for k, v in overrides.items() if v is not None})


class _JsonLines:
    """Minimal writer for ``--emit windows`` (stdout://, jsonl://PATH, null://)."""

    def __init__(self, url: str) -> None:
        self.fh: IO[bytes] | None
        if url == "stdout://":
            self.fh = sys.stdout.buffer
        elif url == "null://":
            self.fh = None
        elif url.startswith("jsonl://"):
            self.fh = open(url[len("jsonl://") :], "ab")  # noqa: SIM115 - closed in close()
        else:
            raise ConfigError(
                f"unsupported output {url!r} for windows (stdout://, jsonl://PATH, null://)"
            )
        self.url = url

    def write(self, docs: list[dict[str, Any]]) -> None:
        if self.fh is not None and docs:
            self.fh.write(
                b"".join(orjson.dumps(d, option=orjson.OPT_SORT_KEYS) + b"\n" for d in docs)
            )

    def close(self) -> None:
        if self.fh is not None:
            self.fh.flush()
            if self.url.startswith("jsonl://"):
                self.fh.close()


def cmd_replay(args: argparse.Namespace, settings: Settings) -> int:
    if args.emit == "findings":
        return _replay_findings(args, settings)
    metrics = Metrics()
    report = FileReport()
    engine = Engine(settings)
    outs = [_JsonLines(u) for u in (args.sink or ["stdout://"])]
    width = settings.window.width_seconds
    windows_out = 0

    def on_batch(batch: Batch) -> None:
        nonlocal windows_out
        docs = [
            window_record(w, v, FEATURES, width)
            for w, v in zip(batch.windows, batch.vectors, strict=True)
        ]
        for out in outs:
            out.write(docs)
        windows_out += len(docs)
        engine.learn(batch.windows)

    started = now()
    try:
        drive(engine, read_inputs(args.paths, settings, metrics, report), on_batch)
    finally:
        for out in outs:
            out.close()
    elapsed = now() - started
    print_summary(summary_lines(engine, report, elapsed, {"emitted": f"{windows_out:,} windows"}))
    return exit_status(report)


def _replay_findings(args: argparse.Namespace, settings: Settings) -> int:
    # Imported here: detection loads scikit-learn and river (~1 s), which --emit windows,
    # check-config and --help do not need.
    from detector.detect.runner import findings_table, replay_findings

    metrics = Metrics()
    report = FileReport()
    sink = open_sinks(args.sink or ["stdout://"], metrics=metrics)
    started = now()
    try:
        artifact = load_model(settings)  # verified before anything else runs (issue 4)
        result = replay_findings(
            args.paths, settings, sink.publish, metrics, report, artifact=artifact
        )
    finally:
        sink.close()
    elapsed = now() - started
    d = result.detector
    extra = {
        "findings": f"{len(result.latest):,} ({result.published:,} occurrences incl. updates), "
        f"{d.stats.suppressed:,} suppressed",
        "models": "; ".join(d.startup_notes()[1:3]),
    }
    lines = summary_lines(result.engine, report, elapsed, extra)
    print_summary([*lines, "", *findings_table(list(result.latest.values()))])
    return exit_status(report)


def load_model(settings: Settings, session: Any = None) -> Any:
    """The artifact named by ``models.iforest_path`` (``--model``), verified; None when unset.

    A refused artifact raises ``ModelError``, which ``main`` turns into exit status 2.
    """
    path = settings.models.iforest_path
    if not path:
        return None
    from detector.model.loader import load_artifact

    s3 = None
    if path.startswith("s3://"):
        import boto3

        from detector.aws.clients import s3_client

        s3 = s3_client(session or boto3.session.Session())
    return load_artifact(path, settings, s3)


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    import boto3

    from detector.detect.detector import Detector
    from detector.service.app import run_service

    session = boto3.session.Session()
    detection = Detector(settings, artifact=load_model(settings, session))  # issue 4
    for note in detection.startup_notes():
        log.info(note)
    return run_service(settings, detection, session)


def cmd_check_config(args: argparse.Namespace, settings: Settings) -> int:
    sys.stdout.write(
        orjson.dumps(
            settings_dict(settings), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS
        ).decode()
        + "\n"
    )
    return 0


def _log_build() -> None:
    """Which build runs (``detector.native``): a stale compiled build is worth a warning."""
    status = native.select()
    if status.stale:
        log.warning(
            "running the pure-Python modules: the compiled build is stale (run make native)",
            extra={"reason": status.reason, "modules": list(status.stale)},
        )
    elif status.mode == native.PURE:
        log.info("running the pure-Python modules", extra={"reason": status.reason})


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["gen"]:
        from detector.gen.cli import main as gen_main

        return gen_main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = _settings(args)
    except ConfigError as exc:
        setup_logging("INFO")
        log.error("configuration error", extra={"reason": str(exc)})
        sys.stderr.write(f"s3ad: {exc}\n")
        return EXIT_USAGE
    setup_logging(settings.log.level)
    _log_build()
    commands = {
        "run": cmd_run,
        "replay": cmd_replay,
        "backtest": cmd_backtest,
        "evaluate": cmd_evaluate,
        "check-config": cmd_check_config,
        "train": cmd_train,
        "shards": cmd_shards,
    }
    try:
        return commands[args.command](args, settings)
    except ConfigError as exc:
        log.error("configuration error", extra={"reason": str(exc)})
        sys.stderr.write(f"s3ad: {exc}\n")
        return EXIT_USAGE
    except ModelError as exc:  # issue 4: a refused model artifact names what differs
        log.error("model refused", extra={"reason": str(exc)})
        sys.stderr.write(f"s3ad: {exc}\n")
        return EXIT_USAGE
    except WorkerLost as exc:  # training / backtest: a worker process was killed
        log.error("worker process lost", extra={"reason": str(exc)})
        sys.stderr.write(f"s3ad: {exc}\n")
        return EXIT_FAILED
    except BrokenPipeError:
        return 0
