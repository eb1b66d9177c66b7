"""Finding sinks, chosen by URL scheme (as Cloud Custodian chooses its outputs).

>>> sink = open_sink("null://")
>>> sink.publish([{"id": "f1"}])
>>> sink.count
1

Known schemes: ``stdout://``, ``jsonl:///abs/path.jsonl`` or ``jsonl://relative.jsonl``,
``null://`` and ``eventbridge://BUS`` (a bus name or ARN). Only the EventBridge sink touches
AWS, and it builds its client from ``session_factory`` when opened, never at import.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import boto3

from detector.aws.clients import ClientOptions, events_client
from detector.errors import ConfigError
from detector.metrics import Metrics
from detector.sinks.base import FanoutSink, Finding, Sink, SinkError, SinkOptions
from detector.sinks.eventbridge import EventBridgeSink, validate_config
from detector.sinks.local import JsonlSink, NullSink, StdoutSink

__all__ = [
    "SINKS",
    "EventBridgeSink",
    "FanoutSink",
    "Finding",
    "JsonlSink",
    "NullSink",
    "Sink",
    "SinkError",
    "SinkOptions",
    "StdoutSink",
    "open_sink",
    "open_sinks",
]

SessionFactory = Callable[[], boto3.session.Session]


@dataclass(frozen=True, slots=True)
class _Context:
    session_factory: SessionFactory
    options: SinkOptions
    client_options: ClientOptions | None
    metrics: Metrics | None


def _stdout(rest: str, ctx: _Context) -> Sink:
    if rest:
        raise ConfigError(f"stdout:// takes no path, got {rest!r}")
    return StdoutSink()


def _jsonl(rest: str, ctx: _Context) -> Sink:
    # jsonl:///abs/f.jsonl keeps its leading "/"; jsonl://rel/f.jsonl is relative to the cwd.
    return JsonlSink(rest)


def _null(rest: str, ctx: _Context) -> Sink:
    return NullSink()


def _eventbridge(rest: str, ctx: _Context) -> Sink:
    # Validate before building a client, so a bad config fails without touching AWS.
    validate_config(rest, ctx.options)
    client: Any = events_client(ctx.session_factory(), ctx.client_options)
    return EventBridgeSink(client, rest, options=ctx.options, metrics=ctx.metrics)


SINKS: Mapping[str, Callable[[str, _Context], Sink]] = {
    "stdout": _stdout,
    "jsonl": _jsonl,
    "null": _null,
    "eventbridge": _eventbridge,
}


def open_sink(
    url: str,
    *,
    session_factory: SessionFactory = boto3.session.Session,
    options: SinkOptions | None = None,
    client_options: ClientOptions | None = None,
    metrics: Metrics | None = None,
) -> Sink:
    """The sink for ``url``; ``ConfigError`` for an unknown scheme or a bad URL."""
    scheme, sep, rest = url.partition("://")
    factory = SINKS.get(scheme.lower()) if sep else None
    if factory is None:
        known = ", ".join(f"{name}://" for name in SINKS)
        raise ConfigError(f"unknown sink URL {url!r}; known schemes: {known}")
    ctx = _Context(session_factory, options or SinkOptions(), client_options, metrics)
    return factory(rest, ctx)


def open_sinks(
    urls: Sequence[str],
    *,
    session_factory: SessionFactory = boto3.session.Session,
    options: SinkOptions | None = None,
    client_options: ClientOptions | None = None,
    metrics: Metrics | None = None,
) -> Sink:
    """One sink for several URLs: publishes to each, fails if any failed."""
    if not urls:
        raise ConfigError("at least one sink URL is required")
    sinks: list[Sink] = []
    try:
        for url in urls:
            sinks.append(
                open_sink(
                    url,
                    session_factory=session_factory,
                    options=options,
                    client_options=client_options,
                    metrics=metrics,
                )
            )
    except ConfigError:
        for sink in sinks:
            with contextlib.suppress(SinkError):
                sink.close()
        raise
    return sinks[0] if len(sinks) == 1 else FanoutSink(sinks)
