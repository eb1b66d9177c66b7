"""Baseline activity: how many calls a principal makes in an hour, and what they are.

One ``random.Random`` per (principal, hour, account, region) drives everything about that
slice, so any process can regenerate exactly the same calls for it.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from typing import Any, NamedTuple

from detector.gen import agents
from detector.gen.habits import DEPLOYS, FLAT, HOURLY, MIXED, NIGHTLY, STEADY, WORKHOURS
from detector.gen.model import (
    DAY,
    HOUR,
    PRIMARY_REGION,
    Bucket,
    EventSpec,
    Principal,
    delivery_delay,
    hash_int,
    key_id,
    pick,
    poisson,
    seeded,
)
from detector.gen.user_identity import identity_for

IdentityCache = dict[tuple[int, int, int], dict[str, Any]]
_READS = frozenset({"GetObject", "HeadObject", "GetObjectTagging", "GetObjectAcl", "CopyObject"})
_WRITES = frozenset({"PutObject", "UploadPart", "PutObjectTagging"})
_LISTS = frozenset({"ListObjects", "ListObjectVersions"})
_NO_BUCKET = frozenset({"ListBuckets"})


class Override(NamedTuple):
    """A benign episode that changes a principal's baseline for a while."""

    start: int
    end: int
    ip: str | None = None
    factor: float = 1.0


def _deploy_hours(p: Principal, day: int) -> tuple[int, ...]:
    h = hash_int(p.key, "deploys", day)
    return tuple(9 + (h >> (8 * i)) % 9 for i in range(2 + h % 3))


