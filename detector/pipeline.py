"""Engine + detection as one object: records in, findings out, state snapshot/restore.

``replay``, ``backtest`` and the daemon all use this; only the daemon adds queues, clocks and
acknowledgements around it.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from detector.config import Settings
from detector.engine import Batch, Engine
from detector.events import S3Event
from detector.history import HistoryStore
from detector.windows import WindowAgg

STATE_VERSION = 1


class DetectionStage(Protocol):
    """What the pipeline needs of detection (``detector.detect.Detector`` implements it)."""

    @property
    def notable(self) -> Callable[[S3Event], bool]: ...

    def bind(self, history: HistoryStore) -> None: ...

    def process(self, batch: Batch) -> list[dict[str, Any]]: ...

    def learnable(self, batch: Batch) -> list[WindowAgg]: ...

    def snapshot(self) -> bytes: ...

    def restore(self, data: bytes) -> None: ...


class Pipeline:
    """records → findings, with all state in one snapshot."""

    def __init__(self, settings: Settings, detection: DetectionStage) -> None:
        self.settings = settings
        self.detection = detection
        self.engine = Engine(settings, notable=detection.notable)
        detection.bind(self.engine.history)  # one copy of the baselines, shared

    def ingest(self, records: Iterable[Any]) -> None:
        self.engine.ingest(records)

    def step(self, final: bool = False) -> list[dict[str, Any]]:
        """Close what is ready, detect, learn from the clean windows; return findings touched.

        Detection must treat each round's windows in order (score, then learn) so that findings
        do not depend on how windows were grouped into rounds.
        """
        findings: list[dict[str, Any]] = []
        for batch in self.engine.rounds(final):
            findings.extend(self.detection.process(batch))
            self.engine.learn(self.detection.learnable(batch))
        return findings

    def close_idle(self, accounts: Iterable[str]) -> None:
        """Move the watermark of quiet accounts past their open windows (daemon only).

        Without this an account whose activity stops would keep its last windows open until
        its next event. Called once per quiet spell; the next step closes the windows.
        """
        w = self.engine.windower
        for acct in accounts:
            by_start = w.open.get(acct)
            if by_start:
                w.newest[acct] = max(w.newest.get(acct, 0.0), max(by_start) + w.width + w.lateness)

    def snapshot(self) -> bytes:
        doc = {
            "version": STATE_VERSION,
            "engine": self.engine.state(),
            "detection": self.detection.snapshot(),
        }
        return pickle.dumps(doc, protocol=pickle.HIGHEST_PROTOCOL)

    def restore(self, data: bytes) -> None:
        # State is pickled: the state location must be writable only by the service's role
        # (README, threat model) — the same trust as the model artifacts.
        doc = pickle.loads(data)
        if not isinstance(doc, dict) or doc.get("version") != STATE_VERSION:
            raise ValueError("checkpoint has an unknown format version")
        self.engine.restore(doc["engine"])
        self.detection.restore(doc["detection"])
