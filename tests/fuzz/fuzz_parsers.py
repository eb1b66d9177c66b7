"""Coverage-guided fuzzing (atheris / libFuzzer) of everything that reads untrusted bytes.

Not collected by pytest (no ``test_`` prefix); run by hand, e.g. for 5 minutes per target,
seeding a scratch corpus from the fixtures (libFuzzer adds what it finds to the first directory)::

    mkdir -p /tmp/fz/decode && cp tests/data/records/*.json tests/data/bad/logs/*.json /tmp/fz/decode
    python tests/fuzz/fuzz_parsers.py decode -max_total_time=300 /tmp/fz/decode

Targets: ``gunzip`` (seed with .gz files), ``decode`` (log files), ``notification`` (the
tests/data/sqs and tests/data/bad/sqs bodies), ``records`` (tests/data/records). The first
argument picks the target; the rest go to libFuzzer. A target fails when anything but s3ad's own typed errors escapes, when
gunzip disagrees with Python's gzip, or when the engine's counts stop reconciling.
"""

from __future__ import annotations

import gzip
import sys
import zlib
from pathlib import Path
from typing import Any

import atheris

with atheris.instrument_imports():
    import orjson

    from detector.aws.notifications import parse_notification
    from detector.config import Settings
    from detector.engine import Engine
    from detector.errors import PoisonMessage, SkippedInput, UnreadableInput
    from detector.ingest.decompress import gunzip_bytes
    from detector.ingest.reader import decode_records

NOW = 1_793_613_600.0  # 2026-11-02T10:00:00Z
DATA = Path(__file__).resolve().parents[1] / "data"


def fuzz_gunzip(data: bytes) -> None:
    try:
        out = gunzip_bytes(data, "fuzz.gz", cap=1 << 22)
    except UnreadableInput:
        return
    try:
        expected = gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise AssertionError(f"s3ad read what gzip refuses: {exc}") from exc
    assert out == expected, "s3ad and gzip read different bytes"


def fuzz_decode(data: bytes) -> None:
    try:
        decoded = decode_records(data, "fuzz.json")
    except (UnreadableInput, SkippedInput):
        return
    assert isinstance(decoded.records, list)
    _ingest(decoded.records)


def fuzz_notification(data: bytes) -> None:
    body = data.decode("utf-8", "replace")  # SQS bodies are text; keeps the seeds readable
    try:
        refs = parse_notification(body)
    except PoisonMessage:
        return
    assert all(r.bucket and r.key for r in refs)


def fuzz_records(data: bytes) -> None:
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError:
        return
    _ingest(doc if isinstance(doc, list) else [doc])


def _ingest(records: list[Any]) -> None:
    engine = Engine(Settings(), clock=lambda: NOW)
    engine.ingest(records)
    engine.ingest(records)  # the same file again: all duplicates or invalid
    for _ in engine.rounds(final=True):
        pass
    assert engine.counts.reconciles(), engine.counts


TARGETS = {
    "gunzip": fuzz_gunzip,
    "decode": fuzz_decode,
    "notification": fuzz_notification,
    "records": fuzz_records,
}


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        sys.exit(f"usage: {sys.argv[0]} {{{','.join(TARGETS)}}} [libFuzzer options] [corpus dirs]")
    target = TARGETS[sys.argv.pop(1)]
    atheris.Setup(sys.argv, target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
