"""Two account shards on the moto server find what one daemon finds (issue 8, part 3).

Story: an organisation trail of four accounts lands in one bucket. ``s3ad shards plan
--shards 2`` splits the account ids by their first digit; the bucket's notification
configuration, built from the plan, feeds each shard's queue through prefix filters; one
``s3ad run --drain`` per queue publishes to its own JSONL sink. A single daemon, on a third
queue announcing every file, is the reference: the union of the shards' findings must equal
its findings, each shard's findings must concern only its own accounts, and the files or
records of a foreign account that a shard is fed on purpose are counted, never windowed.
"""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import boto3
import pytest
from daemon_helpers import (
    FAST,
    ROOT,
    daemon_env,
    delivery_order,
    drain_queue,
    emf_lines,
    queue_arn,
    read_log,
    total,
)

from detector.ingest.keys import LOG, classify_key, key_account
from detector.shards import Plan, plan_shards
from detector.shards_notify import eventbridge_rules, notification_configuration, overlaps

ORG = "o-abc123def4"  # the generator's default organisation id
BUCKET = "s3ad-shards-trail"
# 2026-11-01, 12:00-13:59 delivery: findings in accounts 111122223333 and 444455556666
# (shard 0: ids starting 0-4) and 566566982294 (shard 1: 5-9); 777788889999 is quiet.
HOURS = ("12", "13")
FOREIGN_HOUR = "11"  # a file from outside the slice, fed to shard 0 on purpose
SHARD0_ACCOUNT = "111122223333"
SHARD1_ACCOUNT = "566566982294"


@dataclass(frozen=True)
class OrgTrail:
    root: Path  # keys are paths relative to it
    files: tuple[Path, ...]  # log and digest files of the slice, in delivery order
    foreign: Path  # a shard-1 log file from outside the slice (never uploaded as itself)
    foreign_key: str

    def key(self, path: Path) -> str:
        return str(path.relative_to(self.root))


@pytest.fixture(scope="module")
def trail(tmp_path_factory: pytest.TempPathFactory) -> OrgTrail:
    base = tmp_path_factory.getbasetemp() / "shards-trail"
    full, picked = base / "full", base / "picked"
    if not picked.exists():
        subprocess.run(
            [
                *(sys.executable, "-m", "detector.gen.cli", "--out", str(full)),
                *("--days", "1", "--principals", "30", "--accounts", "4", "--seed", "7"),
            ],
            cwd=ROOT,
            check=True,
            capture_output=True,
            timeout=120,
        )
        for f in sorted((full / "AWSLogs").rglob("*.json.gz")):
            if any(f"_20261101T{h}" in f.name for h in HOURS):
                dest = picked / f.relative_to(full)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(f, dest)
    foreign = next(
        f
        for f in sorted((full / "AWSLogs").rglob(f"{SHARD1_ACCOUNT}_CloudTrail_*.json.gz"))
        if f"_20261101T{FOREIGN_HOUR}" in f.name
    )
    files = tuple(sorted(picked.rglob("*.json.gz"), key=delivery_order))
    return OrgTrail(picked, files, foreign, str(foreign.relative_to(full)))


def s3_event(key: str) -> str:
    return json.dumps(
        {
            "Records": [
                {
                    "eventSource": "aws:s3",
                    "eventName": "ObjectCreated:Put",
                    "s3": {"bucket": {"name": BUCKET}, "object": {"key": quote_plus(key, "/")}},
                }
            ]
        }
    )


