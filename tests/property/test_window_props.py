"""Properties of event-time windows that must hold for any traffic, in any delivery order.

Story: CloudTrail files arrive late, out of order, redelivered, and sometimes full of junk. Whatever
happens, every record is accounted for exactly once; a window, once closed, never reopens and
windows close in time order; files shuffled within the allowed lateness give exactly the same
windows; partial windows merge into exactly the window one pass would build.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detector import windows
from detector.config import Settings, WindowSettings
from detector.engine import Engine
from detector.events import API_CLASSES, S3Event
from detector.ingest.reader import decode_records
from detector.windows import WindowAgg, Windower

RECORDS = Path(__file__).resolve().parents[1] / "data" / "records"
T0 = 1_793_527_200  # 2026-11-01T10:00:00Z
ACCOUNTS = ("111122223333", "444455556666")
PRINCIPALS = (
    # key, type, display name, AWS service?
    ("arn:aws:iam::111122223333:user/alice", "IAMUser", "user/alice", False),
    ("arn:aws:iam::111122223333:role/etl-prod", "AssumedRole", "role/etl-prod", False),
    ("anonymous:example-public-site", "Anonymous", "anonymous", False),
    ("service:s3.amazonaws.com", "AWSService", "service/s3.amazonaws.com", True),
)
PROPS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@contextmanager
def small_bounds() -> Iterator[None]:
    """Shrink the per-window caps so a few dozen events exercise every bound."""
    with mock.patch.multiple(windows, MAX_SMALL_SET=3, EVIDENCE=2, NOTABLE=2):
        yield


@st.composite
def raw_event(draw: st.DrawFn, t_max: int = 4 * 3600) -> dict[str, Any]:
    p = draw(st.sampled_from(PRINCIPALS))
    return dict(
        time=float(T0 + draw(st.integers(0, t_max))) + draw(st.sampled_from([0.0, 0.25, 0.5])),
        account=draw(st.sampled_from(ACCOUNTS)),
        region="us-east-1",
        principal=p[0],
        principal_type=p[1],
        principal_name=p[2],
        access_key_id=draw(
            st.sampled_from(["", "AKIAEXAMPLE1", "AKIAEXAMPLE2", "ASIAEX3", "ASIAEX4"])
        ),
        session_name="",
        event_name=draw(
            st.sampled_from(["GetObject", "PutObject", "DeleteObjects", "PutBucketAcl"])
        ),
        api_class=draw(st.sampled_from(API_CLASSES)),
        bucket=draw(st.sampled_from(["", "b1", "b2", "b3"])),
        key=draw(st.sampled_from(["", "a/1", "a/2", "b/1", "c", "d/e/f"])),
        bytes_in=draw(st.integers(0, 10**12)),
        bytes_out=draw(st.integers(0, 10**12)),
        source_ip=draw(st.sampled_from([f"198.51.100.{i}" for i in range(8)])),
        user_agent=draw(st.sampled_from(["aws-cli", "boto3", "curl", "S3Console", "Go-http"])),
        error_code=draw(st.sampled_from(["", "", "AccessDenied", "NoSuchKey"])),
        sse_c=draw(st.booleans()),
        auth_method="AuthHeader",
        vpc_endpoint="",
        cross_account=draw(st.booleans()),
        data_event=True,
        service=p[3],
        request=None,
    )


def numbered(files: list[list[dict[str, Any]]]) -> list[list[S3Event]]:
    """Give every event a unique eventID (as CloudTrail does)."""
    out, n = [], 0
    for f in files:
        batch = []
        for e in f:
            n += 1
            batch.append(S3Event(event_id=f"ev-{n:05d}", **e))
        out.append(batch)
    return out


def notable(ev: S3Event) -> bool:
    return ev.event_name == "PutBucketAcl"


def by_key(ws: list[WindowAgg]) -> list[tuple[Any, ...]]:
    return sorted((w.account, w.principal, w.start, w.state()) for w in ws)


FILES = st.lists(st.lists(raw_event(), max_size=12), max_size=14).map(numbered)
WIDTHS = st.sampled_from([60, 300, 600])
LATENESS = st.sampled_from([0, 120, 900])


@PROPS
@given(files=FILES, width=WIDTHS, lateness=LATENESS)
def test_every_event_is_counted_once_as_windowed_or_late(
    files: list[list[S3Event]], width: int, lateness: int
) -> None:
    w = Windower(width, lateness, notable)
    closed: list[WindowAgg] = []
    late: list[S3Event] = []
    with small_bounds():
        for f in files:
            late += w.add(f)
            closed += w.close_ready()
        closed += w.close_all()
    sent = Counter((e.account, e.principal) for f in files for e in f)
    got = Counter((e.account, e.principal) for e in late)
    for agg in closed:
        got[(agg.account, agg.principal)] += agg.n
    assert got == sent
    assert w.stats.windowed + w.stats.late == sum(sent.values())
    assert w.stats.late == len(late)
    assert w.open_windows() == 0


@PROPS
@given(files=FILES, width=WIDTHS, lateness=LATENESS)
def test_closing_is_monotone_in_the_watermark(
    files: list[list[S3Event]], width: int, lateness: int
) -> None:
    w = Windower(width, lateness, notable)
    emitted: set[tuple[str, str, int]] = set()
    last_start: dict[str, int] = {}
    with small_bounds():
        for f in files:
            watermark = {acct: w.watermark(acct) for acct in w.newest}
            late = {e.event_id for e in w.add(f)}
            for e in f:
                # Late exactly when the watermark had passed the end of the event's window —
                # whatever other principals of the account were doing.
                end = int(e.time) - int(e.time) % width + width
                assert (e.event_id in late) == (end <= watermark.get(e.account, float("-inf")))
            for agg in w.close_ready():
                key = (agg.account, agg.principal, agg.start)
                assert key not in emitted, "a closed window reopened"
                emitted.add(key)
                assert agg.start + width <= w.watermark(agg.account)
                assert agg.start >= last_start.get(agg.account, agg.start)
                last_start[agg.account] = agg.start
            for acct, by_start in w.open.items():
                # Nothing the watermark has passed stays open.
                assert all(s + width > w.watermark(acct) for s in by_start)
        for agg in w.close_all():
            key = (agg.account, agg.principal, agg.start)
            assert key not in emitted, "a closed window reopened"
            assert agg.start >= last_start.get(agg.account, agg.start)


@st.composite
def delivery(draw: st.DrawFn) -> tuple[list[list[S3Event]], list[int], int, int]:
    """Files as CloudTrail delivers them, and an arrival order disordered within the lateness.

    Each file covers at most ``span`` seconds from its base time. Arrival order sorts files by
    base + jitter with jitter ≤ lateness − span, so every file's oldest event is within the
    lateness of the newest event seen before it.
    """
    width = draw(WIDTHS)
    lateness = draw(st.sampled_from([300, 900]))
    span = draw(st.sampled_from([0, 60, lateness // 2]))
    raw_files = []
    for _ in range(draw(st.integers(1, 12))):
        base = draw(st.integers(0, 3 * 3600))
        events = draw(st.lists(raw_event(t_max=span), min_size=1, max_size=10))
        for e in events:
            e["time"] += base
        raw_files.append(events)
    files = numbered(raw_files)
    bases = [min(e.time for e in f) for f in files]
    jitter = [draw(st.integers(0, lateness - span)) for _ in files]
    order = sorted(range(len(files)), key=lambda i: (bases[i] + jitter[i], i))
    return files, order, width, lateness


def replay(files: list[list[S3Event]], width: int, lateness: int) -> tuple[list[Any], int]:
    w = Windower(width, lateness, notable)
    closed: list[WindowAgg] = []
    for f in files:
        assert w.add(f) == []
        closed += w.close_ready()
    closed += w.close_all()
    return by_key(closed), w.stats.late


@PROPS
@given(case=delivery())
def test_file_order_within_the_lateness_does_not_change_any_window(
    case: tuple[list[list[S3Event]], list[int], int, int],
) -> None:
    files, order, width, lateness = case
    in_time_order = sorted(files, key=lambda f: min(e.time for e in f))
    with small_bounds():
        expected, late = replay(in_time_order, width, lateness)
        got, late_shuffled = replay([files[i] for i in order], width, lateness)
    assert (late, late_shuffled) == (0, 0)
    assert got == expected


@PROPS
@given(
    events=st.lists(raw_event(t_max=299), min_size=1, max_size=40),
    parts=st.lists(st.integers(0, 3), min_size=40, max_size=40),
)
def test_merging_any_split_of_a_window_equals_one_pass(
    events: list[dict[str, Any]], parts: list[int]
) -> None:
    # One principal's window: every event takes the first event's account and identity.
    who = {k: events[0][k] for k in ("principal", "principal_type", "principal_name", "service")}
    principal = who["principal"]
    evs = numbered([[dict(x, account=ACCOUNTS[0], **who) for x in events]])[0]
    with small_bounds():
        whole = WindowAgg(ACCOUNTS[0], principal, T0, evs[0])
        pieces: list[WindowAgg] = [WindowAgg(ACCOUNTS[0], principal, T0) for _ in range(4)]
        for i, e in enumerate(evs):
            whole.add(e, notable(e))
            piece = pieces[parts[i]]
            if piece.n == 0:
                pieces[parts[i]] = piece = WindowAgg(ACCOUNTS[0], principal, T0, e)
            piece.add(e, notable(e))
        merged = pieces[0]
        for piece in pieces[1:]:
            merged.merge(piece)
        assert merged.seal().state() == whole.seal().state()


# --- junk through the whole engine ------------------------------------------------------------

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = st.sampled_from(
    [
        "eventTime",
        "eventSource",
        "eventName",
        "eventID",
        "userIdentity",
        "requestParameters",
        "additionalEventData",
        "recipientAccountId",
        "eventCategory",
        "managementEvent",
        "sourceIPAddress",
        "errorCode",
    ]
)
VALID = [json.loads(p.read_text()) for p in sorted(RECORDS.glob("*.json"))]


@st.composite
def mixed_record(draw: st.DrawFn) -> Any:
    kind = draw(st.sampled_from(["junk", "valid", "mutated"]))
    if kind == "junk":
        return draw(JSON_VALUES)
    rec = copy.deepcopy(draw(st.sampled_from(VALID)))
    if kind == "mutated":
        for field in draw(st.lists(FIELDS, min_size=1, max_size=3)):
            rec[field] = draw(JSON_VALUES)
    return rec


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(files=st.lists(st.lists(mixed_record(), max_size=15), min_size=1, max_size=6))
def test_counts_reconcile_whatever_the_input(files: list[list[Any]]) -> None:
    cfg = Settings(window=WindowSettings(width_seconds=300, lateness_seconds=120))
    engine = Engine(cfg, clock=lambda: T0 + 86400.0)
    sent = 0
    for records in files:
        # Through the real decoder: what orjson can write, the reader must take back.
        decoded = decode_records(orjson.dumps({"Records": records}), "mixed.json")
        sent += len(decoded.records)
        engine.ingest(decoded.records)
        batch = engine.step()
        assert len(batch.vectors) == len(batch.windows)
        engine.learn(batch.windows)
    final = engine.step(final=True)
    assert all(len(v) == len(final.vectors[0]) for v in final.vectors)
    c = engine.counts
    assert c.read == sent
    assert c.reconciles(), c
    assert engine.windower.stats.windowed == c.windowed
