"""Read CloudTrail log objects from S3: streamed, capped gunzip and a clear error taxonomy.

The caller's decision depends on the kind of failure, so it is typed here:

- ``UnreadableInput`` — the object will never be readable as it is (missing, forbidden, not
  gzip, a gzip bomb): count it, log it and delete the message; retrying cannot help.
- ``TransientError`` — S3 or the network failed after botocore's own retries: release the
  message so SQS delivers it again later (and the redrive policy ends the loop eventually).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

from detector.aws.notifications import ObjectRef
from detector.errors import S3adError, UnreadableInput
from detector.ingest.decompress import gunzip_stream

log = logging.getLogger(__name__)

# Error codes from https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html
# (HeadObject-style responses carry only the HTTP status as the code, hence "404"/"403").
_NOT_FOUND = frozenset({"NoSuchKey", "NoSuchBucket", "NotFound", "404"})
_DENIED = frozenset({"AccessDenied", "AllAccessDisabled", "AccountProblem", "403"})
# Archived (Glacier / Deep Archive) objects need a restore first: not fixable by a retry.
_ARCHIVED = frozenset({"InvalidObjectState"})


class TransientError(S3adError):
    """S3 or the network failed in a way a later retry may fix; release, don't drop."""

    def __init__(self, name: str, detail: str) -> None:
        self.name = name
        self.detail = detail
        super().__init__(f"{name}: transient failure ({detail})")


def fetch_object(s3_client: Any, ref: ObjectRef, cap: int) -> bytes:
    """The decompressed bytes of ``ref``, at most ``cap`` of them.

    The body is streamed through the capped gunzip, so memory stays bounded by the output cap
    plus one read chunk, whatever the object's compressed size.
    """
    name = ref.uri
    try:
        response = s3_client.get_object(Bucket=ref.bucket, Key=ref.key)
    except ClientError as exc:
        raise _classify(name, exc) from exc
    except ParamValidationError as exc:
        # botocore rejects impossible bucket names before sending; no such object can exist.
        raise UnreadableInput(name, "not-found", str(exc)) from exc
    except BotoCoreError as exc:
        raise TransientError(name, f"{type(exc).__name__}: {exc}") from exc
    body = response["Body"]
    try:
        return gunzip_stream(body, name, cap)
    except (BotoCoreError, OSError) as exc:
        # A connection reset or read timeout mid-stream (botocore's ResponseStreamingError,
        # ReadTimeoutError) happens after the request-level retries: let SQS retry it.
        raise TransientError(name, f"reading body: {type(exc).__name__}: {exc}") from exc
    finally:
        body.close()


def _classify(name: str, exc: ClientError) -> S3adError:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    message = str(error.get("Message", ""))
    if code in _NOT_FOUND or status == 404:
        return UnreadableInput(name, "not-found", message)
    if code in _DENIED or status == 403:
        return UnreadableInput(name, "access-denied", message)
    if code in _ARCHIVED:
        return UnreadableInput(name, "io-error", f"{code}: {message}")
    return TransientError(name, f"{code or status}: {message}")


def fetch_many(
    s3_client: Any, refs: Iterable[ObjectRef], cap: int, max_workers: int = 8
) -> Iterator[tuple[ObjectRef, bytes | Exception]]:
    """``(ref, bytes or the error)`` for each ref, in the order given, ``max_workers`` at a time.

    At most ``max_workers`` downloads are in flight, and results are yielded as soon as the
    head of the line is done, so memory holds at most ``max_workers`` decompressed objects.
    Errors are returned, not raised, so one bad object does not hide the others' results.
    Closing the iterator early cancels the downloads not yet started.
    """
    if max_workers < 1:
        raise ValueError("max_workers must be at least 1")
    pending: deque[tuple[ObjectRef, Future[bytes]]] = deque()
    executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="s3-fetch")
    try:
        for ref in refs:
            pending.append((ref, executor.submit(fetch_object, s3_client, ref, cap)))
            if len(pending) >= max_workers:
                yield _result(*pending.popleft())
        while pending:
            yield _result(*pending.popleft())
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


def _result(ref: ObjectRef, future: Future[bytes]) -> tuple[ObjectRef, bytes | Exception]:
    try:
        return ref, future.result()
    except Exception as exc:  # returned to the caller, who owns the decision
        if not isinstance(exc, S3adError):
            log.warning(
                "unexpected error reading object",
                extra={"object": ref.uri, "error": f"{type(exc).__name__}: {exc}"},
            )
        return ref, exc
