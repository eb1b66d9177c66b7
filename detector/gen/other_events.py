"""Non-S3 management events (STS, EC2, KMS) found in the same log files; readers skip them."""

from __future__ import annotations

import hashlib
from typing import Any

from detector.gen.model import EventSpec, amz_id2, iso, key_id, uuid_from


def _session_token(bits: int) -> str:
    parts = (hashlib.blake2b(f"{bits}|{i}".encode(), digest_size=64).digest() for i in range(5))
    return "IQoJb3JpZ2luX2VjE" + "".join(amz_id2(b"\0" * 8 + p) for p in parts)


def build_other(s: EventSpec) -> dict[str, Any]:
    """A non-S3 management event (STS, EC2, KMS) as found in the same files."""
    digest = hashlib.blake2b(s.rnd.to_bytes(16, "big"), digest_size=32).digest()
    params: dict[str, Any] | None = None
    response: dict[str, Any] | None = None
    resources: list[dict[str, Any]] | None = None
    p = s.params or {}
    if s.name == "AssumeRole":
        role, session = p.get("roleArn", ""), p.get("roleSessionName", "session")
        params = {"roleArn": role, "roleSessionName": session, "durationSeconds": 3600}
        creds = {
            "accessKeyId": key_id("ASIA", s.rnd),
            "sessionToken": _session_token(s.rnd),
            "expiration": iso(s.t + 3600),
        }
        role_id = key_id("AROA", role)
        response = {
            "credentials": creds,
            "assumedRoleUser": {
                "assumedRoleId": f"{role_id}:{session}",
                "arn": role.replace(":iam:", ":sts:").replace(":role/", ":assumed-role/")
                + f"/{session}",
            },
        }
        resources = [{"accountId": s.account, "type": "AWS::IAM::Role", "ARN": role}]
    elif s.name == "DescribeInstances":
        params = {"instancesSet": {}, "filterSet": {}}
    elif s.name == "Decrypt":
        params = {"encryptionAlgorithm": "SYMMETRIC_DEFAULT"}
        resources = [
            {
                "accountId": s.account,
                "type": "AWS::KMS::Key",
                "ARN": f"arn:aws:kms:{s.region}:{s.account}:key/{uuid_from(s.rnd >> 7)}",
            }
        ]
    rec: dict[str, Any] = {
        "eventVersion": "1.08",
        "userIdentity": s.identity,
        "eventTime": iso(s.t),
        "eventSource": s.source,
        "eventName": s.name,
        "awsRegion": s.region,
        "sourceIPAddress": s.ip,
        "userAgent": s.ua,
        "requestParameters": params,
        "responseElements": response,
        "requestID": uuid_from(int.from_bytes(digest[:16], "big")),
        "eventID": uuid_from(s.rnd),
        "readOnly": True,
    }
    if resources:
        rec["resources"] = resources
    rec.update(
        {
            "eventType": "AwsApiCall",
            "managementEvent": True,
            "recipientAccountId": s.account,
            "eventCategory": "Management",
        }
    )
    if s.identity.get("type") != "AWSService":
        rec["tlsDetails"] = {
            "tlsVersion": "TLSv1.3",
            "cipherSuite": "TLS_AES_128_GCM_SHA256",
            "clientProvidedHostHeader": f"{s.source.split('.')[0]}.{s.region}.amazonaws.com",
        }
    return rec
