"""What each kind of principal does: identity type, rate, schedule, sizes and API mix.

Rates are mean calls per hour over a weekday before ``--records`` scaling; they are kept modest
(~850 calls per principal-day on average) so that a 7-day, 500-principal trail stays at ~3M
records.
"""

from __future__ import annotations

from typing import NamedTuple

# Schedules (see activity.hour_factor).
STEADY = "steady"  # 24/7 with a diurnal cycle
FLAT = "flat"  # 24/7, no cycle (AWS services)
HOURLY = "hourly"  # a burst every hour
NIGHTLY = "nightly"  # one or two runs a night
WORKHOURS = "workhours"  # weekdays 08-18 local, a trickle in the evening
DEPLOYS = "deploys"  # a few bursts on weekdays
MIXED = "mixed"  # workhours plus a nightly refresh

_OBJ_READS = {"GetObject": 55, "HeadObject": 12, "ListObjects": 4, "GetObjectTagging": 1}
_CONSOLE_MGMT = {
    "ListBuckets": 4,
    "GetBucketLocation": 6,
    "GetBucketAcl": 3,
    "GetBucketPolicy": 3,
    "GetBucketVersioning": 3,
    "GetBucketPolicyStatus": 2,
    "GetBucketPublicAccessBlock": 2,
    "GetBucketEncryption": 1,
    "GetBucketTagging": 1,
}
MIXES: dict[str, dict[str, float]] = {
    "app": {
        **_OBJ_READS,
        "PutObject": 22,
        "DeleteObject": 2,
        "CopyObject": 1,
        "GetBucketLocation": 0.3,
    },
    "lambda": {
        "GetObject": 45,
        "PutObject": 40,
        "HeadObject": 10,
        "DeleteObject": 3,
        "ListObjects": 2,
    },
    "etl": {
        "GetObject": 35,
        "PutObject": 15,
        "ListObjects": 12,
        "HeadObject": 8,
        "CreateMultipartUpload": 3,
        "UploadPart": 18,
        "CompleteMultipartUpload": 3,
        "DeleteObject": 4,
        "DeleteObjects": 0.5,
        "ListObjectVersions": 0.5,
        "GetBucketLocation": 1,
    },
    "human": {
        "ListObjects": 28,
        "GetObject": 28,
        "HeadObject": 8,
        "PutObject": 10,
        "GetObjectAcl": 2,
        "GetObjectTagging": 2,
        "DeleteObject": 2,
        "CopyObject": 2,
        **_CONSOLE_MGMT,
    },
    "console": {
        "ListObjects": 40,
        "GetObject": 15,
        "HeadObject": 5,
        "PutObject": 5,
        **_CONSOLE_MGMT,
    },
    "ci": {
        "PutObject": 65,
        "ListObjects": 10,
        "GetObject": 8,
        "DeleteObject": 8,
        "HeadObject": 5,
        "GetBucketPolicy": 1,
        "GetBucketLocation": 1,
        "PutBucketPolicy": 0.2,
        "PutBucketTagging": 0.3,
    },
    "analytics": {
        "GetObject": 60,
        "ListObjects": 25,
        "HeadObject": 10,
        "PutObject": 3,
        "GetBucketLocation": 2,
    },
    "backup": {"GetObject": 70, "ListObjects": 15, "HeadObject": 10, "ListObjectVersions": 5},
    "admin": {
        "ListObjects": 15,
        "GetObject": 10,
        **_CONSOLE_MGMT,
        "GetBucketLogging": 5,
        "GetBucketLifecycle": 3,
        "PutBucketVersioning": 2,
        "PutBucketEncryption": 2,
        "PutBucketLifecycle": 2,
        "PutBucketLogging": 2,
        "PutBucketPolicy": 2,
        "PutBucketAcl": 1,
        "PutBucketTagging": 2,
        "PutBucketPublicAccessBlock": 1,
    },
    "replication": {"PutObject": 85, "DeleteObject": 5, "PutObjectTagging": 10},
    "cloudtrail": {"GetBucketAcl": 50, "PutObject": 50},
    "anonymous": {"GetObject": 95, "HeadObject": 5},
    "partner": {"GetObject": 50, "PutObject": 30, "ListObjects": 15, "HeadObject": 5},
    "federated": {"GetObject": 50, "ListObjects": 30, "PutObject": 20},
    "identity_center": {"GetObject": 60, "ListObjects": 25, "PutObject": 15},
    "auditor": {"GetBucketAcl": 50, "GetBucketPolicy": 50},
    "iac": {
        "ListBuckets": 3,
        "GetBucketLocation": 8,
        "GetBucketAcl": 10,
        "GetBucketPolicy": 10,
        "GetBucketVersioning": 10,
        "GetBucketLogging": 8,
        "GetBucketEncryption": 8,
        "GetBucketLifecycle": 8,
        "GetBucketTagging": 8,
        "GetBucketPublicAccessBlock": 8,
        "GetBucketPolicyStatus": 4,
        "PutBucketPolicy": 0.5,
        "PutBucketAcl": 0.3,
        "PutBucketVersioning": 0.4,
        "PutBucketEncryption": 0.4,
        "PutBucketLifecycle": 0.4,
        "PutBucketLogging": 0.4,
        "PutBucketTagging": 0.6,
        "PutBucketPublicAccessBlock": 0.3,
    },
    "root": {"ListBuckets": 40, "GetBucketAcl": 20, "GetBucketPolicy": 20, "GetBucketLocation": 20},
}


