"""The detector end to end: CloudTrail records → engine → detector → findings.

``Trail`` builds real-shaped CloudTrail records (the other detection tests import it): a quiet
baseline of a few principals with steady habits, then whatever a test adds on top.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable
from typing import Any

import pytest

from detector.config import Settings, load_settings
from detector.detect.detector import Detector
from detector.engine import Engine

ACCT = "111122223333"
T0 = 1_793_491_200.0  # 2026-11-01T00:00:00Z
HOUR = 3600.0
FAST = {  # small models so a few hours of baseline warm everything up
    "models.warmup_windows": 60,
    "models.river_window": 20,
    "models.min_history_windows": 8,
    "models.learning_hours": 1.0,
    "window.lateness_seconds": 0,
}


def settings(**overrides: Any) -> Settings:
    merged = {**FAST, **{k.replace("__", "."): v for k, v in overrides.items()}}
    return load_settings(None, merged, env={})


def iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def identity(who: str, ptype: str = "IAMUser", account: str = ACCT) -> dict[str, Any]:
    if ptype == "AssumedRole":
        return {
            "type": "AssumedRole",
            "arn": f"arn:aws:sts::{account}:assumed-role/{who}/session-1",
            "accountId": account,
            "accessKeyId": "ASIA" + who.upper()[:12],
            "sessionContext": {
                "sessionIssuer": {"type": "Role", "arn": f"arn:aws:iam::{account}:role/{who}"}
            },
        }
    if ptype == "Root":
        return {"type": "Root", "arn": f"arn:aws:iam::{account}:root", "accountId": account}
    if ptype == "AWSService":
        return {"type": "AWSService", "invokedBy": who}
    arn = f"arn:aws:iam::{account}:user/{who}"
    return {
        "type": ptype,
        "arn": arn,
        "accountId": account,
        "accessKeyId": "AKIA" + who.upper()[:12],
    }


class Trail:
    """Accumulates CloudTrail records; every record gets a unique, deterministic eventID."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def call(
        self,
        t: float,
        name: str,
        who: str = "alice",
        *,
        ptype: str = "IAMUser",
        bucket: str = "data-bucket",
        key: str = "",
        ip: str = "198.51.100.7",
        ua: str = "aws-cli/2.15.0 Python/3.11",
        out: int = 0,
        error: str = "",
        request: dict[str, Any] | None = None,
        management: bool = False,
        account: str = ACCT,
    ) -> None:
        rp: dict[str, Any] = {
            "bucketName": bucket,
            **({"key": key} if key else {}),
            **(request or {}),
        }
        self.records.append(
            {
                "eventVersion": "1.09",
                "eventTime": iso(t),
                "eventSource": "s3.amazonaws.com",
                "eventName": name,
                "awsRegion": "eu-west-1",
                "sourceIPAddress": ip,
                "userAgent": ua,
                "requestParameters": rp,
                "additionalEventData": {"bytesTransferredOut": out},
                "eventID": f"ev-{len(self.records):07d}",
                "eventCategory": "Management" if management else "Data",
                "recipientAccountId": account,
                "userIdentity": identity(who, ptype, account),
                **({"errorCode": error} if error else {}),
            }
        )

    def baseline(
        self, hours: float, start: float = T0, people: Iterable[str] = ("alice", "bob", "carol")
    ) -> None:
        """Each person reads 3 objects and lists once every 5 minutes, from their own IP."""
        n = int(hours * 12)
        for i, who in enumerate(people):
            for k in range(n):
                t = start + k * 300 + 10 + i
                self.call(t, "ListObjects", who, ip=f"198.51.100.{i + 1}")
                for j in range(3):
                    self.call(
                        t + 20 + j,
                        "GetObject",
                        who,
                        key=f"reports/{k % 40}/{j}.csv",
                        ip=f"198.51.100.{i + 1}",
                        out=200_000,
                    )
        for k in range(n):  # a workload role writes steadily
            t = start + k * 300 + 30
            for j in range(4):
                self.call(
                    t + j,
                    "PutObject",
                    "etl-prod",
                    ptype="AssumedRole",
                    key=f"out/{k}/{j}.parquet",
                    ip="10.0.0.5",
                    ua="Boto3/1.34 Python/3.11",
                )


