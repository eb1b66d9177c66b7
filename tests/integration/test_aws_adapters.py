"""The AWS adapters against a real (moto) endpoint: S3 → SQS → parse → fetch, and findings out."""

from __future__ import annotations

import gzip
import json
import time
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from detector.aws.clients import ClientOptions, events_client, s3_client, sqs_client
from detector.aws.notifications import ObjectRef, parse_notification
from detector.aws.s3read import TransientError, fetch_many, fetch_object
from detector.aws.sqs import Message, Source, SqsSource, VisibilityHeartbeat
from detector.errors import PoisonMessage, UnreadableInput
from detector.sinks import SinkOptions, open_sink

BUCKET = "org-trail-logs"
CAP = 1 << 20
PREFIX = "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/26/"
TRICKY_KEYS = [
    PREFIX + "111122223333_CloudTrail_us-east-1_20261126T2105Z_AbCdEf0123456789.json.gz",
    "my prefix/with space.json.gz",
    "plus+sign/and%percent.json.gz",
    "ünïcødé/日本語/ключ.json.gz",
]


def cloudtrail_file(n: int) -> bytes:
    records = {
        "Records": [
            {
                "eventVersion": "1.09",
                "eventID": f"00000000-0000-0000-0000-{n:012d}",
                "eventSource": "s3.amazonaws.com",
                "eventName": "GetObject",
                "requestParameters": {"bucketName": "data", "key": f"k{n}"},
            }
        ]
    }
    return json.dumps(records).encode()


def make_queue(aws: boto3.session.Session, name: str, **attributes: str) -> tuple[str, str]:
    sqs = sqs_client(aws)
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    return url, arn["QueueArn"]


def drain(source: SqsSource, expected: int) -> list[Message]:
    messages: list[Message] = []
    for _ in range(20):
        batch = source.receive(max_messages=10, wait_seconds=0)
        messages.extend(batch)
        if not batch or len(messages) >= expected:
            break
    return messages


@pytest.fixture
def notified_bucket(aws: boto3.session.Session) -> SqsSource:
    """A trail bucket whose ObjectCreated notifications go to a queue, as in production."""
    s3 = s3_client(aws)
    s3.create_bucket(Bucket=BUCKET)
    url, arn = make_queue(aws, "trail-notifications")
    s3.put_bucket_notification_configuration(
        Bucket=BUCKET,
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]
        },
    )
    return SqsSource(sqs_client(aws), url)


def test_s3_notification_to_bytes_with_tricky_keys(
    aws: boto3.session.Session, notified_bucket: SqsSource
) -> None:
    source: Source = notified_bucket
    s3 = s3_client(aws)
    (test_event,) = source.receive(wait_seconds=0)
    assert parse_notification(test_event.body) == []  # configuring sends s3:TestEvent
    assert source.delete([test_event]) == []

    for n, key in enumerate(TRICKY_KEYS):
        s3.put_object(Bucket=BUCKET, Key=key, Body=gzip.compress(cloudtrail_file(n)))
    messages = drain(notified_bucket, len(TRICKY_KEYS))
    refs = [ref for m in messages for ref in parse_notification(m.body)]
    assert sorted(r.key for r in refs) == sorted(TRICKY_KEYS)
    assert all(m.receive_count == 1 for m in messages)

    refs.sort(key=lambda r: TRICKY_KEYS.index(r.key))
    results = list(fetch_many(s3, refs, CAP, max_workers=3))
    assert [ref for ref, _ in results] == refs  # order kept despite concurrency
    assert [data for _, data in results] == [cloudtrail_file(n) for n in range(len(refs))]
    assert fetch_object(s3, refs[0], CAP) == cloudtrail_file(0)

    assert source.delete(messages) == []
    assert source.receive(wait_seconds=0) == []
    assert notified_bucket.metrics.get("sqs.delete.ok") == len(messages) + 1


