"""The online model: river HalfSpaceTrees, one per (recipient account, population).

Why per (account, population) rather than one global model: state keyed by account is what lets
a later issue split accounts across daemons with the union of the shards' findings equal to one
daemon's; and humans (bursty, office hours, laptops that change IP) and workloads (steady,
machine-paced, fixed agents) have different "normal" shapes, so one model's notion of rare would
be dominated by the larger population. The features already carry the principal-relative half
(z-scores, first-seen IP/agent, hour rarity), so a population model does not need one model per
principal. Populations: ``human`` (IAM users, root, federated / Identity Center users, SSO
roles), ``workload`` (other assumed roles), ``external`` (another account's caller); a
population whose own model is still cold is judged by its ``account`` model, which learns the
windows of every population still cold (at first all of them, so it warms up first) and leaves
warm populations to their own models: one tree walk to score and one to learn per window once
an account is warm, instead of two of each. AWS services are never modelled (REFERENCE.md: excluding them cut a peer rule's false positives
~97 %).

Cheap by construction: height 8 and 10 trees is ~1 MB a model in memory and ~10k updates/s here
(height 15 is ~390 MB; issue 3); an account costs at most four models. HST scores are not calibrated, so each model keeps a histogram of the
raw scores of the clean windows it learned from and reports a *percentile*: 0.99 means "higher
than 99 % of this population's normal windows". A model is cold until it has learned
``warmup_windows`` windows; a cold model returns None for its rows and says so.

Only windows a score could turn into an anomaly are scored (the caller says which: those with
the volume the anomaly verdict needs, a few percent of windows); every clean window is still
learned. The histogram must still describe *all* the clean windows, so of the others one in
``CALIBRATION_SAMPLE`` (every eighth, per model) is scored for calibration only and counted
that many times — a systematic sample of the same distribution at an eighth of the tree walks
(issue 6).

This module holds what is pickled into model files and checkpoints (``PopulationModel``, its
``Calibrator``) and the names both builds share; the per-window work — scaling features,
choosing the population, scoring and learning — is ``detector.detect.online_scorer``, which is
compiled with the hot path (issue 6).
"""

from __future__ import annotations

from typing import Any

from detector.detect.settings import ModelSettings

HUMAN = "human"
WORKLOAD = "workload"
EXTERNAL = "external"
ACCOUNT = (
    "account"  # every non-service window of the account: the fallback while a population is cold
)
BINS = 1000
MIN_CALIBRATION = 50  # scores a calibrator needs before its percentiles mean anything
CALIBRATION_SAMPLE = 8  # of the windows no score can flag, one in this many calibrates


class Calibrator:
    """Raw score → percentile among the clean windows seen, from a decaying histogram."""

    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * BINS
        self.total = 0

    def add(self, raw: float, weight: int = 1) -> None:
        """Record a clean window's raw score, standing for ``weight`` windows (a sample)."""
        self.counts[min(BINS - 1, max(0, int(raw * BINS)))] += weight
        self.total += weight
        if self.total >= 200_000:  # halve: recent behaviour weighs more, counts stay bounded
            self.counts = [c // 2 for c in self.counts]
            self.total = sum(self.counts)

    def percentile(self, raw: float) -> float:
        """Share of recorded scores strictly below ``raw``'s bin, plus half of its own bin."""
        b = min(BINS - 1, max(0, int(raw * BINS)))
        below = sum(self.counts[:b])
        return (below + 0.5 * self.counts[b]) / max(self.total, 1)


class PopulationModel:
    """One HalfSpaceTrees with its calibration and how much it has learned."""

    unscored = 0  # windows passed over for scoring (class default: artifacts from before it)

    def __init__(self, s: ModelSettings) -> None:
        # river pulls scipy (~0.9 s): imported with the first model, so training's readers
        # are forked (and reading) before it loads (issue 6).
        from river import anomaly

        self.hst: Any = anomaly.HalfSpaceTrees(
            n_trees=s.river_trees,
            height=s.river_height,
            window_size=s.river_window,
            seed=s.river_seed,
        )
        self.calibrator = Calibrator()
        self.learned = 0
