"""The service loop's delivery contract, proved with in-memory fakes of every port.

Story: the daemon deletes an SQS message only once every finding it led to was accepted by
the sinks and a checkpoint covers the state it changed. So whatever fails — a sink, the
checkpoint store, S3, or the process itself at any point — no message is lost and the findings
in the end are those of an uninterrupted run (at most re-published under the same id).

The fakes run on a simulated clock that advances one second per receive, so visibility
timeouts, the redrive policy and the restart hold play out in milliseconds.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import pickle
import random
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any

import pytest
from botocore.exceptions import ClientError
from test_dedup import account_less

from detector.aws.sqs import Message
from detector.config import DedupSettings, ServiceSettings, Settings, WindowSettings
from detector.engine import Batch
from detector.events import S3Event
from detector.history import HistoryStore
from detector.metrics import Metrics
from detector.pipeline import Pipeline
from detector.service.loop import Service
from detector.service.state import StateStoreError
from detector.sinks import EventBridgeSink, SinkError, SinkOptions
from detector.windows import WindowAgg

ACCOUNT = "111122223333"
BUCKET = "trail"
T0 = 1_793_527_200  # 2026-11-01T10:00:00Z
WIDTH = 60
PRINCIPALS = ("alice", "bob")
# Event dedup remembers one minute behind the newest event, far less than the trail's 16: a file
# read into the state twice (its message redelivered after the checkpoint, a repeated
# notification) must be recognised by the daemon itself, not by luck of the dedup horizon.
DEDUP_HORIZON = 60.0


class Crash(BaseException):  # a BaseException: the code under test must not handle it
    """kill -9: raised by the first port call at the crash point; the process is gone."""


# --- the world the service lives in ------------------------------------------------------------


@dataclass
class World:
    """Shared journal and crash switch of all fakes: the ports' calls, in order."""

    journal: list[tuple[str, str]] = field(default_factory=list)
    crash_at: int | None = None  # the n-th port call (1-based) kills the process
    calls: int = 0
    dead: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def call(self, what: str) -> None:
        """Count a port call; raise ``Crash`` at the crash point and ever after."""
        with self.lock:
            if self.dead:
                raise Crash(what)
            self.calls += 1
            if self.crash_at is not None and self.calls == self.crash_at:
                self.dead = True
                raise Crash(what)

    def note(self, what: str, detail: str = "") -> None:
        with self.lock:
            self.journal.append((what, detail))

    def restart(self, crash_at: int | None = None) -> None:
        """A new process: alive again, counting calls from zero."""
        self.dead, self.calls, self.crash_at = False, 0, crash_at


@dataclass
class _Queued:
    mid: str
    body: str
    receives: int = 0
    handle: str = ""
    visible_at: float = 0.0


