"""Raw CloudTrail record (any JSON) → ``S3Event`` or a counted reason it was not one.

This is the edge where raw JSON ends: nothing downstream indexes records. Missing, null or oddly
typed fields never raise: strings default to "", numbers to 0, and a record without a usable
eventTime or eventName is counted as invalid.
"""

from __future__ import annotations

import time as _time
from collections.abc import Callable
from datetime import datetime
from typing import Any, cast

import msgspec
import msgspec.structs
import orjson

from detector.apis import KEEP_REQUEST, api_class
from detector.events import ANONYMOUS, AWS_SERVICE, S3Event
from detector.ingest.typed import SSEC_HEADER, Extra, Record, request_fields
from detector.principal import Principal, principal_of

S3_SOURCE = "s3.amazonaws.com"
EARLIEST = 1_356_998_400.0  # 2013-01-01: before CloudTrail had S3 data events
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
    """ISO-8601 UTC → epoch seconds, caching whole timestamps and their minute prefixes.

    CloudTrail writes ``YYYY-MM-DDTHH:MM:SSZ``; parsing that with datetime per record costs more
    than the rest of normalization, so the epoch of each minute is computed once, and a
    timestamp seen before (records share seconds) is one dict lookup.

    >>> TimeParser().parse("2026-11-01T10:00:05Z")
    1793527205.0
    >>> TimeParser().parse("yesterday") is None
    True
    """

    __slots__ = ("_minutes", "_seconds")

    def __init__(self) -> None:
        self._minutes: dict[str, float] = {}
        # Whole timestamps too: a trail's records share seconds (~20 a second on the bench
        # trail), and one dict lookup is cheaper than slicing and checking the text (issue 6).
        self._seconds: dict[str, float] = {}

    def parse(self, value: Any) -> float | None:
        if not isinstance(value, str):
            return None
        t = self._seconds.get(value)
        if t is not None:
            return t
        t = self._parse(value)
        if t is not None:
            if len(self._seconds) >= 20_000:
                self._seconds.clear()
            self._seconds[value] = t
        return t

    def _parse(self, value: str) -> float | None:
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
_TEXT_CACHE_MAX = 50_000  # userIdentity texts (~0.5 KB each): one per session


class Normalizer:
    """Turns raw records into ``S3Event``s; ``normalize`` returns an event or a reason string.

    This is the hottest function of the pipeline (one call per record), so it is written flat:
    type checks with ``type(x) is str`` instead of helpers, the eventTime minute cached, and
    principals cached by (type, arn, account) — the same few thousand identities repeat across
    millions of records. Anonymous and service callers (keyed by bucket or invokedBy) bypass
    the cache.
    """

    __slots__ = ("_classes", "_principals", "_texts", "_times", "max_future")

    def __init__(self, max_future_seconds: float = 3600.0) -> None:
        self._times = TimeParser()
        self.max_future = max_future_seconds
        self._principals: dict[tuple[str | None, str, str | None], Principal] = {}
        self._classes: dict[tuple[str, bool], str] = {}
        self._texts: dict[bytes, Principal] = {}

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

    def _principal_text(self, ui: msgspec.Raw, bucket: str, invoked_by: Any) -> Principal:
        """The principal of a raw ``userIdentity``, cached by its JSON text.

        Records of one session carry the same text, so the text is decoded once per session.
        Anonymous and service principals depend on the bucket or ``invokedBy`` as well, so they
        are never cached by text alone.
        """
        text = bytes(ui)
        p = self._texts.get(text)
        if p is None:
            ident = _loads(text) if text else None
            p = self._principal(ident, bucket, invoked_by)
            if p.type != ANONYMOUS and p.type != AWS_SERVICE:
                if len(self._texts) >= _TEXT_CACHE_MAX:
                    self._texts.clear()
                self._texts[text] = p
        return p

    def normalize(self, rec: Any, now: float | None = None) -> S3Event | str:
        """Return the ``S3Event`` for ``rec``, or ``NOT_S3`` / ``INVALID``.

        ``rec`` is a typed ``Record`` (CloudTrail's own files) or any JSON value (the other
        shapes); both give the same event for the same record.
        """
        if type(rec) is not Record:
            if type(rec) is not dict:
                return INVALID
            rec = record_of(rec)
        # One C call for every field (msgspec's astuple) instead of an attribute lookup each,
        # which compiled code makes generically (~6 % of a replay, perf; issue 6).
        (source, etime, name, event_id, _etype, category, management, region, account, ip, ua,
         err, vpce, invoked_by, ui, rp, extra) = _fields(rec)  # fmt: skip
        if source != S3_SOURCE:
            return NOT_S3 if type(source) is str else INVALID
        t = self._times.parse(etime)
        if t is None or type(name) is not str or not name:
            return INVALID
        limit = (now if now is not None else _time.time()) + self.max_future
        if t < EARLIEST or t > limit:
            # A bogus future time would drag the watermark forward and blind the detector.
            return INVALID
        bucket, key, sse_c, request = _request(rp, name in KEEP_REQUEST)
        if category == "Data":
            data = True
        elif category == "Management":
            data = False
        else:
            data = management is False
        if type(ui) is msgspec.Raw:
            p = self._principal_text(ui, bucket, invoked_by)
        else:
            p = self._principal(ui, bucket, invoked_by)
        if type(account) is not str:
            account = ""
        if type(extra) is Extra:
            b_in, b_out, auth = _fields(extra)
        elif type(extra) is dict:
            b_in = extra.get("bytesTransferredIn")
            b_out = extra.get("bytesTransferredOut")
            auth = extra.get("AuthenticationMethod")
        else:
            b_in = b_out = auth = None
        ck = (name, data)
        cls = self._classes.get(ck)
        if cls is None:
            cls = self._classes[ck] = api_class(name, data)
            if len(self._classes) > 10_000:  # eventName is attacker-influenced only in junk
                self._classes.clear()
        # tuple.__new__ builds the NamedTuple without the Python-level __new__ that
        # S3Event(...) runs (~110 ns an event of 25 fields); the field order is S3Event's.
        return _new_event(
            S3Event,
            (
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
                _nbytes(b_in) if b_in is not None else 0,
                _nbytes(b_out) if b_out is not None else 0,
                ip if type(ip) is str else "",
                ua if type(ua) is str else "",
                err if type(err) is str else "",
                sse_c,
                auth if type(auth) is str else "",
                vpce if type(vpce) is str else "",
                p.account != account and bool(p.account) and bool(account),
                data,
                p.type == AWS_SERVICE,
                request,
            ),
        )


