"""Intrusion scenarios (label kind ``attack``): enumeration, denied sprays, Tor, pentest tools.

Volumes follow REFERENCE.md's peer rules: ≥ 40-50 AccessDenied, > 15 buckets within 10 seconds.
"""

from __future__ import annotations

import random

from detector.gen import agents
from detector.gen.attacks import CREDENTIAL_KEYS, size
from detector.gen.model import EventSpec, Principal
from detector.gen.scenarios import Ctx, Episode


def discovery(ctx: Ctx, rng: random.Random, t0: int) -> Episode:
    p = ctx.new("human", ctx.pb.accounts[0])
    ip, ua = agents.vps_ip(rng), agents.cli_ua(rng, "s3api.get-bucket-acl")
    buckets = ctx.buckets_of(p.account)
    specs = [
        ctx.ev(rng, p, t0 + i, "ListBuckets", None, ip=ip, ua=ua, bytes_out=9000) for i in range(3)
    ]
    t = t0 + 5
    for i, b in enumerate(buckets):
        t += (
            0 if i < 20 and i % 3 else (1 if i < 20 else rng.randint(2, 20))
        )  # first 20 buckets in seconds
        for name in (
            "GetBucketAcl",
            "GetBucketPolicy",
            "GetBucketLocation",
            "ListObjects",
            "GetBucketPublicAccessBlock",
        ):
            denied = rng.random() < 0.65
            error = (
                "AccessDenied"
                if denied
                else (
                    "NoSuchBucketPolicy"
                    if name == "GetBucketPolicy" and rng.random() < 0.5
                    else None
                )
            )
            specs.append(
                ctx.ev(
                    rng, p, min(t, ctx.end - 1), name, b, ip=ip, ua=ua, error=error, bytes_out=900
                )
            )
    return Episode(
        p,
        specs,
        f"new IAM user enumerates {len(buckets)} buckets (ListBuckets, GetBucketAcl, ListObjects...), mostly AccessDenied",
    )


def denied_spray(ctx: Ctx, rng: random.Random, t0: int) -> Episode:
    p = ctx.new("partner", str(300000000000 + rng.randrange(10**11)))
    target = ctx.pb.accounts[-1]
    buckets = ctx.buckets_of(target)[:14]
    ip, ua = agents.vps_ip(rng), agents.boto3_ua(rng)
    specs = []
    for i, t in enumerate(ctx.times(rng, t0, 90, 15 * 60)):
        b = buckets[i % len(buckets)]
        name = ("GetObject", "PutObject", "ListObjects", "GetBucketAcl")[i % 4]
        key = (
            f"{rng.choice(('backup', 'db', 'export', 'secrets'))}/{rng.randrange(1000)}.tar.gz"
            if name in ("GetObject", "PutObject")
            else None
        )
        specs.append(
            ctx.ev(rng, p, t, name, b, key, ip=ip, ua=ua, salt="spray", error="AccessDenied")
        )
    return Episode(
        p,
        specs,
        f"unknown external account sprays 90 calls over {len(buckets)} buckets, all AccessDenied",
    )


def tor_caller(ctx: Ctx, rng: random.Random, t0: int) -> Episode:
    p = ctx.take(rng, ("human", "sso"))
    tor = [ip for ip in agents.TOR_EXITS if ip.startswith("185.220.10")]
    ua = agents.cli_ua(rng, "s3.cp")
    specs: list[EventSpec] = []
    for i, t in enumerate(ctx.times(rng, t0, 45, 20 * 60)):
        b, ip = p.buckets[i % len(p.buckets)], tor[(i // 12) % len(tor)]
        name = "ListBuckets" if i == 0 else ("ListObjects" if i % 3 == 0 else "GetObject")
        key = (
            f"{p.prefixes[i % len(p.prefixes)]}{rng.randrange(20000):06d}{p.ident['ext']}"
            if name == "GetObject"
            else None
        )
        specs.append(
            ctx.ev(
                rng,
                p,
                t,
                name,
                None if i == 0 else b,
                key,
                ip=ip,
                ua=ua,
                salt="tor",
                bytes_out=size(rng, 4e5),
            )
        )
    return Episode(
        p,
        specs,
        "45 calls (ListBuckets, ListObjects, GetObject) from Tor exit nodes in 185.220.100.0/22",
    )


def _pentest(ctx: Ctx, rng: random.Random, t0: int, p: Principal, ua: str, distro: str) -> Episode:
    ip = agents.vps_ip(rng)
    specs = [ctx.ev(rng, p, t0, "ListBuckets", None, ip=ip, ua=ua, salt="pentest", bytes_out=8000)]
    buckets = p.buckets or tuple(ctx.buckets_of(p.account)[:3])
    for i, t in enumerate(ctx.times(rng, t0 + 2, 30, 10 * 60)):
        b = buckets[i % len(buckets)]
        name = ("GetBucketAcl", "ListObjects", "GetObject")[i % 3]
        key = CREDENTIAL_KEYS[i % len(CREDENTIAL_KEYS)] if name == "GetObject" else None
        error = "AccessDenied" if rng.random() < 0.3 else None
        specs.append(
            ctx.ev(
                rng, p, t, name, b, key, ip=ip, ua=ua, salt="pentest", error=error, bytes_out=2500
            )
        )
    return Episode(p, specs, f"{len(specs)} calls with a {distro} user agent from {ip}")


def pentest_kali(ctx: Ctx, rng: random.Random, t0: int) -> Episode:
    return _pentest(ctx, rng, t0, ctx.take(rng, ("human", "admin")), agents.KALI_UA, "Kali Linux")


def pentest_parrot(ctx: Ctx, rng: random.Random, t0: int) -> Episode:
    return _pentest(
        ctx, rng, t0, ctx.new("human", ctx.pb.accounts[-1]), agents.PARROT_UA, "Parrot OS"
    )


def pentest_pentoo(ctx: Ctx, rng: random.Random, t0: int) -> Episode:
    return _pentest(ctx, rng, t0, ctx.take(rng, ("lambda", "app")), agents.PENTOO_UA, "Pentoo")
