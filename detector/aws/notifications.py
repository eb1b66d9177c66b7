"""Turn an SQS message body into the S3 objects it announces.

Four shapes reach the queue (REFERENCE.md, "What arrives on the SQS queue"):

1. an S3 event notification, ``{"Records": [{"eventSource": "aws:s3", ...}]}``, whose object
   keys are URL-encoded with ``+`` for space
   (https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html);
2. the same inside an SNS ``Notification`` envelope (``Message`` is a JSON *string*), or bare
   when the subscription has RawMessageDelivery on;
3. CloudTrail's own SNS notification, ``{"s3Bucket": "...", "s3ObjectKey": ["..."]}``, whose
   keys are not encoded
   (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/configure-sns-notifications-for-cloudtrail.html);
4. S3 via EventBridge, ``{"source": "aws.s3", "detail-type": "Object Created", ...}``, keys
   not encoded (https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html).

Test and handshake messages are no work (``[]``); anything else is a ``PoisonMessage`` so the
queue's redrive policy moves it to the DLQ where a human can look at it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

import orjson

from detector.errors import PoisonMessage

CLOUDTRAIL_VALIDATION = "CloudTrail validation message."
_SNS_NO_WORK = frozenset({"SubscriptionConfirmation", "UnsubscribeConfirmation"})
_SNS_TYPES = _SNS_NO_WORK | {"Notification"}


@dataclass(frozen=True, slots=True)
class ObjectRef:
    """One S3 object to read; ``size`` is the notification's hint (compressed bytes), if any."""

    bucket: str
    key: str
    size: int | None = None

    @property
    def uri(self) -> str:
        """``s3://bucket/key``, the name used in errors and logs.

        >>> ObjectRef("trail", "AWSLogs/1.json.gz").uri
        's3://trail/AWSLogs/1.json.gz'
        """
        return f"s3://{self.bucket}/{self.key}"


def parse_notification(body: str) -> list[ObjectRef]:
    """The objects announced by an SQS message body, ``[]`` for test/handshake messages.

    Raises ``PoisonMessage`` (and nothing else) for a body of no known shape.

    >>> parse_notification('{"s3Bucket": "trail", "s3ObjectKey": ["a b.json.gz"]}')
    [ObjectRef(bucket='trail', key='a b.json.gz', size=None)]
    >>> parse_notification("CloudTrail validation message.")
    []
    """
    try:
        return _parse(body)
    except PoisonMessage:
        raise
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
        # Every branch checks types first; this is the backstop that keeps the contract
        # "only PoisonMessage escapes" even for inputs nobody thought of.
        raise PoisonMessage(f"malformed notification: {type(exc).__name__}: {exc}") from exc


def _parse(body: str) -> list[ObjectRef]:
    if not isinstance(body, str):
        raise PoisonMessage(f"body is {type(body).__name__}, not text")
    if not body.strip():
        raise PoisonMessage("empty body")
    # CloudTrail sends this literal when it checks an SNS topic; with raw delivery it is bare.
    if body.strip() == CLOUDTRAIL_VALIDATION:
        return []
    doc = _load_object(body, "body")
    kind = doc.get("Type")
    if isinstance(kind, str) and kind in _SNS_TYPES and ("TopicArn" in doc or "Message" in doc):
        return _parse_sns(kind, doc)
    return _parse_payload(doc)