def send_all(sqs: Any, url: str, bodies: Sequence[str]) -> None:
    for start in range(0, len(bodies), 10):
        entries = [
            {"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies[start : start + 10])
        ]
        assert not sqs.send_message_batch(QueueUrl=url, Entries=entries).get("Failed")


def create_queue(sqs: Any, name: str) -> str:
    dlq = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    redrive = {"deadLetterTargetArn": queue_arn(sqs, dlq), "maxReceiveCount": "3"}
    return str(
        sqs.create_queue(QueueName=name, Attributes={"RedrivePolicy": json.dumps(redrive)})[
            "QueueUrl"
        ]
    )


def wire(session: boto3.session.Session, plan: Plan) -> dict[str, str]:
    """Bucket + one queue (with DLQ) per shard, the notification configuration from the plan."""
    s3, sqs = session.client("s3"), session.client("sqs")
    s3.create_bucket(Bucket=BUCKET)
    urls = {s.queue: create_queue(sqs, s.queue) for s in plan.shards}
    config = notification_configuration(plan, {q: queue_arn(sqs, u) for q, u in urls.items()})
    assert overlaps(config) == []  # what S3 would check (moto does not)
    s3.put_bucket_notification_configuration(Bucket=BUCKET, NotificationConfiguration=config)
    stored = s3.get_bucket_notification_configuration(Bucket=BUCKET)
    assert len(stored["QueueConfigurations"]) == 10 and overlaps(stored) == []
    return urls


class Run:
    """``s3ad run --drain`` as a subprocess, findings to a JSONL file, logs to a file."""

    def __init__(
        self, tmp: Path, name: str, queue: str, flags: Sequence[str], env: Mapping[str, str]
    ) -> None:
        self.sink, self.log = tmp / f"{name}.jsonl", tmp / f"{name}.log"
        cmd = [
            *(sys.executable, "-m", "detector", "run", "--queue-url", queue, "--drain"),
            *("--sink", f"jsonl://{self.sink}", "--state", str(tmp / f"{name}-state")),
            *("--health-port", "-1", *flags),
        ]
        self._fh = open(self.log, "wb")  # noqa: SIM115 - closed in wait()
        self.proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=daemon_env({**FAST, **env}),
            stdout=subprocess.DEVNULL,
            stderr=self._fh,
        )

    def wait(self, deadline: float) -> None:
        try:
            code = self.proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            code = None
        finally:
            self._fh.close()
        assert code == 0, f"{self.log} (exit {code}):\n{self.log.read_text()[-3000:]}"

    def findings(self) -> dict[str, dict[str, Any]]:
        """id → last version published (updates follow their finding in the file)."""
        out: dict[str, dict[str, Any]] = {}
        for line in self.sink.read_text().splitlines() if self.sink.exists() else []:
            f = json.loads(line)
            out[f["id"]] = f
        return out

    def metrics(self) -> dict[str, Any]:
        return emf_lines(read_log(self.log))[-1]  # the final snapshot, written at exit


def finished(run: Run) -> dict[str, Any]:
    return next(d for d in read_log(run.log) if d.get("message") == "s3ad run finished")


def log_files(files: Sequence[Path]) -> list[Path]:
    """The log files among ``files`` (digest files are delivered too, and skipped)."""
    return [f for f in files if classify_key(str(f)) == LOG]


def records_in(path: Path) -> int:
    with gzip.open(path) as fh:
        return len(json.load(fh)["Records"])


