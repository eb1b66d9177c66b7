"""Sinks that need no AWS: ``stdout://``, ``jsonl://PATH`` and ``null://``.

Every line is one finding as JSON with sorted keys, so output is byte-for-byte reproducible
(golden tests, diffs between replays).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import sys
from collections.abc import Sequence
from typing import BinaryIO

import orjson

from detector.errors import ConfigError
from detector.sinks.base import Finding, SinkError, finding_id


def encode_lines(findings: Sequence[Finding]) -> bytes:
    """Findings as JSON lines with sorted keys; ``SinkError`` if one is not JSON-able."""
    lines: list[bytes] = []
    for position, finding in enumerate(findings):
        try:
            lines.append(orjson.dumps(finding, option=orjson.OPT_SORT_KEYS))
        except orjson.JSONEncodeError as exc:
            raise SinkError(
                "finding is not JSON-serialisable", [(finding_id(finding, position), str(exc))]
            ) from exc
    return b"".join(line + b"\n" for line in lines)


class StdoutSink:
    """One JSON line per finding on standard output (the ``replay`` default)."""

    def __init__(self, stream: BinaryIO | None = None) -> None:
        self._stream = stream

    def publish(self, findings: Sequence[Finding]) -> None:
        data = encode_lines(findings)
        stream = self._stream if self._stream is not None else sys.stdout.buffer
        try:
            stream.write(data)
            stream.flush()
        except (OSError, ValueError) as exc:  # broken pipe (`s3ad replay | head`), closed stream
            raise SinkError(f"stdout: cannot write {len(findings)} findings: {exc}") from exc

    def close(self) -> None:
        stream = self._stream if self._stream is not None else sys.stdout.buffer
        try:
            stream.flush()
        except (OSError, ValueError) as exc:
            raise SinkError(f"stdout: cannot flush: {exc}") from exc


class JsonlSink:
    """Appends JSON lines to a file, durably: each ``publish`` is written and fsynced.

    A failed write (disk full, I/O error) raises ``SinkError`` and cuts the file back to where
    the batch started, so a half-written line never glues itself to the next batch.
    """

    def __init__(self, path: str) -> None:
        if not path:
            raise ConfigError(
                "jsonl sink needs a path: jsonl:///abs/file.jsonl or jsonl://rel.jsonl"
            )
        self.path = path
        try:
            self._fd: int | None = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise ConfigError(f"jsonl sink cannot open {path!r}: {exc.strerror}") from exc

    def publish(self, findings: Sequence[Finding]) -> None:
        if self._fd is None:
            raise SinkError(f"jsonl sink {self.path!r} is closed")
        data = encode_lines(findings)
        if not data:
            return
        start = _file_end(self._fd)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]
            _fsync(self._fd)
        except OSError as exc:
            if start is not None:
                _truncate(self._fd, start)
            raise SinkError(
                f"jsonl sink {self.path!r}: cannot write {len(findings)} findings: "
                f"{exc.strerror or exc}"
            ) from exc

    def close(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            _fsync(fd)
        except OSError as exc:
            raise SinkError(f"jsonl sink {self.path!r}: cannot flush: {exc.strerror}") from exc
        finally:
            os.close(fd)


def _fsync(fd: int) -> None:
    try:
        os.fsync(fd)
    except OSError as exc:
        # Pipes, ttys and character devices (jsonl:///dev/stdout) cannot be fsynced.
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EROFS):
            raise


def _file_end(fd: int) -> int | None:
    """Current size of a regular file, or None for devices and pipes (nothing to undo)."""
    try:
        st = os.fstat(fd)
    except OSError:
        return None
    return st.st_size if stat.S_ISREG(st.st_mode) else None


def _truncate(fd: int, size: int) -> None:
    # Best effort: the write error is what the caller needs to see.
    with contextlib.suppress(OSError):
        os.ftruncate(fd, size)


class NullSink:
    """Accepts and counts findings (dry runs, benchmarks)."""

    def __init__(self) -> None:
        self.count = 0
        self.batches = 0

    def publish(self, findings: Sequence[Finding]) -> None:
        self.count += len(findings)
        self.batches += 1

    def close(self) -> None:
        return None
