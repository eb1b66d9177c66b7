"""Suppression: findings an operator chose not to see, and trusted IPs.

A rule (``[[suppress.rules]]``) names any of ``principal``, ``bucket``, ``type``, ``ip``,
``user_agent``, ``account`` (shell-style globs; ``ip`` also takes a CIDR; every bucket / IP / agent of the window must
match) and optionally
``expires`` (a date or ISO time, compared with the *event* time so replays are reproducible);
a finding is suppressed when every field the rule names matches. A window whose calls all came
from trusted IPs raises nothing. Suppressed verdicts are counted and logged at debug, never
published.
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from detector.detect.decide import Verdict
from detector.detect.iplists import IpList
from detector.errors import ConfigError

log = logging.getLogger(__name__)
FIELDS = ("principal", "bucket", "type", "ip", "user_agent", "account")


def _expiry(value: Any, where: str) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        dt = value if value.tzinfo else value.replace(tzinfo=UTC)
        return dt.timestamp()
    text = str(value)
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"{where}: expires {text!r} is not a date or ISO time") from None
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()


@dataclass(frozen=True, slots=True)
class SuppressionRule:
    fields: tuple[tuple[str, str], ...]
    expires: float | None
    ips: IpList | None

    @classmethod
    def parse(cls, raw: Mapping[str, Any], n: int) -> SuppressionRule:
        where = f"[[suppress.rules]] #{n + 1}"
        unknown = sorted(set(raw) - set(FIELDS) - {"expires", "reason"})
        if unknown:
            raise ConfigError(f"{where}: unknown field(s) {unknown}; known: {[*FIELDS, 'expires']}")
        fields = tuple((k, str(raw[k])) for k in FIELDS if k in raw)
        if not fields:
            raise ConfigError(f"{where}: names no field, so it would hide every finding")
        ip = raw.get("ip")
        ips = IpList([str(ip)]) if ip and "/" in str(ip) else None
        return cls(fields, _expiry(raw.get("expires"), where), ips)

    def matches(self, facts: Mapping[str, list[str]], t: float) -> bool:
        if self.expires is not None and t >= self.expires:
            return False
        for name, pattern in self.fields:
            values = facts.get(name, [])
            if name == "ip" and self.ips is not None:
                hits = [v in self.ips for v in values]
            else:
                hits = [fnmatch.fnmatchcase(v, pattern) for v in values]
            # A principal matches by key or name; buckets / IPs / agents must *all* match, so
            # hiding a public bucket never hides a window that also touched a private one.
            ok = any(hits) if name == "principal" else bool(hits) and all(hits)
            if not ok:
                return False
        return True


class Suppressor:
    """Decides whether a verdict is published; counts what it hides."""

    def __init__(self, rules: tuple[dict[str, Any], ...], trusted_ips: tuple[str, ...]) -> None:
        self.rules = [SuppressionRule.parse(r, i) for i, r in enumerate(rules)]
        self.trusted = IpList(trusted_ips)
        self.suppressed = 0

    def trusted_window(self, ips: set[str]) -> bool:
        """Every call of the window came from a trusted IP."""
        return bool(self.trusted) and bool(ips) and all(ip in self.trusted for ip in ips)

    def suppress(self, v: Verdict) -> bool:
        w = v.window
        if self.trusted_window(w.ips):
            return self._count(v, "trusted IP")
        if not self.rules:
            return False
        facts = {
            "principal": [w.principal, w.name],
            "bucket": sorted({v.resource} | w.buckets if v.resource else w.buckets),
            "type": [v.type],
            "ip": sorted(w.ips),
            "user_agent": sorted(w.uas),
            "account": [w.account],
        }
        for i, rule in enumerate(self.rules):
            if rule.matches(facts, w.last):
                return self._count(v, f"rule #{i + 1}")
        return False

    def _count(self, v: Verdict, why: str) -> bool:
        self.suppressed += 1
        log.debug(
            "finding suppressed",
            extra={"type": v.type, "principal": v.window.principal, "reason": why},
        )
        return True
