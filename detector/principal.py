"""``userIdentity`` → a stable principal key, a type and a short display name.

Keys (REFERENCE.md): AssumedRole → the role ARN (``sessionContext.sessionIssuer.arn``), so all
sessions of a role share one baseline; IAMUser / Root / others → ``arn``; an AWSAccount caller →
``account:<id>``; the anonymous caller → ``anonymous:<bucket>`` (one per bucket, or every public
bucket would share one profile); AWS services → ``service:<invokedBy>``. Unknown or malformed
identities never raise: they fall back to the best field available.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from detector.events import ANONYMOUS, AWS_SERVICE


class Principal(NamedTuple):
    key: str
    type: str
    name: str
    account: str  # the caller's account id, "" when unknown
    session_name: str
    access_key_id: str


def _s(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _short(arn: str) -> str:
    # arn:aws:iam::123:role/path/name → role/name ; arn:aws:sts::123:assumed-role/r/s → role/r
    resource = arn.split(":", 5)[-1] if arn.count(":") >= 5 else arn
    kind, _, rest = resource.partition("/")
    if kind == "assumed-role":
        return "role/" + rest.split("/", 1)[0]
    if "/" in rest:
        rest = rest.rsplit("/", 1)[-1]
    return f"{kind}/{rest}" if rest else kind


def principal_of(ui: Any, bucket: str, invoked_by_fallback: str = "") -> Principal:
    """Resolve a ``userIdentity`` value (any JSON) into a ``Principal``."""
    if not isinstance(ui, dict):
        if invoked_by_fallback:
            return Principal(
                f"service:{invoked_by_fallback}", AWS_SERVICE, invoked_by_fallback, "", "", ""
            )
        return Principal("unknown", "Unknown", "unknown", "", "", "")
    typ = _s(ui.get("type")) or "Unknown"
    arn = _s(ui.get("arn"))
    acct = _s(ui.get("accountId"))
    akid = _s(ui.get("accessKeyId"))
    if typ == "AssumedRole":
        ctx = ui.get("sessionContext")
        issuer = ctx.get("sessionIssuer") if isinstance(ctx, dict) else None
        role_arn = _s(issuer.get("arn")) if isinstance(issuer, dict) else ""
        session = arn.rsplit("/", 1)[-1] if arn.count("/") >= 2 else ""
        if not role_arn and arn:
            # arn:PARTITION:sts::ACCT:assumed-role/ROLE/SESSION → arn:PARTITION:iam::ACCT:role/ROLE
            parts = arn.split(":", 5)
            if len(parts) == 6 and parts[5].startswith("assumed-role/"):
                role = parts[5].split("/")[1]
                role_arn = f"arn:{parts[1]}:iam::{parts[4]}:role/{role}"
        key = role_arn or arn or _s(ui.get("principalId")) or "unknown-role"
        return Principal(key, typ, _short(key), acct, session, akid)
    if typ == AWS_SERVICE or (not arn and _s(ui.get("invokedBy")) and typ not in ("AWSAccount",)):
        svc = _s(ui.get("invokedBy")) or invoked_by_fallback or "unknown"
        return Principal(f"service:{svc}", AWS_SERVICE, f"service/{svc}", acct, "", akid)
    if typ == "AWSAccount":
        if acct == "ANONYMOUS_PRINCIPAL" or _s(ui.get("principalId")) == "ANONYMOUS_PRINCIPAL":
            return Principal(f"anonymous:{bucket}", ANONYMOUS, "anonymous", "", "", "")
        return Principal(f"account:{acct}", typ, f"account/{acct}", acct, "", akid)
    if typ == "Root":
        key = arn or (f"arn:aws:iam::{acct}:root" if acct else "root")
        return Principal(key, typ, "root", acct, "", akid)
    if typ == "IdentityCenterUser":
        obo = ui.get("onBehalfOf")
        uid = _s(obo.get("userId")) if isinstance(obo, dict) else ""
        key = arn or (
            f"identitycenter:{uid}" if uid else _s(ui.get("principalId")) or "identitycenter"
        )
        return Principal(key, typ, f"identity-center/{uid or key}", acct, "", akid)
    key = arn or _s(ui.get("principalId")) or _s(ui.get("userName")) or f"unknown:{typ}"
    name = _short(arn) if arn else f"{typ.lower()}/{_s(ui.get('userName')) or key}"
    return Principal(key, typ, name, acct, "", akid)
