"""A daemon that serves one account shard refuses the others' work, cheaply (issue 8).

Two gates, both wired by ``build_service`` only when ``service.accounts`` or
``service.account_prefixes`` is set:

- ``ShardSource`` wraps the queue: a message whose objects are all log files of foreign
  accounts (the account is in the key, ``[P/]AWSLogs/[o-org/]<acct>/CloudTrail/…``) is deleted
  at once, before any download — it is no work for this shard, like a test event;
- ``ShardPipeline`` drops the records of foreign accounts (by ``recipientAccountId``) before
  they are windowed, for what the key did not tell: a CloudTrail SNS notification listing
  files of several accounts, or a file holding another account's records.

Both count (``files.foreign_account``, ``records.foreign_account``) and log once per account,
not per file or record: a misrouted prefix filter would otherwise flood the logs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from typing import Any

from detector.aws.notifications import parse_notification
from detector.aws.sqs import Message, Source
from detector.config import Settings
from detector.errors import PoisonMessage
from detector.ingest.keys import key_account
from detector.ingest.typed import recipient_account
from detector.metrics import Metrics
from detector.pipeline import DetectionStage, Pipeline
from detector.shards import AccountFilter

log = logging.getLogger(__name__)


class AccountScreen:
    """The shard's filter plus what it refused so far (for the once-per-account log line)."""

    def __init__(self, accounts: AccountFilter, metrics: Metrics) -> None:
        self.accounts = accounts
        self.metrics = metrics
        self._reported: set[str] = set()
        self._lock = threading.Lock()

    def foreign_message(self, body: str) -> bool:
        """True when every object ``body`` announces is a log file of a foreign account."""
        try:
            refs = parse_notification(body)
        except PoisonMessage:
            return False  # the loop sends it to the DLQ as usual
        owners = [key_account(ref.key) for ref in refs]
        if not owners or any(o is None or self.accounts.accepts(o) for o in owners):
            return False
        for o in owners:
            assert o is not None
            self.refuse(o, "file")
        self.metrics.incr("files.foreign_account", len(owners))
        return True

    def keep(self, records: Iterable[Any]) -> list[Any]:
        """``records`` without those of foreign recipient accounts.

        A record without a usable ``recipientAccountId`` is kept: its file was admitted by its
        key, and the normalizer counts it as it would anywhere else.
        """
        kept: list[Any] = []
        refused = 0
        accepts = self.accounts.accepts
        for rec in records:
            acct = recipient_account(rec)
            if type(acct) is str and acct and not accepts(acct):
                refused += 1
                self.refuse(acct, "record")
            else:
                kept.append(rec)
        if refused:
            self.metrics.incr("records.foreign_account", refused)
        return kept

    def refuse(self, account: str, seen_in: str) -> None:
        with self._lock:
            if account in self._reported:
                return
            self._reported.add(account)
        log.warning(
            "refusing events of an account outside this shard (logged once per account)",
            extra={"account": account, "seen_in": seen_in, "shard": self.accounts.describe()},
        )


class ShardSource:
    """A ``Source`` that hands the loop only messages with work for this shard."""

    def __init__(self, inner: Source, screen: AccountScreen) -> None:
        self.inner = inner
        self.screen = screen

    def receive(
        self,
        max_messages: int = 10,
        wait_seconds: int = 20,
        visibility_timeout: int | None = None,
    ) -> list[Message]:
        messages = self.inner.receive(max_messages, wait_seconds, visibility_timeout)
        foreign = [m for m in messages if self.screen.foreign_message(m.body)]
        if not foreign:
            return messages
        # Nothing of this shard depends on them, so nothing waits for a checkpoint; one that
        # fails to delete comes back after its visibility timeout and is screened again.
        self.inner.delete(foreign)
        self.screen.metrics.incr("messages.foreign_account", len(foreign))
        gone = {m.message_id for m in foreign}
        return [m for m in messages if m.message_id not in gone]

    def delete(self, messages: Sequence[Message]) -> list[Message]:
        return self.inner.delete(messages)

    def release(self, messages: Sequence[Message]) -> list[Message]:
        return self.inner.release(messages)

    def extend(self, messages: Sequence[Message], seconds: int) -> list[Message]:
        return self.inner.extend(messages, seconds)


class ShardPipeline(Pipeline):
    """The pipeline, minus the records of accounts outside the shard (never windowed)."""

    def __init__(
        self, settings: Settings, detection: DetectionStage, screen: AccountScreen
    ) -> None:
        super().__init__(settings, detection)
        self.screen = screen

    def ingest(self, records: Iterable[Any]) -> None:
        super().ingest(self.screen.keep(records))


def shard_ports(
    accounts: AccountFilter,
    settings: Settings,
    detection: DetectionStage,
    source: Source,
    metrics: Metrics,
) -> tuple[Source, Pipeline]:
    """The daemon's source and pipeline, screened when ``accounts`` is one shard's filter."""
    if not accounts.active:
        return source, Pipeline(settings, detection)
    log.info("serving one account shard", extra={"shard": accounts.describe()})
    screen = AccountScreen(accounts, metrics)
    return ShardSource(source, screen), ShardPipeline(settings, detection, screen)
