"""Event rules over the calls themselves: configuration changes, object names, root.

Block-public-access weakened, policies / ACLs granting the public or outside accounts, server
access logging switched off (``policy.py`` reads the requests), ransom-note keys, credential-file
reads from an unfamiliar IP or agent, and root credentials on S3 data (typed by what root did:
reads are Exfiltration, writes Impact, listing Discovery).
"""

from __future__ import annotations

from collections import Counter

from detector.detect import catalog as t
from detector.detect.explain import routine
from detector.detect.hits import Hit
from detector.detect.keypatterns import KeyPatterns
from detector.detect.policy import (
    ANONYMOUS,
    AUTHENTICATED,
    acl_grants,
    logging_disabled,
    policy_grants,
    public_access_block_weakened,
)
from detector.events import READ, WRITE, S3Event
from detector.history import PrincipalHistory
from detector.windows import WindowAgg

BPA_BUCKET = frozenset({"PutBucketPublicAccessBlock", "DeleteBucketPublicAccessBlock"})
BPA_ACCOUNT = frozenset({"PutAccountPublicAccessBlock", "DeleteAccountPublicAccessBlock"})
BPA_EITHER = frozenset({"DeletePublicAccessBlock", "PutPublicAccessBlock"})
GRANTING = frozenset({"PutBucketPolicy", "PutBucketAcl", "PutObjectAcl"})
_SEVERITY_ORDER = {"delete": 5, "permission": 4, "write": 3, "read": 2, "list": 1}


def _bpa_hit(e: S3Event) -> Hit | None:
    name = e.event_name
    if e.error_code or not public_access_block_weakened(name, e.request):
        return None
    account_level = name in BPA_ACCOUNT or (name in BPA_EITHER and not e.bucket)
    kind = t.ACCOUNT_BPA if account_level else t.BUCKET_BPA
    where = "the account" if account_level else e.bucket
    reason = f"weakened block-public-access on {where} ({name})"
    return Hit(kind, "bpa-weakened", 0.5, "" if account_level else e.bucket, reason, (e,))


def grant_hits(e: S3Event, internal: frozenset[str]) -> list[Hit]:
    """Policy / ACL grants to the internet, to every AWS account, or to outside accounts."""
    req = e.request or {}
    is_policy = e.event_name == "PutBucketPolicy"
    grants = policy_grants(req, internal) if is_policy else acl_grants(req)
    hits = []
    for g in grants:
        if g.kind == ANONYMOUS:
            why = f"granted anonymous access to {e.bucket} ({e.event_name}: {g.who})"
            hits.append(Hit(t.ANONYMOUS_GRANT, "grant-anonymous", 0.7, e.bucket, why, (e,)))
        elif g.kind == AUTHENTICATED:
            why = f"granted every AWS account access to {e.bucket} ({e.event_name})"
            hits.append(Hit(t.PUBLIC_GRANT, "grant-public", 0.6, e.bucket, why, (e,)))
        else:
            why = f"granted account {g.who}, outside the organisation, access to {e.bucket}"
            hits.append(Hit(t.PERMISSION_ANOMALY, "grant-external", 0.6, e.bucket, why, (e,)))
    return hits


def change_hits(w: WindowAgg, internal: frozenset[str]) -> list[Hit]:
    hits: list[Hit] = []
    for e in w.notable:
        name = e.event_name
        if name in BPA_BUCKET or name in BPA_ACCOUNT or name in BPA_EITHER:
            hit = _bpa_hit(e)
            if hit is not None:
                hits.append(hit)
        elif name in GRANTING and e.request and not e.error_code:
            hits += grant_hits(e, internal)
        elif name == "PutBucketLogging" and not e.error_code and logging_disabled(e.request):
            why = f"switched off server access logging on {e.bucket}"
            hits.append(Hit(t.LOGGING_OFF, "logging-disabled", 0.5, e.bucket, why, (e,)))
    return hits


def _unfamiliar(e: S3Event, h: PrincipalHistory | None, learning: bool) -> bool:
    """A read from an IP or agent this principal has not used (or a new principal); for a
    principal that sees new IPs or agents all the time (CI runners) that one means nothing."""
    if h is None or h.windows == 0:
        return not learning
    new_ip = e.source_ip not in h.ips and not routine(h.ips)
    return new_ip or (e.user_agent not in h.uas and not routine(h.uas))


def content_hits(
    w: WindowAgg,
    h: PrincipalHistory | None,
    learning: bool,
    ransom: KeyPatterns,
    creds: KeyPatterns,
) -> list[Hit]:
    hits: list[Hit] = []
    ok = [e for e in w.notable if not e.error_code and e.key]
    # ``==``, not ``is``: windows merged from worker processes or Spark tasks, or restored from
    # a checkpoint, hold unpickled events whose class strings are equal but not the constants.
    notes = [e for e in ok if e.api_class == WRITE and ransom.found(e.key)]
    if notes:
        b = notes[0].bucket
        why = f"wrote {len(notes)} ransom-note-like object(s) to {b}"
        hits.append(Hit(t.WRITE_ANOMALY, "ransom-note", 0.9, b, why, tuple(notes[:10])))
    found = [e for e in ok if e.api_class == READ and creds.found(e.key)]
    found = [e for e in found if _unfamiliar(e, h, learning)]
    if found:
        b = found[0].bucket
        why = f"read {len(found)} credential-like object(s) in {b} from an unfamiliar IP or agent"
        hits.append(Hit(t.EXFILTRATION_ANOMALY, "credential-read", 0.4, b, why, tuple(found[:10])))
    return hits


def root_hits(w: WindowAgg) -> list[Hit]:
    """Root on S3 data: always notable; the type says what root did (its dominant class)."""
    data = [e for e in w.notable if e.data_event]
    if w.ptype != "Root" or not data:
        return []
    classes = Counter(e.api_class for e in data)
    cls = max(classes, key=lambda c: (classes[c], _SEVERITY_ORDER.get(c, 0)))
    kind = t.CLASS_TYPE.get(cls, t.DISCOVERY_ANOMALY)
    names = ", ".join(f"{n} ×{c}" for n, c in Counter(e.event_name for e in data).most_common(3))
    plural = "s" if len(data) != 1 else ""
    why = f"signed {len(data)} S3 data call{plural} with the account's root credentials ({names})"
    return [Hit(kind, "root-data", 0.6, "", why, tuple(data[:10]))]
