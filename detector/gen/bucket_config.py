"""Request bodies of benign bucket-configuration calls (PutBucketPolicy, PutBucketAcl...).

Shapes follow the CloudTrail S3 management-event examples: XML bodies appear as JSON objects
with an ``xmlns`` member.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from detector.gen.model import XMLNS, EventSpec, uuid_from


def benign_policy(bucket_arn: str, account: str, as_text: bool) -> dict[str, Any] | str:
    """A typical bucket policy; its Deny with ``Principal: "*"`` is deliberately bait.

    CloudTrail logs ``bucketPolicy`` as a JSON object; some pipelines see it as a string, so
    both shapes are produced.
    """
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [bucket_arn, f"{bucket_arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
            {
                "Sid": "AllowAppRole",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:role/app-readers"},
                "Action": ["s3:GetObject", "s3:ListBucket"],
                "Resource": [bucket_arn, f"{bucket_arn}/*"],
            },
        ],
    }
    return orjson.dumps(policy).decode() if as_text else policy


def canonical_id(account: str) -> str:
    """The 64-hex canonical user id S3 ACLs use for an account."""
    return hashlib.sha256(f"canonical|{account}".encode()).hexdigest()


def _owner_acl(owner_id: str, extra: list[dict[str, Any]]) -> dict[str, Any]:
    owner = {"xsi:type": "CanonicalUser", "ID": owner_id}
    grants = [{"Grantee": owner, "Permission": "FULL_CONTROL"}, *extra]
    return {"AccessControlList": {"Grant": grants}, "xmlns": XMLNS, "Owner": {"ID": owner_id}}


def management_defaults(s: EventSpec) -> dict[str, Any]:
    """requestParameters of benign bucket configuration calls."""
    b, name = s.bucket, s.name
    acct = b.account if b else s.account
    arn = b.arn if b else ""
    if name == "PutBucketPolicy":
        return {"bucketPolicy": benign_policy(arn, acct, bool(s.rnd & 1))}
    if name == "PutBucketAcl":
        log_delivery = {
            "Grantee": {
                "xsi:type": "Group",
                "URI": "http://acs.amazonaws.com/groups/s3/LogDelivery",
            },
            "Permission": "WRITE",
        }
        return {
            "AccessControlPolicy": _owner_acl(
                canonical_id(acct), [log_delivery] if s.rnd & 2 else []
            )
        }
    if name == "PutBucketVersioning":
        return {"VersioningConfiguration": {"Status": "Enabled", "xmlns": XMLNS}}
    if name == "PutBucketEncryption":
        key = f"arn:aws:kms:{s.region}:{acct}:key/{uuid_from(s.rnd >> 3)}"
        rule = {
            "ApplyServerSideEncryptionByDefault": {
                "SSEAlgorithm": "aws:kms",
                "KMSMasterKeyID": key,
            },
            "BucketKeyEnabled": True,
        }
        return {"ServerSideEncryptionConfiguration": {"Rule": rule, "xmlns": XMLNS}}
    if name == "PutBucketLifecycle":
        rule = {
            "ID": "expire-tmp",
            "Status": "Enabled",
            "Filter": {"Prefix": "tmp/"},
            "Expiration": {"Days": 30},
        }
        return {"LifecycleConfiguration": {"Rule": rule, "xmlns": XMLNS}}
    if name == "PutBucketLogging":
        target = {
            "TargetBucket": f"{b.name.rsplit('-', 2)[0]}-access-logs" if b else "",
            "TargetPrefix": f"{b.name if b else ''}/",
        }
        return {"BucketLoggingStatus": {"xmlns": XMLNS, "LoggingEnabled": target}}
    if name == "PutBucketTagging":
        return {"Tagging": {"xmlns": XMLNS, "TagSet": {"Tag": [{"Key": "team", "Value": "data"}]}}}
    if name == "PutBucketPublicAccessBlock":
        flags = dict.fromkeys(
            ("RestrictPublicBuckets", "BlockPublicPolicy", "BlockPublicAcls", "IgnorePublicAcls"),
            True,
        )
        return {"PublicAccessBlockConfiguration": {"xmlns": XMLNS, **flags}}
    return {}
