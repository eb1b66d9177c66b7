"""Read the permission and configuration changes kept in ``S3Event.request``.

CloudTrail logs ``requestParameters`` of PutBucketPolicy with the policy as an object (sometimes
a JSON string), PutBucketAcl / PutObjectAcl with an ``AccessControlPolicy`` body or canned /
grant headers (``x-amz-acl``, ``x-amz-grant-*``), the public-access-block calls with a
``PublicAccessBlockConfiguration``, and PutBucketLogging with a ``BucketLoggingStatus`` that has
no ``LoggingEnabled`` when logging is switched off. Anything malformed reads as "no grant".
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

import orjson

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
ANONYMOUS = "anonymous"  # anyone on the internet: Principal "*", AllUsers
AUTHENTICATED = "authenticated"  # any AWS account holder: AuthenticatedUsers
EXTERNAL = "external"  # a named account outside the organisation
# Conditions that pin a "*" principal to known callers, so the statement is not public.
_PINNING = frozenset(
    k.lower()
    for k in (
        "aws:PrincipalOrgID", "aws:PrincipalOrgPaths", "aws:PrincipalAccount", "aws:PrincipalArn",
        "aws:SourceAccount", "aws:SourceArn", "aws:SourceOwner", "aws:SourceVpc", "aws:SourceVpce",
        "aws:SourceIp", "aws:userid", "aws:username", "aws:PrincipalServiceName",
    )
)  # fmt: skip
_CANNED = {
    "public-read": ANONYMOUS,
    "public-read-write": ANONYMOUS,
    "authenticated-read": AUTHENTICATED,
}


class Grant(NamedTuple):
    kind: str  # ANONYMOUS, AUTHENTICATED or EXTERNAL
    who: str  # "*", "AllUsers", an account id…


def _listify(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _as_doc(value: Any) -> Any:
    if isinstance(value, str | bytes):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return None
    return value


def _account_of(principal: str) -> str:
    """``arn:aws:iam::123456789012:root`` / ``123456789012`` → the account id, else ""."""
    if principal.isdigit() and len(principal) == 12:
        return principal
    parts = principal.split(":")
    return parts[4] if len(parts) > 5 and parts[4].isdigit() else ""


def _pinned(statement: dict[str, Any]) -> bool:
    cond = statement.get("Condition")
    if not isinstance(cond, dict):
        return False
    return any(
        isinstance(body, dict) and any(str(k).lower() in _PINNING for k in body)
        for body in cond.values()
    )


def _statement_grants(st: dict[str, Any], internal: frozenset[str]) -> Iterator[Grant]:
    if st.get("Effect") != "Allow":
        return
    if "NotPrincipal" in st:
        yield Grant(ANONYMOUS, "NotPrincipal")
        return
    principal = st.get("Principal")
    values = [principal] if isinstance(principal, str) else []
    if isinstance(principal, dict):
        for key in ("AWS", "CanonicalUser"):
            values += [v for v in _listify(principal.get(key)) if isinstance(v, str)]
    for v in values:
        if v == "*" or v.endswith(":*"):
            if not _pinned(st):
                yield Grant(ANONYMOUS, "*")
            continue
        acct = _account_of(v)
        if acct and internal and acct not in internal:
            yield Grant(EXTERNAL, acct)


def policy_grants(request: dict[str, Any], internal: frozenset[str]) -> list[Grant]:
    """Grants in a PutBucketPolicy request to the public or to accounts outside ``internal``.

    >>> pol = {"bucketPolicy": {"Statement": [{"Effect": "Allow", "Principal": "*"}]}}
    >>> policy_grants(pol, frozenset({"111122223333"}))
    [Grant(kind='anonymous', who='*')]
    """
    doc = _as_doc(request.get("bucketPolicy", request.get("policy")))
    if isinstance(doc, list):  # CloudTrail sometimes wraps it: "policy": ["{...}"]
        doc = _as_doc(doc[0]) if doc else None
    if not isinstance(doc, dict):
        return []
    grants: list[Grant] = []
    for st in _listify(doc.get("Statement")):
        if isinstance(st, dict):
            grants.extend(_statement_grants(st, internal))
    return sorted(set(grants))


def _uri_kind(text: str) -> str:
    if "AllUsers" in text:
        return ANONYMOUS
    if "AuthenticatedUsers" in text:
        return AUTHENTICATED
    return ""


def acl_grants(request: dict[str, Any]) -> list[Grant]:
    """Grants to AllUsers / AuthenticatedUsers in a PutBucketAcl or PutObjectAcl request.

    >>> acl_grants({"x-amz-acl": ["public-read"]})
    [Grant(kind='anonymous', who='public-read')]
    """
    found: set[Grant] = set()
    for canned in _listify(request.get("x-amz-acl")):
        if isinstance(canned, str) and canned in _CANNED:
            found.add(Grant(_CANNED[canned], canned))
    for key, value in request.items():
        if isinstance(key, str) and key.startswith("x-amz-grant-"):
            for text in _listify(value):
                kind = _uri_kind(str(text))
                if kind:
                    found.add(
                        Grant(kind, "AllUsers" if kind == ANONYMOUS else "AuthenticatedUsers")
                    )
    acp = request.get("AccessControlPolicy")
    acl = acp.get("AccessControlList") if isinstance(acp, dict) else None
    grants = acl.get("Grant") if isinstance(acl, dict) else None
    for g in _listify(grants):
        grantee = g.get("Grantee") if isinstance(g, dict) else None
        uri = grantee.get("URI") if isinstance(grantee, dict) else None
        kind = _uri_kind(uri) if isinstance(uri, str) else ""
        if kind:
            found.add(Grant(kind, "AllUsers" if kind == ANONYMOUS else "AuthenticatedUsers"))
    return sorted(found)


def _false(value: Any) -> bool:
    return value is False or (isinstance(value, str) and value.lower() == "false")


def public_access_block_weakened(event_name: str, request: dict[str, Any] | None) -> bool:
    """True for a Delete*PublicAccessBlock, or a Put* that leaves any of the four flags off.

    >>> public_access_block_weakened("PutBucketPublicAccessBlock",
    ...     {"PublicAccessBlockConfiguration": {"BlockPublicAcls": False}})
    True
    """
    if event_name.startswith("Delete"):
        return True
    cfg = (request or {}).get("PublicAccessBlockConfiguration")
    if not isinstance(cfg, dict):
        return False
    flags = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
    return any(_false(cfg.get(f)) for f in flags) or not all(f in cfg for f in flags)


def logging_disabled(request: dict[str, Any] | None) -> bool:
    """PutBucketLogging without ``LoggingEnabled`` switches server access logging off.

    >>> logging_disabled({"BucketLoggingStatus": {"xmlns": "x"}}), logging_disabled(
    ...     {"BucketLoggingStatus": {"LoggingEnabled": {"TargetBucket": "logs"}}})
    (True, False)
    """
    if request is None:  # requestParameters dropped (over 100 KB): cannot tell
        return False
    status = request.get("BucketLoggingStatus")
    if isinstance(status, dict):
        return not status.get("LoggingEnabled")
    return status is None or status == "" or status == []
