"""What a loaded artifact holds: the IsolationForest and the warm state of a trained service.

``WarmState`` is exactly what a service accumulates by watching clean windows: the river
population models, the per-principal baselines (``HistoryStore``), each account's first window
(which ends its learning period) and SSE-C habits. ``Detector(settings, artifact=...)`` takes it
over, so a service started from an artifact judges its first window like one that had been
running over the training data.

Baselines are plain numbers and small tables, so they are stored as JSON (no code runs when
they are read); only the scikit-learn and river models are pickles.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from typing import Any

import orjson

from detector.detect.iforest import IForestAdapter
from detector.detect.online import PopulationModel
from detector.errors import ModelError
from detector.history import HISTORY_SLOTS, PrincipalHistory

Key = tuple[str, str]


@dataclass(slots=True)
class WarmState:
    """Detection state learned from clean training windows (keyed by account / principal)."""

    online: dict[Key, PopulationModel] = field(default_factory=dict)
    histories: dict[Key, PrincipalHistory] = field(default_factory=dict)
    first_seen: dict[str, float] = field(default_factory=dict)
    ssec: dict[Key, float] = field(default_factory=dict)

    def absorb(self, other: WarmState) -> None:
        """Add another account shard's state (shards never share a key)."""
        self.online.update(other.online)
        self.histories.update(other.histories)
        self.first_seen.update(other.first_seen)
        self.ssec.update(other.ssec)


@dataclass(slots=True)
class ModelArtifact:
    """A verified artifact, ready for ``Detector(settings, artifact=...)``."""

    location: str
    digest: str  # sha256 of metadata.json: the artifact's identity in logs
    metadata: dict[str, Any]
    iforest: IForestAdapter
    warm: WarmState

    def describe(self) -> str:
        data = self.metadata.get("data", {})
        return (
            f"model artifact {self.location} (sha256:{self.digest[:16]}, trained on "
            f"{data.get('first_window', '?')} → {data.get('last_window', '?')}): "
            f"{len(self.warm.online)} population models, {len(self.warm.histories):,} baselines"
        )


def baselines_bytes(warm: WarmState) -> bytes:
    """The JSON half of the warm state, gzipped deterministically (no timestamp)."""
    doc = {
        "histories": [
            [acct, principal, {s: getattr(h, s) for s in HISTORY_SLOTS}]
            for (acct, principal), h in sorted(warm.histories.items())
        ],
        "first_seen": dict(sorted(warm.first_seen.items())),
        "ssec": [[a, p, v] for (a, p), v in sorted(warm.ssec.items())],
    }
    return gzip.compress(orjson.dumps(doc), compresslevel=6, mtime=0)


def parse_baselines(data: bytes, warm: WarmState, what: str) -> None:
    """Fill ``warm`` from ``baselines_bytes`` output; ``ModelError`` when malformed."""
    try:
        doc = orjson.loads(gzip.decompress(data))
        for acct, principal, state in doc["histories"]:
            h = PrincipalHistory.from_state([state[s] for s in HISTORY_SLOTS])
            warm.histories[str(acct), str(principal)] = h
        warm.first_seen.update({str(a): float(t) for a, t in doc["first_seen"].items()})
        warm.ssec.update({(str(a), str(p)): float(v) for a, p, v in doc["ssec"]})
    except (OSError, EOFError, orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"{what} is not a baselines file: {type(exc).__name__}: {exc}") from exc
