"""Deterministic rules: what each one fires on, what it leaves alone, and the type it picks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from detector.detect.bursts import BurstContext
from detector.detect.recent import Recent
from detector.detect.rules import RuleBook
from detector.detect.settings import RuleSettings
from detector.events import S3Event
from detector.history import PrincipalHistory
from detector.windows import WindowAgg

ACCT = "111122223333"
ALICE = f"arn:aws:iam::{ACCT}:user/alice"
T = 1_793_491_200.0


def ev(n: int = 0, **kw: Any) -> S3Event:
    base = S3Event(
        T + n, f"e{n:05d}", ACCT, "us-east-1", ALICE, "IAMUser", "user/alice", "AKIAALICE", "",
        "GetObject", "read", "data", f"k/{n}", 0, 100, "198.51.100.7", "aws-cli/2.15", "",
        False, "AuthHeader", "", False, True, False, None,
    )  # fmt: skip
    return base._replace(**kw)


def window(events: list[S3Event], book: RuleBook) -> WindowAgg:
    w = WindowAgg(ACCT, events[0].principal, int(T), events[0])
    for e in events:
        w.add(e, book.notable(e))
    return w.seal()


def types(
    book: RuleBook, events: list[S3Event], h: PrincipalHistory | None = None, learning: bool = False
) -> list[str]:
    w = window(events, book)
    ctx = BurstContext(Recent(900).add(w), 0.0, 300, h is not None)
    return sorted(hit.type for hit in book.evaluate(w, h, learning, ctx))


@pytest.fixture
def book(tmp_path: Path) -> RuleBook:
    threats = tmp_path / "threats.txt"
    threats.write_text("# ours\n203.0.113.0/24\n")
    return RuleBook(
        RuleSettings(threat_ip_lists=(str(threats),), org_accounts=(ACCT, "444455556666"))
    )


def history(windows: int = 50, **usual: float) -> PrincipalHistory:
    h = PrincipalHistory()
    for _ in range(windows):
        vals = [
            usual.get(m, 0.0)
            for m in (
                "events",
                "reads",
                "writes",
                "deletes",
                "lists",
                "bytes_out",
                "bytes_in",
                "buckets",
                "errors",
            )
        ]
        h.update(vals, 10, {"198.51.100.7"}, {"aws-cli/2.15"}, {"data"}, T - 3600)
    return h


def test_tor_exit_reads_are_unauthorized_access_and_listing_is_discovery(book: RuleBook) -> None:
    assert types(book, [ev(source_ip="185.220.101.4")]) == ["UnauthorizedAccess:S3/TorIPCaller"]
    listing = [ev(source_ip="185.220.101.4", event_name="ListObjects", api_class="list")]
    assert types(book, listing) == ["Discovery:S3/TorIPCaller"]


def test_the_users_own_threat_list_gives_the_custom_types(book: RuleBook) -> None:
    assert types(book, [ev(source_ip="203.0.113.9")]) == [
        "UnauthorizedAccess:S3/MaliciousIPCaller.Custom"
    ]


def test_an_ordinary_ip_raises_nothing(book: RuleBook) -> None:
    assert types(book, [ev()]) == []


@pytest.mark.parametrize(
    ("agent", "kind"),
    [
        ("aws-cli/2.15 Python/3.11 Linux/6.6.9-amd64 kali-rolling", "PenTest:S3/KaliLinux"),
        ("Boto3/1.34 Linux/6.5.0-parrot1-amd64", "PenTest:S3/ParrotLinux"),
        ("aws-cli/2.13 Linux/6.1-pentoo", "PenTest:S3/PentooLinux"),
    ],
)
def test_pentest_distributions_are_named_by_their_user_agent(
    book: RuleBook, agent: str, kind: str
) -> None:
    assert types(book, [ev(user_agent=agent)]) == [kind]


def change(name: str, request: dict[str, Any], bucket: str = "data") -> S3Event:
    cls = "config" if name == "PutBucketLogging" else "permission"
    return ev(
        event_name=name, api_class=cls, bucket=bucket, key="", data_event=False, request=request
    )


@pytest.mark.parametrize(
    ("name", "request_", "kind"),
    [
        ("DeleteBucketPublicAccessBlock", {}, "Policy:S3/BucketBlockPublicAccessDisabled"),
        ("PutBucketPublicAccessBlock", {"PublicAccessBlockConfiguration": {"BlockPublicAcls": False, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}}, "Policy:S3/BucketBlockPublicAccessDisabled"),
        ("PutAccountPublicAccessBlock", {"PublicAccessBlockConfiguration": {"BlockPublicPolicy": "false"}}, "Policy:S3/AccountBlockPublicAccessDisabled"),
        ("PutBucketPolicy", {"bucketPolicy": {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"}]}}, "Policy:S3/BucketAnonymousAccessGranted"),
        ("PutBucketPolicy", {"bucketPolicy": '{"Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}}]}'}, "Policy:S3/BucketAnonymousAccessGranted"),
        ("PutBucketPolicy", {"bucketPolicy": {"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999988887777:root"}}]}}, "Impact:S3/AnomalousBehavior.Permission"),
        ("PutBucketAcl", {"AccessControlPolicy": {"AccessControlList": {"Grant": [{"Grantee": {"URI": "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"}, "Permission": "READ"}]}}}, "Policy:S3/BucketPublicAccessGranted"),
        ("PutObjectAcl", {"x-amz-grant-read": 'uri="http://acs.amazonaws.com/groups/global/AllUsers"'}, "Policy:S3/BucketAnonymousAccessGranted"),
        ("PutBucketLogging", {"BucketLoggingStatus": {"xmlns": "http://s3.amazonaws.com/doc/2006-03-01/"}}, "Stealth:S3/ServerAccessLoggingDisabled"),
    ],
)  # fmt: skip
def test_configuration_changes_that_weaken_a_bucket(
    book: RuleBook, name: str, request_: dict[str, Any], kind: str
) -> None:
    assert types(book, [change(name, request_)]) == [kind]


@pytest.mark.parametrize(
    ("name", "request_"),
    [
        ("PutBucketPublicAccessBlock", {"PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}}),
        ("PutBucketPolicy", {"bucketPolicy": {"Statement": [{"Effect": "Allow", "Principal": "*", "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc123def4"}}}]}}),
        ("PutBucketPolicy", {"bucketPolicy": {"Statement": [{"Effect": "Deny", "Principal": "*"}]}}),
        ("PutBucketPolicy", {"bucketPolicy": {"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::444455556666:role/reader"}}]}}),
        ("PutBucketAcl", {"x-amz-acl": ["private"]}),
        ("PutBucketLogging", {"BucketLoggingStatus": {"LoggingEnabled": {"TargetBucket": "logs", "TargetPrefix": "data/"}}}),
    ],
)  # fmt: skip
def test_safe_configuration_changes_raise_nothing(
    book: RuleBook, name: str, request_: dict[str, Any]
) -> None:
    assert types(book, [change(name, request_)]) == []


def test_a_failed_change_raises_nothing(book: RuleBook) -> None:
    denied = change("DeleteBucketPublicAccessBlock", {})._replace(error_code="AccessDenied")
    assert types(book, [denied]) == []


def test_root_on_data_is_typed_by_what_root_did(book: RuleBook) -> None:
    root = {
        "principal": f"arn:aws:iam::{ACCT}:root",
        "principal_type": "Root",
        "principal_name": "root",
    }
    reads = [ev(i, **root) for i in range(3)] + [
        ev(9, event_name="PutObject", api_class="write", **root)
    ]
    assert types(book, reads) == ["Exfiltration:S3/AnomalousBehavior"]
    writes = [ev(i, event_name="PutObject", api_class="write", **root) for i in range(3)]
    assert types(book, writes) == ["Impact:S3/AnomalousBehavior.Write"]


def test_ransom_notes_are_writes_and_ordinary_readmes_are_not(book: RuleBook) -> None:
    note = ev(event_name="PutObject", api_class="write", key="invoices/README_TO_DECRYPT_FILES.txt")
    assert types(book, [note]) == ["Impact:S3/AnomalousBehavior.Write"]
    readme = ev(event_name="PutObject", api_class="write", key="docs/README.md")
    assert types(book, [readme]) == []


def test_credential_files_read_from_an_unfamiliar_place(book: RuleBook) -> None:
    h = history(reads=3)
    usual_place = ev(key="deploy/.env")
    assert types(book, [usual_place], h) == []
    new_place = ev(key="deploy/.env", source_ip="192.0.2.50")
    assert types(book, [new_place], h) == ["Exfiltration:S3/AnomalousBehavior"]


def deletes(n: int, **kw: Any) -> list[S3Event]:
    return [ev(i, event_name="DeleteObject", api_class="delete", **kw) for i in range(n)]


def test_mass_deletion_is_judged_against_the_principals_usual(book: RuleBook) -> None:
    assert types(book, deletes(80), history(deletes=1)) == ["Impact:S3/AnomalousBehavior.Delete"]
    assert types(book, deletes(80), history(deletes=60)) == []  # a cleanup job doing its job
    assert types(book, deletes(30), history(deletes=1)) == []  # under the floor


def test_a_new_principal_is_judged_on_the_floor_except_while_everyone_is_new(
    book: RuleBook,
) -> None:
    assert types(book, deletes(80), None, learning=False) == ["Impact:S3/AnomalousBehavior.Delete"]
    assert types(book, deletes(80), None, learning=True) == []


def test_sse_c_rewrites_are_an_impact_write(book: RuleBook) -> None:
    rewrites = [ev(i, event_name="CopyObject", api_class="write", sse_c=True) for i in range(25)]
    assert types(book, rewrites, history(writes=30)) == ["Impact:S3/AnomalousBehavior.Write"]


def test_an_access_denied_spray_across_windows_adds_up_even_for_a_new_principal(
    book: RuleBook,
) -> None:
    recent = Recent(900)
    found = []
    h = None
    for k in range(3):
        evs = [
            ev(i, time=T + k * 300 + i, error_code="AccessDenied", bucket=f"b{i % 9}")
            for i in range(25)
        ]
        w = WindowAgg(ACCT, ALICE, int(T) + k * 300, evs[0])
        for e in evs:
            w.add(e, book.notable(e))
        totals = recent.add(w.seal())
        ctx = BurstContext(totals, 0.0, 300, h is not None and h.windows > totals.windows - 1)
        found.append(sorted(hit.rule for hit in book.evaluate(w, h, False, ctx)))
        h = h or history(windows=0)
        h.update([25, 25, 0, 0, 0, 0, 0, 9, 25], 0, set(), set(), set(), T)  # learned: no finding
    assert found == [[], ["access-denied-spray"], ["access-denied-spray"]]


def test_many_buckets_needs_failures_to_flag_a_principal_without_history(book: RuleBook) -> None:
    sweep = [
        ev(i, event_name="GetBucketAcl", api_class="discovery", bucket=f"b{i}") for i in range(30)
    ]
    assert types(book, sweep, None) == []  # an auditor's first run
    assert types(book, sweep, history(buckets=1, events=5)) == ["Discovery:S3/AnomalousBehavior"]
    denied = [e._replace(error_code="AccessDenied") for e in sweep[:10]] + sweep[10:]
    assert "Discovery:S3/AnomalousBehavior" in types(book, denied, None)


def test_aws_services_are_never_judged(book: RuleBook) -> None:
    svc = {
        "principal": "service:backup.amazonaws.com",
        "principal_type": "AWSService",
        "service": True,
    }
    assert types(book, deletes(200, **svc)) == []


def test_pentest_names_must_stand_alone_in_the_agent(book: RuleBook) -> None:
    assert types(book, [ev(user_agent="Kalibrate/1.0 (calibration suite)")]) == []


def test_a_credential_read_from_a_ci_runner_with_ever_new_ips_is_not_unfamiliar(
    book: RuleBook,
) -> None:
    h = PrincipalHistory()
    for i in range(40):  # every window from a fresh runner IP
        h.update([4, 4, 0, 0, 0, 0, 0, 1, 0], 10, {f"20.42.{i}.7"}, {"aws-cli/2.15"}, {"data"}, T)
    assert types(book, [ev(key="deploy/.env", source_ip="20.42.99.1")], h) == []


def test_notable_keeps_ransom_notes_among_writes_and_credential_files_among_reads(
    book: RuleBook,
) -> None:
    assert book.notable(ev(1, key="x/.aws/credentials"))
    assert book.notable(ev(2, key="x/RANSOM_NOTE.txt", event_name="PutObject", api_class="write"))
    assert not book.notable(ev(3, key="x/report.csv"))
    # The content rules never read a ransom note from a GET: no reason to keep it.
    assert not book.notable(ev(4, key="x/RANSOM_NOTE.txt"))
