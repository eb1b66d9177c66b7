"""Attacks on the data (label kind ``attack``): deletion, re-encryption, exfiltration.

Volumes follow the peer-rule thresholds in REFERENCE.md so rule backstops can fire too:
≥ 50 DeleteObject an hour, ≥ 20 SSE-C writes per bucket. One principal per scenario.
"""

from __future__ import annotations

import math
import random

from detector.gen import agents
from detector.gen.model import DAY, HOUR, Principal
from detector.gen.scenarios import Ctx, Episode

RANSOM_NOTE = "README-RECOVER-FILES.txt"
CREDENTIAL_KEYS = (
    "home/deploy/.aws/credentials",
    "app/.env",
    "config/.env.production",
    "keys/id_rsa",
    "ops/ssh/id_rsa",
)


def objects(p: Principal, i: int, n: int) -> list[str]:
    prefix, ext = p.prefixes[i % len(p.prefixes)], p.ident["ext"]
    return [f"{prefix}{k:06d}{ext}" for k in range(n)]


def share_of(p: Principal, name: str) -> float:
    """The share of ``name`` in the principal's API mix."""
    if name not in p.mix:
        return 0.0
    i = p.mix.index(name)
    return (p.cum[i] - (p.cum[i - 1] if i else 0.0)) / p.cum[-1]


def size(rng: random.Random, median: float) -> int:
    return int(math.exp(rng.gauss(math.log(median), 1.0)))


def mass_delete(ctx: Ctx, rng: random.Random, t0: int) -> Episode:
    p = ctx.take(rng, ("app", "lambda", "etl"))
    b, ip, ua = p.buckets[0], agents.vps_ip(rng), agents.boto3_ua(rng)
    keys = objects(p, 0, 460)
    ts = ctx.times(rng, t0, 500, 15 * 60)
    specs = [ctx.ev(rng, p, t, "ListObjects", b, ip=ip, ua=ua, bytes_out=38000) for t in ts[:10]]
    specs += [
        ctx.ev(rng, p, t, "DeleteObject", b, k, ip=ip, ua=ua)
        for t, k in zip(ts[10:470], keys, strict=False)
    ]
    specs += [ctx.ev(rng, p, t, "DeleteObjects", b, ip=ip, ua=ua, bytes_in=60000) for t in ts[470:]]
    return Episode(
        p,
        specs,
        f"460 DeleteObject and 30 DeleteObjects on {b.name} from new IP {ip} in 15 minutes",
    )


def ssec_ransom(ctx: Ctx, rng: random.Random, t0: int) -> Episode:
    p = ctx.take(rng, ("etl", "lambda", "app"))
    b, ip, ua = p.buckets[0], agents.vps_ip(rng), agents.boto3_ua(rng)
    keys = objects(p, 0, 350)
    ts = ctx.times(rng, t0, 368, 25 * 60)
    specs = [ctx.ev(rng, p, t, "ListObjects", b, ip=ip, ua=ua, bytes_out=40000) for t in ts[:15]]
    for t, k in zip(ts[15:365], keys, strict=False):
        name = "CopyObject" if rng.random() < 0.85 else "PutObject"
        specs.append(
            ctx.ev(
                rng,
                p,
                t,
                name,
                b,
                k,
                ip=ip,
                ua=ua,
                sse_c=True,
                bytes_in=size(rng, 2e5) if name == "PutObject" else 0,
            )
        )
    notes = [f"{prefix}{RANSOM_NOTE}" for prefix in dict.fromkeys(p.prefixes)] + [RANSOM_NOTE]
    specs += [
        ctx.ev(rng, p, ts[-1] + i, "PutObject", b, k, ip=ip, ua=ua, bytes_in=1337)
        for i, k in enumerate(notes)
    ]
    return Episode(
        p,
        specs,
        f"SSE-C re-encryption of 350 objects in {b.name} (CopyObject/PutObject with a customer key), then ransom notes",
    )


def exfil_burst(ctx: Ctx, rng: random.Random, t0: int) -> Episode:
    p = ctx.take(rng, ("analytics", "human"))
    ip, ua = agents.vps_ip(rng), agents.RCLONE_UA
    others = [b for b in ctx.buckets_of(p.account) if b not in p.buckets]
    buckets = list(p.buckets) + rng.sample(others, min(len(others), 3))
    ts = ctx.times(rng, t0, 1600, 40 * 60)
    specs = [
        ctx.ev(rng, p, t, "ListObjects", buckets[i % len(buckets)], ip=ip, ua=ua, bytes_out=40000)
        for i, t in enumerate(ts[:60])
    ]
    for i, t in enumerate(ts[60:]):
        b = buckets[i % len(buckets)]
        key = f"{p.prefixes[0]}{rng.randrange(50000):06d}.parquet"
        specs.append(ctx.ev(rng, p, t, "GetObject", b, key, ip=ip, ua=ua, bytes_out=size(rng, 2e6)))
    for i, k in enumerate(CREDENTIAL_KEYS):
        specs.append(
            ctx.ev(
                rng,
                p,
                ts[-1] + 5 + i,
                "GetObject",
                buckets[i % len(buckets)],
                k,
                ip=ip,
                ua=ua,
                bytes_out=rng.randint(200, 3000),
            )
        )
    gb = sum(s.bytes_out for s in specs) / 1e9
    return Episode(
        p,
        specs,
        f"{len(specs)} reads ({gb:.1f} GB) over {len(buckets)} buckets from new IP {ip} with rclone, incl. credential files",
    )


