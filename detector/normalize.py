"""Raw CloudTrail record (any JSON) → ``S3Event`` or a counted reason it was not one.

This is the edge where raw JSON ends: nothing downstream indexes records. Missing, null or oddly
typed fields never raise: strings default to "", numbers to 0, and a record without a usable
eventTime or eventName is counted as invalid.
"""

from __future__ import annotations

import time as _time
from datetime import datetime
from typing import Any

from detector.apis import KEEP_REQUEST, api_class
from detector.events import S3Event
from detector.principal import principal_of

S3_SOURCE = "s3.amazonaws.com"
EARLIEST = 1_356_998_400.0  # 2013-01-01: before CloudTrail had S3 data events
SSEC_HEADER = "x-amz-server-side-encryption-customer-algorithm"

NOT_S3 = "not-s3"
INVALID = "invalid"


class TimeParser:
    """ISO-8601 UTC → epoch seconds, caching the minute prefix.

    CloudTrail writes ``YYYY-MM-DDTHH:MM:SSZ``; parsing that with datetime per record costs more
    than the rest of normalization, so the epoch of each minute is computed once.

    >>> TimeParser().parse("2026-11-01T10:00:05Z")
    1793527205.0
    >>> TimeParser().parse("yesterday") is None
    True
    """

    __slots__ = ("_minutes",)

    def __init__(self) -> None:
        self._minutes: dict[str, float] = {}

    def parse(self, value: Any) -> float | None:
        if not isinstance(value, str):
            return None
        if len(value) == 20 and value[19] == "Z" and value[16] == ":":
            base = self._minutes.get(value[:16])
            if base is None:
                base = self._minute(value[:16])
                if base is None:
                    return None
            sec = value[17:19]
            # isdigit() is true for "²" (int() then raises) and "99" is no second: both invalid.
            if not (sec.isascii() and sec.isdigit()) or sec > "59":
                return None
            return base + int(sec)
        try:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        if dt.tzinfo is None:
            return None
        return dt.timestamp()

    def _minute(self, prefix: str) -> float | None:
        try:
            dt = datetime.fromisoformat(prefix + ":00+00:00")
        except ValueError:
            return None
        if len(self._minutes) > 200_000:
            self._minutes.clear()
        base = dt.timestamp()
        self._minutes[prefix] = base
        return base


def _s(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _nbytes(value: Any) -> int:
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value if value > 0 else 0
    if isinstance(value, float):
        return int(value) if value > 0 and value < 1e18 else 0
    if isinstance(value, str):
        try:
            n = float(value)
        except ValueError:
            return 0
        return int(n) if 0 < n < 1e18 else 0
    return 0


class Normalizer:
    """Turns raw records into ``S3Event``s; ``normalize`` returns an event or a reason string."""

    __slots__ = ("_times", "max_future")

    def __init__(self, max_future_seconds: float = 3600.0) -> None:
        self._times = TimeParser()
        self.max_future = max_future_seconds

    def normalize(self, rec: Any, now: float | None = None) -> S3Event | str:
        """Return the ``S3Event`` for ``rec``, or ``NOT_S3`` / ``INVALID``."""
        if type(rec) is not dict:
            return INVALID
        get = rec.get
        if get("eventSource") != S3_SOURCE:
            return NOT_S3 if isinstance(get("eventSource"), str) else INVALID
        t = self._times.parse(get("eventTime"))
        name = get("eventName")
        if t is None or type(name) is not str or not name:
            return INVALID
        limit = (now if now is not None else _time.time()) + self.max_future
        if t < EARLIEST or t > limit:
            # A bogus future time would drag the watermark forward and blind the detector.
            return INVALID
        rp = get("requestParameters")
        if type(rp) is not dict:
            rp = None
        bucket = _s(rp.get("bucketName")) if rp else ""
        category = get("eventCategory")
        if category == "Data":
            data = True
        elif category == "Management":
            data = False
        else:
            data = get("managementEvent") is False
        p = principal_of(get("userIdentity"), bucket, _s(get("invokedBy")))
        account = _s(get("recipientAccountId"))
        extra = get("additionalEventData")
        if type(extra) is dict:
            bytes_in = _nbytes(extra.get("bytesTransferredIn"))
            bytes_out = _nbytes(extra.get("bytesTransferredOut"))
            auth = _s(extra.get("AuthenticationMethod"))
        else:
            bytes_in = bytes_out = 0
            auth = ""
        cls = api_class(name, data)
        return S3Event(
            t,
            _s(get("eventID")),
            account,
            _s(get("awsRegion")),
            p.key,
            p.type,
            p.name,
            p.access_key_id,
            p.session_name,
            name,
            cls,
            bucket,
            _s(rp.get("key")) if rp else "",
            bytes_in,
            bytes_out,
            _s(get("sourceIPAddress")),
            _s(get("userAgent")),
            _s(get("errorCode")),
            bool(rp and SSEC_HEADER in rp),
            auth,
            _s(get("vpcEndpointId")),
            bool(p.account) and bool(account) and p.account != account,
            data,
            p.type == "AWSService",
            rp if (rp is not None and name in KEEP_REQUEST) else None,
        )
