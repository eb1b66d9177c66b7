"""Burst backstops: packed bursts that behaviour models handle badly (REFERENCE.md).

Each rule fires on an absolute floor from ``[rules]`` *and* a multiple of the principal's usual
(``burst_ratio``), so a job that always deletes thousands of objects is not a mass deletion. A
principal without history is judged on the floor alone, except while its account is still in
its learning period (everyone is new then, so "new" means nothing).
"""

from __future__ import annotations

import math

from detector.detect.catalog import CLASS_TYPE, DELETE_ANOMALY, DISCOVERY_ANOMALY, WRITE_ANOMALY
from detector.detect.hits import Hit
from detector.detect.settings import RuleSettings
from detector.events import API_CLASSES, DELETE, S3Event
from detector.history import TRACKED, PrincipalHistory
from detector.windows import CLASS_INDEX, WindowAgg

_T = {name: i for i, name in enumerate(TRACKED)}


def strength(count: float, floor: float) -> float:
    """0.3 at the floor, 1.0 at ten times it.

    >>> strength(50, 50), strength(500, 50)
    (0.3, 1.0)
    """
    if count <= 0 or floor <= 0:
        return 0.0
    return round(min(1.0, max(0.0, 0.3 + 0.7 * math.log10(count / floor))), 3)


def beyond_usual(
    h: PrincipalHistory | None, metric: str, value: float, ratio: float, learning: bool
) -> tuple[bool, float | None]:
    """(is ``value`` a burst for this principal, its usual value or None when unknown)."""
    if h is None or h.windows == 0:
        return (not learning), None
    usual = h.usual(_T[metric])
    return value >= ratio * max(usual, 1.0), usual


def _usual_text(usual: float | None, unit: str = "") -> str:
    if usual is None:
        return "a principal with no history"
    return f"usually {usual:.0f}{' ' + unit if unit else ''} a window"


def dominant_class(w: WindowAgg) -> str:
    """The API class with the most calls (ties: the earlier in API_CLASSES)."""
    best = max(range(len(API_CLASSES)), key=lambda i: (w.counts[i], -i))
    return API_CLASSES[best]


def _sample(w: WindowAgg, pred: str) -> tuple[S3Event, ...]:
    if pred == "denied":
        return tuple(e for e in w.notable if e.error_code.startswith("AccessDenied"))[:10]
    return ()


def burst_hits(
    w: WindowAgg, h: PrincipalHistory | None, s: RuleSettings, learning: bool
) -> list[Hit]:
    """Mass deletion, SSE-C overwrites, AccessDenied sprays, many buckets at once."""
    hits: list[Hit] = []
    deletes = w.counts[CLASS_INDEX[DELETE]]
    if deletes >= s.mass_delete_count:
        burst, usual = beyond_usual(h, "deletes", deletes, s.burst_ratio, learning)
        if burst:
            extra = f", {w.delete_objects} of them multi-object" if w.delete_objects else ""
            reason = f"made {deletes:,} delete calls{extra} — {_usual_text(usual, 'deletes')}"
            hits.append(
                Hit(
                    DELETE_ANOMALY,
                    "mass-delete",
                    strength(deletes, s.mass_delete_count),
                    "",
                    reason,
                )
            )
    if w.ssec >= s.ssec_write_count:
        burst, usual = beyond_usual(h, "writes", w.ssec, s.burst_ratio, learning)
        if burst:
            reason = f"rewrote {w.ssec:,} objects with a customer-provided key (SSE-C) — {_usual_text(usual, 'writes')}"
            hits.append(
                Hit(
                    WRITE_ANOMALY,
                    "ssec-overwrite",
                    strength(w.ssec, s.ssec_write_count),
                    "",
                    reason,
                )
            )
    if w.denied >= s.denied_spray_count:
        burst, usual = beyond_usual(h, "errors", w.denied, s.burst_ratio, learning)
        if burst:
            reason = (
                f"was denied {w.denied:,} times (AccessDenied) — {_usual_text(usual, 'errors')}"
            )
            hits.append(
                Hit(
                    DISCOVERY_ANOMALY,
                    "access-denied-spray",
                    strength(w.denied, s.denied_spray_count),
                    "",
                    reason,
                    _sample(w, "denied"),
                )
            )
    n_buckets = len(w.buckets)
    if n_buckets >= s.distinct_buckets_count:
        burst, usual = beyond_usual(h, "buckets", n_buckets, s.burst_ratio, learning)
        if burst:
            kind = CLASS_TYPE.get(dominant_class(w), DISCOVERY_ANOMALY)
            reason = f"touched {n_buckets} buckets in one window — {_usual_text(usual)}"
            hits.append(
                Hit(kind, "many-buckets", strength(n_buckets, s.distinct_buckets_count), "", reason)
            )
    return hits