def _at_3am_local(ctx: Ctx, p: Principal) -> int | None:
    lo, hi = ctx.window
    first = (lo + p.tz * HOUR) // DAY * DAY + 3 * HOUR - p.tz * HOUR
    for t in range(first, hi, DAY):
        if lo <= t < hi:
            return t
    return None


def offhours_read(ctx: Ctx, rng: random.Random, t0: int) -> Episode:
    p = ctx.take(rng, ("human", "sso", "admin"), where=lambda q: _at_3am_local(ctx, q) is not None)
    t0 = _at_3am_local(ctx, p) or t0
    daily_gets = p.rate * 22 * share_of(p, "GetObject") * ctx.scale
    mean = math.exp(p.size_mu + 0.5)
    n = int(min(3000, max(150, 10 * daily_gets)))
    per = 10 * max(daily_gets, 15) * mean / n
    ip, ua = p.ips[-1] if p.ips else agents.home_ip(rng), p.uas[0] if p.uas else agents.cli_ua(rng)
    specs = []
    for i, t in enumerate(ctx.times(rng, t0, n, 45 * 60)):
        b = p.buckets[i % len(p.buckets)]
        key = f"{p.prefixes[i % len(p.prefixes)]}{i:06d}{p.ident['ext']}"
        specs.append(
            ctx.ev(rng, p, t, "GetObject", b, key, ip=ip, ua=ua, bytes_out=size(rng, per / 1.65))
        )
    gb = sum(s.bytes_out for s in specs) / 1e9
    return Episode(
        p,
        specs,
        f"human reads {n} objects ({gb:.2f} GB, ~10x a usual day) at 03:00 local (UTC{p.tz:+d})",
    )


def root_access(ctx: Ctx, rng: random.Random, t0: int) -> Episode:
    p = ctx.new("root", ctx.pb.accounts[0])
    buckets = ctx.buckets_of(p.account)[:4]
    ip, ua = agents.home_ip(rng), agents.console_ua(rng)
    specs = []
    for i, t in enumerate(ctx.times(rng, t0, 20, 15 * 60)):
        b = buckets[i % len(buckets)]
        name = "ListObjects" if i % 5 == 0 else ("PutObject" if i % 7 == 3 else "GetObject")
        key = None if name == "ListObjects" else f"{b.purpose}/{rng.randrange(5000):05d}.pdf"
        out = size(rng, 3e5) if name == "GetObject" else 0
        in_ = size(rng, 1e5) if name == "PutObject" else 0
        specs.append(
            ctx.ev(
                rng, p, t, name, b, key, ip=ip, ua=ua, salt="console", bytes_in=in_, bytes_out=out
            )
        )
    return Episode(p, specs, "root user reads and writes objects through the console")


def exfil_then_delete(ctx: Ctx, rng: random.Random, t0: int) -> Episode:
    p = ctx.take(rng, ("backup", "app", "lambda"))
    ip, ua = agents.vps_ip(rng), agents.cli_ua(rng, "s3.sync")
    buckets = p.buckets[:2]
    keys = objects(p, 0, 800)
    specs = []
    for i, t in enumerate(ctx.times(rng, t0, 800, 30 * 60)):
        specs.append(
            ctx.ev(
                rng,
                p,
                t,
                "GetObject",
                buckets[i % len(buckets)],
                keys[i],
                ip=ip,
                ua=ua,
                bytes_out=size(rng, 1.5e6),
            )
        )
    t1 = t0 + 40 * 60
    for i, t in enumerate(ctx.times(rng, t1, 320, 12 * 60)):
        b = buckets[i % len(buckets)]
        if i % 32 == 0:
            specs.append(ctx.ev(rng, p, t, "DeleteObjects", b, ip=ip, ua=ua, bytes_in=50000))
        else:
            specs.append(ctx.ev(rng, p, t, "DeleteObject", b, keys[i], ip=ip, ua=ua))
    specs.append(
        ctx.ev(
            rng,
            p,
            min(t1 + 13 * 60, ctx.end - 1),
            "PutObject",
            buckets[0],
            RANSOM_NOTE,
            ip=ip,
            ua=ua,
            bytes_in=1337,
        )
    )
    return Episode(
        p, specs, "800 reads from a new IP, then 320 deletes on the same buckets and a ransom note"
    )
