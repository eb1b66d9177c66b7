"""Health endpoints and metrics output, as ECS and CloudWatch consume them.

Story: ECS replaces a task whose ``/healthz`` fails (a hung main loop), a load balancer or an
operator checks ``/readyz``, and CloudWatch Logs turns EMF lines into metrics without any API
call. None of it may listen beyond loopback unless configured.
"""

from __future__ import annotations

import io
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from detector.metrics import Metrics
from detector.service.emf import NAMESPACE, emf_document, emit
from detector.service.health import HealthServer, HealthState, prometheus_text


def get(port: int, path: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as resp:
            return resp.status, resp.read().decode(), resp.headers["Content-Type"]
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), exc.headers["Content-Type"]


@pytest.fixture
def served() -> Iterator[tuple[HealthState, Metrics, HealthServer]]:
    state = HealthState(stale_after=0.3)
    metrics = Metrics()
    server = HealthServer(state, metrics, "127.0.0.1", 0, prometheus=True).start()
    try:
        yield state, metrics, server
    finally:
        server.stop()


def test_healthz_fails_once_the_main_loop_stops_turning(
    served: tuple[HealthState, Metrics, HealthServer],
) -> None:
    state, _, server = served
    assert get(server.port, "/healthz")[:2] == (200, "ok\n")
    time.sleep(0.4)
    assert get(server.port, "/healthz")[:2] == (503, "main loop stalled\n")
    state.beat()
    assert get(server.port, "/healthz")[0] == 200


def test_readyz_follows_the_ready_flag(served: tuple[HealthState, Metrics, HealthServer]) -> None:
    state, _, server = served
    assert get(server.port, "/readyz")[:2] == (503, "not ready\n")  # restoring state
    state.ready = True
    assert get(server.port, "/readyz")[:2] == (200, "ready\n")
    state.ready = False  # shutting down
    assert get(server.port, "/readyz")[0] == 503


def test_prometheus_page_and_unknown_paths(
    served: tuple[HealthState, Metrics, HealthServer],
) -> None:
    _, metrics, server = served
    metrics.incr("files.read", 3)
    metrics.incr("errors", kind="not-gzip")
    code, body, ctype = get(server.port, "/metrics")
    assert code == 200 and ctype.startswith("text/plain; version=0.0.4")
    assert "s3ad_files_read 3\n" in body
    assert 's3ad_errors{kind="not-gzip"} 1\n' in body
    assert get(server.port, "/nope")[0] == 404


def test_metrics_page_is_off_unless_asked_for() -> None:
    server = HealthServer(HealthState(), Metrics(), "127.0.0.1", 0, prometheus=False).start()
    try:
        assert get(server.port, "/metrics")[0] == 404
        assert server.server.server_address[0] == "127.0.0.1"
    finally:
        server.stop()


def test_prometheus_text_sanitises_names_and_label_values() -> None:
    metrics = Metrics()
    metrics.incr("findings", 2, type="Exfiltration:S3/AnomalousBehavior")
    metrics.gauge("lag_seconds", 12.5)
    text = prometheus_text(metrics)
    assert text.splitlines() == [
        's3ad_findings{type="Exfiltration:S3/AnomalousBehavior"} 2',
        "s3ad_lag_seconds 12.5",
    ]


def test_emf_document_is_what_cloudwatch_expects() -> None:
    doc = emf_document(
        {"records_per_second": 10.5, "files.read": 3}, {"records_per_second": "Count/Second"}, 1.5
    )
    directive = doc["_aws"]["CloudWatchMetrics"][0]
    assert doc["_aws"]["Timestamp"] == 1500
    assert directive["Namespace"] == NAMESPACE == "s3ad"
    assert directive["Dimensions"] == [[]]
    assert directive["Metrics"] == [
        {"Name": "files.read", "Unit": "Count"},
        {"Name": "records_per_second", "Unit": "Count/Second"},
    ]
    assert doc["files.read"] == 3 and doc["records_per_second"] == 10.5


def test_emit_writes_one_json_line_to_stderr_by_default(
    capsys: pytest.CaptureFixture[str],
) -> None:
    emit({"files.read": 1}, {})
    out, err = capsys.readouterr()
    assert out == ""  # stdout belongs to findings (stdout://)
    (line,) = err.splitlines()
    assert json.loads(line)["files.read"] == 1

    buf = io.StringIO()
    emit({"a": 1}, {}, out=buf)
    assert buf.getvalue().endswith("\n") and json.loads(buf.getvalue())["a"] == 1
