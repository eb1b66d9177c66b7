"""Whatever bytes, bodies or records arrive, the parsers raise only s3ad's own typed errors and
every record read is accounted for (issue 7, item 2).

Story: an attacker, or just a broken exporter, controls the bytes of a log file, the body of a
queue message and every field of every record. Whatever they send: the gunzip either returns
exactly what gzip(1) would or refuses with ``UnreadableInput``; ``decode_records`` returns
records or raises ``UnreadableInput`` / ``SkippedInput``; ``parse_notification`` returns object
references or raises ``PoisonMessage``; ``Normalizer.normalize`` returns an event or a reason
and never raises; and the engine, fed any mix in any batching, ends with
read = windowed + late + duplicates + not S3 + invalid, and detection turns whatever survives
into findings that encode as JSON and show no raw control characters.

(tests/unit/test_notifications.py fuzzes notification text and shapes; this file adds
structural mutations of every fixture, including inside an SNS envelope's Message.)
"""

from __future__ import annotations

import copy
import gzip
import json
import math
import random
import re
from pathlib import Path
from typing import Any
from unittest import mock

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detector.aws.notifications import ObjectRef, parse_notification
from detector.config import Settings, WindowSettings
from detector.detect.detector import Detector
from detector.engine import Engine
from detector.errors import PoisonMessage, SkippedInput, UnreadableInput
from detector.events import API_CLASSES, S3Event
from detector.ingest import decompress
from detector.ingest.decompress import gunzip_bytes
from detector.ingest.reader import Decoded, decode_records
from detector.ingest.typed import Record
from detector.normalize import EARLIEST, INVALID, NOT_S3, Normalizer, nested_within
from detector.pipeline import Pipeline

DATA = Path(__file__).resolve().parents[1] / "data"
RECORDS = [json.loads(p.read_text()) for p in sorted((DATA / "records").glob("*.json"))]
BODIES = {p.name: p.read_text() for p in sorted((DATA / "sqs").glob("*.json"))}
GOOD_FILES = [
    gzip.decompress(p.read_bytes()) if p.name.endswith(".gz") else p.read_bytes()
    for p in sorted((DATA / "files" / "good").rglob("*"))
    if p.is_file()
]
T0 = 1_793_527_200  # 2026-11-01T10:00:00Z
NOW = T0 + 86_400.0
FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MIXES = settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))
SLOW = settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
RAW_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")

# --- JSON as orjson can produce it -------------------------------------------------------------
# Records only ever come out of orjson.loads: integers within 64 bits (larger ones become
# floats), finite floats, strings without lone surrogates. Anything else cannot reach the code.

json_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | json_text
)
json_values = st.recursive(
    json_scalars,
    lambda c: st.lists(c, max_size=4) | st.dictionaries(json_text, c, max_size=4),
    max_leaves=15,
)


def _iso(t: int) -> str:
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*prefix, i))
    return out


@st.composite
def mutated(draw: st.DrawFn, base: Any, rounds: int = 3) -> Any:
    """``base`` with up to ``rounds`` nodes replaced by any JSON value, deleted or added to."""
    doc = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, rounds))):
        path = draw(st.sampled_from(_paths(doc)))
        if not path:
            return draw(json_values)
        parent = doc
        for step in path[:-1]:
            parent = parent[step]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif action == "add" and isinstance(parent[path[-1]], dict):
            parent[path[-1]][draw(json_text)] = draw(json_values)
        else:
            parent[path[-1]] = draw(json_values)
    return doc


def flipped(data: bytes, rnd: random.Random, n: int) -> bytes:
    """``n`` byte-level mutations: flip, delete, duplicate or insert a slice."""
    b = bytearray(data)
    for _ in range(n):
        if not b:
            b += bytes([rnd.randrange(256)])
            continue
        i = rnd.randrange(len(b))
        op = rnd.randrange(4)
        if op == 0:
            b[i] ^= 1 << rnd.randrange(8)
        elif op == 1:
            del b[i : i + rnd.randrange(1, 16)]
        elif op == 2:
            b[i:i] = b[i : i + rnd.randrange(1, 16)]
        else:
            b[i:i] = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 8)))
    return bytes(b)


# --- capped gunzip -----------------------------------------------------------------------------

members = st.lists(
    st.one_of(st.binary(max_size=300), st.integers(0, 5000).map(lambda n: b"{" * n)),
    min_size=1,
    max_size=4,
)


