"""Posture attacks (label kind ``attack``): public access, bucket policy/ACL, logging off."""

from __future__ import annotations

import random
from typing import Any

import orjson

from detector.gen import agents
from detector.gen.bucket_config import canonical_id
from detector.gen.model import XMLNS, Bucket, EventSpec, Principal
from detector.gen.scenarios import Ctx, Episode

Call = tuple[str, Bucket | None, dict[str, Any] | None]
_PAB_OFF = dict.fromkeys(
    ("RestrictPublicBuckets", "BlockPublicPolicy", "BlockPublicAcls", "IgnorePublicAcls"), False
)


def _config_change(
    ctx: Ctx,
    rng: random.Random,
    t0: int,
    p: Principal,
    calls: list[Call],
) -> list[EventSpec]:
    ip, ua = (
        (p.ips[0] if p.ips else agents.office_ip(rng)),
        (p.uas[0] if p.uas else agents.cli_ua(rng)),
    )
    return [
        ctx.ev(rng, p, t0 + 20 * i + rng.randrange(15), name, b, ip=ip, ua=ua, params=params)
        for i, (name, b, params) in enumerate(calls)
    ]


def bucket_pab_disabled(ctx: Ctx, rng: random.Random, t0: int) -> Episode:
    p = ctx.new("admin", ctx.pb.accounts[0])
    b1, b2, b3 = rng.sample(ctx.buckets_of(p.account), 3)
    off = {"PublicAccessBlockConfiguration": {"xmlns": XMLNS, **_PAB_OFF}}
    calls: list[Call] = [
        ("GetBucketPublicAccessBlock", b1, None),
        ("DeleteBucketPublicAccessBlock", b1, None),
        ("PutBucketPublicAccessBlock", b2, off),
        ("DeletePublicAccessBlock", b3, None),
    ]
    return Episode(
        p,
        _config_change(ctx, rng, t0, p, calls),
        f"block-public-access removed on {b1.name}, {b3.name} and all-false on {b2.name}",
    )


def account_pab_disabled(ctx: Ctx, rng: random.Random, t0: int) -> Episode:
    p = ctx.take(rng, ("admin", "sso", "human"))
    calls: list[Call] = [
        ("GetAccountPublicAccessBlock", None, None),
        (
            "PutAccountPublicAccessBlock",
            None,
            {"PublicAccessBlockConfiguration": {"xmlns": XMLNS, **_PAB_OFF}},
        ),
    ]
    return Episode(
        p,
        _config_change(ctx, rng, t0, p, calls),
        "account-level block-public-access set to all false",
    )


def bucket_policy_public(ctx: Ctx, rng: random.Random, t0: int) -> Episode:
    p = ctx.take(rng, ("ci", "admin"))
    extra = [
        b for b in ctx.buckets_of(p.account) if b.purpose == "static-site" and b not in p.buckets
    ]
    calls: list[Call] = []
    for i, b in enumerate((*p.buckets, *extra)[:2]):
        stmt = {
            "Sid": "PublicRead",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": f"{b.arn}/*",
        }
        policy: Any = {"Version": "2012-10-17", "Statement": [stmt]}
        if i:  # the second call carries the policy as a JSON string, as some pipelines do
            policy = orjson.dumps(policy).decode()
        calls += [("GetBucketPolicy", b, None), ("PutBucketPolicy", b, {"bucketPolicy": policy})]
    return Episode(
        p,
        _config_change(ctx, rng, t0, p, calls),
        'bucket policy grants s3:GetObject to Principal "*"',
    )


def bucket_acl_public(ctx: Ctx, rng: random.Random, t0: int) -> Episode:
    p = ctx.take(rng, ("human", "admin"))
    b1 = p.buckets[0]
    b2 = p.buckets[1] if len(p.buckets) > 1 else b1
    owner = canonical_id(b1.account)
    grants = [
        {"Grantee": {"xsi:type": "CanonicalUser", "ID": owner}, "Permission": "FULL_CONTROL"},
        {
            "Grantee": {
                "xsi:type": "Group",
                "URI": "http://acs.amazonaws.com/groups/global/AllUsers",
            },
            "Permission": "READ",
        },
    ]
    acl = {
        "AccessControlPolicy": {
            "AccessControlList": {"Grant": grants},
            "xmlns": XMLNS,
            "Owner": {"ID": owner},
        }
    }
    calls: list[Call] = [
        ("GetBucketAcl", b1, None),
        ("PutBucketAcl", b1, acl),
        ("PutBucketAcl", b2, {"x-amz-acl": ["public-read"]}),
    ]
    return Episode(p, _config_change(ctx, rng, t0, p, calls), "bucket ACL grants READ to AllUsers")


def logging_disabled(ctx: Ctx, rng: random.Random, t0: int) -> Episode:
    p = ctx.take(rng, ("admin", "sso", "ci"))
    off = {"BucketLoggingStatus": {"xmlns": XMLNS}}
    calls: list[Call] = []
    for b in p.buckets[:2]:
        calls += [("GetBucketLogging", b, None), ("PutBucketLogging", b, off)]
    return Episode(
        p,
        _config_change(ctx, rng, t0, p, calls),
        "server access logging disabled (PutBucketLogging without LoggingEnabled)",
    )
