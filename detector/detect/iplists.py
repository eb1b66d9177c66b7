"""IP lists (Tor exits, the user's threat lists, trusted IPs): exact addresses and CIDRs.

List files hold one address or CIDR per line; ``#`` starts a comment. Lookups are a set probe
for exact addresses and a short scan of networks only when the list has CIDRs.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from pathlib import Path

from detector.errors import ConfigError

_ROOT = Path(__file__).resolve().parents[2]  # the checkout or install root (holds config/)


class IpList:
    """Membership of IP strings in a set of addresses and networks."""

    def __init__(self, entries: Iterable[str] = ()) -> None:
        self.exact: set[str] = set()
        self.networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for raw in entries:
            entry = raw.split("#", 1)[0].strip()
            if not entry:
                continue
            if "/" in entry:
                try:
                    self.networks.append(ipaddress.ip_network(entry, strict=False))
                except ValueError:
                    raise ConfigError(f"not an IP network: {entry!r}") from None
            else:
                self.exact.add(entry)

    def __len__(self) -> int:
        return len(self.exact) + len(self.networks)

    def __contains__(self, ip: object) -> bool:
        if not isinstance(ip, str) or not ip:
            return False
        if ip in self.exact:
            return True
        if not self.networks:
            return False
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return False  # "s3.amazonaws.com", "AWS Internal"…
        return any(addr in net for net in self.networks)


def resolve(path: str) -> Path:
    """A relative path is tried against the working directory, then the project root."""
    p = Path(path)
    if p.is_absolute() or p.exists():
        return p
    return _ROOT / p


def load_list(path: str, required: bool) -> IpList | None:
    """Read a list file; None when it is missing and not ``required``."""
    p = resolve(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        if required:
            raise ConfigError(f"cannot read IP list {path}: {exc.strerror}") from exc
        return None
    return IpList(text.splitlines())
