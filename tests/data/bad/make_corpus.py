"""Regenerate the bad-input corpus under tests/data/bad and its MANIFEST.json.

Run ``python tests/data/bad/make_corpus.py``; the output is committed and byte-for-byte
deterministic (gzip mtime 0, seeded randomness), so tests never depend on running this.

logs/  one log file per way a file can be bad, each named in MANIFEST.json with what reading it
       must produce: ``unreadable`` (with the reason replay prints), or ``ok`` / ``partial`` with
       how many records are good (windowed or late), invalid, not S3 or duplicate, and how many
       JSON Lines lines cannot be parsed at all.
sqs/   SQS message bodies of every wrong shape; each must be a ``PoisonMessage``.

The expectations are written here by hand from the contract (README, detector/errors.py,
detector/normalize.py), never computed by running s3ad.
"""

from __future__ import annotations

import copy
import gzip
import json
import random
import zlib
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ACCT = "111122223333"
MB = 1 << 20
GIB = 1 << 30
BOMB_BYTES = GIB + MB  # just past the default 1 GiB cap (input.max_object_bytes)
NEST = 100_000  # nesting levels; orjson refuses more than 1024

BASE: dict[str, Any] = {
    "eventVersion": "1.10",
    "userIdentity": {
        "type": "IAMUser",
        "principalId": "AIDAEXAMPLEBADIN0001",
        "arn": f"arn:aws:iam::{ACCT}:user/bad-input",
        "accountId": ACCT,
        "accessKeyId": "AKIAEXAMPLEBADIN0001",
        "userName": "bad-input",
    },
    "eventTime": "2026-11-01T10:00:05Z",
    "eventSource": "s3.amazonaws.com",
    "eventName": "GetObject",
    "awsRegion": "us-east-1",
    "sourceIPAddress": "198.51.100.77",
    "userAgent": "[aws-cli/2.17.0 Python/3.11.8 Linux/6.1 exe/x86_64.amzn.2023]",
    "requestParameters": {"bucketName": "example-bad-input", "key": "data/file.csv"},
    "additionalEventData": {"bytesTransferredIn": 0.0, "bytesTransferredOut": 2048.0},
    "eventID": "",
    "readOnly": True,
    "eventType": "AwsApiCall",
    "managementEvent": False,
    "recipientAccountId": ACCT,
    "eventCategory": "Data",
}

_serial = 0
DROP = object()  # a ``rec`` change that removes the field


def rec(**changes: Any) -> dict[str, Any]:
    """A good S3 data event with a corpus-wide unique eventID; ``changes`` set (or, with the
    value ``DROP``, remove) top-level fields."""
    global _serial
    _serial += 1
    r = copy.deepcopy(BASE)
    r["eventID"] = f"bad00000-0000-4000-8000-{_serial:012d}"
    for k, v in changes.items():
        if v is DROP:
            r.pop(k, None)
        else:
            r[k] = v
    return r


def dumps(doc: Any) -> bytes:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()


def gz(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=9, mtime=0)


def lines(*docs: Any) -> bytes:
    return b"".join((d if isinstance(d, bytes) else dumps(d)) + b"\n" for d in docs)


