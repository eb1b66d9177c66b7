"""Every SQS body shape from REFERENCE.md parses to the objects a user expects to be read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detector.aws.notifications import ObjectRef, parse_notification
from detector.errors import PoisonMessage

DATA = Path(__file__).parent.parent / "data" / "sqs"
KEY = (
    "AWSLogs/o-abcdefghij/111122223333/CloudTrail/us-east-1/2026/11/26/"
    "111122223333_CloudTrail_us-east-1_20261126T2105Z_AbCdEf0123456789.json.gz"
)
OTHER_KEY = (
    "AWSLogs/o-abcdefghij/444455556666/CloudTrail/eu-west-1/2026/11/26/"
    "444455556666_CloudTrail_eu-west-1_20261126T2105Z_ZyXwVu9876543210.json.gz"
)


def body(name: str) -> str:
    return (DATA / name).read_text()


def doc(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(body(name))
    return loaded


def sns_wrap(message: str) -> str:
    envelope = doc("sns_s3_event.json")
    envelope["Message"] = message
    return json.dumps(envelope)


def test_s3_event_notification_key_is_url_decoded() -> None:
    assert parse_notification(body("s3_event.json")) == [
        ObjectRef("org-trail-logs", "my prefix/" + KEY, 2417)
    ]


def test_s3_event_in_sns_envelope_gives_the_same_object() -> None:
    assert parse_notification(body("sns_s3_event.json")) == parse_notification(
        body("s3_event.json")
    )


def test_cloudtrail_sns_notification_lists_every_key_undecoded() -> None:
    refs = parse_notification(body("sns_cloudtrail.json"))
    assert refs == [ObjectRef("org-trail-logs", KEY), ObjectRef("org-trail-logs", OTHER_KEY)]


def test_cloudtrail_notification_with_raw_delivery() -> None:
    assert parse_notification(body("cloudtrail_raw.json")) == parse_notification(
        body("sns_cloudtrail.json")
    )


def test_cloudtrail_keys_are_not_decoded() -> None:
    # CloudTrail sends keys as they are; a literal "+" or "%41" in a prefix must survive.
    raw = json.dumps({"s3Bucket": "b", "s3ObjectKey": ["a+b/%41.json.gz"]})
    assert parse_notification(raw) == [ObjectRef("b", "a+b/%41.json.gz")]


def test_eventbridge_object_created_key_is_not_decoded() -> None:
    assert parse_notification(body("eventbridge_object_created.json")) == [
        ObjectRef(
            "org-trail-logs",
            "my prefix/AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/26/"
            "111122223333_CloudTrail_us-east-1_20261126T2105Z_AbCdEf0123456789.json.gz",
            2417,
        )
    ]


@pytest.mark.parametrize(
    "text",
    [
        body("s3_test_event.json"),
        body("sns_subscription_confirmation.json"),
        body("sns_cloudtrail_validation.json"),
        "CloudTrail validation message.",
        sns_wrap(body("s3_test_event.json")),
    ],
    ids=["s3-test-event", "sns-subscription", "sns-validation", "raw-validation", "sns-test"],
)
def test_test_and_handshake_messages_are_no_work(text: str) -> None:
    assert parse_notification(text) == []


def test_unsubscribe_confirmation_is_no_work() -> None:
    envelope = doc("sns_subscription_confirmation.json")
    envelope["Type"] = "UnsubscribeConfirmation"
    assert parse_notification(json.dumps(envelope)) == []


def test_only_object_created_records_are_work() -> None:
    event = doc("s3_event.json")
    removed = dict(event["Records"][0], eventName="ObjectRemoved:Delete")
    event["Records"] = [removed, event["Records"][0]]
    assert [r.key for r in parse_notification(json.dumps(event))] == ["my prefix/" + KEY]
    event["Records"] = [removed]
    assert parse_notification(json.dumps(event)) == []


def test_encoded_special_characters_decode_like_s3_sends_them() -> None:
    event = doc("s3_event.json")
    # What S3 (and moto, which also encodes "/") sends for "a b+c%d/é.json.gz".
    event["Records"][0]["s3"]["object"]["key"] = "a+b%2Bc%25d%2F%C3%A9.json.gz"
    assert parse_notification(json.dumps(event))[0].key == "a b+c%d/é.json.gz"


def eventbridge(detail_type: str, source: str = "aws.s3") -> str:
    event = doc("eventbridge_object_created.json")
    event["detail-type"], event["source"] = detail_type, source
    return json.dumps(event)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("not json", "not JSON"),
        ("[1, 2]", "not an object"),
        ('"CloudTrail"', "not an object"),
        ("{}", "unknown notification shape"),
        ('{"hello": "world"}', "unknown notification shape (keys: hello)"),
        (eventbridge("Object Deleted"), "not Object Created"),
        (eventbridge("Object Created", source="aws.ec2"), "not Object Created"),
        (sns_wrap("garbage"), "SNS Message is not JSON"),
        (sns_wrap('{"unknown": 1}'), "unknown notification shape"),
        (sns_wrap(body("sns_s3_event.json")), "unknown notification shape"),
        ('{"Records": []}', "non-empty list"),
        ('{"Records": [{"eventSource": "s3.amazonaws.com"}]}', "not an S3 event"),
        ('{"s3Bucket": "b", "s3ObjectKey": "k"}', "non-empty list"),
        ('{"s3Bucket": "b", "s3ObjectKey": [1]}', "not a string"),
    ],
)
def test_unknown_shapes_are_poison_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(PoisonMessage, match=reason.replace("(", r"\(").replace(")", r"\)")):
        parse_notification(text)


def test_key_that_is_not_utf8_once_decoded_is_poison() -> None:
    event = doc("s3_event.json")
    event["Records"][0]["s3"]["object"]["key"] = "logs/%FF.json.gz"
    with pytest.raises(PoisonMessage, match="does not decode to UTF-8"):
        parse_notification(json.dumps(event))


def test_object_created_without_key_is_poison() -> None:
    event = doc("s3_event.json")
    del event["Records"][0]["s3"]["object"]["key"]
    with pytest.raises(PoisonMessage, match="object key"):
        parse_notification(json.dumps(event))


# --- fuzzing: whatever arrives, only PoisonMessage (or a result) comes out -----------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
# Keys that steer the parser into each branch, so fuzzing reaches deep code paths.
shape_keys = st.sampled_from(
    ["Records", "Type", "Message", "TopicArn", "Event", "s3Bucket", "s3ObjectKey", "source",
     "detail-type", "detail", "eventSource", "eventName", "s3", "bucket", "object", "key",
     "name", "size"]
)  # fmt: skip
shaped = st.recursive(
    st.none()
    | st.integers()
    | st.text(max_size=20)
    | st.sampled_from(["aws:s3", "ObjectCreated:Put", "Notification", "aws.s3", "Object Created"]),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(shape_keys, children, max_size=5)
    ),
    max_leaves=25,
)


def mutate_fixture(draw_text: str, fixture: str) -> str:
    text = body(fixture)
    cut = len(draw_text) % (len(text) + 1)
    return text[:cut] + draw_text + text[cut + len(draw_text) :]


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(),
        json_values.map(json.dumps),
        shaped.map(json.dumps),
        shaped.map(lambda inner: sns_wrap(json.dumps(inner))),
        st.tuples(st.text(max_size=8), st.sampled_from(sorted(p.name for p in DATA.iterdir()))).map(
            lambda t: mutate_fixture(*t)
        ),
    )
)
def test_fuzz_only_poison_message_escapes(text: str) -> None:
    try:
        refs = parse_notification(text)
    except PoisonMessage:
        return
    assert all(isinstance(r, ObjectRef) and r.bucket and r.key for r in refs)
