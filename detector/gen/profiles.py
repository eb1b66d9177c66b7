"""The population: accounts, buckets and principals with stable habits, and their identities.

Principal keys (the label format): AssumedRole → role ARN (``sessionContext.sessionIssuer.arn``);
IAMUser → user ARN; Root → ``arn:aws:iam::ACCT:root``; AWSAccount → ``account:<accountId>``;
anonymous → ``anonymous:<bucket>``; AWSService → ``service:<invokedBy>``; FederatedUser → its
ARN; IdentityCenterUser (no ARN in the record) → ``identitycenter:<onBehalfOf.userId>``, as
``detector.principal`` keys it.
"""

from __future__ import annotations

import math
import random

from detector.gen import agents
from detector.gen.habits import (
    COMPANIES,
    EXTENSIONS,
    FIRST,
    HOURLY,
    KIND_WEIGHTS,
    KINDS,
    LAST,
    MIXES,
    NIGHTLY,
    PREFIXES,
    PURPOSES,
    SERVICES,
    SPECIAL_KINDS,
    TIMEZONES,
)
from detector.gen.identities import Who, identity_parts
from detector.gen.model import (
    BASE_ACCOUNTS,
    PRIMARY_REGION,
    REGIONS,
    Bucket,
    GenConfig,
    Principal,
    cumulative,
    hash_int,
    hexid,
    seeded,
)


def build_accounts(cfg: GenConfig) -> tuple[str, ...]:
    accounts = list(BASE_ACCOUNTS[: cfg.accounts])
    i = 0
    while len(accounts) < cfg.accounts:
        accounts.append(str(100000000000 + hash_int(cfg.seed, "account", i) % 899999999999))
        i += 1
    return tuple(accounts)


def kinds_for(n: int) -> list[str]:
    """Kinds of the ``n`` principals: the specials first, then a smooth weighted sequence."""
    kinds = list(SPECIAL_KINDS[:n])
    counts = dict.fromkeys(KIND_WEIGHTS, 0.0)
    for i in range(n - len(kinds)):
        best = max(KIND_WEIGHTS, key=lambda k: KIND_WEIGHTS[k] * (i + 1) - counts[k])
        counts[best] += 1
        kinds.append(best)
    return kinds


