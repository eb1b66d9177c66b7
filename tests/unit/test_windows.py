"""Per-principal event-time windows: what a user sees as "activity of X in 10:05–10:10".

Story: events of one principal in one 5-minute slot become one window; windows close only when
the account's watermark (newest event time minus the allowed lateness) has passed them, so files
arriving a few minutes late still count; events later than that are handed back and counted as
late, consistently; and a window's content never depends on the order its events arrived in.
"""

from __future__ import annotations

import random

import pytest

from detector.events import S3Event
from detector.sketch import h32
from detector.windows import EVIDENCE, MAX_SMALL_SET, WINDOW_SLOTS, WindowAgg, Windower

ACCT = "111122223333"
OTHER = "444455556666"
T0 = 1_793_527_200  # 2026-11-01T10:00:00Z, a multiple of 300
ALICE = f"arn:aws:iam::{ACCT}:user/alice"
BOB = f"arn:aws:iam::{ACCT}:user/bob"

_n = 0


def ev(t: float, principal: str = ALICE, account: str = ACCT, **kw: object) -> S3Event:
    global _n
    _n += 1
    fields: dict[str, object] = dict(
        time=float(t),
        event_id=f"ev-{_n:06d}",
        account=account,
        region="us-east-1",
        principal=principal,
        principal_type="IAMUser",
        principal_name="user/" + principal.rsplit("/", 1)[-1],
        access_key_id="AKIAEXAMPLE00000001",
        session_name="",
        event_name="GetObject",
        api_class="read",
        bucket="example-data-bucket",
        key="reports/q3.csv",
        bytes_in=0,
        bytes_out=100,
        source_ip="198.51.100.10",
        user_agent="aws-cli/2.17.0",
        error_code="",
        sse_c=False,
        auth_method="AuthHeader",
        vpc_endpoint="",
        cross_account=False,
        data_event=True,
        service=False,
        request=None,
    )
    fields.update(kw)
    return S3Event(**fields)  # type: ignore[arg-type]


def spans(windows: list[WindowAgg]) -> list[tuple[str, str, int, int]]:
    return [(w.account, w.principal, w.start - T0, w.n) for w in windows]


def test_events_of_one_principal_in_one_slot_make_one_window() -> None:
    w = Windower(width=300, lateness=900)
    assert w.add([ev(T0 + 5), ev(T0 + 299), ev(T0 + 300), ev(T0 + 10, BOB)]) == []
    closed = w.close_all()
    assert spans(closed) == [
        (ACCT, ALICE, 0, 2),
        (ACCT, BOB, 0, 1),
        (ACCT, ALICE, 300, 1),  # 10:05:00 starts the next window
    ]
    assert w.open_windows() == 0


def test_a_window_closes_only_once_the_watermark_passes_its_end() -> None:
    w = Windower(width=300, lateness=900)
    w.add([ev(T0 + 10)])
    w.add([ev(T0 + 1199)])  # watermark 10:04:59: the 10:00 window may still get events
    assert w.close_ready() == []
    w.add([ev(T0 + 1200)])  # watermark reaches 10:05:00, the window's end
    assert spans(w.close_ready()) == [(ACCT, ALICE, 0, 1)]


def test_files_late_within_the_lateness_still_count() -> None:
    w = Windower(width=300, lateness=900)
    w.add([ev(T0 + 1000, BOB)])
    w.close_ready()
    assert w.add([ev(T0 + 150)]) == []  # 14 minutes behind the newest event: still on time
    assert w.stats.late == 0


def test_events_older_than_the_lateness_are_handed_back_as_late() -> None:
    w = Windower(width=300, lateness=900)
    w.add([ev(T0 + 10)])
    w.add([ev(T0 + 1500)])
    assert spans(w.close_ready()) == [(ACCT, ALICE, 0, 1)]
    straggler = ev(T0 + 200)
    assert w.add([straggler]) == [straggler]
    assert (w.stats.late, w.stats.windowed) == (1, 2)
    assert w.open_windows() == 1  # the window did not reopen


