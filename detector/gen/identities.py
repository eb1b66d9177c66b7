"""Identities: the ids, name, IPs, user agents and session names of each kind of principal.

The ``userIdentity`` block built from them at a given time is in ``user_identity.py``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from detector.gen import agents
from detector.gen.habits import FIRST, LAST
from detector.gen.model import (
    PRIMARY_REGION,
    GenConfig,
    hash_int,
    hexid,
    key_id,
    uuid_from,
)


class Namer(Protocol):
    """What identity building needs from the population builder."""

    cfg: GenConfig
    company: str

    def unique(self, name: str) -> str: ...


class Who(NamedTuple):
    """The inputs of one principal's identity."""

    pb: Namer
    rng: random.Random
    kind: str
    acct: str
    svc: str
    first: str
    last: str


@dataclass
class Draft:
    """A principal's identity as it is being built: ids, name, IPs, agents, sessions."""

    ident: dict[str, str]
    name: str
    ips: tuple[str, ...]
    uas: tuple[str, ...]
    sessions: tuple[str, ...] = ("session",)


_ROLE_NAMES = {
    "app": "{svc}-api-prod",
    "lambda": "{svc}-fn-role",
    "etl": "AWSGlueServiceRole-{svc}",
    "ci": "github-actions-deploy-{svc}",
    "backup": "backup-{svc}-role",
    "auditor": "SecurityAudit-{svc}",
    "iac": "terraform-{svc}-apply",
    "sso": "AWSReservedSSO_{perm}_{tag}",
}


def _role(w: Who, d: Draft) -> None:
    seed = w.pb.cfg.seed
    perm = w.rng.choice(("DataEngineer", "Developer", "ReadOnly", "PowerUser"))
    role = w.pb.unique(
        _ROLE_NAMES[w.kind].format(svc=w.svc, perm=perm, tag=hexid(16, seed, w.svc, w.first))
    )
    path = "aws-reserved/sso.amazonaws.com/" if w.kind == "sso" else ""
    d.ident = {
        "arn": f"arn:aws:iam::{w.acct}:role/{path}{role}",
        "pid": key_id("AROA", seed, w.acct, role),
    }
    d.name = role
    _ROLE_HABITS.get(w.kind, _no_habits)(w, d)


def _no_habits(w: Who, d: Draft) -> None:
    return None


def _app(w: Who, d: Draft) -> None:
    # One session per EC2 instance, each instance with its own IP (see activity: ip ix = session ix).
    d.sessions = tuple(f"i-0{hexid(16, w.pb.cfg.seed, d.name, i)}" for i in range(len(d.ips)))
    d.ident["ec2"] = "2.0"


def _lambda(w: Who, d: Draft) -> None:
    d.sessions = (f"{w.svc}-handler",)
    d.ips = tuple(agents.ec2_ip(w.rng, PRIMARY_REGION) for _ in range(4))
    d.uas = (agents.boto3_ua(w.rng) + " exec-env/AWS_Lambda_python3.11",)


def _ci(w: Who, d: Draft) -> None:
    d.sessions = ("GitHubActions",)
    d.ips = tuple(agents.ci_ip(w.rng) for _ in range(6))
    d.uas = (agents.cli_ua(w.rng, "s3.sync"), agents.boto3_ua(w.rng))
    d.ident["source_identity"] = f"deploy-{w.svc}"


def _iac(w: Who, d: Draft) -> None:
    d.sessions = ("terraform-run",)
    d.ips, d.uas = tuple(agents.ci_ip(w.rng) for _ in range(3)), (agents.terraform_ua(w.rng),)


def _sso(w: Who, d: Draft) -> None:
    """A permission-set role shared by a few humans; the session name is their email."""
    rng = w.rng
    people = [
        f"{rng.choice(FIRST)}.{rng.choice(LAST)}@{w.pb.company}.com"
        for _ in range(rng.randint(1, 3))
    ]
    d.sessions = tuple(dict.fromkeys(people))
    d.ips = (agents.office_ip(rng), agents.home_ip(rng))
    d.uas = (agents.cli_ua(rng), agents.console_ua(rng))
    d.ident["source_identity"] = d.sessions[0]


def _set(
    sessions: tuple[str, ...], ua: Callable[[random.Random], str] | None = None
) -> Callable[[Who, Draft], None]:
    def habits(w: Who, d: Draft) -> None:
        d.sessions = tuple(s.format(svc=w.svc) for s in sessions)
        if ua is not None:
            d.uas = (ua(w.rng),)

    return habits


