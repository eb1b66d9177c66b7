"""Capped, streamed gunzip shared by local files and S3 objects.

A gzip bomb (a few KB expanding to many GB) must be an error, not an outage, so output is
bounded by ``cap`` bytes and decompression stops as soon as the cap is exceeded. Holding the
output up to the cap before refusing would still let one 1 MB object cost a GiB of memory (per
concurrent download), so output that grows far faster than CloudTrail's JSON ever compresses is
only counted, not kept, and inflated again once it is known to fit.

Inflation goes through ISA-L (``isal``): the same deflate, faster than zlib on CloudTrail files
(357k records of the bench trail, in memory: 2.8 µs a record with zlib, 1.6 with ISA-L in one
call, and 1.6 through this streamed, capped path since a file comes out in one piece — 2.1–2.3
when pieces were 1 MB and joined; issue 6).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import BinaryIO, cast

from isal import isal_zlib

from detector.errors import UnreadableInput

# ISA-L raises only its own error class (not zlib's); its stubs type it as an instance.
_INFLATE_ERROR = cast(type[Exception], isal_zlib.error)

GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20  # compressed bytes a read
# Output bytes an inflate call may return: a whole CloudTrail file (a few MB of JSON) comes out
# in one piece, which ``gunzip_stream`` then returns without joining (copying) pieces.
_PIECE = 8 << 20
# CloudTrail's JSON gzips about 10-20:1 (random eventIDs and request ids bound it); deflate
# itself tops out near 1032:1. Past _KEEP_FREELY bytes of output, a ratio above SUSPECT_RATIO
# switches to counting; a genuine file that compresses that well is inflated twice, nothing more.
SUSPECT_RATIO = 100
_KEEP_FREELY = 8 << 20


class _Inflater:
    """Gzip members (concatenated, zero padding tolerated) → output pieces of ≤ ``_PIECE`` bytes.

    ``consumed`` counts the compressed bytes used so far, for the ratio check.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.consumed = 0

    def pieces(self, chunks: Iterator[bytes]) -> Iterator[bytes]:
        name = self.name
        d = isal_zlib.decompressobj(wbits=31)
        in_member = False
        carry = b""
        for chunk in chunks:
            pending = carry + chunk if carry else chunk
            carry = b""
            more = False
            # ``more``: the last call filled its output; output may wait with no input left.
            while pending or more:
                if not in_member:
                    if len(pending) < 2 and pending != b"\x00":
                        carry = pending  # a member's magic bytes split across two reads
                        break
                    if pending[:2] != GZIP_MAGIC:
                        if pending.strip(b"\x00"):
                            raise UnreadableInput(
                                name, "truncated-gzip", "garbage after gzip member"
                            )
                        self.consumed += len(pending)
                        break  # trailing zero padding is tolerated, as gzip(1) does
                    in_member = True
                try:
                    piece = d.decompress(pending, _PIECE)
                except _INFLATE_ERROR as exc:
                    raise UnreadableInput(name, "truncated-gzip", str(exc)) from exc
                if d.eof:
                    # Concatenated gzip members are valid gzip (RFC 1952 §2.2).
                    rest = d.unused_data
                    d = isal_zlib.decompressobj(wbits=31)
                    in_member = more = False
                else:
                    rest = d.unconsumed_tail
                    more = len(piece) == _PIECE
                self.consumed += len(pending) - len(rest)
                pending = rest
                if piece:
                    yield piece
        if in_member or carry:
            raise UnreadableInput(name, "truncated-gzip", "stream ended before the gzip trailer")


def gunzip_stream(stream: BinaryIO, name: str, cap: int) -> bytes:
    """Decompress a gzip stream (possibly multi-member) into bytes of at most ``cap``.

    Memory stays near the output's size for ordinary files and a few MB for a bomb, whatever
    ``cap`` is. Raises ``UnreadableInput`` with reason ``not-gzip``, ``truncated-gzip`` or
    ``too-large``.
    """
    head = stream.read(_CHUNK)
    while 0 < len(head) < 2:  # a stream may return short reads
        more = stream.read(_CHUNK)
        if not more:
            break
        head += more
    if head[:2] != GZIP_MAGIC:
        raise UnreadableInput(name, "not-gzip", "missing gzip magic bytes")
    # The compressed input, kept only while a switch to counting is still possible (it is
    # needed to inflate again); past cap / SUSPECT_RATIO compressed bytes no switch can happen.
    saved: list[bytes] | None = []

    def chunks() -> Iterator[bytes]:
        chunk = head
        while chunk:
            if saved is not None:
                saved.append(chunk)
            yield chunk
            chunk = stream.read(_CHUNK)

    inflater = _Inflater(name)
    out: list[bytes] | None = []
    total = 0
    for piece in inflater.pieces(chunks()):
        total += len(piece)
        if total > cap:
            raise UnreadableInput(name, "too-large", f"more than {cap} bytes decompressed")
        if out is not None:
            out.append(piece)
            if total > _KEEP_FREELY and total > SUSPECT_RATIO * inflater.consumed:
                out = None  # count the rest; inflate again from ``saved`` only if it fits
            elif saved is not None and inflater.consumed * SUSPECT_RATIO > cap:
                saved = None
    if out is None:
        assert saved is not None
        out = list(_Inflater(name).pieces(iter(saved)))
    return b"".join(out)


def gunzip_bytes(data: bytes, name: str, cap: int) -> bytes:
    """Decompress an in-memory gzip blob with the same cap and errors as ``gunzip_stream``."""
    return gunzip_stream(io.BytesIO(data), name, cap)
