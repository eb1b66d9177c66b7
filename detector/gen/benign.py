"""Benign-but-unusual episodes (label kind ``benign``): the false positives a detector must resist.

Their labels carry ``expected_types: []`` (any finding is a false positive) and ``bait_types``,
the finding types a naive detector would raise.
"""

from __future__ import annotations

import math
import random

from detector.gen import agents
from detector.gen.activity import Override
from detector.gen.model import DAY, HOUR, EventSpec, Principal, pick
from detector.gen.scenarios import Ctx, Episode


def _next_local(ctx: Ctx, p: Principal, t0: int, hour: int) -> int:
    """The first ``hour``:00 local at or after ``t0`` inside the scenario window, else ``t0``."""
    local_day = (t0 + p.tz * HOUR) // DAY * DAY
    for d in range(3):
        t = local_day + d * DAY + hour * HOUR - p.tz * HOUR
        if t0 <= t < ctx.window[1]:
            return t
    return t0


def new_laptop(ctx: Ctx, rng: random.Random, t0: int) -> Episode:
    p = ctx.take(rng, ("human", "sso"))
    t0 = _next_local(ctx, p, t0, 9)
    ip, ua = agents.home_ip(rng), agents.cli_ua(rng, "s3.ls")
    ctx.overrides.setdefault(p.index, []).append(Override(t0, t0 + 3 * HOUR, ip=ip))
    specs: list[EventSpec] = []
    for t in ctx.times(rng, t0, 70, 3 * HOUR):
        name = pick(rng, p.mix, p.cum)
        i = rng.randrange(len(p.buckets))
        bucket = None if name == "ListBuckets" else p.buckets[i]
        key = (
            f"{p.prefixes[i]}{rng.randrange(20000):06d}{p.ident['ext']}"
            if name.endswith("Object")
            else None
        )
        specs.append(
            ctx.ev(
                rng,
                p,
                t,
                name,
                bucket,
                key,
                ip=ip,
                ua=ua,
                bytes_out=int(math.exp(p.size_mu)) if name == "GetObject" else 0,
            )
        )
    return Episode(
        p, specs, f"a human works as usual from a new laptop: new IP {ip} and a newer aws-cli"
    )


def deploy_day(ctx: Ctx, rng: random.Random, t0: int) -> Episode:
    p = ctx.take(rng, ("ci",))
    t0 = _next_local(ctx, p, t0, 9)
    n = int(max(300, 10 * p.rate * 24 * ctx.scale))
    b = p.buckets[0]
    specs: list[EventSpec] = []
    deploys = 6
    for d in range(deploys):
        start = t0 + d * 75 * 60
        build = f"{p.prefixes[0]}{rng.getrandbits(28):07x}/"
        for t in ctx.times(rng, start, n // deploys, 12 * 60):
            u = rng.random()
            name = "PutObject" if u < 0.85 else ("DeleteObject" if u < 0.93 else "ListObjects")
            key = (
                None
                if name == "ListObjects"
                else f"{build}{rng.randrange(4000):04d}{p.ident['ext']}"
            )
            specs.append(
                ctx.ev(
                    rng,
                    p,
                    t,
                    name,
                    b,
                    key,
                    ip=rng.choice(p.ips),
                    ua=p.uas[0],
                    bytes_in=int(math.exp(rng.gauss(p.size_mu, 1))) if name == "PutObject" else 0,
                )
            )
    return Episode(
        p, specs, f"release day: {deploys} deploys write ~10x the usual objects to {b.name}"
    )


def backfill(ctx: Ctx, rng: random.Random, t0: int) -> Episode:
    p = ctx.take(rng, ("etl",))
    t0 = _next_local(ctx, p, t0, 14) if p.schedule == "nightly" else t0
    ip, ua = p.ips[0], p.uas[0]
    specs: list[EventSpec] = []
    for i, t in enumerate(ctx.times(rng, t0, 2150, 90 * 60)):
        b = p.buckets[i % len(p.buckets)]
        part = (
            f"{p.prefixes[i % len(p.prefixes)]}dt=2025-{1 + i % 12:02d}-{1 + (i // 12) % 28:02d}/"
        )
        if i % 14 == 0:
            specs.append(
                ctx.ev(
                    rng,
                    p,
                    t,
                    "ListObjects",
                    b,
                    ip=ip,
                    ua=ua,
                    bytes_out=30000,
                    params={"prefix": part},
                )
            )
        else:
            key = f"{part}part-{i:05d}.snappy.parquet"
            specs.append(
                ctx.ev(
                    rng,
                    p,
                    t,
                    "GetObject",
                    b,
                    key,
                    ip=ip,
                    ua=ua,
                    bytes_out=int(math.exp(rng.gauss(math.log(30e6), 0.8))),
                )
            )
    return Episode(p, specs, "backfill job re-reads a year of partitions at an unusual hour")


def auditor(ctx: Ctx, rng: random.Random, t0: int) -> Episode:
    p = ctx.new("auditor", ctx.pb.accounts[0], tag="prowler")
    ip, ua = p.ips[0], p.uas[0]
    buckets = ctx.pb.by_account[p.account]
    specs = [
        ctx.ev(rng, p, t0 + i, "ListBuckets", None, ip=ip, ua=ua, bytes_out=9000) for i in range(2)
    ]
    names = (
        "GetBucketAcl",
        "GetBucketPolicy",
        "GetBucketPolicyStatus",
        "GetBucketPublicAccessBlock",
        "GetBucketLogging",
        "GetBucketEncryption",
        "GetBucketVersioning",
    )
    step = max(1, 20 * 60 // (len(buckets) * len(names)))
    t = t0 + 10
    for b in buckets:
        for name in names:
            error = (
                "NoSuchBucketPolicy" if name == "GetBucketPolicy" and rng.random() < 0.4 else None
            )
            specs.append(
                ctx.ev(
                    rng, p, min(t, ctx.end - 1), name, b, ip=ip, ua=ua, error=error, bytes_out=700
                )
            )
            t += rng.randint(0, step)
    return Episode(
        p, specs, f"security audit role reads the configuration of {len(buckets)} buckets"
    )
