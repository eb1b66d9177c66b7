"""Decide: model scores + baselines + rule hits → verdicts (type, resource, strength, reasons).

The anomaly type comes from *what* was anomalous: the API class whose volume is furthest beyond
the principal's usual (reads → Exfiltration, deletes → Impact.Delete, writes → Impact.Write,
permission / configuration changes → Impact.Permission, listing / metadata → Discovery). A
window becomes an anomaly only when a warm model ranks it above ``models.threshold`` *and* some
class passes the volume gates (``min_calls``, ``ratio_min`` × usual, ``z_min``) *and* something
about the context was unusual too (a first-seen IP or agent, a rare hour, many denied calls) —
unless the volume alone is extreme (``z_alone``). A model alone cannot explain itself; more
of the usual from the usual place at the usual time is a deploy, a backfill, a busy day.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, TypeGuard

from detector.detect.catalog import CLASS_TYPE, SEQUENCE, purpose
from detector.detect.explain import Deviation, hour_subtype, routine, unseen_agents, unseen_ips
from detector.detect.hits import Hit
from detector.detect.online import HUMAN
from detector.detect.online_scorer import population
from detector.detect.settings import ModelSettings
from detector.events import API_CLASSES, OTHER, READ
from detector.history import RARE, TRACKED, UNSEEN, PrincipalHistory
from detector.windows import WindowAgg

# Class → tracked metric it is compared with; classes without their own baseline are compared
# with all of the principal's calls (stricter: more such calls than it usually makes at all).
CLASS_METRIC = {"read": "reads", "write": "writes", "delete": "deletes", "list": "lists"}
_WEIGHT = {"delete": 4, "permission": 3, "read": 2, "write": 1}  # tie-break: the worse class
_MOVES_DATA = frozenset({"read", "write", "delete"})


@dataclass(slots=True)
class Verdict:
    """Everything one finding is made of."""

    type: str
    resource: str
    window: WindowAgg
    hits: list[Hit]
    devs: dict[str, Deviation]
    scores: dict[str, float | None] = field(default_factory=dict)

    @property
    def strength(self) -> float:
        return max(h.strength for h in self.hits)


def human_bytes(n: float) -> str:
    """Bytes for people.

    >>> human_bytes(4.2e9), human_bytes(512)
    ('4.2 GB', '512 B')
    """
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n:.0f} B"


def _times(ratio: float | None) -> str:
    if ratio is None:
        return "a principal with no history"
    return f"{ratio:,.0f}× its usual" if ratio >= 2 else "above its usual"


class Excess(NamedTuple):
    """One API class far beyond the principal's usual."""

    score: float  # log10 of how far: orders the candidates
    cls: str
    ratio: float | None  # × the usual; None without a baseline
    extreme: bool  # far enough that no unusual context is needed


def _baseline(h: PrincipalHistory | None, s: ModelSettings) -> str:
    if h is None or h.windows == 0:
        return "new"
    return "mature" if h.windows >= s.min_history_windows else "young"


def class_excess(
    w: WindowAgg,
    h: PrincipalHistory | None,
    devs: dict[str, Deviation],
    s: ModelSettings,
    learning: bool,
) -> list[Excess]:
    """API classes far beyond the principal's usual, the furthest first.

    A mature baseline needs ``ratio_min`` × usual and ``z_min``; a young one (fewer than
    ``min_history_windows``) only counts the extreme (``z_alone``); a principal without history
    only when it moves data in bulk (``new_principal_calls`` reads, writes or deletes) — a new
    principal sweeping metadata is an inventory or an audit's first run.
    """
    base = _baseline(h, s)
    out: list[Excess] = []
    for i, cls in enumerate(API_CLASSES):
        x = w.counts[i]
        if cls == OTHER or x < s.min_calls:
            continue
        d = devs[CLASS_METRIC.get(cls, "events")]
        if base == "new":
            if not learning and x >= s.new_principal_calls and cls in _MOVES_DATA:
                out.append(Excess(math.log10(x / s.new_principal_calls) + 1, cls, None, True))
            continue
        if base == "young" and learning:
            continue  # everyone is young while the account is new
        assert h is not None and d.usual is not None
        z = h.z(TRACKED.index(d.metric), x)
        ratio = x / max(d.usual, 1.0)
        if ratio >= s.ratio_min and z >= (s.z_min if base == "mature" else s.z_alone):
            out.append(Excess(math.log10(ratio), cls, ratio, z >= s.z_alone))
    b = devs["bytes_out"]
    if (
        (base == "mature" or (base == "young" and not learning))
        and b.usual is not None
        and b.observed >= s.min_bytes_out
    ):
        ratio = b.ratio or 0.0
        far = ratio >= s.ratio_min and b.z >= (s.z_min if base == "mature" else s.z_alone)
        if far and not any(e.cls == READ for e in out):
            out.append(Excess(math.log10(ratio), READ, ratio, b.z >= s.z_alone))
    return sorted(out, key=lambda e: (e.score + 0.01 * _WEIGHT.get(e.cls, 0), e.cls), reverse=True)


