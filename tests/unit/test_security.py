"""Security properties a user relies on without reading the code (issue 7, item 5).

Story: s3ad reads logs full of other people's credentials and of strings chosen by attackers.
Its own logs at INFO never repeat a credential, a session token or a record; whatever a caller
puts in a user agent, an object key, a principal or a file name reaches logs and findings
escaped and trimmed, so it can neither forge a log line nor drive the operator's terminal; the
health server is reachable from the task itself only; dependencies are pinned and consistent;
the task role can read trail log files and nothing else of the trail bucket.
"""

from __future__ import annotations

import configparser
import gzip
import io
import json
import logging
import os
import re
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement

from detector.aws.sqs import Message
from detector.config import ServiceSettings, load_settings
from detector.detect.settings import FindingSettings
from detector.logs import MAX_LINE, JsonFormatter
from detector.metrics import Metrics
from detector.service.health import HealthServer, HealthState
from detector.service.work import process_batch

ROOT = Path(__file__).resolve().parents[2]
ACCT = "111122223333"
TOR_IP = "185.220.100.5"  # in config/tor_exits.txt
RAW_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")

# Fake credentials, shaped like real ones so a pattern-matching leak would show.
SECRETS = {
    "user access key": "AKIAFAKESECRETKEY001",
    "session access key": "ASIAFAKESESSIONKEY01",
    "issued access key": "ASIAFAKEISSUEDKEY002",
    "secret access key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYFAKESECRET",
    "session token": "IQoJb3JpZ2luX2VjEFAKESESSIONTOKEN" + "Zm9v" * 40,
    "presign signature": "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924aFAKE",
    "password in a policy": "hunter2-FAKE-PASSWORD",
    "SSE-C key": "FAKEc3NlLWMga2V5IGJhc2U2NCBlbmNvZGVkIGZvciB0ZXN0cw==",
}
FINDABLE = {"user access key", "session access key"}  # GuardDuty-shaped findings name the key


def _record(i: int, **fields: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "eventVersion": "1.10",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDAFAKEPRINCIPAL001",
            "arn": f"arn:aws:iam::{ACCT}:user/mallory",
            "accountId": ACCT,
            "accessKeyId": SECRETS["user access key"],
            "userName": "mallory",
        },
        "eventTime": f"2026-11-01T10:0{i % 10}:0{i % 7}Z",
        "eventSource": "s3.amazonaws.com",
        "eventName": "GetObject",
        "awsRegion": "us-east-1",
        "sourceIPAddress": TOR_IP,
        "userAgent": "Mozilla/5.0 (X11; Kali Linux x86_64)",
        "requestParameters": {"bucketName": "victim-data", "key": f"k/{i}"},
        "additionalEventData": {"bytesTransferredOut": 1024},
        "eventID": f"5ec0e7a1-0000-4000-8000-{i:012d}",
        "recipientAccountId": ACCT,
        "eventCategory": "Data",
    }
    rec.update(fields)
    return rec


def _secret_records() -> list[dict[str, Any]]:
    s = SECRETS
    presigned = {
        "bucketName": "victim-data",
        "key": "k/presigned",
        "X-Amz-Credential": f"{s['session access key']}/20261101/us-east-1/s3/aws4_request",
        "X-Amz-Signature": s["presign signature"],
        "X-Amz-Security-Token": s["session token"],
        "x-amz-server-side-encryption-customer-key": s["SSE-C key"],
    }
    role = {
        "type": "AssumedRole",
        "arn": f"arn:aws:sts::{ACCT}:assumed-role/etl/session",
        "accountId": ACCT,
        "accessKeyId": s["session access key"],
        "sessionContext": {"sessionIssuer": {"arn": f"arn:aws:iam::{ACCT}:role/etl"}},
    }
    issued = {
        "credentials": {
            "accessKeyId": s["issued access key"],
            "secretAccessKey": s["secret access key"],
            "sessionToken": s["session token"],
        }
    }
    policy = {
        "bucketName": "victim-data",
        "bucketPolicy": {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Condition": {"StringEquals": {"aws:Referer": s["password in a policy"]}},
                }
            ]
        },
    }
    return [
        *(_record(i) for i in range(6)),
        _record(6, requestParameters=presigned),
        _record(7, userIdentity=role, responseElements=issued, additionalEventData=issued),
        _record(
            8, eventName="PutBucketPolicy", eventCategory="Management", requestParameters=policy
        ),
        _record(9, eventTime=1793527205, requestParameters=presigned),  # invalid: counted only
    ]


