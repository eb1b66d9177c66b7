"""The scenario catalogue: name, kind, finding types and builder of every labelled scenario.

``types`` are, for attacks, the GuardDuty finding types (REFERENCE.md) a detector may answer
with, the first one giving the label's ``purpose``; for benign episodes, the types they bait.
"""

from __future__ import annotations

from detector.gen.attacks import (
    exfil_burst,
    exfil_then_delete,
    mass_delete,
    offhours_read,
    root_access,
    ssec_ransom,
)
from detector.gen.benign import auditor, backfill, deploy_day, new_laptop
from detector.gen.intrusions import (
    denied_spray,
    discovery,
    pentest_kali,
    pentest_parrot,
    pentest_pentoo,
    tor_caller,
)
from detector.gen.posture import (
    account_pab_disabled,
    bucket_acl_public,
    bucket_pab_disabled,
    bucket_policy_public,
    logging_disabled,
)
from detector.gen.scenarios import ScenarioDef

_EXFIL, _DISC = "Exfiltration:S3/AnomalousBehavior", "Discovery:S3/AnomalousBehavior"
_DELETE, _WRITE = "Impact:S3/AnomalousBehavior.Delete", "Impact:S3/AnomalousBehavior.Write"
_PERM = "Impact:S3/AnomalousBehavior.Permission"
_PUBLIC = ("Policy:S3/BucketAnonymousAccessGranted", "Policy:S3/BucketPublicAccessGranted")
ATTACKS: tuple[ScenarioDef, ...] = (
    ScenarioDef("mass_delete", "attack", (_DELETE,), mass_delete),
    ScenarioDef("ssec_reencryption", "attack", (_WRITE, _EXFIL), ssec_ransom),
    ScenarioDef("exfiltration_burst", "attack", (_EXFIL, _DISC), exfil_burst),
    ScenarioDef("discovery_enumeration", "attack", (_DISC,), discovery),
    ScenarioDef(
        "access_denied_spray",
        "attack",
        (_DISC, "UnauthorizedAccess:S3/MaliciousIPCaller.Custom"),
        denied_spray,
    ),
    ScenarioDef(
        "tor_caller",
        "attack",
        ("UnauthorizedAccess:S3/TorIPCaller", "Discovery:S3/TorIPCaller", _EXFIL, _DISC),
        tor_caller,
    ),
    ScenarioDef("pentest_kali", "attack", ("PenTest:S3/KaliLinux", _DISC), pentest_kali),
    ScenarioDef("pentest_parrot", "attack", ("PenTest:S3/ParrotLinux", _DISC), pentest_parrot),
    ScenarioDef("pentest_pentoo", "attack", ("PenTest:S3/PentooLinux", _DISC), pentest_pentoo),
    ScenarioDef(
        "bucket_public_access_block_disabled",
        "attack",
        ("Policy:S3/BucketBlockPublicAccessDisabled", _PERM),
        bucket_pab_disabled,
    ),
    ScenarioDef(
        "account_public_access_block_disabled",
        "attack",
        ("Policy:S3/AccountBlockPublicAccessDisabled",),
        account_pab_disabled,
    ),
    ScenarioDef("bucket_policy_public", "attack", (*_PUBLIC, _PERM), bucket_policy_public),
    ScenarioDef("bucket_acl_public", "attack", (_PUBLIC[1], _PUBLIC[0], _PERM), bucket_acl_public),
    ScenarioDef(
        "logging_disabled", "attack", ("Stealth:S3/ServerAccessLoggingDisabled",), logging_disabled
    ),
    ScenarioDef("offhours_bulk_read", "attack", (_EXFIL,), offhours_read),
    ScenarioDef("root_data_access", "attack", (_EXFIL, _WRITE, _DISC), root_access),
    ScenarioDef(
        "exfiltration_then_deletion",
        "attack",
        ("AttackSequence:S3/CompromisedData", _EXFIL, _DELETE),
        exfil_then_delete,
    ),
)

BENIGN: tuple[ScenarioDef, ...] = (
    ScenarioDef(
        "benign_new_laptop_ip",
        "benign",
        ("Exfiltration:S3/AnomalousBehavior", "Discovery:S3/AnomalousBehavior"),
        new_laptop,
    ),
    ScenarioDef("benign_deploy_day", "benign", ("Impact:S3/AnomalousBehavior.Write",), deploy_day),
    ScenarioDef("benign_backfill", "benign", ("Exfiltration:S3/AnomalousBehavior",), backfill),
    ScenarioDef("benign_auditor", "benign", ("Discovery:S3/AnomalousBehavior",), auditor),
)
