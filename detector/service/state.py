"""Checkpoint stores: a local directory or an ``s3://bucket/prefix``.

A checkpoint is one opaque blob (the pipeline snapshot plus the publication ledger). Writes are
atomic — a temp file renamed into place locally, a single PutObject on S3 — so a crash during
a write leaves the previous checkpoint intact. Restarting with no checkpoint starts cold.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any, Protocol

from detector.errors import ConfigError, S3adError

BLOB = "checkpoint.bin"


class StateStoreError(S3adError):
    """The checkpoint store could not be read or written."""


class StateStore(Protocol):
    def load(self) -> bytes | None: ...

    def save(self, blob: bytes) -> None: ...

    def describe(self) -> str: ...


def _framed(blob: bytes) -> bytes:
    return hashlib.sha256(blob).hexdigest().encode() + b"\n" + blob


def _unframe(data: bytes, where: str) -> bytes:
    digest, _, blob = data.partition(b"\n")
    if hashlib.sha256(blob).hexdigest().encode() != digest:
        raise StateStoreError(f"checkpoint at {where} is corrupt (checksum mismatch)")
    return blob


class LocalStateStore:
    def __init__(self, directory: str | Path) -> None:
        self.dir = Path(directory)

    def describe(self) -> str:
        return str(self.dir / BLOB)

    def load(self) -> bytes | None:
        path = self.dir / BLOB
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StateStoreError(f"cannot read checkpoint {path}: {exc.strerror}") from exc
        return _unframe(data, str(path))

    def save(self, blob: bytes) -> None:
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.dir, prefix=".checkpoint-")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(_framed(blob))
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, self.dir / BLOB)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise StateStoreError(f"cannot write checkpoint in {self.dir}: {exc.strerror}") from exc


class S3StateStore:
    def __init__(self, client: Any, bucket: str, prefix: str) -> None:
        self.client = client
        self.bucket = bucket
        self.key = f"{prefix.rstrip('/')}/{BLOB}" if prefix.strip("/") else BLOB

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def load(self) -> bytes | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self.key)["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise StateStoreError(f"cannot read checkpoint {self.describe()}: {exc}") from exc
        except BotoCoreError as exc:
            raise StateStoreError(f"cannot read checkpoint {self.describe()}: {exc}") from exc
        return _unframe(body, self.describe())

    def save(self, blob: bytes) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.put_object(Bucket=self.bucket, Key=self.key, Body=_framed(blob))
        except (ClientError, BotoCoreError) as exc:
            raise StateStoreError(f"cannot write checkpoint {self.describe()}: {exc}") from exc


def open_state_store(url: str, s3_client_factory: Any) -> StateStore | None:
    """``""`` → no checkpoints; ``s3://b/prefix`` → S3; anything else → a local directory."""
    if not url:
        return None
    if url.startswith("s3://"):
        bucket, _, prefix = url[5:].partition("/")
        if not bucket:
            raise ConfigError(f"state location {url!r} has no bucket")
        return S3StateStore(s3_client_factory(), bucket, prefix)
    if "://" in url:
        raise ConfigError(f"state location {url!r}: use a directory or s3://bucket/prefix")
    return LocalStateStore(url)