def _load_object(text: str, what: str) -> dict[str, Any]:
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise PoisonMessage(f"{what} is not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise PoisonMessage(f"{what} is JSON {type(doc).__name__}, not an object")
    return doc


def _parse_sns(kind: str, envelope: dict[str, Any]) -> list[ObjectRef]:
    if kind in _SNS_NO_WORK:
        return []
    message = envelope.get("Message")
    if not isinstance(message, str):
        raise PoisonMessage("SNS notification without a string Message")
    if message.strip() == CLOUDTRAIL_VALIDATION:
        return []
    # One level only: SNS never wraps SNS, so a nested envelope is not a shape we know.
    return _parse_payload(_load_object(message, "SNS Message"))


def _parse_payload(doc: dict[str, Any]) -> list[ObjectRef]:
    if doc.get("Event") == "s3:TestEvent":
        # Sent once when a bucket notification is configured; carries no object.
        return []
    if "Records" in doc:
        return _parse_s3_records(doc["Records"])
    if "s3Bucket" in doc or "s3ObjectKey" in doc:
        return _parse_cloudtrail(doc)
    if "source" in doc and "detail-type" in doc:
        return _parse_eventbridge(doc)
    keys = ", ".join(sorted(str(k) for k in doc)[:8])
    raise PoisonMessage(f"unknown notification shape (keys: {keys or 'none'})")


def _parse_s3_records(records: Any) -> list[ObjectRef]:
    if not isinstance(records, list) or not records:
        raise PoisonMessage("Records is not a non-empty list")
    refs: list[ObjectRef] = []
    for record in records:
        if not isinstance(record, dict) or record.get("eventSource") != "aws:s3":
            raise PoisonMessage("Records entry is not an S3 event notification")
        name = record.get("eventName")
        if not isinstance(name, str):
            raise PoisonMessage("S3 record without an eventName")
        # ObjectRemoved, ObjectRestore, LifecycleExpiration, ... announce nothing to read.
        if not name.startswith("ObjectCreated:"):
            continue
        s3 = _dict(record.get("s3"), "s3")
        bucket = _text(_dict(s3.get("bucket"), "s3.bucket").get("name"), "bucket name")
        obj = _dict(s3.get("object"), "s3.object")
        raw_key = _text(obj.get("key"), "object key")
        refs.append(ObjectRef(bucket, _decode_key(raw_key), _size(obj.get("size"))))
    return refs


def _parse_cloudtrail(doc: dict[str, Any]) -> list[ObjectRef]:
    bucket = _text(doc.get("s3Bucket"), "s3Bucket")
    keys = doc.get("s3ObjectKey")
    if not isinstance(keys, list) or not keys:
        raise PoisonMessage("s3ObjectKey is not a non-empty list")
    return [ObjectRef(bucket, _text(key, "s3ObjectKey entry")) for key in keys]


def _parse_eventbridge(doc: dict[str, Any]) -> list[ObjectRef]:
    source, detail_type = doc.get("source"), doc.get("detail-type")
    if source != "aws.s3" or detail_type != "Object Created":
        # The EventBridge rule should match only these; anything else is a wiring mistake.
        raise PoisonMessage(f"EventBridge event {source!r}/{detail_type!r} is not Object Created")
    detail = _dict(doc.get("detail"), "detail")
    bucket = _text(_dict(detail.get("bucket"), "detail.bucket").get("name"), "bucket name")
    obj = _dict(detail.get("object"), "detail.object")
    return [ObjectRef(bucket, _text(obj.get("key"), "object key"), _size(obj.get("size")))]


def _decode_key(raw: str) -> str:
    """S3 event keys are form-encoded (``+`` is a space); S3 keys are always valid UTF-8.

    >>> _decode_key("AWSLogs%2Fa+b%2Bc%25d%2F%C3%A9.json.gz")
    'AWSLogs/a b+c%d/é.json.gz'
    """
    try:
        key = unquote_plus(raw, errors="strict")
    except UnicodeDecodeError as exc:
        raise PoisonMessage(f"object key {raw[:100]!r} does not decode to UTF-8") from exc
    return _nonempty(key, "object key")


def _dict(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PoisonMessage(f"{what} is not an object")
    return value


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise PoisonMessage(f"{what} is not a string")
    return _nonempty(value, what)


def _nonempty(value: str, what: str) -> str:
    if not value:
        raise PoisonMessage(f"{what} is empty")
    return value


def _size(value: Any) -> int | None:
    # Only a hint for scheduling; a missing or odd size must not poison real work.
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None
