"""The ONE ordered feature list, computed from a closed window plus the principal's history.

Every model reads these names in this order (river as a dict, numpy as columns) and stores
``FEATURE_HASH`` with its artifact. Counts are ``log1p``-scaled so bursts do not dwarf
everything; "*_z" features are principal-relative (how unusual for *this* principal), which is
what lets one global model serve principals with very different volumes.
"""

from __future__ import annotations

import hashlib
import math

from detector.events import CONFIG, DELETE, DISCOVERY, LIST, PERMISSION, READ, WRITE
from detector.history import TRACKED, PrincipalHistory
from detector.sketch import estimate
from detector.windows import CLASS_INDEX, WindowAgg

# name → one-line meaning (the README's feature table is generated from this).
FEATURE_DOCS: dict[str, str] = {
    "events": "log1p of calls in the window",
    "reads": "log1p of object reads (GetObject…)",
    "writes": "log1p of object writes (PutObject, CopyObject, multipart…)",
    "deletes": "log1p of deletes (DeleteObject, DeleteObjects…)",
    "lists": "log1p of listing calls (ListObjects, ListBuckets…)",
    "discovery": "log1p of metadata calls (HeadObject, Get*Acl, GetBucketPolicy…)",
    "permission": "log1p of permission changes (bucket policy, ACL, public-access block)",
    "config": "log1p of bucket configuration changes (logging, encryption, versioning, lifecycle)",
    "distinct_buckets": "log1p of distinct buckets touched",
    "distinct_keys": "log1p of distinct object keys touched (sketch, exact below 1024)",
    "distinct_prefixes": "log1p of distinct key prefixes (folders) touched",
    "bytes_out": "log1p of bytes transferred out of S3",
    "bytes_in": "log1p of bytes transferred into S3",
    "errors": "log1p of calls that returned an error",
    "access_denied": "log1p of calls denied (AccessDenied*)",
    "error_rate": "share of calls that failed",
    "new_ip": "share of the window's source IPs never seen for this principal",
    "new_user_agent": "share of the window's user agents never seen for this principal",
    "new_buckets": "log1p of buckets never touched before by this principal",
    "hour_rarity": "1 − how often this principal is active at this hour of day (0 usual, 1 never)",
    "delete_share": "deletes / calls",
    "ssec_writes": "log1p of writes carrying an SSE-C customer key",
    "delete_objects_calls": "log1p of multi-object DeleteObjects calls",
    "cross_account_share": "share of calls made from another account",
    "anonymous": "1 when the caller is the anonymous principal",
    "history_windows": "log1p of active windows in this principal's history (its maturity)",
    "events_z": "calls vs this principal's usual (z of log1p, ±10)",
    "reads_z": "reads vs usual",
    "writes_z": "writes vs usual",
    "deletes_z": "deletes vs usual",
    "lists_z": "listing calls vs usual",
    "bytes_out_z": "bytes out vs usual",
    "buckets_z": "distinct buckets vs usual",
    "errors_z": "errors vs usual",
}
FEATURES: tuple[str, ...] = tuple(FEATURE_DOCS)
FEATURE_INDEX = {name: i for i, name in enumerate(FEATURES)}
FEATURE_HASH = hashlib.sha256("\n".join(FEATURES).encode()).hexdigest()[:16]

_I = CLASS_INDEX
_T = {name: i for i, name in enumerate(TRACKED)}
# the tracked values whose z-scores are features, in FEATURES order (the *_z names)
_Z = tuple(
    _T[m]
    for m in ("events", "reads", "writes", "deletes", "lists", "bytes_out", "buckets", "errors")
)


def tracked_values(w: WindowAgg) -> list[float]:
    """The raw window values the history tracks, in ``TRACKED`` order."""
    c = w.counts
    return [
        float(w.n),
        float(c[_I[READ]]),
        float(c[_I[WRITE]]),
        float(c[_I[DELETE]]),
        float(c[_I[LIST]]),
        float(w.bytes_out),
        float(w.bytes_in),
        float(len(w.buckets)),
        float(w.errors),
    ]


def _unseen_share(values: set[str], known: dict[str, int]) -> float:
    if not values or not known:
        return 1.0 if values and not known else 0.0
    return len(values - known.keys()) / len(values)


def featurize(w: WindowAgg, h: PrincipalHistory | None) -> list[float]:
    """Feature vector of a closed window, judged against history *before* this window."""
    c = w.counts
    n = max(w.n, 1)
    lg = math.log1p
    vals = tracked_values(w)
    if h is not None and h.windows > 0:
        new_ip = _unseen_share(w.ips, h.ips)
        new_ua = _unseen_share(w.uas, h.uas)
        new_buckets = sum(1 for b in w.buckets if b not in h.buckets)
        hour = int(w.start // 3600) % 24
        hour_rarity = 1.0 - (h.hours[hour] / h.windows) ** 0.5
        zs = [h.z(i, vals[i]) for i in _Z]
        windows = h.windows
    else:
        # A principal with no history: everything is new; the z-scores carry no information.
        new_ip = new_ua = 1.0
        new_buckets = len(w.buckets)
        hour_rarity = 1.0
        zs = [0.0] * 8
        windows = 0
    return [
        lg(w.n),
        lg(c[_I[READ]]),
        lg(c[_I[WRITE]]),
        lg(c[_I[DELETE]]),
        lg(c[_I[LIST]]),
        lg(c[_I[DISCOVERY]]),
        lg(c[_I[PERMISSION]]),
        lg(c[_I[CONFIG]]),
        lg(len(w.buckets)),
        lg(estimate(w.keys)),
        lg(estimate(w.prefixes)),
        lg(w.bytes_out),
        lg(w.bytes_in),
        lg(w.errors),
        lg(w.denied),
        w.errors / n,
        new_ip,
        new_ua,
        lg(new_buckets),
        hour_rarity,
        c[_I[DELETE]] / n,
        lg(w.ssec),
        lg(w.delete_objects),
        w.cross / n,
        1.0 if w.anonymous else 0.0,
        lg(windows),
        *zs,
    ]


def learn(w: WindowAgg, h: PrincipalHistory) -> None:
    """Absorb a closed window into the principal's history."""
    h.update(tracked_values(w), int(w.start // 3600) % 24, w.ips, w.uas, w.buckets, w.last)


assert len(FEATURES) == 34, "featurize() and FEATURE_DOCS must stay in step"