class KindSpec(NamedTuple):
    itype: str
    rate: float
    schedule: str
    size: float  # median object size, bytes
    denied: float
    nbuckets: tuple[int, int]
    purposes: tuple[str, ...]


_ALL = ()  # empty purposes = any bucket of the account
KINDS: dict[str, KindSpec] = {
    "app": KindSpec(
        "AssumedRole",
        60,
        STEADY,
        20e3,
        0.002,
        (1, 3),
        ("orders", "uploads", "media", "invoices", "config", "sessions"),
    ),
    "lambda": KindSpec(
        "AssumedRole",
        20,
        STEADY,
        60e3,
        0.003,
        (1, 2),
        ("uploads", "media", "exports", "thumbnails"),
    ),
    "etl": KindSpec(
        "AssumedRole",
        60,
        HOURLY,
        30e6,
        0.002,
        (2, 4),
        ("datalake-raw", "datalake-curated", "exports", "reports"),
    ),
    "human": KindSpec("IAMUser", 17, WORKHOURS, 400e3, 0.015, (2, 6), _ALL),
    "sso": KindSpec("AssumedRole", 25, WORKHOURS, 300e3, 0.01, (3, 6), _ALL),
    "ci": KindSpec(
        "AssumedRole", 12, DEPLOYS, 2e6, 0.003, (1, 2), ("artifacts", "static-site", "config")
    ),
    "analytics": KindSpec(
        "IAMUser",
        25,
        MIXED,
        5e6,
        0.004,
        (2, 5),
        ("datalake-curated", "reports", "ml-features", "exports"),
    ),
    "backup": KindSpec(
        "AssumedRole",
        80,
        NIGHTLY,
        50e6,
        0.001,
        (3, 6),
        ("orders", "datalake-curated", "invoices", "media", "backups"),
    ),
    "admin": KindSpec("IAMUser", 4, WORKHOURS, 100e3, 0.02, (4, 10), _ALL),
    "replication": KindSpec(
        "AWSService", 100, STEADY, 1e6, 0.0, (2, 4), ("backups", "datalake-raw", "media")
    ),
    "cloudtrail": KindSpec("AWSService", 24, FLAT, 30e3, 0.0, (1, 1), ("cloudtrail",)),
    "anonymous": KindSpec("AWSAccount", 40, STEADY, 150e3, 0.03, (1, 1), ("public-assets",)),
    "partner": KindSpec(
        "AWSAccount", 15, STEADY, 1e6, 0.01, (1, 2), ("exports", "uploads", "reports")
    ),
    "federated": KindSpec("FederatedUser", 8, STEADY, 500e3, 0.01, (1, 2), ("reports", "exports")),
    "identity_center": KindSpec(
        "IdentityCenterUser", 6, MIXED, 800e3, 0.01, (1, 2), ("datalake-curated", "reports")
    ),
    "auditor": KindSpec("AssumedRole", 0.0, FLAT, 1e3, 0.0, (0, 0), _ALL),
    "iac": KindSpec("AssumedRole", 30, HOURLY, 1e3, 0.002, (6, 14), _ALL),
    "root": KindSpec("Root", 0.25, NIGHTLY, 10e3, 0.0, (3, 6), _ALL),
}