def test_unreadable_objects_say_why(aws: boto3.session.Session) -> None:
    s3 = s3_client(aws)
    s3.create_bucket(Bucket=BUCKET)
    bomb = gzip.compress(b"\0" * (CAP * 20))  # ~20 KB that expands to 20 MB
    s3.put_object(Bucket=BUCKET, Key="bomb.json.gz", Body=bomb)
    s3.put_object(Bucket=BUCKET, Key="plain.json.gz", Body=b'{"Records": []}')

    cases = {
        ObjectRef(BUCKET, "missing.json.gz"): "not-found",
        ObjectRef("no-such-bucket-here", "x.json.gz"): "not-found",
        ObjectRef("not/a:bucket", "x.json.gz"): "not-found",
        ObjectRef(BUCKET, "bomb.json.gz"): "too-large",
        ObjectRef(BUCKET, "plain.json.gz"): "not-gzip",
    }
    for ref, reason in cases.items():
        with pytest.raises(UnreadableInput) as info:
            fetch_object(s3, ref, CAP)
        assert (info.value.name, info.value.reason) == (ref.uri, reason)
    results = dict(fetch_many(s3, list(cases), CAP, max_workers=2))
    assert {ref: getattr(err, "reason", None) for ref, err in results.items()} == cases


def test_unreachable_endpoint_is_transient(aws: boto3.session.Session) -> None:
    # Nothing listens on port 9: the caller must release the message, not drop it.
    s3 = aws.client(
        "s3",
        endpoint_url="http://127.0.0.1:9",
        config=Config(retries={"mode": "standard", "max_attempts": 1}, connect_timeout=1),
    )
    with pytest.raises(TransientError, match="s3://b/k"):
        fetch_object(s3, ObjectRef("b", "k"), CAP)


class RaisingS3:
    def __init__(self, code: str, status: int) -> None:
        self.error = ClientError(
            {
                "Error": {"Code": code, "Message": "m"},
                "ResponseMetadata": {"HTTPStatusCode": status},
            },
            "GetObject",
        )

    def get_object(self, **_: Any) -> Any:
        raise self.error


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("AccessDenied", 403, "access-denied"),
        ("403", 403, "access-denied"),
        ("SlowDown", 503, None),
    ],
)
def test_s3_error_classification(code: str, status: int, expected: str | None) -> None:
    # moto does not enforce IAM, so denial is exercised with a client that fails like S3 does.
    ref = ObjectRef("b", "k")
    if expected is None:
        with pytest.raises(TransientError):
            fetch_object(RaisingS3(code, status), ref, CAP)
    else:
        with pytest.raises(UnreadableInput) as info:
            fetch_object(RaisingS3(code, status), ref, CAP)
        assert info.value.reason == expected


def test_delete_release_extend(aws: boto3.session.Session) -> None:
    url, _ = make_queue(aws, "work")
    sqs = sqs_client(aws)
    for n in range(12):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{n}")
    source = SqsSource(sqs, url)
    messages = drain(source, 12)
    assert sorted(m.body for m in messages) == sorted(f"m{n}" for n in range(12))
    assert source.receive(wait_seconds=0) == []  # all in flight

    released, extended, done = messages[0], messages[1], messages[2:]
    assert source.delete(done) == []  # 10 + more: two batches
    assert source.release([released]) == []
    again = source.receive(wait_seconds=0)
    assert [(m.body, m.receive_count) for m in again] == [(released.body, 2)]

    # A short visibility, extended before it lapses, keeps the message hidden.
    assert source.extend([*again, extended], 1) == []
    assert source.extend([extended], 30) == []
    time.sleep(1.2)
    assert [m.body for m in source.receive(wait_seconds=0)] == [released.body]


def test_stale_receipt_handles_are_reported_not_raised(aws: boto3.session.Session) -> None:
    url, _ = make_queue(aws, "work")
    source = SqsSource(sqs_client(aws), url)
    bogus = Message("id-1", "not-a-receipt-handle", "body", 1)
    assert source.release([bogus]) == [bogus]
    assert source.metrics.get("sqs.release.failed") == 1


