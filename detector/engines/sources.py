"""What the driver hands the engines: the names of the files to read, and a reader for them.

A source is a local file or folder, or ``s3://bucket/prefix``. The driver lists it (S3: with
``ListObjectsV2``), leaves out digest and Insight files, and — given ``--start/--end`` — files
whose key says they were delivered outside the range, before anything is downloaded. Names come
back in delivery order (the time stamped in the key), so contiguous chunks hold mostly disjoint
windows. ``TrailReader`` then reads one name in whatever process or Spark task it lands in; it
builds its S3 client there, on first use, and never ships one.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from detector.aws.notifications import ObjectRef
from detector.ingest.keys import DIGEST, INSIGHT, LOCAL_SUFFIXES, LOG, OTHER, classify_key
from detector.ingest.keys import key_delivery_time as _stamp
from detector.ingest.reader import DEFAULT_CAP, Decoded, decode_records, list_inputs, read_local

log = logging.getLogger(__name__)

# A file is stamped when CloudTrail writes it (minute precision), after its events: a file
# stamped before ``start - EARLY`` cannot hold events of the range. Delivery is "within about
# 5 minutes on average, not guaranteed", so files up to ``end + LATE`` are still read; the
# event-time filter in ``collect`` is the exact one, this only saves downloads.
EARLY = 15 * 60
LATE = 6 * 3600

_DATE_DIR = re.compile(r"/CloudTrail/[a-z0-9-]+/(\d{4})/(?:(\d{2})/(?:(\d{2})/)?)?$")


@dataclass(slots=True)
class Listing:
    """The names to read, in delivery order, and what was left out on the way."""

    names: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (name, digest|insight)
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (source, reason)
    outside: int = 0  # files whose key puts them outside --start/--end


def in_range(name: str, start: float | None, end: float | None) -> bool:
    """Can this file hold events in ``[start, end)``, judging by the time in its name?

    >>> key = "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/01/" \\
    ...       "111122223333_CloudTrail_us-east-1_20261101T1200Z_abcdefghijklmnop.json.gz"
    >>> day = datetime(2026, 11, 1, tzinfo=UTC).timestamp()
    >>> in_range(key, day, day + 3600), in_range(key, day + 13 * 3600, None)
    (False, False)
    >>> in_range("export.jsonl", day, day + 3600)
    True
    """
    stamp = _stamp(name)
    if stamp is None:
        return True  # no layout, no stamp: read it, the event filter decides
    t = stamp.timestamp()
    return (start is None or t >= start - EARLY) and (end is None or t < end + LATE)


def list_sources(
    sources: Sequence[str],
    start: float | None = None,
    end: float | None = None,
    s3: Any = None,
) -> Listing:
    """List every source; ``s3`` is a client for the ``s3://`` ones (listing only)."""
    out = Listing()
    local: list[Path] = []
    for source in sources:
        if source.startswith("s3://"):
            if s3 is None:
                raise ValueError("an S3 client is needed to list s3:// sources")
            _list_s3(s3, source, start, end, out)
        else:
            local.append(Path(source))
    inputs = list_inputs(local)
    out.unreadable += [(str(p), "not-found") for p in inputs.missing]
    out.skipped += [(str(p), kind) for p, kind in inputs.skipped]
    for p in inputs.files:
        if in_range(str(p), start, end):
            out.names.append(str(p))
        else:
            out.outside += 1
    out.names = _delivery_order(out.names)
    return out


def _delivery_order(names: list[str]) -> list[str]:
    unstamped = datetime.min.replace(tzinfo=UTC)
    return sorted(names, key=lambda n: (_stamp(n) or unstamped, n))


def _list_s3(s3: Any, source: str, start: float | None, end: float | None, out: Listing) -> None:
    bucket, _, prefix = source[len("s3://") :].partition("/")
    from botocore.exceptions import ClientError

    found = 0
    try:
        for key in _keys(s3, bucket, prefix, start, end):
            kind = classify_key(key)
            if kind == OTHER and key.lower().endswith(LOCAL_SUFFIXES):
                kind = LOG  # an export kept under another name, as for local folders
            name = f"s3://{bucket}/{key}"
            if kind in (DIGEST, INSIGHT):
                out.skipped.append((name, kind))
            elif kind == LOG:
                found += 1
                if in_range(key, start, end):
                    out.names.append(name)
                else:
                    out.outside += 1
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ("NoSuchBucket", "404"):
            out.unreadable.append((source, "not-found"))
        elif code in ("AccessDenied", "403"):
            out.unreadable.append((source, "access-denied"))
        else:
            raise
        return
    if not found:
        log.warning("no log files under source", extra={"source": source})


