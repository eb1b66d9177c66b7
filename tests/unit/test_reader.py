"""Reading the files people actually have: three shapes, digests skipped, broken files named.

Story: a user points s3ad at a folder of CloudTrail logs and exports. Every record in a readable
file comes out; digest and Insight files are recognised and skipped; a broken file is reported
with its name and a reason, never crashes the run, and a gzip bomb is an error, not an outage.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from detector.errors import SkippedInput, UnreadableInput
from detector.events import S3Event
from detector.ingest.decompress import gunzip_bytes
from detector.ingest.reader import decode_records, list_inputs, read_local
from detector.ingest.typed import Record
from detector.normalize import Normalizer

FILES = Path(__file__).resolve().parents[1] / "data" / "files"
RECORDS = Path(__file__).resolve().parents[1] / "data" / "records"
LOG_FILE = next((FILES / "good").rglob("*_CloudTrail_*.json.gz"))
NOW = 1_793_600_000.0  # 2026-11-02, after the fixtures' eventTimes


def record(name: str) -> dict:
    return json.loads((RECORDS / f"{name}.json").read_text())


def ids(records: list) -> list[str]:
    return [r["eventID"] for r in records]


def test_cloudtrail_log_file_yields_every_record_in_order() -> None:
    # CloudTrail's own shape is decoded into typed records holding only the fields s3ad reads;
    # they normalize to exactly the events the full JSON gives.
    decoded = read_local(LOG_FILE)
    expected = [record(p.stem) for p in sorted(RECORDS.glob("identity_*.json"))]
    assert all(type(r) is Record for r in decoded.records)
    assert [r.eventID for r in decoded.records] == ids(expected)
    norm = Normalizer()
    events = [norm.normalize(r, NOW) for r in decoded.records]
    assert events == [Normalizer().normalize(r, NOW) for r in expected]
    assert all(isinstance(e, S3Event) for e in events)
    assert decoded.invalid_lines == 0


def test_bare_json_array_yields_every_record() -> None:
    decoded = read_local(FILES / "good" / "export_array.json")
    assert ids(decoded.records) == [
        record(p.stem)["eventID"] for p in sorted(RECORDS.glob("kind_*.json"))
    ]


def test_json_lines_export_unwraps_eventbridge_and_keeps_extra_fields_for_later() -> None:
    decoded = read_local(FILES / "good" / "lake_export.jsonl")
    assert [r["eventTime"] for r in decoded.records] == [
        "2026-11-01T10:06:00Z",
        "2026-11-01T10:11:00Z",
        "2026-11-01T10:16:00Z",
    ]
    # The EventBridge envelope is gone: its record is the CloudTrail event itself.
    assert "detail-type" not in decoded.records[1]
    assert decoded.records[1]["eventSource"] == "s3.amazonaws.com"
    assert decoded.records[0]["@timestamp"] == "2026-11-01T10:06:00Z"


def test_gzip_is_detected_by_content_not_by_name(tmp_path: Path) -> None:
    renamed = tmp_path / "download.json"
    renamed.write_bytes(LOG_FILE.read_bytes())
    assert len(read_local(renamed).records) == 13


def test_json_lines_with_bad_lines_keeps_the_good_ones_and_counts_the_rest() -> None:
    good = json.dumps(record("identity_iam_user")).encode()
    data = good + b"\n{truncated by the exporter\n\n" + good.replace(b"0001", b"0999") + b"\n"
    decoded = decode_records(data, "export.jsonl")
    assert len(decoded.records) == 2
    assert decoded.invalid_lines == 1
    assert decoded.notes == ["1 lines are not JSON"]


def test_single_record_file_and_byte_order_mark_are_read() -> None:
    data = b"\xef\xbb\xbf" + json.dumps(record("identity_root")).encode()
    assert ids(decode_records(data, "one.json").records) == [record("identity_root")["eventID"]]


@pytest.mark.parametrize(
    ("name", "kind"),
    [("digest_renamed.json.gz", "digest"), ("insight_renamed.json.gz", "insight")],
)
def test_digest_and_insight_files_are_recognised_by_content(name: str, kind: str) -> None:
    with pytest.raises(SkippedInput) as info:
        read_local(FILES / "skip" / name)
    assert info.value.reason == kind


def test_digest_line_inside_json_lines_marks_the_file_as_digest() -> None:
    digest = gzip.decompress((FILES / "skip" / "digest_renamed.json.gz").read_bytes())
    with pytest.raises(SkippedInput):
        decode_records(digest + b"\n" + digest, "two-digests.jsonl")


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("truncated.json.gz", "truncated-gzip"),
        ("not_gzip.json.gz", "not-gzip"),
        ("not_json.json", "not-json"),
        ("no_records.json", "no-records"),
        ("records_not_list.json", "records-not-list"),
    ],
)
def test_broken_files_are_reported_with_their_name_and_reason(name: str, reason: str) -> None:
    path = FILES / "broken" / name
    with pytest.raises(UnreadableInput) as info:
        read_local(path)
    assert info.value.reason == reason
    assert info.value.name == str(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("data", "reason"),
    [(b"", "not-json"), (b"   \n", "not-json"), (b"42", "no-records"), (b'"x"', "no-records")],
)
def test_empty_and_scalar_documents_are_unreadable(data: bytes, reason: str) -> None:
    with pytest.raises(UnreadableInput) as info:
        decode_records(data, "x.json")
    assert info.value.reason == reason


def test_missing_file_is_an_io_error(tmp_path: Path) -> None:
    with pytest.raises(UnreadableInput) as info:
        read_local(tmp_path / "gone.json.gz")
    assert info.value.reason == "io-error"


# --- capped decompression -------------------------------------------------------------------


def test_gzip_bomb_stops_at_the_cap() -> None:
    bomb = gzip.compress(b" " * (8 << 20))  # 8 MiB of spaces in ~8 KB
    assert len(bomb) < 64 << 10
    with pytest.raises(UnreadableInput) as info:
        gunzip_bytes(bomb, "bomb.json.gz", cap=1 << 20)
    assert info.value.reason == "too-large"


def test_cap_applies_to_local_files_too(tmp_path: Path) -> None:
    plain = tmp_path / "big.json"
    plain.write_bytes(b"[" + b" " * 4096 + b"]")
    packed = tmp_path / "big.json.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    for path in (plain, packed):
        with pytest.raises(UnreadableInput) as info:
            read_local(path, cap=1024)
        assert info.value.reason == "too-large"
    assert read_local(plain, cap=8192).records == []


def test_output_exactly_at_the_cap_is_accepted() -> None:
    assert gunzip_bytes(gzip.compress(b"x" * 1000), "x.gz", cap=1000) == b"x" * 1000


def test_concatenated_gzip_members_are_one_file() -> None:
    first = gzip.compress(b'{"Records": [')
    second = gzip.compress(b"1, 2]}")
    assert gunzip_bytes(first + second, "x.gz", cap=1 << 20) == b'{"Records": [1, 2]}'


def test_trailing_zero_padding_is_tolerated_but_garbage_is_not() -> None:
    blob = gzip.compress(b"[]")
    assert gunzip_bytes(blob + b"\x00" * 512, "padded.gz", cap=100) == b"[]"
    with pytest.raises(UnreadableInput) as info:
        gunzip_bytes(blob + b"PK\x03\x04", "garbage.gz", cap=100)
    assert info.value.reason == "truncated-gzip"


# --- walking folders ------------------------------------------------------------------------


def test_folders_are_walked_recursively_taking_json_files_and_skipping_digests() -> None:
    found = list_inputs([FILES])
    names = {p.name for p in found.files}
    assert "make_files.py" not in names  # not a JSON file: ignored inside folders
    assert "lake_export.jsonl" in names
    assert "not_gzip.json.gz" in names  # read, then reported as unreadable
    assert sorted(kind for _, kind in found.skipped) == ["digest", "insight"]
    assert found.missing == []
    # Renamed digest / Insight files cannot be told by path: they are read and skipped by content.
    assert {"digest_renamed.json.gz", "insight_renamed.json.gz"} <= names


def test_walk_order_does_not_depend_on_the_file_system(tmp_path: Path) -> None:
    for name in ["b/2.json", "a/9.json", "a/10.json", "c.json"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("[]")
    found = list_inputs([tmp_path])
    assert [p.relative_to(tmp_path).as_posix() for p in found.files] == [
        "c.json",
        "a/10.json",
        "a/9.json",
        "b/2.json",
    ]


def test_files_named_explicitly_are_read_whatever_their_name(tmp_path: Path) -> None:
    odd = tmp_path / "trail.log"
    odd.write_text("[]")
    gone = tmp_path / "nope.json"
    found = list_inputs([odd, gone])
    assert found.files == [odd]
    assert found.missing == [gone]


def test_trail_folders_are_read_in_delivery_order_across_regions_and_accounts(
    tmp_path: Path,
) -> None:
    """A trail bucket sorts by account and region first; replay must follow delivery time."""

    def log(account: str, region: str, stamp: str) -> str:
        day = f"AWSLogs/o-aa1bb2cc3d/{account}/CloudTrail/{region}/2026/11/01"
        return f"{day}/{account}_CloudTrail_{region}_20261101T{stamp}Z_Ab12Cd34Ef56Gh78.json.gz"

    keys = [
        log("111122223333", "eu-west-1", "1005"),
        log("111122223333", "eu-west-1", "2355"),
        log("111122223333", "us-east-1", "1000"),
        log("111122223333", "us-east-1", "1200"),
        log("444455556666", "us-east-1", "0900"),
    ]
    for key in [*keys, "exports/lake.jsonl"]:
        (tmp_path / key).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / key).write_text("[]")
    found = list_inputs([tmp_path])
    assert [p.relative_to(tmp_path).as_posix() for p in found.files] == [
        "exports/lake.jsonl",  # no delivery time in its name: first, in walk order
        keys[4],
        keys[2],
        keys[0],
        keys[3],
        keys[1],
    ]