@FAST
@given(
    parts=members,
    level=st.sampled_from([0, 1, 6, 9]),
    padding=st.sampled_from([b"", b"\x00", b"\x00" * 513]),
    chunk=st.sampled_from([1, 2, 7, 64, 4096]),
)
def test_gunzip_equals_gzip_for_any_members_padding_and_read_size(
    parts: list[bytes], level: int, padding: bytes, chunk: int
) -> None:
    blob = b"".join(gzip.compress(p, compresslevel=level, mtime=0) for p in parts) + padding
    expected = b"".join(parts)
    # Tiny reads and a tiny "keep freely" budget drive every boundary and the counting pass.
    with mock.patch.multiple(decompress, _CHUNK=chunk, _KEEP_FREELY=16, SUSPECT_RATIO=2):
        assert gunzip_bytes(blob, "x.gz", cap=len(expected)) == expected
        if expected:
            with pytest.raises(UnreadableInput) as info:
                gunzip_bytes(blob, "x.gz", cap=len(expected) - 1)
            assert info.value.reason == "too-large"


@FAST
@given(
    parts=members,
    seed=st.integers(0, 2**32),
    n=st.integers(1, 6),
    chunk=st.sampled_from([3, 64, 1 << 20]),
)
def test_mutated_gzip_is_refused_or_read_exactly_as_gzip_reads_it(
    parts: list[bytes], seed: int, n: int, chunk: int
) -> None:
    blob = b"".join(gzip.compress(p, mtime=0) for p in parts)
    bad = flipped(blob, random.Random(seed), n)
    with mock.patch.object(decompress, "_CHUNK", chunk):
        try:
            got = gunzip_bytes(bad, "x.gz", cap=1 << 20)
        except UnreadableInput as exc:
            assert exc.reason in ("not-gzip", "truncated-gzip", "too-large")
            return
    assert got == gzip.decompress(bad)


# --- decode_records ----------------------------------------------------------------------------


def _check_decoded(result: Decoded) -> None:
    assert isinstance(result.records, list)
    assert result.invalid_lines >= 0


record_keys = st.sampled_from(
    ["Records", "detail", "eventName", "eventSource", "logFiles", "digestStartTime",
     "eventType", "eventCategory", "@timestamp"]
)  # fmt: skip
shaped_docs = st.recursive(
    json_scalars | st.sampled_from(["AwsCloudTrailInsight", "Insight", "GetObject"]),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(record_keys | json_text, c, max_size=4),
    max_leaves=20,
)


@FAST
@given(
    st.one_of(
        st.binary(max_size=400),
        shaped_docs.map(orjson.dumps),
        st.lists(shaped_docs.map(orjson.dumps), max_size=5).map(b"\n".join),
        st.tuples(st.sampled_from(GOOD_FILES), st.integers(0, 2**32), st.integers(1, 8)).map(
            lambda t: flipped(t[0], random.Random(t[1]), t[2])
        ),
        st.binary(max_size=50).map(lambda b: b"\xef\xbb\xbf" + b),
    )
)
def test_decode_records_returns_records_or_raises_its_own_errors(data: bytes) -> None:
    try:
        result = decode_records(data, "fuzz.json")
    except (UnreadableInput, SkippedInput) as exc:
        assert exc.name == "fuzz.json"
        return
    _check_decoded(result)


@settings(max_examples=20, deadline=None)
@given(depth=st.integers(1000, 100_000), opener=st.sampled_from([b"[", b'{"a":', b'{"Records":[']))
def test_any_nesting_depth_is_a_clean_not_json(depth: int, opener: bytes) -> None:
    data = opener * depth
    with pytest.raises(UnreadableInput) as info:
        decode_records(data, "deep.json")
    assert info.value.reason == "not-json"


# --- notifications: structural mutations of every fixture ---------------------------------------


def _sns_mutated(draw: st.DrawFn) -> str:
    envelope = json.loads(BODIES["sns_s3_event.json"])
    inner = json.loads(envelope["Message"])
    envelope["Message"] = json.dumps(draw(mutated(inner)))
    return json.dumps(envelope)


@st.composite
def bodies(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["fixture", "sns-inner", "bytes"]))
    if kind == "sns-inner":
        return _sns_mutated(draw)
    name = draw(st.sampled_from(sorted(BODIES)))
    if kind == "bytes":
        raw = flipped(BODIES[name].encode(), random.Random(draw(st.integers(0, 2**32))), 4)
        return raw.decode("utf-8", "replace")
    return json.dumps(draw(mutated(json.loads(BODIES[name]))))


@FAST
@given(bodies())
def test_mutated_notifications_give_objects_or_poison(body: str) -> None:
    try:
        refs = parse_notification(body)
    except PoisonMessage as exc:
        assert str(exc)
        return
    for ref in refs:
        assert isinstance(ref, ObjectRef)
        assert isinstance(ref.bucket, str) and ref.bucket
        assert isinstance(ref.key, str) and ref.key
        assert ref.size is None or (type(ref.size) is int and ref.size >= 0)


