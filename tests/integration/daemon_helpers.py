"""Shared pieces of the daemon tests: a small generated trail, the AWS wiring, `s3ad run`.

The wiring is the one `scripts/demo.py` builds (copied, not imported): a trail bucket whose
ObjectCreated notifications go to a queue with a DLQ, and an EventBridge bus whose rule sends
s3ad's findings to a target queue standing in for a SIEM. The daemon runs as a real
subprocess against the moto server, configured the way an operator would: flags and
``S3AD_SERVICE_*`` environment variables.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

ROOT = Path(__file__).resolve().parents[2]
BUCKET = "s3ad-test-trail"
BUS = "s3ad-test-bus"
# The generated trail is dated 2026-11-01; these delivery hours hold the first labelled attacks
# (block-public-access removals, a Parrot OS pentest, a mass delete, SSE-C re-encryption).
HOURS = ("12", "13", "14", "15")
# Fast restarts: the heartbeat extends visibility to 6 s every 2 s, so a killed process's
# messages come back within 6 s, and a restart holds window closing for 8 s.
FAST = {
    "VISIBILITY_TIMEOUT": "6",
    "HEARTBEAT_SECONDS": "2",
    "CHECKPOINT_SECONDS": "1",
    "WAIT_SECONDS": "1",
    "METRICS_SECONDS": "1",
}


# --- the trail -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Trail:
    """A few hours of a generated trail: its files and the findings ``s3ad replay`` makes."""

    root: Path  # holds AWSLogs/...; keys are paths relative to it
    files: tuple[Path, ...]  # in delivery order (the time in the file name)
    findings: dict[str, dict[str, Any]]  # id → the replay's last version of the finding
    records: int  # S3 data events windowed by replay

    @property
    def finding_ids(self) -> frozenset[str]:
        return frozenset(self.findings)

    def keys(self) -> list[str]:
        return [str(f.relative_to(self.root)) for f in self.files]


def delivery_order(path: Path) -> tuple[str, str]:
    # <acct>_CloudTrail_<region>_YYYYMMDDTHHmmZ_<id>.json.gz: sort by delivery time, as
    # CloudTrail would have written them.
    return (path.name.split("_")[-2], str(path))


def small_trail(factory: pytest.TempPathFactory, hours: Iterable[str] = HOURS) -> Trail:
    """Generate (once per session: cached under the base temp dir) and replay a small trail."""
    base = factory.getbasetemp() / "daemon-trail"
    done = base / "trail.json"
    if not done.exists():
        full = base / "full"
        subprocess.run(
            [
                *(sys.executable, "-m", "detector.gen.cli", "--out", str(full)),
                *("--days", "1", "--principals", "10", "--accounts", "1", "--seed", "7"),
            ],
            cwd=ROOT,
            check=True,
            capture_output=True,
            timeout=120,
        )
        picked = base / "picked"
        wanted = tuple(f"_20261101T{h}" for h in hours)
        for f in sorted((full / "AWSLogs").rglob("*.json.gz")):
            if "CloudTrail-Digest" not in f.parts and any(w in f.name for w in wanted):
                dest = picked / f.relative_to(full)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(f, dest)
        out = base / "replay.jsonl"
        replay = subprocess.run(
            [sys.executable, "-m", "detector", "replay", "--sink", f"jsonl://{out}", str(picked)],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        )
        findings: dict[str, Any] = {}
        for line in out.read_text().splitlines():  # updates follow: the last one wins
            finding = json.loads(line)
            findings[finding["id"]] = finding
        records = _replayed_records(replay.stdout + replay.stderr)
        done.write_text(json.dumps({"findings": findings, "records": records}))
    doc = json.loads(done.read_text())
    root = base / "picked"
    files = tuple(sorted(root.rglob("*.json.gz"), key=delivery_order))
    assert files and doc["findings"], "the trail slice should hold files and findings"
    return Trail(root, files, doc["findings"], doc["records"])


def _replayed_records(summary: str) -> int:
    # "records    4,574 read: 4,573 windowed, 0 late, ..."
    for line in summary.splitlines():
        if line.startswith("records") and "windowed" in line:
            part = line.split(":", 1)[1].split("windowed")[0]
            return int(part.strip().replace(",", ""))
    raise AssertionError(f"no records line in the replay summary:\n{summary}")


def s3_records(path: Path) -> int:
    with gzip.open(path) as fh:
        return len(json.load(fh)["Records"])


# --- AWS wiring (as scripts/demo.py) ---------------------------------------------------------


@dataclass(frozen=True)
class Stack:
    queue: str
    dlq: str
    target: str
    bucket: str = BUCKET
    bus: str = BUS


def queue_arn(sqs: Any, url: str) -> str:
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    return str(attrs["QueueArn"])


def create_stack(
    session: boto3.session.Session,
    *,
    visibility: int = 30,
    max_receive: int = 3,
    notify: bool = True,
) -> Stack:
    """Bucket (+ notification → queue), queue with DLQ, bus + rule → target queue."""
    s3, sqs, events = session.client("s3"), session.client("sqs"), session.client("events")
    s3.create_bucket(Bucket=BUCKET)
    dlq = sqs.create_queue(QueueName="s3ad-test-dlq")["QueueUrl"]
    redrive = json.dumps(
        {"deadLetterTargetArn": queue_arn(sqs, dlq), "maxReceiveCount": str(max_receive)}
    )
    queue = sqs.create_queue(
        QueueName="s3ad-test-notifications",
        Attributes={"RedrivePolicy": redrive, "VisibilityTimeout": str(visibility)},
    )["QueueUrl"]
    if notify:
        s3.put_bucket_notification_configuration(
            Bucket=BUCKET,
            NotificationConfiguration={
                "QueueConfigurations": [
                    {
                        "QueueArn": queue_arn(sqs, queue),
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
    target = sqs.create_queue(QueueName="s3ad-test-findings")["QueueUrl"]
    events.create_event_bus(Name=BUS)
    events.put_rule(
        Name="s3ad-findings",
        EventBusName=BUS,
        EventPattern=json.dumps({"source": ["s3ad"], "detail-type": ["GuardDuty Finding"]}),
    )
    events.put_targets(
        Rule="s3ad-findings",
        EventBusName=BUS,
        Targets=[{"Id": "siem", "Arn": queue_arn(sqs, target)}],
    )
    return Stack(queue=queue, dlq=dlq, target=target)


def upload(
    session: boto3.session.Session, trail: Trail, files: Iterable[Path] | None = None
) -> int:
    s3 = session.client("s3")
    n = 0
    for f in trail.files if files is None else files:
        s3.upload_file(str(f), BUCKET, str(f.relative_to(trail.root)))
        n += 1
    return n


def depth(sqs: Any, url: str) -> dict[str, int]:
    """The queue's approximate visible / in-flight / delayed counts."""
    names = [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    ]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return {
        "visible": int(attrs.get(names[0], 0)),
        "in_flight": int(attrs.get(names[1], 0)),
        "delayed": int(attrs.get(names[2], 0)),
    }


