"""What a rule or the anomaly stage found in one window, before it becomes a finding."""

from __future__ import annotations

from dataclasses import dataclass, field

from detector.events import S3Event


@dataclass(frozen=True, slots=True)
class Hit:
    """One reason to raise a finding of ``type`` about ``resource`` (a bucket, an IP or "")."""

    type: str
    rule: str  # "tor-exit", "mass-delete", "anomaly"…
    strength: float  # [0, 1]: where the severity sits inside the type's band
    resource: str
    reason: str  # a clause a person reads: "deleted 812 objects (usually 0)"
    events: tuple[S3Event, ...] = field(default=())  # the calls behind it, when known
