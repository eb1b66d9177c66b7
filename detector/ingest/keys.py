"""What an S3 key or local path is, by CloudTrail's key layout (REFERENCE.md).

Log files: ``[prefix/]AWSLogs/[o-org/]<acct>/CloudTrail/<region>/YYYY/MM/DD/<acct>_CloudTrail_<region>_YYYYMMDDTHHmmZ_<16>.json.gz``.
Digest (``CloudTrail-Digest/``) and Insight (``CloudTrail-Insight/``) files hold no S3 activity.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

LOG = "log"
DIGEST = "digest"
INSIGHT = "insight"
OTHER = "other"

_LOG_KEY = re.compile(
    r"(?:^|/)AWSLogs/(?:(?P<org>o-[a-z0-9]{10,32})/)?(?P<account>\d{12})/CloudTrail/"
    r"(?P<region>[a-z0-9-]+)/(?P<y>\d{4})/(?P<m>\d{2})/(?P<d>\d{2})/"
    r"(?P=account)_CloudTrail_(?P=region)_(?P<stamp>\d{8}T\d{4}Z)_[A-Za-z0-9]{16}\.json\.gz$"
)
LOCAL_SUFFIXES = (".json", ".jsonl", ".json.gz", ".jsonl.gz", ".ndjson", ".ndjson.gz")


def classify_key(key: str) -> str:
    """Classify an S3 key: ``log``, ``digest``, ``insight`` or ``other``.

    >>> classify_key("AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/01/"
    ...              "111122223333_CloudTrail_us-east-1_20261101T0005Z_abcdefghijklmnop.json.gz")
    'log'
    >>> classify_key("AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2026/11/01/x.json.gz")
    'digest'
    >>> classify_key("AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/01/")
    'other'
    """
    if "/CloudTrail-Digest/" in f"/{key}":
        return DIGEST
    if "/CloudTrail-Insight/" in f"/{key}":
        return INSIGHT
    return LOG if _LOG_KEY.search(key) else OTHER


def classify_local(path: str) -> str:
    """Classify a local file found while walking a folder.

    Digest and Insight files are recognised by their path; anything with a JSON suffix is
    treated as a log file (people keep exports under any name), everything else is ``other``.
    """
    kind = classify_key(path)
    if kind in (DIGEST, INSIGHT):
        return kind
    if "_CloudTrail-Digest_" in path:
        return DIGEST
    if "_CloudTrail-Insight_" in path:
        return INSIGHT
    return LOG if path.lower().endswith(LOCAL_SUFFIXES) else OTHER


def key_account(key: str) -> str | None:
    """The account id in a log key, or None when the key does not follow the layout."""
    m = _LOG_KEY.search(key)
    return m.group("account") if m else None


def key_delivery_time(key: str) -> datetime | None:
    """The delivery time stamped in a log file's name (not the time of its records)."""
    m = _LOG_KEY.search(key)
    if not m:
        return None
    return datetime.strptime(m.group("stamp"), "%Y%m%dT%H%MZ").replace(tzinfo=UTC)
