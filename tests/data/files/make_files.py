"""Regenerate the small input files under tests/data/files from tests/data/records.

Run ``python tests/data/files/make_files.py`` after changing a record fixture; the output is
committed so the tests never depend on running this. Output is deterministic (gzip mtime 0).

good/    one file per shape s3ad reads: CloudTrail's {"Records": [...]} (.json.gz, real key
         layout), a bare JSON array (.json) and JSON Lines (.jsonl, with ``@timestamp`` extras and
         one EventBridge "AWS API Call via CloudTrail" envelope).
skip/    digest and Insight files, recognised by their CloudTrail-Digest/ / CloudTrail-Insight/
         path and, under neutral names, by their content.
broken/  one unreadable file per reason: truncated gzip, not gzip, not JSON, no Records,
         Records not a list.
"""

from __future__ import annotations

import copy
import gzip
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
RECORDS = HERE.parent / "records"
ACCT = "111122223333"
DAY = f"AWSLogs/{ACCT}/CloudTrail/us-east-1/2026/11/01"
LOG_KEY = f"{DAY}/{ACCT}_CloudTrail_us-east-1_20261101T1010Z_Ab12Cd34Ef56Gh78.json.gz"
DIGEST_KEY = (
    f"AWSLogs/{ACCT}/CloudTrail-Digest/us-east-1/2026/11/01/"
    f"{ACCT}_CloudTrail-Digest_us-east-1_main-trail_us-east-1_20261101T110000Z.json.gz"
)
INSIGHT_KEY = (
    f"AWSLogs/{ACCT}/CloudTrail-Insight/us-east-1/2026/11/01/"
    f"{ACCT}_CloudTrail-Insight_us-east-1_20261101T1100Z_Zy98Xw76Vu54Ts32.json.gz"
)


def record(name: str) -> dict:
    return json.loads((RECORDS / f"{name}.json").read_text())


def dumps(doc: object) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def write(rel: str, data: bytes) -> None:
    path = HERE / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def later(name: str, event_id: str, time: str) -> dict:
    """A copy of a record fixture at another time, as a second call by the same principal."""
    rec = copy.deepcopy(record(name))
    rec["eventID"] = event_id
    rec["eventTime"] = time
    return rec


def digest() -> dict:
    return {
        "awsAccountId": ACCT,
        "digestStartTime": "2026-11-01T10:00:00Z",
        "digestEndTime": "2026-11-01T11:00:00Z",
        "digestS3Bucket": "example-trail-bucket",
        "digestS3Object": DIGEST_KEY,
        "digestPublicKeyFingerprint": "31e8b5433410dfb61a9dc45cc65b22ff",
        "digestSignatureAlgorithm": "SHA256withRSA",
        "newestEventTime": "2026-11-01T10:04:40Z",
        "oldestEventTime": "2026-11-01T10:00:05Z",
        "previousDigestS3Bucket": "example-trail-bucket",
        "previousDigestS3Object": DIGEST_KEY.replace("T110000Z", "T100000Z"),
        "previousDigestHashValue": "97fb791cf91ffc440d274f8190dbdd9aa09c34432aba82739df18b6d3c13df2d",
        "previousDigestHashAlgorithm": "SHA-256",
        "previousDigestSignature": "EXAMPLEsignature",
        "logFiles": [
            {
                "s3Bucket": "example-trail-bucket",
                "s3Object": LOG_KEY,
                "hashValue": "9bb6196fc6b84d6f075a56548feca262bd99ba3c2de41b618e5b6e22c1fc71f6",
                "hashAlgorithm": "SHA-256",
                "newestEventTime": "2026-11-01T10:04:40Z",
                "oldestEventTime": "2026-11-01T10:00:05Z",
            }
        ],
    }


def insight() -> dict:
    return {
        "Records": [
            {
                "eventVersion": "1.08",
                "eventTime": "2026-11-01T10:45:00Z",
                "awsRegion": "us-east-1",
                "eventID": "7a1c0000-2222-4333-8444-555566667777",
                "eventType": "AwsCloudTrailInsight",
                "recipientAccountId": ACCT,
                "sharedEventID": "12ab0000-2222-4333-8444-555566667777",
                "insightDetails": {
                    "state": "Start",
                    "eventSource": "s3.amazonaws.com",
                    "eventName": "PutObject",
                    "insightType": "ApiCallRateInsight",
                    "insightContext": {"statistics": {"baseline": {"average": 0.01}}},
                },
                "eventCategory": "Insight",
            }
        ]
    }


def main() -> None:
    identities = sorted(p.stem for p in RECORDS.glob("identity_*.json"))
    kinds = sorted(p.stem for p in RECORDS.glob("kind_*.json"))
    log_file = dumps({"Records": [record(n) for n in identities]})
    write(f"good/{LOG_KEY}", gz(log_file))
    write("good/export_array.json", dumps([record(n) for n in kinds]))

    alice = later(
        "identity_iam_user", "0000a001-1111-4222-8333-44445555a001", "2026-11-01T10:06:00Z"
    )
    etl = later(
        "identity_assumed_role", "0000a002-1111-4222-8333-44445555a002", "2026-11-01T10:11:00Z"
    )
    alice2 = later(
        "identity_iam_user", "0000a003-1111-4222-8333-44445555a003", "2026-11-01T10:16:00Z"
    )
    envelope = {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.s3",
        "account": ACCT,
        "time": etl["eventTime"],
        "region": "us-east-1",
        "resources": [],
        "detail": etl,
    }
    lines = [
        dumps({"@timestamp": alice["eventTime"], **alice}),
        dumps(envelope),
        dumps({"@timestamp": alice2["eventTime"], "@version": "1", **alice2}),
    ]
    write("good/lake_export.jsonl", b"\n".join(lines) + b"\n")

    write(f"skip/{DIGEST_KEY}", gz(dumps(digest())))
    write(f"skip/{INSIGHT_KEY}", gz(dumps(insight())))
    write("skip/digest_renamed.json.gz", gz(dumps(digest())))
    write("skip/insight_renamed.json.gz", gz(dumps(insight())))

    whole = gz(log_file)
    write("broken/truncated.json.gz", whole[: len(whole) // 2])
    write("broken/not_gzip.json.gz", log_file)
    write("broken/not_json.json", b"<Error><Code>AccessDenied</Code></Error>\n")
    manifest = {"sourceBucket": "example-data-bucket", "fileFormat": "CSV", "files": []}
    write("broken/no_records.json", dumps(manifest))
    write("broken/records_not_list.json", dumps({"Records": {"eventName": "GetObject"}}))


if __name__ == "__main__":
    main()