def context_clues(w: WindowAgg, h: PrincipalHistory | None, human: bool) -> list[str]:
    """What else was unusual: many denied calls, first-seen IPs / agents (for principals whose
    IPs and agents are stable), an hour a person is rarely active at."""
    clues = []
    if w.denied >= max(5, 0.2 * w.n):
        clues.append(f"{w.denied:,} calls denied")
    if h is None or h.windows == 0:
        return clues
    ips = [] if routine(h.ips) else unseen_ips(w, h)
    if ips:
        many = len(ips) > 1
        clues.append(
            f"from {len(ips)} IPs never seen for it" if many else "from an IP never seen for it"
        )
    if unseen_agents(w, h) and not routine(h.uas):
        clues.append("with a new user agent")
    if human and hour_subtype(w, h) in (UNSEEN, RARE):
        clues.append(f"at an unusual hour ({int(w.start // 3600) % 24:02d}:00 UTC)")
    return clues


def _clause(cls: str, w: WindowAgg, devs: dict[str, Deviation], ratio: float | None) -> str:
    n = w.counts[API_CLASSES.index(cls)]
    buckets = f"{len(w.buckets)} bucket{'s' if len(w.buckets) != 1 else ''}"
    if cls == READ:
        vol = human_bytes(w.bytes_out)
        return f"read {vol} ({n:,} objects) from {buckets} — {_times(ratio)}"
    verbs = {
        "delete": f"deleted objects {n:,} times in {buckets}",
        "write": f"wrote {n:,} objects to {buckets}"
        + (f", {w.ssec:,} with SSE-C customer keys" if w.ssec else ""),
        "permission": f"changed permissions {n:,} times on {buckets}",
        "config": f"changed bucket configuration {n:,} times on {buckets}",
    }
    default = f"made {n:,} {cls} calls across {buckets}"
    return f"{verbs.get(cls, default)} — {_times(ratio)}"


_GATED = tuple(i for i, cls in enumerate(API_CLASSES) if cls != OTHER)


def could_flag(w: WindowAgg, s: ModelSettings) -> bool:
    """Could any model score make this window an anomaly? Only with the volume ``class_excess``
    needs: an API class (other than "other") at ``min_calls`` or reads of ``min_bytes_out``.
    Most windows have neither, and the online model skips scoring them (issue 6).

    Kept next to ``class_excess``: it is that function's precondition, so the two change together.
    """
    if w.service:
        return False
    if w.bytes_out >= s.min_bytes_out:
        return True
    counts = w.counts
    floor = s.min_calls
    return any(counts[i] >= floor for i in _GATED)


def model_flags(model: float | None, w: WindowAgg, s: ModelSettings) -> TypeGuard[float]:
    """Does the model rank this window high enough to be an anomaly at all? Nothing else about
    the window (its deviations from the baseline) is worth working out otherwise."""
    return not w.service and model is not None and model >= s.threshold


