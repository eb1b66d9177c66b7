"""`s3ad run` end to end against a moto server, as an operator would deploy it.

Story: CloudTrail writes log files into a bucket; the bucket notifies a queue; the daemon reads
the queue, the files, and publishes GuardDuty-shaped findings to an EventBridge bus whose rule
forwards them to a SIEM's queue. The SIEM must see exactly the findings a replay of the same
files produces, and the queue must end empty with nothing parked in the DLQ.
"""

from __future__ import annotations

import json
import pickle
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import boto3
import pytest
from daemon_helpers import (
    BUCKET,
    FAST,
    Daemon,
    Trail,
    assert_final_versions_delivered,
    create_stack,
    drain_queue,
    emf_lines,
    findings_of,
    http_get,
    objects_read,
    peek_bodies,
    small_trail,
    total,
    upload,
)

from detector.service.state import S3StateStore


@pytest.fixture(scope="module")
def trail(tmp_path_factory: pytest.TempPathFactory) -> Trail:
    return small_trail(tmp_path_factory)


def test_upload_to_siem_matches_replay(
    aws: boto3.session.Session, trail: Trail, tmp_path: Path
) -> None:
    stack = create_stack(aws)
    upload(aws, trail)
    sqs = aws.client("sqs")

    started = time.monotonic()
    daemon = Daemon(stack, tmp_path / "state", tmp_path / "run.log")  # default settings
    code = daemon.wait(timeout=120)
    elapsed = time.monotonic() - started

    assert code == 0, daemon.log.read_text()[-3000:]
    events = drain_queue(sqs, stack.target)
    findings = findings_of(events)
    assert {f["id"] for f in findings} == trail.finding_ids
    assert_final_versions_delivered(trail, findings)
    assert total(sqs, stack.queue) == 0
    assert total(sqs, stack.dlq) == 0
    summary = [d for d in daemon.lines() if d.get("message") == "s3ad run finished"]
    assert summary and summary[0]["files"] == len(trail.files)
    print(f"{len(trail.files)} files, {len(findings)} deliveries, {elapsed:.1f} s")


def s3_event(key: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "bucket": {"name": BUCKET, "arn": f"arn:aws:s3:::{BUCKET}"},
                    # S3 form-encodes keys in notifications (a space is "+").
                    "object": {"key": quote_plus(key, safe="/"), "size": 1024},
                },
            }
        ]
    }


def sns(message: str, kind: str = "Notification") -> str:
    return json.dumps(
        {"Type": kind, "TopicArn": "arn:aws:sns:us-east-1:111122223333:trail", "Message": message}
    )


def test_every_message_shape_leads_to_the_objects_and_handshakes_are_no_work(
    aws: boto3.session.Session, trail: Trail, tmp_path: Path
) -> None:
    stack = create_stack(aws, notify=False)
    files = trail.files[:5]
    keys = trail.keys()[:5]
    spaced = "cloud trail/" + keys[0]  # a prefix with a space: encoded in shape 1 only
    s3 = aws.client("s3")
    s3.upload_file(str(files[0]), BUCKET, spaced)
    upload(aws, trail, files[1:])
    eventbridge = {
        "version": "0",
        "source": "aws.s3",
        "detail-type": "Object Created",
        "detail": {"bucket": {"name": BUCKET}, "object": {"key": keys[4], "size": 1024}},
    }
    work = [
        json.dumps(s3_event(spaced)),  # 1. S3 event notification
        sns(json.dumps(s3_event(keys[1]))),  # 2. the same in an SNS envelope
        sns(json.dumps({"s3Bucket": BUCKET, "s3ObjectKey": keys[2:4]})),  # 3. CloudTrail's
        json.dumps(eventbridge),  # 4. S3 via EventBridge
    ]
    no_work = [
        json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": BUCKET}),
        "CloudTrail validation message.",
        sns("CloudTrail validation message."),
        sns("You have chosen to subscribe to the topic.", kind="SubscriptionConfirmation"),
    ]
    sqs = aws.client("sqs")
    for body in work + no_work:
        sqs.send_message(QueueUrl=stack.queue, MessageBody=body)

    daemon = Daemon(
        stack, tmp_path / "state", tmp_path / "run.log", service=FAST, log_level="DEBUG"
    )
    assert daemon.wait(timeout=90) == 0, daemon.log.read_text()[-3000:]

    lines = daemon.lines()
    assert sorted(objects_read(lines)) == sorted([spaced, *keys[1:]])
    final = emf_lines(lines)[-1]
    assert final["messages.no_work"] == len(no_work)
    assert final["messages.deleted"] == len(work)
    assert total(sqs, stack.queue) == 0 and total(sqs, stack.dlq) == 0


