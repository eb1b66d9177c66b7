"""Deterministic CloudTrail S3 trail generator: the project's test, demo and benchmark data.

``generate(GenConfig(out=...))`` writes CloudTrail-shaped log files (org-trail layout, gzip,
~5-minute delivery with late and unsorted records, hourly digests), ``labels.jsonl`` (one line
per injected scenario) and ``tor_exits.txt``. The same config gives byte-identical files for any
worker count: every random choice is seeded by what it is about, never by time or process.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import orjson

from detector.gen.agents import TOR_EXITS
from detector.gen.model import REGIONS, GenConfig
from detector.gen.world import build_world
from detector.gen.writer import ChunkResult, run_block

__all__ = ["GenConfig", "generate"]


BLOCK_HOURS = 6


def _blocks(cfg: GenConfig, accounts: Iterable[str]) -> list[tuple[str, str, int, int]]:
    """Work units: (account, region, first hour, end hour) of delivery.

    One extra delivery hour at the end carries the late records of the last hour.
    """
    end = cfg.days * 24 + 1
    return [
        (a, r, h, min(h + BLOCK_HOURS, end))
        for h in range(0, end, BLOCK_HOURS)
        for a in accounts
        for r in REGIONS
    ]


def _run(cfg: GenConfig, blocks: list[tuple[str, str, int, int]]) -> list[ChunkResult]:
    if cfg.workers <= 1:
        return [run_block(cfg, b) for b in blocks]
    # An executor, not multiprocessing.Pool: a worker killed (for memory) raises
    # BrokenProcessPool here instead of leaving the run waiting for its result for ever.
    ctx = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(cfg.workers, mp_context=ctx) as pool:
        return list(pool.map(run_block, [cfg] * len(blocks), blocks))


def generate(cfg: GenConfig) -> dict[str, Any]:
    """Write the trail under ``cfg.out``; return the summary (files, records, principals...)."""
    world = build_world(cfg)  # built before forking, so workers inherit it
    os.makedirs(cfg.out, exist_ok=True)
    results = _run(cfg, _blocks(cfg, world.accounts))
    labels_path = cfg.labels or os.path.join(cfg.out, "labels.jsonl")
    with open(labels_path, "wb") as f:
        for label in world.labels:
            f.write(orjson.dumps(label) + b"\n")
    with open(os.path.join(cfg.out, "tor_exits.txt"), "w") as f:
        f.write("".join(f"{ip}\n" for ip in TOR_EXITS))
    principals: set[str] = set()
    for r in results:
        principals |= r.principals
    return {
        "files": sum(r.files for r in results),
        "digest_files": sum(r.digests for r in results),
        "records": sum(r.records for r in results),
        "principals": len(principals),
        "attacks": sum(1 for lb in world.labels if lb["kind"] == "attack"),
        "benign": sum(1 for lb in world.labels if lb["kind"] == "benign"),
        "gz_bytes": sum(r.bytes for r in results),
        "accounts": list(world.accounts),
        "regions": list(REGIONS),
        "start": cfg.start,
        "hours": world.hours,
        "scale": round(world.scale, 4),
        "labels": labels_path,
        "out": cfg.out,
    }