# --- normalize ----------------------------------------------------------------------------------

S3_NAMES = ["GetObject", "PutObject", "DeleteObjects", "ListObjects", "PutBucketPolicy",
            "PutBucketAcl", "PutBucketPublicAccessBlock", "PutBucketLogging", "CopyObject"]  # fmt: skip
identities = st.one_of(
    st.sampled_from([r["userIdentity"] for r in RECORDS if "userIdentity" in r]),
    st.builds(
        dict,
        type=st.sampled_from(["IAMUser", "AssumedRole", "Root", "AWSAccount", "AWSService", "x"])
        | json_values,
        arn=st.sampled_from(
            ["arn:aws:iam::111122223333:user/a", "", "arn:aws:sts::1:assumed-role/r/s"]
        )
        | json_values,
        accountId=st.sampled_from(["111122223333", "ANONYMOUS_PRINCIPAL"]) | json_values,
    ),
    json_values,
)
event_times = st.one_of(
    st.integers(T0 - 3600, T0 + 4 * 3600).map(_iso),
    st.sampled_from(
        [
            "yesterday",
            "",
            "1970-01-01T00:00:00Z",
            "2999-01-01T00:00:00Z",
            "2026-11-01T10:00:60Z",
            "2026-11-01T10:00:05.5+02:00",
        ]
    ),
    json_values,
)
records = st.fixed_dictionaries(
    {},
    optional={
        "eventSource": st.sampled_from(["s3.amazonaws.com"] * 4 + ["sts.amazonaws.com"])
        | json_values,
        "eventTime": event_times,
        "eventName": st.sampled_from(S3_NAMES) | json_values,
        "eventID": st.sampled_from([f"id-{i}" for i in range(6)]) | json_values,
        "recipientAccountId": st.sampled_from(["111122223333", "444455556666"]) | json_values,
        "userIdentity": identities,
        "requestParameters": st.fixed_dictionaries(
            {},
            optional={"bucketName": json_values, "key": json_values, "bucketPolicy": json_values},
        )
        | json_values,
        "additionalEventData": st.fixed_dictionaries(
            {}, optional={"bytesTransferredOut": json_values, "bytesTransferredIn": json_values}
        )
        | json_values,
        "eventCategory": st.sampled_from(["Data", "Management"]) | json_values,
        "sourceIPAddress": st.sampled_from(["198.51.100.1", "185.220.100.1"]) | json_values,
        "userAgent": st.sampled_from(["aws-cli", "kali\n\x1b[31m"]) | json_values,
        "errorCode": st.sampled_from(["AccessDenied", ""]) | json_values,
        "managementEvent": json_values,
        "invokedBy": json_values,
    },
)
any_record = st.one_of(records, st.sampled_from(RECORDS).flatmap(mutated), json_values)


def _check_event(ev: S3Event) -> None:
    assert math.isfinite(ev.time) and EARLIEST <= ev.time <= NOW + 3600
    for name in ("event_id", "account", "region", "principal", "principal_type",
                 "principal_name", "access_key_id", "session_name", "event_name", "bucket", "key",
                 "source_ip", "user_agent", "error_code", "auth_method", "vpc_endpoint"):  # fmt: skip
        assert type(getattr(ev, name)) is str, name
    assert ev.principal and ev.event_name
    assert ev.api_class in API_CLASSES
    assert type(ev.bytes_in) is int and ev.bytes_in >= 0
    assert type(ev.bytes_out) is int and ev.bytes_out >= 0
    assert ev.request is None or (type(ev.request) is dict and nested_within(ev.request))


@FAST
@given(any_record)
def test_normalize_returns_an_event_or_a_reason_for_any_record(rec: Any) -> None:
    result = Normalizer().normalize(rec, NOW)
    if isinstance(result, S3Event):
        _check_event(result)
    else:
        assert result in (INVALID, NOT_S3)


def _identity_key(rec: Any) -> Any:
    ui = rec.get("userIdentity") if isinstance(rec, dict) else None
    if not isinstance(ui, dict):
        return None
    return repr((ui.get("type"), ui.get("arn"), ui.get("accountId")))


@MIXES
@given(st.lists(any_record, max_size=20))
def test_normalize_does_not_depend_on_its_caches(recs: list[Any]) -> None:
    # Principals, API classes and minutes are cached across records: a record must normalize
    # the same whatever came before it. The principal cache assumes what CloudTrail guarantees,
    # that (type, arn, account) determines the rest of userIdentity but the access key; records
    # that break that (only forged ones can) are fed but not compared.
    warm = Normalizer()
    first: dict[Any, Any] = {}
    for rec in recs:
        got = warm.normalize(rec, NOW)
        key = _identity_key(rec)
        if key is not None:
            ui = {k: v for k, v in rec["userIdentity"].items() if k != "accessKeyId"}
            if first.setdefault(key, ui) != ui:
                continue
        assert got == Normalizer().normalize(rec, NOW)


