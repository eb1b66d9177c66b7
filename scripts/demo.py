#!/usr/bin/env python3
"""`make demo`: the whole s3ad loop on one machine, against a local AWS endpoint (moto server).

1. generate a CloudTrail trail with labelled attacks (scripts/gen_trail);
2. start a moto server (a real HTTP endpoint) and create: the trail bucket, an SQS queue with a
   DLQ fed by the bucket's ObjectCreated notifications, an EventBridge bus with a rule that sends
   s3ad findings to a target queue (standing in for a SIEM);
3. upload the trail, run `s3ad run --drain` as a separate process until the queue is empty;
4. print the findings as the target queue received them, and a one-line summary.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

ROOT = Path(__file__).resolve().parent.parent
REGION = "us-east-1"
BUCKET = "s3ad-demo-trail"
BUS = "s3ad-demo"


def generate(out: Path, days: int, principals: int, accounts: int) -> Path:
    trail = out / "trail"
    if not (trail / "labels.jsonl").exists():
        cmd = [
            sys.executable,
            "-m",
            "detector.gen.cli",
            "--out",
            str(trail),
            "--days",
            str(days),
            "--principals",
            str(principals),
            "--accounts",
            str(accounts),
            "--seed",
            "7",
        ]
        subprocess.run(cmd, check=True, cwd=ROOT)
    return trail


def start_moto() -> tuple[ThreadedMotoServer, str]:
    import logging

    logging.getLogger("werkzeug").setLevel(
        logging.ERROR
    )  # one access-log line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(f"{url}/moto-api/data.json", timeout=1).read()
            return server, url
        except OSError:
            time.sleep(0.1)
    raise SystemExit("moto server did not become ready")


def setup_aws(session: boto3.session.Session) -> dict[str, str]:
    s3, sqs, events = session.client("s3"), session.client("sqs"), session.client("events")
    s3.create_bucket(Bucket=BUCKET)
    dlq = sqs.create_queue(QueueName="s3ad-demo-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"})
    queue = sqs.create_queue(
        QueueName="s3ad-demo-notifications",
        Attributes={"RedrivePolicy": redrive, "VisibilityTimeout": "60"},
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    s3.put_bucket_notification_configuration(
        Bucket=BUCKET,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": queue_arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {
                        "Key": {
                            "FilterRules": [
                                {"Name": "prefix", "Value": "AWSLogs/"},
                                {"Name": "suffix", "Value": ".json.gz"},
                            ]
                        }
                    },
                }
            ]
        },
    )
    target = sqs.create_queue(QueueName="s3ad-demo-findings")["QueueUrl"]
    target_arn = sqs.get_queue_attributes(QueueUrl=target, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    events.create_event_bus(Name=BUS)
    events.put_rule(
        Name="s3ad-findings",
        EventBusName=BUS,
        EventPattern=json.dumps({"source": ["s3ad"], "detail-type": ["GuardDuty Finding"]}),
    )
    events.put_targets(
        Rule="s3ad-findings", EventBusName=BUS, Targets=[{"Id": "siem", "Arn": target_arn}]
    )
    return {"queue": queue, "dlq": dlq, "target": target}


def upload(session: boto3.session.Session, trail: Path) -> int:
    s3 = session.client("s3")
    files = sorted(
        trail.rglob("*.json.gz"),
        key=lambda p: (p.name.split("_")[-2] if "_CloudTrail_" in p.name else "", str(p)),
    )
    for f in files:
        s3.upload_file(str(f), BUCKET, str(f.relative_to(trail)))
    return len(files)


def drain_queue(sqs: object, url: str) -> list[dict[str, object]]:
    out = []
    while True:
        msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        )  # type: ignore[attr-defined]
        if not msgs:
            return out
        for m in msgs:
            out.append(json.loads(m["Body"]))
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)
            ],
        )  # type: ignore[attr-defined]


def _depth(sqs: Any, url: str) -> int:
    attrs = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(
        attrs["ApproximateNumberOfMessagesNotVisible"]
    )


def print_table(findings: list[dict[str, object]]) -> None:
    rows = sorted(
        findings,
        key=lambda f: (-float(f.get("severity", 0)), str(f.get("type")), str(f.get("title"))),
    )  # type: ignore[arg-type]
    print(f"\n{'sev':>4}  {'type':<48} title")
    print(f"{'-' * 4}  {'-' * 48} {'-' * 60}")
    for f in rows:
        print(
            f"{float(f.get('severity', 0)):>4.1f}  {f.get('type')!s:<48} {str(f.get('title'))[:110]}"
        )  # type: ignore[arg-type]


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--out", type=Path, default=ROOT / "out" / "demo")
    ap.add_argument("--days", type=int, default=2)
    ap.add_argument("--principals", type=int, default=40)
    ap.add_argument(
        "--accounts", type=int, default=1, help="moto's SQS is slow: keep the file count modest"
    )
    args = ap.parse_args()
    started = time.monotonic()
    trail = generate(args.out, args.days, args.principals, args.accounts)
    server, url = start_moto()
    env = dict(
        os.environ,
        AWS_ENDPOINT_URL=url,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=REGION,
        AWS_REGION=REGION,
    )
    os.environ.update(
        {
            k: env[k]
            for k in (
                "AWS_ENDPOINT_URL",
                "AWS_ACCESS_KEY_ID",
                "AWS_SECRET_ACCESS_KEY",
                "AWS_DEFAULT_REGION",
                "AWS_REGION",
            )
        }
    )
    try:
        session = boto3.session.Session()
        queues = setup_aws(session)
        n_files = upload(session, trail)
        print(
            f"uploaded {n_files} CloudTrail files to s3://{BUCKET}; running s3ad until the queue is drained…",
            flush=True,
        )
        state = args.out / "state"
        subprocess.run(["rm", "-rf", str(state)], check=True)
        log_path = args.out / "s3ad-run.log"
        with open(log_path, "wb") as log_file:
            cmd = [
                sys.executable,
                "-m",
                "detector",
                "run",
                "--queue-url",
                queues["queue"],
                "--sink",
                f"eventbridge://{BUS}",
                "--state",
                str(state),
                "--drain",
                "--health-port",
                "0",
            ]
            code = subprocess.run(cmd, env=env, cwd=ROOT, stderr=log_file, check=False).returncode
        findings = [m["detail"] for m in drain_queue(session.client("sqs"), queues["target"])]  # type: ignore[index]
        latest: dict[str, dict[str, object]] = {}
        for f in findings:
            latest[str(f["id"])] = f
        print_table(list(latest.values()))
        summary = {}
        for line in log_path.read_text().splitlines():
            if '"s3ad run finished"' in line:
                summary = json.loads(line)
        print(
            f"\nfiles {summary.get('files', '?')}, records {summary.get('records', '?')}, findings {len(latest)} "
            f"({len(findings)} deliveries via EventBridge), s3ad exit {code}, total {time.monotonic() - started:.0f} s "
            f"(daemon log: {log_path.relative_to(ROOT)})"
        )
        sqs = session.client("sqs")
        left = {name: _depth(sqs, queues[name]) for name in ("queue", "dlq")}
        print(
            f"backlog of {n_files} queued objects: {summary.get('files', '?')} log files read, "
            f"{summary.get('files_skipped', '?')} digests skipped, {summary.get('messages_deleted', '?')} messages deleted; "
            f"left in queue {left['queue']}, in DLQ {left['dlq']}; daemon peak RSS {summary.get('peak_rss_mb', '?')} MB"
        )
        lost = left["queue"] + left["dlq"]
        return code or (1 if lost else 0)
    finally:
        server.stop()


if __name__ == "__main__":
    raise SystemExit(main())
