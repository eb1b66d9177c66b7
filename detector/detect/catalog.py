"""The finding types s3ad emits (GuardDuty's names, REFERENCE.md) and their severity bands.

A registry, not an if-chain: rules and the decision stage name a type; its band, resource type
and the words used in titles come from here.
"""

from __future__ import annotations

from typing import NamedTuple

from detector.events import CONFIG, DELETE, DISCOVERY, LIST, PERMISSION, READ, WRITE

LOW, MEDIUM, HIGH, CRITICAL = "Low", "Medium", "High", "Critical"
BANDS: dict[str, tuple[float, float]] = {
    LOW: (1.0, 3.9),
    MEDIUM: (4.0, 6.9),
    HIGH: (7.0, 8.9),
    CRITICAL: (9.0, 10.0),
}


class FindingType(NamedTuple):
    name: str
    band: str
    what: str  # a short noun phrase for descriptions


DISCOVERY_ANOMALY = "Discovery:S3/AnomalousBehavior"
EXFILTRATION_ANOMALY = "Exfiltration:S3/AnomalousBehavior"
DELETE_ANOMALY = "Impact:S3/AnomalousBehavior.Delete"
WRITE_ANOMALY = "Impact:S3/AnomalousBehavior.Write"
PERMISSION_ANOMALY = "Impact:S3/AnomalousBehavior.Permission"
TOR_DISCOVERY = "Discovery:S3/TorIPCaller"
TOR_ACCESS = "UnauthorizedAccess:S3/TorIPCaller"
THREAT_DISCOVERY = "Discovery:S3/MaliciousIPCaller.Custom"
THREAT_ACCESS = "UnauthorizedAccess:S3/MaliciousIPCaller.Custom"
BUCKET_BPA = "Policy:S3/BucketBlockPublicAccessDisabled"
ACCOUNT_BPA = "Policy:S3/AccountBlockPublicAccessDisabled"
ANONYMOUS_GRANT = "Policy:S3/BucketAnonymousAccessGranted"
PUBLIC_GRANT = "Policy:S3/BucketPublicAccessGranted"
LOGGING_OFF = "Stealth:S3/ServerAccessLoggingDisabled"
SEQUENCE = "AttackSequence:S3/CompromisedData"
PENTEST = {
    "kali": "PenTest:S3/KaliLinux",
    "parrot": "PenTest:S3/ParrotLinux",
    "pentoo": "PenTest:S3/PentooLinux",
}

_TYPES = [
    FindingType(DISCOVERY_ANOMALY, LOW, "anomalous discovery calls"),
    FindingType(EXFILTRATION_ANOMALY, HIGH, "anomalous reads"),
    FindingType(DELETE_ANOMALY, HIGH, "anomalous deletes"),
    FindingType(WRITE_ANOMALY, MEDIUM, "anomalous writes"),
    FindingType(PERMISSION_ANOMALY, HIGH, "anomalous permission changes"),
    FindingType(TOR_DISCOVERY, MEDIUM, "discovery calls from a Tor exit node"),
    FindingType(TOR_ACCESS, HIGH, "calls from a Tor exit node"),
    FindingType(THREAT_DISCOVERY, HIGH, "discovery calls from an IP on your threat list"),
    FindingType(THREAT_ACCESS, HIGH, "calls from an IP on your threat list"),
    FindingType(BUCKET_BPA, LOW, "bucket block-public-access weakened"),
    FindingType(ACCOUNT_BPA, LOW, "account block-public-access weakened"),
    FindingType(ANONYMOUS_GRANT, HIGH, "anonymous access granted"),
    FindingType(PUBLIC_GRANT, HIGH, "access granted to all AWS users"),
    FindingType(LOGGING_OFF, LOW, "server access logging disabled"),
    FindingType(SEQUENCE, CRITICAL, "exfiltration followed by destruction"),
    *(
        FindingType(t, MEDIUM, "calls from a penetration-testing distribution")
        for t in PENTEST.values()
    ),
]
TYPES: dict[str, FindingType] = {t.name: t for t in _TYPES}

# Which anomaly type an API class's excess maps to (GuardDuty's AnomalousBehavior families).
CLASS_TYPE: dict[str, str] = {
    READ: EXFILTRATION_ANOMALY,
    DELETE: DELETE_ANOMALY,
    WRITE: WRITE_ANOMALY,
    PERMISSION: PERMISSION_ANOMALY,
    LIST: DISCOVERY_ANOMALY,
    DISCOVERY: DISCOVERY_ANOMALY,
    CONFIG: PERMISSION_ANOMALY,
}


def severity(type_name: str, strength: float) -> float:
    """Severity inside the type's band: ``strength`` in [0, 1] moves it from bottom to top.

    >>> severity(EXFILTRATION_ANOMALY, 0.0), severity(EXFILTRATION_ANOMALY, 1.0)
    (7.0, 8.9)
    """
    lo, hi = BANDS[TYPES[type_name].band]
    s = min(1.0, max(0.0, strength))
    return round(lo + (hi - lo) * s, 1)


def purpose(type_name: str) -> str:
    """The threat purpose: the part before the colon.

    >>> purpose("Impact:S3/AnomalousBehavior.Delete")
    'Impact'
    """
    return type_name.split(":", 1)[0]
