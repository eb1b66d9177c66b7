"""eventName → API class (read / write / delete / list / discovery / permission / config).

Explicit names first; unknown names fall back on their verb so new S3 APIs still land in a
sensible class instead of ``other``.
"""

from __future__ import annotations

from detector.events import CONFIG, DELETE, DISCOVERY, LIST, OTHER, PERMISSION, READ, WRITE

_EXPLICIT: dict[str, str] = {
    # reads: object bytes leave S3 (GuardDuty's Exfiltration family)
    "GetObject": READ,
    "GetObjectVersion": READ,
    "SelectObjectContent": READ,
    "GetObjectTorrent": READ,
    # writes
    "PutObject": WRITE,
    "CopyObject": WRITE,
    "UploadPart": WRITE,
    "UploadPartCopy": WRITE,
    "CreateMultipartUpload": WRITE,
    "CompleteMultipartUpload": WRITE,
    "AbortMultipartUpload": WRITE,
    "RestoreObject": WRITE,
    "PutObjectTagging": WRITE,
    "DeleteObjectTagging": WRITE,
    "PutObjectRetention": CONFIG,
    "PutObjectLegalHold": CONFIG,
    # deletes
    "DeleteObject": DELETE,
    "DeleteObjects": DELETE,
    "DeleteObjectVersion": DELETE,
    # listing (ListObjectsV2 is logged as ListObjects with list-type 2 — accept both)
    "ListObjects": LIST,
    "ListObjectsV2": LIST,
    "ListObjectVersions": LIST,
    "ListMultipartUploads": LIST,
    "ListParts": LIST,
    "ListBuckets": LIST,
    "ListDirectoryBuckets": LIST,
    # discovery: metadata about objects and buckets
    "HeadObject": DISCOVERY,
    "HeadBucket": DISCOVERY,
    "GetObjectAcl": DISCOVERY,
    "GetObjectAttributes": DISCOVERY,
    "GetObjectTagging": DISCOVERY,
    "GetObjectRetention": DISCOVERY,
    "GetObjectLegalHold": DISCOVERY,
    "GetBucketAcl": DISCOVERY,
    "GetBucketPolicy": DISCOVERY,
    "GetBucketPolicyStatus": DISCOVERY,
    "GetBucketLocation": DISCOVERY,
    "GetBucketPublicAccessBlock": DISCOVERY,
    "GetAccountPublicAccessBlock": DISCOVERY,
    # permission changes
    "PutBucketPolicy": PERMISSION,
    "DeleteBucketPolicy": PERMISSION,
    "PutBucketAcl": PERMISSION,
    "PutObjectAcl": PERMISSION,
    "PutBucketPublicAccessBlock": PERMISSION,
    "DeleteBucketPublicAccessBlock": PERMISSION,
    "PutAccountPublicAccessBlock": PERMISSION,
    "DeleteAccountPublicAccessBlock": PERMISSION,
    "DeletePublicAccessBlock": PERMISSION,
    "PutBucketOwnershipControls": PERMISSION,
    "DeleteBucketOwnershipControls": PERMISSION,
    # configuration changes
    "PutBucketLogging": CONFIG,
    "PutBucketEncryption": CONFIG,
    "DeleteBucketEncryption": CONFIG,
    "PutBucketVersioning": CONFIG,
    "PutBucketLifecycle": CONFIG,
    "PutBucketLifecycleConfiguration": CONFIG,
    "DeleteBucketLifecycle": CONFIG,
    "PutBucketReplication": CONFIG,
    "DeleteBucketReplication": CONFIG,
    "PutObjectLockConfiguration": CONFIG,
    "CreateBucket": CONFIG,
    "DeleteBucket": CONFIG,
}


def api_class(event_name: str, data_event: bool) -> str:
    """Class of an S3 API call.

    >>> api_class("GetObject", True), api_class("PutBucketAcl", False)
    ('read', 'permission')
    >>> api_class("GetBucketIntelligentTieringConfiguration", False)
    'discovery'
    """
    known = _EXPLICIT.get(event_name)
    if known is not None:
        return known
    if event_name.startswith(("Get", "Head", "Describe")):
        return DISCOVERY
    if event_name.startswith("List"):
        return LIST
    if event_name.startswith("Delete"):
        return DELETE if data_event else CONFIG
    if event_name.startswith(("Put", "Create", "Update", "Restore", "Upload", "Copy")):
        return WRITE if data_event else CONFIG
    return OTHER


# Events that rules read in detail (their requestParameters are kept on the S3Event).
KEEP_REQUEST = frozenset(name for name, cls in _EXPLICIT.items() if cls in (PERMISSION, CONFIG)) | {
    "PutBucketTagging",
    "PutBucketCors",
    "PutBucketWebsite",
}
