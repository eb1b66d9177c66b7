"""Burst backstops: packed bursts that behaviour models handle badly (REFERENCE.md).

Each rule fires when the total over the last ``rules.burst_span_seconds`` reaches an absolute
floor from ``[rules]``, *and* the current window carries its share of it (a third of the floor
for a 15-minute span of 5-minute windows, so a burst does not keep firing after it stopped),
*and* the current window is ``burst_ratio`` times the principal's usual — so a job that always
deletes thousands of objects is not a mass deletion. A principal without history is judged on
the floors alone, except while its account is still in its learning period (everyone is new
then, so "new" means nothing); a principal whose whole history lies inside the span counts as
new — the first window of a burst would otherwise become its "usual".
"""

from __future__ import annotations

import math
from typing import NamedTuple

from detector.detect.catalog import CLASS_TYPE, DELETE_ANOMALY, DISCOVERY_ANOMALY, WRITE_ANOMALY
from detector.detect.hits import Hit
from detector.detect.recent import Totals
from detector.detect.settings import RuleSettings
from detector.events import API_CLASSES, DELETE
from detector.history import TRACKED, PrincipalHistory
from detector.windows import CLASS_INDEX, WindowAgg

_T = {name: i for i, name in enumerate(TRACKED)}


class Burst(NamedTuple):
    rule: str
    total: int  # over the span
    now: int  # in the current window
    floor: int
    usual: float | None  # the principal's usual per window (None: no history)


def strength(count: float, floor: float) -> float:
    """0.3 at the floor, 1.0 at ten times it.

    >>> strength(50, 50), strength(500, 50)
    (0.3, 1.0)
    """
    if count <= 0 or floor <= 0:
        return 0.0
    return round(min(1.0, max(0.0, 0.3 + 0.7 * math.log10(count / floor))), 3)


def dominant_class(w: WindowAgg) -> str:
    """The API class with the most calls (ties: the earlier in API_CLASSES)."""
    best = max(range(len(API_CLASSES)), key=lambda i: (w.counts[i], -i))
    return API_CLASSES[best]


def _usual(h: PrincipalHistory | None, metric: str, baseline: bool) -> float | None:
    return h.usual(_T[metric]) if h is not None and baseline else None


def _fires(b: Burst, s: RuleSettings, windows: int, learning: bool) -> bool:
    if b.total < b.floor or b.now * max(windows, 1) < b.floor:
        return False
    if b.usual is None:
        return not learning
    return b.now >= s.burst_ratio * max(b.usual, 1.0)


def _usual_text(b: Burst, unit: str) -> str:
    if b.usual is None:
        return "a principal with no history"
    return f"usually {b.usual:.0f} {unit} a window"


def _span(b: Burst, s: RuleSettings) -> str:
    return "" if b.total == b.now else f" ({b.total:,} in {s.burst_span_seconds / 60:.0f} min)"


class BurstContext(NamedTuple):
    """What the burst rules know beyond the window: the span's totals, SSE-C habit, width."""

    totals: Totals
    ssec_usual: float
    width: int
    baseline: bool  # the principal has history from before the span: it has a "usual"


def burst_hits(
    w: WindowAgg, h: PrincipalHistory | None, ctx: BurstContext, s: RuleSettings, learning: bool
) -> list[Hit]:
    """Mass deletion, SSE-C overwrites, AccessDenied sprays, many buckets at once."""
    t, ssec_usual = ctx.totals, ctx.ssec_usual
    deletes = w.counts[CLASS_INDEX[DELETE]]
    windows = max(1, int(s.burst_span_seconds // ctx.width))
    specs = [
        (Burst("mass-delete", t.deletes, deletes, s.mass_delete_count, _usual(h, "deletes", ctx.baseline)), DELETE_ANOMALY),
        (Burst("ssec-overwrite", t.ssec, w.ssec, s.ssec_write_count, ssec_usual if ctx.baseline else None), WRITE_ANOMALY),
        (Burst("access-denied-spray", t.denied, w.denied, s.denied_spray_count, _usual(h, "errors", ctx.baseline)), DISCOVERY_ANOMALY),
        (Burst("many-buckets", t.buckets, len(w.buckets), s.distinct_buckets_count, _usual(h, "buckets", ctx.baseline)), ""),
    ]  # fmt: skip
    hits = []
    for b, kind in specs:
        if not _fires(b, s, windows, learning):
            continue
        if b.rule == "many-buckets":
            if b.usual is None and w.denied < 0.1 * w.n:
                continue  # a new principal sweeping buckets successfully: an inventory or audit
            kind = CLASS_TYPE.get(dominant_class(w), DISCOVERY_ANOMALY)
        hits.append(Hit(kind, b.rule, strength(b.total, b.floor), "", _reason(b, w, s)))
    return hits


def _reason(b: Burst, w: WindowAgg, s: RuleSettings) -> str:
    span = _span(b, s)
    if b.rule == "mass-delete":
        multi = f", {w.delete_objects} of them multi-object" if w.delete_objects else ""
        return f"made {b.now:,} delete calls{multi}{span} — {_usual_text(b, 'deletes')}"
    if b.rule == "ssec-overwrite":
        return f"rewrote {b.now:,} objects with a customer-provided key (SSE-C){span} — {_usual_text(b, 'SSE-C writes')}"
    if b.rule == "access-denied-spray":
        return f"was denied {b.now:,} times (AccessDenied){span} across {len(w.buckets)} buckets — {_usual_text(b, 'errors')}"
    return f"touched {b.now} buckets in one window ({b.total} in {s.burst_span_seconds / 60:.0f} min) — {_usual_text(b, 'buckets')}"
