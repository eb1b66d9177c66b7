"""Which files the pipeline's state already holds, so a second delivery adds nothing.

A file is announced again when its message is redelivered after it was checkpointed but before
the delete landed (a crash between the two, a failed delete), when S3 sends a notification
twice (at least once, like SQS), or when a message naming two files is retried for one of
them. Event-level dedup catches most repeats, but only for a bounded span of event time;
a repeat that comes after its windows closed would be counted again as late events. So the
daemon remembers the files it ingested — by bucket, key and a digest of the bytes, so a key
overwritten with other content is read again — in the same checkpoint as the state they
changed.

Memory is bounded: entries older than ``keep_seconds`` (wall time) are dropped, and at most
``max_files`` are kept, the oldest going first.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from detector.aws.notifications import ObjectRef


def file_identity(ref: ObjectRef, data: bytes) -> str:
    """``s3://bucket/key#digest`` of the object as fetched.

    >>> file_identity(ObjectRef("trail", "AWSLogs/a.json.gz"), b"x")
    's3://trail/AWSLogs/a.json.gz#442a44457137672b3218c1007dc8f76a'
    """
    return f"{ref.uri}#{hashlib.blake2b(data, digest_size=16).hexdigest()}"


class SeenFiles:
    def __init__(self, keep_seconds: float = 86400.0, max_files: int = 100_000) -> None:
        self.keep_seconds = keep_seconds
        self.max_files = max_files
        self.by_identity: dict[str, float] = {}  # identity → wall time ingested (oldest first)

    def __contains__(self, identity: object) -> bool:
        return identity in self.by_identity

    def add(self, identity: str, now: float) -> None:
        self.by_identity.pop(identity, None)  # keep insertion order = age
        self.by_identity[identity] = now
        while len(self.by_identity) > self.max_files:
            del self.by_identity[next(iter(self.by_identity))]

    def prune(self, now: float) -> None:
        cutoff = now - self.keep_seconds
        stale = []
        for identity, t in self.by_identity.items():
            if t >= cutoff:
                break
            stale.append(identity)
        for identity in stale:
            del self.by_identity[identity]

    def state(self) -> dict[str, float]:
        return dict(self.by_identity)

    def restore(self, state: Mapping[str, Any]) -> None:
        self.by_identity = {str(k): float(t) for k, t in state.items()}