class FakeSource:
    """An SQS queue with visibility, receive counts and a redrive policy, on simulated time."""

    def __init__(self, world: World, bodies: Iterable[str], max_receive: int = 5) -> None:
        self.world = world
        self.now = 0.0
        self.max_receive = max_receive
        self.queue = {f"m{i:03d}": _Queued(f"m{i:03d}", b) for i, b in enumerate(bodies)}
        self.dlq: list[str] = []
        self.deleted: list[str] = []
        self.receipts: dict[str, int] = {}  # message id → times received
        self.before_delete: Callable[[Sequence[Message]], None] | None = None
        self.lock = threading.Lock()

    def clock(self) -> float:
        return self.now

    def add(self, body: str) -> str:
        mid = f"m{len(self.queue) + len(self.deleted) + len(self.dlq):03d}"
        self.queue[mid] = _Queued(mid, body)
        return mid

    def receive(
        self, max_messages: int = 10, wait_seconds: int = 20, visibility_timeout: int | None = None
    ) -> list[Message]:
        self.world.call("receive")
        with self.lock:
            self.now += 1.0
            out = []
            for q in list(self.queue.values()):
                if q.visible_at > self.now:
                    continue
                if q.receives >= self.max_receive:  # SQS moves it on the next receive
                    del self.queue[q.mid]
                    self.dlq.append(q.mid)
                    continue
                q.receives += 1
                q.handle = f"{q.mid}#{q.receives}"
                q.visible_at = self.now + (visibility_timeout or 30)
                self.receipts[q.mid] = self.receipts.get(q.mid, 0) + 1
                out.append(Message(q.mid, q.handle, q.body, q.receives))
                if len(out) == max_messages:
                    break
            return out

    def _current(self, m: Message) -> _Queued | None:
        q = self.queue.get(m.message_id)
        return q if q is not None and q.handle == m.receipt_handle else None

    def delete(self, messages: Sequence[Message]) -> list[Message]:
        self.world.call("delete")
        if self.before_delete is not None:
            self.before_delete(messages)
        failed = []
        with self.lock:
            for m in messages:
                if self._current(m) is None:
                    failed.append(m)
                    continue
                del self.queue[m.message_id]
                self.deleted.append(m.message_id)
                self.world.note("delete", m.message_id)
        return failed

    def release(self, messages: Sequence[Message]) -> list[Message]:
        self.world.call("release")
        return self._set_visibility(messages, 0)

    def extend(self, messages: Sequence[Message], seconds: int) -> list[Message]:
        if self.world.dead:  # the heartbeat thread dies with the process
            return list(messages)
        return self._set_visibility(messages, seconds)

    def _set_visibility(self, messages: Sequence[Message], seconds: int) -> list[Message]:
        failed = []
        with self.lock:
            for m in messages:
                q = self._current(m)
                if q is None:
                    failed.append(m)
                else:
                    q.visible_at = self.now + seconds
        return failed

    def backlog(self) -> int:
        return len(self.queue)

    def in_flight(self) -> int:
        return sum(1 for q in self.queue.values() if q.visible_at > self.now)


class FakeS3:
    """``get_object`` over an in-memory bucket; ``fail`` scripts errors per key."""

    def __init__(self, world: World, objects: dict[str, bytes]) -> None:
        self.world = world
        self.objects = objects
        self.fail: dict[str, list[str]] = {}  # key → error codes for the next calls
        self.gets: list[str] = []

    def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:
        self.world.call("get")
        errors = self.fail.get(Key)
        if errors:
            code = errors.pop(0)
            status = {"NoSuchKey": 404, "AccessDenied": 403}.get(code, 503)
            raise ClientError(
                {
                    "Error": {"Code": code, "Message": code},
                    "ResponseMetadata": {"HTTPStatusCode": status},
                },
                "GetObject",
            )
        if Key not in self.objects:
            raise ClientError(
                {"Error": {"Code": "NoSuchKey"}, "ResponseMetadata": {"HTTPStatusCode": 404}},
                "GetObject",
            )
        self.gets.append(Key)
        self.world.note("get", Key)
        return {"Body": BytesIO(self.objects[Key])}


