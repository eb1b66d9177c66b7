"""The bench's ceiling (scripts/ceiling.py) is only an honest bound if its fold computes what
DuckDB's query computes: the same groups and the same aggregates, from the same files."""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import bench  # noqa: E402
import ceiling  # noqa: E402

ROLE = {
    "type": "AssumedRole",
    "arn": "arn:aws:sts::111111111111:assumed-role/etl/i-0abc",
    "accountId": "111111111111",
    "sessionContext": {
        "sessionIssuer": {"type": "Role", "arn": "arn:aws:iam::111111111111:role/etl"}
    },
}
USER = {"type": "IAMUser", "arn": "arn:aws:iam::111111111111:user/ana", "accountId": "111111111111"}
SERVICE = {"type": "AWSService", "invokedBy": "cloudtrail.amazonaws.com"}


def rec(i: int, ident: dict[str, Any], name: str, minute: int, **extra: Any) -> dict[str, Any]:
    r: dict[str, Any] = {
        "eventVersion": "1.09",
        "eventSource": "s3.amazonaws.com",
        "eventName": name,
        "eventTime": f"2026-11-01T10:{minute:02d}:{i % 60:02d}Z",
        "eventID": f"id-{i}",
        "recipientAccountId": "111111111111",
        "sourceIPAddress": f"10.0.0.{i % 3}",
        "userIdentity": ident,
        "requestParameters": {"bucketName": f"b{i % 2}", "key": f"k/{i % 5}"},
    }
    r.update(extra)
    return r


def trail_files(tmp_path: Path) -> list[Path]:
    records = [
        *(
            rec(i, ROLE, "GetObject", i % 12, additionalEventData={"bytesTransferredOut": i})
            for i in range(40)
        ),
        *(rec(i, USER, "PutObject", 3 + i % 4, errorCode="AccessDenied") for i in range(40, 55)),
        *(
            rec(i, USER, "DeleteObjects", 7, requestParameters={"bucketName": "b9"})
            for i in range(55, 60)
        ),
        rec(60, SERVICE, "GetBucketAcl", 1, requestParameters=None, sourceIPAddress=None),
        {**rec(61, USER, "ListBuckets", 1), "eventSource": "iam.amazonaws.com"},
    ]
    files = []
    for n, part in enumerate((records[::2], records[1::2])):
        f = tmp_path / f"111111111111_CloudTrail_us-east-1_20261101T10{n}0Z_x{n}.json.gz"
        f.write_bytes(gzip.compress(json.dumps({"Records": part}).encode()))
        files.append(f)
    return files


def duckdb_rows(files: list[Path]) -> list[tuple[Any, ...]]:
    listing = "[" + ", ".join(f"'{f}'" for f in files) + "]"
    sql = (
        'SELECT account, principal, epoch("window")::BIGINT, events, reads, writes, deletes,'
        f" errors, buckets, keys, coalesce(bytes_out, 0), ips FROM ({bench.DUCK_SQL.format(files=listing)})"
    )
    return sorted(duckdb.connect().execute(sql).fetchall())


def test_the_fold_computes_duckdbs_query_exactly(tmp_path: Path) -> None:
    files = trail_files(tmp_path)
    fold = ceiling.QueryFold()
    records = sum(fold.add(f) for f in files)
    ours = sorted(
        (acct, p, w, n, rd, wr, dl, er, len(b), len(k), pytest.approx(out), len(ips))
        for (acct, p, w), (n, rd, wr, dl, er, b, k, out, ips) in fold.groups.items()
    )
    theirs = duckdb_rows(files)
    assert records == 62
    # etl in the windows at :00, :05 and :10; ana at :00 and :05; the service at :00
    assert len(ours) == len(theirs) == 6
    assert ours == theirs
    assert {p for _, p, *_ in ours} == {
        "arn:aws:iam::111111111111:role/etl",  # the session's issuer, not the session
        "arn:aws:iam::111111111111:user/ana",
        "cloudtrail.amazonaws.com",
    }


def test_the_ceiling_adds_rivers_learning_per_window() -> None:
    query = {"records_per_s": 200_000.0, "records": 1000, "windows": 100}
    # 5 µs a record for the query, plus 10 µs a window over 10 records a window: 6 µs a record
    assert ceiling.ceiling(query, learn_us=10.0) == pytest.approx(1e6 / 6)
