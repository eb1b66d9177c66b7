"""The SQS queue as a message source: receive, delete, release, extend, heartbeat.

SQS is at-least-once and unordered; a message is only deleted after its work is safe, and
batch calls report failures per entry, which must be checked
(https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_DeleteMessageBatch.html).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from detector.metrics import Metrics

log = logging.getLogger(__name__)

BATCH = 10  # the per-call maximum of every SQS batch action
MAX_WAIT = 20  # long-poll ceiling, seconds
MAX_VISIBILITY = 43_200  # 12 h


@dataclass(frozen=True, slots=True)
class Message:
    """One received SQS message; ``receive_count`` grows with each redelivery."""

    message_id: str
    receipt_handle: str
    body: str
    receive_count: int = 1


class Source(Protocol):
    """Where work comes from; ``SqsSource`` in production, an in-memory fake in unit tests.

    ``delete``/``release``/``extend`` return the messages the queue did not accept.
    """

    def receive(
        self,
        max_messages: int = BATCH,
        wait_seconds: int = MAX_WAIT,
        visibility_timeout: int | None = None,
    ) -> list[Message]: ...

    def delete(self, messages: Sequence[Message]) -> list[Message]: ...

    def release(self, messages: Sequence[Message]) -> list[Message]: ...

    def extend(self, messages: Sequence[Message], seconds: int) -> list[Message]: ...


class SqsSource:
    """An SQS queue, by URL, through an injected boto3 SQS client."""

    def __init__(self, client: Any, queue_url: str, *, metrics: Metrics | None = None) -> None:
        self.client = client
        self.queue_url = queue_url
        self.metrics = metrics or Metrics()

    def receive(
        self,
        max_messages: int = BATCH,
        wait_seconds: int = MAX_WAIT,
        visibility_timeout: int | None = None,
    ) -> list[Message]:
        """Up to ``max_messages`` messages, long-polling up to ``wait_seconds``."""
        if not 1 <= max_messages <= BATCH:
            raise ValueError(f"max_messages must be 1..{BATCH}")
        if not 0 <= wait_seconds <= MAX_WAIT:
            raise ValueError(f"wait_seconds must be 0..{MAX_WAIT}")
        params: dict[str, Any] = {
            "QueueUrl": self.queue_url,
            "MaxNumberOfMessages": max_messages,
            "WaitTimeSeconds": wait_seconds,
            # AttributeNames is deprecated in favour of MessageSystemAttributeNames.
            "MessageSystemAttributeNames": ["ApproximateReceiveCount"],
        }
        if visibility_timeout is not None:
            params["VisibilityTimeout"] = _visibility(visibility_timeout)
        response = self.client.receive_message(**params)
        messages = [_message(raw) for raw in response.get("Messages", [])]
        self.metrics.incr("sqs.received", len(messages))
        return messages

    def delete(self, messages: Sequence[Message]) -> list[Message]:
        """Delete ``messages``; return (and log) those SQS did not delete."""
        return self._batch("delete", messages, self.client.delete_message_batch, {})

    def release(self, messages: Sequence[Message]) -> list[Message]:
        """Make ``messages`` visible again now, for another attempt."""
        return self.extend(messages, 0, action="release")

    def extend(
        self, messages: Sequence[Message], seconds: int, *, action: str = "extend"
    ) -> list[Message]:
        """Set the visibility of ``messages`` to ``seconds`` from now (heartbeat)."""
        extra = {"VisibilityTimeout": _visibility(seconds)}
        return self._batch(action, messages, self.client.change_message_visibility_batch, extra)

    def _batch(
        self,
        action: str,
        messages: Sequence[Message],
        call: Callable[..., Any],
        extra: dict[str, Any],
    ) -> list[Message]:
        failed: list[Message] = []
        for start in range(0, len(messages), BATCH):
            chunk = messages[start : start + BATCH]
            # Ids only need to be unique within one call; positions make mapping back trivial.
            entries = [
                {"Id": str(i), "ReceiptHandle": m.receipt_handle, **extra}
                for i, m in enumerate(chunk)
            ]
            try:
                response = call(QueueUrl=self.queue_url, Entries=entries)
            except (ClientError, BotoCoreError) as exc:
                self._log_failure(action, len(chunk), f"{type(exc).__name__}: {exc}")
                failed.extend(chunk)
                continue
            for entry in response.get("Failed", []):
                message = chunk[int(entry["Id"])]
                self._log_failure(
                    action, 1, f"{entry.get('Code')}: {entry.get('Message', '')}", message
                )
                failed.append(message)
        self.metrics.incr(f"sqs.{action}.ok", len(messages) - len(failed))
        if failed:
            self.metrics.incr(f"sqs.{action}.failed", len(failed))
        return failed

    def _log_failure(
        self, action: str, count: int, error: str, message: Message | None = None
    ) -> None:
        log.warning(
            "SQS %s failed",
            action,
            extra={
                "action": action,
                "count": count,
                "error": error,
                "message_id": message.message_id if message else None,
            },
        )


def _visibility(seconds: int) -> int:
    if not 0 <= seconds <= MAX_VISIBILITY:
        raise ValueError(f"visibility timeout must be 0..{MAX_VISIBILITY} s")
    return seconds


def _message(raw: dict[str, Any]) -> Message:
    count = raw.get("Attributes", {}).get("ApproximateReceiveCount", "1")
    return Message(
        message_id=raw["MessageId"],
        receipt_handle=raw["ReceiptHandle"],
        body=raw.get("Body", ""),
        receive_count=int(count),
    )


class VisibilityHeartbeat:
    """Keep in-flight messages invisible while slow work runs.

    Every ``interval`` seconds a background thread extends the visibility of the tracked
    messages to ``extend_to`` seconds from now; ``extend_to`` should exceed ``interval`` with
    margin (e.g. interval 20 s, extend_to 60 s) so one late tick does not expose a message. A
    message whose extension fails (deleted meanwhile, or its receipt handle is stale) is
    dropped from tracking. Use as a context manager, or ``start()``/``stop()``.
    """

    def __init__(self, source: Source, *, interval: float = 20.0, extend_to: int = 60) -> None:
        if interval <= 0 or extend_to <= interval:
            raise ValueError("need 0 < interval < extend_to")
        self.source = source
        self.interval = interval
        self.extend_to = _visibility(extend_to)
        self._tracked: dict[str, Message] = {}
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, messages: Sequence[Message]) -> None:
        with self._lock:
            for message in messages:
                self._tracked[message.receipt_handle] = message

    def remove(self, messages: Sequence[Message]) -> None:
        with self._lock:
            for message in messages:
                self._tracked.pop(message.receipt_handle, None)

    def tracked(self) -> list[Message]:
        with self._lock:
            return list(self._tracked.values())

    def start(self) -> VisibilityHeartbeat:
        if self._thread is None:
            self._stopped.clear()
            self._thread = threading.Thread(target=self._run, name="sqs-heartbeat", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> VisibilityHeartbeat:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def beat(self) -> None:
        """Extend every tracked message once (what each tick does)."""
        messages = self.tracked()
        if not messages:
            return
        failed = self.source.extend(messages, self.extend_to)
        self.remove(failed)

    def _run(self) -> None:
        while not self._stopped.wait(self.interval):
            try:
                self.beat()
            except Exception:  # a dead heartbeat silently exposes every in-flight message
                log.exception("visibility heartbeat failed; retrying next tick")
