"""``/healthz``, ``/readyz`` and optional Prometheus ``/metrics`` on a loopback HTTP server.

Healthy = the main loop has turned within ``stale_after`` seconds (a hung loop fails the ECS
health check and gets the task replaced). Ready = state restored and model loaded, and not
shutting down. Binds to 127.0.0.1 unless configured otherwise: nothing here is for the network.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from detector.metrics import Metrics


class HealthState:
    def __init__(self, stale_after: float = 120.0) -> None:
        self.stale_after = stale_after
        self.ready = False
        self.last_beat = time.monotonic()

    def beat(self) -> None:
        self.last_beat = time.monotonic()

    def healthy(self) -> bool:
        return time.monotonic() - self.last_beat < self.stale_after


def prometheus_text(metrics: Metrics) -> str:
    """Counters and gauges in Prometheus text format (names sanitised, dims as labels)."""
    lines = []
    for key, value in sorted(metrics.snapshot().items()):
        name, _, dims = key.partition("{")
        metric = "s3ad_" + "".join(c if c.isalnum() else "_" for c in name)
        labels = ""
        if dims:
            pairs = [p.split("=", 1) for p in dims.rstrip("}").split(",") if "=" in p]
            labels = "{" + ",".join(f'{k}="{v.replace(chr(34), "")}"' for k, v in pairs) + "}"
        lines.append(f"{metric}{labels} {value}")
    return "\n".join(lines) + "\n"


class HealthServer:
    def __init__(
        self, state: HealthState, metrics: Metrics, bind: str, port: int, prometheus: bool
    ) -> None:
        handler = _handler(state, metrics, prometheus)
        self.server = ThreadingHTTPServer((bind, port), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="health", daemon=True)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def start(self) -> HealthServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _handler(state: HealthState, metrics: Metrics, prometheus: bool) -> Any:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/healthz":
                ok = state.healthy()
                self._send(200 if ok else 503, "ok\n" if ok else "main loop stalled\n")
            elif self.path == "/readyz":
                self._send(200 if state.ready else 503, "ready\n" if state.ready else "not ready\n")
            elif self.path == "/metrics" and prometheus:
                self._send(200, prometheus_text(metrics), "text/plain; version=0.0.4")
            else:
                self._send(404, "not found\n")

        def _send(self, code: int, body: str, ctype: str = "text/plain") -> None:
            data = body.encode()
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return  # probes every few seconds would drown the logs

    return Handler