class FakeStore:
    """A checkpoint store that keeps one blob; ``down`` fails that many saves."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.blob: bytes | None = None
        self.down = 0
        self.saves = 0
        self.failed = 0

    def load(self) -> bytes | None:
        return self.blob

    def save(self, blob: bytes) -> None:
        self.world.call("save")
        if self.down:
            self.down -= 1
            self.failed += 1
            raise StateStoreError("store unavailable (scripted)")
        self.blob = blob
        self.saves += 1
        self.world.note("save")

    def describe(self) -> str:
        return "memory://checkpoint"


class FakeSink:
    """Accepts findings, or fails the first ``fail_first`` publish calls with ``SinkError``."""

    def __init__(self, world: World, fail_first: int = 0) -> None:
        self.world = world
        self.fail_first = fail_first
        self.calls = 0
        self.accepted: list[dict[str, Any]] = []

    def publish(self, findings: Sequence[Any]) -> None:
        self.world.call("publish")
        self.calls += 1
        if self.calls <= self.fail_first:
            self.world.note("publish-failed")
            raise SinkError("sink down (scripted)", [(str(f["id"]), "down") for f in findings])
        for f in findings:
            self.accepted.append(dict(f))
            self.world.note("publish", str(f["id"]))

    def close(self) -> None:
        pass


class FakeDetection:
    """A tiny, deterministic detection stage with state, standing in for ``Detector``.

    Every closed window is a finding of its own (``win:…``), and every principal has one
    running finding (``total:…``) updated with each of its windows — so there are new ids and
    updates of known ids, as with the real detector.
    """

    def __init__(self) -> None:
        self.totals: dict[str, int] = {}

    def notable(self, ev: S3Event) -> bool:
        return False

    def bind(self, history: HistoryStore) -> None:
        pass

    def process(self, batch: Batch) -> list[dict[str, Any]]:
        out = []
        for w in batch.windows:
            self.totals[w.name] = self.totals.get(w.name, 0) + w.n
            out.append({"id": f"win:{w.name}:{w.start}", "type": "Test:S3/Window", "n": w.n})
            out.append({"id": f"total:{w.name}", "type": "Test:S3/Total", "n": self.totals[w.name]})
        return out

    def learnable(self, batch: Batch) -> list[WindowAgg]:
        return batch.windows

    def snapshot(self) -> bytes:
        return pickle.dumps(self.totals)

    def restore(self, data: bytes) -> None:
        self.totals = pickle.loads(data)


# --- a trail and its notifications -------------------------------------------------------------


def record(principal: str, t: float, n: int) -> dict[str, Any]:
    return {
        "eventVersion": "1.10",
        "eventTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t)),
        "eventSource": "s3.amazonaws.com",
        "eventName": "GetObject",
        "eventCategory": "Data",
        "awsRegion": "us-east-1",
        "recipientAccountId": ACCOUNT,
        "eventID": f"{principal}-{int(t)}-{n}",
        "sourceIPAddress": "198.51.100.10",
        "userAgent": "aws-cli/2.17.0",
        "userIdentity": {
            "type": "IAMUser",
            "arn": f"arn:aws:iam::{ACCOUNT}:user/{principal}",
            "accountId": ACCOUNT,
            "userName": principal,
        },
        "requestParameters": {"bucketName": "data", "key": f"k/{n}"},
        "resources": [{"type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::data"}],
    }


def key_of(i: int) -> str:
    stamp = time.strftime("%Y%m%dT%H%MZ", time.gmtime(T0 + 120 * i))
    return (
        f"AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/2026/11/01/"
        f"{ACCOUNT}_CloudTrail_us-east-1_{stamp}_{i:016d}.json.gz"
    )


def trail(files: int) -> dict[str, bytes]:
    """File ``i`` holds events two windows after file ``i - 1``'s: each file closes the last."""
    out = {}
    for i in range(files):
        start = T0 + 120 * i
        recs = [record(p, start + 7 * n, n) for p in PRINCIPALS for n in range(2 + i % 3)]
        out[key_of(i)] = gzip.compress(json.dumps({"Records": recs}).encode())
    return out


def notification(*keys: str) -> str:
    return json.dumps(
        {
            "Records": [
                {
                    "eventSource": "aws:s3",
                    "eventName": "ObjectCreated:Put",
                    "s3": {"bucket": {"name": BUCKET}, "object": {"key": k, "size": 100}},
                }
                for k in keys
            ]
        }
    )


# --- running the service -----------------------------------------------------------------------