def _replay(args: list[str], env: dict[str, str] | None = None) -> tuple[int, str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("S3AD_")}
    proc = subprocess.run(
        [sys.executable, "-m", "detector", "replay", *args],
        capture_output=True,
        env={**base, **(env or {})},
        timeout=120,
        check=False,
    )
    return (
        proc.returncode,
        proc.stdout.decode("utf-8", "surrogateescape"),
        proc.stderr.decode("utf-8", "surrogateescape"),
    )


def _log_lines(stderr: str) -> tuple[list[str], list[str]]:
    head, sep, summary = stderr.partition("s3ad replay summary")
    assert sep, stderr[-2000:]
    return [line for line in head.splitlines() if line], summary.splitlines()


# --- (a) no credentials, tokens or records in logs -------------------------------------------


@pytest.fixture(scope="module")
def secret_trail(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("secrets")
    (d / "trail.json.gz").write_bytes(
        gzip.compress(json.dumps({"Records": _secret_records()}).encode())
    )
    # A JSON Lines export with a line that does not parse, and a file that is not JSON at all:
    # both are reported, neither may quote what it could not parse.
    good = json.dumps(_record(20))
    bad_line = json.dumps(_record(21, requestParameters={"token": SECRETS["session token"]}))
    (d / "export.jsonl").write_text(f"{good}\n{bad_line[:-5]}, {SECRETS['secret access key']}\n")
    (d / "broken.json").write_text(
        f'{{"Records": [{{"sessionToken": "{SECRETS["session token"]}", oops'
    )
    return d


def test_logs_at_info_never_repeat_credentials_tokens_or_records(secret_trail: Path) -> None:
    findings_out = secret_trail.parent / "secret-findings.jsonl"
    code, _, stderr = _replay(
        ["--emit", "findings", "--sink", f"jsonl://{findings_out}", str(secret_trail)]
    )
    assert code == 3, stderr  # broken.json is unreadable
    wcode, windows, wstderr = _replay(["--emit", "windows", str(secret_trail)])
    assert wcode == 3
    logs, _ = _log_lines(stderr)
    messages = {json.loads(line)["message"] for line in logs}
    assert {"unreadable input", "lines skipped"} <= messages  # the bad parts were reported
    for what, secret in SECRETS.items():
        assert secret not in stderr, f"{what} in the replay log"
        assert secret not in wstderr, f"{what} in the replay log (windows)"
        assert secret not in windows, f"{what} in a window record"
    findings = [json.loads(line) for line in findings_out.read_text().splitlines()]
    assert {f["type"] for f in findings} >= {
        "PenTest:S3/KaliLinux",
        "Policy:S3/BucketAnonymousAccessGranted",
    }
    published = findings_out.read_text()
    for what, secret in SECRETS.items():
        if what not in FINDABLE:
            assert secret not in published, f"{what} in a finding"
    assert "eventTime" not in stderr and "requestParameters" not in stderr  # no raw records


def test_the_daemon_logs_poison_and_bad_objects_without_their_secrets(
    caplog: pytest.LogCaptureFixture,
) -> None:
    token, secret = SECRETS["session token"], SECRETS["secret access key"]
    bodies = [
        json.dumps({"sessionToken": token, "secretAccessKey": secret}),
        json.dumps({"Type": "Notification", "Message": f"{token} {secret}"}),
        json.dumps({"source": "aws.sts", "detail-type": "x", "detail": {"sessionToken": token}}),
        json.dumps({"s3Bucket": "trail", "s3ObjectKey": [f"AWSLogs/{ACCT}/CloudTrail/x.json.gz"]}),
    ]
    key = (
        f"AWSLogs/{ACCT}/CloudTrail/us-east-1/2026/11/01/"
        f"{ACCT}_CloudTrail_us-east-1_20261101T1000Z_Sec0000000000001.json.gz"
    )
    bodies.append(json.dumps({"s3Bucket": "trail", "s3ObjectKey": [key]}))
    blob = gzip.compress(f'{{"Records": [{{"t": "{token}", x'.encode())  # not JSON

    class S3:
        def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:  # boto3's names
            return {"Body": io.BytesIO(blob)}

    messages = [Message(f"m{i}", f"r{i}", b) for i, b in enumerate(bodies)]
    with caplog.at_level(logging.INFO):
        process_batch(messages, S3(), lambda recs: None, Metrics(), 1 << 20, 2)
    formatter = JsonFormatter()
    text = "\n".join(formatter.format(r) for r in caplog.records)
    assert "poison message left for the DLQ" in text and "unreadable object" in text
    assert token not in text and secret not in text


# --- (b) log and finding injection -------------------------------------------------------------

FORGED = '{"level":"ERROR","logger":"s3ad","message":"forged"}'
HOSTILE_AGENT = f"curl/8 (Kali)\n{FORGED}\r\n\x1b]0;pwned\x07\x1b[2J\x1b[31m\x9b6n\u2028\u202e"


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    d = tmp_path_factory.mktemp("hostile")
    odd_account = "1111\n2222\x1b[0m" + "9" * 100_000
    evil_user = {
        "type": "IAMUser",
        "arn": f"arn:aws:iam::{ACCT}:user/evil\n{FORGED}\u202e",
        "accountId": ACCT,
    }
    recs = [
        _record(1, userAgent=HOSTILE_AGENT, userIdentity=evil_user),
        _record(2, userAgent="Kali " + "A" * (1 << 20)),
        _record(3, requestParameters={"bucketName": "b" * 1000, "key": "K\x1b[1m" * (1 << 18)}),
        _record(4, recipientAccountId=odd_account, userAgent=HOSTILE_AGENT),
    ]
    (d / "hostile.json").write_text(json.dumps({"Records": recs}))
    evil_name = f"evil\n{FORGED}\x1b[31m\u2028.json"
    (d / evil_name).write_text("not json")
    out = d.parent / "hostile-findings.jsonl"
    code, _, stderr = _replay(["--emit", "findings", "--sink", f"jsonl://{out}", str(d)])
    findings = [json.loads(line) for line in out.read_text().splitlines()]
    return {"code": code, "stderr": stderr, "findings": findings, "evil": str(d / evil_name)}


def test_every_log_line_is_one_json_object_whatever_the_input(hostile_run: dict[str, Any]) -> None:
    assert hostile_run["code"] == 3
    logs, summary = _log_lines(hostile_run["stderr"])
    docs = [json.loads(line) for line in logs]
    assert all(isinstance(d, dict) and d["logger"] != "s3ad" for d in docs)  # nothing forged
    # The file name survives (JSON escapes C0), with U+2028 spelled out for line-based tools.
    evil = hostile_run["evil"].replace("\u2028", "\\u2028")
    assert [d["file"] for d in docs if d["level"] == "ERROR"] == [evil]
    assert not RAW_CONTROL.search(hostile_run["stderr"].replace("\n", ""))
    # The human summary after the log lines: no forged line, no terminal escapes.
    assert not any(line.startswith("{") for line in summary)
    assert any(line.startswith("unreadable ") and "evil\\x0a{" in line for line in summary)


def test_findings_show_hostile_strings_escaped_and_bounded(hostile_run: dict[str, Any]) -> None:
    findings = hostile_run["findings"]
    cut = FindingSettings().max_string
    agents = [f["service"]["action"]["awsApiCallAction"]["userAgent"] for f in findings]
    assert any(a.startswith("curl/8 (Kali)\\x0a{") and "\\x1b" in a for a in agents)
    assert any(a.startswith("Kali AAAA") for a in agents)
    assert any(f["accountId"].startswith("1111\\x0a2222\\x1b[0m") for f in findings)
    for f in findings:
        assert len(json.dumps(f)) < 32 * 1024
        for text in _strings(f):
            assert not RAW_CONTROL.search(text), text[:200]
            assert len(text) <= 8 * cut + 32, text[:200]
        assert len(f["accountId"]) <= 64 + 16


def _strings(doc: Any) -> Iterator[str]:
    if isinstance(doc, str):
        yield doc
    elif isinstance(doc, dict):
        for k, v in doc.items():
            yield k
            yield from _strings(v)
    elif isinstance(doc, list):
        for v in doc:
            yield from _strings(v)


class _Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no")


def _deep(levels: int) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    cur = doc
    for _ in range(levels):
        cur["a"] = {}
        cur = cur["a"]
    return doc


@pytest.mark.parametrize(
    "value",
    [
        f"x\n{FORGED}",
        "\x1b[31m\x9b6n\u2028\u2029\u202e\u2066",
        "file\udcff.json",  # a file name that is not UTF-8
        "k" * (1 << 20),
        2**70,
        _deep(10_000),
        [[["x" * 10_000] * 100] * 100],
        _Unprintable(),
    ],
    ids=["forged-line", "escapes", "surrogate", "1MB", "bigint", "deep", "wide", "unprintable"],
)
def test_any_log_field_makes_exactly_one_bounded_json_line(value: Any) -> None:
    record = logging.LogRecord("detector.x", logging.INFO, __file__, 1, "msg %s", ("a\nb",), None)
    record.object = value
    line = JsonFormatter().format(record)
    assert "\n" not in line and not RAW_CONTROL.search(line)
    doc = json.loads(line)
    assert doc["message"] == "msg a\nb"
    assert len(line) <= MAX_LINE


# --- (c) health server on loopback -------------------------------------------------------------


def test_health_server_binds_to_loopback_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("S3AD_")]:
        monkeypatch.delenv(name)
    assert ServiceSettings().health_bind == "127.0.0.1"
    resolved = load_settings(None, {}).service
    assert resolved.health_bind == "127.0.0.1"
    server = HealthServer(HealthState(), Metrics(), resolved.health_bind, 0, prometheus=True)
    server.start()
    try:
        assert server.server.server_address[0] == "127.0.0.1"
        url = f"http://127.0.0.1:{server.port}/healthz"
        with urllib.request.urlopen(url, timeout=5) as resp:
            assert resp.status == 200
        other = _non_loopback_address()
        if other is not None:
            with pytest.raises(OSError):
                socket.create_connection((other, server.port), timeout=2).close()
    finally:
        server.stop()


