"""``userIdentity`` blocks: what a principal looks like in a record at a given time.

Role credentials rotate every six hours and console sessions daily; IAM user and root access
keys never do. A ``salt`` (stolen-credential use) gives a session a different access key.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from detector.gen.model import HOUR, Principal, hash_int, hexid, iso, key_id


class Moment(NamedTuple):
    """Credential facts of one identity at one time."""

    block: int  # six-hour credential block
    created: str  # sessionContext.attributes.creationDate
    ix: int
    salt: str


def _assumed_role(p: Principal, m: Moment) -> dict[str, Any]:
    d, acct = p.ident, p.account
    session = p.sessions[m.ix % len(p.sessions)]
    issuer = {
        "type": "Role",
        "principalId": d["pid"],
        "arn": d["arn"],
        "accountId": acct,
        "userName": p.name,
    }
    ctx: dict[str, Any] = {
        "sessionIssuer": issuer,
        "attributes": {"creationDate": m.created, "mfaAuthenticated": "false"},
    }
    if "ec2" in d:
        ctx["ec2RoleDelivery"] = d["ec2"]
    if "source_identity" in d:
        ctx["sourceIdentity"] = d["source_identity"]
    return {
        "type": "AssumedRole",
        "principalId": f"{d['pid']}:{session}",
        "arn": f"arn:aws:sts::{acct}:assumed-role/{p.name}/{session}",
        "accountId": acct,
        "accessKeyId": key_id("ASIA", p.key, m.block, m.ix, m.salt),
        "sessionContext": ctx,
    }


def _mfa_session(created: str) -> dict[str, Any]:
    return {"attributes": {"creationDate": created, "mfaAuthenticated": "true"}}


def _iam_user(p: Principal, m: Moment) -> dict[str, Any]:
    d = p.ident
    console = p.console and not m.salt  # stolen credentials are the user's access key
    ident: dict[str, Any] = {
        "type": "IAMUser",
        "principalId": d["pid"],
        "arn": d["arn"],
        "accountId": p.account,
    }
    ident["accessKeyId"] = key_id("ASIA", p.key, m.block // 4) if console else d["akia"]
    ident["userName"] = p.name
    if console:
        ident["sessionContext"] = _mfa_session(m.created)
    return ident


def _root_user(p: Principal, m: Moment) -> dict[str, Any]:
    d = p.ident
    root: dict[str, Any] = {
        "type": "Root",
        "principalId": p.account,
        "arn": d["arn"],
        "accountId": p.account,
    }
    if "akia" in d and not m.salt:
        root["accessKeyId"] = d["akia"]
    else:  # a console session
        root["accessKeyId"] = key_id("ASIA", p.key, m.block, m.salt)
        root["sessionContext"] = _mfa_session(m.created)
    return root


def _aws_service(p: Principal, m: Moment) -> dict[str, Any]:
    return {"type": "AWSService", "invokedBy": p.ident["invoked_by"]}


def _aws_account(p: Principal, m: Moment) -> dict[str, Any]:
    if p.kind == "anonymous":
        return {"type": "AWSAccount", "principalId": "", "accountId": "ANONYMOUS_PRINCIPAL"}
    return {
        "type": "AWSAccount",
        "principalId": f"{p.ident['pid']}:{p.sessions[0]}",
        "accountId": p.account,
    }


def _federated_user(p: Principal, m: Moment) -> dict[str, Any]:
    d, acct = p.ident, p.account
    issuer = {
        "type": "IAMUser",
        "principalId": d["broker_pid"],
        "arn": d["broker_arn"],
        "accountId": acct,
        "userName": "federation-broker",
    }
    return {
        "type": "FederatedUser",
        "principalId": f"{acct}:{p.name}",
        "arn": d["arn"],
        "accountId": acct,
        "accessKeyId": key_id("ASIA", p.key, m.block, m.salt),
        "sessionContext": {
            "sessionIssuer": issuer,
            "attributes": {"creationDate": m.created, "mfaAuthenticated": "false"},
        },
    }


def _identity_center_user(p: Principal, m: Moment) -> dict[str, Any]:
    return {
        "type": "IdentityCenterUser",
        "accountId": p.account,
        "onBehalfOf": {"userId": p.ident["user_id"], "identityStoreArn": p.ident["store"]},
        "credentialId": key_id("", p.key, m.block) + hexid(24, p.key, m.block),
    }


USER_IDENTITY: dict[str, Callable[[Principal, Moment], dict[str, Any]]] = {
    "AssumedRole": _assumed_role,
    "IAMUser": _iam_user,
    "Root": _root_user,
    "AWSService": _aws_service,
    "AWSAccount": _aws_account,
    "FederatedUser": _federated_user,
    "IdentityCenterUser": _identity_center_user,
}


def identity_for(p: Principal, t: int, ix: int = 0, salt: str = "") -> dict[str, Any]:
    """The ``userIdentity`` of ``p`` at ``t`` (session ``ix``; ``salt``: stolen-credential use)."""
    block = t // (6 * HOUR)
    created = iso(block * 6 * HOUR + hash_int(p.key, block, salt) % 1800)
    return USER_IDENTITY[p.itype](p, Moment(block, created, ix, salt))
