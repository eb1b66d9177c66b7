"""Per-principal baselines → the explanation vocabulary of a finding.

For each metric of a window: the observed value, the principal's usual value, a robust z and the
ratio; for each categorical dimension (source IP, user agent, bucket, hour of day): how often the
principal used it, as GuardDuty's ``profileSubtype`` (UNSEEN / RARE / INFREQUENT / FREQUENT).
``anomaly_section`` renders both in the shape of GuardDuty's ``service.detection.anomaly``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from detector.events import API_CLASSES
from detector.features import tracked_values
from detector.history import (
    FREQUENT,
    INFREQUENT,
    RARE,
    TRACKED,
    UNSEEN,
    PrincipalHistory,
    frequency_subtype,
)
from detector.windows import WindowAgg

_T = {name: i for i, name in enumerate(TRACKED)}


@dataclass(frozen=True, slots=True)
class Deviation:
    metric: str
    observed: float
    usual: float | None  # None: no history
    z: float

    @property
    def ratio(self) -> float | None:
        """observed / usual (usual floored at 1, bytes at 1 KiB); None without history."""
        if self.usual is None:
            return None
        floor = 1024.0 if self.metric.startswith("bytes") else 1.0
        return self.observed / max(self.usual, floor)

    @property
    def subtype(self) -> str:
        """UNSEEN when the principal never does this, RARE at 10×, INFREQUENT at 3× its usual."""
        r = self.ratio
        if self.usual is None or self.usual < 0.5:
            return UNSEEN
        if r is not None and r >= 10:
            return RARE
        return INFREQUENT if r is not None and r >= 3 else FREQUENT


def deviations(w: WindowAgg, h: PrincipalHistory | None) -> dict[str, Deviation]:
    """Every tracked metric of the window against the principal's history."""
    vals = tracked_values(w)
    known = h is not None and h.windows > 0
    out = {}
    for name, i in _T.items():
        usual = h.usual(i) if known and h is not None else None
        z = h.z(i, vals[i]) if known and h is not None else 0.0
        out[name] = Deviation(name, vals[i], usual, z)
    return out


def unseen_ips(w: WindowAgg, h: PrincipalHistory | None) -> list[str]:
    if h is None or h.windows == 0:
        return []
    return sorted(ip for ip in w.ips if ip not in h.ips)


def unseen_agents(w: WindowAgg, h: PrincipalHistory | None) -> list[str]:
    if h is None or h.windows == 0:
        return []
    return sorted(ua for ua in w.uas if ua not in h.uas)


def routine(table: dict[str, int]) -> bool:
    """Does this principal see new values all the time (CI runners, autoscaled fleets)?

    >>> routine({f"10.0.0.{i}": 1 for i in range(20)}), routine({"office": 400, "home": 90})
    (True, False)
    """
    return len(table) >= 8 and sum(1 for c in table.values() if c <= 2) >= len(table) / 2


def hour_subtype(w: WindowAgg, h: PrincipalHistory | None) -> str | None:
    if h is None or h.windows == 0:
        return None
    return frequency_subtype(h.hours[int(w.start // 3600) % 24], h.windows)


def _profile(subtype: str, text: list[str]) -> dict[str, Any]:
    return {"profileType": "FREQUENCY", "profileSubtype": subtype, "observations": {"text": text}}


def _categorical(table: dict[str, int], values: set[str], total: int) -> tuple[str, list[str]]:
    """The rarest subtype among ``values`` and the values that have it."""
    order = [UNSEEN, RARE, INFREQUENT, FREQUENT]
    subs = {v: frequency_subtype(table.get(v, 0), total) for v in values}
    if not subs:
        return FREQUENT, []
    worst = min(subs.values(), key=order.index)
    return worst, sorted(v for v, s in subs.items() if s == worst)


def anomaly_section(
    w: WindowAgg,
    h: PrincipalHistory | None,
    devs: dict[str, Deviation],
    trim: Any,
) -> dict[str, Any]:
    """GuardDuty-shaped ``detection.anomaly``: unusual behaviour and the profiles it broke."""
    who = trim(w.name or w.principal)
    behavior: dict[str, Any] = {}
    profiles: dict[str, Any] = {}
    for name, d in devs.items():
        if d.observed <= 0 or d.subtype == FREQUENT:
            continue
        usual = "none (no history)" if d.usual is None else f"{d.usual:.3g}"
        behavior[name] = _profile(d.subtype, [f"observed {d.observed:.0f}", f"usual {usual}"])
    calls = {c: n for c, n in zip(API_CLASSES, w.counts, strict=True) if n}
    behavior["apiCalls"] = _profile(FREQUENT, [f"{c} {n}" for c, n in sorted(calls.items())])
    if h is not None and h.windows > 0:
        for field, table, values in (
            ("remoteIp", h.ips, w.ips),
            ("userAgent", h.uas, w.uas),
            ("bucket", h.buckets, w.buckets),
        ):
            sub, vals = _categorical(table, values, h.windows)
            profiles[field] = [_profile(sub, [trim(v) for v in vals[:5]])]
        hour = int(w.start // 3600) % 24
        sub = frequency_subtype(h.hours[hour], h.windows)
        profiles["hourOfDay"] = [_profile(sub, [f"{hour:02d}:00 UTC"])]
        profiles["historyWindows"] = [_profile(FREQUENT, [str(h.windows)])]
    else:
        profiles["history"] = [_profile(UNSEEN, ["no history for this principal yet"])]
    return {"unusual": {"behavior": {who: behavior}}, "profiles": {who: profiles}}
