"""Deterministic rules: always on, always warm.

Event rules read the window's *notable* events (the Windower keeps up to 64 per window, chosen
by ``RuleBook.notable``): here Tor exits, the user's threat lists and pentest-distribution
agents; in ``changes.py`` configuration changes, object names and root. Burst backstops
(``bursts.py``) read the window's counts. AWS service principals are never
judged (REFERENCE.md: excluding them cut a peer rule's false positives ~97 %).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from detector.detect import catalog as t
from detector.detect.bursts import BurstContext, burst_hits
from detector.detect.changes import change_hits, content_hits, root_hits
from detector.detect.hits import Hit
from detector.detect.iplists import IpList, load_list
from detector.detect.keypatterns import KeyPatterns
from detector.detect.scorer import WARM, ScorerStatus
from detector.detect.settings import RuleSettings
from detector.events import CONFIG, DISCOVERY, LIST, PERMISSION, READ, WRITE, S3Event
from detector.history import PrincipalHistory
from detector.windows import WindowAgg

_DISCOVERY_ONLY = frozenset({LIST, DISCOVERY})
History = Callable[[str, str], PrincipalHistory | None]


class RuleBook:
    """The rules, their lists and compiled patterns; ``evaluate`` judges one window."""

    name = "rules"

    def __init__(
        self,
        s: RuleSettings,
        org_accounts: Sequence[str] = (),
        lists: tuple[IpList, IpList] | None = None,
    ) -> None:
        """``lists``: the Tor and threat lists already loaded (unpickling in a worker, which
        may not have the files); otherwise they are read from the settings' paths."""
        self.settings = s
        if lists is not None:
            self.tor, self.threats = lists
        else:
            self.tor = (
                load_list(s.tor_exit_list, required=False) if s.tor_exit_list else None
            ) or IpList()
            self.threats = IpList()
            for path in s.threat_ip_lists:
                lst = load_list(path, required=True) or IpList()
                self.threats.networks += lst.networks
                self.threats.exact |= lst.exact
        self.tor_missing = bool(s.tor_exit_list) and not self.tor
        self.internal = frozenset(org_accounts or s.org_accounts)
        self.ransom = KeyPatterns(s.ransom_note_patterns)
        self.creds = KeyPatterns(s.credential_key_patterns)
        self._ua: dict[str, str] = {}
        # "6.6.9-kali1", "kali-rolling" and "Parrot" count; "kalibrate" does not.
        names = "|".join(re.escape(a) for a in s.pentest_agents) or "(?!)"
        self._agents = re.compile(rf"(?<![a-z])({names})(?![a-z])", re.I)
        self._bad_ip: dict[str, bool] = {}

    def __reduce__(self) -> tuple[Any, ...]:
        # Training ships ``notable`` to its workers. Pickled as settings and loaded lists, the
        # same bytes compiled or not (``detector.native``); caches start empty in the worker.
        return (RuleBook, (self.settings, tuple(sorted(self.internal)), (self.tor, self.threats)))

    def status(self) -> ScorerStatus:
        tor = "Tor list MISSING" if self.tor_missing else f"{len(self.tor)} Tor entries"
        org = (
            f"{len(self.internal)} org accounts" if self.internal else "no org accounts configured"
        )
        return ScorerStatus(self.name, WARM, f"{tor}, {len(self.threats)} threat entries, {org}")

    # -- the Windower's predicate: runs on every event, so cached and flat ------------------
    def pentest_family(self, ua: str) -> str:
        fam = self._ua.get(ua)
        if fam is None:
            m = self._agents.search(ua)
            fam = m.group(1).lower() if m else ""
            if len(self._ua) > 50_000:
                self._ua.clear()
            self._ua[ua] = fam
        return fam

    def listed_ip(self, ip: str) -> bool:
        bad = self._bad_ip.get(ip)
        if bad is None:
            bad = ip in self.tor or ip in self.threats
            if len(self._bad_ip) > 200_000:
                self._bad_ip.clear()
            self._bad_ip[ip] = bad
        return bad

    def notable(self, ev: S3Event) -> bool:
        """Keep this event for the event rules (and as evidence)?

        Runs once per event: one tuple unpack, and the IP / agent caches read inline."""
        (_t, _id, _a, _r, _p, ptype, _pn, _ak, _s, _n, cls, _b, key, _bi, _bo,
         ip, ua, err, _sc, _au, _v, _x, _d, service, _rq) = ev  # fmt: skip
        if service:
            return False
        # Classes are compared with ==: late events may come back from a checkpoint.
        if cls in (PERMISSION, CONFIG) or ptype == "Root":
            return True
        if err and err.startswith("AccessDenied"):
            return True
        bad = self._bad_ip.get(ip)
        if bad is None:
            bad = self.listed_ip(ip)
        if bad:
            return True
        fam = self._ua.get(ua)
        if fam is None:
            fam = self.pentest_family(ua)
        if fam:
            return True
        if not key:
            return False
        # The content rules look for ransom notes among writes, credential files among reads.
        if cls == WRITE:
            return self.ransom.found(key)
        if cls == READ:
            return self.creds.found(key)
        return False

    # -- window rules -------------------------------------------------------------------------
    def evaluate(
        self,
        w: WindowAgg,
        h: PrincipalHistory | None,
        learning: bool,
        bursts: BurstContext | None = None,
    ) -> list[Hit]:
        """Every rule hit in a closed window (no ``bursts`` for late-event pseudo windows)."""
        if w.service:
            return []
        hits = self._ip_hits(w) + self._agent_hits(w) + change_hits(w, self.internal)
        hits += content_hits(w, h, learning, self.ransom, self.creds)
        if self.settings.root_data_access:
            hits += root_hits(w)
        if bursts is not None:
            hits += burst_hits(w, h, bursts, self.settings, learning)
        return hits

    def _ip_hits(self, w: WindowAgg) -> list[Hit]:
        hits: list[Hit] = []
        for ip in sorted(w.ips):
            if not self.listed_ip(ip):
                continue
            evs = tuple(e for e in w.notable if e.source_ip == ip)
            classes = {e.api_class for e in evs}
            tor = ip in self.tor
            quiet = bool(classes) and classes <= _DISCOVERY_ONLY
            if tor:
                kind, what = (t.TOR_DISCOVERY if quiet else t.TOR_ACCESS), "a Tor exit node"
            else:
                kind, what = (
                    (t.THREAT_DISCOVERY if quiet else t.THREAT_ACCESS),
                    "an IP on your threat list",
                )
            hits.append(
                Hit(
                    kind,
                    "tor-exit" if tor else "threat-ip",
                    0.6,
                    ip,
                    f"called S3 from {what} ({ip})",
                    evs[:10],
                )
            )
        return hits

    def _agent_hits(self, w: WindowAgg) -> list[Hit]:
        fams = sorted({f for ua in w.uas if (f := self.pentest_family(ua))})
        hits = []
        for fam in fams:
            evs = tuple(e for e in w.notable if self.pentest_family(e.user_agent) == fam)
            kind = t.PENTEST.get(fam, t.PENTEST["kali"])
            hits.append(
                Hit(
                    kind,
                    "pentest-agent",
                    0.5,
                    "",
                    f"used a {fam.title()} Linux user agent",
                    evs[:10],
                )
            )
        return hits