@dataclass
class Rig:
    world: World
    source: FakeSource
    s3: FakeS3
    store: FakeStore
    sink: Any
    bodies: dict[str, str]  # message id → body
    services: list[Service] = field(default_factory=list)
    crashes: int = 0

    def service(self, **settings: Any) -> Service:
        defaults: dict[str, Any] = {
            "queue_url": "memory://queue",
            "drain": True,
            "wait_seconds": 1,
            "batch_size": 3,
            "visibility_timeout": 30,
            "heartbeat_seconds": 10.0,  # real seconds: never ticks in these tests
            "fetch_concurrency": 1,
            "checkpoint_seconds": 0.0,
            "republish_seconds": 5.0,
            "shutdown_budget_seconds": 1.0,
            "health_port": -1,
        }
        s = ServiceSettings(**{**defaults, **settings})
        full = Settings(
            window=WindowSettings(width_seconds=WIDTH, lateness_seconds=0),
            dedup=DedupSettings(horizon_seconds=DEDUP_HORIZON),
            service=s,
        )
        svc = Service(
            settings=s,
            pipeline=Pipeline(full, FakeDetection()),
            source=self.source,
            s3_client=self.s3,
            sink=self.sink,
            store=self.store,
            metrics=Metrics(),
            max_object_bytes=1 << 20,
            clock=self.source.clock,
            backlog=self.source.backlog,
            in_flight=self.source.in_flight,
        )
        self.source.before_delete = lambda msgs: check_may_delete(svc, msgs)
        self.services.append(svc)
        return svc

    def run(self, crash_at: int | None = None, **settings: Any) -> Service:
        """One process lifetime: runs until drained, stopped, or killed at ``crash_at``."""
        self.world.restart(crash_at)
        svc = self.service(**settings)
        try:
            assert svc.run() == 0
        except Crash:
            self.crashes += 1
        finally:
            svc.heartbeat.stop()  # a killed process's threads die with it
        return svc


def check_may_delete(svc: Service, messages: Sequence[Message]) -> None:
    """The contract, checked at the moment of every delete."""
    assert svc.ledger.unpublished_new() == 0, "deleting while a new finding is not downstream"


def make_rig(
    files: int = 8,
    *,
    sink: Callable[[World], Any] = FakeSink,
    extra_bodies: Sequence[str] = (),
    max_receive: int = 5,
) -> Rig:
    world = World()
    objects = trail(files)
    bodies = [notification(k) for k in objects] + list(extra_bodies)
    source = FakeSource(world, bodies, max_receive)
    rig = Rig(
        world=world,
        source=source,
        s3=FakeS3(world, objects),
        store=FakeStore(world),
        sink=sink(world),
        bodies={q.mid: q.body for q in source.queue.values()},
    )
    return rig


def assert_checkpoint_covers_every_delete(world: World, bodies: dict[str, str]) -> None:
    """Each deleted message's object was read before a checkpoint that preceded the delete."""
    last_get: dict[str, int] = {}
    last_save = -1
    for i, (what, detail) in enumerate(world.journal):
        if what == "get":
            last_get[detail] = i
        elif what == "save":
            last_save = i
        elif what == "delete":
            for rec in json.loads(bodies[detail]).get("Records", []):
                key = rec["s3"]["object"]["key"]
                assert last_save > last_get[key], f"{detail} deleted before a checkpoint"