def total(sqs: Any, url: str) -> int:
    return sum(depth(sqs, url).values())


def drain_queue(sqs: Any, url: str) -> list[dict[str, Any]]:
    """Every message body on ``url`` (parsed), deleting them as a consumer would."""
    out: list[dict[str, Any]] = []
    while True:
        msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
            "Messages", []
        )
        if not msgs:
            return out
        out.extend(json.loads(m["Body"]) for m in msgs)
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)
            ],
        )


def peek_bodies(sqs: Any, url: str) -> list[str]:
    """Bodies of the messages on ``url``, left on the queue (visibility 0 on receive)."""
    seen: dict[str, str] = {}
    for _ in range(5):
        msgs = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0, WaitTimeSeconds=0
        ).get("Messages", [])
        for m in msgs:
            seen[m["MessageId"]] = m["Body"]
        if not msgs:
            break
    return sorted(seen.values())


# --- the daemon ------------------------------------------------------------------------------


def daemon_env(service: Mapping[str, str] | None = None, **extra: str) -> dict[str, str]:
    """The test's environment (moto endpoint, fake credentials) plus ``S3AD_SERVICE_*``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("S3AD_")}
    env.update({f"S3AD_SERVICE_{k}": v for k, v in (service or {}).items()})
    env.update(extra)
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Daemon:
    """One ``s3ad run`` subprocess; its stderr (JSON logs + EMF lines) goes to ``log``."""

    def __init__(
        self,
        stack: Stack,
        state: Path | str | None,
        log: Path,
        *,
        drain: bool = True,
        service: Mapping[str, str] | None = None,
        sinks: Iterable[str] | None = None,
        log_level: str = "INFO",
    ) -> None:
        cmd = [
            *(sys.executable, "-m", "detector", "run", "--queue-url", stack.queue),
            *("--health-port", "0", "--log-level", log_level),
        ]
        for sink in sinks if sinks is not None else [f"eventbridge://{stack.bus}"]:
            cmd += ["--sink", sink]
        if state is not None:
            cmd += ["--state", str(state)]
        if drain:
            cmd.append("--drain")
        self.log = log
        self._fh = open(log, "ab")  # noqa: SIM115 - closed in wait()
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, env=daemon_env(service), stdout=subprocess.DEVNULL, stderr=self._fh
        )

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(
                f"s3ad run did not exit within {timeout} s; log: {self.log}"
            ) from exc
        finally:
            self._fh.close()

    def terminate(self) -> None:
        self.proc.send_signal(signal.SIGTERM)

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self._fh.close()

    def lines(self) -> list[dict[str, Any]]:
        return read_log(self.log)

    def wait_for(self, predicate: Any, timeout: float, what: str) -> dict[str, Any]:
        """The first log line satisfying ``predicate``; fails after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines():
                if predicate(line):
                    return line
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"no log line for {what} within {timeout} s; log: {self.log}")

    def health_port(self, timeout: float = 30.0) -> int:
        line = self.wait_for(
            lambda d: d.get("message") == "health endpoints up", timeout, "health endpoints"
        )
        return int(line["port"])


