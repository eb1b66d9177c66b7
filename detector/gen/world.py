"""The world: population, rates, scenarios; built once per process from the config alone."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from detector.gen.activity import (
    IdentityCache,
    Override,
    background_hour,
    expected_calls,
    principal_hour,
)
from detector.gen.model import HOUR, Bucket, EventSpec, GenConfig, Principal
from detector.gen.plan import build_plan
from detector.gen.profiles import PopulationBuilder

Group = tuple[Principal, tuple[tuple[Bucket, str], ...], float]
_HUMAN_TYPES = frozenset({"AssumedRole", "IAMUser"})


@dataclass(frozen=True, slots=True, eq=False)
class World:
    cfg: GenConfig
    start: int
    hours: int
    accounts: tuple[str, ...]
    principals: tuple[Principal, ...]
    groups: dict[tuple[str, str], tuple[Group, ...]]
    members: dict[str, tuple[Principal, ...]]  # who makes the non-S3 background calls
    scale: float
    scenario_specs: dict[tuple[str, str, int], list[EventSpec]]
    labels: tuple[dict[str, Any], ...]
    overrides: dict[int, tuple[Override, ...]]
    trail_bucket: Bucket

    def hour_specs(
        self, account: str, region: str, hour: int, cache: IdentityCache
    ) -> list[EventSpec]:
        """Every call recorded by ``account``/``region`` during hour ``hour`` of the trail."""
        where = (account, region, self.cfg.seed, self.start + hour * HOUR)
        out: list[EventSpec] = []
        for p, buckets, share in self.groups.get((account, region), ()):
            out += principal_hour(
                p, buckets, share, where, self.scale, cache, self.overrides.get(p.index, ())
            )
        out += background_hour(self.members.get(account, ()), where, self.scale, cache)
        out += self.scenario_specs.get((account, region, hour), ())
        return out


def _groups(principals: list[Principal]) -> dict[tuple[str, str], tuple[Group, ...]]:
    """Split each principal's buckets by the (account, region) whose trail records the calls."""
    out: dict[tuple[str, str], list[Group]] = defaultdict(list)
    for p in principals:
        split: dict[tuple[str, str], list[tuple[Bucket, str]]] = defaultdict(list)
        for b, prefix in zip(p.buckets, p.prefixes, strict=True):
            split[(b.account, b.region)].append((b, prefix))
        for where, pairs in split.items():
            out[where].append((p, tuple(pairs), len(pairs) / len(p.buckets)))
    return {k: tuple(v) for k, v in out.items()}


@lru_cache(maxsize=2)
def build_world(cfg: GenConfig) -> World:
    pb = PopulationBuilder(cfg)
    principals = pb.population()
    start, hours = cfg.start_epoch, cfg.days * 24
    members: dict[str, list[Principal]] = defaultdict(list)
    for p in principals:
        if p.itype in _HUMAN_TYPES and p.account in pb.accounts:
            members[p.account].append(p)
    background = sum(0.3 * len(m) for m in members.values()) * hours
    unit = expected_calls(principals, start, hours) + background
    scale = 1.0
    if cfg.records and unit > 0:
        # Scenario volumes are fixed, so the baseline gets what remains of the target.
        # Two rounds, since a few scenarios scale with their principal's usual volume.
        for _ in range(2):
            probe = build_plan(cfg, PopulationBuilder(cfg), principals, start, hours, scale)
            scale = max(0.02, (cfg.records - len(probe.specs)) / unit)
    plan = build_plan(cfg, pb, principals, start, hours, scale)
    by_hour: dict[tuple[str, str, int], list[EventSpec]] = defaultdict(list)
    for s in plan.specs:
        by_hour[(s.account, s.region, (s.t - start) // HOUR)].append(s)
    return World(
        cfg=cfg,
        start=start,
        hours=hours,
        accounts=pb.accounts,
        principals=tuple(principals) + tuple(plan.new_principals),
        groups=_groups(principals),
        members={k: tuple(v) for k, v in members.items()},
        scale=scale,
        scenario_specs=dict(by_hour),
        labels=tuple(plan.labels),
        overrides=plan.overrides,
        trail_bucket=pb.trail_bucket,
    )
