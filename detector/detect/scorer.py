"""The scorer port: every model turns closed windows into scores in [0, 1], higher = worse.

A scorer is *warm* when its scores mean something and *cold* while it is still learning (or has
nothing to score with). Cold is explicit: a cold scorer returns ``None`` for a row, contributes
nothing to a verdict and says why in ``status()``, instead of returning a misleading 0.
Scorers are called once per batch with all rows (IsolationForest is ~50 calls/s row by row).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from detector.windows import WindowAgg

WARM = "warm"
COLD = "cold"
OFF = "off"


@dataclass(frozen=True, slots=True)
class ScorerStatus:
    """What a scorer can do right now, in words an operator reads at start-up."""

    name: str
    state: str  # WARM, COLD or OFF
    detail: str

    def line(self) -> str:
        return f"{self.name}: {self.state} ({self.detail})"


class Scorer(Protocol):
    """Scores a batch of windows; ``None`` for a row means "cold for this row"."""

    name: str

    def status(self) -> ScorerStatus:
        """Warm / cold / off, with a reason."""
        ...

    def score(
        self, windows: Sequence[WindowAgg], vectors: Sequence[Sequence[float]]
    ) -> list[float | None]:
        """One score in [0, 1] (or None) per window, in order."""
        ...


def combine(scores: Sequence[float | None]) -> float | None:
    """The warm scorers' average (each is a calibrated percentile); None when all are cold.

    >>> combine([None, 0.2, 0.9]), combine([None, None])
    (0.55, None)
    """
    warm = [s for s in scores if s is not None]
    return sum(warm) / len(warm) if warm else None