def read_log(path: Path) -> list[dict[str, Any]]:
    """The JSON lines of a daemon's stderr (a killed process may leave half a line)."""
    out = []
    for raw in path.read_text(errors="replace").splitlines():
        try:
            doc = json.loads(raw)
        except ValueError:
            continue
        if isinstance(doc, dict):
            out.append(doc)
    return out


def emf_lines(lines: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for d in lines if "_aws" in d]


def objects_read(lines: Iterable[dict[str, Any]]) -> list[str]:
    """Keys of the objects the daemon read (its DEBUG "object read" lines)."""
    prefix = f"s3://{BUCKET}/"
    return [str(d["object"])[len(prefix) :] for d in lines if d.get("message") == "object read"]


def http_get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def assert_final_versions_delivered(trail: Trail, delivered: Iterable[dict[str, Any]]) -> None:
    """The SIEM received each finding as the replay ends it (counts, last seen, evidence)."""
    versions: dict[str, list[dict[str, Any]]] = {}
    for f in delivered:
        versions.setdefault(f["id"], []).append(f)
    for fid, final in trail.findings.items():
        got = versions.get(fid, [])
        assert final in got, f"{fid}: final version never delivered; {_closest_diff(final, got)}"


def _closest_diff(want: dict[str, Any], got: list[dict[str, Any]]) -> str:
    """How the delivered version nearest to ``want`` differs from it, field by field."""
    if not got:
        return "no version delivered"

    def flat(doc: Any, path: str = "") -> dict[str, Any]:
        if isinstance(doc, str) and doc.startswith("{"):  # additionalInfo's JSON string
            with contextlib.suppress(ValueError):
                doc = json.loads(doc)
        if not isinstance(doc, dict):
            return {path: doc}
        return {k: v for key, sub in doc.items() for k, v in flat(sub, f"{path}.{key}").items()}

    def diff(have: dict[str, Any]) -> dict[str, Any]:
        a, b = flat(want), flat(have)
        return {k: (a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}

    nearest = min((diff(have) for have in got), key=len)
    return f"{len(got)} versions delivered; the nearest differs in (want, got): {nearest}"


def findings_of(events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ``detail`` of each EventBridge event, checking the envelope on the way."""
    out = []
    for ev in events:
        assert ev["source"] == "s3ad"
        assert ev["detail-type"] == "GuardDuty Finding"
        detail = ev["detail"]
        assert detail["id"] and detail["type"] and 1.0 <= float(detail["severity"]) <= 10.0
        buckets = (detail.get("resource") or {}).get("s3BucketDetails") or []
        assert set(ev["resources"]) == {b["arn"] for b in buckets}  # the buckets concerned
        out.append(detail)
    return out
