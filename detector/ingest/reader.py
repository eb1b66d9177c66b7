"""Bytes of a log file → list of raw records, for the three shapes people keep on disk.

1. CloudTrail's own ``{"Records": [...]}``;
2. a bare JSON array of records;
3. JSON Lines of records (CloudTrail Lake / Athena / SIEM exports). Extra fields such as
   ``@timestamp`` are ignored later; a line holding ``{"Records": [...]}`` or an EventBridge
   "AWS API Call via CloudTrail" event (record under ``detail``) is unwrapped.

Digest and Insight files are recognised by content too and raise ``SkippedInput``. Anything
unreadable raises ``UnreadableInput`` with a reason; a JSON Lines file with some bad lines keeps
its good lines and reports the bad ones as ``invalid_lines``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from detector.errors import SkippedInput, UnreadableInput
from detector.ingest.decompress import GZIP_MAGIC, gunzip_stream
from detector.ingest.keys import DIGEST, INSIGHT, LOG, classify_local, key_delivery_time
from detector.ingest.typed import decode_trail

DEFAULT_CAP = 1 << 30  # 1 GiB of JSON per object


@dataclass(slots=True)
class Decoded:
    """Records of one input and what could not be used of it."""

    records: list[Any]
    invalid_lines: int = 0
    notes: list[str] = field(default_factory=list)


def _unwrap(obj: Any, out: list[Any]) -> None:
    if isinstance(obj, dict):
        recs = obj.get("Records")
        if isinstance(recs, list):
            out.extend(recs)
            return
        detail = obj.get("detail")
        if isinstance(detail, dict) and "eventName" in detail:
            out.append(detail)
            return
    out.append(obj)


def _check_special(doc: dict[str, Any], name: str) -> None:
    if "logFiles" in doc or "digestPublicKeyFingerprint" in doc or "digestStartTime" in doc:
        raise SkippedInput(name, DIGEST)
    recs = doc.get("Records")
    if isinstance(recs, list) and recs:
        first = recs[0]
        if isinstance(first, dict) and (
            first.get("eventType") == "AwsCloudTrailInsight"
            or first.get("eventCategory") == "Insight"
        ):
            raise SkippedInput(name, INSIGHT)


def decode_records(data: bytes, name: str) -> Decoded:
    """Parse decompressed JSON bytes into raw records: typed ``Record``s for CloudTrail's own
    shape, otherwise dicts (or junk for the normalizer to count)."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    text = data.lstrip()
    if not text:
        raise UnreadableInput(name, "not-json", "empty file")
    if text[:1] == b"{":
        typed = decode_trail(text)  # CloudTrail's own shape, only the fields s3ad reads
        if typed is not None:
            return Decoded(typed)
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        if text[:1] == b"{":
            return _decode_lines(text, name, str(exc))
        raise UnreadableInput(name, "not-json", str(exc)) from exc
    if isinstance(doc, list):
        out: list[Any] = []
        for item in doc:
            _unwrap(item, out)
        return Decoded(out)
    if isinstance(doc, dict):
        _check_special(doc, name)
        if "Records" in doc:
            recs = doc["Records"]
            if not isinstance(recs, list):
                raise UnreadableInput(name, "records-not-list", f"Records is {type(recs).__name__}")
            return Decoded(recs)
        if "eventName" in doc or "detail" in doc:
            one: list[Any] = []
            _unwrap(doc, one)  # a JSON Lines file of exactly one record
            return Decoded(one)
        raise UnreadableInput(name, "no-records", "JSON object without a Records list")
    raise UnreadableInput(name, "no-records", f"top-level JSON {type(doc).__name__}")


def _decode_lines(text: bytes, name: str, first_error: str) -> Decoded:
    out: list[Any] = []
    bad = 0
    for line in text.split(b"\n"):
        line = line.strip()
        if not line:
            continue
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            bad += 1
            continue
        if isinstance(obj, dict):
            _check_special(obj, name)
        _unwrap(obj, out)
    if not out:
        raise UnreadableInput(name, "not-json", first_error)
    notes = [f"{bad} lines are not JSON"] if bad else []
    return Decoded(out, invalid_lines=bad, notes=notes)


def read_local(path: Path, cap: int = DEFAULT_CAP) -> Decoded:
    """Read one local file (gzip detected by magic bytes, not by name) into records."""
    name = str(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(2)
            fh.seek(0)
            if head == GZIP_MAGIC:
                data = gunzip_stream(fh, name, cap)
            elif name.endswith(".gz"):
                raise UnreadableInput(name, "not-gzip", "named .gz but has no gzip magic bytes")
            else:
                if os.fstat(fh.fileno()).st_size > cap:
                    raise UnreadableInput(name, "too-large", f"more than {cap} bytes")
                data = fh.read()
    except OSError as exc:
        raise UnreadableInput(name, "io-error", exc.strerror or str(exc)) from exc
    return decode_records(data, name)


_UNSTAMPED = datetime.min.replace(tzinfo=UTC)


def _delivery_order(files: list[Path]) -> list[Path]:
    """CloudTrail log files by the delivery time in their names; other files first, in walk order.

    A trail folder sorts by account and region before time: replaying one region's whole day
    before the next would push the account's watermark a day ahead and make every other region
    late. Delivery order is the order the live service sees.
    """
    stamps = [key_delivery_time(str(f)) or _UNSTAMPED for f in files]
    return [files[i] for i in sorted(range(len(files)), key=lambda i: (stamps[i], i))]


@dataclass(slots=True)
class InputFiles:
    """Files to read, plus those skipped while walking folders (with the reason)."""

    files: list[Path]
    skipped: list[tuple[Path, str]]
    missing: list[Path]


def list_inputs(paths: list[Path]) -> InputFiles:
    """Expand files and folders (recursively) into the files to read.

    Inside a folder, CloudTrail log files come in delivery order (the time in their names) after
    any other files, which keep their sorted walk order. A file named explicitly is read whatever
    its name, unless its path marks it as a digest or Insight file; inside folders only
    JSON-suffixed files are taken.
    """
    files: list[Path] = []
    skipped: list[tuple[Path, str]] = []
    missing: list[Path] = []
    for p in paths:
        if p.is_dir():
            found: list[Path] = []
            for root, dirs, names in os.walk(p):
                dirs.sort()
                for n in sorted(names):
                    f = Path(root, n)
                    kind = classify_local(str(f))
                    if kind == LOG:
                        found.append(f)
                    elif kind in (DIGEST, INSIGHT):
                        skipped.append((f, kind))
            files.extend(_delivery_order(found))
        elif p.is_file():
            kind = classify_local(str(p))
            if kind in (DIGEST, INSIGHT):
                skipped.append((p, kind))
            else:
                files.append(p)
        else:
            missing.append(p)
    return InputFiles(files, skipped, missing)
