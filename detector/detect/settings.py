"""Settings of the detection stage: four sections of ``config.Settings``.

``[rules]`` holds the deterministic rules' lists and burst thresholds, ``[models]`` the online
model, the IsolationForest artifact and the anomaly gates, ``[findings]`` how findings are shaped
and correlated, ``[suppress]`` what an operator chose not to see. Burst floors count over
``rules.burst_span_seconds``, model gates per window (``window.width_seconds``); the defaults
follow the peer rules quoted in REFERENCE.md (Elastic, Panther).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Ransom notes left next to encrypted or deleted data (Panther's list, case-insensitive regex).
RANSOM_NOTES = (
    r"(^|/)[^/]*ransom[^/]*$",
    r"(^|/)[^/]*(how|read)[_ -]?(to|me)[^/]*(decrypt|recover|restore|unlock)[^/]*\.(txt|html?|md|hta)$",
    r"(^|/)[^/]*(decrypt|recover|restore|unlock)[_ -]?((your|my|all)[_ -]?)?(files|data)[^/]*\.(txt|html?|md|hta)$",
    r"(^|/)[^/]*your[_ -]?(files|data)[_ -]?(are|were|has|have)[^/]*$",
)
# Object keys that hold credentials: a read of one is worth a look whoever made it.
CREDENTIAL_KEYS = (
    r"(^|/)\.aws/credentials$",
    r"(^|/)\.env(\.[a-z0-9_-]+)?$",
    r"(^|/)id_(rsa|dsa|ecdsa|ed25519)$",
    r"(^|/)[^/]*\.(pem|pfx|p12|ppk|kdbx|key)$",
    r"(^|/)[^/]*credentials?[^/]*\.(json|csv|txt|ya?ml|xml|ini)$",
    r"(^|/)[^/]*secrets?[^/]*\.(json|ya?ml|txt|env)$",
    r"(^|/)terraform\.tfstate(\.backup)?$",
)
PENTEST_AGENTS = ("kali", "parrot", "pentoo")


@dataclass(frozen=True)
class RuleSettings:
    tor_exit_list: str = "config/tor_exits.txt"  # env S3AD_TOR_EXIT_LIST; "" turns the rule off
    threat_ip_lists: tuple[str, ...] = ()  # files of IPs / CIDRs: the .Custom types
    org_accounts: tuple[str, ...] = ()  # accounts inside the organisation; grants elsewhere flag
    pentest_agents: tuple[str, ...] = PENTEST_AGENTS
    root_data_access: bool = True
    mass_delete_count: int = 50  # delete calls in the span (Panther: 50 DeleteObject an hour)
    ssec_write_count: int = 20  # SSE-C writes in the span (Elastic: 20 per bucket)
    denied_spray_count: int = 40  # AccessDenied in the span (Elastic: 40)
    distinct_buckets_count: int = 16  # distinct buckets in the span (Elastic: > 15 in 10 s)
    burst_span_seconds: float = 900.0  # bursts are counted over this span (3 windows)
    burst_ratio: float = 5.0  # a burst must also be this many times the principal's usual
    ransom_note_patterns: tuple[str, ...] = RANSOM_NOTES
    credential_key_patterns: tuple[str, ...] = CREDENTIAL_KEYS


@dataclass(frozen=True)
class ModelSettings:
    enabled: bool = True  # false: rules only (the models neither score nor learn)
    iforest_path: str = ""  # a model directory from `s3ad train`; "" runs without IsolationForest
    river_height: int = 8  # HalfSpaceTrees height: 8 ≈ 1 MB a model (10 trees), 15 ≈ 390 MB
    river_trees: int = 10
    river_window: int = 250
    river_seed: int = 42
    warmup_windows: int = 500  # windows a population model learns before its scores count
    threshold: float = (
        0.9  # model percentile a window needs to be an anomaly (top 10 % of its population)
    )
    min_history_windows: int = 24  # active windows before a principal's baseline is trusted
    learning_hours: float = 24.0  # after an account first appears, "no history" is not "new"
    z_min: float = 2.5  # how far from its usual (robust z of log1p) a metric must be
    ratio_min: float = 10.0  # …and how many times its usual
    z_alone: float = 6.0  # this far from its usual, no unusual context is needed
    min_calls: int = 40  # smallest call count of an API class worth an anomaly finding
    min_bytes_out: int = 256 * 1024 * 1024  # smallest read volume worth an Exfiltration finding
    new_principal_calls: int = 400  # a principal without baseline needs this many calls of a class


@dataclass(frozen=True)
class FindingSettings:
    detector_id: str = "s3ad"
    partition: str = "aws"
    sequence_horizon_seconds: float = 86400.0  # exfiltration → deletion/re-encryption window
    sequence_min_reads: int = 10  # reads from a first-seen IP / agent that count as exfiltration
    evidence_events: int = 10  # eventIDs kept per finding
    affected_resources: int = 10  # buckets listed per finding
    max_string: int = 256  # untrusted strings (user agents, keys) are cut to this
    forget_days: float = 30.0  # aggregation state of findings not updated for this long


@dataclass(frozen=True)
class SuppressSettings:
    """``rules``: tables with any of principal, bucket, type, ip, user_agent, account (globs;
    ip also CIDR) and an optional ``expires`` date; every given field must match."""

    rules: tuple[dict[str, Any], ...] = ()
    trusted_ips: tuple[str, ...] = ()  # IPs / CIDRs whose calls never produce findings
