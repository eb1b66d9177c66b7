"""Wiring for ``s3ad run``: settings → boto3 clients, sinks, model, state store → ``Service``.

The only place that builds AWS clients for the daemon (from one boto3 session) and installs
signal handlers. SIGTERM / SIGINT set the stop flag; the loop then flushes and exits 0.
"""

from __future__ import annotations

import logging
import resource
import signal
import threading
import time
from typing import Any

import boto3

from detector.aws.clients import ClientOptions, s3_client, sqs_client
from detector.aws.sqs import SqsSource
from detector.config import Settings
from detector.errors import ConfigError
from detector.metrics import Metrics
from detector.pipeline import DetectionStage
from detector.service.emf import emit
from detector.service.health import HealthServer, HealthState
from detector.service.loop import Service
from detector.service.shard import shard_ports
from detector.service.state import open_state_store
from detector.shards import AccountFilter
from detector.sinks import SinkOptions, open_sinks

log = logging.getLogger(__name__)

UNITS = {"lag_seconds": "Seconds", "records_per_second": "Count/Second"}


def queue_counts(client: Any, queue_url: str) -> tuple[int, int]:
    """Messages visible and in flight (approximate, as SQS reports them)."""
    attrs = client.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attrs.get("ApproximateNumberOfMessages", 0)), int(
        attrs.get("ApproximateNumberOfMessagesNotVisible", 0)
    )


def queue_backlog(client: Any, queue_url: str) -> int:
    """Messages visible or in flight."""
    return sum(queue_counts(client, queue_url))


def build_service(
    settings: Settings, detection: DetectionStage, metrics: Metrics, session: boto3.session.Session
) -> Service:
    s = settings.service
    if not s.queue_url:
        raise ConfigError(
            "s3ad run needs a queue: --queue-url, S3AD_SERVICE_QUEUE_URL or [service] queue_url"
        )
    if s.retry_mode not in ("standard", "adaptive"):
        raise ConfigError(f"service.retry_mode must be standard or adaptive, not {s.retry_mode!r}")
    shard = AccountFilter.build(s.accounts, s.account_prefixes)  # malformed ids: ConfigError
    copts = ClientOptions(
        retry_mode="adaptive" if s.retry_mode == "adaptive" else "standard",
        max_attempts=s.max_attempts,
        max_pool_connections=max(16, s.fetch_concurrency * 2),
    )
    sqs = sqs_client(session, copts)
    s3 = s3_client(session, copts)
    # One account shard of several screens the queue and the records; else both as they are.
    source, pipeline = shard_ports(
        shard, settings, detection, SqsSource(sqs, s.queue_url, metrics=metrics), metrics
    )
    sink = open_sinks(
        list(s.sinks),
        session_factory=lambda: session,
        options=SinkOptions(
            source=s.event_source, max_entry_bytes=s.max_entry_bytes, max_attempts=s.sink_attempts
        ),
        client_options=copts,
        metrics=metrics,
    )
    store = open_state_store(s.state, lambda: s3)
    return Service(
        settings=s,
        pipeline=pipeline,
        source=source,
        s3_client=s3,
        sink=sink,
        store=store,
        metrics=metrics,
        max_object_bytes=settings.input.max_object_bytes,
        backlog=lambda: queue_backlog(sqs, s.queue_url),
        in_flight=lambda: queue_counts(sqs, s.queue_url)[1],
    )


def _report_metrics(metrics: Metrics, stop: threading.Event, every: float) -> None:
    before = metrics.snapshot()
    t0 = time.monotonic()
    while not stop.wait(every):
        now_snap = metrics.snapshot()
        t1 = time.monotonic()
        values = {
            k.replace("{", ".").replace("}", "").replace("=", "."): v for k, v in now_snap.items()
        }
        values["records_per_second"] = (
            now_snap.get("records.read", 0) - before.get("records.read", 0)
        ) / max(t1 - t0, 1e-9)
        emit(values, UNITS)
        before, t0 = now_snap, t1


def run_service(
    settings: Settings, detection: DetectionStage, session: boto3.session.Session | None = None
) -> int:
    metrics = Metrics()
    service = build_service(settings, detection, metrics, session or boto3.session.Session())
    s = settings.service
    health = HealthState(stale_after=max(120.0, 3 * s.wait_seconds))
    service.health = health
    server = (
        HealthServer(health, metrics, s.health_bind, s.health_port, s.prometheus).start()
        if s.health_port >= 0
        else None
    )
    if server is not None:
        log.info("health endpoints up", extra={"bind": s.health_bind, "port": server.port})

    def on_signal(signum: int, _frame: Any) -> None:
        log.info("stop requested", extra={"signal": signal.Signals(signum).name})
        service.stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    reporter = threading.Thread(
        target=_report_metrics, args=(metrics, service.stop, s.metrics_seconds), daemon=True
    )
    reporter.start()
    started = time.monotonic()
    try:
        code = service.run()
    finally:
        if server is not None:
            server.stop()
    snap = metrics.snapshot()
    emit({k: v for k, v in snap.items() if "{" not in k}, UNITS)
    log.info(
        "s3ad run finished",
        extra={
            "seconds": round(time.monotonic() - started, 1),
            "files": snap.get("files.read", 0),
            "records": snap.get("records.read", 0),
            "findings_published": snap.get("findings.published", 0),
            "messages_deleted": snap.get("messages.deleted", 0),
            "files_skipped": sum(v for k, v in snap.items() if k.startswith("files.skipped")),
            "files_unreadable": sum(v for k, v in snap.items() if k.startswith("files.unreadable")),
            # ru_maxrss is in KiB on Linux: the task's high-water mark, for sizing the container.
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        },
    )
    return code
