"""The scenario plan: which scenarios run, when, and what they add to the trail."""

from __future__ import annotations

from typing import Any

from detector.gen.catalog import ATTACKS, BENIGN
from detector.gen.model import DAY, HOUR, EventSpec, GenConfig, Principal, seeded
from detector.gen.profiles import PopulationBuilder
from detector.gen.scenarios import Ctx, Plan, label_for

SCENARIOS = ATTACKS + BENIGN


def _window(cfg: GenConfig, start: int, end: int) -> tuple[int, int]:
    lo = start + int(cfg.attack_after * DAY)
    hi = end - HOUR
    if hi - lo < 4 * HOUR:  # too late a --attack-after-day: use the last hours of the trail
        lo = max(start, hi - 4 * HOUR)
    return lo, hi


def build_plan(
    cfg: GenConfig,
    pb: PopulationBuilder,
    principals: list[Principal],
    start: int,
    hours: int,
    scale: float,
) -> Plan:
    """All scenarios of the trail, placed after ``attack_after`` days; empty with --no-attacks."""
    if not cfg.attacks:
        return Plan([], [], {}, [])
    end = start + hours * HOUR
    ctx = Ctx(cfg, pb, principals, start, end, _window(cfg, start, end), scale)
    rng = seeded(cfg.seed, "placement")
    order = list(SCENARIOS)
    rng.shuffle(order)
    lo, hi = ctx.window
    step = (hi - lo) // len(order)
    specs: list[EventSpec] = []
    labels: list[dict[str, Any]] = []
    for i, scn in enumerate(order):
        t0 = lo + i * step + int(rng.random() * step * 0.3)
        ep = scn.build(ctx, seeded(cfg.seed, "scenario", scn.name), t0)
        ep = ep._replace(specs=[s for s in ep.specs if start <= s.t < end])
        if ep.specs:
            specs += ep.specs
            labels.append(label_for(scn, ep))
    labels.sort(key=lambda d: (d["start"], d["scenario"]))
    overrides = {k: tuple(v) for k, v in ctx.overrides.items()}
    return Plan(specs, labels, overrides, ctx.new_principals)