def test_two_account_shards_find_what_one_daemon_finds(
    aws: boto3.session.Session, trail: OrgTrail, tmp_path: Path
) -> None:
    plan = plan_shards(2, org=ORG, bucket=BUCKET)
    urls = wire(aws, plan)
    s3, sqs = aws.client("s3"), aws.client("sqs")
    single = create_queue(sqs, "s3ad-single")
    shard0, shard1 = plan.shards

    # CloudTrail delivers; the bucket notifies the shard owning each key's account.
    for f in trail.files:
        s3.upload_file(str(f), BUCKET, trail.key(f))
    send_all(sqs, single, [s3_event(trail.key(f)) for f in trail.files])
    routed = {
        s.queue: [f for f in trail.files if plan.shard_for_key(trail.key(f)) == s]
        for s in plan.shards
    }
    assert all(routed.values()) and sum(map(len, routed.values())) == len(trail.files)

    # Fed to shard 0 on purpose: a notification of a shard-1 file (skipped by its key: were it
    # downloaded, the missing object would park the message in the DLQ), and shard-1 records
    # under a shard-0 key, routed to shard 0 by the bucket (refused by recipientAccountId).
    sqs.send_message(QueueUrl=urls[shard0.queue], MessageBody=s3_event(trail.foreign_key))
    disguised = trail.foreign_key.replace(SHARD1_ACCOUNT, SHARD0_ACCOUNT)
    assert key_account(disguised) == SHARD0_ACCOUNT
    s3.upload_file(str(trail.foreign), BUCKET, disguised)

    started = time.monotonic()
    runs = [
        Run(tmp_path, "shard0", urls[shard0.queue], shard0.run_flags(), {}),
        # The second shard is configured through the environment, as in an ECS task.
        Run(tmp_path, "shard1", urls[shard1.queue], [], shard1.environment()),
        Run(tmp_path, "single", single, [], {}),
    ]
    for r in runs:
        r.wait(deadline=started + 75)
    elapsed = time.monotonic() - started
    one, two, whole = (r.findings() for r in runs)

    assert whole, "the slice should hold findings"
    assert one and two, "each shard should have findings of its own"
    assert set(one) | set(two) == set(whole)
    assert not set(one) & set(two)
    assert {**one, **two} == whole  # the same final versions, not just the same ids
    assert {f["accountId"] for f in one.values()} <= {SHARD0_ACCOUNT, "444455556666"}
    assert all(shard0.filter.accepts(f["accountId"]) for f in one.values())
    assert all(shard1.filter.accepts(f["accountId"]) for f in two.values())

    m0, m1 = runs[0].metrics(), runs[1].metrics()
    assert m0["files.foreign_account"] == 1  # the notification of the shard-1 key
    assert m0["records.foreign_account"] == records_in(trail.foreign)  # the disguised file
    assert "files.foreign_account" not in m1 and "records.foreign_account" not in m1
    logged = [d for d in read_log(runs[0].log) if d.get("message", "").startswith("refusing")]
    assert [d["account"] for d in logged] == [SHARD1_ACCOUNT]  # once, not per file or record
    for queue in (*urls.values(), single):  # nothing left, nothing parked in a DLQ
        dlq = sqs.get_queue_url(QueueName=f"{queue.rsplit('/', 1)[-1]}-dlq")["QueueUrl"]
        assert total(sqs, queue) == 0 and total(sqs, dlq) == 0
    logs = {s.queue: routed[s.queue] for s in plan.shards}
    read = [finished(r)["files"] for r in runs[:2]]
    assert read == [len(log_files(logs[shard0.queue])) + 1, len(log_files(logs[shard1.queue]))]
    print(
        f"{len(trail.files)} files ({len(routed[shard0.queue])} + {len(routed[shard1.queue])}), "
        f"{len(whole)} findings ({len(one)} + {len(two)}), 3 daemons in {elapsed:.1f} s"
    )


def test_eventbridge_rules_route_each_account_to_its_shard_when_the_bucket_is_not_ours(
    aws: boto3.session.Session, trail: OrgTrail
) -> None:
    # The fallback for a bucket whose notification configuration belongs to someone else:
    # the owner only turns EventBridge delivery on; one rule per shard matches key prefixes.
    plan = plan_shards(2, org=ORG, bucket=BUCKET)
    s3, sqs, events = aws.client("s3"), aws.client("sqs"), aws.client("events")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_notification_configuration(
        Bucket=BUCKET, NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    urls = {s.queue: create_queue(sqs, s.queue) for s in plan.shards}
    for rule in eventbridge_rules(plan, BUCKET):
        events.put_rule(Name=rule["Name"], EventPattern=json.dumps(rule["EventPattern"]))
        target = {"Id": "shard", "Arn": queue_arn(sqs, urls[rule["Queue"]])}
        events.put_targets(Rule=rule["Name"], Targets=[target])

    one_per_account: dict[str, Path] = {}
    for f in trail.files:
        acct = key_account(trail.key(f))
        if acct and acct not in one_per_account:
            one_per_account[acct] = f
            s3.upload_file(str(f), BUCKET, trail.key(f))
    assert len(one_per_account) == 4

    for shard in plan.shards:
        bodies = drain_queue(sqs, urls[shard.queue])
        keys = {b["detail"]["object"]["key"] for b in bodies}
        assert keys == {trail.key(f) for a, f in one_per_account.items() if shard.filter.accepts(a)}
        assert {b["detail-type"] for b in bodies} == {"Object Created"}