def _keys(
    s3: Any, bucket: str, prefix: str, start: float | None, end: float | None
) -> Iterator[str]:
    """Keys under ``prefix``; with a time range, the ``YYYY/MM/DD/`` folders of the CloudTrail
    layout outside it are never listed (an organisation trail holds years of them)."""
    paginator = s3.get_paginator("list_objects_v2")
    if start is None and end is None:
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", ()):
                yield obj["Key"]
        return
    pending = [prefix]
    while pending:
        here = pending.pop()
        for page in paginator.paginate(Bucket=bucket, Prefix=here, Delimiter="/"):
            for obj in page.get("Contents", ()):
                yield obj["Key"]
            for sub in page.get("CommonPrefixes", ()):
                p = sub["Prefix"]
                if "/CloudTrail-Digest/" in f"/{p}" or "/CloudTrail-Insight/" in f"/{p}":
                    continue
                if _folder_in_range(p, start, end):
                    pending.append(p)


def _folder_in_range(prefix: str, start: float | None, end: float | None) -> bool:
    """Can a ``…/CloudTrail/<region>/YYYY[/MM[/DD]]/`` folder hold files of the range?

    >>> day = datetime(2026, 11, 1, tzinfo=UTC).timestamp()
    >>> f = "AWSLogs/111122223333/CloudTrail/us-east-1/"
    >>> [_folder_in_range(f + p, day, day + 86400) for p in ("2026/", "2025/", "2026/11/02/")]
    [True, False, True]
    >>> _folder_in_range(f + "2026/11/03/", day, day + 86400)
    False
    """
    m = _DATE_DIR.search("/" + prefix)
    if not m:
        return True
    y, mo, d = int(m.group(1)), int(m.group(2) or 1), int(m.group(3) or 1)
    first = datetime(y, mo, d, tzinfo=UTC)
    if m.group(3):
        last = first.timestamp() + 86400
    elif m.group(2):
        last = datetime(y + mo // 12, mo % 12 + 1, 1, tzinfo=UTC).timestamp()
    else:
        last = datetime(y + 1, 1, 1, tzinfo=UTC).timestamp()
    # Folders are named by delivery day: the same slack as for single files.
    return (start is None or last > start - EARLY) and (
        end is None or first.timestamp() < end + LATE
    )


class TrailReader:
    """``collect``'s reader: a local path or ``s3://bucket/key`` → records.

    Picklable, and its S3 client is not: each process or Spark task builds its own from a new
    ``boto3`` session (credentials from the task's role) the first time it reads from S3.
    Failures S3 may recover from are retried a few times here, beyond botocore's own request
    retries, because a body cut mid-stream is not retried by botocore; what is still failing
    then stops the run (Spark retries the task) rather than silently missing a file.
    """

    ATTEMPTS = 3

    def __init__(self, cap: int = DEFAULT_CAP) -> None:
        self.cap = cap
        self._s3: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {"cap": self.cap}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.cap = state["cap"]
        self._s3 = None

    def __call__(self, name: str) -> Decoded:
        if not name.startswith("s3://"):
            return read_local(Path(name), self.cap)
        from detector.aws.s3read import TransientError

        bucket, _, key = name[len("s3://") :].partition("/")
        ref = ObjectRef(bucket, key)
        for attempt in range(1, self.ATTEMPTS + 1):
            try:
                data = self._fetch(ref)
                break
            except TransientError as exc:
                if attempt == self.ATTEMPTS:
                    self.give_up(name, exc)
                    raise
                time.sleep(2.0**attempt)
        return decode_records(data, name)

    def give_up(self, name: str, exc: Exception) -> None:
        """Called when the last attempt failed; returning lets the error stop the run."""

    def _fetch(self, ref: ObjectRef) -> bytes:
        import boto3

        from detector.aws.clients import s3_client
        from detector.aws.s3read import fetch_object

        if self._s3 is None:
            self._s3 = s3_client(boto3.session.Session())
        return fetch_object(self._s3, ref, self.cap)