def test_poison_messages_end_in_the_dlq_and_good_ones_around_them_are_processed(
    aws: boto3.session.Session, trail: Trail, tmp_path: Path
) -> None:
    stack = create_stack(aws, notify=False, visibility=2, max_receive=2)
    keys = trail.keys()[:3]
    upload(aws, trail, trail.files[:3])
    poison = [
        "definitely not JSON",
        json.dumps({"unexpected": "shape"}),
        json.dumps({"Records": [{"eventSource": "aws:sqs", "body": "wrong wiring"}]}),
    ]
    sqs = aws.client("sqs")
    bodies = [
        json.dumps(s3_event(keys[0])),
        poison[0],
        json.dumps(s3_event(keys[1])),
        poison[1],
        poison[2],
        json.dumps(s3_event(keys[2])),
    ]
    for body in bodies:
        sqs.send_message(QueueUrl=stack.queue, MessageBody=body)

    daemon = Daemon(
        stack,
        tmp_path / "state",
        tmp_path / "run.log",
        service={**FAST, "VISIBILITY_TIMEOUT": "2", "HEARTBEAT_SECONDS": "1"},
        log_level="DEBUG",
    )
    assert daemon.wait(timeout=90) == 0, daemon.log.read_text()[-3000:]

    lines = daemon.lines()
    assert sorted(objects_read(lines)) == sorted(keys)
    assert sorted(peek_bodies(sqs, stack.dlq)) == sorted(poison)
    assert total(sqs, stack.queue) == 0
    logged = [d for d in lines if d.get("message") == "poison message left for the DLQ"]
    assert len(logged) >= 2 * len(poison)  # each receive is logged, with the message id
    assert all(d.get("message_id") and d.get("reason") for d in logged)
    assert emf_lines(lines)[-1]["messages.deleted"] == 3


def test_health_metrics_and_s3_state_while_running(
    aws: boto3.session.Session, trail: Trail, tmp_path: Path
) -> None:
    stack = create_stack(aws)
    aws.client("s3").create_bucket(Bucket="s3ad-state")
    upload(aws, trail, trail.files[:5])
    sqs = aws.client("sqs")

    state = "s3://s3ad-state/prod/s3ad"  # checkpoints in S3, as on ECS
    daemon = Daemon(stack, state, tmp_path / "run.log", drain=False, service=FAST)
    try:
        port = daemon.health_port()
        up = next(d for d in daemon.lines() if d.get("message") == "health endpoints up")
        assert up["bind"] == "127.0.0.1"
        deadline = time.monotonic() + 30
        while http_get(port, "/readyz")[0] != 200:
            assert time.monotonic() < deadline, "never ready"
            time.sleep(0.2)
        assert http_get(port, "/healthz") == (200, "ok\n")
        assert http_get(port, "/metrics")[0] == 404  # Prometheus is opt-in
        metrics = daemon.wait_for(
            lambda d: "_aws" in d and d.get("files.read", 0) >= 5, 60, "EMF line with 5 files"
        )
        while total(sqs, stack.queue):  # wait for the checkpoint and the deletes
            assert time.monotonic() < deadline + 30, "messages never deleted"
            time.sleep(0.2)
    finally:
        daemon.terminate()
    assert daemon.wait(timeout=30) == 0

    directive = metrics["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "s3ad"
    names = {m["Name"] for m in directive["Metrics"]}
    assert {"files.read", "records.read", "records_per_second", "lag_seconds"} <= names
    assert metrics["records.read"] > 0
    key = "prod/s3ad/checkpoint.bin"
    assert aws.client("s3").head_object(Bucket="s3ad-state", Key=key)["ContentLength"] > 0
    store = S3StateStore(aws.client("s3"), "s3ad-state", "prod/s3ad")
    checkpoint = pickle.loads(store.load() or b"")
    assert set(checkpoint) == {"pipeline", "ledger", "seen"}
    # The files read into the state are remembered with it (a repeat is not read again).
    remembered = {identity.split("#")[0] for identity in checkpoint["seen"]}
    assert remembered == {f"s3://{stack.bucket}/{k}" for k in trail.keys()[:5]}