class PopulationBuilder:
    """Builds buckets and principals; scenarios use it again to add new principals."""

    def __init__(self, cfg: GenConfig) -> None:
        self.cfg = cfg
        self.accounts = build_accounts(cfg)
        self.company = COMPANIES[cfg.seed % len(COMPANIES)]
        self.kinds = kinds_for(cfg.principals)
        self.homes = [self._home(i, k) for i, k in enumerate(self.kinds)]
        self.buckets = self._buckets()
        self.by_account: dict[str, list[Bucket]] = {a: [] for a in self.accounts}
        for b in self.buckets:
            if b.purpose != "cloudtrail":
                self.by_account[b.account].append(b)
        self.names: set[str] = set()

    @property
    def trail_bucket(self) -> Bucket:
        return self.buckets[0]

    def _home(self, i: int, kind: str) -> str:
        if kind in ("cloudtrail", "replication", "anonymous"):
            return self.accounts[0]
        if kind == "root":
            return self.accounts[-1]
        if kind == "partner":
            return str(200000000000 + hash_int(self.cfg.seed, "partner", i) % 699999999999)
        rng = seeded(self.cfg.seed, "home", i)
        return self.accounts[0] if rng.random() < 0.55 else rng.choice(self.accounts)

    def _buckets(self) -> list[Bucket]:
        seed = self.cfg.seed
        org = self.cfg.org or self.accounts[0]
        trail = f"aws-cloudtrail-logs-{org}-{hexid(8, seed, 'trail')}"
        out = [Bucket(trail, self.accounts[0], PRIMARY_REGION, "cloudtrail", False, False)]
        for acct in self.accounts:
            members = sum(1 for h in self.homes if h == acct)
            n = max(len(PURPOSES), math.ceil(members / 2.5))
            rng = seeded(seed, "buckets", acct)
            for i in range(n):
                purpose = PURPOSES[i % len(PURPOSES)]
                env = "prod" if i < len(PURPOSES) else rng.choice(("prod", "stage", "dev", "prod"))
                eu = i in (2, 10) or (i > 12 and rng.random() < 0.3)
                public = (
                    purpose == "public-assets" and i < len(PURPOSES) and acct == self.accounts[0]
                )
                name = f"{self.company}-{env}-{purpose}-{hexid(6, seed, acct, i)}"
                out.append(
                    Bucket(
                        name,
                        acct,
                        REGIONS[1] if eu else PRIMARY_REGION,
                        purpose,
                        public,
                        rng.random() < 0.5,
                    )
                )
        return out

    def unique(self, name: str) -> str:
        base, n = name, 2
        while name in self.names:
            name, n = f"{base}-{n}", n + 1
        self.names.add(name)
        return name

    def pick_buckets(self, rng: random.Random, kind: str, account: str) -> tuple[Bucket, ...]:
        spec = KINDS[kind]
        if kind == "cloudtrail":
            return (self.trail_bucket,)
        if kind == "anonymous":
            return tuple(b for b in self.buckets if b.public)[:1]
        if kind == "replication":
            pool = [b for b in self.buckets if b.purpose in spec.purposes]
        else:
            if kind == "partner":
                account = rng.choice(self.accounts)
            pool = [
                b
                for b in self.by_account[account]
                if not spec.purposes or b.purpose in spec.purposes
            ]
            pool = [b for b in pool if not b.public] or pool
        k = min(len(pool), rng.randint(*spec.nbuckets))
        return tuple(rng.sample(pool, k))

    def principal(self, index: int, kind: str, account: str, tag: str | None = None) -> Principal:
        """A principal of ``kind``; ``index`` keys every random choice about it."""
        rng = seeded(self.cfg.seed, "principal", index, kind)
        spec = KINDS[kind]
        buckets = self.pick_buckets(rng, kind, account)
        first, last = rng.choice(FIRST), rng.choice(LAST)
        svc = tag or rng.choice(SERVICES)
        draft = identity_parts(Who(self, rng, kind, account, svc, first, last))
        ident, ips = draft.ident, draft.ips
        schedule = spec.schedule
        if kind == "etl" and rng.random() < 0.5:
            schedule = NIGHTLY
        human = spec.schedule in ("workhours", "mixed")
        tz = rng.choice(TIMEZONES) if human else -5
        console = kind in ("human", "admin") and rng.random() < (0.6 if kind == "admin" else 0.4)
        habit = "console" if console and kind == "human" else ("human" if kind == "sso" else kind)
        names, cum = cumulative(MIXES[habit])
        vpce = None
        if kind in ("app", "etl", "backup", "lambda") and rng.random() < 0.4:
            vpce = f"vpce-0{hexid(16, self.cfg.seed, 'vpce', account, index % 3)}"
            ips = tuple(agents.private_ip(rng) for _ in ips)
        ident["ext"] = rng.choice(EXTENSIONS)
        ident["tag"] = svc
        prefixes = tuple(PREFIXES[b.purpose][0].format(tag=svc) for b in buckets)
        return Principal(
            index=index,
            key=_key(kind, ident, account, buckets),
            kind=kind,
            itype=spec.itype,
            account=account,
            name=draft.name,
            buckets=buckets,
            prefixes=prefixes,
            ips=ips,
            uas=draft.uas if not console else (agents.console_ua(rng),),
            sessions=draft.sessions,
            tz=tz,
            rate=spec.rate * math.exp(rng.gauss(-0.125, 0.5)),
            schedule=schedule,
            minute=rng.randint(0, 50),
            burst=rng.randint(6, 15) if schedule in (HOURLY, "deploys") else 60,
            run_hours=(1, 2) if rng.random() < 0.5 else (rng.randint(0, 4),),
            mix=names,
            cum=cum,
            size_mu=math.log(spec.size) + rng.gauss(0, 0.4),
            denied=spec.denied,
            vpce=vpce,
            presign=kind == "app" and rng.random() < 0.3,
            console=console,
            ident=ident,
        )

    def population(self) -> list[Principal]:
        return [self.principal(i, k, self.homes[i]) for i, k in enumerate(self.kinds)]


def _key(kind: str, ident: dict[str, str], account: str, buckets: tuple[Bucket, ...]) -> str:
    if kind == "anonymous":
        return f"anonymous:{buckets[0].name}" if buckets else "anonymous:"
    if kind == "partner":
        return f"account:{account}"
    if kind in ("replication", "cloudtrail"):
        return f"service:{ident['invoked_by']}"
    if kind == "identity_center":
        return f"identitycenter:{ident['user_id']}"
    return ident["arn"]