def test_poison_message_ends_in_the_dlq(aws: boto3.session.Session) -> None:
    _, dlq_arn = make_queue(aws, "trail-dlq")
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})
    url, _ = make_queue(aws, "trail", RedrivePolicy=redrive)
    sqs = sqs_client(aws)
    sqs.send_message(QueueUrl=url, MessageBody='{"unexpected": "shape"}')
    source = SqsSource(sqs, url)

    counts = []
    for _ in range(3):
        for message in source.receive(wait_seconds=0):
            counts.append(message.receive_count)
            with pytest.raises(PoisonMessage):
                parse_notification(message.body)
            source.release([message])  # never deleted: the redrive policy takes over
    assert counts == [1, 2]
    dlq = SqsSource(sqs, sqs.get_queue_url(QueueName="trail-dlq")["QueueUrl"])
    assert [m.body for m in dlq.receive(wait_seconds=0)] == ['{"unexpected": "shape"}']


def test_heartbeat_keeps_slow_work_invisible(aws: boto3.session.Session) -> None:
    url, _ = make_queue(aws, "work")
    sqs = sqs_client(aws)
    sqs.send_message(QueueUrl=url, MessageBody="slow")
    source = SqsSource(sqs, url)
    (message,) = source.receive(wait_seconds=0, visibility_timeout=1)
    with VisibilityHeartbeat(source, interval=0.3, extend_to=2) as heartbeat:
        heartbeat.add([message])
        time.sleep(1.5)  # longer than the 1 s visibility the message was received with
        assert source.receive(wait_seconds=0) == []
        heartbeat.remove([message])
        assert heartbeat.tracked() == []
    source.release([message])
    (again,) = source.receive(wait_seconds=0)
    assert again.receive_count == 2

    # Once the work is done and deleted, the stale handle is dropped, not extended forever.
    heartbeat = VisibilityHeartbeat(source, interval=10, extend_to=30)
    heartbeat.add([again])
    assert source.delete([again]) == []
    heartbeat.beat()
    assert heartbeat.tracked() == []


def finding(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "schemaVersion": "2.0",
        "id": f"finding-{n:02d}",
        "type": "Impact:S3/AnomalousBehavior.Delete",
        "severity": 7.5,
        "resource": {"s3BucketDetails": [{"arn": f"arn:aws:s3:::bucket-{n}", "name": "b"}]},
        "service": {"serviceName": "s3ad", "evidence": {}},
        **extra,
    }


@pytest.mark.parametrize("bus_form", ["name", "arn"])
def test_eventbridge_sink_delivers_findings_to_a_rule_target(
    aws: boto3.session.Session, bus_form: str
) -> None:
    events = events_client(aws)
    bus_arn = events.create_event_bus(Name="security-findings")["EventBusArn"]
    url, queue_arn = make_queue(aws, "siem")
    pattern = {"source": ["s3ad"], "detail-type": ["GuardDuty Finding"]}
    events.put_rule(
        Name="to-siem", EventBusName="security-findings", EventPattern=json.dumps(pattern)
    )
    events.put_targets(
        Rule="to-siem", EventBusName="security-findings", Targets=[{"Id": "q", "Arn": queue_arn}]
    )

    limit = 16 * 1024
    oversized = finding(
        99,
        service={
            "serviceName": "s3ad",
            "evidence": {"threatIntelligenceDetails": [{"threatNames": ["t" * 500]}] * 100},
        },
    )
    findings = [finding(n) for n in range(11)] + [oversized]
    bus = "security-findings" if bus_form == "name" else bus_arn
    sink = open_sink(
        f"eventbridge://{bus}",
        session_factory=lambda: aws,
        options=SinkOptions(max_entry_bytes=limit),
        client_options=ClientOptions(max_attempts=2),
    )
    sink.publish(findings)
    sink.close()

    received = [json.loads(m.body) for m in drain(SqsSource(sqs_client(aws), url), 12)]
    by_id = {event["detail"]["id"]: event for event in received}
    assert sorted(by_id) == sorted(f["id"] for f in findings)
    for original in findings[:11]:
        event = by_id[original["id"]]
        assert event["detail"] == original
        assert event["detail-type"] == "GuardDuty Finding"
        assert event["source"] == "s3ad"
        assert event["resources"] == [original["resource"]["s3BucketDetails"][0]["arn"]]

    trimmed = by_id["finding-99"]["detail"]
    assert trimmed["service"]["additionalInfo"]["trimmed"] is True
    assert 0 < len(trimmed["service"]["evidence"]["threatIntelligenceDetails"]) < 100
    assert len(json.dumps(trimmed)) < limit
