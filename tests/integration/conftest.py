"""A real moto server for the whole session, reset before each test.

boto3 reaches it over HTTP through its own settings (``AWS_ENDPOINT_URL``), exactly as it would
reach AWS: the code under test has no test-only switches.
"""

from __future__ import annotations

import logging
import os
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import boto3
import pytest
from moto.server import ThreadedMotoServer

READY_TIMEOUT = 10.0


def _wait_ready(endpoint: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        try:
            with urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=1) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"moto server at {endpoint} not ready after {READY_TIMEOUT} s")
        time.sleep(0.05)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """URL of a moto server on a free port, with the AWS environment pointing at it."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one log line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    env = pytest.MonkeyPatch()
    try:
        _wait_ready(endpoint)
        env.setenv("AWS_ENDPOINT_URL", endpoint)
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        env.setenv("AWS_REGION", "us-east-1")
        # Nothing from the developer's machine may leak in and point a test at real AWS.
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_PROFILE"):
            env.delenv(name, raising=False)
        for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL_")]:
            env.delenv(name)
        env.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
        env.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
        yield endpoint
    finally:
        env.undo()
        server.stop()


@pytest.fixture
def aws(moto_endpoint: str) -> boto3.session.Session:
    """A fresh boto3 session against an empty moto server."""
    request = urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=5) as resp:
        assert resp.status == 200
    return boto3.session.Session()
