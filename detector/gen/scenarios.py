"""Labelled scenarios: where they go, who does them, and the label each one yields.

Each scenario has its own principal (a compromised existing one, or a new one) so a detector's
findings can be matched to labels by principal key and time window. The builders live in
``attacks.py`` (kind ``attack``) and ``benign.py`` (kind ``benign``: false-positive bait).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from detector.gen.activity import Override
from detector.gen.model import (
    HOUR,
    PRIMARY_REGION,
    Bucket,
    EventSpec,
    GenConfig,
    Principal,
    delivery_delay,
    iso,
)
from detector.gen.profiles import PopulationBuilder
from detector.gen.user_identity import identity_for


@dataclass
class Ctx:
    """What a scenario builder may use: principals to compromise, and event helpers."""

    cfg: GenConfig
    pb: PopulationBuilder
    principals: list[Principal]
    start: int
    end: int
    window: tuple[int, int]
    scale: float
    used: set[int] = field(default_factory=set)
    new_principals: list[Principal] = field(default_factory=list)
    overrides: dict[int, list[Override]] = field(default_factory=dict)
    next_index: int = 1_000_000
    _ids: dict[tuple[int, int, str], dict[str, Any]] = field(default_factory=dict)

    def take(
        self,
        rng: random.Random,
        kinds: tuple[str, ...],
        where: Callable[[Principal], bool] | None = None,
    ) -> Principal:
        """An unused existing principal of the first kind that has one; else a new principal."""
        for kind in kinds:
            pool = [
                p
                for p in self.principals
                if p.kind == kind
                and p.index not in self.used
                and p.buckets
                and (where is None or where(p))
            ]
            if pool:
                p = rng.choice(pool)
                self.used.add(p.index)
                return p
        return self.new(kinds[0], self.pb.accounts[0])

    def new(self, kind: str, account: str, tag: str | None = None) -> Principal:
        p = self.pb.principal(self.next_index, kind, account, tag)
        self.next_index += 1
        self.used.add(p.index)
        self.new_principals.append(p)
        return p

    def buckets_of(self, account: str) -> list[Bucket]:
        return [b for b in self.pb.by_account.get(account, []) if not b.public]

    def times(self, rng: random.Random, t0: int, n: int, seconds: int) -> list[int]:
        seconds = max(1, min(seconds, self.end - 1 - t0))
        return sorted(t0 + rng.randrange(seconds) for _ in range(n))

    def ev(
        self,
        rng: random.Random,
        p: Principal,
        t: int,
        name: str,
        bucket: Bucket | None,
        key: str | None = None,
        *,
        ip: str,
        ua: str,
        salt: str = "",
        error: str | None = None,
        bytes_in: int = 0,
        bytes_out: int = 0,
        params: dict[str, Any] | None = None,
        sse_c: bool = False,
        auth: str = "AuthHeader",
    ) -> EventSpec:
        cid = (p.index, t // (6 * HOUR), salt)
        ident = self._ids.get(cid)
        if ident is None:
            ident = self._ids[cid] = identity_for(p, t, 0, salt)
        account = bucket.account if bucket else p.account
        region = bucket.region if bucket else PRIMARY_REGION
        if error:
            bytes_in = bytes_out = 0
        return EventSpec(
            t, t + delivery_delay(rng), account, region, p.key, ident, name, bucket, key,
            bytes_in, bytes_out, error, ip, ua, rng.getrandbits(128), params, None, auth, sse_c=sse_c,
        )  # fmt: skip


class Episode(NamedTuple):
    principal: Principal
    specs: list[EventSpec]
    description: str


class ScenarioDef(NamedTuple):
    name: str
    kind: str  # attack | benign
    types: tuple[str, ...]  # attack: acceptable finding types; benign: types it baits
    build: Callable[[Ctx, random.Random, int], Episode]


class Plan(NamedTuple):
    specs: list[EventSpec]
    labels: list[dict[str, Any]]
    overrides: dict[int, tuple[Override, ...]]
    new_principals: list[Principal]


def label_for(scn: ScenarioDef, ep: Episode) -> dict[str, Any]:
    accounts = Counter(s.account for s in ep.specs)
    times = [s.t for s in ep.specs]
    attack = scn.kind == "attack"
    out: dict[str, Any] = {
        "scenario": scn.name,
        "kind": scn.kind,
        "account": accounts.most_common(1)[0][0],
        "principal": ep.principal.key,
        "start": iso(min(times)),
        "end": iso(max(times)),
        "expected_types": list(scn.types) if attack else [],
        "purpose": scn.types[0].split(":", 1)[0],
        "description": ep.description,
        "principal_type": ep.principal.itype,
        "events": len(ep.specs),
        "buckets": sorted({s.bucket.name for s in ep.specs if s.bucket}),
    }
    if not attack:
        out["bait_types"] = list(scn.types)
    return out
