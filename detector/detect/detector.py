"""The detection stage as one object: ``Detector.process(batch)`` → findings.

Wiring (what ``replay`` and the daemon do)::

    detector = Detector(settings)                       # or Detector(settings, iforest_model=m)
    engine = Engine(settings, notable=detector.notable)
    detector.bind(engine.history)                       # share the baselines (optional, below)
    ...
    for batch in engine.rounds():                       # one window start at a time
        findings = detector.process(batch)              # created or updated by this batch
        engine.learn(detector.learnable(batch))         # never learn what raised a finding

Baselines: the detector reads the principal histories the engine keeps. When nobody calls
``bind`` (``detector.pipeline.Pipeline`` builds its own engine), the detector keeps a private
copy, fed with exactly the windows ``learnable`` hands back — the same content, twice the memory.

State is keyed by recipient account (population models, the learning period) or by (account,
principal) (findings, attack sequences), so the union of account shards' findings equals one
daemon's. ``snapshot()`` / ``restore()`` carry all of it across restarts.
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from detector.config import Settings
from detector.detect.bursts import BurstContext
from detector.detect.decide import (
    SequenceTracker,
    Verdict,
    anomaly_hits,
    could_flag,
    group,
    model_flags,
)
from detector.detect.explain import Deviation, deviations
from detector.detect.findings import FindingStore, build_finding, score_text
from detector.detect.hits import Hit
from detector.detect.iforest import IForestAdapter
from detector.detect.online_scorer import RiverScorer
from detector.detect.recent import Recent, SsecHabit
from detector.detect.rules import RuleBook
from detector.detect.scorer import combine
from detector.detect.suppress import Suppressor
from detector.engine import Batch
from detector.errors import ModelError
from detector.events import S3Event
from detector.features import learn
from detector.history import HistoryStore, PrincipalHistory
from detector.windows import WindowAgg

if TYPE_CHECKING:
    from detector.model.artifact import ModelArtifact

log = logging.getLogger(__name__)
SNAPSHOT_VERSION = 1
WindowKey = tuple[str, str, int]


@dataclass(slots=True)
class DetectStats:
    windows: int = 0
    findings: int = 0  # occurrences published (a repeat of an id counts again)
    suppressed: int = 0
    late_events: int = 0


class Detector:
    """Rules + river + optional IsolationForest → GuardDuty-shaped findings."""

    def __init__(
        self,
        settings: Settings,
        iforest_model: IForestAdapter | None = None,
        history: HistoryStore | None = None,
        artifact: ModelArtifact | None = None,
    ) -> None:
        self.settings = settings
        m = settings.models
        self.rules = RuleBook(settings.rules)
        # The Windower's predicate: events the rules need to see one by one (the rule book's
        # own method, so the per-event call is one call, not two).
        self.notable: Callable[[S3Event], bool] = self.rules.notable
        self.online = RiverScorer(m)
        # issue 4: a model location is loaded only through the verifying loader (sha256 of
        # every file before anything is unpickled); the CLI loads it first to exit 2 cleanly.
        if artifact is None and iforest_model is None and m.iforest_path:
            from detector.model.loader import load_artifact

            artifact = load_artifact(m.iforest_path, settings)
        self.iforest = iforest_model if m.enabled else None
        self.history = (
            history
            if history is not None
            else HistoryStore(settings.history.idle_days * 86400, settings.history.max_principals)
        )
        self._own_history = history is None
        self.store = FindingStore(settings.findings.forget_days)
        f = settings.findings
        self.sequences = SequenceTracker(f.sequence_horizon_seconds, f.sequence_min_reads)
        self.recent = Recent(settings.rules.burst_span_seconds)
        self.ssec = SsecHabit()
        self.suppressor = Suppressor(settings.suppress.rules, settings.suppress.trusted_ips)
        self.first_seen: dict[str, float] = {}  # account → first window start (learning period)
        self.stats = DetectStats()
        self._flagged: set[WindowKey] = set()
        self._pruned = float("-inf")
        self._width = settings.window.width_seconds
        self.artifact: ModelArtifact | None = None
        self._warm_baselines: dict[tuple[str, str], PrincipalHistory] = {}
        if artifact is not None:
            self.apply(artifact)

    def apply(self, artifact: ModelArtifact) -> None:
        """Start warm from a trained artifact (issue 4): its IsolationForest, river population
        models, per-principal baselines, accounts' learning periods and SSE-C habits.

        Baselines go to this detector's history now and to the engine's at ``bind``. A
        checkpoint restored later replaces all of it: it is newer than the artifact.
        """
        warm = artifact.warm
        if self.settings.models.enabled:
            self.iforest = artifact.iforest
            self.online.models = dict(warm.online)
        self.first_seen.update(warm.first_seen)
        self.ssec.usual.update(warm.ssec)
        self.history.by_key.update(warm.histories)
        self._warm_baselines = dict(warm.histories)
        self.artifact = artifact

    def bind(self, history: HistoryStore) -> None:
        """Use the engine's principal histories instead of a private copy."""
        history.by_key.update(self._warm_baselines)  # an artifact's baselines (issue 4), once
        self._warm_baselines = {}
        self.history = history
        self._own_history = False

    def startup_notes(self) -> list[str]:
        """What this detector can and cannot do, for the start-up log."""
        notes = [self.rules.status().line(), self.online.status().line()]
        if not self.settings.models.enabled:
            notes.append("models disabled: running rules only")
        elif self.iforest is None:
            notes.append("no IsolationForest artifact: running rules + online model")
        else:
            notes.append(self.iforest.status().line())
        if self.artifact is not None:
            notes.append(self.artifact.describe())
        if self.rules.tor_missing:
            notes.append(
                f"Tor exit list {self.settings.rules.tor_exit_list!r} not found: Tor rule has no data"
            )
        if not self.rules.internal:
            notes.append(
                "rules.org_accounts is empty: policy grants to other named accounts are not flagged"
            )
        sup = self.settings.suppress
        if sup.rules or sup.trusted_ips:
            notes.append(
                f"suppression: {len(sup.rules)} rules, {len(sup.trusted_ips)} trusted IP entries"
            )
        return notes

    def process(self, batch: Batch) -> list[dict[str, Any]]:
        """Findings created or updated by this batch, in window order."""
        windows, vectors = batch.windows, batch.vectors
        # The online model scores only windows with the volume an anomaly needs (most have not).
        needed = [could_flag(w, self.settings.models) for w in windows]
        online = self.online.score(windows, vectors, needed)
        forest = self.iforest.score(windows, vectors) if self.iforest else [None] * len(windows)
        out: list[dict[str, Any]] = []
        flagged: set[WindowKey] = set()
        for i, w in enumerate(windows):
            scores = {"online": online[i], "iforest": forest[i]}
            found = self._judge(w, scores, live=True, unscored=None if needed[i] else vectors[i])
            if found:
                flagged.add((w.account, w.principal, w.start))
                out += found
        for w in self._late_windows(batch.late):
            out += self._judge(w, {}, live=False)
        clean = [
            (w, v)
            for w, v in zip(windows, vectors, strict=True)
            if (w.account, w.principal, w.start) not in flagged
        ]
        self.online.learn([w for w, _ in clean], [v for _, v in clean])
        self._flagged = flagged
        self.stats.windows += len(windows)
        self.stats.findings += len(out)
        if windows:
            self._prune(windows[-1].start)
        return out

    def learnable(self, batch: Batch) -> list[WindowAgg]:
        """Windows of the last processed batch that raised no finding (for ``engine.learn``)."""
        clean = [w for w in batch.windows if (w.account, w.principal, w.start) not in self._flagged]
        for w in clean:
            self.ssec.learn(w)
        if self._own_history:
            history = self.history
            for w in clean:
                learn(w, history.get(w.account, w.principal))
        return clean

    def _judge(
        self,
        w: WindowAgg,
        scores: dict[str, float | None],
        live: bool,
        unscored: Sequence[float] | None = None,
    ) -> list[dict[str, Any]]:
        """Rules, anomaly and sequence verdicts of one window (``live``: a closed window, not
        a pseudo window of late events, which only the event rules judge). ``unscored``: the
        features of a window the online model passed over, scored here if it has findings."""
        first = self.first_seen.setdefault(w.account, float(w.start))
        learning = w.start - first < self.settings.models.learning_hours * 3600
        h = self.history.peek(w.account, w.principal)
        bursts = None
        if live and not w.service:
            ssec = self.ssec.get(w.account, w.principal)
            totals = self.recent.add(w)
            # A history made only of this burst's own earlier windows is no baseline for it.
            known = h is not None and h.windows > totals.windows - 1
            bursts = BurstContext(totals, ssec, self._width, known)
        hits: list[Hit] = self.rules.evaluate(w, h, learning, bursts)
        devs: dict[str, Deviation] | None = None  # the metrics against the baseline: on demand
        m = self.settings.models
        if live and m.enabled:
            model = combine(list(scores.values()))
            if model_flags(model, w, m):
                devs = deviations(w, h)
                hits += anomaly_hits(w, h, devs, model, m, learning)
        end = float(w.start + self._width)
        seq = self.sequences.observe(w, end, hits, h)
        if seq is not None:
            hits.append(seq)
        if not hits:
            return []  # most windows: nothing to explain
        if devs is None:
            devs = deviations(w, h)
        if unscored is not None:  # the findings say how the online model saw the window
            scores = {**scores, "online": self.online.exact(w, unscored)}
        verdicts = [v for v in group(w, hits, devs) if not self.suppressor.suppress(v)]
        self.stats.suppressed = self.suppressor.suppressed
        text = score_text(scores, self.settings.models.enabled, self.iforest is not None)
        return [self._publish(v, text) for v in verdicts]

    def _publish(self, v: Verdict, scores: dict[str, str]) -> dict[str, Any]:
        h = self.history.peek(v.window.account, v.window.principal)
        finding = build_finding(v, h, self.settings.findings, self._width, scores)
        return self.store.upsert(finding, float(v.window.start + self._width))

    def _late_windows(self, late: Sequence[S3Event]) -> list[WindowAgg]:
        """Late events, grouped per principal into pseudo windows for the event rules."""
        self.stats.late_events += len(late)
        groups: dict[tuple[str, str, int], WindowAgg] = {}
        for ev in late:
            start = int(ev.time) - int(ev.time) % self._width
            key = (ev.account, ev.principal, start)
            if key not in groups:
                groups[key] = WindowAgg(ev.account, ev.principal, start, ev)
            groups[key].add(ev, self.notable(ev))
        return [groups[k].seal() for k in sorted(groups)]

    def _prune(self, now: float) -> None:
        """Forget expired state, at most once per event-time hour (each prune walks a dict)."""
        if now - self._pruned < 3600:
            return
        self._pruned = now
        self.sequences.prune(now)
        self.recent.prune(now)
        self.store.prune(now)

    def snapshot(self) -> bytes:
        """Every piece of detection state (river models, findings, sequences) as bytes."""
        state = {
            "version": SNAPSHOT_VERSION,
            "models": self.online.models,
            "findings": self.store.by_id,
            "sequences": self.sequences.exfil,
            "recent": self.recent.by_key,
            "ssec": self.ssec.usual,
            "first_seen": self.first_seen,
            "suppressed": self.suppressor.suppressed,
            "history": {k: h.state() for k, h in self.history.by_key.items()}
            if self._own_history
            else None,
        }
        return pickle.dumps(state, protocol=5)

    def restore(self, data: bytes) -> None:
        """Load a ``snapshot()`` (of this build; only load snapshots you wrote: pickle)."""
        state = pickle.loads(data)
        if not isinstance(state, dict) or state.get("version") != SNAPSHOT_VERSION:
            raise ModelError("detector snapshot is from another version")
        self.online.models = state["models"]
        self.store.by_id = state["findings"]
        self.sequences.exfil = state["sequences"]
        self.recent.by_key = state["recent"]
        self.ssec.usual = state["ssec"]
        self.first_seen = state["first_seen"]
        self.suppressor.suppressed = state["suppressed"]
        if self._own_history and state.get("history") is not None:
            self.history.by_key = {
                k: PrincipalHistory.from_state(v) for k, v in state["history"].items()
            }
