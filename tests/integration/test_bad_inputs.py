"""Every kind of bad input s3ad meets, and what it must do with each (issue 7, items 1-2).

Story: a trail folder is full of broken, hostile and merely odd files (tests/data/bad/logs,
described one by one in MANIFEST.json). Replay reads the good parts of every file, names each
unreadable file exactly once with its reason, exits 3, and accounts for every record it read.
The daemon, handed the same files as S3 objects, does the same and deletes their messages;
SQS bodies of every wrong shape are poison, left for the DLQ, without touching S3. A real
gzip bomb is refused under the default 1 GiB cap without the process ever holding it.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from detector.aws.notifications import parse_notification
from detector.aws.sqs import Message
from detector.config import Settings
from detector.detect.detector import Detector
from detector.engine import Engine
from detector.errors import PoisonMessage, UnreadableInput
from detector.ingest.decompress import GZIP_MAGIC
from detector.ingest.reader import read_local
from detector.metrics import Metrics
from detector.pipeline import Pipeline
from detector.service.work import DONE, POISON, process_batch

BAD = Path(__file__).resolve().parents[1] / "data" / "bad"
MANIFEST = json.loads((BAD / "MANIFEST.json").read_text(encoding="utf-8"))
LOGS: list[dict[str, Any]] = MANIFEST["logs"]
SQS: list[dict[str, Any]] = MANIFEST["sqs"]
UNREADABLE = [e for e in LOGS if e["expect"] == "unreadable"]
READABLE = [e for e in LOGS if e["expect"] != "unreadable"]
TEST_CAP = 64 << 20  # every readable file fits; the bomb is refused after a few MB
NOW = 1_793_577_600.0  # 2026-11-02T00:00:00Z, the day after the corpus' events
MiB = 1 << 20
SUMMARY = "s3ad replay summary"
RECORDS_LINE = re.compile(
    r"records\s+([\d,]+) read: ([\d,]+) windowed, ([\d,]+) late, ([\d,]+) duplicate, "
    r"([\d,]+) not S3, ([\d,]+) invalid"
)
COUNTS = ("good_records", "invalid_records", "not_s3_records", "duplicate_records")


def _ids(entries: list[dict[str, Any]]) -> list[str]:
    return [Path(e["file"]).name for e in entries]


def _total(key: str, entries: list[dict[str, Any]] = READABLE) -> int:
    return sum(e[key] for e in entries)


# --- subprocess runs, all started at once (interpreter start-up dominates) --------------------


@dataclass
class Run:
    proc: subprocess.Popen[bytes]
    out: Path
    err: Path
    peak_rss: int = 0  # bytes, filled by ``result`` from wait4

    def result(self) -> tuple[int, str, str]:
        if self.proc.returncode is None:
            # wait4, not Popen.wait: it reports this child's own peak RSS.
            _, status, usage = os.wait4(self.proc.pid, 0)
            self.proc.returncode = os.waitstatus_to_exitcode(status)
            self.peak_rss = usage.ru_maxrss * 1024  # kilobytes on Linux
        return self.proc.returncode, self.out.read_text(), self.err.read_text()


@pytest.fixture(scope="module", autouse=True)
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Run]]:
    """Started before the first test of the module, so they run while the in-process tests do."""
    tmp = tmp_path_factory.mktemp("bad")
    base = {k: v for k, v in os.environ.items() if not k.startswith("S3AD_")}
    small = tmp / "small.json"
    small.write_bytes((BAD / "logs" / "duplicate_ids.json").read_bytes())
    scenarios = {
        # The whole corpus with findings on, the cap lowered so the bomb costs ~0.1 s.
        "corpus": (
            [
                "--emit",
                "findings",
                "--sink",
                f"jsonl://{tmp / 'findings.jsonl'}",
                str(BAD / "logs"),
            ],
            {"S3AD_INPUT_MAX_OBJECT_BYTES": str(TEST_CAP)},
        ),
        # The same with windows written out: every window must serialise.
        "windows": (
            ["--emit", "windows", "--sink", f"jsonl://{tmp / 'windows.jsonl'}", str(BAD / "logs")],
            {"S3AD_INPUT_MAX_OBJECT_BYTES": str(TEST_CAP)},
        ),
        # The bomb alone under the default cap, and a tiny good file for the baseline RSS.
        "bomb": (["--emit", "windows", str(BAD / "logs" / "gzip_bomb.json.gz")], {}),
        "baseline": (["--emit", "windows", str(small)], {}),
    }
    started: dict[str, Run] = {}
    for name, (args, env) in scenarios.items():
        out, err = tmp / f"{name}.out", tmp / f"{name}.err"
        with out.open("wb") as fo, err.open("wb") as fe:
            proc = subprocess.Popen(
                [sys.executable, "-m", "detector", "replay", *args],
                stdout=fo,
                stderr=fe,
                env={**base, **env},
            )
        started[name] = Run(proc, out, err)
    yield started
    for run in started.values():
        if run.proc.returncode is None:
            run.proc.kill()
            run.result()


def split_stderr(stderr: str) -> tuple[list[dict[str, Any]], list[str]]:
    """JSON log lines (every line before the summary must be one) and the summary lines."""
    head, sep, summary = stderr.partition(SUMMARY)
    assert sep, f"no summary in stderr:\n{stderr[-2000:]}"
    logs = [json.loads(line) for line in head.splitlines() if line.strip()]
    assert all(isinstance(doc, dict) and "level" in doc for doc in logs)
    return logs, summary.splitlines()


# --- the manifest itself ----------------------------------------------------------------------


def test_manifest_describes_every_file_of_the_corpus_and_nothing_else() -> None:
    on_disk = {str(p.relative_to(BAD)) for sub in ("logs", "sqs") for p in (BAD / sub).iterdir()}
    described = [e["file"] for e in LOGS + SQS]
    assert len(described) == len(set(described))
    assert on_disk == set(described)
    for e in READABLE:
        assert e["records"] == sum(e[k] for k in COUNTS)
        assert e["expect"] == (
            "ok" if e["records"] == e["good_records"] and not e["invalid_lines"] else "partial"
        )


def test_the_bomb_is_small_on_disk_and_expands_past_the_default_cap() -> None:
    bomb = BAD / "logs" / "gzip_bomb.json.gz"
    assert bomb.stat().st_size < 2 * MiB
    assert Settings().input.max_object_bytes == 1 << 30
    # The gzip trailer's ISIZE is the expanded size mod 2**32: above 1 GiB, below 4 GiB here.
    assert int.from_bytes(bomb.read_bytes()[-4:], "little") > 1 << 30


# --- each file on its own, in-process --------------------------------------------------------


@pytest.mark.parametrize("entry", LOGS, ids=_ids(LOGS))
def test_each_file_is_read_as_the_manifest_says(entry: dict[str, Any]) -> None:
    path = BAD / entry["file"]
    if entry["expect"] == "unreadable":
        with pytest.raises(UnreadableInput) as info:
            read_local(path, TEST_CAP)
        assert info.value.reason == entry["reason"]
        assert info.value.name == str(path)
        return
    decoded = read_local(path, TEST_CAP)
    engine = Engine(Settings(), clock=lambda: NOW)
    engine.ingest(decoded.records)
    closed = [w for batch in engine.rounds(final=True) for w in batch.windows]
    c = engine.counts
    got = {
        "records": c.read,
        "good_records": c.windowed + c.late,
        "invalid_records": c.invalid,
        "not_s3_records": c.not_s3,
        "duplicate_records": c.duplicates,
        "invalid_lines": decoded.invalid_lines,
    }
    assert got == {k: entry[k] for k in got}
    assert c.reconciles()
    assert sum(w.n for w in closed) == c.windowed


def test_a_request_nested_hundreds_deep_does_not_break_checkpoints_or_detection() -> None:
    # orjson loads up to 1024 levels; pickling ~500 would raise RecursionError and a daemon
    # could then never checkpoint again. The request is dropped at the edge; the call counts.
    settings = Settings()
    pipeline = Pipeline(settings, Detector(settings))
    pipeline.ingest(read_local(BAD / "logs" / "deep_request.json").records)
    assert pipeline.engine.counts.windowed == 2
    blob = pipeline.snapshot()
    restored = Pipeline(settings, Detector(settings))
    restored.restore(blob)
    for p in (pipeline, restored):
        findings = p.step(final=True)
        assert all(json.dumps(f) for f in findings)


# --- the whole corpus through replay ---------------------------------------------------------


def test_replay_reports_each_unreadable_file_once_with_its_reason_and_exits_3(
    runs: dict[str, Run],
) -> None:
    code, _, stderr = runs["corpus"].result()
    assert code == 3, stderr[-3000:]
    logs, summary = split_stderr(stderr)
    errors = [d for d in logs if d["level"] == "ERROR"]
    assert sorted((d["message"], d["file"], d["reason"]) for d in errors) == sorted(
        ("unreadable input", str(BAD / e["file"]), e["reason"]) for e in UNREADABLE
    )
    named = [line for line in summary if line.startswith("unreadable ")]
    assert sorted(named) == sorted(
        f"unreadable {BAD / e['file']}: {e['reason']}" for e in UNREADABLE
    )
    files = (
        f"files      {len(READABLE)} read, 0 skipped (digest/Insight), {len(UNREADABLE)} unreadable"
    )
    assert files in summary


def test_replay_reads_the_good_parts_and_every_record_is_accounted_for(
    runs: dict[str, Run],
) -> None:
    _, _, stderr = runs["corpus"].result()
    logs, summary = split_stderr(stderr)
    skipped = {d["file"]: d["count"] for d in logs if d["message"] == "lines skipped"}
    assert skipped == {
        str(BAD / e["file"]): e["invalid_lines"] for e in READABLE if e["invalid_lines"]
    }
    m = next(m for line in summary if (m := RECORDS_LINE.search(line)))
    read, windowed, late, dup, not_s3, invalid = (int(g.replace(",", "")) for g in m.groups())
    assert read == windowed + late + dup + not_s3 + invalid  # reconciles
    assert read == _total("records")
    assert windowed + late == _total("good_records")
    assert (invalid, not_s3, dup) == (
        _total("invalid_records"),
        _total("not_s3_records"),
        _total("duplicate_records"),
    )


def test_replay_writes_every_window_whatever_its_records_claimed(runs: dict[str, Run]) -> None:
    code, _, stderr = runs["windows"].result()
    assert code == 3, stderr[-3000:]
    _, summary = split_stderr(stderr)
    m = next(m for line in summary if (m := RECORDS_LINE.search(line)))
    windows = [json.loads(line) for line in (runs["windows"].out.parent / "windows.jsonl").open()]
    assert sum(w["events"] for w in windows) == int(m.group(2).replace(",", ""))  # windowed
    assert max(w["bytes_out"] for w in windows) == 2**63 - 1  # saturated, not a crash


def test_findings_from_hostile_records_are_bounded_and_free_of_control_characters(
    runs: dict[str, Run],
) -> None:
    runs["corpus"].result()
    out = runs["corpus"].out.parent / "findings.jsonl"
    findings = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    agents = {f["service"]["action"]["awsApiCallAction"]["userAgent"] for f in findings}
    assert any("Kali Linux x86_64) AAAA" in a for a in agents)  # the 1 MB agent, trimmed
    assert any('(Kali)\\x0a{"level":"ERROR"' in a for a in agents)  # the forged line, escaped
    assert any(f["title"].startswith("user/evil\\x0a\\x1b[1mroot ") for f in findings)
    for finding in findings:
        for text in _strings(finding):
            assert len(text) <= 4096
            assert not re.search(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e]", text)


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


@pytest.mark.slow
def test_the_default_cap_refuses_a_real_bomb_without_holding_it_in_memory(
    runs: dict[str, Run],
) -> None:
    code, _, stderr = runs["bomb"].result()
    assert code == 3
    logs, _ = split_stderr(stderr)
    assert [(d["reason"], d["detail"]) for d in logs if d["level"] == "ERROR"] == [
        ("too-large", f"more than {1 << 30} bytes decompressed")
    ]
    base_code, _, base_err = runs["baseline"].result()
    assert base_code == 0, base_err
    bomb, baseline = runs["bomb"].peak_rss, runs["baseline"].peak_rss
    # Holding the output up to the cap would cost over 1 GiB (2.2 GB measured before the fix).
    assert bomb - baseline < 64 * MiB, (
        f"bomb peak {bomb / MiB:.0f} MiB, baseline {baseline / MiB:.0f} MiB"
    )


# --- the daemon's view of the same files, and of bad SQS bodies ------------------------------


class FakeS3:
    """``get_object`` over a dict of key → bytes; remembers what was asked for."""

    def __init__(self, objects: dict[str, bytes]) -> None:
        self.objects = objects
        self.fetched: list[str] = []

    def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:  # boto3's argument names
        self.fetched.append(Key)
        return {"Body": io.BytesIO(self.objects[Key])}


def _log_key(i: int) -> str:
    acct = "111122223333"
    return (
        f"AWSLogs/{acct}/CloudTrail/us-east-1/2026/11/01/"
        f"{acct}_CloudTrail_us-east-1_20261101T1000Z_Bad{i:013d}.json.gz"
    )


def _body(key: str) -> str:
    return json.dumps({"s3Bucket": "org-trail-logs", "s3ObjectKey": [key]})


def _as_delivered(entry: dict[str, Any]) -> bytes:
    """The file as CloudTrail would put it in S3: gzipped, unless the point is that it is not."""
    data = (BAD / entry["file"]).read_bytes()
    if data[:2] == GZIP_MAGIC or entry["kind"] == "not-gzip":
        return data
    return gzip.compress(data, mtime=0)


def test_daemon_reads_the_good_parts_reports_each_bad_object_once_and_deletes_the_messages(
    caplog: pytest.LogCaptureFixture,
) -> None:
    objects = {_log_key(i): _as_delivered(e) for i, e in enumerate(LOGS)}
    messages = [Message(f"m{i}", f"r{i}", _body(_log_key(i))) for i in range(len(LOGS))]
    ingested: list[Any] = []
    metrics = Metrics()
    with caplog.at_level(logging.INFO):
        verdicts = process_batch(messages, FakeS3(objects), ingested.extend, metrics, TEST_CAP, 4)
    assert set(verdicts.by_message.values()) == {DONE}  # bad content never gets better: delete
    reported = sorted(
        (r.object, r.reason)  # type: ignore[attr-defined]
        for r in caplog.records
        if r.getMessage() == "unreadable object"
    )
    assert reported == sorted(
        (f"s3://org-trail-logs/{_log_key(i)}", e["reason"])
        for i, e in enumerate(LOGS)
        if e["expect"] == "unreadable"
    )
    assert len(ingested) == _total("records")
    engine = Engine(Settings(), clock=lambda: NOW)
    engine.ingest(ingested)
    assert engine.counts.reconciles()
    assert engine.counts.windowed + engine.counts.late == _total("good_records")


@pytest.mark.parametrize("entry", SQS, ids=_ids(SQS))
def test_each_bad_sqs_body_is_poison(entry: dict[str, Any]) -> None:
    body = (BAD / entry["file"]).read_bytes().decode("utf-8")
    with pytest.raises(PoisonMessage) as info:
        parse_notification(body)
    assert str(info.value)  # a reason for the operator


def test_daemon_leaves_every_bad_body_for_the_dlq_and_still_processes_the_good_message(
    caplog: pytest.LogCaptureFixture,
) -> None:
    good_key = _log_key(999)
    s3 = FakeS3({good_key: gzip.compress((BAD / "logs" / "duplicate_ids.json").read_bytes())})
    bodies = [(BAD / e["file"]).read_bytes().decode("utf-8") for e in SQS]
    messages = [Message(f"bad{i}", f"r{i}", b) for i, b in enumerate(bodies)]
    messages.insert(len(messages) // 2, Message("good", "rg", _body(good_key)))
    ingested: list[Any] = []
    metrics = Metrics()
    with caplog.at_level(logging.ERROR):
        verdicts = process_batch(messages, s3, ingested.extend, metrics, TEST_CAP, 2)
    assert verdicts.by_message.pop("good") == DONE
    assert set(verdicts.by_message.values()) == {POISON}
    assert len(verdicts.by_message) == len(SQS)
    assert s3.fetched == [good_key]  # poison never reaches S3
    assert len(ingested) == 6
    assert metrics.get("messages.poison") == len(SQS)
    poison_logs = [r for r in caplog.records if r.getMessage() == "poison message left for the DLQ"]
    assert sorted(r.message_id for r in poison_logs) == sorted(  # type: ignore[attr-defined]
        m.message_id for m in messages if m.message_id != "good"
    )