def run(
    records: list[dict[str, Any]], s: Settings, detector: Detector | None = None
) -> tuple[Detector, list[dict[str, Any]]]:
    """Feed records in time order, 200 at a time (a file's worth), and collect every finding."""
    det = detector or Detector(s)
    engine = Engine(s, notable=det.notable, clock=lambda: T0 + 30 * 86400)
    det.bind(engine.history)
    return det, feed(engine, det, sorted(records, key=lambda r: r["eventTime"]), final=True)


@pytest.fixture(scope="module")
def quiet() -> Trail:
    trail = Trail()
    trail.baseline(hours=6)
    return trail


def exfiltration(trail: Trail, t: float, who: str = "alice") -> None:
    for k in range(3):  # 15 minutes of bulk reads from a new IP with a new tool
        for j in range(150):
            trail.call(
                t + k * 300 + j,
                "GetObject",
                who,
                key=f"customers/{k}/{j}.csv",
                ip="203.0.113.66",
                ua="rclone/v1.66",
                out=8_000_000,
            )


def test_a_quiet_trail_raises_nothing(quiet: Trail) -> None:
    _, found = run(quiet.records, settings())
    assert found == []


def test_bulk_reads_from_a_new_ip_are_an_exfiltration_finding_a_person_can_read(
    quiet: Trail,
) -> None:
    trail = Trail()
    trail.records = list(quiet.records)
    exfiltration(trail, T0 + 6 * HOUR)
    _, found = run(trail.records, settings())
    types = {f["type"] for f in found}
    assert "Exfiltration:S3/AnomalousBehavior" in types
    f = next(f for f in found if f["type"] == "Exfiltration:S3/AnomalousBehavior")
    assert f["title"].startswith("user/alice read 1.2 GB (150 objects) from 1 bucket")
    assert "its usual" in f["title"] and "never seen" in f["title"]
    assert 7.0 <= f["severity"] <= 8.9
    profiles = f["service"]["detection"]["anomaly"]["profiles"]["user/alice"]
    assert profiles["remoteIp"][0]["profileSubtype"] == "UNSEEN"
    assert profiles["remoteIp"][0]["observations"]["text"] == ["203.0.113.66"]


def test_repeats_aggregate_into_one_finding_with_a_count(quiet: Trail) -> None:
    trail = Trail()
    trail.records = list(quiet.records)
    exfiltration(trail, T0 + 6 * HOUR)
    _, found = run(trail.records, settings())
    exfil = [f for f in found if f["type"] == "Exfiltration:S3/AnomalousBehavior"]
    assert len({f["id"] for f in exfil}) == 1
    last = exfil[-1]
    assert last["service"]["count"] == len(exfil) >= 2
    assert last["createdAt"] == exfil[0]["createdAt"] < last["updatedAt"]
    assert last["service"]["eventFirstSeen"] < last["service"]["eventLastSeen"]


def test_a_replay_reproduces_the_same_findings_byte_for_byte(quiet: Trail) -> None:
    trail = Trail()
    trail.records = list(quiet.records)
    exfiltration(trail, T0 + 6 * HOUR)
    _, first = run(trail.records, settings())
    _, second = run(trail.records, settings())
    assert first == second and first


def test_rules_only_keeps_the_rules_and_drops_the_anomalies(quiet: Trail) -> None:
    trail = Trail()
    trail.records = list(quiet.records)
    exfiltration(trail, T0 + 6 * HOUR)
    trail.call(T0 + 6 * HOUR + 100, "GetObject", "bob", key="x", ip="185.220.101.4")
    det, found = run(trail.records, settings(models__enabled=False))
    assert {f["type"] for f in found} == {"UnauthorizedAccess:S3/TorIPCaller"}
    assert "models disabled: running rules only" in det.startup_notes()


def test_windows_with_findings_are_not_learned(quiet: Trail) -> None:
    trail = Trail()
    trail.records = list(quiet.records)
    exfiltration(trail, T0 + 6 * HOUR)
    det, found = run(trail.records, settings())
    h = det.history.peek(ACCT, f"arn:aws:iam::{ACCT}:user/alice")
    assert h is not None and found
    assert "203.0.113.66" not in h.ips  # the attacker's IP never became "usual"


def test_startup_says_what_runs_without_an_isolation_forest() -> None:
    notes = Detector(settings()).startup_notes()
    assert "no IsolationForest artifact: running rules + online model" in notes
    assert any(n.startswith("online: cold") for n in notes)


