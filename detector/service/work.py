"""One received batch of SQS messages → records into the pipeline, and a verdict per message.

Verdicts decide what happens to each message:
- ``done``: its objects were read (or were bad data, reported, or already in the state) —
  delete after the checkpoint;
- ``no_work``: a test / validation / subscription message — delete at once;
- ``poison``: a body of unknown shape — never deleted, so the redrive policy moves it to the DLQ;
- ``blocked``: an object is missing or forbidden — left for the DLQ where an operator can redrive
  it once permissions are fixed, rather than silently dropped;
- ``retry``: a transient S3 failure — released (visibility 0) for another try.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass, field
from typing import Any

from detector.aws.notifications import ObjectRef, parse_notification
from detector.aws.s3read import TransientError, fetch_many
from detector.aws.sqs import Message
from detector.errors import PoisonMessage, SkippedInput, UnreadableInput
from detector.ingest.keys import LOG, classify_key
from detector.ingest.reader import decode_records
from detector.metrics import Metrics
from detector.service.seen import file_identity

log = logging.getLogger(__name__)

DONE = "done"
NO_WORK = "no_work"
POISON = "poison"
BLOCKED = "blocked"
RETRY = "retry"
_RANK = {DONE: 0, NO_WORK: 0, BLOCKED: 1, RETRY: 2}


@dataclass(slots=True)
class Verdicts:
    by_message: dict[str, str] = field(default_factory=dict)  # message id → verdict
    ingested: list[str] = field(default_factory=list)  # identities of the files read into state
    records: int = 0

    def of(self, verdict: str, messages: Sequence[Message]) -> list[Message]:
        return [m for m in messages if self.by_message.get(m.message_id) == verdict]


def _refs(message: Message, metrics: Metrics) -> list[ObjectRef] | None:
    try:
        refs = parse_notification(message.body)
    except PoisonMessage as exc:
        log.error(
            "poison message left for the DLQ",
            extra={"message_id": message.message_id, "reason": str(exc)},
        )
        metrics.incr("messages.poison")
        return None
    kept = []
    for ref in refs:
        kind = classify_key(ref.key)
        if kind == LOG:
            kept.append(ref)
        else:
            log.info("skipping object", extra={"object": ref.uri, "reason": kind})
            metrics.incr("files.skipped", reason=kind)
    return kept


def process_batch(
    messages: Sequence[Message],
    s3_client: Any,
    ingest: Callable[[list[Any]], None],
    metrics: Metrics,
    cap: int,
    concurrency: int,
    seen: Container[str] = (),
) -> Verdicts:
    """Parse, fetch and ingest every object of ``messages``; return each message's verdict.

    ``seen``: identities (``file_identity``) of files already in the pipeline's state; such a
    file is counted and logged, never ingested again.
    """
    out = Verdicts()
    owners: list[tuple[ObjectRef, str]] = []
    for m in messages:
        refs = _refs(m, metrics)
        if refs is None:
            out.by_message[m.message_id] = POISON
        elif not refs:
            out.by_message[m.message_id] = NO_WORK
            metrics.incr("messages.no_work")
        else:
            out.by_message[m.message_id] = DONE
            owners.extend((ref, m.message_id) for ref in refs)
    results = fetch_many(s3_client, [ref for ref, _ in owners], cap, concurrency)
    for (ref, mid), (_, result) in zip(owners, results, strict=True):
        verdict = _ingest_one(ref, result, ingest, metrics, out, seen)
        if _RANK[verdict] > _RANK[out.by_message[mid]]:
            out.by_message[mid] = verdict
    return out


def _ingest_one(
    ref: ObjectRef,
    result: bytes | Exception,
    ingest: Callable[[list[Any]], None],
    metrics: Metrics,
    out: Verdicts,
    seen: Container[str],
) -> str:
    name = ref.uri
    if isinstance(result, TransientError):
        log.warning(
            "transient S3 failure; message released for retry",
            extra={"object": name, "reason": result.detail},
        )
        metrics.incr("errors", kind="s3-transient")
        return RETRY
    if isinstance(result, UnreadableInput) and result.reason in ("not-found", "access-denied"):
        log.error(
            "object cannot be fetched; message left for the DLQ",
            extra={"object": name, "reason": result.reason},
        )
        metrics.incr("errors", kind=result.reason)
        return BLOCKED
    try:
        if isinstance(result, Exception):
            raise result
        identity = file_identity(ref, result)
        if identity in seen:
            log.info("object already in the state; not read again", extra={"object": name})
            metrics.incr("files.repeated")
            return DONE
        decoded = decode_records(result, name)
    except SkippedInput as exc:
        log.info("skipping object", extra={"object": name, "reason": exc.reason})
        metrics.incr("files.skipped", reason=exc.reason)
        return DONE
    except UnreadableInput as exc:
        # Bad content does not get better with retries: report it once, count it, move on.
        log.error(
            "unreadable object", extra={"object": name, "reason": exc.reason, "detail": exc.detail}
        )
        metrics.incr("files.unreadable", reason=exc.reason)
        return DONE
    except Exception as exc:  # an unexpected failure of one object must not take the batch down
        log.exception("unexpected error reading object; message released", extra={"object": name})
        metrics.incr("errors", kind=type(exc).__name__)
        return RETRY
    if decoded.invalid_lines:
        metrics.incr("records.invalid_lines", decoded.invalid_lines)
    ingest(decoded.records)
    out.ingested.append(identity)
    # One line per object (DEBUG): lets an operator, or a test, tell which files a task read.
    log.debug("object read", extra={"object": name, "records": len(decoded.records)})
    out.records += len(decoded.records)
    metrics.incr("files.read")
    return DONE
