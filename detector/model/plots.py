"""The report's PNG plots (matplotlib, headless Agg backend), rendered to bytes.

matplotlib is imported here only, and only when a report is made (``s3ad train --no-report``
and the service never import it).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np

from detector.features import FEATURES

DPI = 100
ANOMALY = "#c0392b"
NORMAL = "#2c7fb8"


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    # No timestamps or software tags in the file: the same training gives the same bytes.
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    _pyplot().close(fig)
    return buf.getvalue()


def score_plot(raw: np.ndarray, threshold: float, percentile: float) -> bytes:
    """Histogram of the training windows' raw scores, with the model threshold."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(10, 5.5))
    ax.hist(raw, bins=80, color=NORMAL, alpha=0.85)
    ax.set_yscale("log")
    ax.axvline(threshold, color=ANOMALY, linewidth=2)
    above = int((raw > threshold).sum())
    ax.text(
        threshold,
        ax.get_ylim()[1] * 0.5,
        f"  threshold: {100 * percentile:.0f}th percentile\n  (raw {threshold:.3f}; "
        f"{above:,} windows above)",
        color=ANOMALY,
        va="top",
        fontsize=11,
    )
    ax.set_xlabel("IsolationForest anomaly score (higher = more anomalous)", fontsize=12)
    ax.set_ylabel("training windows (log scale)", fontsize=12)
    ax.set_title(f"Score distribution of {raw.size:,} clean training windows", fontsize=14)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _png(fig)


def top_plot(labels: Sequence[str], scores: Sequence[float], threshold: float) -> bytes:
    """Horizontal bars: the most anomalous training windows, worst on top."""
    plt = _pyplot()
    n = len(labels)
    fig, ax = plt.subplots(figsize=(12, max(3.0, 0.42 * n + 1.4)))
    y = np.arange(n)[::-1]
    colors = [ANOMALY if s > threshold else NORMAL for s in scores]
    ax.barh(y, scores, color=colors)
    ax.set_yticks(y, labels, fontsize=10)
    lo = min([*scores, threshold]) * 0.95
    ax.set_xlim(lo, max([*scores, threshold]) * 1.02)
    ax.axvline(threshold, color=ANOMALY, linestyle="--", linewidth=1.5, label="model threshold")
    ax.set_xlabel("IsolationForest anomaly score", fontsize=12)
    ax.set_title(f"Top {n} anomalous training windows", fontsize=14)
    ax.legend(loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return _png(fig)


def feature_plot(x: np.ndarray, top: Sequence[int]) -> bytes:
    """One histogram per feature; the top anomalous windows' values marked in red."""
    plt = _pyplot()
    cols = 6
    rows = -(-len(FEATURES) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(20, 2.9 * rows))
    flat = axes.ravel()
    for i, name in enumerate(FEATURES):
        ax = flat[i]
        col = x[:, i]
        ax.hist(col, bins=40, color=NORMAL, alpha=0.85)
        ax.set_yscale("log")
        for j in top:
            ax.axvline(col[j], color=ANOMALY, alpha=0.6, linewidth=1)
        ax.set_title(name, fontsize=12)
        ax.tick_params(labelsize=9)
    for ax in flat[len(FEATURES) :]:
        ax.axis("off")
    fig.suptitle(
        "Feature distributions of the clean training windows (log counts; red: top anomalous)",
        fontsize=16,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    return _png(fig)
