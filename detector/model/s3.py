"""Fetch an artifact from ``s3://bucket/prefix/`` into a local directory, for the loader.

Only ``metadata.json`` and the files it lists are fetched, each under the size it declares; the
loader then verifies the local copies exactly as it verifies a directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from botocore.exceptions import BotoCoreError, ClientError

from detector.errors import ModelError
from detector.model.format import METADATA, safe_file_name

MAX_METADATA_BYTES = 16 << 20


def split_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/prefix`` → (bucket, prefix ending in "/" or empty).

    >>> split_uri("s3://models/prod/v3")
    ('models', 'prod/v3/')
    >>> split_uri("s3://models")
    ('models', '')
    """
    bucket, _, prefix = uri[len("s3://") :].partition("/")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return bucket, prefix


def download_artifact(uri: str, dest: Path, s3_client: Any = None) -> None:
    """Copy the artifact at ``uri`` into ``dest`` (no verification here: the loader does it)."""
    if s3_client is None:
        import boto3

        from detector.aws.clients import s3_client as make_s3

        s3_client = make_s3(boto3.session.Session())
    bucket, prefix = split_uri(uri)
    if not bucket:
        raise ModelError(f"{uri}: no bucket in the model location")
    meta = _get(s3_client, bucket, prefix + METADATA, MAX_METADATA_BYTES, uri)
    if meta is None:
        raise ModelError(
            f"{uri}: no {METADATA} at s3://{bucket}/{prefix}{METADATA}; only artifacts written "
            "by `s3ad train` are loaded"
        )
    (dest / METADATA).write_bytes(meta)
    try:
        listing = orjson.loads(meta).get("files", {})
    except (orjson.JSONDecodeError, AttributeError):
        return  # the loader reports the malformed metadata.json
    if not isinstance(listing, dict):
        return
    for name, entry in listing.items():
        if not safe_file_name(name) or not isinstance(entry, dict):
            continue  # refused by the loader, never fetched
        data = _get(s3_client, bucket, prefix + name, int(entry.get("bytes", 0)), uri)
        if data is None:
            continue  # the loader names the missing file
        path = dest / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def _get(client: Any, bucket: str, key: str, limit: int, uri: str) -> bytes | None:
    """The object's first ``limit + 1`` bytes (one more tells the loader it is too big)."""
    try:
        body = client.get_object(Bucket=bucket, Key=key)["Body"]
        try:
            return bytes(body.read(limit + 1))
        finally:
            body.close()
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("NoSuchKey", "404", "NotFound"):
            return None
        raise ModelError(f"{uri}: cannot read s3://{bucket}/{key}: {code or exc}") from exc
    except BotoCoreError as exc:
        raise ModelError(f"{uri}: cannot read s3://{bucket}/{key}: {exc}") from exc
