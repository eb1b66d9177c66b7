"""CloudTrail record builders: an ``EventSpec`` in, a CloudTrail JSON record (dict) out.

Shapes follow the S3 data-event examples in the CloudTrail user guide ("CloudTrail record
contents for data events", "Logging Amazon S3 API calls using AWS CloudTrail"). Everything
cosmetic (event version, TLS version, host style, odd records) comes from the spec's random bits.
"""

from __future__ import annotations

import hashlib
from typing import Any, NamedTuple

from detector.gen.bucket_config import management_defaults
from detector.gen.model import S3, EventSpec, amz_id2, iso, uuid_from
from detector.gen.other_events import build_other


class Api(NamedTuple):
    read_only: bool
    data: bool  # data event (object level) vs management event
    res: str  # resources[]: object, prefix, bucket or none
    sub: str = ""  # sub-resource query parameter logged in requestParameters


_O, _B = "object", "bucket"
APIS: dict[str, Api] = {
    "GetObject": Api(True, True, _O),
    "HeadObject": Api(True, True, _O),
    "GetObjectTagging": Api(True, True, _O, "tagging"),
    "GetObjectAcl": Api(True, True, _O, "acl"),
    "PutObject": Api(False, True, _O),
    "CopyObject": Api(False, True, _O),
    "DeleteObject": Api(False, True, _O),
    "DeleteObjects": Api(False, True, "prefix", "delete"),
    "ListObjects": Api(True, True, _B),
    "ListObjectVersions": Api(True, True, _B, "versions"),
    "CreateMultipartUpload": Api(False, True, _O, "uploads"),
    "UploadPart": Api(False, True, _O),
    "CompleteMultipartUpload": Api(False, True, _O),
    "PutObjectTagging": Api(False, True, _O, "tagging"),
    "PutObjectAcl": Api(False, True, _O, "acl"),
    "ListBuckets": Api(True, False, "none"),
    "GetBucketLocation": Api(True, False, _B, "location"),
    "GetBucketAcl": Api(True, False, _B, "acl"),
    "GetBucketPolicy": Api(True, False, _B, "policy"),
    "GetBucketVersioning": Api(True, False, _B, "versioning"),
    "GetBucketPolicyStatus": Api(True, False, _B, "policyStatus"),
    "GetBucketPublicAccessBlock": Api(True, False, _B, "publicAccessBlock"),
    "GetBucketEncryption": Api(True, False, _B, "encryption"),
    "GetBucketTagging": Api(True, False, _B, "tagging"),
    "GetBucketLogging": Api(True, False, _B, "logging"),
    "GetBucketLifecycle": Api(True, False, _B, "lifecycle"),
    "PutBucketPolicy": Api(False, False, _B, "policy"),
    "PutBucketAcl": Api(False, False, _B, "acl"),
    "PutBucketVersioning": Api(False, False, _B, "versioning"),
    "PutBucketEncryption": Api(False, False, _B, "encryption"),
    "PutBucketLifecycle": Api(False, False, _B, "lifecycle"),
    "PutBucketLogging": Api(False, False, _B, "logging"),
    "PutBucketTagging": Api(False, False, _B, "tagging"),
    "PutBucketPublicAccessBlock": Api(False, False, _B, "publicAccessBlock"),
    "DeleteBucketPublicAccessBlock": Api(False, False, _B, "publicAccessBlock"),
    "DeletePublicAccessBlock": Api(False, False, _B, "publicAccessBlock"),
    "PutAccountPublicAccessBlock": Api(False, False, "none"),
    "GetAccountPublicAccessBlock": Api(True, False, "none"),
}
ERROR_MESSAGES = {
    "AccessDenied": "Access Denied",
    "NoSuchKey": "The specified key does not exist.",
    "NoSuchBucket": "The specified bucket does not exist",
    "NoSuchBucketPolicy": "The bucket policy does not exist",
}
_CIPHERS = ("TLS_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "TLS_AES_256_GCM_SHA384")


def _request(s: EventSpec, api: Api) -> dict[str, Any]:
    b = s.bucket
    if b is None:
        host = (
            f"{s.account}.s3-control.{s.region}.amazonaws.com"
            if "Account" in s.name
            else "s3.amazonaws.com"
        )
        rp: dict[str, Any] = {"Host": host}
    else:
        style = (s.rnd >> 40) & 15
        host = (
            f"s3.{b.region}.amazonaws.com"
            if style == 0
            else (b.host if style > 2 or b.region != "us-east-1" else f"{b.name}.s3.amazonaws.com")
        )
        rp = {"bucketName": b.name, "Host": host}
    if api.sub:
        rp[api.sub] = ""
    if s.key is not None:
        rp["key"] = s.key
    name = s.name
    if name == "ListObjects":
        rp.update({"list-type": "2", "delimiter": "/", "encoding-type": "url", "prefix": ""})
    elif name in ("UploadPart", "CompleteMultipartUpload"):
        rp["uploadId"] = _upload_id(s)
        if name == "UploadPart":
            rp["partNumber"] = str(1 + (s.rnd >> 50) % 40)
    elif name == "CopyObject" and b is not None:
        rp["x-amz-copy-source"] = f"{b.name}/{s.key}"
    elif not api.data and name.startswith("Put"):
        rp.update(management_defaults(s))
    if s.sse_c:
        rp["x-amz-server-side-encryption-customer-algorithm"] = "AES256"
        rp["x-amz-server-side-encryption-customer-key"] = "****"
        rp["x-amz-server-side-encryption-customer-key-MD5"] = _key_md5(s)
    if s.params:
        rp.update(s.params)
    return rp


def _upload_id(s: EventSpec) -> str:
    return hashlib.blake2b(s.key.encode() if s.key else b"", digest_size=48).hexdigest()[:86]


def _key_md5(s: EventSpec) -> str:
    return amz_id2(hashlib.blake2b(s.pkey.encode(), digest_size=64).digest())[:22] + "=="


def _response(s: EventSpec, digest: bytes) -> dict[str, Any] | None:
    name, b = s.name, s.bucket
    if s.error or b is None:
        return None
    version = (
        {"x-amz-version-id": amz_id2(digest)[:32].replace("+", "_").replace("/", ".")}
        if b.versioned
        else {}
    )
    if name in ("PutObject", "CopyObject", "CompleteMultipartUpload"):
        if s.sse_c:
            return {
                "x-amz-server-side-encryption-customer-algorithm": "AES256",
                "x-amz-server-side-encryption-customer-key-MD5": _key_md5(s),
                **version,
            }
        return {"x-amz-server-side-encryption": "AES256", **version}
    if name == "CreateMultipartUpload":
        return {"bucket": b.name, "key": s.key, "uploadId": _upload_id(s)}
    if name == "DeleteObject" and b.versioned:
        return {"x-amz-delete-marker": "true", **version}
    return None


def _resources(s: EventSpec, api: Api) -> list[dict[str, Any]] | None:
    b = s.bucket
    if b is None or api.res == "none":
        return None
    bucket = {"accountId": b.account, "type": "AWS::S3::Bucket", "ARN": b.arn}
    if api.res == _O:
        return [{"type": "AWS::S3::Object", "ARN": f"{b.arn}/{s.key}"}, bucket]
    if api.res == "prefix":
        return [{"type": "AWS::S3::Object", "ARNPrefix": f"{b.arn}/"}, bucket]
    return [bucket]


def build_record(s: EventSpec) -> dict[str, Any]:
    """The CloudTrail record for an S3 call (data or management event)."""
    if s.source != S3:
        return build_other(s)
    api = APIS[s.name]
    digest = hashlib.blake2b(s.rnd.to_bytes(16, "big"), digest_size=64).digest()
    old = (s.rnd >> 120) % 5 == 0
    cipher = _CIPHERS[(s.rnd >> 44) % 3]
    service = s.identity.get("type") == "AWSService"
    rec: dict[str, Any] = {
        "eventVersion": "1.09" if old else "1.10",
        "userIdentity": s.identity,
        "eventTime": iso(s.t),
        "eventSource": S3,
        "eventName": s.name,
        "awsRegion": s.region,
        "sourceIPAddress": s.ip,
        "userAgent": s.ua,
    }
    if s.error:
        rec["errorCode"] = s.error
        rec["errorMessage"] = ERROR_MESSAGES.get(s.error, s.error)
    rec["requestParameters"] = _request(s, api)
    rec["responseElements"] = _response(s, digest)
    bin_, bout = (float(s.bytes_in), float(s.bytes_out)) if old else (s.bytes_in, s.bytes_out)
    extra: dict[str, Any] = {
        "SignatureVersion": "SigV4",
        "CipherSuite": cipher,
        "bytesTransferredIn": bin_,
    }
    if s.auth:
        extra["AuthenticationMethod"] = s.auth
    else:
        del extra["SignatureVersion"]
    extra["x-amz-id-2"] = amz_id2(digest)
    extra["bytesTransferredOut"] = bout
    rec["additionalEventData"] = extra
    rec["requestID"] = digest[:8].hex().upper()
    rec["eventID"] = uuid_from(s.rnd)
    rec["readOnly"] = api.read_only
    resources = _resources(s, api)
    if resources is not None:
        rec["resources"] = resources
    rec["eventType"] = "AwsApiCall"
    rec["managementEvent"] = not api.data
    rec["recipientAccountId"] = s.account
    if service or s.identity.get("accountId", s.account) != s.account:
        rec["sharedEventID"] = uuid_from(int.from_bytes(digest[16:32], "big"))
    if s.vpce:
        rec["vpcEndpointId"] = s.vpce
        rec["vpcEndpointAccountId"] = s.account
    rec["eventCategory"] = "Data" if api.data else "Management"
    if not service:
        host = rec["requestParameters"]["Host"]
        rec["tlsDetails"] = {
            "tlsVersion": "TLSv1.3" if cipher.startswith("TLS_") else "TLSv1.2",
            "cipherSuite": cipher,
            "clientProvidedHostHeader": host,
        }
    if (s.rnd >> 64) % 2500 == 0:
        _make_odd(rec, (s.rnd >> 96) % 5)
    return rec


def _make_odd(rec: dict[str, Any], variant: int) -> None:
    """A tiny share of records miss fields or carry nulls, as the CloudTrail docs warn."""
    if variant == 0:
        rec.pop("userAgent", None)
    elif variant == 1:
        rec["requestParameters"] = None
    elif variant == 2:
        rec["additionalEventData"] = None
    elif variant == 3:
        rec.pop("tlsDetails", None)
        rec.pop("resources", None)
    else:
        rec["sourceIPAddress"] = None
        rec["responseElements"] = None
