"""The sequential half of training: run merged windows through a real ``Detector`` + ``Engine``.

Rounds (one window start at a time) are scored, their findings counted and only their clean
windows learned — exactly what the service does — so the river population models, the
per-principal baselines, each account's learning period and SSE-C habits end up as a service
would have them after watching the training data. Clean, non-service windows are offered to the
IsolationForest sample with their feature vectors.

All of this state is keyed by recipient account (population models, learning period) or by
(account, principal) (baselines, habits, attack sequences), so accounts are independent:
``warm_sharded`` runs groups of accounts in forked processes and unions the results, which is
identical to one pass over everything (tested) and bounded by the largest account.

The garbage collector is paused by ``train`` for the whole run (the state here is long-lived and
makes no cycles); forked shards inherit the pause.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

from detector.config import Settings
from detector.detect.detector import Detector
from detector.engine import Engine
from detector.model.artifact import WarmState
from detector.train.forked import Job, can_fork, run_forked
from detector.train.sample import BottomK, Row, merge_samples
from detector.windows import WindowAgg


@dataclass(slots=True)
class WarmResult:
    """The warm state of one pass (or of merged shards) and what the pass saw."""

    warm: WarmState
    sample: list[Row]
    windows: int = 0
    service: int = 0  # AWS service windows: judged by rules, never modelled
    clean: int = 0  # clean non-service windows: the IsolationForest's population
    flagged: int = 0  # windows that raised findings: not learned
    findings: dict[str, int] = field(default_factory=dict)  # occurrences by finding type

    def absorb(self, other: WarmResult, k: int) -> None:
        self.warm.absorb(other.warm)
        self.sample = merge_samples([self.sample, other.sample], k)
        for name in ("windows", "service", "clean", "flagged"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for kind, n in other.findings.items():
            self.findings[kind] = self.findings.get(kind, 0) + n


def cold_settings(settings: Settings) -> Settings:
    """Training starts from nothing, whatever model the configuration names."""
    return dataclasses.replace(
        settings, models=dataclasses.replace(settings.models, iforest_path="")
    )


class Learner:
    """``warm_pass`` in pieces: feed successive lists of windows, each starting after the last.

    ``rounds_of`` groups windows by start, so feeding a sorted history in slices that never
    split a start gives exactly one pass over the whole (training streams it while reading).
    """

    def __init__(self, settings: Settings, k: int, seed: int) -> None:
        self.detector = Detector(cold_settings(settings))
        self.engine = Engine(self.detector.settings, notable=self.detector.notable)
        self.detector.bind(self.engine.history)
        self.sample = BottomK(k, seed)
        self.k = k
        self.result = WarmResult(WarmState(), [])

    def feed(self, windows: list[WindowAgg], progress: Callable[[int], None] | None = None) -> None:
        """Judge and learn ``windows`` (sorted by start, account, principal) round by round."""
        detector, engine, result = self.detector, self.engine, self.result
        findings = result.findings
        for batch in engine.rounds_of(windows):
            for f in detector.process(batch):
                findings[f["type"]] = findings.get(f["type"], 0) + 1
            clean = detector.learnable(batch)
            engine.learn(clean)
            ok = {id(w) for w in clean}
            for w, v in zip(batch.windows, batch.vectors, strict=True):
                if w.service:
                    result.service += 1
                elif id(w) in ok:
                    result.clean += 1
                    self.sample.offer(w.account, w.principal, w.start, w.name, w.n, v)
            result.windows += len(batch.windows)
            result.flagged += len(batch.windows) - len(clean)
            if progress:
                progress(len(batch.windows))

    def finish(self) -> WarmResult:
        self.result.warm = WarmState(
            online=self.detector.online.models,
            histories=self.engine.history.by_key,
            first_seen=self.detector.first_seen,
            ssec=self.detector.ssec.usual,
        )
        self.result.sample = merge_samples([self.sample.rows()], self.k)
        return self.result


def warm_pass(
    windows: list[WindowAgg],
    settings: Settings,
    k: int,
    seed: int,
    progress: Callable[[int], None] | None = None,
) -> WarmResult:
    """One pass over windows in (start, account, principal) order, as the service would."""
    learner = Learner(settings, k, seed)
    learner.feed(windows, progress)
    return learner.finish()


def shards_of(windows: list[WindowAgg], n: int) -> list[list[WindowAgg]]:
    """Split windows into ≤ ``n`` groups of whole accounts of similar size, keeping order.

    >>> ws = [WindowAgg(a, "p", s) for s in (0, 300) for a in ("A", "B", "C")]
    >>> [[(w.account, w.start) for w in g] for g in shards_of(ws, 2)]
    [[('A', 0), ('C', 0), ('A', 300), ('C', 300)], [('B', 0), ('B', 300)]]
    """
    sizes: dict[str, int] = {}
    for w in windows:
        sizes[w.account] = sizes.get(w.account, 0) + 1
    loads = [0] * max(1, min(n, len(sizes)))
    shard_of: dict[str, int] = {}
    for acct, size in sorted(sizes.items(), key=lambda kv: (-kv[1], kv[0])):
        i = loads.index(min(loads))  # largest account first onto the lightest shard
        shard_of[acct] = i
        loads[i] += size
    groups: list[list[WindowAgg]] = [[] for _ in loads]
    for w in windows:
        groups[shard_of[w.account]].append(w)
    return [g for g in groups if g]


def warm_sharded(
    windows: list[WindowAgg],
    settings: Settings,
    workers: int,
    k: int,
    seed: int,
    progress: Callable[[int], None] | None = None,
) -> WarmResult:
    """``warm_pass`` over account shards in up to ``workers`` processes, merged."""
    groups = shards_of(windows, workers)
    if len(groups) <= 1 or not can_fork():
        return warm_pass(windows, settings, k, seed, progress)

    def job(group: list[WindowAgg]) -> Job:
        return lambda tick: warm_pass(group, settings, k, seed, tick)

    results: list[WarmResult] = run_forked([job(g) for g in groups], progress)
    total = results[0]
    for r in results[1:]:
        total.absorb(r, k)
    return total