_new_event = tuple.__new__
_fields: Callable[[Any], tuple[Any, ...]] = msgspec.structs.astuple
# ``normalize`` unpacks these in this order: a field added or moved must be added there too.
RECORD_FIELDS = (
    "eventSource",
    "eventTime",
    "eventName",
    "eventID",
    "eventType",
    "eventCategory",
    "managementEvent",
    "awsRegion",
    "recipientAccountId",
    "sourceIPAddress",
    "userAgent",
    "errorCode",
    "vpcEndpointId",
    "invokedBy",
    "userIdentity",
    "requestParameters",
    "additionalEventData",
)
EXTRA_FIELDS = ("bytesTransferredIn", "bytesTransferredOut", "AuthenticationMethod")
if Record.__struct_fields__ != RECORD_FIELDS or Extra.__struct_fields__ != EXTRA_FIELDS:
    raise ImportError("detector.normalize unpacks Record and Extra in another field order")
_NO_REQUEST: tuple[str, str, bool, None] = ("", "", False, None)


def _loads(text: bytes | msgspec.Raw) -> Any:
    """Full decode of a raw field; None when ``orjson`` refuses it (then it is simply absent)."""
    try:
        return orjson.loads(bytes(text))
    except orjson.JSONDecodeError:
        return None


def _request(rp: Any, keep: bool) -> tuple[str, str, bool, dict[str, Any] | None]:
    """(bucket, key, SSE-C used, the request if ``keep``) from ``requestParameters``.

    Raw text is read through the two-field schema unless the whole request is to be kept (the
    rare permission and configuration calls) or the schema cannot take it.
    """
    if type(rp) is msgspec.Raw:
        if not rp:
            return _NO_REQUEST
        if not keep:
            fields = request_fields(rp)
            if fields is not None:
                return fields[0], fields[1], fields[2], None
        rp = _loads(rp)
    if type(rp) is not dict:
        return _NO_REQUEST
    bucket = rp.get("bucketName")
    key = rp.get("key")
    return (
        bucket if type(bucket) is str else "",
        key if type(key) is str else "",
        SSEC_HEADER in rp,
        # Kept requests are pickled into checkpoints: too deep a one is dropped at the edge.
        rp if (keep and nested_within(rp)) else None,
    )


def record_of(d: dict[str, Any]) -> Record:
    """A record decoded by ``orjson`` in the typed shape: the same fields, values untouched."""
    get = d.get
    return Record(
        eventSource=get("eventSource"),
        eventTime=get("eventTime"),
        eventName=get("eventName"),
        eventID=get("eventID"),
        eventType=get("eventType"),
        eventCategory=get("eventCategory"),
        managementEvent=get("managementEvent"),
        awsRegion=get("awsRegion"),
        recipientAccountId=get("recipientAccountId"),
        sourceIPAddress=get("sourceIPAddress"),
        userAgent=get("userAgent"),
        errorCode=get("errorCode"),
        vpcEndpointId=get("vpcEndpointId"),
        invokedBy=get("invokedBy"),
        # Plain JSON values where the typed path holds raw text; ``normalize`` takes either.
        userIdentity=cast(Any, get("userIdentity")),
        requestParameters=cast(Any, get("requestParameters")),
        additionalEventData=cast(Any, get("additionalEventData")),
    )
