"""The online Scorer: river's population models scoring and learning closed windows.

The design — models per (account, population), percentiles from a calibration histogram, only
windows a score could flag are scored (one in ``CALIBRATION_SAMPLE`` of the others calibrates),
every clean window is learned — is described in ``detector.detect.online``, which holds the
models themselves (they are pickled, so they stay out of the compiled build). This module is the
per-window work around river's own tree walks, compiled with the hot path (issue 6).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from detector.detect.online import (
    ACCOUNT,
    CALIBRATION_SAMPLE,
    EXTERNAL,
    HUMAN,
    MIN_CALIBRATION,
    WORKLOAD,
    PopulationModel,
)
from detector.detect.scorer import COLD, OFF, WARM, ScorerStatus
from detector.detect.settings import ModelSettings
from detector.features import FEATURES
from detector.windows import WindowAgg

_HUMAN_TYPES = frozenset({"IAMUser", "Root", "FederatedUser", "IdentityCenterUser", "SAMLUser"})
_UNIT = frozenset(
    {"error_rate", "new_ip", "new_user_agent", "hour_rarity", "delete_share"}
    | {"cross_account_share", "anonymous"}
)


def feature_limits() -> list[tuple[float, float]]:
    """Fixed range per feature, in FEATURES order (the same for every model, so comparable)."""
    limits: list[tuple[float, float]] = []
    for name in FEATURES:
        if name.endswith("_z"):
            limits.append((-10.0, 10.0))
        elif name in _UNIT:
            limits.append((0.0, 1.0))
        elif name.startswith("bytes"):
            limits.append((0.0, 25.0))
        else:
            limits.append((0.0, 10.0))
    return limits


def feature_spans(limits: Sequence[tuple[float, float]]) -> list[tuple[str, float, float]]:
    """(feature, low, high - low) per feature: what ``scaled`` needs, worked out once."""
    return [(name, lo, hi - lo) for name, (lo, hi) in zip(FEATURES, limits, strict=True)]


def scaled(vector: Sequence[float], spans: Sequence[tuple[str, float, float]]) -> dict[str, float]:
    """Features mapped onto [0, 1] (``spans`` from ``feature_spans(feature_limits())``). HST picks split
    features weighted by their range, so unscaled, the 0–1 context features (first-seen IP,
    rare hour…) would almost never split."""
    out = {}
    for (name, lo, span), v in zip(spans, vector, strict=True):
        y = (v - lo) / span
        out[name] = (y if y < 1.0 else 1.0) if y > 0.0 else 0.0  # = min(1, max(0, y)), NaN → 0
    return out


def population(w: WindowAgg) -> str | None:
    """Which population model judges this window; None for AWS services."""
    if w.service:
        return None
    if w.anonymous or w.ptype == "AWSAccount" or w.cross:
        return EXTERNAL
    if w.ptype in _HUMAN_TYPES or "AWSReservedSSO_" in w.principal:
        return HUMAN
    return WORKLOAD


class Scored(NamedTuple):
    """One window of the last scored batch: its scaled features and, per model name, its raw
    score and how many windows that score stands for in the calibration (1, or
    ``CALIBRATION_SAMPLE`` for a sampled window). The window itself is held so that its ``id``
    cannot be reused by another while cached."""

    window: WindowAgg
    x: dict[str, float]
    raws: dict[str, tuple[float, int]]


class RiverScorer:
    """The Scorer over population models; ``learn`` takes only clean, non-service windows."""

    name = "online"

    def __init__(self, settings: ModelSettings) -> None:
        self.settings = settings
        self.spans = feature_spans(feature_limits())
        self.models: dict[tuple[str, str], PopulationModel] = {}
        # id(window) → what scoring the last batch worked out for it, reused by ``learn``
        self._scored: dict[int, Scored] = {}

    def status(self) -> ScorerStatus:
        if not self.settings.enabled:
            return ScorerStatus(self.name, OFF, "models disabled: rules only")
        warm = sum(1 for m in self.models.values() if self._is_warm(m))
        state = WARM if warm else COLD
        detail = (
            f"{warm}/{len(self.models)} population models warm "
            f"(each needs {self.settings.warmup_windows} clean windows)"
        )
        return ScorerStatus(self.name, state, detail)

    def _is_warm(self, m: PopulationModel) -> bool:
        """Learned enough, and has seen enough scores to turn a raw score into a percentile."""
        return m.learned >= self.settings.warmup_windows and m.calibrator.total >= MIN_CALIBRATION

    def score(
        self,
        windows: Sequence[WindowAgg],
        vectors: Sequence[Sequence[float]],
        needed: Sequence[bool] | None = None,
    ) -> list[float | None]:
        """Percentile per window (None: cold, a service, or not ``needed`` — no score could
        flag it; default: every window is needed)."""
        self._scored = {}
        out: list[float | None] = []
        for i, (w, v) in enumerate(zip(windows, vectors, strict=True)):
            pop = population(w) if self.settings.enabled else None
            if pop is None:
                out.append(None)
                continue
            if needed is not None and not needed[i]:
                self._sample(w, v, pop)
                out.append(None)
                continue
            x = scaled(v, self.spans)
            raws: dict[str, tuple[float, int]] = {}
            self._scored[id(w)] = Scored(w, x, raws)
            out.append(self._percentile(w, pop, x, raws))
        return out

    def exact(self, w: WindowAgg, vector: Sequence[float]) -> float | None:
        """The score ``score`` would have given a window it passed over (for a finding's text);
        changes nothing."""
        pop = population(w) if self.settings.enabled else None
        return None if pop is None else self._percentile(w, pop, scaled(vector, self.spans), {})

    def _calibrating(self, w: WindowAgg, pop: str) -> tuple[str, ...]:
        """The models that learn this window, and so calibrate from its score: the population's
        own once warm, else also the account's (which judges it meanwhile)."""
        own = self.models.get((w.account, pop))
        return (pop,) if own is not None and self._is_warm(own) else (pop, ACCOUNT)

    def _percentile(
        self, w: WindowAgg, pop: str, x: dict[str, float], raws: dict[str, tuple[float, int]]
    ) -> float | None:
        """Score ``x`` with every model that learns it (raw scores into ``raws``) and return the
        judging model's percentile; None while that model is cold."""
        for name in self._calibrating(w, pop):
            m = self.models.get((w.account, name))
            if m is not None:
                raws[name] = (float(m.hst.score_one(x)), 1)
        judge = self.models.get((w.account, pop))
        if judge is None or not self._is_warm(judge):
            judge = self.models.get((w.account, ACCOUNT))
            pop = ACCOUNT
        if judge is None or not self._is_warm(judge):
            return None
        return judge.calibrator.percentile(raws[pop][0])

    def _sample(self, w: WindowAgg, v: Sequence[float], pop: str) -> None:
        """A window no score can flag: scored only when it is a model's calibration sample."""
        x: dict[str, float] | None = None
        raws: dict[str, tuple[float, int]] = {}
        for name in self._calibrating(w, pop):
            m = self.models.get((w.account, name))
            if m is None:
                continue
            m.unscored += 1
            if m.unscored % CALIBRATION_SAMPLE == 0:
                if x is None:
                    x = scaled(v, self.spans)
                raws[name] = (float(m.hst.score_one(x)), CALIBRATION_SAMPLE)
        if x is not None:
            self._scored[id(w)] = Scored(w, x, raws)

    def learn(self, windows: Sequence[WindowAgg], vectors: Sequence[Sequence[float]]) -> None:
        """Learn clean windows (the caller has removed those with findings)."""
        if not self.settings.enabled:
            return
        for w, v in zip(windows, vectors, strict=True):
            pop = population(w)
            if pop is None:
                continue
            seen = self._scored.get(id(w))
            if seen is not None and seen.window is w:
                x, raws = seen.x, seen.raws
            else:  # learned without being scored first (no calibration data from it)
                x, raws = scaled(v, self.spans), {}
            for name in self._calibrating(w, pop):
                model = self.models.get((w.account, name))
                if model is None:
                    model = self.models[(w.account, name)] = PopulationModel(self.settings)
                raw = raws.get(name)
                if raw is not None and model.learned >= 2 * self.settings.river_window:
                    # Before two reference windows HST's masses are still filling: not calibration data.
                    model.calibrator.add(*raw)
                model.hst.learn_one(x)
                model.learned += 1
        self._scored = {}
