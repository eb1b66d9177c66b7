"""``eventbridge://BUS``: findings as ``GuardDuty Finding`` events on an EventBridge bus.

PutEvents accepts ≤ 10 entries a call and reports failures per entry, in request order
(https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevents.html); only failed
entries are re-sent, so accepted ones are not duplicated by our own retries.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from botocore.exceptions import BotoCoreError, ClientError

from detector.errors import ConfigError
from detector.metrics import Metrics
from detector.sinks.base import Finding, SinkError, SinkOptions, finding_id
from detector.sinks.trim import entry_size, fit_detail

log = logging.getLogger(__name__)

MAX_ENTRIES = 10
# Per-entry codes and whole-call codes worth another attempt; everything else (validation,
# access denied, unknown bus) fails the same way on every retry.
RETRYABLE = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "InternalFailure",
        "InternalException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
    }
)


@dataclass(frozen=True, slots=True)
class _Entry:
    fid: str
    request: dict[str, Any]
    size: int


class EventBridgeSink:
    """Publishes findings to one bus (name or ARN) through an injected ``events`` client."""

    def __init__(
        self,
        client: Any,
        bus: str,
        *,
        options: SinkOptions | None = None,
        metrics: Metrics | None = None,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.options = options or SinkOptions()
        validate_config(bus, self.options)
        self.client = client
        self.bus = bus
        self.metrics = metrics or Metrics()
        self._sleep = sleep
        self._jitter = jitter

    def publish(self, findings: Sequence[Finding]) -> None:
        """Send every finding; ``SinkError`` naming those EventBridge never accepted.

        A finding that cannot become an entry (not JSON) does not hold back the others.
        """
        entries: list[_Entry] = []
        failed: list[tuple[str, str]] = []
        for position, finding in enumerate(findings):
            try:
                entries.append(self._entry(finding, position))
            except SinkError as exc:
                failed.extend(exc.failed)
        for batch in _batches(entries, self.options.max_entry_bytes):
            failed.extend(self._send(batch))
        self.metrics.incr("sink.eventbridge.accepted", len(findings) - len(failed))
        if failed:
            self.metrics.incr("sink.eventbridge.failed", len(failed))
            raise SinkError(
                f"EventBridge bus {self.bus!r}: {len(failed)} of {len(findings)} findings "
                "not accepted",
                failed,
            )

    def close(self) -> None:
        return None  # nothing is buffered: publish returns only once EventBridge answered

    def _entry(self, finding: Finding, position: int) -> _Entry:
        fid = finding_id(finding, position)
        opts = self.options
        resources = _bucket_arns(finding)
        overhead = entry_size(opts.source, opts.detail_type, b"", resources)
        try:
            detail, trimmed = fit_detail(finding, opts.max_entry_bytes - overhead)
        except (ValueError, orjson.JSONEncodeError) as exc:
            raise SinkError("finding cannot be sent to EventBridge", [(fid, str(exc))]) from exc
        if trimmed:
            self.metrics.incr("sink.eventbridge.trimmed")
            log.warning("finding trimmed to fit an EventBridge entry", extra={"finding": fid})
        request = {
            "Source": opts.source,
            "DetailType": opts.detail_type,
            "Detail": detail.decode(),
            "Resources": resources,
            "EventBusName": self.bus,
        }
        return _Entry(fid, request, overhead + len(detail))

    def _send(self, batch: list[_Entry]) -> list[tuple[str, str]]:
        """Send one batch, retrying failed entries; return those that never got through."""
        pending = batch
        fatal: list[tuple[str, str]] = []
        retryable: list[tuple[_Entry, str]] = []
        for attempt in range(1, self.options.max_attempts + 1):
            if attempt > 1:
                self.metrics.incr("sink.eventbridge.retried", len(pending))
                self._sleep(self._backoff(attempt - 1))
            retryable = []
            for entry, code, message in self._put(pending):
                if code is None:
                    continue
                if code in RETRYABLE:
                    retryable.append((entry, f"{code}: {message}"))
                else:
                    fatal.append((entry.fid, f"{code}: {message}"))
            pending = [entry for entry, _ in retryable]
            if not pending:
                break
            log.warning(
                "EventBridge did not accept some entries",
                extra={
                    "bus": self.bus,
                    "attempt": attempt,
                    "count": len(pending),
                    "error": retryable[0][1],
                },
            )
        attempts = self.options.max_attempts
        return fatal + [(e.fid, f"{why} (after {attempts} attempts)") for e, why in retryable]

    def _put(self, pending: list[_Entry]) -> Iterator[tuple[_Entry, str | None, str]]:
        """``(entry, error code or None, message)`` per entry of one PutEvents call."""
        try:
            response = self.client.put_events(Entries=[e.request for e in pending])
        except ClientError as exc:
            # A throttled *call* fails every entry; botocore already retried it a few times.
            error = exc.response.get("Error", {})
            code, message = str(error.get("Code", "ClientError")), str(error.get("Message", ""))
            for entry in pending:
                yield entry, code, message
            return
        except BotoCoreError as exc:
            for entry in pending:
                yield entry, "InternalFailure", f"{type(exc).__name__}: {exc}"
            return
        results = response.get("Entries", [])
        for i, entry in enumerate(pending):
            # The response has one result per request entry, in order; a missing one is
            # treated as a retryable failure (a duplicate beats a lost finding).
            result: dict[str, Any] = (
                results[i] if i < len(results) else {"ErrorCode": "InternalFailure"}
            )
            error = result.get("ErrorCode")
            yield entry, (str(error) if error else None), str(result.get("ErrorMessage", ""))

    def _backoff(self, attempt: int) -> float:
        # "Full jitter": https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/
        ceiling = min(self.options.backoff_max, self.options.backoff_base * 2.0 ** (attempt - 1))
        return float(self._jitter() * ceiling)


def validate_config(bus: str, options: SinkOptions) -> None:
    """``ConfigError`` unless ``bus`` and ``options`` can make valid PutEvents entries."""
    if not bus:
        raise ConfigError("eventbridge sink needs a bus: eventbridge://NAME or eventbridge://ARN")
    if not options.source or options.source.lower().startswith("aws."):
        # PutEvents rejects custom events whose Source starts with "aws." (reserved by AWS).
        raise ConfigError(f"EventBridge source {options.source!r} is empty or reserved (aws.*)")
    if not options.detail_type:
        raise ConfigError("EventBridge detail type must not be empty")
    if options.max_attempts < 1:
        raise ConfigError("EventBridge max_attempts must be at least 1")
    if options.max_entry_bytes < 1024:
        raise ConfigError("EventBridge max_entry_bytes must be at least 1024")


def _bucket_arns(finding: Finding) -> list[str]:
    resource = finding.get("resource")
    details = resource.get("s3BucketDetails") if isinstance(resource, dict) else None
    arns: list[str] = []
    for bucket in details if isinstance(details, list) else []:
        arn = bucket.get("arn") if isinstance(bucket, dict) else None
        if isinstance(arn, str) and arn.startswith("arn:") and arn not in arns:
            arns.append(arn)
    return arns


def _batches(entries: list[_Entry], max_bytes: int) -> Iterator[list[_Entry]]:
    """Runs of ≤ 10 entries whose sizes add up to ≤ ``max_bytes``.

    AWS documents the size limit for "the total entry size" of a request, so the request is
    capped too, not only each entry.
    """
    batch: list[_Entry] = []
    total = 0
    for entry in entries:
        if batch and (len(batch) == MAX_ENTRIES or total + entry.size > max_bytes):
            yield batch
            batch, total = [], 0
        batch.append(entry)
        total += entry.size
    if batch:
        yield batch
