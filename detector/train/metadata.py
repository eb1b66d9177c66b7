"""``metadata.json`` of a training run: features, versions, data, counts, parameters, timing.

Everything a reviewer or the loader needs to judge an artifact without unpickling anything.
The sha256 of every file is added by ``detector.model.writer``.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from detector.config import Settings, settings_dict
from detector.detect.online import MIN_CALIBRATION
from detector.features import FEATURE_HASH, FEATURES
from detector.model.format import library_versions
from detector.train.fit import Fitted, raw_threshold
from detector.train.sources import Listing
from detector.train.stream import Streamed
from detector.train.warm import WarmResult

if TYPE_CHECKING:
    from detector.train.trainer import TrainOptions

RECORDED_SECTIONS = ("input", "window", "dedup", "history", "rules", "models", "findings")


def iso(t: float) -> str:
    """UTC ISO-8601 with a Z.

    >>> iso(0)
    '1970-01-01T00:00:00Z'
    """
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def build_metadata(
    opts: TrainOptions,
    settings: Settings,
    listing: Listing,
    streamed: Streamed,
    warm: WarmResult,
    fitted: Fitted,
    workers: int,
    timing: dict[str, float],
) -> dict[str, Any]:
    m = settings.models
    part, seen = streamed.part, streamed.seen
    resolved = settings_dict(settings)
    populations = [
        {
            "account": acct,
            "population": pop,
            "learned": model.learned,
            "warm": model.learned >= m.warmup_windows and model.calibrator.total >= MIN_CALIBRATION,
        }
        for (acct, pop), model in sorted(warm.warm.online.items())
    ]
    return {
        "name": opts.out.name,
        "created": iso(time.time()),
        "features": {"names": list(FEATURES), "hash": FEATURE_HASH},
        "versions": library_versions(),
        "data": {
            "sources": list(opts.sources),
            "start": opts.start.isoformat() if opts.start else None,
            "end": opts.end.isoformat() if opts.end else None,
            "accounts_filter": sorted(opts.accounts) if opts.accounts else None,
            "accounts": sorted(seen.accounts),
            "first_event": iso(seen.first_event),
            "last_event": iso(seen.last_event),
            "first_window": iso(seen.first_window),
            "last_window": iso(seen.last_window),
        },
        "counts": {
            "files": {
                "listed": len(listing.names),
                "read": part.files,
                "skipped": part.skipped + sum(listing.skipped.values()),
                "unreadable": len(part.unreadable),
            },
            "records": {
                "read": part.read,
                "windowed": part.windowed,
                "out_of_range": part.out_of_range,
                "not_s3": part.not_s3,
                "invalid": part.invalid,
                "duplicates": part.duplicates,
            },
            "windows": {
                "total": warm.windows,
                "service": warm.service,
                "clean": warm.clean,
                "flagged": warm.flagged,
                "sampled": len(warm.sample),
            },
            "principals": len(seen.principals),
            "findings": dict(sorted(warm.findings.items())),
        },
        # How the learning pass was scheduled, not what was learned: it depends on the engine
        # and the worker count (the counts above and the model files do not).
        "schedule": {
            "learned_while_reading": streamed.learned,
            "late_after_learning": streamed.late,  # > 0: every file read again, then learned
        },
        "population_models": populations,
        "iforest": {
            "trees": opts.trees,
            "rows": len(warm.sample),
            "raw_threshold": raw_threshold(fitted.adapter, m.threshold),
        },
        "parameters": {
            "window_seconds": settings.window.width_seconds,
            "seed": opts.seed,
            "trees": opts.trees,
            "sample": opts.sample,
            "workers": workers,
            "lag_seconds": opts.lag,
            "threshold": m.threshold,
            "warmup_windows": m.warmup_windows,
            "settings": {s: resolved[s] for s in RECORDED_SECTIONS},
        },
        "timing": {k: round(v, 3) for k, v in timing.items()},
        "unreadable": [[name, reason] for name, reason in part.unreadable[:100]],
    }
