"""Verdicts → GuardDuty-shaped findings (camelCase, REFERENCE.md), aggregated by stable id.

The id is sha256 of (type, account, principal, resource), so the same anomaly by the same
principal on the same resource is one finding whose ``count``, ``eventLastSeen`` and
``updatedAt`` move, and a restarted daemon or a replay reproduces it. Every time comes from event
time (the window's end and its first / last event), never from the wall clock.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from typing import Any

import orjson

from detector.detect.bursts import dominant_class
from detector.detect.catalog import severity
from detector.detect.decide import Verdict
from detector.detect.explain import anomaly_section, unseen_agents, unseen_ips
from detector.detect.settings import FindingSettings
from detector.detect.text import clean
from detector.events import S3Event
from detector.history import PrincipalHistory

DEFAULT_REGION = "us-east-1"


def iso(t: float) -> str:
    """UTC ISO time with milliseconds, as GuardDuty writes it.

    >>> iso(0)
    '1970-01-01T00:00:00.000Z'
    """
    ms = round((t - int(t)) * 1000) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(int(t))) + f".{ms:03d}Z"


def finding_id(type_name: str, account: str, principal: str, resource: str) -> str:
    raw = "\x1f".join((type_name, account, principal, resource)).encode()
    return hashlib.sha256(raw).hexdigest()[:32]


def _events(v: Verdict) -> list[S3Event]:
    seen: dict[str, S3Event] = {}
    for hit in v.hits:
        for e in hit.events:
            seen.setdefault(e.event_id, e)
    return sorted(seen.values(), key=lambda e: (e.time, e.event_id))


def _caller(v: Verdict, evs: list[S3Event], h: PrincipalHistory | None) -> tuple[str, str]:
    """The IP and agent to show: the events' own, else the window's first-seen, else any."""
    if evs:
        return evs[0].source_ip, evs[0].user_agent
    ips = unseen_ips(v.window, h) or sorted(v.window.ips)
    uas = unseen_agents(v.window, h) or sorted(v.window.uas)
    return (ips[0] if ips else ""), (uas[0] if uas else "")


def _threat_intel(v: Verdict) -> list[dict[str, Any]]:
    lists = {"tor-exit": "TorExitNodes", "threat-ip": "CustomThreatList"}
    return [
        {"threatListName": lists[h.rule], "threatNames": [h.resource]}
        for h in v.hits
        if h.rule in lists
    ]


def _api(v: Verdict, evs: list[S3Event]) -> str:
    if evs:
        return Counter(e.event_name for e in evs).most_common(1)[0][0]
    return dominant_class(v.window)


def _description(v: Verdict, who: str, scores: dict[str, str], width: int) -> str:
    reasons = "; ".join(h.reason for h in v.hits)
    span = f"{iso(v.window.start)[:16]}–{iso(v.window.start + width)[11:16]} UTC"
    models = ", ".join(f"{k} {s}" for k, s in scores.items())
    return f"{who} {reasons} (window {span}, account {v.window.account}). Models: {models}."


def _api_call(
    v: Verdict,
    evs: list[S3Event],
    h: PrincipalHistory | None,
    buckets: list[str],
    s: FindingSettings,
) -> dict[str, Any]:
    """``service.action.awsApiCallAction``: what was called, from where, with what."""
    ip, ua = _caller(v, evs, h)
    call: dict[str, Any] = {
        "api": clean(_api(v, evs), 64),
        "serviceName": "s3.amazonaws.com",
        "callerType": "Remote IP",
        "userAgent": clean(ua, s.max_string),
        "affectedResources": {
            "AWS::S3::Bucket": ",".join(clean(b, 64) for b in buckets[: s.affected_resources])
        },
    }
    if ip:
        call["remoteIpDetails"] = {("ipAddressV6" if ":" in ip else "ipAddressV4"): clean(ip, 64)}
    errors = sorted({e.error_code for e in evs if e.error_code})
    if errors:
        call["errorCode"] = clean(errors[0], 64)
    return call


def _resource(
    v: Verdict, who: str, account: str, buckets: list[str], s: FindingSettings
) -> dict[str, Any]:
    w = v.window
    return {
        "resourceType": "S3Bucket" if buckets else "AccessKey",
        "accessKeyDetails": {
            "accessKeyId": clean(sorted(w.akids)[0], 64) if w.akids else "",
            "principalId": clean(w.principal, s.max_string),
            "userName": who,
            "userType": clean(w.ptype, 64),
        },
        "s3BucketDetails": [
            {
                "arn": f"arn:{s.partition}:s3:::{clean(b, 64)}",
                "name": clean(b, 64),
                "type": "Destination",
                "owner": {"id": account},
            }
            for b in buckets[: s.affected_resources]
        ],
    }


def _service(
    v: Verdict,
    evs: list[S3Event],
    h: PrincipalHistory | None,
    call: dict[str, Any],
    info: dict[str, Any],
    s: FindingSettings,
) -> dict[str, Any]:
    w = v.window
    ids = [e.event_id for e in evs] or [eid for _, eid in w.evidence]
    return {
        "serviceName": "s3ad",
        "detectorId": s.detector_id,
        "action": {"actionType": "AWS_API_CALL", "awsApiCallAction": call},
        "evidence": {
            "threatIntelligenceDetails": _threat_intel(v),
            "eventIds": [clean(i, 64) for i in ids[: s.evidence_events]],
        },
        "detection": {"anomaly": anomaly_section(w, h, v.devs, lambda x: clean(x, s.max_string))},
        "additionalInfo": {
            "value": orjson.dumps(info, option=orjson.OPT_SORT_KEYS).decode(),
            "type": "default",
        },
        "eventFirstSeen": iso(w.first),
        "eventLastSeen": iso(w.last),
        "archived": False,
        "count": 1,
        "resourceRole": "TARGET",
    }


def build_finding(
    v: Verdict,
    h: PrincipalHistory | None,
    s: FindingSettings,
    width: int,
    scores: dict[str, str],
) -> dict[str, Any]:
    """One occurrence of a finding (``count`` 1); ``FindingStore.upsert`` aggregates it."""
    w = v.window
    cut = s.max_string
    who = clean(w.name or w.principal, cut)
    # Record fields are attacker-writable in a forged log file: nothing raw reaches a finding.
    account = clean(w.account, 64)
    evs = _events(v)
    region = evs[0].region if evs else next((e.region for e in w.notable if e.region), "")
    region = clean(region or DEFAULT_REGION, 32)
    fid = finding_id(v.type, w.account, w.principal, v.resource)
    buckets = sorted({v.resource} if v.resource and v.resource in w.buckets else w.buckets)
    end = iso(w.start + width)
    info = {
        "reasons": [clean(hit.reason, 2 * cut) for hit in v.hits],
        "rules": sorted({hit.rule for hit in v.hits}),
        "scores": scores,
        "window": {"start": iso(w.start), "end": end, "events": w.n},
    }
    return {
        "schemaVersion": "2.0",
        "accountId": account,
        "region": region,
        "partition": s.partition,
        "id": fid,
        "arn": f"arn:{s.partition}:guardduty:{region}:{account}:detector/{s.detector_id}/finding/{fid}",
        "type": v.type,
        "severity": severity(v.type, v.strength),
        "title": clean(f"{who} {v.hits[0].reason}", 2 * cut),
        "description": clean(_description(v, who, scores, width), 8 * cut),
        "createdAt": end,
        "updatedAt": end,
        "resource": _resource(v, who, account, buckets, s),
        "service": _service(v, evs, h, _api_call(v, evs, h, buckets, s), info, s),
    }


class FindingStore:
    """Findings by id, so repeats update one finding; forgets ids idle for ``forget_days``."""

    def __init__(self, forget_days: float = 30.0) -> None:
        self.by_id: dict[str, dict[str, Any]] = {}
        self.forget_seconds = forget_days * 86400

    def upsert(self, new: dict[str, Any], now: float) -> dict[str, Any]:
        """Fold one occurrence in and return the finding as it now stands."""
        old = self.by_id.get(new["id"])
        if old is not None:
            svc, osvc = new["service"], old["service"]
            new["createdAt"] = old["createdAt"]
            svc["count"] = osvc["count"] + 1
            svc["eventFirstSeen"] = min(osvc["eventFirstSeen"], svc["eventFirstSeen"])
            svc["eventLastSeen"] = max(osvc["eventLastSeen"], svc["eventLastSeen"])
            new["updatedAt"] = max(old["updatedAt"], new["updatedAt"])
            new["severity"] = max(old["severity"], new["severity"])
        new["_touched"] = now
        self.by_id[new["id"]] = new
        return {k: val for k, val in new.items() if k != "_touched"}

    def prune(self, now: float) -> int:
        stale = [k for k, f in self.by_id.items() if now - f["_touched"] > self.forget_seconds]
        for k in stale:
            del self.by_id[k]
        return len(stale)


def score_text(scores: dict[str, float | None], enabled: bool, forest: bool) -> dict[str, str]:
    """How each model saw the window, in words (percentiles of the population's windows)."""
    if not enabled:
        return {"models": "disabled (rules only)"}

    def pct(v: float | None, missing: str) -> str:
        return missing if v is None else f"{100 * v:.1f}th percentile"

    out = {"online model": pct(scores.get("online"), "still learning")}
    out["isolation forest"] = pct(scores.get("iforest"), "n/a") if forest else "no artifact"
    return out
