"""Every real-shaped CloudTrail record becomes the S3Event a user expects, or a counted reason.

Story: one record per userIdentity type lands on the principal REFERENCE.md names (so all
sessions of a role share one baseline, anonymous callers are profiled per bucket and AWS
services are tagged for exclusion); the S3 calls rules care about keep what rules read; and no
odd field — null, wrong type, negative, stringly typed — ever crashes the parser.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from detector.events import S3Event
from detector.normalize import INVALID, NOT_S3, Normalizer, TimeParser

RECORDS = Path(__file__).resolve().parents[1] / "data" / "records"
FIXTURES = sorted(p.stem for p in RECORDS.glob("*.json"))
NOW = 1_793_600_000.0  # 2026-11-02, a day after the fixtures' eventTimes
ACCT = "111122223333"
T0 = 1_793_527_200.0  # 2026-11-01T10:00:00Z


def record(name: str) -> dict[str, Any]:
    return json.loads((RECORDS / f"{name}.json").read_text())


def event(rec: Any) -> S3Event:
    ev = Normalizer().normalize(rec, NOW)
    assert isinstance(ev, S3Event), ev
    return ev


# --- userIdentity → principal (REFERENCE.md table) -------------------------------------------

IDENTITIES = {
    # fixture: (principal key, principal type, display name)
    "identity_iam_user": (f"arn:aws:iam::{ACCT}:user/alice", "IAMUser", "user/alice"),
    "identity_assumed_role": (
        f"arn:aws:iam::{ACCT}:role/service-role/etl-prod",
        "AssumedRole",
        "role/etl-prod",
    ),
    "identity_assumed_role_no_session_context": (
        f"arn:aws:iam::{ACCT}:role/reporter",
        "AssumedRole",
        "role/reporter",
    ),
    "identity_root": (f"arn:aws:iam::{ACCT}:root", "Root", "root"),
    "identity_aws_account_cross_account": (
        "account:444455556666",
        "AWSAccount",
        "account/444455556666",
    ),
    "identity_anonymous": ("anonymous:example-public-site", "Anonymous", "anonymous"),
    "identity_aws_service": (
        "service:s3.amazonaws.com",
        "AWSService",
        "service/s3.amazonaws.com",
    ),
    "identity_federated_user": (
        f"arn:aws:sts::{ACCT}:federated-user/bob",
        "FederatedUser",
        "federated-user/bob",
    ),
    "identity_identity_center_user": (
        "identitycenter:544894e8-80c1-707f-60e3-3ba6510dfac1",
        "IdentityCenterUser",
        "identity-center/544894e8-80c1-707f-60e3-3ba6510dfac1",
    ),
    "identity_role": (
        f"arn:aws:iam::{ACCT}:role/rolesanywhere-backup",
        "Role",
        "role/rolesanywhere-backup",
    ),
    "identity_directory": (
        "S-1-5-21-EXAMPLE-1104",
        "Directory",
        "directory/carol@corp.example.com",
    ),
    "identity_unknown": ("EXAMPLEUNKNOWNPRINCIPAL", "Unknown", "unknown/dave@example.com"),
    "identity_no_arn": (
        "accounts.google.com:110000000000000000001",
        "WebIdentityUser",
        "webidentityuser/110000000000000000001",
    ),
}


def test_there_is_one_fixture_per_identity_type() -> None:
    assert sorted(IDENTITIES) == [n for n in FIXTURES if n.startswith("identity_")]


@pytest.mark.parametrize("name", sorted(IDENTITIES))
def test_each_identity_type_has_the_reference_principal_key(name: str) -> None:
    ev = event(record(name))
    assert (ev.principal, ev.principal_type, ev.principal_name) == IDENTITIES[name]
    assert ev.account == ACCT


def test_all_sessions_of_a_role_share_the_role_as_principal() -> None:
    first = record("identity_assumed_role")
    second = copy.deepcopy(first)
    second["userIdentity"]["arn"] = f"arn:aws:sts::{ACCT}:assumed-role/etl-prod/etl-run-43"
    second["userIdentity"]["accessKeyId"] = "ASIAEXAMPLEETLSESS02"
    a, b = event(first), event(second)
    assert a.principal == b.principal
    # The session and key stay available as secondary dimensions.
    assert (a.session_name, b.session_name) == ("etl-run-42", "etl-run-43")
    assert (a.access_key_id, b.access_key_id) == ("ASIAEXAMPLEETLSESS01", "ASIAEXAMPLEETLSESS02")


def test_role_without_session_context_keeps_its_partition() -> None:
    rec = record("identity_assumed_role_no_session_context")
    rec["userIdentity"]["arn"] = "arn:aws-us-gov:sts::111122223333:assumed-role/reporter/run-1"
    assert event(rec).principal == "arn:aws-us-gov:iam::111122223333:role/reporter"


def test_anonymous_callers_are_profiled_per_bucket() -> None:
    site = record("identity_anonymous")
    other = copy.deepcopy(site)
    other["requestParameters"]["bucketName"] = "example-downloads"
    assert event(site).principal == "anonymous:example-public-site"
    assert event(other).principal == "anonymous:example-downloads"
    assert not event(site).cross_account  # ANONYMOUS_PRINCIPAL is not another account


def test_only_aws_service_callers_are_tagged_for_exclusion_from_models() -> None:
    tagged = {name for name in IDENTITIES if event(record(name)).service}
    assert tagged == {"identity_aws_service"}


def test_service_acting_without_user_identity_is_keyed_by_invoked_by() -> None:
    rec = record("identity_aws_service")
    rec["userIdentity"] = None
    rec["invokedBy"] = "backup.amazonaws.com"
    ev = event(rec)
    assert (ev.principal, ev.service) == ("service:backup.amazonaws.com", True)


def test_cross_account_caller_is_flagged_and_same_account_is_not() -> None:
    flagged = {name for name in IDENTITIES if event(record(name)).cross_account}
    assert flagged == {"identity_aws_account_cross_account"}


# --- special S3 calls -----------------------------------------------------------------------


def test_delete_objects_is_one_delete_call_without_a_key() -> None:
    ev = event(record("kind_delete_objects"))
    assert (ev.event_name, ev.api_class, ev.key, ev.bucket) == (
        "DeleteObjects",
        "delete",
        "",
        "example-data-bucket",
    )


@pytest.mark.parametrize("name", ["ListObjects", "ListObjectsV2"])
def test_list_objects_v2_is_a_list_call_under_either_name(name: str) -> None:
    rec = record("kind_list_objects_v2")
    rec["eventName"] = name
    ev = event(rec)
    assert ev.api_class == "list"
    assert ev.bytes_out == 2210


@pytest.mark.parametrize("name", ["kind_ssec_put_object", "kind_ssec_copy_object"])
def test_sse_c_writes_are_flagged(name: str) -> None:
    ev = event(record(name))
    assert (ev.api_class, ev.sse_c) == ("write", True)


def test_ordinary_writes_are_not_flagged_sse_c() -> None:
    assert event(record("identity_assumed_role")).sse_c is False


def test_bucket_policy_change_keeps_the_policy_for_rules() -> None:
    ev = event(record("kind_put_bucket_policy"))
    assert (ev.api_class, ev.data_event) == ("permission", False)
    assert ev.request is not None
    policy = json.loads(ev.request["bucketPolicy"])
    assert policy["Statement"][0]["Principal"] == "*"


def test_public_access_block_change_keeps_the_new_configuration() -> None:
    ev = event(record("kind_put_public_access_block"))
    assert ev.api_class == "permission"
    assert ev.request is not None
    assert ev.request["PublicAccessBlockConfiguration"]["BlockPublicPolicy"] is False


def test_logging_disabled_is_kept_as_a_config_change_without_logging_enabled() -> None:
    ev = event(record("kind_put_bucket_logging_disabled"))
    assert ev.api_class == "config"
    assert ev.request is not None
    assert "LoggingEnabled" not in ev.request["BucketLoggingStatus"]


def test_object_reads_do_not_carry_their_request() -> None:
    assert event(record("identity_iam_user")).request is None


def test_non_s3_events_are_dropped_as_not_s3() -> None:
    assert Normalizer().normalize(record("kind_not_s3_assume_role"), NOW) == NOT_S3


def test_denied_call_keeps_its_error_code() -> None:
    ev = event(record("kind_access_denied"))
    assert (ev.error_code, ev.principal) == ("AccessDenied", f"arn:aws:iam::{ACCT}:user/mallory")


def test_data_events_carry_bytes_ip_agent_and_auth_method() -> None:
    ev = event(record("identity_iam_user"))
    assert ev.time == T0 + 5
    assert (ev.bytes_in, ev.bytes_out) == (0, 1_048_576)
    assert (ev.source_ip, ev.auth_method, ev.region) == ("198.51.100.10", "AuthHeader", "us-east-1")
    assert ev.data_event is True
    assert ev.key == "reports/2026/q3.csv"


# --- odd fields -----------------------------------------------------------------------------


def test_null_or_string_user_identity_is_an_unknown_principal() -> None:
    for name in ("odd_user_identity_null", "odd_user_identity_string"):
        ev = event(record(name))
        assert (ev.principal, ev.principal_type, ev.service) == ("unknown", "Unknown", False)


def test_request_parameters_that_are_not_an_object_leave_bucket_and_key_empty() -> None:
    ev = event(record("odd_request_parameters_list"))
    assert (ev.bucket, ev.key, ev.request, ev.sse_c) == ("", "", None, False)


def test_bytes_written_as_strings_are_counted() -> None:
    ev = event(record("odd_bytes_as_strings"))
    assert (ev.bytes_in, ev.bytes_out, ev.auth_method) == (0, 2048, "QueryString")


def test_negative_bytes_count_as_zero() -> None:
    ev = event(record("odd_negative_bytes"))
    assert (ev.bytes_in, ev.bytes_out) == (0, 0)


def test_numeric_event_time_makes_the_record_invalid() -> None:
    assert Normalizer().normalize(record("odd_event_time_number"), NOW) == INVALID


def test_fractional_seconds_are_kept() -> None:
    assert event(record("odd_event_time_fractional")).time == pytest.approx(T0 + 5.123)


def test_missing_recipient_account_leaves_account_empty_and_is_not_cross_account() -> None:
    ev = event(record("odd_missing_recipient_account"))
    assert (ev.account, ev.cross_account) == ("", False)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("eventTime", "2026-11-01T10:00:²³Z"),  # str.isdigit() is true for superscripts
        ("eventTime", "2026-11-01T10:00:75Z"),
        ("eventTime", "yesterday"),
        ("eventTime", "2026-11-01T10:00:05"),  # no zone: ambiguous
        ("eventTime", "2026-11-03T10:00:00Z"),  # a day after "now": would drag the watermark
        ("eventTime", "2009-01-01T00:00:00Z"),  # before S3 data events existed
        ("eventName", ""),
        ("eventName", 7),
        ("eventSource", None),
    ],
)
def test_records_without_usable_time_or_name_are_invalid(field: str, value: Any) -> None:
    rec = record("identity_iam_user")
    rec[field] = value
    assert Normalizer().normalize(rec, NOW) == INVALID


@pytest.mark.parametrize("junk", [None, 42, "Records", [], [{"eventSource": "s3.amazonaws.com"}]])
def test_records_that_are_not_objects_are_invalid(junk: Any) -> None:
    assert Normalizer().normalize(junk, NOW) == INVALID


ODD_VALUES: list[Any] = [None, "", "x", 0, -1, 1.5, True, [], ["x"], {}, {"type": "x"}]


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*prefix, i))
    return out


@pytest.mark.parametrize("name", FIXTURES)
def test_no_field_of_any_fixture_can_crash_the_parser(name: str) -> None:
    """Replace every field, at every depth, by every odd JSON value, and drop it too."""
    base = record(name)
    normalize = Normalizer().normalize
    for path in _paths(base):
        for value in [*ODD_VALUES, KeyError]:
            rec = copy.deepcopy(base)
            parent = rec
            for step in path[:-1]:
                parent = parent[step]
            if value is KeyError:
                if isinstance(parent, dict):
                    del parent[path[-1]]
            else:
                parent[path[-1]] = value
            result = normalize(rec, NOW)
            assert isinstance(result, S3Event) or result in (INVALID, NOT_S3), (path, value)


def test_time_parser_fast_path_agrees_with_iso_parsing() -> None:
    tp = TimeParser()
    assert tp.parse("2026-11-01T10:00:05Z") == T0 + 5
    assert tp.parse("2026-11-01T10:00:05+00:00") == T0 + 5
    assert tp.parse("2026-11-01T12:00:05+02:00") == T0 + 5
    assert tp.parse("2026-11-01T10:00:59Z") == T0 + 59
    assert tp.parse("2026-11-01T10:60:00Z") is None
