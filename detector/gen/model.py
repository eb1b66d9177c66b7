"""Shared types and seeded helpers of the trail generator.

Everything random is drawn from a ``random.Random`` seeded by a hash of *what* is being generated
(seed, principal, hour, account, region), never by *when* or *in which process*: that is what
makes the output byte-identical for any worker count.
"""

from __future__ import annotations

import base64
import hashlib
import math
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

HOUR = 3600
DAY = 86400
REGIONS = ("us-east-1", "eu-west-1")
PRIMARY_REGION = REGIONS[0]
BASE_ACCOUNTS = ("111122223333", "444455556666", "777788889999")
S3 = "s3.amazonaws.com"
XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"
_B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


@dataclass(frozen=True, slots=True)
class GenConfig:
    """The command line, resolved. Only ``out``, ``labels`` and ``workers`` do not shape data."""

    out: str
    days: int = 1
    start: str = "2026-11-01"
    principals: int = 60
    accounts: int = 2
    org: str | None = "o-abc123def4"
    seed: int = 7
    attacks: bool = True
    attack_after_day: float | None = None
    records: int | None = None
    workers: int = 1
    labels: str | None = None

    @property
    def start_epoch(self) -> int:
        day = datetime.strptime(self.start, "%Y-%m-%d").replace(tzinfo=UTC)
        return int(day.timestamp())

    @property
    def attack_after(self) -> float:
        """Days after ``start`` before which no scenario is injected."""
        if self.attack_after_day is not None:
            return float(self.attack_after_day)
        return 3.0 if self.days >= 4 else self.days / 2


class Bucket(NamedTuple):
    name: str
    account: str
    region: str
    purpose: str
    public: bool
    versioned: bool

    @property
    def arn(self) -> str:
        return f"arn:aws:s3:::{self.name}"

    @property
    def host(self) -> str:
        return f"{self.name}.s3.{self.region}.amazonaws.com"


@dataclass(frozen=True, slots=True, eq=False)
class Principal:
    """One caller with stable habits; ``key`` is the label/principal key (see package doc)."""

    index: int
    key: str
    kind: str
    itype: str  # userIdentity.type
    account: str  # the caller's own account (partner account for AWSAccount callers)
    name: str
    buckets: tuple[Bucket, ...]
    prefixes: tuple[str, ...]
    ips: tuple[str, ...]
    uas: tuple[str, ...]
    sessions: tuple[str, ...]
    tz: int
    rate: float  # mean events per hour over a weekday, before scaling
    schedule: str
    minute: int  # burst start minute for bursty schedules
    burst: int  # burst length in minutes
    run_hours: tuple[int, ...]  # local hours of nightly runs
    mix: tuple[str, ...]
    cum: tuple[float, ...]  # cumulative weights of ``mix``
    size_mu: float  # log of the median object size
    denied: float  # AccessDenied rate
    vpce: str | None = None
    presign: bool = False
    console: bool = False
    ident: dict[str, str] = field(default_factory=dict)  # ids: pid, arn, akia, invoked_by...


class EventSpec(NamedTuple):
    """One API call before it becomes a CloudTrail record."""

    t: int  # eventTime, epoch seconds
    ready: int  # when CloudTrail has it ready for delivery
    account: str  # recipientAccountId: whose trail records it
    region: str
    pkey: str
    identity: dict[str, Any]
    name: str
    bucket: Bucket | None
    key: str | None
    bytes_in: int
    bytes_out: int
    error: str | None
    ip: str
    ua: str
    rnd: int  # 128 random bits: ids, x-amz-id-2 and small cosmetic choices
    params: dict[str, Any] | None = None
    vpce: str | None = None
    auth: str = "AuthHeader"
    source: str = S3
    sse_c: bool = False


def hash_int(*parts: object) -> int:
    """A stable 64-bit hash of ``parts`` (``hash()`` is salted per process)."""
    text = "|".join(map(str, parts)).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big")


def seeded(*parts: object) -> random.Random:
    return random.Random(hash_int(*parts))


def alnum(n: int, *parts: object) -> str:
    """``n`` characters of [A-Za-z0-9] derived from ``parts``.

    >>> alnum(16, "x") == alnum(16, "x") and len(alnum(16, "x"))
    16
    """
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=32).digest()
    return "".join(_ALNUM[b % len(_ALNUM)] for b in digest[:n])


def key_id(prefix: str, *parts: object) -> str:
    """An AWS-looking id: ``AKIA``/``ASIA``/``AIDA``/``AROA`` + 16 base32 characters."""
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=16).digest()
    return prefix + "".join(_B32[b % 32] for b in digest)


def hexid(n: int, *parts: object) -> str:
    return hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=16).hexdigest()[:n]


def uuid_from(bits: int) -> str:
    """A version-4-shaped GUID from 128 random bits."""
    h = f"{bits & ((1 << 128) - 1):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def amz_id2(digest: bytes) -> str:
    return base64.b64encode(digest[8:64]).decode()


def iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def poisson(rng: random.Random, lam: float) -> int:
    """Poisson draw; normal approximation above 40 (exactness does not matter here)."""
    if lam <= 0:
        return 0
    if lam > 40:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def delivery_delay(rng: random.Random) -> int:
    """Seconds from the call until CloudTrail has the record ready for a file.

    Most records reach a file about five minutes after the call; a few per cent land 10-14
    minutes late (500-640 s here, plus the wait for the next 5-minute delivery). The file name
    is the delivery time, so readers see late, unsorted records.
    """
    u = rng.random()
    if u < 0.93:
        return 60 + int(u * 150)
    if u < 0.97:
        return 200 + int((u - 0.93) * 5500)
    return 500 + int((u - 0.97) * 4600)


def pick(rng: random.Random, names: tuple[str, ...], cum: tuple[float, ...]) -> str:
    x = rng.random() * cum[-1]
    lo, hi = 0, len(cum) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if cum[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return names[lo]


def cumulative(weights: dict[str, float]) -> tuple[tuple[str, ...], tuple[float, ...]]:
    total, cum = 0.0, []
    for w in weights.values():
        total += w
        cum.append(total)
    return tuple(weights), tuple(cum)
