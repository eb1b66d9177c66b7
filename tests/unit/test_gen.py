"""The trail generator: what readers, detectors and benchmarks rely on in its output."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
from collections import Counter
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from deadlines import deadline

import detector.gen
from detector.gen import GenConfig, generate
from detector.gen.cli import main
from detector.gen.world import build_world

LOG_KEY = re.compile(
    r"^AWSLogs/(o-[a-z0-9]{10,32}/)?(\d{12})/CloudTrail/([a-z0-9-]+)/(\d{4})/(\d{2})/(\d{2})/"
    r"\2_CloudTrail_\3_(\d{8}T\d{4}Z)_[A-Za-z0-9]{16}\.json\.gz$"
)
DIGEST_KEY = re.compile(
    r"^AWSLogs/(o-[a-z0-9]{10,32}/)?(\d{12})/CloudTrail-Digest/([a-z0-9-]+)/\d{4}/\d{2}/\d{2}/"
    r"\2_CloudTrail-Digest_\3_[\w-]+_\3_\d{8}T\d{6}Z\.json\.gz$"
)
IDENTITY_TYPES = {
    "IAMUser",
    "AssumedRole",
    "Root",
    "AWSAccount",
    "AWSService",
    "FederatedUser",
    "IdentityCenterUser",
}


def small(out: Path, workers: int = 1) -> GenConfig:
    """A one-day, 40-principal, ~20k-record trail: every feature, a second to build."""
    return GenConfig(out=str(out), days=1, principals=40, records=20000, workers=workers)


def principal_key(rec: dict[str, Any]) -> str | None:
    """The label key format, computed from a record exactly as the brief states it."""
    ui = rec.get("userIdentity") or {}
    kind = ui.get("type")
    if kind == "AssumedRole":
        return str(ui["sessionContext"]["sessionIssuer"]["arn"])
    if kind in ("IAMUser", "Root", "FederatedUser"):
        return str(ui["arn"])
    if kind == "AWSAccount":
        if ui["accountId"] == "ANONYMOUS_PRINCIPAL":
            return f"anonymous:{(rec.get('requestParameters') or {}).get('bucketName')}"
        return f"account:{ui['accountId']}"
    if kind == "AWSService":
        return f"service:{ui['invokedBy']}"
    if kind == "IdentityCenterUser":
        return f"identitycenter:{ui['onBehalfOf']['userId']}"
    return ui.get("arn") or ui.get("principalId")


def epoch(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


class Trail:
    """A generated trail, parsed once."""

    def __init__(self, root: Path, summary: dict[str, Any]) -> None:
        self.root, self.summary = root, summary
        self.files = snapshot(root)
        self.logs: dict[str, list[dict[str, Any]]] = {}
        self.digests: dict[str, dict[str, Any]] = {}
        self.raw: dict[str, bytes] = {}
        for key, blob in self.files.items():
            if not key.endswith(".json.gz"):
                continue
            data = gzip.decompress(blob)
            doc = orjson.loads(data)
            if "/CloudTrail-Digest/" in key:
                self.digests[key] = doc
            else:
                self.raw[key] = data
                self.logs[key] = doc["Records"]
        self.records = [r for recs in self.logs.values() for r in recs]
        self.principals: dict[str | None, list[dict[str, Any]]] = {}
        for r in self.records:
            self.principals.setdefault(principal_key(r), []).append(r)
        self.labels = [
            json.loads(line) for line in (root / "labels.jsonl").read_text().splitlines()
        ]

    def by_principal(self, key: str) -> list[dict[str, Any]]:
        return self.principals.get(key, [])


@pytest.fixture(scope="module")
def trail(tmp_path_factory: pytest.TempPathFactory) -> Trail:
    out = tmp_path_factory.mktemp("trail")
    return Trail(out, generate(small(out)))


def test_same_arguments_give_byte_identical_files(trail: Trail, tmp_path: Path) -> None:
    generate(small(tmp_path))
    assert snapshot(tmp_path) == trail.files


def test_worker_count_does_not_change_the_output(trail: Trail, tmp_path: Path) -> None:
    generate(small(tmp_path, workers=2))
    assert snapshot(tmp_path) == trail.files


def _killed_block(cfg: GenConfig, block: Any) -> Any:
    os._exit(137)  # as the kernel kills a worker for memory


def test_a_worker_killed_fails_the_run_instead_of_hanging_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(detector.gen, "run_block", _killed_block)
    with deadline(60), pytest.raises(BrokenProcessPool):
        generate(small(tmp_path, workers=2))


def test_a_different_seed_gives_a_different_world() -> None:
    a = build_world(GenConfig(out="unused", principals=10, records=3000))
    b = build_world(GenConfig(out="unused", principals=10, records=3000, seed=8))
    assert [p.key for p in a.principals] != [p.key for p in b.principals]
    assert a.labels != b.labels


def test_layout_is_cloudtrails_and_names_carry_the_delivery_time(trail: Trail) -> None:
    assert trail.logs and trail.digests
    for key, records in trail.logs.items():
        m = LOG_KEY.match(key)
        assert m, key
        assert m.group(1) == "o-abc123def4/"
        delivered = datetime.strptime(m.group(7), "%Y%m%dT%H%MZ").replace(tzinfo=UTC).timestamp()
        assert records and all(r["recipientAccountId"] == m.group(2) for r in records)
        assert all(r["awsRegion"] == m.group(3) for r in records)
        assert all(epoch(r["eventTime"]) <= delivered for r in records)
    for key in trail.digests:
        assert DIGEST_KEY.match(key), key
    accounts = {LOG_KEY.match(k).group(2) for k in trail.logs}  # type: ignore[union-attr]
    regions = {LOG_KEY.match(k).group(3) for k in trail.logs}  # type: ignore[union-attr]
    assert len(accounts) >= 2 and len(regions) == 2
    extra = {p.name for p in trail.root.iterdir()} - {"AWSLogs"}
    assert extra == {"labels.jsonl", "tor_exits.txt"}


def test_files_are_gzip_with_a_zero_mtime(trail: Trail) -> None:
    blob = trail.files[next(iter(trail.logs))]
    assert blob[:2] == b"\x1f\x8b" and blob[4:8] == b"\0\0\0\0"


def test_digests_have_no_records_and_list_the_hours_log_files(trail: Trail) -> None:
    listed = set()
    for doc in trail.digests.values():
        assert "Records" not in doc
        for entry in doc["logFiles"]:
            listed.add(entry["s3Object"])
            assert entry["hashValue"] == hashlib.sha256(trail.raw[entry["s3Object"]]).hexdigest()
    assert listed == set(trail.logs)


def test_every_user_identity_type_appears(trail: Trail) -> None:
    types = Counter((r.get("userIdentity") or {}).get("type") for r in trail.records)
    assert set(types) >= IDENTITY_TYPES
    anonymous = [
        r for r in trail.records if r["userIdentity"].get("accountId") == "ANONYMOUS_PRINCIPAL"
    ]
    assert anonymous and all(
        "AuthenticationMethod" not in (r["additionalEventData"] or {}) for r in anonymous
    )
    services = {
        r["userIdentity"]["invokedBy"]
        for r in trail.records
        if r["userIdentity"]["type"] == "AWSService"
    }
    assert {"s3.amazonaws.com", "cloudtrail.amazonaws.com"} <= services
    center = [r for r in trail.records if r["userIdentity"]["type"] == "IdentityCenterUser"]
    assert all(r["userIdentity"]["onBehalfOf"]["userId"] for r in center)
    roles = [r["userIdentity"] for r in trail.records if r["userIdentity"]["type"] == "AssumedRole"]
    assert all(u["accessKeyId"].startswith("ASIA") for u in roles)
    assert any("ec2RoleDelivery" in u["sessionContext"] for u in roles)
    assert any("sourceIdentity" in u["sessionContext"] for u in roles)


def test_some_records_arrive_late_and_files_are_not_strictly_sorted(trail: Trail) -> None:
    late = unsorted = 0
    for key, records in trail.logs.items():
        stamp = LOG_KEY.match(key).group(7)  # type: ignore[union-attr]
        delivered = datetime.strptime(stamp, "%Y%m%dT%H%MZ").replace(tzinfo=UTC).timestamp()
        late += sum(1 for r in records if delivered - epoch(r["eventTime"]) >= 600)
        times = [r["eventTime"] for r in records]
        unsorted += times != sorted(times)
    assert 0.005 < late / len(trail.records) < 0.15
    assert unsorted > len(trail.logs) / 4


def test_records_look_like_real_s3_data_events(trail: Trail) -> None:
    s3 = [r for r in trail.records if r["eventSource"] == "s3.amazonaws.com"]
    assert len(s3) < len(trail.records)  # STS/EC2/KMS events are mixed in
    sizes = sorted(len(json.dumps(r)) for r in s3)
    assert 1400 < sizes[len(sizes) // 2] < 2600
    gets = [r for r in s3 if r["eventName"] == "GetObject" and r.get("requestParameters")]
    assert all(r["eventCategory"] == "Data" and r["managementEvent"] is False for r in gets)
    sample = next(
        r for r in gets if r.get("tlsDetails") and r.get("resources") and not r.get("errorCode")
    )
    assert {"bucketName", "Host", "key"} <= set(sample["requestParameters"])
    assert {
        "type": "AWS::S3::Object",
        "ARN": f"arn:aws:s3:::{sample['requestParameters']['bucketName']}/{sample['requestParameters']['key']}",
    } in sample["resources"]
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", sample["eventID"]
    )
    assert len({r["eventID"] for r in trail.records}) == len(trail.records)
    errors = Counter(r.get("errorCode") for r in s3)
    assert errors["AccessDenied"] and errors["NoSuchKey"] and errors[None] > 0.97 * len(s3)
    auth = Counter((r.get("additionalEventData") or {}).get("AuthenticationMethod") for r in s3)
    assert auth["AuthHeader"] and auth["QueryString"]
    assert any(r.get("vpcEndpointId", "").startswith("vpce-") for r in s3)
    assert any((r.get("requestParameters") or {}).get("list-type") == "2" for r in s3)
    agents = " ".join({r.get("userAgent") or "" for r in s3})
    for marker in (
        "aws-sdk-java/1.12.",
        "Boto3/1.34",
        "aws-cli/2.",
        "S3Console/0.4",
        "aws-sdk-go-v2/",
    ):
        assert marker in agents
    mgmt = {r["eventName"] for r in s3 if r["eventCategory"] == "Management"}
    assert {"GetBucketAcl", "GetBucketPolicy", "ListBuckets"} <= mgmt
    assert len({n for n in mgmt if n.startswith("PutBucket")}) >= 4


def test_labels_point_at_principals_active_in_their_window(trail: Trail) -> None:
    assert trail.labels
    for label in trail.labels:
        start, end = epoch(label["start"]), epoch(label["end"])
        hits = [
            r
            for r in trail.by_principal(label["principal"])
            if start <= epoch(r["eventTime"]) <= end
        ]
        assert hits, label["scenario"]
        assert label["account"] in {r["recipientAccountId"] for r in hits}
        assert label["kind"] in ("attack", "benign")
        if label["kind"] == "attack":
            assert label["purpose"] == label["expected_types"][0].split(":")[0]
        else:
            assert label["expected_types"] == [] and label["bait_types"]


def test_each_scenario_has_its_own_principal_and_starts_after_the_cutoff(trail: Trail) -> None:
    principals = [lb["principal"] for lb in trail.labels]
    assert len(set(principals)) == len(principals)
    cutoff = epoch("2026-11-01T12:00:00Z")  # half of a one-day trail
    assert all(epoch(lb["start"]) >= cutoff for lb in trail.labels)
    kinds = Counter(lb["kind"] for lb in trail.labels)
    assert kinds["attack"] == trail.summary["attacks"] >= 15 and kinds["benign"] == 4


def _scenario(trail: Trail, name: str) -> list[dict[str, Any]]:
    label = next(lb for lb in trail.labels if lb["scenario"] == name)
    start, end = epoch(label["start"]), epoch(label["end"])
    return [
        r for r in trail.by_principal(label["principal"]) if start <= epoch(r["eventTime"]) <= end
    ]


def names(records: list[dict[str, Any]]) -> Counter[str]:
    return Counter(r["eventName"] for r in records)


def test_attack_scenarios_carry_their_signature(trail: Trail) -> None:
    assert names(_scenario(trail, "mass_delete"))["DeleteObject"] >= 300
    ssec = _scenario(trail, "ssec_reencryption")
    assert (
        sum(
            "x-amz-server-side-encryption-customer-algorithm" in (r.get("requestParameters") or {})
            for r in ssec
        )
        >= 100
    )
    assert any(
        (r.get("requestParameters") or {}).get("key", "").endswith("README-RECOVER-FILES.txt")
        for r in ssec
    )
    exfil = _scenario(trail, "exfiltration_burst")
    assert (
        sum((r.get("additionalEventData") or {}).get("bytesTransferredOut", 0) for r in exfil) > 1e9
    )
    assert any(
        (r.get("requestParameters") or {}).get("key", "").endswith(".aws/credentials")
        for r in exfil
    )
    assert (
        sum(r.get("errorCode") == "AccessDenied" for r in _scenario(trail, "access_denied_spray"))
        >= 50
    )
    assert (
        sum(r.get("errorCode") == "AccessDenied" for r in _scenario(trail, "discovery_enumeration"))
        >= 20
    )
    tor = (trail.root / "tor_exits.txt").read_text().split()
    assert any(ip.startswith("185.220.101.") for ip in tor)
    assert {r["sourceIPAddress"] for r in _scenario(trail, "tor_caller")} & set(tor)
    for name, marker in (
        ("pentest_kali", "kali"),
        ("pentest_parrot", "parrot"),
        ("pentest_pentoo", "pentoo"),
    ):
        assert any(marker in (r.get("userAgent") or "") for r in _scenario(trail, name))
    policy = json.dumps(
        [
            r["requestParameters"]
            for r in _scenario(trail, "bucket_policy_public")
            if r["eventName"] == "PutBucketPolicy"
        ]
    )
    assert '"Principal": "*"' in policy or '\\"Principal\\":\\"*\\"' in policy
    assert "global/AllUsers" in json.dumps(_scenario(trail, "bucket_acl_public"))
    logging = [
        r for r in _scenario(trail, "logging_disabled") if r["eventName"] == "PutBucketLogging"
    ]
    assert logging and all(
        "LoggingEnabled" not in r["requestParameters"]["BucketLoggingStatus"] for r in logging
    )
    root = _scenario(trail, "root_data_access")
    assert root[0]["userIdentity"]["type"] == "Root" and "GetObject" in names(root)
    both = names(_scenario(trail, "exfiltration_then_deletion"))
    assert both["GetObject"] >= 500 and both["DeleteObject"] >= 200


def test_cli_prints_a_json_summary_and_no_attacks_means_no_labels(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    labels = tmp_path / "l.jsonl"
    args = [
        "--out",
        str(tmp_path / "t"),
        "--principals",
        "12",
        "--records",
        "3000",
        "--no-attacks",
        "--labels",
        str(labels),
        "--org",
        "",
    ]
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["records"] > 1000 and summary["attacks"] == 0 and summary["files"] > 0
    assert labels.read_text() == ""
    assert all(
        k.startswith("AWSLogs/111122223333/") or k.startswith("AWSLogs/444455556666/")
        for k in (
            str(p.relative_to(tmp_path / "t")) for p in (tmp_path / "t" / "AWSLogs").rglob("*.gz")
        )
    )


def test_attack_after_day_moves_the_scenarios() -> None:
    cfg = GenConfig(out="unused", days=2, principals=30, records=8000, attack_after_day=1.5)
    starts = [label["start"] for label in build_world(cfg).labels]
    assert len(starts) == 21 and min(starts) >= "2026-11-02T12:00:00Z"
    assert replace(cfg, attack_after_day=None).attack_after == 1.0
    assert replace(cfg, days=7, attack_after_day=None).attack_after == 3.0
