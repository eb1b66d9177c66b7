"""Training sources → the log files to read, and a picklable reader for the worker processes.

A SOURCE is a local file or folder, or ``s3://bucket/prefix`` (an org trail's prefix works: keys
are matched by CloudTrail's layout, ``AWSLogs/[o-org/]<account>/CloudTrail/…``). Files are kept
in delivery order (the time in their names) so that contiguous chunks of them hold mostly
disjoint windows. Two cheap filters run before anything is read, both on the key:

- dates: a log file is delivered after its events, usually within minutes; files delivered
  more than a day before ``start`` or after ``end`` cannot hold events in range (``SLACK``);
- accounts: a log file sits under the account whose events it holds.

The exact filters (``eventTime``, ``recipientAccountId``) run on every record in the workers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from detector.engines.sources import TrailReader
from detector.errors import ConfigError, UnreadableInput
from detector.ingest.keys import LOG, classify_key, key_account, key_delivery_time
from detector.ingest.reader import list_inputs

log = logging.getLogger(__name__)
SLACK = timedelta(days=1)
_EARLIEST = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class KeyFilter:
    start: datetime | None = None
    end: datetime | None = None
    accounts: frozenset[str] | None = None

    def keep(self, key: str) -> bool:
        """Could this file hold events in range? (True when its name does not say.)"""
        if self.accounts is not None:
            acct = key_account(key)
            if acct is not None and acct not in self.accounts:
                return False
        if self.start is None and self.end is None:
            return True
        t = key_delivery_time(key)
        if t is None:
            return True
        if self.start is not None and t < self.start - SLACK:
            return False
        return not (self.end is not None and t > self.end + SLACK)


@dataclass(slots=True)
class Listing:
    """What to read, where from, and what was left out on the way (by reason)."""

    names: list[str] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)

    def skip(self, reason: str, n: int = 1) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + n


def list_sources(sources: list[str], keys: KeyFilter, s3_client: Any = None) -> Listing:
    """Expand SOURCE arguments into file names (local paths or ``s3://`` URIs), in delivery order."""
    out = Listing()
    found: list[str] = []
    for src in sources:
        if src.startswith("s3://"):
            found += _list_s3(src, keys, out, s3_client)
            continue
        inputs = list_inputs([Path(src)])
        out.missing += [str(p) for p in inputs.missing]
        out.skip("digest-or-insight", len(inputs.skipped))
        for p in inputs.files:
            if keys.keep(str(p)):
                found.append(str(p))
            else:
                out.skip("filtered-by-name")
    stamps = {name: key_delivery_time(name) or _EARLIEST for name in found}
    out.names = sorted(dict.fromkeys(found), key=lambda n: (stamps[n], n))
    return out


def _list_s3(uri: str, keys: KeyFilter, out: Listing, client: Any) -> list[str]:
    bucket, _, prefix = uri[len("s3://") :].partition("/")
    if not bucket:
        raise ConfigError(f"{uri}: no bucket name")
    if client is None:
        client = _default_client()
    found: list[str] = []
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    for page in pages:
        for obj in page.get("Contents", []):
            key = obj["Key"]
            kind = classify_key(key)
            if kind != LOG:
                out.skip("digest-or-insight" if kind != "other" else "not-a-log-file")
            elif keys.keep(key):
                found.append(f"s3://{bucket}/{key}")
            else:
                out.skip("filtered-by-name")
    log.info("listed training source", extra={"source": uri, "files": len(found)})
    return found


def _default_client() -> Any:
    import boto3

    from detector.aws.clients import s3_client

    return s3_client(boto3.session.Session())


class FileReader(TrailReader):
    """Read one training file by name: a local path or an ``s3://`` URI (picklable; the S3
    client is built lazily in the process that reads, never shipped — see ``TrailReader``).

    Unlike a backtest, training does not retry beyond botocore: a file S3 keeps failing on is
    reported as unreadable and the run goes on.
    """

    ATTEMPTS = 1

    def give_up(self, name: str, exc: Exception) -> None:
        raise UnreadableInput(name, "io-error", getattr(exc, "detail", str(exc))) from exc
