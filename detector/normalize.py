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
from detector.events import AWS_SERVICE, S3Event
from detector.principal import Principal, principal_of

S3_SOURCE = "s3.amazonaws.com"
EARLIEST = 1_356_998_400.0  # 2013-01-01: before CloudTrail had S3 data events
SSEC_HEADER = "x-amz-server-side-encryption-customer-algorithm"
# orjson accepts 1024 levels of nesting, but pickling a checkpoint recurses once per level and
# fails near 500: a kept request deeper than this is dropped at the edge (the call still counts).
MAX_REQUEST_DEPTH = 32

NOT_S3 = "not-s3"
INVALID = "invalid"


def nested_within(value: Any, limit: int = MAX_REQUEST_DEPTH) -> bool:
    """True when ``value`` nests at most ``limit`` dicts/lists deep (iterative: no recursion).

    >>> nested_within({"a": [{"b": 1}]}), nested_within({"a": [{"b": 1}]}, limit=2)
    (True, False)
    """
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if type(item) is dict:
            children: Any = item.values()
        elif type(item) is list:
            children = item
        else:
            continue
        if depth > limit:
            return False
        stack.extend((child, depth + 1) for child in children)
    return True


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


_CACHE_MAX = 200_000


class Normalizer:
    """Turns raw records into ``S3Event``s; ``normalize`` returns an event or a reason string.

    This is the hottest function of the pipeline (one call per record), so it is written flat:
    type checks with ``type(x) is str`` instead of helpers, the eventTime minute cached, and
    principals cached by (type, arn, account) — the same few thousand identities repeat across
    millions of records. Anonymous and service callers (keyed by bucket or invokedBy) bypass
    the cache.
    """

    __slots__ = ("_classes", "_principals", "_times", "max_future")

    def __init__(self, max_future_seconds: float = 3600.0) -> None:
        self._times = TimeParser()
        self.max_future = max_future_seconds
        self._principals: dict[tuple[str | None, str, str | None], Principal] = {}
        self._classes: dict[tuple[str, bool], str] = {}

    def _principal(self, ui: Any, bucket: str, invoked_by: Any) -> Principal:
        if type(ui) is dict:
            arn = ui.get("arn")
            typ = ui.get("type")
            if type(arn) is str and arn and typ != "AWSAccount" and typ != "AWSService":
                acct = ui.get("accountId")
                key = (typ if type(typ) is str else None, arn, acct if type(acct) is str else None)
                cached = self._principals.get(key)
                if cached is None:
                    cached = principal_of(ui, bucket, "")
                    if len(self._principals) >= _CACHE_MAX:
                        self._principals.clear()
                    self._principals[key] = cached
                # The access key differs per session: never let one record's key leak into
                # another's through the cache (a record without one gets "").
                akid = ui.get("accessKeyId")
                if type(akid) is not str:
                    akid = ""
                if akid != cached.access_key_id:
                    return cached._replace(access_key_id=akid)
                return cached
        return principal_of(ui, bucket, invoked_by if type(invoked_by) is str else "")

    def normalize(self, rec: Any, now: float | None = None) -> S3Event | str:
        """Return the ``S3Event`` for ``rec``, or ``NOT_S3`` / ``INVALID``."""
        if type(rec) is not dict:
            return INVALID
        get = rec.get
        source = get("eventSource")
        if source != S3_SOURCE:
            return NOT_S3 if type(source) is str else INVALID
        t = self._times.parse(get("eventTime"))
        name = get("eventName")
        if t is None or type(name) is not str or not name:
            return INVALID
        limit = (now if now is not None else _time.time()) + self.max_future
        if t < EARLIEST or t > limit:
            # A bogus future time would drag the watermark forward and blind the detector.
            return INVALID
        rp = get("requestParameters")
        if type(rp) is dict:
            bucket = rp.get("bucketName")
            if type(bucket) is not str:
                bucket = ""
            key = rp.get("key")
            if type(key) is not str:
                key = ""
            sse_c = SSEC_HEADER in rp
        else:
            rp = None
            bucket = key = ""
            sse_c = False
        category = get("eventCategory")
        if category == "Data":
            data = True
        elif category == "Management":
            data = False
        else:
            data = get("managementEvent") is False
        p = self._principal(get("userIdentity"), bucket, get("invokedBy"))
        account = get("recipientAccountId")
        if type(account) is not str:
            account = ""
        extra = get("additionalEventData")
        if type(extra) is dict:
            bytes_in = _nbytes(extra.get("bytesTransferredIn"))
            bytes_out = _nbytes(extra.get("bytesTransferredOut"))
            auth = extra.get("AuthenticationMethod")
            if type(auth) is not str:
                auth = ""
        else:
            bytes_in = bytes_out = 0
            auth = ""
        ck = (name, data)
        cls = self._classes.get(ck)
        if cls is None:
            cls = self._classes[ck] = api_class(name, data)
            if len(self._classes) > 10_000:  # eventName is attacker-influenced only in junk
                self._classes.clear()
        event_id = get("eventID")
        region = get("awsRegion")
        ip = get("sourceIPAddress")
        ua = get("userAgent")
        err = get("errorCode")
        vpce = get("vpcEndpointId")
        return S3Event(
            t,
            event_id if type(event_id) is str else "",
            account,
            region if type(region) is str else "",
            p.key,
            p.type,
            p.name,
            p.access_key_id,
            p.session_name,
            name,
            cls,
            bucket,
            key,
            bytes_in,
            bytes_out,
            ip if type(ip) is str else "",
            ua if type(ua) is str else "",
            err if type(err) is str else "",
            sse_c,
            auth,
            vpce if type(vpce) is str else "",
            p.account != account and bool(p.account) and bool(account),
            data,
            p.type == AWS_SERVICE,
            rp if (rp is not None and name in KEEP_REQUEST and nested_within(rp)) else None,
        )
