"""Capped, streamed gunzip shared by local files and S3 objects.

A gzip bomb (a few KB expanding to many GB) must be an error, not an outage, so output is
bounded by ``cap`` bytes and decompression stops as soon as the cap is exceeded.
"""

from __future__ import annotations

import io
import zlib
from typing import BinaryIO

from detector.errors import UnreadableInput

GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20


def gunzip_stream(stream: BinaryIO, name: str, cap: int) -> bytes:
    """Decompress a gzip stream (possibly multi-member) into bytes of at most ``cap``.

    Raises ``UnreadableInput`` with reason ``not-gzip``, ``truncated-gzip`` or ``too-large``.
    """
    out: list[bytes] = []
    total = 0
    d = zlib.decompressobj(wbits=31)
    in_member = False
    head = stream.read(_CHUNK)
    if head[:2] != GZIP_MAGIC:
        raise UnreadableInput(name, "not-gzip", "missing gzip magic bytes")
    chunk = head
    while chunk:
        pending = chunk
        while pending:
            if not in_member:
                if pending[:2] != GZIP_MAGIC:
                    if pending.strip(b"\x00"):
                        raise UnreadableInput(name, "truncated-gzip", "garbage after gzip member")
                    break  # trailing zero padding is tolerated, as gzip(1) does
                in_member = True
            try:
                piece = d.decompress(pending, cap + 1 - total)
            except zlib.error as exc:
                raise UnreadableInput(name, "truncated-gzip", str(exc)) from exc
            total += len(piece)
            if total > cap:
                raise UnreadableInput(name, "too-large", f"more than {cap} bytes decompressed")
            out.append(piece)
            if d.eof:
                # Concatenated gzip members are valid gzip (RFC 1952 §2.2).
                pending = d.unused_data
                d = zlib.decompressobj(wbits=31)
                in_member = False
            else:
                pending = d.unconsumed_tail
        chunk = stream.read(_CHUNK)
    if in_member:
        raise UnreadableInput(name, "truncated-gzip", "stream ended before the gzip trailer")
    return b"".join(out)


def gunzip_bytes(data: bytes, name: str, cap: int) -> bytes:
    """Decompress an in-memory gzip blob with the same cap and errors as ``gunzip_stream``."""
    return gunzip_stream(io.BytesIO(data), name, cap)
