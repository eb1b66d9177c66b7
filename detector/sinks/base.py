"""The sink port: where findings go, and the options every sink understands.

A sink either accepts every finding of a ``publish`` call or raises ``SinkError``; the service
loop deletes an SQS message only after that call returned, so a failure means redelivery, not
loss. Delivery is therefore at-least-once: consumers dedupe on the finding's stable ``id``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from detector.errors import S3adError

Finding = Mapping[str, Any]


class SinkError(S3adError):
    """Some findings could not be accepted; ``failed`` holds ``(finding id, reason)`` pairs."""

    def __init__(self, message: str, failed: Sequence[tuple[str, str]] = ()) -> None:
        self.failed = list(failed)
        if self.failed:
            shown = "; ".join(f"{fid}: {why}" for fid, why in self.failed[:5])
            more = f" (+{len(self.failed) - 5} more)" if len(self.failed) > 5 else ""
            message = f"{message}: {shown}{more}"
        super().__init__(message)


class Sink(Protocol):
    """Accepts GuardDuty-shaped findings (plain camelCase dicts)."""

    def publish(self, findings: Sequence[Finding]) -> None:
        """Deliver all of ``findings`` or raise ``SinkError``."""
        ...

    def close(self) -> None:
        """Flush and release resources; the sink is unusable afterwards."""
        ...


@dataclass(frozen=True, slots=True)
class SinkOptions:
    """Settings of the sinks; only the EventBridge sink uses most of them.

    ``max_entry_bytes`` defaults to EventBridge's 256 KiB entry limit; AWS may have raised it
    (REFERENCE.md), so it is configurable rather than assumed.
    """

    source: str = "s3ad"
    detail_type: str = "GuardDuty Finding"
    max_entry_bytes: int = 256 * 1024
    max_attempts: int = 6
    backoff_base: float = 0.1
    backoff_max: float = 5.0


def finding_id(finding: Finding, position: int) -> str:
    """The finding's ``id`` for error messages, or its position when it has none."""
    fid = finding.get("id")
    return fid if isinstance(fid, str) and fid else f"#{position}"


class FanoutSink:
    """Publishes to several sinks; fails if any of them failed (after trying all)."""

    def __init__(self, sinks: Sequence[Sink]) -> None:
        self.sinks = list(sinks)

    def publish(self, findings: Sequence[Finding]) -> None:
        self._each(lambda sink: sink.publish(findings), "publish")

    def close(self) -> None:
        self._each(lambda sink: sink.close(), "close")

    def _each(self, action: Callable[[Sink], None], what: str) -> None:
        errors: list[SinkError] = []
        for sink in self.sinks:
            try:
                action(sink)
            except SinkError as exc:
                errors.append(exc)
        if errors:
            detail = " | ".join(str(e) for e in errors)
            failed = [pair for e in errors for pair in e.failed]
            raise SinkError(
                f"{len(errors)} of {len(self.sinks)} sinks failed to {what}: {detail}", failed
            )
