"""spark-submit entry point: ``s3ad backtest`` / ``s3ad train`` with ``--engine spark``.

EMR Serverless passes ``entryPointArguments`` and Glue passes job parameters (among its own
``--JOB_ID``, ``--TempDir``…); both reach this script as ``sys.argv``:

    --s3ad-args "backtest s3://trail/AWSLogs/o-abc123def4/ --start 2026-10-01 --end 2026-10-31
                 --sink jsonl:///tmp/findings.jsonl"
    --s3ad-upload /tmp/findings.jsonl=s3://results/backtests/2026-10/findings.jsonl

Without ``--s3ad-args`` the arguments are s3ad's own (``backtest s3://… --sink …``). The
command runs in this driver process with ``--engine spark`` (added unless given), so its map
tasks run on the job's executors; each ``--s3ad-upload LOCAL=s3://…`` (a file or a folder,
repeatable) is copied to S3 afterwards, because the driver's disk goes away with the job. The
exit status is s3ad's: 0, 2 (usage, configuration, model), 3 (some inputs unreadable — the
findings of the rest are still uploaded).
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

ENGINE_COMMANDS = ("backtest", "train")


def split_argv(argv: list[str]) -> tuple[list[str], list[tuple[Path, str]]]:
    """(s3ad's arguments, uploads) from this script's arguments, ignoring Glue's own."""
    args: list[str] | None = None
    uploads: list[tuple[Path, str]] = []
    i = 0
    while i < len(argv):
        if argv[i] == "--s3ad-args" and i + 1 < len(argv):
            args = shlex.split(argv[i + 1])
            i += 2
        elif argv[i] == "--s3ad-upload" and i + 1 < len(argv):
            local, _, dest = argv[i + 1].partition("=")
            if not dest.startswith("s3://"):
                raise SystemExit(f"--s3ad-upload wants LOCAL=s3://bucket/key, got {argv[i + 1]!r}")
            uploads.append((Path(local), dest))
            i += 2
        else:
            i += 1
    if args is None:
        args = [a for a in argv if not a.startswith("--s3ad-")]
    if args and args[0] in ENGINE_COMMANDS and "--engine" not in args:
        args[1:1] = ["--engine", "spark"]
    return args, uploads


def upload(local: Path, dest: str) -> None:
    import boto3

    from detector.aws.clients import s3_client

    s3 = s3_client(boto3.session.Session())
    bucket, _, prefix = dest[len("s3://") :].partition("/")
    files = [local] if local.is_file() else sorted(p for p in local.rglob("*") if p.is_file())
    for f in files:
        key = prefix if local.is_file() else f"{prefix.rstrip('/')}/{f.relative_to(local)}"
        s3.upload_file(str(f), bucket, key)
        print(f"uploaded {f} to s3://{bucket}/{key}", file=sys.stderr)


def main(argv: list[str]) -> int:
    from pyspark import SparkConf, SparkContext

    from detector.cli import main as s3ad

    args, uploads = split_argv(argv)
    # The service's context, made here so s3ad's Spark engine finds it rather than starting a
    # local one (Glue does not always say it launched the script through spark-submit).
    sc = SparkContext.getOrCreate(SparkConf().setAppName("s3ad"))
    try:
        status = s3ad(args)
    finally:
        sc.stop()
    for local, dest in uploads:
        if local.exists():
            upload(local, dest)
        else:
            print(f"nothing to upload at {local}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