def test_whether_an_event_is_late_does_not_depend_on_other_principals() -> None:
    """Alice's 10:07 event arrives after the watermark passed 10:15; Bob's activity is irrelevant."""

    def alice_is_late(bob_active: bool) -> bool:
        w = Windower(width=300, lateness=900)
        if bob_active:
            w.add([ev(T0 + 630, BOB)])
            w.close_ready()
        w.add([ev(T0 + 1800, f"arn:aws:iam::{ACCT}:user/carol")])  # watermark 10:15
        w.close_ready()
        return bool(w.add([ev(T0 + 420)]))

    assert alice_is_late(bob_active=True)
    assert alice_is_late(bob_active=False)


def test_each_account_has_its_own_watermark() -> None:
    w = Windower(width=300, lateness=900)
    w.add([ev(T0 + 10), ev(T0 + 10, account=OTHER)])
    w.add([ev(T0 + 7200, account=OTHER)])  # a busy account far ahead
    assert spans(w.close_ready()) == [(OTHER, ALICE, 0, 1)]
    assert w.add([ev(T0 + 20)]) == []  # the quiet account's window is still open
    assert spans(w.close_all()) == [(ACCT, ALICE, 0, 2), (OTHER, ALICE, 7200, 1)]


def test_closed_windows_come_out_by_start_then_account_then_principal() -> None:
    w = Windower(width=300, lateness=0)
    w.add([ev(T0 + 610, BOB), ev(T0 + 10, BOB, OTHER), ev(T0 + 20, ALICE, OTHER), ev(T0 + 5)])
    out = w.close_all()
    assert [(w.start - T0, w.account, w.principal) for w in out] == [
        (0, ACCT, ALICE),
        (0, OTHER, ALICE),
        (0, OTHER, BOB),
        (600, ACCT, BOB),
    ]


def test_events_after_close_all_are_late() -> None:
    w = Windower(width=300, lateness=900)
    w.add([ev(T0 + 10)])
    w.close_all()
    assert len(w.add([ev(T0 + 20)])) == 1


@pytest.mark.parametrize(("width", "lateness"), [(0, 900), (-300, 900), (300, -1)])
def test_nonsense_window_settings_are_refused(width: int, lateness: int) -> None:
    with pytest.raises(ValueError):
        Windower(width=width, lateness=lateness)


def test_a_window_sums_what_features_and_rules_need() -> None:
    w = Windower(width=300, lateness=900)
    w.add(
        [
            ev(T0 + 1, bytes_out=1000, source_ip="198.51.100.1"),
            ev(T0 + 2, api_class="write", event_name="PutObject", bytes_in=50, sse_c=True),
            ev(T0 + 3, api_class="delete", event_name="DeleteObjects", key=""),
            ev(T0 + 4, error_code="AccessDenied", bucket="example-finance"),
            ev(T0 + 5, error_code="NoSuchKey", key="reports/2026/q4.csv"),
            ev(T0 + 6, cross_account=True, user_agent="curl/8.5.0"),
        ]
    )
    (agg,) = w.close_all()
    assert agg.n == 6
    assert agg.counts[:3] == [4, 1, 1]  # read, write, delete
    assert (agg.bytes_in, agg.bytes_out) == (50, 1000 + 5 * 100)
    assert (agg.errors, agg.denied, agg.ssec, agg.delete_objects, agg.cross) == (2, 1, 1, 1, 1)
    assert agg.buckets == {"example-data-bucket", "example-finance"}
    # The sketches hold sketch.h32 of each key and of its folder.
    assert agg.keys == {h32("reports/q3.csv"), h32("reports/2026/q4.csv")}
    assert agg.prefixes == {h32("reports"), h32("reports/2026")}
    assert agg.ips == {"198.51.100.1", "198.51.100.10"}
    assert agg.uas == {"aws-cli/2.17.0", "curl/8.5.0"}
    assert (agg.first, agg.last) == (T0 + 1, T0 + 6)
    assert agg.name == "user/alice"


