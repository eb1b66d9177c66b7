"""Which S3 keys and local paths are CloudTrail log files, by the key layout in REFERENCE.md.

A user pointing s3ad at a trail bucket expects log files read, digest / Insight files and
folder markers left alone, and the account and delivery time read from the file name.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from detector.ingest.keys import (
    DIGEST,
    INSIGHT,
    LOG,
    OTHER,
    classify_key,
    classify_local,
    key_account,
    key_delivery_time,
)

ACCT = "111122223333"
DAY = f"{ACCT}/CloudTrail/us-east-1/2026/11/01"
NAME = f"{ACCT}_CloudTrail_us-east-1_20261101T1005Z_Ab12Cd34Ef56Gh78.json.gz"


@pytest.mark.parametrize(
    "key",
    [
        f"AWSLogs/{DAY}/{NAME}",
        f"security/trails/AWSLogs/{DAY}/{NAME}",
        f"AWSLogs/o-aa1bb2cc3d/{DAY}/{NAME}",  # organization trail
        f"prefix/AWSLogs/o-exampleorgid1234567890abcdef/{DAY}/{NAME}",
    ],
    ids=["plain", "with-prefix", "org-trail", "org-trail-with-prefix"],
)
def test_log_files_are_recognised_with_or_without_prefix_and_org_id(key: str) -> None:
    assert classify_key(key) == LOG
    assert key_account(key) == ACCT
    assert key_delivery_time(key) == datetime(2026, 11, 1, 10, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("key", "kind"),
    [
        (
            f"AWSLogs/{ACCT}/CloudTrail-Digest/us-east-1/2026/11/01/"
            f"{ACCT}_CloudTrail-Digest_us-east-1_main_us-east-1_20261101T110000Z.json.gz",
            DIGEST,
        ),
        (
            f"AWSLogs/{ACCT}/CloudTrail-Digest/us-east-1/2026/11/01/"
            f"{ACCT}_CloudTrail-Digest_us-east-1_main_us-east-1_20261101T110000Z_backfill.json.gz",
            DIGEST,
        ),
        (
            f"trails/AWSLogs/o-aa1bb2cc3d/{ACCT}/CloudTrail-Insight/us-east-1/2026/11/01/"
            f"{ACCT}_CloudTrail-Insight_us-east-1_20261101T1100Z_Zy98Xw76Vu54Ts32.json.gz",
            INSIGHT,
        ),
    ],
    ids=["digest", "digest-backfill", "insight-org-trail"],
)
def test_digest_and_insight_keys_are_told_apart_from_log_files(key: str, kind: str) -> None:
    assert classify_key(key) == kind
    assert key_account(key) is None


@pytest.mark.parametrize(
    "key",
    [
        f"AWSLogs/{DAY}/",  # the "folder" object the console creates
        f"AWSLogs/{DAY}/{NAME[:-3]}",  # not gzipped
        f"AWSLogs/{DAY}/{NAME}.tmp",
        f"AWSLogs/{DAY}/444455556666_CloudTrail_us-east-1_20261101T1005Z_Ab12Cd34Ef56Gh78.json.gz",
        f"AWSLogs/{ACCT}/CloudTrail/us-east-1/2026/11/01/{ACCT}_CloudTrail_eu-west-1_20261101T1005Z_Ab12Cd34Ef56Gh78.json.gz",
        f"AWSLogs/o-short/{DAY}/{NAME}",  # org ids have 10 to 32 characters
        f"AWSLogs/{ACCT}/elasticloadbalancing/us-east-1/2026/11/01/x.log.gz",
    ],
    ids=[
        "folder",
        "plain-json",
        "suffix",
        "other-account-in-name",
        "other-region-in-name",
        "bad-org-id",
        "not-cloudtrail",
    ],
)
def test_other_keys_are_not_log_files(key: str) -> None:
    assert classify_key(key) == OTHER
    assert key_account(key) is None
    assert key_delivery_time(key) is None


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/exports/athena-result.json", LOG),
        ("/exports/lake.JSONL", LOG),
        ("/exports/siem.ndjson.gz", LOG),
        ("/exports/records.jsonl.gz", LOG),
        (
            f"/mirror/{ACCT}_CloudTrail-Digest_us-east-1_main_us-east-1_20261101T110000Z.json.gz",
            DIGEST,
        ),
        (
            f"/mirror/{ACCT}_CloudTrail-Insight_us-east-1_20261101T1100Z_Zy98Xw76Vu54Ts32.json.gz",
            INSIGHT,
        ),
        ("/mirror/AWSLogs/111122223333/CloudTrail-Digest/us-east-1/anything.json.gz", DIGEST),
        ("/exports/README.md", OTHER),
        ("/exports/records.csv.gz", OTHER),
    ],
)
def test_local_files_are_taken_by_suffix_and_digests_by_name(path: str, kind: str) -> None:
    assert classify_local(path) == kind
