"""IsolationForest adapter: a fitted sklearn model plus the normalisation of its scores.

scikit-learn's ``score_samples`` is *higher = more normal*; the sign is flipped once, here, and
the raw anomaly score is mapped onto the training windows' score quantiles, so 0.99 means "more
anomalous than 99 % of the training windows" — the same scale as the online model's percentile.
Scoring is always batched: one ``score_samples`` call per batch (row by row runs ~50 calls/s).

Artifacts: ``s3ad train`` writes them and ``detector.model.loader`` loads them, verifying the
sha256 of every file before anything is unpickled (issue 4); that is the only way the CLI, the
daemon and ``Detector`` load a model. ``save_iforest`` / ``load_iforest`` below are a bare
reference format (``iforest.pkl`` + ``iforest.json``, no hashes) kept for unit tests — never
point them at files you did not just write: pickles execute code.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from detector.detect.scorer import WARM, ScorerStatus
from detector.errors import ModelError
from detector.features import FEATURE_HASH, FEATURES
from detector.windows import WindowAgg

QUANTILES = 201  # 0 %, 0.5 %, … 100 % of the training scores


class IForestAdapter:
    """A fitted IsolationForest as a Scorer (always warm: it was trained offline)."""

    name = "iforest"

    def __init__(self, model: Any, quantiles: Sequence[float], feature_hash: str = FEATURE_HASH):
        if feature_hash != FEATURE_HASH:
            raise ModelError(
                f"IsolationForest was trained on features {feature_hash}, this build has "
                f"{FEATURE_HASH}: retrain it"
            )
        q = np.asarray(quantiles, dtype=float)
        if q.ndim != 1 or q.size < 2 or np.any(np.diff(q) < 0):
            raise ModelError("IsolationForest quantiles must be a rising list of ≥ 2 numbers")
        self.model = model
        self.quantiles = q
        self.feature_hash = feature_hash

    def status(self) -> ScorerStatus:
        n = getattr(self.model, "n_estimators", "?")
        return ScorerStatus(self.name, WARM, f"artifact loaded, {n} trees, features {FEATURE_HASH}")

    def raw(self, x: np.ndarray) -> np.ndarray:
        """Raw anomaly scores, higher = more anomalous (sklearn's sign flipped)."""
        return -np.asarray(self.model.score_samples(x), dtype=float)

    def normalise(self, raw: np.ndarray) -> np.ndarray:
        levels = np.linspace(0.0, 1.0, self.quantiles.size)
        return np.asarray(np.interp(raw, self.quantiles, levels, left=0.0, right=1.0), dtype=float)

    def score(
        self, windows: Sequence[WindowAgg], vectors: Sequence[Sequence[float]]
    ) -> list[float | None]:
        rows = [i for i, w in enumerate(windows) if not w.service]
        out: list[float | None] = [None] * len(windows)
        if not rows:
            return out
        x = np.asarray([vectors[i] for i in rows], dtype=float)
        for i, s in zip(rows, self.normalise(self.raw(x)).tolist(), strict=True):
            out[i] = float(s)
        return out


def fit_iforest(
    vectors: Sequence[Sequence[float]], seed: int = 42, n_estimators: int = 100
) -> IForestAdapter:
    """Fit on (clean) training vectors and calibrate on their own scores."""
    x = np.asarray(vectors, dtype=float)
    if x.ndim != 2 or x.shape[1] != len(FEATURES) or x.shape[0] < 2:
        raise ModelError(f"need ≥ 2 rows of {len(FEATURES)} features, got shape {x.shape}")
    from sklearn.ensemble import IsolationForest  # on first use: see detector/train/fit.py

    model = IsolationForest(n_estimators=n_estimators, random_state=seed).fit(x)
    raw = -model.score_samples(x)
    quantiles = np.quantile(raw, np.linspace(0.0, 1.0, QUANTILES))
    return IForestAdapter(model, quantiles.tolist())


def save_iforest(adapter: IForestAdapter, directory: str | Path) -> None:
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    (d / "iforest.pkl").write_bytes(pickle.dumps(adapter.model, protocol=5))
    meta = {"feature_hash": adapter.feature_hash, "quantiles": adapter.quantiles.tolist()}
    (d / "iforest.json").write_bytes(orjson.dumps(meta, option=orjson.OPT_SORT_KEYS))


def load_iforest(directory: str | Path) -> IForestAdapter:
    """Load an artifact directory; ``ModelError`` when missing, malformed or incompatible."""
    d = Path(directory)
    try:
        meta = orjson.loads((d / "iforest.json").read_bytes())
        model = pickle.loads((d / "iforest.pkl").read_bytes())
    except (OSError, orjson.JSONDecodeError, pickle.UnpicklingError, EOFError) as exc:
        raise ModelError(f"cannot load IsolationForest artifact from {d}: {exc}") from exc
    if not isinstance(meta, dict) or not hasattr(model, "score_samples"):
        raise ModelError(f"{d} does not hold an IsolationForest artifact")
    return IForestAdapter(model, meta.get("quantiles", []), str(meta.get("feature_hash", "")))
