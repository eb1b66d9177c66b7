"""boto3 clients built from one injected session, with explicit retry and pool settings.

There are no module-level clients: the CLI builds one ``boto3.session.Session`` and every
adapter receives a client made here. Endpoints are never special-cased: boto3 reads
``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_<SERVICE>`` itself (botocore ≥ 1.31, "service-specific
endpoints"), which is how tests point the same code at a moto server.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Literal

import boto3
from botocore.config import Config

RetryMode = Literal["standard", "adaptive"]


@dataclass(frozen=True, slots=True)
class ClientOptions:
    """Transport settings shared by every client s3ad builds.

    ``standard`` retries throttling and transient errors with jittered backoff; ``adaptive``
    adds client-side rate limiting, which helps when many workers share one account's quota
    (https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html).
    """

    retry_mode: RetryMode = "standard"
    max_attempts: int = 5
    # At least the number of concurrent S3 downloads, or threads queue for a socket.
    max_pool_connections: int = 16
    connect_timeout: float = 5.0
    # Must exceed the SQS long-poll wait (≤ 20 s) or every empty receive becomes a timeout.
    read_timeout: float = 60.0


def client_config(options: ClientOptions) -> Config:
    """The botocore ``Config`` for ``options``."""
    if options.retry_mode not in ("standard", "adaptive"):
        raise ValueError(f"retry_mode must be 'standard' or 'adaptive', not {options.retry_mode!r}")
    if options.max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    return Config(
        retries={"mode": options.retry_mode, "max_attempts": options.max_attempts},
        max_pool_connections=options.max_pool_connections,
        connect_timeout=options.connect_timeout,
        read_timeout=options.read_timeout,
    )


def make_client(
    session: boto3.session.Session, service: str, options: ClientOptions | None = None
) -> Any:
    """A client for ``service`` from ``session``.

    botocore only reads ``AWS_DEFAULT_REGION``; ECS and Lambda also set ``AWS_REGION``, which
    the other AWS SDKs honour, so it is used when the session has no region of its own.
    """
    region = session.region_name or os.environ.get("AWS_REGION") or None
    return session.client(
        service, region_name=region, config=client_config(options or ClientOptions())
    )


def s3_client(session: boto3.session.Session, options: ClientOptions | None = None) -> Any:
    return make_client(session, "s3", options)


def sqs_client(session: boto3.session.Session, options: ClientOptions | None = None) -> Any:
    return make_client(session, "sqs", options)


def events_client(session: boto3.session.Session, options: ClientOptions | None = None) -> Any:
    return make_client(session, "events", options)