def anomaly_hits(
    w: WindowAgg,
    h: PrincipalHistory | None,
    devs: dict[str, Deviation],
    model: float | None,
    s: ModelSettings,
    learning: bool,
) -> list[Hit]:
    """The anomaly verdict of one window (at most one hit: its dominant anomalous class)."""
    if not model_flags(model, w, s):
        return []
    excess = class_excess(w, h, devs, s, learning)
    if not excess:
        return []
    log_excess, cls, ratio, extreme = excess[0]
    mature = _baseline(h, s) == "mature"
    clues = context_clues(w, h, population(w) == HUMAN) if mature else []
    if not clues and not extreme:
        return []  # more of the usual, from the usual place at the usual time: a busy day
    reason = ", ".join([_clause(cls, w, devs, ratio), *clues])
    strength = 0.35 * model + 0.35 * min(1.0, log_excess / 3) + 0.3 * min(1.0, len(clues) / 2)
    return [Hit(CLASS_TYPE[cls], "anomaly", round(strength, 3), "", reason)]


class SequenceTracker:
    """Exfiltration, then deletion or re-encryption by the same principal within the horizon.

    "Exfiltration" is an Exfiltration finding *or* a weaker signal that is not a finding on its
    own: at least ``min_reads`` reads from an IP or agent never seen for the principal. Stolen
    credentials often read at the principal's usual volume; what gives them away is where the
    reads came from and what followed.
    """

    def __init__(self, horizon: float, min_reads: int = 10) -> None:
        self.horizon = horizon
        self.min_reads = min_reads
        self.exfil: dict[tuple[str, str], tuple[float, str]] = {}  # → (last exfil end, what)

    def _suspicious_reads(self, w: WindowAgg, h: PrincipalHistory | None) -> str:
        reads = w.counts[API_CLASSES.index(READ)]
        if reads < self.min_reads or h is None or h.windows == 0:
            return ""
        ips = [] if routine(h.ips) else unseen_ips(w, h)
        uas = [] if routine(h.uas) else unseen_agents(w, h)
        if not ips and not uas:
            return ""
        where = "an IP never seen for it" if ips else "a user agent never seen for it"
        return f"read {human_bytes(w.bytes_out)} ({reads:,} objects) from {where}"

    def observe(
        self, w: WindowAgg, end: float, hits: Sequence[Hit], h: PrincipalHistory | None
    ) -> Hit | None:
        key = (w.account, w.principal)
        prior = self.exfil.get(key)
        if prior is not None and end - prior[0] > self.horizon:
            del self.exfil[key]
            prior = None
        exfil = [
            x.reason
            for x in hits
            if purpose(x.type) == "Exfiltration" and x.rule != "credential-read"
        ]
        if not exfil and (weak := self._suspicious_reads(w, h)):
            exfil = [weak]
        destroy = [x for x in hits if _destructive(x, w)]
        seq = None
        if destroy and (prior is not None or exfil):
            before = exfil[0] if exfil else prior[1] if prior else ""
            reason = f"{before}; then {destroy[0].reason}"
            seq = Hit(SEQUENCE, "sequence", 1.0, "", reason, destroy[0].events)
        if exfil:
            self.exfil[key] = (end, exfil[0])
        return seq

    def prune(self, now: float) -> None:
        for key in [k for k, (t, _) in self.exfil.items() if now - t > self.horizon]:
            del self.exfil[key]


def _destructive(hit: Hit, w: WindowAgg) -> bool:
    if hit.type.endswith(".Delete"):
        return True
    return hit.type.endswith(".Write") and (
        hit.rule in ("ssec-overwrite", "ransom-note") or w.ssec > 0
    )


def group(w: WindowAgg, hits: Sequence[Hit], devs: dict[str, Deviation]) -> list[Verdict]:
    """One verdict per (type, resource); hits of the same pair merge into it."""
    by_key: dict[tuple[str, str], Verdict] = {}
    # The anomaly's and the sequence's reasons carry the context (× usual, new IP): title first.
    for hit in sorted(hits, key=lambda x: x.rule not in ("sequence", "anomaly")):
        key = (hit.type, hit.resource)
        v = by_key.get(key)
        if v is None:
            by_key[key] = Verdict(hit.type, hit.resource, w, [hit], devs)
        else:
            v.hits.append(hit)
    return [by_key[k] for k in sorted(by_key)]
