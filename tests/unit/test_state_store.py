"""Checkpoint stores: what a restart reads back is exactly what was written, or a clear error.

Story: the daemon deletes SQS messages only once a checkpoint covers them, so a checkpoint
must be atomic (a crash mid-write keeps the previous one), checksummed (a damaged file is
refused, not half-loaded) and say where it lives when it fails.
"""

from __future__ import annotations

import os
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from detector.errors import ConfigError
from detector.service.state import (
    BLOB,
    LocalStateStore,
    S3StateStore,
    StateStoreError,
    open_state_store,
)


def test_local_round_trip_and_cold_start(tmp_path: Path) -> None:
    store = LocalStateStore(tmp_path / "state" / "nested")
    assert store.load() is None  # no checkpoint yet: a cold start, not an error
    store.save(b"\x00first\n")
    store.save(b"second\x00\n with newlines\n")
    assert store.load() == b"second\x00\n with newlines\n"
    assert store.describe().endswith(f"nested/{BLOB}")
    assert [p.name for p in (tmp_path / "state" / "nested").iterdir()] == [BLOB]


def test_local_checkpoint_that_was_tampered_with_is_refused(tmp_path: Path) -> None:
    store = LocalStateStore(tmp_path)
    store.save(b"state")
    path = tmp_path / BLOB
    path.write_bytes(path.read_bytes()[:-1] + b"X")
    with pytest.raises(StateStoreError, match="corrupt"):
        store.load()


def test_local_truncated_checkpoint_is_refused(tmp_path: Path) -> None:
    store = LocalStateStore(tmp_path)
    store.save(b"a much longer state blob")
    path = tmp_path / BLOB
    path.write_bytes(path.read_bytes()[:30])
    with pytest.raises(StateStoreError, match="checksum"):
        store.load()


def test_failed_write_keeps_the_previous_checkpoint_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalStateStore(tmp_path)
    store.save(b"good")

    def no_rename(src: Any, dst: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", no_rename)
    with pytest.raises(StateStoreError, match="No space left"):
        store.save(b"never complete")
    monkeypatch.undo()
    assert store.load() == b"good"
    assert [p.name for p in tmp_path.iterdir()] == [BLOB]


def test_unwritable_location_is_a_state_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    store = LocalStateStore(blocker / "state")
    with pytest.raises(StateStoreError, match="cannot write checkpoint"):
        store.save(b"x")
    with pytest.raises(StateStoreError, match="cannot read checkpoint"):
        store.load()


class FakeS3:
    def __init__(self, error: Exception | None = None) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}
        self.error = error

    def put_object(self, Bucket: str, Key: str, Body: bytes) -> dict[str, Any]:
        if self.error:
            raise self.error
        self.objects[(Bucket, Key)] = Body
        return {}

    def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:
        if self.error:
            raise self.error
        if (Bucket, Key) not in self.objects:
            raise ClientError({"Error": {"Code": "NoSuchKey", "Message": "gone"}}, "GetObject")
        return {"Body": BytesIO(self.objects[(Bucket, Key)])}


@pytest.mark.parametrize(
    ("prefix", "key"),
    [("", BLOB), ("/", BLOB), ("s3ad/prod", f"s3ad/prod/{BLOB}"), ("s3ad/", f"s3ad/{BLOB}")],
)
def test_s3_round_trip_under_a_prefix(prefix: str, key: str) -> None:
    client = FakeS3()
    store = S3StateStore(client, "state-bucket", prefix)
    assert store.load() is None
    store.save(b"blob\nwith lines")
    assert list(client.objects) == [("state-bucket", key)]
    assert store.load() == b"blob\nwith lines"
    assert store.describe() == f"s3://state-bucket/{key}"


def test_s3_corrupt_checkpoint_is_refused() -> None:
    client = FakeS3()
    store = S3StateStore(client, "b", "p")
    store.save(b"state")
    client.objects[("b", f"p/{BLOB}")] += b"!"
    with pytest.raises(StateStoreError, match=r"s3://b/p/checkpoint\.bin is corrupt"):
        store.load()


@pytest.mark.parametrize(
    "error",
    [
        ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "GetObject"),
        EndpointConnectionError(endpoint_url="https://s3.example"),
    ],
)
def test_s3_errors_are_state_store_errors(error: Exception) -> None:
    store = S3StateStore(FakeS3(error), "b", "p")
    with pytest.raises(StateStoreError, match="cannot write checkpoint s3://b/p"):
        store.save(b"x")
    with pytest.raises(StateStoreError, match="cannot read checkpoint s3://b/p"):
        store.load()


def test_open_state_store_by_url(tmp_path: Path) -> None:
    made: list[str] = []

    def factory() -> FakeS3:
        made.append("s3")
        return FakeS3()

    assert open_state_store("", factory) is None
    local = open_state_store(str(tmp_path), factory)
    assert isinstance(local, LocalStateStore) and made == []  # no S3 client for a directory
    remote = open_state_store("s3://bucket/some/prefix", factory)
    assert isinstance(remote, S3StateStore) and made == ["s3"]
    assert remote.describe() == f"s3://bucket/some/prefix/{BLOB}"
    with pytest.raises(ConfigError, match="no bucket"):
        open_state_store("s3:///prefix", factory)
    with pytest.raises(ConfigError, match="use a directory or s3://"):
        open_state_store("gs://bucket/prefix", factory)