def test_exfiltration_then_mass_deletion_is_an_attack_sequence(quiet: Trail) -> None:
    trail = Trail()
    trail.records = list(quiet.records)
    exfiltration(trail, T0 + 6 * HOUR)
    t = T0 + 7 * HOUR
    for j in range(200):
        trail.call(
            t + j,
            "DeleteObject",
            "alice",
            key=f"customers/0/{j}.csv",
            ip="203.0.113.66",
            ua="rclone/v1.66",
        )
    _, found = run(trail.records, settings())
    seq = [f for f in found if f["type"] == "AttackSequence:S3/CompromisedData"]
    assert seq and seq[0]["severity"] >= 9.0
    assert "then made 200 delete calls" in seq[0]["title"]


def test_a_restored_detector_continues_exactly_where_it_stopped(quiet: Trail) -> None:
    trail = Trail()
    trail.records = list(quiet.records)
    exfiltration(trail, T0 + 6 * HOUR)
    s = settings()
    _, straight = run(trail.records, s)
    ordered = sorted(trail.records, key=lambda r: r["eventTime"])
    half = len(ordered) // 2
    det1 = Detector(s)
    eng1 = Engine(s, notable=det1.notable, clock=lambda: T0 + 30 * 86400)
    det1.bind(eng1.history)
    before = feed(eng1, det1, ordered[:half])
    det2 = Detector(s)
    eng2 = Engine(s, notable=det2.notable, clock=lambda: T0 + 30 * 86400)
    det2.bind(eng2.history)
    eng2.restore(eng1.state())
    det2.restore(det1.snapshot())
    after = feed(eng2, det2, ordered[half:], final=True)
    assert before + after == straight


def feed(
    engine: Engine, det: Detector, records: list[dict[str, Any]], final: bool = False
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i in range(0, len(records), 200):
        engine.ingest(records[i : i + 200])
        for batch in engine.rounds():
            out += det.process(batch)
            engine.learn(det.learnable(batch))
    if final:
        for batch in engine.rounds(final=True):
            out += det.process(batch)
            engine.learn(det.learnable(batch))
    return out


@pytest.mark.parametrize(
    ("rule", "hidden"),
    [
        ({"principal": "user/alice"}, True),
        ({"principal": "user/alice", "expires": "2026-11-01T03:00:00Z"}, False),  # expired
        ({"bucket": "data-*", "type": "Exfiltration:*"}, True),
        ({"ip": "203.0.113.0/24"}, True),
        ({"principal": "user/bob"}, False),
    ],
)
def test_suppression_rules_hide_matching_findings_and_count_them(
    quiet: Trail, rule: dict[str, str], hidden: bool
) -> None:
    trail = Trail()
    trail.records = list(quiet.records)
    exfiltration(trail, T0 + 6 * HOUR)
    s = settings()
    s = dataclasses.replace(s, suppress=dataclasses.replace(s.suppress, rules=(rule,)))
    det, found = run(trail.records, s)
    exfil = [f for f in found if f["type"] == "Exfiltration:S3/AnomalousBehavior"]
    assert (not exfil) == hidden
    assert (det.stats.suppressed > 0) == hidden


def test_trusted_ips_raise_nothing(quiet: Trail) -> None:
    trail = Trail()
    trail.records = list(quiet.records)
    exfiltration(trail, T0 + 6 * HOUR)
    s = settings()
    s = dataclasses.replace(
        s, suppress=dataclasses.replace(s.suppress, trusted_ips=("203.0.113.0/24",))
    )
    _, found = run(trail.records, s)
    assert found == []


def test_late_events_still_reach_the_event_rules() -> None:
    trail = Trail()
    trail.baseline(hours=2)
    late = Trail()
    late.call(
        T0 + HOUR, "PutBucketAcl", "bob", request={"x-amz-acl": ["public-read"]}, management=True
    )
    s = settings(window__lateness_seconds=0)
    det = Detector(s)
    engine = Engine(s, notable=det.notable, clock=lambda: T0 + 30 * 86400)
    det.bind(engine.history)
    found: list[dict[str, Any]] = []
    for records in (trail.records, late.records):
        engine.ingest(records)
        for batch in engine.rounds():
            found += det.process(batch)
            engine.learn(det.learnable(batch))
    assert engine.counts.late == 1
    assert [f["type"] for f in found] == ["Policy:S3/BucketAnonymousAccessGranted"]