def latest(findings: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for f in findings:
        out[str(f["id"])] = f
    return out


@pytest.fixture(scope="module")
def clean() -> dict[str, dict[str, Any]]:
    """The findings (last version of each id) of an uninterrupted run over the same trail."""
    rig = make_rig()
    rig.run()
    return latest(rig.sink.accepted)


# --- the happy path ----------------------------------------------------------------------------


def test_clean_run_publishes_each_finding_once_and_deletes_every_message(
    clean: dict[str, dict[str, Any]],
) -> None:
    rig = make_rig()
    svc = rig.run()

    windows = [fid for fid in clean if fid.startswith("win:")]
    assert len(windows) == 8 * len(PRINCIPALS)  # every window of every file, the last at drain
    assert {clean[f"total:user/{p}"]["n"] for p in PRINCIPALS} == {sum(2 + i % 3 for i in range(8))}
    ids = [f["id"] for f in rig.sink.accepted]
    assert sorted(i for i in ids if i.startswith("win:")) == sorted(windows)  # new ids: once
    assert sorted(rig.source.deleted) == sorted(rig.bodies)
    assert rig.source.dlq == [] and rig.source.queue == {}
    assert sorted(rig.s3.gets) == sorted(trail(8))  # each object read exactly once
    assert_checkpoint_covers_every_delete(rig.world, rig.bodies)
    assert svc.metrics.get("messages.deleted") == 8


def test_updates_of_a_known_id_are_aggregated_and_republished_by_the_clock() -> None:
    rig = make_rig()
    rig.run(republish_seconds=1e9)  # no republication before the flush at the end
    totals = [f for f in rig.sink.accepted if f["id"] == "total:user/alice"]
    # The first version at once (a new id), then only the final one, at the drain's flush.
    assert len(totals) == 2
    assert totals[0]["n"] < totals[1]["n"] == sum(2 + i % 3 for i in range(8))


def test_no_work_messages_are_deleted_at_once_and_unknown_shapes_are_poison() -> None:
    no_work = [
        json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": BUCKET}),
        "CloudTrail validation message.",
        json.dumps(
            {"Type": "SubscriptionConfirmation", "TopicArn": "arn:aws:sns:x", "Message": "hi"}
        ),
    ]
    poison = ["not json at all", json.dumps({"hello": "world"}), json.dumps({"Records": "nope"})]
    rig = make_rig(4, extra_bodies=[*no_work, *poison])
    svc = rig.run()

    ids = {body: mid for mid, body in rig.bodies.items()}
    assert {ids[b] for b in no_work} <= set(rig.source.deleted)
    assert all(rig.source.receipts[ids[b]] == 1 for b in no_work)
    # Poison is never deleted or released: it waits out its visibility until SQS's redrive
    # policy moves it to the DLQ, and the good messages around it are processed meanwhile.
    assert sorted(rig.source.dlq) == sorted(ids[b] for b in poison)
    assert all(rig.source.receipts[ids[b]] == rig.source.max_receive for b in poison)
    assert not {ids[b] for b in poison} & set(rig.source.deleted)
    assert sorted(rig.s3.gets) == sorted(trail(4))
    assert svc.metrics.get("messages.poison") == len(poison) * rig.source.max_receive
    assert svc.metrics.get("messages.no_work") == len(no_work)


def test_missing_objects_are_left_for_the_dlq_and_transient_errors_retried() -> None:
    rig = make_rig(4)
    keys = list(trail(4))
    rig.s3.fail[keys[1]] = ["SlowDown", "InternalError"]  # S3 recovers on the third try
    del rig.s3.objects[keys[2]]  # gone for good (or forbidden): an operator must look
    rig.run()

    ids = {json.loads(b)["Records"][0]["s3"]["object"]["key"]: m for m, b in rig.bodies.items()}
    assert rig.source.receipts[ids[keys[1]]] == 3
    assert ids[keys[1]] in rig.source.deleted
    assert rig.source.dlq == [ids[keys[2]]]
    assert sorted(rig.s3.gets) == sorted(k for k in keys if k != keys[2])


def test_a_file_announced_again_after_its_windows_closed_is_not_counted_again(
    clean: dict[str, dict[str, Any]],
) -> None:
    # S3 notifications are at least once too. This repeat of file 1 comes after the whole
    # trail: its windows are closed and event dedup forgot its IDs long ago.
    rig = make_rig(extra_bodies=[notification(key_of(1))])
    svc = rig.run()

    assert latest(rig.sink.accepted) == clean
    assert sorted(rig.source.deleted) == sorted(rig.bodies)
    assert rig.s3.gets.count(key_of(1)) == 2  # fetched again: its bytes tell it is the same
    assert svc.metrics.get("files.repeated") == 1
    assert_each_record_counted_once(svc)


def test_a_key_written_again_with_other_content_is_read_again() -> None:
    rig = make_rig(extra_bodies=[notification(key_of(1))])
    newer = trail(9)[key_of(8)]  # a file of events after the trail's end
    get_object = rig.s3.get_object

    def overwritten_after_first_read(Bucket: str, Key: str) -> dict[str, Any]:
        if Key == key_of(1) and Key in rig.s3.gets:
            rig.s3.objects[Key] = newer
        return get_object(Bucket=Bucket, Key=Key)

    rig.s3.get_object = overwritten_after_first_read  # type: ignore[method-assign]
    svc = rig.run()

    assert svc.metrics.get("files.repeated") == 0
    counts = svc.pipeline.engine.counts
    records = len(PRINCIPALS) * sum(2 + i % 3 for i in range(9))  # the trail's and the new
    assert (counts.windowed, counts.late, counts.duplicates) == (records, 0, 0)


# --- failures of the sink ----------------------------------------------------------------------


def test_failing_sink_holds_every_delete_until_it_accepts(
    clean: dict[str, dict[str, Any]],
) -> None:
    rig = make_rig(sink=lambda world: FakeSink(world, fail_first=6))
    rig.run()
    world = rig.world

    first_ok = next(i for i, (w, _) in enumerate(world.journal) if w == "publish")
    failures = [i for i, (w, _) in enumerate(world.journal) if w == "publish-failed"]
    deletes = [i for i, (w, _) in enumerate(world.journal) if w == "delete"]
    assert len(failures) == 6 and max(failures) < first_ok
    # The first window closes with the second file: from then until the sink accepted,
    # nothing may be deleted.
    assert not [i for i in deletes if failures[0] < i < first_ok]
    assert latest(rig.sink.accepted) == clean
    assert sorted(rig.source.deleted) == sorted(rig.bodies)
    assert_checkpoint_covers_every_delete(world, rig.bodies)


class FakeEvents:
    """An EventBridge client: per call, some entries fail with a scripted error code."""

    def __init__(self, script: Sequence[dict[int, str]]) -> None:
        self.script = list(script)
        self.calls = 0
        self.accepted: list[dict[str, Any]] = []

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        assert 1 <= len(Entries) <= 10
        turn = self.script[self.calls] if self.calls < len(self.script) else {}
        self.calls += 1
        results = []
        for i, e in enumerate(Entries):
            if i in turn:
                results.append({"ErrorCode": turn[i], "ErrorMessage": "scripted"})
            else:
                self.accepted.append(json.loads(e["Detail"]))
                results.append({"EventId": f"ev-{len(self.accepted)}"})
        return {"FailedEntryCount": sum("ErrorCode" in r for r in results), "Entries": results}


def test_eventbridge_partial_failures_through_the_service_lose_nothing(
    clean: dict[str, dict[str, Any]],
) -> None:
    # Entry 0 of the first calls is throttled three times in a row: more than the sink's own
    # two attempts, so the service must retry the publication on a later turn of its loop.
    throttled = {0: "ThrottlingException"}
    client = FakeEvents([throttled, throttled, throttled, {1: "InternalFailure"}, throttled])
    sink = EventBridgeSink(
        client,
        "findings",
        options=SinkOptions(max_attempts=2),
        sleep=lambda s: None,
        jitter=lambda: 0.0,
    )
    rig = make_rig(sink=lambda world: sink)
    svc = rig.run()

    assert svc.metrics.get("errors", kind="sink") >= 1  # the service had to try again
    assert latest(client.accepted) == clean
    # Duplicates are only re-publications of an id EventBridge had accepted in a batch that
    # failed as a whole; each id is new exactly once in the clean run.
    assert {f["id"] for f in client.accepted} == set(clean)
    assert sorted(rig.source.deleted) == sorted(rig.bodies)
    assert rig.source.dlq == []


# --- failures of the checkpoint store ----------------------------------------------------------


def test_checkpoint_store_down_keeps_messages_and_stops_taking_work(
    clean: dict[str, dict[str, Any]],
) -> None:
    rig = make_rig()
    rig.store.down = 3
    svc = rig.service(max_pending_messages=3)
    peak = 0
    receive = rig.source.receive

    def counting_receive(*args: Any, **kwargs: Any) -> list[Message]:
        nonlocal peak
        peak = max(peak, len(svc.pending_ack))
        return receive(*args, **kwargs)

    rig.source.receive = counting_receive  # type: ignore[method-assign]
    assert svc.run() == 0

    first_save = next(i for i, (w, _) in enumerate(rig.world.journal) if w == "save")
    first_delete = next(i for i, (w, _) in enumerate(rig.world.journal) if w == "delete")
    assert rig.store.failed == 3 and first_save < first_delete
    assert peak <= 3 + 3 - 1  # stopped receiving once 3 waited (a batch may overshoot)
    assert latest(rig.sink.accepted) == clean  # publication does not wait for checkpoints
    assert sorted(rig.source.deleted) == sorted(rig.bodies)


def test_unreadable_checkpoint_stops_the_start_before_any_message_is_touched() -> None:
    rig = make_rig()

    def broken() -> bytes | None:
        raise StateStoreError("checkpoint at memory://checkpoint is corrupt (checksum mismatch)")

    rig.store.load = broken  # type: ignore[method-assign]
    svc = rig.service()
    with pytest.raises(StateStoreError, match="corrupt"):
        svc.run()
    assert rig.source.receipts == {} and rig.source.deleted == []


# --- shutdown ----------------------------------------------------------------------------------


def stop_after(svc: Service, rig: Rig, gets: int) -> None:
    """Ask the service to stop (SIGTERM) once it has read ``gets`` objects."""
    get = rig.s3.get_object

    def stopping_get(**kwargs: Any) -> dict[str, Any]:
        out = get(**kwargs)
        if len(rig.s3.gets) >= gets:
            svc.stop.set()
        return out

    rig.s3.get_object = stopping_get  # type: ignore[method-assign]


def run_until_stopped(rig: Rig, gets: int, **settings: Any) -> Service:
    """One process lifetime, ended by a stop request (SIGTERM) once ``gets`` objects are read."""
    svc = rig.service(drain=False, **settings)
    stop_after(svc, rig, gets)
    assert svc.run() == 0
    return svc


def test_stop_finishes_the_batch_checkpoints_and_deletes_then_a_restart_completes(
    clean: dict[str, dict[str, Any]],
) -> None:
    rig = make_rig()
    run_until_stopped(rig, 4)

    assert 4 <= len(rig.source.deleted) < 8
    assert rig.source.in_flight() == 0  # nothing left invisible: deleted or released
    rig.run()
    assert latest(rig.sink.accepted) == clean
    assert sorted(rig.source.deleted) == sorted(rig.bodies)


def test_stop_with_the_sink_down_releases_messages_within_the_budget() -> None:
    rig = make_rig(sink=lambda world: FakeSink(world, fail_first=10**6))
    svc = rig.service(drain=False, shutdown_budget_seconds=1.0)
    stop_after(svc, rig, 5)
    started = time.monotonic()
    assert svc.run() == 0
    elapsed = time.monotonic() - started

    assert elapsed < 1.0 + 1.0
    assert rig.source.deleted == []  # findings never got downstream: nothing acknowledged
    assert rig.source.in_flight() == 0  # ...and nothing is kept from other consumers either


def test_stop_with_the_store_down_releases_messages() -> None:
    rig = make_rig()
    rig.store.down = 10**6
    run_until_stopped(rig, 5)
    assert rig.source.deleted == []
    assert rig.source.in_flight() == 0


def stop_at(svc: Service, rig: Rig, when: float) -> None:
    """Ask the service to stop once the simulated clock reaches ``when``."""
    receive = rig.source.receive

    def stopping_receive(*args: Any, **kwargs: Any) -> list[Message]:
        if rig.source.now >= when:
            svc.stop.set()
        return receive(*args, **kwargs)

    rig.source.receive = stopping_receive  # type: ignore[method-assign]


def test_windows_restored_from_a_checkpoint_still_close_when_their_account_goes_quiet() -> None:
    rig = make_rig(4)
    run_until_stopped(rig, 4)
    assert sorted(rig.source.deleted) == sorted(rig.bodies)
    last = f"win:user/alice:{T0 + 120 * 3}"
    assert last not in {f["id"] for f in rig.sink.accepted}  # still open: nothing came after

    rig.s3.get_object = FakeS3.get_object.__get__(rig.s3)  # type: ignore[method-assign]
    second = rig.service(drain=False, idle_close_seconds=5.0, restart_hold_seconds=0.0)
    stop_at(second, rig, rig.source.now + 20)
    assert second.run() == 0
    assert last in {f["id"] for f in rig.sink.accepted}


def test_a_checkpoint_from_before_the_file_memory_restores_and_finishes(
    clean: dict[str, dict[str, Any]],
) -> None:
    # An upgrade: the checkpoint has no "seen" and dedup's minutes are not per account yet.
    rig = make_rig()
    run_until_stopped(rig, 4)
    assert rig.store.blob is not None
    doc = pickle.loads(rig.store.blob)
    del doc["seen"]
    pipeline = pickle.loads(doc["pipeline"])
    pipeline["engine"]["dedup"] = account_less(pipeline["engine"]["dedup"])
    doc["pipeline"] = pickle.dumps(pipeline)
    rig.store.blob = pickle.dumps(doc)

    second = rig.run()
    assert second.seen.by_identity  # it remembers what it read after the upgrade
    assert second.pipeline.engine.dedup.buckets.keys() == {ACCOUNT}  # the old IDs, per account
    assert_same_outcome(rig, clean)


# --- crashes (kill -9) at every point ----------------------------------------------------------


def crash_then_drain(crash_points: Sequence[int]) -> Rig:
    # Each kill counts one more receive of the messages in flight; let the redrive policy
    # allow them all, as the DLQ is not what these tests are about.
    rig = make_rig(max_receive=len(crash_points) + 2)
    for point in crash_points:
        rig.run(crash_at=point)
    rig.run()
    return rig


def assert_same_outcome(rig: Rig, clean: dict[str, dict[str, Any]]) -> None:
    assert latest(rig.sink.accepted) == clean, "findings differ from the uninterrupted run"
    assert {f["id"] for f in rig.sink.accepted} == set(clean)  # no other id, ever
    assert sorted(rig.source.deleted) == sorted(rig.bodies), "a message was lost"
    assert rig.source.dlq == [] and rig.source.queue == {}
    assert set(rig.s3.gets) == set(trail(8))
    assert_checkpoint_covers_every_delete(rig.world, rig.bodies)
    assert_each_record_counted_once(rig.services[-1])


def assert_each_record_counted_once(svc: Service) -> None:
    """Every record of the trail in exactly one window, none late, none counted twice."""
    records = len(PRINCIPALS) * sum(2 + i % 3 for i in range(8))
    counts = svc.pipeline.engine.counts
    assert (counts.windowed, counts.late, counts.duplicates) == (records, 0, 0), counts


def port_calls_of_a_clean_run() -> int:
    rig = make_rig()
    rig.run()
    return rig.world.calls


def test_kill_at_every_port_call_then_restart_gives_the_clean_findings(
    clean: dict[str, dict[str, Any]],
) -> None:
    calls = port_calls_of_a_clean_run()
    assert calls > 20
    for point in range(1, calls + 1):
        rig = crash_then_drain([point])
        assert rig.crashes == 1, point
        assert_same_outcome(rig, clean)


def test_repeated_kills_at_random_points_then_restart(clean: dict[str, dict[str, Any]]) -> None:
    rng = random.Random(20261126)
    calls = port_calls_of_a_clean_run()
    for _ in range(5):
        points = [rng.randint(1, calls // 2) for _ in range(25)]
        rig = crash_then_drain(points)
        assert rig.crashes >= 20
        assert_same_outcome(rig, clean)


def test_a_restart_holds_window_closing_until_in_flight_messages_are_back(
    clean: dict[str, dict[str, Any]],
) -> None:
    # Killed with the first batch read but before any checkpoint: the restarted process finds
    # no checkpoint, yet messages are in flight. Closing windows before they come back would
    # make their events late and lose their findings.
    rig = make_rig()
    rig.run(crash_at=4)  # receive, get, get, get: killed before the first save
    assert rig.store.blob is None and rig.source.in_flight() == 3
    rig.run()
    assert_same_outcome(rig, clean)


def test_kill_at_every_point_of_a_stopped_run_then_restart(
    clean: dict[str, dict[str, Any]],
) -> None:
    def stopped_run(rig: Rig, crash_at: int | None) -> None:
        rig.world.restart(crash_at)
        svc = rig.service(drain=False)
        stop_after(svc, rig, 5)
        with contextlib.suppress(Crash):
            assert svc.run() == 0
        svc.heartbeat.stop()

    probe = make_rig()
    stopped_run(probe, None)
    for point in range(1, probe.world.calls + 1):
        rig = make_rig()
        stopped_run(rig, point)
        assert rig.world.dead, point
        rig.run()
        assert_same_outcome(rig, clean)