def _typed_and_generic(recs: list[Any]) -> tuple[list[Any], list[Any]] | None:
    """``recs`` in a CloudTrail file read by ``decode_records`` (the typed path when it can),
    and the same records as ``orjson`` gives them; None when orjson cannot write them."""
    try:
        text = orjson.dumps({"Records": recs})
    except TypeError:
        return None
    try:
        decoded = decode_records(text, "f.json").records
    except (SkippedInput, UnreadableInput):
        return None
    return decoded, orjson.loads(text)["Records"]


@MIXES
@given(st.lists(st.one_of(records, st.sampled_from(RECORDS).flatmap(mutated)), max_size=20))
def test_typed_records_normalize_exactly_as_the_full_json_does(recs: list[Any]) -> None:
    # CloudTrail's own files are decoded into typed records holding only the fields s3ad reads
    # (issue 6); every other shape, and any file the schema refuses, is read by orjson. The two
    # must never disagree on an event, whatever the field values.
    both = _typed_and_generic(recs)
    if both is None:
        return
    typed, generic = both
    typed_norm, generic_norm = Normalizer(), Normalizer()
    assert [typed_norm.normalize(r, NOW) for r in typed] == [
        generic_norm.normalize(r, NOW) for r in generic
    ]


def test_the_typed_path_reads_real_shaped_files_and_leaves_the_rest_to_orjson() -> None:
    fixtures = [r for r in RECORDS if r.get("eventType") != "AwsCloudTrailInsight"]
    both = _typed_and_generic(fixtures)
    assert both is not None
    typed, _ = both
    assert all(type(r) is Record for r in typed)  # the fast path is really taken
    junk = _typed_and_generic([*fixtures, 7])  # a record that is not an object
    assert junk is not None and type(junk[0][0]) is dict


# --- the engine, and detection after it ---------------------------------------------------------

batches = st.lists(st.lists(any_record, max_size=15), max_size=6)


def _settings(width: int, lateness: int) -> Settings:
    return Settings(window=WindowSettings(width_seconds=width, lateness_seconds=lateness))


@MIXES
@given(files=batches, width=st.sampled_from([60, 300]), lateness=st.sampled_from([0, 120, 900]))
def test_engine_accounts_for_every_record_whatever_the_mix(
    files: list[list[Any]], width: int, lateness: int
) -> None:
    engine = Engine(_settings(width, lateness), clock=lambda: NOW)
    windowed = late = 0
    for f in files:
        engine.ingest(f)
        for batch in engine.rounds():
            windowed += sum(w.n for w in batch.windows)
            late += len(batch.late)
            engine.learn(batch.windows)
    for batch in engine.rounds(final=True):
        windowed += sum(w.n for w in batch.windows)
        late += len(batch.late)
    c = engine.counts
    assert c.read == sum(len(f) for f in files)
    assert c.reconciles()  # read = not S3 + invalid + duplicates + late + windowed
    assert (windowed, late) == (c.windowed, c.late)
    assert engine.windower.open_windows() == 0


def _finding_strings(doc: Any) -> list[str]:
    if isinstance(doc, str):
        return [doc]
    if isinstance(doc, dict):
        return [s for k, v in doc.items() for s in (k, *_finding_strings(v))]
    if isinstance(doc, list):
        return [s for v in doc for s in _finding_strings(v)]
    return []


@SLOW
@given(files=batches)
def test_detection_and_checkpoints_survive_any_mix(files: list[list[Any]]) -> None:
    settings_ = _settings(60, 120)
    pipeline = Pipeline(settings_, Detector(settings_))
    findings: list[dict[str, Any]] = []
    for f in files:
        pipeline.ingest(f)
        findings += pipeline.step()
    # A checkpoint of whatever state the mix left, restored, must carry on as the original.
    restored = Pipeline(settings_, Detector(settings_))
    restored.restore(pipeline.snapshot())
    findings += restored.step(final=True)
    assert restored.engine.counts.reconciles()
    assert restored.engine.counts.read == sum(len(f) for f in files)
    for finding in findings:
        orjson.dumps(finding)  # what every sink does
        for text in _finding_strings(finding):
            assert not RAW_CONTROL.search(text), text


def test_fixtures_cover_every_sqs_shape_and_record_kind() -> None:
    # The mutation tests start from these; an empty glob would make them vacuous.
    assert len(BODIES) >= 8 and len(RECORDS) >= 20 and len(GOOD_FILES) >= 3