def test_evidence_keeps_the_earliest_event_ids() -> None:
    events = [ev(T0 + i % 300) for i in range(200)]
    agg = WindowAgg(ACCT, ALICE, T0, events[0])
    for e in reversed(events):
        agg.add(e, False)
    agg.seal()
    assert agg.evidence == sorted((e.time, e.event_id) for e in events)[:EVIDENCE]


def test_notable_events_are_kept_for_rules() -> None:
    policy = ev(T0 + 9, api_class="permission", event_name="PutBucketPolicy", request={"x": 1})
    w = Windower(width=300, lateness=900, notable=lambda e: e.api_class == "permission")
    w.add([ev(T0 + 1), policy, ev(T0 + 12)])
    (agg,) = w.close_all()
    assert agg.notable == [policy]


def _burst(n: int) -> list[S3Event]:
    """A scraper: many source IPs, user agents and access keys in one window."""
    return [
        ev(
            T0 + i % 300,
            source_ip=f"203.0.{i // 250}.{i % 250}",
            user_agent=f"scraper/{i}",
            access_key_id=f"AKIAEXAMPLE{i:08d}",
        )
        for i in range(n)
    ]


def test_a_window_is_the_same_whatever_the_order_of_its_events() -> None:
    events = _burst(3 * MAX_SMALL_SET)
    states = []
    for seed in range(3):
        shuffled = events[:]
        random.Random(seed).shuffle(shuffled)
        w = Windower(width=300, lateness=900)
        w.add(shuffled)
        (agg,) = w.close_all()
        assert len(agg.ips) == MAX_SMALL_SET  # bounded
        states.append(agg.state())
    assert states[0] == states[1] == states[2]


def test_merging_partial_windows_equals_one_pass() -> None:
    events = _burst(3 * MAX_SMALL_SET)
    whole = WindowAgg(ACCT, ALICE, T0, events[0])
    for e in events:
        whole.add(e, False)
    halves = [WindowAgg(ACCT, ALICE, T0, events[0]), WindowAgg(ACCT, ALICE, T0, events[1])]
    for i, e in enumerate(events):
        halves[i % 2].add(e, False)
    halves[0].merge(halves[1])
    assert halves[0].seal().state() == whole.seal().state()
    assert len(whole.akids) == MAX_SMALL_SET


def test_window_state_round_trips_for_checkpoints() -> None:
    w = Windower(width=300, lateness=900, notable=lambda e: True)
    w.add([ev(T0 + 1), ev(T0 + 2, api_class="permission", request={"bucketName": "b"})])
    (agg,) = w.close_all()
    assert WindowAgg.from_state(agg.state()).state() == agg.state()


def test_window_from_state_puts_every_value_back_in_its_own_slot() -> None:
    # from_state unpacks a state into the slots by position: a value of its own per slot
    # shows that no two are swapped, which equal defaults (zeros, empty sets) would hide.
    # The values have the slots' types: the compiled build (detector.native) checks them.
    values: dict[str, object] = {
        "account": "acct", "akids": {"ak"}, "anonymous": True, "buckets": {"b"},
        "bytes_in": 11, "bytes_out": 12, "counts": [13] * 8, "cross": 14,
        "delete_objects": 15, "denied": 16, "errors": 17, "evidence": [(18.0, "e")],
        "first": 19.0, "ips": {"ip"}, "keys": {20}, "last": 21.0, "n": 22, "name": "nm",
        # from_state rebuilds notable events into a list of the window's own
        "notable": [], "prefixes": {23}, "principal": "pr", "ptype": "pt", "service": False,
        "ssec": 24, "start": 25, "uas": {"ua"},
    }  # fmt: skip
    assert list(values) == list(WINDOW_SLOTS)
    agg = WindowAgg("a", "p", 0)
    for slot, value in values.items():
        setattr(agg, slot, value)
    back = WindowAgg.from_state(agg.state())
    assert {s: getattr(back, s) for s in WINDOW_SLOTS} == values
    with pytest.raises(ValueError):
        WindowAgg.from_state(agg.state()[:-1])
