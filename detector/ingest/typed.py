"""CloudTrail's own file shape, decoded into only the fields s3ad reads (issue 6: parse only
what is needed).

``orjson.loads`` builds a dict for every object of a record — ``responseElements``,
``tlsDetails``, ``resources``, ``sessionContext`` — which the normalizer then throws away.
Decoding ``{"Records": [...]}`` with a msgspec schema instead skips the unused fields without
building them, keeps ``userIdentity`` and ``requestParameters`` as raw JSON text (the
normalizer caches principals by that text and reads two fields of the request), and costs
~1.3 µs a record against ~6 µs for ``orjson.loads`` on the bench trail.

Every field is typed ``Any`` (or raw), so odd values reach the normalizer exactly as
``orjson`` would have produced them and are judged by the same checks. Anything the schema
cannot take — another top-level shape, a record that is not an object, a digest file's
fields, invalid text — makes ``decode_trail`` return None and the reader falls back to the
generic ``orjson`` path, which produces the same events (tested) and the same errors.
"""

from __future__ import annotations

from typing import Any

import msgspec

SSEC_HEADER = "x-amz-server-side-encryption-customer-algorithm"
NO_RAW = msgspec.Raw()

# ``gc=False``: the garbage collector does not track these structs (a file's worth is allocated
# and freed at once; tracking cost ~1-4 % of the reader). That is safe because they hold JSON
# values, which cannot form a reference cycle through them.


class Extra(msgspec.Struct, gc=False):
    """``additionalEventData``: transfer sizes and how the request was signed."""

    bytesTransferredIn: Any = None  # CloudTrail's field names
    bytesTransferredOut: Any = None
    AuthenticationMethod: Any = None


class Request(msgspec.Struct, gc=False):
    """The two ``requestParameters`` fields every event needs, and whether SSE-C was used."""

    bucketName: Any = None
    key: Any = None
    ssec: Any = msgspec.field(default=msgspec.UNSET, name=SSEC_HEADER)


class Record(msgspec.Struct, gc=False):
    """One CloudTrail record, reduced to what ``Normalizer`` reads."""

    eventSource: Any = None
    eventTime: Any = None
    eventName: Any = None
    eventID: Any = None
    eventType: Any = None  # Insight files are recognised by it
    eventCategory: Any = None
    managementEvent: Any = None
    awsRegion: Any = None
    recipientAccountId: Any = None
    sourceIPAddress: Any = None
    userAgent: Any = None
    errorCode: Any = None
    vpcEndpointId: Any = None
    invokedBy: Any = None
    userIdentity: msgspec.Raw = NO_RAW
    requestParameters: msgspec.Raw = NO_RAW
    additionalEventData: Extra | None = None


class Trail(msgspec.Struct):
    """A CloudTrail log file. The digest fields are declared only to notice them."""

    Records: list[Record]
    logFiles: Any = msgspec.UNSET
    digestPublicKeyFingerprint: Any = msgspec.UNSET
    digestStartTime: Any = msgspec.UNSET


# Decoders are immutable and thread-safe, like compiled regexes: built once at import.
_TRAIL = msgspec.json.Decoder(Trail)
_REQUEST = msgspec.json.Decoder(Request | None)


def decode_trail(text: bytes) -> list[Record] | None:
    """The records of a ``{"Records": [...]}`` file, or None when the generic path must read it
    (not that shape, a digest, an Insight file, or anything the schema refuses)."""
    # msgspec does not look inside the fields it skips; orjson refuses invalid UTF-8 anywhere.
    # Keep one rule for both paths: such a file is read (and refused) by the generic path.
    if not text.isascii():
        try:
            text.decode("utf-8")
        except UnicodeDecodeError:
            return None
    try:
        doc = _TRAIL.decode(text)
    except (msgspec.DecodeError, RecursionError):
        return None
    if (
        doc.logFiles is not msgspec.UNSET
        or doc.digestPublicKeyFingerprint is not msgspec.UNSET
        or doc.digestStartTime is not msgspec.UNSET
    ):
        return None
    recs = doc.Records
    if recs and (recs[0].eventType == "AwsCloudTrailInsight" or recs[0].eventCategory == "Insight"):
        return None
    return recs


def recipient_account(rec: Any) -> Any:
    """``recipientAccountId`` of a raw record as the reader gave it (a typed ``Record`` or a
    dict from the generic path); None for anything else. For code that must look at records
    before they are normalized."""
    if type(rec) is Record:
        return rec.recipientAccountId
    return rec.get("recipientAccountId") if type(rec) is dict else None


def request_fields(raw: msgspec.Raw) -> tuple[str, str, bool] | None:
    """(bucket, key, SSE-C used) from raw ``requestParameters``; None when it is not an object
    the schema takes (the caller then decodes it in full)."""
    try:
        rp = _REQUEST.decode(raw)
    except (msgspec.DecodeError, RecursionError):
        return None
    if rp is None:
        return "", "", False
    bucket = rp.bucketName
    key = rp.key
    return (
        bucket if type(bucket) is str else "",
        key if type(key) is str else "",
        rp.ssec is not msgspec.UNSET,
    )