def bomb() -> bytes:
    """``BOMB_BYTES`` of spaces as one gzip member of about 1 MB."""
    c = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: gzip header, mtime 0
    block = b" " * MB
    parts = [c.compress(block) for _ in range(BOMB_BYTES // MB)]
    parts.append(c.flush())
    return b"".join(parts)


def nested(depth: int, leaf: str = "1") -> str:
    return '{"a":' * depth + leaf + "}" * depth


def nested_value(depth: int) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    cur = doc
    for _ in range(depth - 1):
        cur["a"] = {}
        cur = cur["a"]
    return doc


# --- log files ---------------------------------------------------------------------------------


def log_files() -> list[tuple[str, bytes, dict[str, Any]]]:
    """(name, content, expectation) for every file under logs/."""
    out: list[tuple[str, bytes, dict[str, Any]]] = []

    def unreadable(name: str, data: bytes, kind: str, reason: str, note: str) -> None:
        out.append(
            (name, data, {"kind": kind, "expect": "unreadable", "reason": reason, "note": note})
        )

    def readable(name: str, data: bytes, kind: str, note: str, **counts: Any) -> None:
        c = {
            "records": 0,
            "good_records": 0,
            "invalid_records": 0,
            "not_s3_records": 0,
            "duplicate_records": 0,
            "invalid_lines": 0,
        }
        c.update({k: v for k, v in counts.items() if k != "cases"})
        c["records"] = (
            c["good_records"] + c["invalid_records"] + c["not_s3_records"] + c["duplicate_records"]
        )
        clean = c["records"] == c["good_records"] and not c["invalid_lines"]
        entry = {"kind": kind, "expect": "ok" if clean else "partial", **c, "note": note}
        if "cases" in counts:
            entry["cases"] = counts["cases"]
        out.append((name, data, entry))

    good = dumps({"Records": [rec(), rec()]})

    # -- gzip --
    unreadable(
        "truncated.json.gz",
        gz(good)[:-20],
        "truncated-gzip",
        "truncated-gzip",
        "gzip cut before its trailer",
    )
    unreadable(
        "gzip_trailing_garbage.json.gz",
        gz(good) + b"PK\x03\x04junk",
        "truncated-gzip",
        "truncated-gzip",
        "a valid member followed by bytes that are not gzip",
    )
    unreadable(
        "not_gzip.json.gz",
        good,
        "not-gzip",
        "not-gzip",
        "plain JSON named .gz: no gzip magic bytes",
    )
    unreadable(
        "gzip_bomb.json.gz",
        bomb(),
        "gzip-bomb",
        "too-large",
        f"about 1 MB expanding to {BOMB_BYTES} bytes of spaces, past the 1 GiB cap",
    )
    unreadable(
        "gzip_of_text.json.gz",
        gz(b"this is not JSON at all\n"),
        "not-json",
        "not-json",
        "valid gzip whose content is not JSON",
    )

    # -- not JSON / wrong top-level shape --
    unreadable("empty.json", b"", "empty", "not-json", "zero bytes")
    unreadable("whitespace_only.json", b" \n\t\r\n  ", "empty", "not-json", "only whitespace")
    garbage = b"\x00" + random.Random(7).randbytes(4095)
    unreadable("binary_garbage.json", garbage, "not-json", "not-json", "4 KiB of random bytes")
    unreadable(
        "lines_all_bad.jsonl",
        b"{not json\n{also: not json}\n",
        "not-json",
        "not-json",
        "JSON Lines where no line parses",
    )
    unreadable(
        "no_records.json",
        dumps({"foo": "bar", "count": 3}),
        "no-records",
        "no-records",
        "an object without Records",
    )
    unreadable("top_level_number.json", b"42", "no-records", "no-records", "top-level JSON number")
    unreadable(
        "top_level_string.json", b'"Records"', "no-records", "no-records", "top-level JSON string"
    )
    unreadable(
        "records_not_list.json",
        dumps({"Records": {"0": rec()}}),
        "records-not-list",
        "records-not-list",
        "Records is an object",
    )
    unreadable(
        "records_null.json",
        dumps({"Records": None}),
        "records-not-list",
        "records-not-list",
        "Records is null",
    )
    readable(
        "empty_records.json",
        dumps({"Records": []}),
        "empty-records",
        "Records is an empty list: nothing to do, nothing wrong",
    )

    # -- records that are not objects --
    junk: list[Any] = [1, "x", None, [], True, 1.5]
    readable(
        "records_not_objects.json",
        dumps({"Records": [*junk, rec(), rec()]}),
        "records-not-objects",
        "numbers, strings, null, lists, booleans among records",
        good_records=2,
        invalid_records=len(junk),
    )

    # -- wrong types in every field --
    invalid_cases = {
        "eventTime is a number": rec(eventTime=1793527205),
        "eventTime is null": rec(eventTime=None),
        "eventName is a number": rec(eventName=7),
        "eventName is empty": rec(eventName=""),
        "eventSource is a number": rec(eventSource=3),
        "eventSource is missing": rec(eventSource=DROP),
    }
    good_cases = {
        "userIdentity is null": rec(userIdentity=None),
        "userIdentity is a string": rec(userIdentity="arn:aws:iam::111122223333:user/x"),
        "userIdentity is a list": rec(userIdentity=[{"type": "IAMUser"}]),
        "userIdentity fields are numbers": rec(userIdentity={"type": 1, "arn": 2, "accountId": 3}),
        "sessionContext is a string": rec(userIdentity={
            "type": "AssumedRole", "arn": f"arn:aws:sts::{ACCT}:assumed-role/r/s",
            "sessionContext": "nope"}),
        "requestParameters is a list": rec(requestParameters=["bucketName", "key"]),
        "requestParameters is a string": rec(requestParameters="bucketName=x"),
        "bucketName is a number, key is null": rec(requestParameters={"bucketName": 5, "key": None}),
        "additionalEventData is a list": rec(additionalEventData=[1, 2]),
        "bytes as strings": rec(additionalEventData={"bytesTransferredOut": "1048576"}),
        "negative bytes": rec(additionalEventData={"bytesTransferredOut": -5, "bytesTransferredIn": -1.5}),
        "bytes as NaN / Infinity strings": rec(additionalEventData={
            "bytesTransferredOut": "NaN", "bytesTransferredIn": "1e999"}),
        "bytes huge": rec(additionalEventData={
            "bytesTransferredOut": 1e308, "bytesTransferredIn": 18446744073709551615}),
        "bytes are booleans": rec(additionalEventData={"bytesTransferredOut": True}),
        "recipientAccountId is a number": rec(recipientAccountId=111122223333),
        "eventID is a number": rec(eventID=12345),
        "sourceIPAddress is an object": rec(sourceIPAddress={"ip": "198.51.100.1"}),
        "userAgent is a list": rec(userAgent=["curl"]),
        "errorCode is a number": rec(errorCode=403),
        "eventCategory is a number, managementEvent a string": rec(
            eventCategory=1, managementEvent="false"),
        "awsRegion is null": rec(awsRegion=None),
        "vpcEndpointId is a number": rec(vpcEndpointId=9),
    }  # fmt: skip
    readable(
        "wrong_types.json",
        dumps({"Records": [*invalid_cases.values(), *good_cases.values()]}),
        "wrong-types",
        "a wrongly typed field makes a record invalid only when it is eventTime, "
        "eventName or eventSource; any other field falls back to empty / zero",
        good_records=len(good_cases),
        invalid_records=len(invalid_cases),
        cases=sorted([*invalid_cases, *good_cases]),
    )

    # -- timestamps --
    bad_times = {
        "not a date": "yesterday",
        "month 13": "2026-13-45T99:99:99Z",
        "ancient (1970)": "1970-01-01T00:00:00Z",
        "before S3 data events (2012)": "2012-12-31T23:59:59Z",
        "year 1": "0001-01-01T00:00:00Z",
        "far future (2999)": "2999-01-01T00:00:00Z",
        "year 9999": "9999-12-31T23:59:59Z",
        "second 60": "2026-11-01T10:00:60Z",
        "hour 24": "2026-11-01T24:00:00Z",
        "no time zone": "2026-11-01T10:00:05",
        "empty": "",
        "full-width digits": "２０２６-11-01T10:00:05Z",
        "Arabic-Indic digit": "2026-11-01T10:00:0\u0665Z",
    }
    good_times = {
        "microseconds": "2026-11-01T10:00:05.123456Z",
        "offset +02:00": "2026-11-01T12:00:05+02:00",
        "space separator": "2026-11-01 10:00:05Z",
    }
    readable("timestamps.json", dumps({"Records": [
        *(rec(eventTime=t) for t in bad_times.values()),
        *(rec(eventTime=t) for t in good_times.values())]}),
        "bad-timestamps", "invalid, ancient (< 2013) and future (> now + 1 h) times are invalid "
        "records: a bogus future time must not drag the watermark forward",
        good_records=len(good_times), invalid_records=len(bad_times),
        cases=sorted([*bad_times, *good_times]))  # fmt: skip

    # -- bytes and literals JSON does not allow --
    one = dumps({"Records": [rec()]})
    unreadable(
        "non_utf8.json",
        one.replace(b"bad-input", b"bad-\xff\xfeinput", 1),
        "non-utf8",
        "not-json",
        "a CloudTrail file (one line) with invalid UTF-8 inside a string",
    )
    readable(
        "non_utf8_lines.jsonl",
        lines(rec(), dumps(rec()).replace(b"GetObject", b"Get\xc3Object"), rec()),
        "non-utf8",
        "JSON Lines: the line with invalid UTF-8 is skipped, the rest read",
        good_records=2,
        invalid_lines=1,
    )
    unreadable(
        "nan_infinity.json",
        one.replace(b'"bytesTransferredOut":2048.0', b'"bytesTransferredOut":NaN,"x":Infinity', 1),
        "nan-infinity",
        "not-json",
        "NaN / Infinity literals are not JSON",
    )
    nan_lines = [
        dumps(rec()).replace(b"2048.0", lit) for lit in (b"NaN", b"Infinity", b"-Infinity")
    ]
    readable(
        "nan_infinity_lines.jsonl",
        lines(rec(), *nan_lines, rec()),
        "nan-infinity",
        "JSON Lines: lines with NaN / Infinity are skipped",
        good_records=2,
        invalid_lines=3,
    )

    # -- deep nesting --
    unreadable(
        "deep_array.json",
        b"[" * NEST + b"]" * NEST,
        "deep-nesting",
        "not-json",
        f"{NEST} nested arrays: must be not-json, not RecursionError",
    )
    unreadable(
        "deep_object.json.gz",
        gz(f'{{"Records":[{nested(NEST)}]}}'.encode()),
        "deep-nesting",
        "not-json",
        f"{NEST} nested objects inside Records",
    )
    readable(
        "deep_lines.jsonl.gz",
        gz(lines(rec(), nested(NEST).encode(), rec())),
        "deep-nesting",
        "JSON Lines: the over-deep line is skipped",
        good_records=2,
        invalid_lines=1,
    )
    policy = rec(
        eventName="PutBucketPolicy",
        eventCategory="Management",
        managementEvent=True,
        requestParameters={"bucketName": "example-bad-input", "bucketPolicy": nested_value(900)},
    )
    readable(
        "deep_request.json",
        dumps({"Records": [policy, rec()]}),
        "deep-nesting",
        "a kept request nested 900 deep (orjson loads up to 1024): the call counts, the "
        "request is dropped so checkpoints (pickle) and rules never recurse into it",
        good_records=2,
    )

    # -- size --
    base_t = 1_793_527_200  # 2026-11-01T10:00:00Z
    many = []
    lean = ("eventTime", "eventSource", "eventName", "awsRegion", "sourceIPAddress", "eventID",
            "recipientAccountId", "eventCategory")  # fmt: skip
    for i in range(100_000):
        t = base_t + (i * 900) // 100_000  # spread over 15 minutes
        r = {k: v for k, v in rec(eventTime=_iso(t)).items() if k in lean}
        r["userIdentity"] = {
            "type": "IAMUser",
            "arn": f"arn:aws:iam::{ACCT}:user/bulk-{i % 20:02d}",
        }
        r["requestParameters"] = {"bucketName": "example-bulk", "key": f"bulk/{i}.csv"}
        many.append(r)
    readable(
        "hundred_k_records.json.gz",
        gz(dumps({"Records": many})),
        "100k-records",
        "100,000 records in one file",
        good_records=len(many),
    )
    huge = {
        "1 MB user agent": rec(userAgent="Mozilla/5.0 (X11; Kali Linux x86_64) " + "A" * MB),
        "1 MB key": rec(requestParameters={"bucketName": "example-bad-input", "key": "k/" + "K" * MB}),
        "1 MB bucket name": rec(requestParameters={"bucketName": "b" * MB, "key": "x"}),
        "1 MB principal ARN": rec(userIdentity={"type": "IAMUser", "arn": "arn:aws:iam::1:user/" + "u" * MB}),
        "1 MB eventID": rec(eventID="e" * MB),
        "1 MB error code": rec(errorCode="AccessDenied" + "D" * MB),
    }  # fmt: skip
    readable(
        "huge_strings.json.gz",
        gz(dumps({"Records": list(huge.values())})),
        "huge-strings",
        "1 MB strings in every displayed field: read, then trimmed wherever shown (the Kali "
        "agent makes a PenTest finding that shows it)",
        good_records=len(huge),
        cases=sorted(huge),
    )
    controls = {
        "forged JSON log line in user agent": rec(
            userAgent='curl/8 (Kali)\n{"level":"ERROR","message":"forged","time":"2026-11-01"}\r\n'),
        "ANSI escapes in user agent": rec(userAgent="\x1b[2J\x1b[31mkali\x1b[0m\x07\x9b6n"),
        "NUL and bidi overrides in key": rec(requestParameters={
            "bucketName": "example-bad-input", "key": "a\x00b\u202egnp.exe\u2028x"}),
    }  # fmt: skip
    hostile = dict(BASE["userIdentity"], arn=f"arn:aws:iam::{ACCT}:user/evil\n\x1b[1mroot")
    for r in controls.values():
        r["userIdentity"] = hostile  # its own principal, so its own finding
    readable(
        "control_chars.json",
        dumps({"Records": list(controls.values())}),
        "control-chars",
        "control characters are data: read as is, escaped wherever shown (the Kali agents make "
        "PenTest findings that show them)",
        good_records=len(controls),
        cases=sorted(controls),
    )

    overflow = [rec(additionalEventData={"bytesTransferredOut": 2**64 - 1}) for _ in range(3)]
    readable(
        "bytes_overflow.json",
        dumps({"Records": overflow}),
        "huge-numbers",
        "three reads of 2**64 - 1 bytes each in one window: the sum no longer fits the 64-bit "
        "integers JSON encoders write",
        good_records=len(overflow),
    )

    # -- duplicates and odd keys --
    a, b, c = rec(), rec(), rec()
    readable(
        "duplicate_ids.json",
        dumps({"Records": [a, a, b, b, b, c]}),
        "duplicate-ids",
        "the same eventID at the same time counts once",
        good_records=3,
        duplicate_records=3,
    )
    keys = [
        "with space/file name.csv",
        "plus+sign.csv",
        "100%.csv",
        "%2Falready%20encoded",
        "ünïcødé/日本語/🙂.txt",
        "../../etc/passwd",
        "",
        "trailing/",
    ]
    readable("odd_keys.json", dumps({"Records": [
        rec(requestParameters={"bucketName": "example-bad-input", "key": k}) for k in keys]}),
        "odd-keys", "spaces, +, %, unicode and path tricks are just keys", good_records=len(keys),
        cases=keys)  # fmt: skip
    not_s3 = [
        rec(eventSource="ec2.amazonaws.com", eventName="RunInstances"),
        rec(eventSource="sts.amazonaws.com", eventName="AssumeRole"),
    ]
    readable(
        "not_s3_mix.json",
        dumps({"Records": [*not_s3, rec()]}),
        "not-s3",
        "other services' events are counted as not S3",
        good_records=1,
        not_s3_records=len(not_s3),
    )
    return out


def _iso(t: int) -> str:
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


# --- SQS bodies --------------------------------------------------------------------------------


def _sns(message: Any) -> str:
    return json.dumps({
        "Type": "Notification",
        "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
        "TopicArn": f"arn:aws:sns:us-east-1:{ACCT}:cloudtrail-topic",
        "Message": message,
        "Timestamp": "2026-11-26T21:05:43.123Z",
    })  # fmt: skip


def _eventbridge(source: str, detail_type: str, detail: Any) -> str:
    return json.dumps({
        "version": "0", "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": detail_type, "source": source, "account": ACCT,
        "time": "2026-11-26T21:05:42Z", "region": "us-east-1", "resources": [], "detail": detail,
    })  # fmt: skip


def _s3(**record: Any) -> str:
    base: dict[str, Any] = {
        "eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": "org-trail-logs"}, "object": {"key": "AWSLogs/x.json.gz", "size": 10}},
    }  # fmt: skip
    for k, v in record.items():
        if v is DROP:
            base.pop(k, None)
        else:
            base[k] = v
    return json.dumps({"Records": [base]})


