"""File layout and delivery: CloudTrail log files, digests, and the per-chunk writer.

A chunk is (account, region, delivery hour). It regenerates the calls of that hour and of the
previous one (late records cross the hour), keeps those whose delivery slot falls in its hour,
and writes one gzip file per ~5-minute slot, streaming file by file to bound memory.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import time
from typing import NamedTuple

import orjson

from detector.gen.model import HOUR, EventSpec, GenConfig, alnum, hash_int, hexid, iso
from detector.gen.records import build_record
from detector.gen.world import World, build_world

SLOT = 300
MAX_RECORDS_PER_FILE = 5000
GZIP_LEVEL = 6


class LogFile(NamedTuple):
    key: str
    sha256: str
    oldest: int
    newest: int


class ChunkResult(NamedTuple):
    files: int
    records: int
    bytes: int
    digests: int
    principals: frozenset[str]


def _stamp(t: int, fmt: str) -> str:
    return time.strftime(fmt, time.gmtime(t))


def log_prefix(org: str | None, account: str, kind: str, region: str, t: int) -> str:
    org_part = f"{org}/" if org else ""
    return f"AWSLogs/{org_part}{account}/{kind}/{region}/{_stamp(t, '%Y/%m/%d')}/"


def log_key(org: str | None, account: str, region: str, t: int, suffix: str) -> str:
    """``AWSLogs/[o-org/]ACCT/CloudTrail/REGION/YYYY/MM/DD/ACCT_CloudTrail_REGION_YYYYMMDDTHHmmZ_X.json.gz``."""
    name = f"{account}_CloudTrail_{region}_{_stamp(t, '%Y%m%dT%H%MZ')}_{suffix}.json.gz"
    return log_prefix(org, account, "CloudTrail", region, t) + name


def digest_key(org: str | None, account: str, region: str, t: int) -> str:
    name = f"{account}_CloudTrail-Digest_{region}_org-trail_{region}_{_stamp(t, '%Y%m%dT%H%M%SZ')}.json.gz"
    return log_prefix(org, account, "CloudTrail-Digest", region, t) + name


class Slots:
    """Delivery times of one account/region: every 5 minutes, a minute of jitter now and then."""

    def __init__(self, start: int, account: str, region: str) -> None:
        self.account, self.region = account, region
        self.base = start + 60 * (hash_int(account, region, "slot") % 5)
        self.memo: dict[int, int] = {}

    def time(self, k: int) -> int:
        t = self.memo.get(k)
        if t is None:
            jitter = 60 if hash_int(self.account, self.region, k) % 4 == 0 else 0
            t = self.memo[k] = self.base + k * SLOT + jitter
        return t

    def slot_for(self, ready: int) -> int:
        k = (ready - self.base) // SLOT
        t = self.time(k)
        return t if t >= ready else self.time(k + 1)


def _write(path: str, data: bytes) -> int:
    folder = os.path.dirname(path)
    if not os.path.isdir(folder):
        os.makedirs(folder, exist_ok=True)
    blob = gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0)
    with open(path, "wb") as f:
        f.write(blob)
    return len(blob)


def run_block(cfg: GenConfig, block: tuple[str, str, int, int]) -> ChunkResult:
    """Write the log files (and hourly digests) one account/region delivers in hours [h0, h1).

    Calls are generated hour by hour; the ones delivered after the hour (late records) are
    carried into the next. The block's first hour regenerates the hour before it, which is
    identical wherever it runs, so block boundaries (and worker counts) do not change the output.
    """
    world = build_world(cfg)
    account, region, h0, h1 = block
    slots = Slots(world.start, account, region)
    cache: dict[tuple[int, int, int], dict[str, object]] = {}
    carry: list[EventSpec] = []
    if h0 > 0:
        lo = world.start + h0 * HOUR
        carry = [
            s
            for s in world.hour_specs(account, region, h0 - 1, cache)
            if slots.slot_for(s.ready) >= lo
        ]
    total = ChunkResult(0, 0, 0, 0, frozenset())
    for hour in range(h0, h1):
        lo, hi = world.start + hour * HOUR, world.start + (hour + 1) * HOUR
        specs = carry + (
            world.hour_specs(account, region, hour, cache) if hour < world.hours else []
        )
        by_slot: dict[int, list[EventSpec]] = {}
        carry = []
        for s in specs:
            slot = slots.slot_for(s.ready)
            if slot < hi:
                by_slot.setdefault(slot, []).append(s)
            else:
                carry.append(s)
        r = _write_hour(cfg, world, account, region, lo, by_slot)
        total = ChunkResult(
            total.files + r.files,
            total.records + r.records,
            total.bytes + r.bytes,
            total.digests + 1,
            total.principals | r.principals,
        )
        if len(cache) > 50_000:
            cache.clear()
    return total


def _write_hour(
    cfg: GenConfig,
    world: World,
    account: str,
    region: str,
    lo: int,
    by_slot: dict[int, list[EventSpec]],
) -> ChunkResult:
    files: list[LogFile] = []
    records = size = 0
    keys: set[str] = set()
    for slot in sorted(by_slot):
        group = by_slot.pop(slot)
        # Roughly time-ordered, not strictly: late records sit among current ones.
        group.sort(key=lambda s: (s.t + (s.rnd >> 24) % 40, s.rnd))
        for part in range(0, len(group), MAX_RECORDS_PER_FILE):
            batch = group[part : part + MAX_RECORDS_PER_FILE]
            data = orjson.dumps({"Records": [build_record(s) for s in batch]})
            key = log_key(
                cfg.org, account, region, slot, alnum(16, cfg.seed, account, region, slot, part)
            )
            size += _write(os.path.join(cfg.out, key), data)
            files.append(
                LogFile(
                    key,
                    hashlib.sha256(data).hexdigest(),
                    min(s.t for s in batch),
                    max(s.t for s in batch),
                )
            )
            records += len(batch)
            keys.update(s.pkey for s in batch)
    _write_digest(cfg, world, account, region, lo, files)
    return ChunkResult(len(files), records, size, 1, frozenset(keys))


def digest_time(account: str, region: str, lo: int) -> int:
    """Digests for the hour starting at ``lo`` arrive a few minutes after it ends."""
    return lo + HOUR + 60 * (hash_int(account, region, lo) % 12) + hash_int(lo, "s") % 60


def _write_digest(
    cfg: GenConfig, world: World, account: str, region: str, lo: int, files: list[LogFile]
) -> None:
    """The hourly digest: no ``Records``, a ``logFiles`` list readers can use for gap checks."""
    end = lo + HOUR
    t = digest_time(account, region, lo)
    prev = (
        digest_key(cfg.org, account, region, digest_time(account, region, lo - HOUR))
        if lo > world.start
        else None
    )
    bucket = world.trail_bucket.name
    doc = {
        "awsAccountId": account,
        "digestStartTime": iso(lo),
        "digestEndTime": iso(end),
        "digestS3Bucket": bucket,
        "digestS3Object": digest_key(cfg.org, account, region, t),
        "digestPublicKeyFingerprint": hexid(32, account, region, "fingerprint"),
        "digestSignatureAlgorithm": "SHA256withRSA",
        "newestEventTime": iso(max(f.newest for f in files)) if files else None,
        "oldestEventTime": iso(min(f.oldest for f in files)) if files else None,
        "previousDigestS3Bucket": bucket if prev else None,
        "previousDigestS3Object": prev,
        "previousDigestHashValue": hashlib.sha256(prev.encode()).hexdigest() if prev else None,
        "previousDigestHashAlgorithm": "SHA-256" if prev else None,
        "previousDigestSignature": "".join(hexid(32, prev, i) for i in range(16)) if prev else None,
        "logFiles": [
            {
                "s3Bucket": bucket,
                "s3Object": f.key,
                "hashValue": f.sha256,
                "hashAlgorithm": "SHA-256",
                "newestEventTime": iso(f.newest),
                "oldestEventTime": iso(f.oldest),
            }
            for f in files
        ],
    }
    _write(os.path.join(cfg.out, digest_key(cfg.org, account, region, t)), orjson.dumps(doc))
