"""Fit the IsolationForest on the sampled clean windows and calibrate its scores on them.

The adapter maps raw scores onto the training windows' own quantiles, so a service score of
0.99 means "more anomalous than 99 % of the (clean) training windows" — the scale the online
model uses. ``max_samples`` stays at scikit-learn's 256 rows per tree (its paper's choice), so
fitting costs the same for any history; scoring the sample for the calibration is the only part
that grows with it, and the sample is bounded.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from detector.detect.iforest import QUANTILES, IForestAdapter
from detector.errors import ModelError
from detector.features import FEATURES


@dataclass(slots=True)
class Fitted:
    adapter: IForestAdapter
    raw: np.ndarray  # raw anomaly score of every sampled row (higher = more anomalous)


def fit_forest(x: np.ndarray, seed: int, trees: int, jobs: int = 1) -> Fitted:
    """Fit on ``x`` (rows of ``FEATURES``), seeded, and calibrate on the same rows."""
    if x.ndim != 2 or x.shape[1] != len(FEATURES) or x.shape[0] < 2:
        raise ModelError(
            f"need at least 2 clean windows of {len(FEATURES)} features to fit the "
            f"IsolationForest, got {x.shape[0] if x.ndim == 2 else 0}: train on more data"
        )
    # scikit-learn (and the scipy it pulls, ~0.9 s) is imported here, on first use: training
    # forks its readers before, and imports it while they read (issue 6).
    from sklearn.ensemble import IsolationForest

    # Trees are fitted in parallel from seeds drawn up front: the same forest for any ``jobs``.
    model = IsolationForest(n_estimators=trees, random_state=seed, n_jobs=jobs).fit(x)
    model.n_jobs = None  # the service scores small batches: no thread pool there
    raw = -score_rows(model, x, jobs)
    quantiles = np.quantile(raw, np.linspace(0.0, 1.0, QUANTILES))
    return Fitted(IForestAdapter(model, quantiles.tolist()), raw)


def score_rows(model: Any, x: np.ndarray, jobs: int) -> np.ndarray:
    """``score_samples`` over row blocks in ``jobs`` threads (tree traversal releases the GIL).

    Rows, not trees, are split: scikit-learn's own ``n_jobs`` sums the trees' path lengths in
    a different order per thread count, which moves scores by an ulp — and then the quantiles
    and the artifact would depend on the number of workers.
    """
    blocks = np.array_split(np.arange(x.shape[0]), max(1, min(jobs, x.shape[0] // 2048 + 1)))
    with ThreadPoolExecutor(max_workers=len(blocks)) as pool:
        parts = list(pool.map(lambda rows: model.score_samples(x[rows]), blocks))
    return np.asarray(np.concatenate(parts), dtype=float)


def raw_threshold(adapter: IForestAdapter, threshold: float) -> float:
    """The raw score at the model threshold (a percentile of the training windows).

    >>> a = IForestAdapter(None, [0.0, 0.5, 1.0])
    >>> raw_threshold(a, 0.75)
    0.75
    """
    levels = np.linspace(0.0, 1.0, adapter.quantiles.size)
    return float(np.interp(threshold, levels, adapter.quantiles))
