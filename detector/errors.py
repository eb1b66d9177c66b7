"""The project's own typed errors.

Every failure that bad input can cause is one of these; anything else escaping a stage is a bug.
"""

from __future__ import annotations


class S3adError(Exception):
    """Base class of every error s3ad raises on purpose."""


class ConfigError(S3adError):
    """The configuration (file, environment or flags) is invalid."""


class UnreadableInput(S3adError):
    """A log file or object could not be read; ``reason`` is a short machine-friendly kind.

    Kinds: ``truncated-gzip``, ``not-gzip``, ``too-large``, ``not-json``, ``no-records``,
    ``records-not-list``, ``not-found``, ``access-denied``, ``io-error``.
    """

    def __init__(self, name: str, reason: str, detail: str = "") -> None:
        self.name = name
        self.reason = reason
        self.detail = detail
        super().__init__(f"{name}: {reason}" + (f" ({detail})" if detail else ""))


class SkippedInput(S3adError):
    """A file that is deliberately not processed (digest, Insight, not a log file)."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason
        super().__init__(f"{name}: skipped ({reason})")


class PoisonMessage(S3adError):
    """An SQS message whose body has no shape s3ad knows; it is left for the DLQ."""


class ModelError(S3adError):
    """A model artifact is missing, tampered with or incompatible."""


class WorkerLost(S3adError):
    """A worker process died without returning its result (killed for memory, crashed)."""