def hour_factor(p: Principal, t_hour: int) -> float:
    """Multiplier of ``p.rate`` for the hour starting at ``t_hour``; about 1 on a weekday mean."""
    local = t_hour + p.tz * HOUR
    lh = (local // HOUR) % 24
    weekend = ((local // DAY) + 3) % 7 >= 5  # 1970-01-01 was a Thursday
    s = p.schedule
    if s == FLAT:
        return 1.0
    if s == STEADY:
        return 1 + 0.5 * math.cos(2 * math.pi * (lh - 14) / 24)
    if s == HOURLY:
        return 1.0
    if s == NIGHTLY:
        return 24 / len(p.run_hours) if lh in p.run_hours else 0.0
    if s in (WORKHOURS, MIXED):
        if weekend:
            f = 0.08 if 9 <= lh < 20 else 0.0
        elif 8 <= lh < 18:
            f = 2.2 * (0.6 if lh == 12 else 1.0)
        else:
            f = 0.15 if 18 <= lh < 22 else 0.0
        if s == MIXED:
            f = 0.7 * f + (7.2 if lh == 3 else 0.0)
        return f
    if s == DEPLOYS:
        if weekend:
            return 0.02
        return 7.0 if lh in _deploy_hours(p, local // DAY) else 0.05
    return 1.0


def expected_calls(principals: Iterable[Principal], start: int, hours: int) -> float:
    return sum(p.rate * hour_factor(p, start + h * HOUR) for p in principals for h in range(hours))


def _offset(rng: random.Random, p: Principal, t_hour: int) -> int:
    if p.schedule == HOURLY or (p.schedule == DEPLOYS and rng.random() < 0.9):
        minute = p.minute if p.schedule == HOURLY else hash_int(p.key, t_hour) % 45
        return min(3599, minute * 60 + int(rng.random() * p.burst * 60))
    return int(rng.random() * HOUR)


def _object_key(rng: random.Random, p: Principal, prefix: str, name: str, t: int) -> str:
    ext = p.ident["ext"]
    if name in _WRITES or name in ("CreateMultipartUpload", "CompleteMultipartUpload"):
        day = t // DAY
        return f"{prefix}{day - 20000:05d}/{rng.getrandbits(40):010x}{ext}"
    if p.kind == "cloudtrail":
        return f"{prefix}{p.account}/CloudTrail/{rng.getrandbits(32):08x}.json.gz"
    return f"{prefix}{int(rng.random() ** 2 * 20000):06d}{ext}"


def _target(
    rng: random.Random, p: Principal, prefix: str, name: str, t: int
) -> tuple[str | None, dict[str, Any] | None]:
    """(object key, extra requestParameters) of a call: lists take a prefix, objects a key."""
    if name in _LISTS:
        return None, {"prefix": prefix}
    if name in _NO_BUCKET or name == "DeleteObjects" or name.startswith(("GetBucket", "PutBucket")):
        return None, None
    return _object_key(rng, p, prefix, name, t), None


def _sizes(rng: random.Random, p: Principal, name: str) -> tuple[int, int]:
    if name == "GetObject":
        return 0, int(math.exp(rng.gauss(p.size_mu, 1.0)))
    if name in ("PutObject", "PutObjectTagging"):
        return int(math.exp(rng.gauss(p.size_mu, 1.0))), 0
    if name == "UploadPart":
        return (8 + int(rng.random() * 8)) << 20, 0
    if name in _LISTS:
        return 0, 600 + int(rng.random() * 40000)
    return 0, int(rng.random() * 2400) if name.startswith("Get") else 0


def _error(rng: random.Random, p: Principal, name: str) -> str | None:
    r = rng.random()
    if r < p.denied:
        return "AccessDenied"
    if name == "GetObject" and r < p.denied + 0.008:
        return "NoSuchKey"
    return None


def principal_hour(
    p: Principal,
    buckets: tuple[tuple[Bucket, str], ...],
    share: float,
    where: tuple[str, str, int, int],
    scale: float,
    cache: IdentityCache,
    overrides: tuple[Override, ...] = (),
) -> list[EventSpec]:
    """The calls of ``p`` to ``buckets`` (with key prefixes; one account/region) in hour ``where[3]``."""
    acct, region, seed, t_hour = where
    lam = p.rate * hour_factor(p, t_hour) * share * scale
    for o in overrides:
        if o.start <= t_hour < o.end:
            lam *= o.factor
    if lam <= 0:
        return []
    rng = seeded(seed, p.index, t_hour, acct, region)
    out: list[EventSpec] = []
    for _ in range(poisson(rng, lam)):
        t = t_hour + _offset(rng, p, t_hour)
        name = pick(rng, p.mix, p.cum)
        bucket, prefix = buckets[int(rng.random() * len(buckets))]
        ix = 0 if (p.console or rng.random() < 0.7) else int(rng.random() * len(p.ips))
        ip = p.ips[ix] if p.ips else agents.home_ip(rng)
        ua = p.uas[int(rng.random() * len(p.uas))] if p.uas else agents.browser_ua(rng)
        for o in overrides:
            if o.ip and o.start <= t < o.end:
                ip = o.ip
        auth = "AuthHeader"
        if p.presign and name == "GetObject" and rng.random() < 0.1:
            auth, ip, ua = "QueryString", agents.home_ip(rng), agents.browser_ua(rng)
        key, params = _target(rng, p, prefix, name, t)
        cid = (p.index, t // (6 * HOUR), ix)
        ident = cache.get(cid)
        if ident is None:
            ident = cache[cid] = identity_for(p, t, ix)
        bytes_in, bytes_out = _sizes(rng, p, name)
        error = _error(rng, p, name)
        if error:
            bytes_in = bytes_out = 0
        out.append(
            EventSpec(
                t, t + delivery_delay(rng), acct, region, p.key, ident, name,
                None if name in _NO_BUCKET else bucket, key, bytes_in, bytes_out, error,
                ip, ua, rng.getrandbits(128), params, p.vpce, auth if p.kind != "anonymous" else "",
            )
        )  # fmt: skip
    return out


_OTHER_APIS = (
    ("sts.amazonaws.com", "AssumeRole"),
    ("ec2.amazonaws.com", "DescribeInstances"),
    ("kms.amazonaws.com", "Decrypt"),
    ("sts.amazonaws.com", "GetCallerIdentity"),
)


def background_hour(
    members: tuple[Principal, ...],
    where: tuple[str, str, int, int],
    scale: float,
    cache: IdentityCache,
) -> list[EventSpec]:
    """A trickle of non-S3 management events (STS, EC2, KMS) that readers must pass over."""
    acct, region, seed, t_hour = where
    if not members:
        return []
    rng = seeded(seed, "background", acct, region, t_hour)
    roles = [p.ident["arn"] for p in members if p.itype == "AssumedRole"]
    lam = 0.2 * len(members) * scale * (1.0 if region == PRIMARY_REGION else 0.5)
    out: list[EventSpec] = []
    for _ in range(poisson(rng, lam)):
        p = members[rng.randrange(len(members))]
        source, name = _OTHER_APIS[rng.randrange(len(_OTHER_APIS))]
        t = t_hour + rng.randrange(HOUR)
        ip = p.ips[0] if p.ips else agents.ec2_ip(rng, region)
        ua = p.uas[0] if p.uas else agents.boto3_ua(rng)
        pkey, role, session = p.key, p.ident.get("arn", ""), p.sessions[0]
        if name == "AssumeRole" and p.kind == "app":  # the EC2 service fetches instance credentials
            ident: dict[str, Any] = {"type": "AWSService", "invokedBy": "ec2.amazonaws.com"}
            ip = ua = "ec2.amazonaws.com"
            pkey = "service:ec2.amazonaws.com"
        else:
            if name == "AssumeRole":
                if p.itype != "IAMUser" or not roles:
                    source, name = "kms.amazonaws.com", "Decrypt"
                else:
                    role, session = roles[rng.randrange(len(roles))], p.name
            cid = (p.index, t // (6 * HOUR), 0)
            ident = cache.get(cid) or cache.setdefault(cid, identity_for(p, t, 0))
        params = {"roleArn": role, "roleSessionName": session}
        out.append(
            EventSpec(
                t, t + delivery_delay(rng), acct, region, pkey, ident, name, None, None, 0, 0, None,
                ip, ua, rng.getrandbits(128), params, None, "AuthHeader", source,
            )
        )  # fmt: skip
    if rng.random() < 0.05:
        out.append(_odd_identity(rng, members, acct, region, t_hour))
    return out


def _odd_identity(
    rng: random.Random, members: tuple[Principal, ...], acct: str, region: str, t_hour: int
) -> EventSpec:
    """An S3 call by a rare identity type (Unknown, Role, Directory) that readers must not choke on."""
    kind = ("Unknown", "Role", "Directory")[int(rng.random() * 3)]
    ident: dict[str, Any] = {
        "type": kind,
        "principalId": key_id("AROA", acct, kind),
        "accountId": acct,
    }
    if kind == "Unknown":
        ident = {"type": "Unknown", "principalId": "", "accountId": acct, "userName": ""}
    buckets = [b for p in members for b in p.buckets if b.account == acct and b.region == region]
    bucket = buckets[int(rng.random() * len(buckets))] if buckets else None
    t = t_hour + int(rng.random() * HOUR)
    return EventSpec(
        t, t + delivery_delay(rng), acct, region, f"unknown:{kind}", ident,
        "GetObject" if bucket else "ListBuckets", bucket, "index.html" if bucket else None, 0, 0,
        "AccessDenied", agents.ec2_ip(rng, region), agents.boto3_ua(rng), rng.getrandbits(128),
    )  # fmt: skip