def _non_loopback_address() -> str | None:
    """This host's address on its default route, if it has one (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1
            addr: str = s.getsockname()[0]
        except OSError:
            return None
    return None if addr.startswith("127.") else addr


# --- (d) dependencies pinned and consistent ---------------------------------------------------


def _requirements() -> list[Requirement]:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    lines = cfg["options"]["install_requires"].splitlines()
    for extra in cfg["options.extras_require"].values():
        lines += extra.splitlines()
    return [Requirement(line) for line in lines if line.strip()]


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not an exact pin"
            pins[_norm(name)] = version.strip()
    return pins


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_dependency_is_pinned_and_installed_at_its_pin() -> None:
    pins = _pins()
    for req in _requirements():
        if req.marker is not None and not req.marker.evaluate():
            continue
        name = _norm(req.name)
        assert name in pins, f"{req.name} is not pinned in constraints.txt"
        assert req.specifier.contains(pins[name]), f"pin {pins[name]} breaks {req}"
        assert metadata.version(req.name) == pins[name], f"{req.name} installed ≠ pinned"


def test_pip_check_finds_no_broken_requirements() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "check"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


# --- (e) the task role ------------------------------------------------------------------------


def _policy() -> list[dict[str, Any]]:
    doc = json.loads((ROOT / "config" / "deploy" / "iam-policy.json").read_text())
    assert doc["Version"] == "2012-10-17"
    statements: list[dict[str, Any]] = doc["Statement"]
    return statements


def _listed(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def test_task_role_grants_only_what_the_daemon_calls() -> None:
    allowed = {
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:GetQueueAttributes",
        "s3:GetObject",
        "s3:PutObject",
        "s3:ListBucket",
        "kms:Decrypt",
        "events:PutEvents",
    }
    for st in _policy():
        assert st["Effect"] == "Allow" and st.get("Sid")
        assert "NotAction" not in st and "NotResource" not in st
        for action in _listed(st["Action"]):
            assert action in allowed, f"{st['Sid']}: {action} is not something s3ad calls"
        for resource in _listed(st["Resource"]):
            assert resource != "*" and ":*:" not in resource, f"{st['Sid']}: {resource}"


def test_task_role_reads_trail_log_files_only_and_writes_only_its_state() -> None:
    statements = _policy()
    trail = [r for st in statements for r in _listed(st["Resource"]) if "TRAIL_BUCKET" in r]
    assert trail == ["arn:aws:s3:::TRAIL_BUCKET/AWSLogs/*/CloudTrail/*"]  # not digests, not ELB…
    for st in statements:
        actions = set(_listed(st["Action"]))
        resources = _listed(st["Resource"])
        if "s3:PutObject" in actions:
            assert resources == ["arn:aws:s3:::S3AD_BUCKET/state/*"]  # never models/: pickles
        if actions & {"s3:GetObject", "s3:ListBucket"}:
            # Bucket names are global: pin the owner so a re-created bucket cannot feed us.
            assert "s3:ResourceAccount" in json.dumps(st.get("Condition", {})), st["Sid"]
        if "events:PutEvents" in actions:
            assert st["Condition"] == {"StringEquals": {"events:source": "s3ad"}}
        if "kms:Decrypt" in actions:
            assert "kms:ViaService" in json.dumps(st["Condition"])
