"""The daemon's main flow: receive → process → publish → checkpoint → ack, until told to stop.

Delivery contract: a message is deleted only after (1) every finding it produced was accepted
by every sink and (2) a checkpoint covering the state it changed was written. Until then the
heartbeat keeps it invisible; after a crash it comes back and is processed again from the last
checkpoint, so nothing is lost and findings (deterministic ids) are at most re-published.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from detector.aws.sqs import Message, Source, VisibilityHeartbeat
from detector.config import ServiceSettings
from detector.metrics import Metrics
from detector.pipeline import Pipeline
from detector.service.health import HealthState
from detector.service.ledger import Ledger
from detector.service.seen import SeenFiles
from detector.service.state import StateStore, StateStoreError
from detector.service.work import BLOCKED, DONE, NO_WORK, RETRY, Verdicts, process_batch
from detector.sinks import Sink, SinkError

log = logging.getLogger(__name__)


@dataclass
class Service:
    settings: ServiceSettings
    pipeline: Pipeline
    source: Source
    s3_client: Any
    sink: Sink
    store: StateStore | None
    metrics: Metrics
    max_object_bytes: int
    health: HealthState = field(default_factory=HealthState)
    stop: threading.Event = field(default_factory=threading.Event)
    clock: Callable[[], float] = time.time
    ledger: Ledger = field(init=False)
    seen: SeenFiles = field(init=False)  # files in the state: a repeat is not read again
    pending_ack: list[Message] = field(default_factory=list)
    last_checkpoint: float = 0.0
    hold_until: float = 0.0
    last_event_wall: dict[str, float] = field(default_factory=dict)
    backlog: Callable[[], int] | None = None  # messages visible + in flight on the queue
    in_flight: Callable[[], int] | None = None  # messages in flight (received, not deleted)

    def __post_init__(self) -> None:
        self.ledger = Ledger(self.settings.republish_seconds)
        s = self.settings
        self.seen = SeenFiles(s.seen_files_seconds, s.seen_files_max)
        self.heartbeat = VisibilityHeartbeat(
            self.source, interval=s.heartbeat_seconds, extend_to=s.visibility_timeout
        )

    def run(self) -> int:
        """Main loop. Returns the process exit status."""
        self.restore()
        self.heartbeat.start()
        self.health.ready = True
        idle_receives = 0
        try:
            while not self.stop.is_set():
                self.health.beat()
                messages = self.receive()
                if messages and self.stop.is_set():
                    self.source.release(
                        messages
                    )  # arrived after SIGTERM: let another task take them
                    break
                idle_receives = 0 if messages else idle_receives + 1
                if messages:
                    self.handle(messages)
                self.advance()
                self.publish(flush=False)
                self.checkpoint_and_ack(force=False)
                if self.settings.drain and not messages and self.drained(idle_receives):
                    self.finish_drain()
                    break
        finally:
            self.shutdown()
        return 0

    def receive(self) -> list[Message]:
        s = self.settings
        if len(self.pending_ack) >= s.max_pending_messages:
            # Backpressure: the checkpoint store or a sink is failing; don't take more work.
            self.stop.wait(1.0)
            return []
        wait = min(s.wait_seconds, 1) if s.drain else s.wait_seconds
        try:
            return self.source.receive(min(s.batch_size, 10), wait, s.visibility_timeout)
        except Exception as exc:
            log.error("SQS receive failed; retrying", extra={"reason": str(exc)})
            self.metrics.incr("errors", kind="sqs-receive")
            self.stop.wait(2.0)
            return []

    def handle(self, messages: list[Message]) -> None:
        self.heartbeat.add(messages)
        started = self.clock()
        verdicts = process_batch(
            messages,
            self.s3_client,
            self.ingest,
            self.metrics,
            self.max_object_bytes,
            self.settings.fetch_concurrency,
            self.seen,
        )
        for identity in verdicts.ingested:
            self.seen.add(identity, started)
        self.settle(messages, verdicts)
        self.metrics.incr("messages.received", len(messages))
        self.metrics.incr("records.read", verdicts.records)
        log.debug(
            "batch processed",
            extra={
                "messages": len(messages),
                "records": verdicts.records,
                "seconds": round(self.clock() - started, 3),
            },
        )

    def ingest(self, records: list[Any]) -> None:
        before = dict(self.pipeline.engine.windower.newest)
        self.pipeline.ingest(records)
        now = self.clock()
        for acct, t in self.pipeline.engine.windower.newest.items():
            if before.get(acct) != t:
                self.last_event_wall[acct] = now

    def settle(self, messages: list[Message], verdicts: Verdicts) -> None:
        no_work = verdicts.of(NO_WORK, messages)
        self.heartbeat.remove([m for m in messages if verdicts.by_message[m.message_id] != DONE])
        if no_work:
            self.source.delete(no_work)
        retry = verdicts.of(RETRY, messages)
        if retry:
            self.source.release(retry)
        self.metrics.incr("messages.blocked", len(verdicts.of(BLOCKED, messages)))
        self.pending_ack.extend(verdicts.of(DONE, messages))

    def advance(self) -> None:
        """Close what the watermarks allow (unless holding after a restart) and offer findings."""
        now = self.clock()
        if now < self.hold_until:
            return
        quiet = [
            a
            for a, t in self.last_event_wall.items()
            if now - t >= self.settings.idle_close_seconds
        ]
        if quiet:
            self.pipeline.close_idle(quiet)
            for a in quiet:
                del self.last_event_wall[a]
        self.offer(self.pipeline.step())
        newest = max(self.pipeline.engine.windower.newest.values(), default=0.0)
        if newest:
            self.metrics.gauge("lag_seconds", max(0.0, now - newest))

    def offer(self, findings: list[dict[str, Any]]) -> None:
        if findings:
            self.ledger.offer(findings)
            for f in findings:
                self.metrics.incr("findings", type=str(f.get("type", "")))

    def publish(self, flush: bool) -> bool:
        """Send due findings to the sinks; False when some could not be delivered."""
        due = self.ledger.due(self.clock(), flush=flush)
        if not due:
            return True
        try:
            self.sink.publish(due)
        except SinkError as exc:
            log.error(
                "sink rejected findings; will retry", extra={"reason": str(exc), "count": len(due)}
            )
            self.metrics.incr("errors", kind="sink")
            return False
        self.ledger.accepted(due, self.clock())
        self.ledger.prune(self.clock())  # else every id ever published stays in every checkpoint
        self.metrics.incr("findings.published", len(due))
        return True

    def checkpoint_and_ack(self, force: bool) -> None:
        s = self.settings
        now = self.clock()
        if not self.pending_ack:
            return
        if (
            not force
            and now - self.last_checkpoint < s.checkpoint_seconds
            and len(self.pending_ack) < s.checkpoint_messages
        ):
            return
        if self.ledger.unpublished_new():
            return  # a finding these messages produced is not downstream yet
        if self.store is not None and not self.save():
            return
        done, self.pending_ack = self.pending_ack, []
        failed = self.source.delete(done)
        self.heartbeat.remove(done)
        self.metrics.incr("messages.deleted", len(done) - len(failed))

    def save(self) -> bool:
        assert self.store is not None
        self.seen.prune(self.clock())
        blob = _pack(self.pipeline.snapshot(), self.ledger.state(), self.seen.state())
        try:
            self.store.save(blob)
        except StateStoreError as exc:
            log.error(
                "checkpoint failed; messages kept until it succeeds", extra={"reason": str(exc)}
            )
            self.metrics.incr("errors", kind="checkpoint")
            return False
        self.last_checkpoint = self.clock()
        self.metrics.incr("checkpoints")
        return True

    def restore(self) -> None:
        self.last_checkpoint = self.clock()
        restored = self.load_checkpoint()
        # Messages in flight when a previous process died come back only after their
        # visibility expires; closing no window until then keeps their events on time. A
        # checkpoint says a previous process ran; so do messages in flight at start, which
        # matters when it died before writing its first checkpoint.
        in_flight = self.count_in_flight()
        if not restored and not in_flight:
            return
        s = self.settings
        hold = (
            s.restart_hold_seconds
            if s.restart_hold_seconds >= 0
            else s.visibility_timeout + s.heartbeat_seconds
        )
        self.hold_until = self.clock() + hold
        log.info(
            "holding window closing until in-flight messages are back",
            extra={"hold_seconds": hold, "restored": restored, "in_flight": in_flight},
        )

    def load_checkpoint(self) -> bool:
        """Restore the last checkpoint; False when there is none (a cold start)."""
        if self.store is None:
            log.warning(
                "no state location configured: a restart starts cold and may repeat or miss findings"
            )
            return False
        blob = self.store.load()
        if blob is None:
            log.info("no checkpoint found; starting cold", extra={"state": self.store.describe()})
            return False
        pipeline_state, ledger_state, seen_state = _unpack(blob)
        self.pipeline.restore(pipeline_state)
        self.ledger.restore(ledger_state)
        self.seen.restore(seen_state)
        # The idle close counts quiet time from an account's last event seen by this process;
        # without this, an account that stays quiet after a restart keeps its restored windows
        # (and their findings) open until its next event, which may be hours away.
        now = self.clock()
        for acct in self.pipeline.engine.windower.open:
            self.last_event_wall.setdefault(acct, now)
        log.info("state restored", extra={"state": self.store.describe()})
        return True

    def count_in_flight(self) -> int:
        if self.in_flight is None:
            return 0
        try:
            return self.in_flight()
        except Exception as exc:  # unknown: assume a previous process left some behind
            log.warning("cannot count in-flight messages", extra={"reason": str(exc)})
            return 1

    def drained(self, idle_receives: int) -> bool:
        if idle_receives < 2 or self.pending_ack_blocked():
            return False
        if self.clock() < self.hold_until:
            return False
        return self.backlog is None or self.backlog() == 0

    def pending_ack_blocked(self) -> bool:
        self.checkpoint_and_ack(force=True)
        return bool(self.pending_ack)

    def finish_drain(self) -> None:
        self.offer(self.pipeline.step(final=True))

    def shutdown(self) -> None:
        """Flush findings, checkpoint, delete what is covered, release the rest (within budget)."""
        self.health.ready = False
        deadline = time.monotonic() + self.settings.shutdown_budget_seconds
        while not self.publish(flush=True) and time.monotonic() < deadline:
            time.sleep(0.5)
        if self.pending_ack:
            self.checkpoint_and_ack(force=True)
        self.heartbeat.stop()
        leftovers = self.pending_ack
        if leftovers:
            self.source.release(leftovers)
            log.warning(
                "released messages not covered by a checkpoint", extra={"count": len(leftovers)}
            )
        elif self.store is not None:
            self.save()
        self.sink.close()


def _pack(
    pipeline_state: bytes, ledger_state: dict[str, Any], seen_state: dict[str, float]
) -> bytes:
    import pickle

    doc = {"pipeline": pipeline_state, "ledger": ledger_state, "seen": seen_state}
    return pickle.dumps(doc, protocol=pickle.HIGHEST_PROTOCOL)


def _unpack(blob: bytes) -> tuple[bytes, dict[str, Any], dict[str, float]]:
    import pickle

    doc = pickle.loads(blob)
    # Checkpoints written before files were remembered have no "seen".
    return doc["pipeline"], doc["ledger"], doc.get("seen", {})