# Always present (in this order) when the population is large enough, so every userIdentity
# type appears; then the rest follows these weights.
SPECIAL_KINDS = (
    "cloudtrail",
    "replication",
    "anonymous",
    "root",
    "iac",
    "federated",
    "identity_center",
    "partner",
)
KIND_WEIGHTS = {
    "app": 0.26,
    "lambda": 0.10,
    "etl": 0.10,
    "human": 0.16,
    "sso": 0.04,
    "ci": 0.06,
    "analytics": 0.10,
    "backup": 0.04,
    "admin": 0.03,
    "iac": 0.02,
    "partner": 0.02,
    "federated": 0.02,
    "identity_center": 0.03,
}

PURPOSES = (
    "orders",
    "uploads",
    "media",
    "datalake-raw",
    "datalake-curated",
    "reports",
    "backups",
    "logs",
    "artifacts",
    "static-site",
    "ml-features",
    "exports",
    "invoices",
    "config",
    "sessions",
    "thumbnails",
    "public-assets",
)
# Key prefixes by bucket purpose; ``{tag}`` is the principal's service/team tag.
PREFIXES = {
    "orders": ("orders/{tag}/", "receipts/"),
    "uploads": ("user-uploads/{tag}/", "incoming/"),
    "media": ("images/{tag}/", "video/"),
    "datalake-raw": ("raw/{tag}/", "landing/"),
    "datalake-curated": ("curated/{tag}/", "warehouse/"),
    "reports": ("reports/{tag}/", "monthly/"),
    "backups": ("backups/{tag}/", "snapshots/"),
    "logs": ("access-logs/", "alb/"),
    "artifacts": ("builds/{tag}/", "releases/"),
    "static-site": ("assets/", "site/{tag}/"),
    "ml-features": ("features/{tag}/", "models/"),
    "exports": ("exports/{tag}/", "partner/"),
    "invoices": ("invoices/{tag}/", "pdf/"),
    "config": ("config/{tag}/", "secrets-ref/"),
    "sessions": ("sessions/{tag}/",),
    "thumbnails": ("thumbs/{tag}/",),
    "public-assets": ("img/", "css/", "js/"),
    "cloudtrail": ("AWSLogs/",),
}
EXTENSIONS = (".json", ".parquet", ".csv", ".jpg", ".png", ".pdf", ".gz", ".zip", ".txt")

SERVICES = (
    "checkout", "catalog", "billing", "search", "profile", "notify", "inventory", "payments",
    "shipping", "reviews", "recs", "auth", "media", "thumbnailer", "ledger", "pricing", "cart",
    "orders", "fraud", "loyalty", "geo", "mailer", "export", "ingest", "tracking",
)  # fmt: skip
FIRST = (
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
    "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "yuki", "zoe",
    "arjun", "mei", "sofia", "lars", "amara", "diego", "hana", "omar", "priya",
)  # fmt: skip
LAST = (
    "ng",
    "smith",
    "garcia",
    "kim",
    "mueller",
    "rossi",
    "tanaka",
    "okafor",
    "dubois",
    "silva",
    "patel",
    "chen",
)
TIMEZONES = (-8, -5, -5, -3, 0, 1, 1, 2, 5, 8, 9, 10)
COMPANIES = ("acme", "globex", "initech", "umbrella", "hooli", "wayne", "stark")
