"""Findings as an analyst and a SIEM see them: shape, stable ids, safe strings, golden files."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import orjson
import pytest
from test_detect import ACCT, HOUR, T0, Trail, exfiltration, run, settings

from detector.detect.findings import finding_id

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden" / "findings.jsonl"
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def one_of_each() -> Trail:
    """A quiet day, then one episode per finding family, each by its own principal."""
    trail = Trail()
    people = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi")
    trail.baseline(hours=6, people=people)
    t = T0 + 6 * HOUR
    exfiltration(trail, t, "alice")
    for j in range(200):
        trail.call(
            t + 3600 + j,
            "DeleteObject",
            "alice",
            key=f"customers/0/{j}.csv",
            ip="203.0.113.66",
            ua="rclone/v1.66",
        )
    for j in range(120):
        trail.call(
            t + j,
            "DeleteObject",
            "bob",
            key=f"reports/{j}.csv",
            ip="192.0.2.10",
            ua="aws-cli/2.15.0 Python/3.11",
        )
    for j in range(30):
        trail.call(
            t + j,
            "CopyObject",
            "carol",
            key=f"reports/{j}.csv",
            request={"x-amz-server-side-encryption-customer-algorithm": "AES256"},
        )
    trail.call(t, "PutObject", "carol", key="reports/HOW_TO_RECOVER_YOUR_FILES.txt")
    for j in range(60):
        trail.call(
            t + j,
            "ListObjects",
            "dave",
            bucket=f"bucket-{j % 20}",
            error="AccessDenied",
            ip="192.0.2.99",
        )
    trail.call(t, "GetObject", "erin", key="a.csv", ip="185.220.101.4")
    trail.call(
        t,
        "ListObjects",
        "erin",
        ip="185.220.101.33",
        ua="aws-cli/2.15 Linux/6.6.9-amd64 kali-rolling",
    )
    trail.call(t, "DeleteBucketPublicAccessBlock", "frank", management=True)
    trail.call(
        t + 1,
        "PutBucketPolicy",
        "frank",
        management=True,
        request={
            "bucketPolicy": {
                "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"}]
            }
        },
    )
    trail.call(
        t + 2,
        "PutBucketAcl",
        "frank",
        bucket="logs",
        management=True,
        request={
            "AccessControlPolicy": {
                "AccessControlList": {
                    "Grant": [
                        {
                            "Grantee": {
                                "URI": "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
                            }
                        }
                    ]
                }
            }
        },
    )
    trail.call(
        t + 3, "PutBucketLogging", "frank", management=True, request={"BucketLoggingStatus": {}}
    )
    trail.call(
        t + 4,
        "PutAccountPublicAccessBlock",
        "frank",
        bucket="",
        management=True,
        request={"PublicAccessBlockConfiguration": {"BlockPublicAcls": False}},
    )
    trail.call(t, "GetObject", "root", ptype="Root", key="payroll.csv")
    return trail


@pytest.fixture(scope="module")
def findings() -> list[dict[str, Any]]:
    _, found = run(one_of_each().records, settings())
    return found


def firsts(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_type: dict[str, dict[str, Any]] = {}
    for f in found:
        by_type.setdefault(f["type"], f)
    return [by_type[t] for t in sorted(by_type)]


def test_every_family_is_raised(findings: list[dict[str, Any]]) -> None:
    assert {f["type"] for f in findings} >= {
        "AttackSequence:S3/CompromisedData",
        "Discovery:S3/AnomalousBehavior",
        "Exfiltration:S3/AnomalousBehavior",
        "Impact:S3/AnomalousBehavior.Delete",
        "Impact:S3/AnomalousBehavior.Write",
        "UnauthorizedAccess:S3/TorIPCaller",
        "PenTest:S3/KaliLinux",
        "Policy:S3/BucketBlockPublicAccessDisabled",
        "Policy:S3/AccountBlockPublicAccessDisabled",
        "Policy:S3/BucketAnonymousAccessGranted",
        "Policy:S3/BucketPublicAccessGranted",
        "Stealth:S3/ServerAccessLoggingDisabled",
    }


def test_one_finding_of_each_family_matches_the_golden_file(findings: list[dict[str, Any]]) -> None:
    got = b"".join(orjson.dumps(f, option=orjson.OPT_SORT_KEYS) + b"\n" for f in firsts(findings))
    if os.environ.get("S3AD_UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_bytes(got)
    assert got == GOLDEN.read_bytes(), "findings changed: review, then S3AD_UPDATE_GOLDEN=1 pytest"


def test_findings_have_guardduty_shape_and_times(findings: list[dict[str, Any]]) -> None:
    for f in findings:
        assert f["schemaVersion"] == "2.0" and f["accountId"] == ACCT and f["partition"] == "aws"
        assert re.fullmatch(r"[0-9a-f]{32}", f["id"]) and f["arn"].endswith(f"/finding/{f['id']}")
        assert 1.0 <= f["severity"] <= 10.0
        for t in (
            f["createdAt"],
            f["updatedAt"],
            f["service"]["eventFirstSeen"],
            f["service"]["eventLastSeen"],
        ):
            assert ISO.match(t)
        call = f["service"]["action"]["awsApiCallAction"]
        assert f["service"]["action"]["actionType"] == "AWS_API_CALL" and call["api"]
        assert 1 <= len(f["service"]["evidence"]["eventIds"]) <= 10
        assert f["service"]["detection"]["anomaly"]["profiles"]
        assert f["title"] and "\n" not in f["title"] and len(f["title"]) < 300


def test_ids_depend_on_type_principal_and_resource_only() -> None:
    a = finding_id("Exfiltration:S3/AnomalousBehavior", ACCT, "arn:aws:iam::1:user/a", "")
    assert a == finding_id("Exfiltration:S3/AnomalousBehavior", ACCT, "arn:aws:iam::1:user/a", "")
    assert a != finding_id("Exfiltration:S3/AnomalousBehavior", ACCT, "arn:aws:iam::1:user/a", "b")
    assert a != finding_id("Impact:S3/AnomalousBehavior.Delete", ACCT, "arn:aws:iam::1:user/a", "")


def test_times_come_from_the_events_not_the_clock(findings: list[dict[str, Any]]) -> None:
    tor = next(f for f in findings if f["type"] == "UnauthorizedAccess:S3/TorIPCaller")
    assert tor["service"]["eventFirstSeen"] == "2026-11-01T06:00:00.000Z"
    assert tor["createdAt"] == "2026-11-01T06:05:00.000Z"  # the end of its window


def test_hostile_strings_are_escaped_and_trimmed() -> None:
    trail = Trail()
    trail.baseline(hours=2)
    ua = "kali\x1b[2J\nFAKE LOG LINE " + "A" * 5000
    trail.call(T0 + 2 * HOUR, "GetObject", "bob", key="x\u202ey", ua=ua)
    _, found = run(trail.records, settings())
    (f,) = found
    shown = f["service"]["action"]["awsApiCallAction"]["userAgent"]
    assert "\x1b" not in shown and "\n" not in shown and "\\x1b" in shown
    assert len(shown) < 300 and shown.endswith(")")
    assert "\x1b" not in orjson.dumps(f).decode()