_ROLE_HABITS: dict[str, Callable[[Who, Draft], None]] = {
    "app": _app,
    "lambda": _lambda,
    "etl": _set(("GlueJobRunnerSession",)),
    "ci": _ci,
    "backup": _set(("backup-runner",), agents.go_ua),
    "iac": _iac,
    "auditor": _set(("{svc}-assessment",), agents.boto3_ua),
    "sso": _sso,
}


def _user(w: Who, d: Draft) -> None:
    seed = w.pb.cfg.seed
    names = {
        "human": f"{w.first}.{w.last}",
        "admin": f"admin.{w.first}",
        "analytics": f"svc-{w.svc}-reader",
    }
    user = w.pb.unique(names[w.kind])
    d.ident = {
        "arn": f"arn:aws:iam::{w.acct}:user/{user}",
        "pid": key_id("AIDA", seed, w.acct, user),
        "akia": key_id("AKIA", seed, w.acct, user),
    }
    d.name = user
    if w.kind != "analytics":
        d.ips = (agents.office_ip(w.rng), agents.home_ip(w.rng))[: w.rng.randint(1, 2)]
        d.uas = (agents.cli_ua(w.rng, "s3.ls"), agents.cli_ua(w.rng, "s3.cp"))


def _root(w: Who, d: Draft) -> None:
    # A legacy script still signs with root access keys: the smell root-usage rules look for.
    d.ident = {
        "arn": f"arn:aws:iam::{w.acct}:root",
        "akia": key_id("AKIA", w.pb.cfg.seed, w.acct, "root"),
    }
    d.name, d.uas = "root", (agents.boto3_ua(w.rng),)
    d.ips = (agents.ec2_ip(w.rng, PRIMARY_REGION),)


def _service(w: Who, d: Draft) -> None:
    invoked = "s3.amazonaws.com" if w.kind == "replication" else "cloudtrail.amazonaws.com"
    d.ident, d.name, d.ips, d.uas = {"invoked_by": invoked}, invoked, (invoked,), (invoked,)


def _anonymous(w: Who, d: Draft) -> None:
    d.ident, d.name, d.ips, d.uas = {}, "anonymous", (), ()


def _partner(w: Who, d: Draft) -> None:
    d.sessions = (f"{w.rng.choice(('vendor', 'partner', 'ingest'))}-sync",)
    d.ident, d.name = {"pid": key_id("AROA", w.pb.cfg.seed, w.acct, "partner")}, f"account/{w.acct}"


def _federated(w: Who, d: Draft) -> None:
    user, broker, acct = w.pb.unique(f"{w.first}-reporting"), "federation-broker", w.acct
    d.ident = {
        "arn": f"arn:aws:sts::{acct}:federated-user/{user}",
        "broker_arn": f"arn:aws:iam::{acct}:user/{broker}",
        "broker_pid": key_id("AIDA", w.pb.cfg.seed, acct, broker),
    }
    d.name, d.ips = user, (agents.office_ip(w.rng),)


def _identity_center(w: Who, d: Draft) -> None:
    seed, acct = w.pb.cfg.seed, w.acct
    user_id = uuid_from(
        hash_int(seed, "idc", w.first, w.last, acct) << 64 | hash_int(seed, "idc2", w.svc)
    )
    store = f"arn:aws:identitystore::{acct}:identitystore/d-{hexid(10, seed, acct, 'idc')}"
    d.ident = {"user_id": user_id, "store": store}
    d.name = f"{w.first}.{w.last}@{w.pb.company}.com"
    d.ips, d.uas = (agents.office_ip(w.rng), agents.home_ip(w.rng)), (agents.boto3_ua(w.rng),)


_PARTS: dict[str, Callable[[Who, Draft], None]] = {
    **dict.fromkeys(_ROLE_NAMES, _role),
    **dict.fromkeys(("human", "admin", "analytics"), _user),
    "root": _root,
    "replication": _service,
    "cloudtrail": _service,
    "anonymous": _anonymous,
    "partner": _partner,
    "federated": _federated,
    "identity_center": _identity_center,
}


def identity_parts(w: Who) -> Draft:
    """The identity of one principal; defaults are an SDK on 1-3 EC2 addresses."""
    rng = w.rng
    ips = tuple(agents.ec2_ip(rng, PRIMARY_REGION) for _ in range(rng.randint(1, 3)))
    ua = rng.choice((agents.java_ua, agents.boto3_ua, agents.go_ua))(rng)
    draft = Draft({}, w.kind, ips, (ua,))
    _PARTS[w.kind](w, draft)
    return draft
