"""Replay local files into findings: the ``replay --emit findings`` and ``evaluate`` driver.

The same ``Engine`` + ``Detector`` pairing as the daemon, minus queues and clocks: files are fed
in order, each closed round is scored, its findings published, and only its clean windows learned.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from detector.config import Settings
from detector.detect.catalog import BANDS
from detector.detect.detector import Detector
from detector.detect.iforest import IForestAdapter
from detector.engine import Batch, Engine
from detector.metrics import Metrics
from detector.model.artifact import ModelArtifact
from detector.replay import FileReport, drive, read_inputs

log = logging.getLogger(__name__)


@dataclass(slots=True)
class ReplayResult:
    engine: Engine
    detector: Detector
    latest: dict[str, dict[str, Any]] = field(default_factory=dict)  # id → finding as it ends
    published: int = 0  # occurrences (a repeat of an id counts again)
    principal_hours: set[tuple[str, str, int]] = field(default_factory=set)  # active, non-service


def replay_findings(
    paths: Sequence[Path],
    settings: Settings,
    publish: Callable[[list[dict[str, Any]]], None],
    metrics: Metrics,
    report: FileReport,
    iforest: IForestAdapter | None = None,
    artifact: ModelArtifact | None = None,
) -> ReplayResult:
    """Run files through engine + detector, handing each round's findings to ``publish``.

    ``artifact``: a verified model from ``s3ad train`` (issue 4), started warm from."""
    detector = Detector(settings, iforest, artifact=artifact)
    for note in detector.startup_notes():
        log.info("detector ready", extra={"note": note})
    engine = Engine(settings, notable=detector.notable)
    detector.bind(engine.history)
    result = ReplayResult(engine, detector)
    hours = result.principal_hours

    def on_batch(batch: Batch) -> None:
        found = detector.process(batch)
        if found:
            publish(found)
            result.published += len(found)
            for f in found:
                result.latest[f["id"]] = f
        engine.learn(detector.learnable(batch))
        for w in batch.windows:
            if not w.service:
                hours.add((w.account, w.principal, w.start // 3600))

    drive(engine, read_inputs(list(paths), settings, metrics, report), on_batch)
    return result


def band(sev: float) -> str:
    """GuardDuty's name for a severity.

    >>> band(7.5)
    'High'
    """
    for name, (lo, hi) in BANDS.items():
        if lo <= sev <= hi + 0.05:
            return name
    return "Low"


def findings_table(findings: Sequence[dict[str, Any]], limit: int = 40) -> list[str]:
    """A readable table: severity, type, principal, title — worst first."""
    if not findings:
        return ["(no findings)"]
    rows = sorted(findings, key=lambda f: (-f["severity"], f["type"], f["updatedAt"], f["id"]))
    out = [f"{'sev':<12} {'type':<42} {'principal':<28} title"]
    for f in rows[:limit]:
        who = f["resource"]["accessKeyDetails"]["userName"]
        sev = f"{f['severity']:>4.1f} {band(f['severity'])}"
        count = f["service"]["count"]
        title = f["title"] + (f"  (×{count})" if count > 1 else "")
        out.append(f"{sev:<12} {f['type']:<42} {who[:28]:<28} {title[:160]}")
    if len(rows) > limit:
        out.append(f"… and {len(rows) - limit} more")
    return out