def sqs_bodies() -> list[tuple[str, str, str]]:
    """(file name, body, kind) — every one must be poison."""
    obj_ok = {"key": "AWSLogs/x.json.gz", "size": 1}
    s3_bucket_missing = {"bucket": {}, "object": obj_ok}
    return [
        ("empty.txt", "", "empty"),
        ("whitespace.txt", " \n\t ", "empty"),
        ("not_json.txt", "hello, queue", "not-json"),
        ("control_chars.txt", "\x00\x01\x1b[31m", "not-json"),
        ("truncated_json.json", '{"Records": [{"eventSource": "aws:s3"', "not-json"),
        ("nan.json", '{"Records": NaN}', "not-json"),
        ("lone_surrogate.json", '{"s3Bucket": "b", "s3ObjectKey": ["\\ud800"]}', "not-json"),
        ("deep_nesting.json", "[" * NEST + "]" * NEST, "deep-nesting"),
        ("json_null.json", "null", "not-an-object"),
        ("json_array.json", "[]", "not-an-object"),
        ("json_number.json", "42", "not-an-object"),
        ("json_string.json", '"s3://org-trail-logs/AWSLogs/x.json.gz"', "not-an-object"),
        ("empty_object.json", "{}", "unknown-shape"),
        ("unknown_shape.json", '{"hello": "world"}', "unknown-shape"),
        ("huge_unknown_keys.json", json.dumps({c * 100_000: 1 for c in "xyz"}), "unknown-shape"),
        ("sns_garbage_message.json", _sns("<<garbage>> not json"), "sns-garbage"),
        ("sns_message_empty.json", _sns(""), "sns-garbage"),
        ("sns_message_null.json", _sns(None), "sns-garbage"),
        ("sns_message_object.json", _sns({"s3Bucket": "b", "s3ObjectKey": ["k"]}), "sns-garbage"),
        ("sns_message_array.json", _sns("[1, 2, 3]"), "sns-garbage"),
        ("sns_message_unknown_shape.json", _sns('{"foo": 1}'), "sns-garbage"),
        ("sns_nested_sns.json", _sns(_sns('{"s3Bucket": "b", "s3ObjectKey": ["k"]}')), "sns-garbage"),
        ("eventbridge_object_deleted.json",
         _eventbridge("aws.s3", "Object Deleted", {"bucket": {"name": "b"}, "object": obj_ok}),
         "eventbridge-other-type"),
        ("eventbridge_cloudtrail_api_call.json",
         _eventbridge("aws.s3", "AWS API Call via CloudTrail", {"eventName": "PutObject"}),
         "eventbridge-other-type"),
        ("eventbridge_other_source.json",
         _eventbridge("aws.ec2", "EC2 Instance State-change Notification", {"state": "running"}),
         "eventbridge-other-type"),
        ("eventbridge_detail_not_object.json", _eventbridge("aws.s3", "Object Created", "x"),
         "eventbridge-bad-detail"),
        ("eventbridge_key_missing.json",
         _eventbridge("aws.s3", "Object Created", {"bucket": {"name": "b"}, "object": {}}),
         "eventbridge-bad-detail"),
        ("eventbridge_bucket_name_number.json",
         _eventbridge("aws.s3", "Object Created", {"bucket": {"name": 7}, "object": obj_ok}),
         "eventbridge-bad-detail"),
        ("s3_records_empty.json", '{"Records": []}', "s3-bad-records"),
        ("s3_records_not_list.json", '{"Records": {"eventSource": "aws:s3"}}', "s3-bad-records"),
        ("s3_record_not_object.json", '{"Records": ["x"]}', "s3-bad-records"),
        ("s3_record_other_source.json", _s3(eventSource="aws:sqs"), "s3-bad-records"),
        ("s3_record_no_event_name.json", _s3(eventName=DROP), "s3-bad-records"),
        ("s3_record_key_missing.json",
         _s3(s3={"bucket": {"name": "b"}, "object": {"size": 1}}), "s3-bad-records"),
        ("s3_record_key_not_string.json",
         _s3(s3={"bucket": {"name": "b"}, "object": {"key": 123}}), "s3-bad-records"),
        ("s3_record_key_empty.json",
         _s3(s3={"bucket": {"name": "b"}, "object": {"key": ""}}), "s3-bad-records"),
        ("s3_record_key_bad_utf8.json",
         _s3(s3={"bucket": {"name": "b"}, "object": {"key": "AWSLogs/%FF%FE.json.gz"}}),
         "s3-bad-records"),
        ("s3_record_bucket_missing.json", _s3(s3=s3_bucket_missing), "s3-bad-records"),
        ("s3_record_s3_not_object.json", _s3(s3="s3://b/k"), "s3-bad-records"),
        ("cloudtrail_keys_not_list.json", '{"s3Bucket": "b", "s3ObjectKey": "k.json.gz"}',
         "cloudtrail-bad-keys"),
        ("cloudtrail_keys_empty.json", '{"s3Bucket": "b", "s3ObjectKey": []}', "cloudtrail-bad-keys"),
        ("cloudtrail_key_not_string.json", '{"s3Bucket": "b", "s3ObjectKey": [1]}',
         "cloudtrail-bad-keys"),
        ("cloudtrail_bucket_missing.json", '{"s3ObjectKey": ["k.json.gz"]}', "cloudtrail-bad-keys"),
    ]  # fmt: skip


def main() -> None:
    manifest: dict[str, Any] = {"logs": [], "sqs": []}
    for sub in ("logs", "sqs"):
        d = HERE / sub
        d.mkdir(exist_ok=True)
        for old in d.iterdir():
            old.unlink()
    for name, data, expect in log_files():
        (HERE / "logs" / name).write_bytes(data)
        manifest["logs"].append({"file": f"logs/{name}", **expect})
    for name, body, kind in sqs_bodies():
        (HERE / "sqs" / name).write_bytes(body.encode("utf-8", "surrogatepass"))
        manifest["sqs"].append({"file": f"sqs/{name}", "kind": kind, "expect": "poison"})
    text = json.dumps(manifest, indent=1, ensure_ascii=False) + "\n"
    (HERE / "MANIFEST.json").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
