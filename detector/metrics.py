"""Counters and gauges, passed explicitly to the stages that count things.

The service loop turns a snapshot into CloudWatch Embedded Metric Format log lines (and an
optional Prometheus page); replay prints a summary. Names are dotted, e.g. ``files.unreadable``;
dimensions become part of the key (``errors{kind=not-gzip}``) so a snapshot is a flat dict.
"""

from __future__ import annotations

import threading
from collections import Counter


def metric_key(name: str, dims: dict[str, str] | None = None) -> str:
    """Flat key of a metric with dimensions.

    >>> metric_key("errors", {"kind": "not-gzip"})
    'errors{kind=not-gzip}'
    """
    if not dims:
        return name
    inner = ",".join(f"{k}={v}" for k, v in sorted(dims.items()))
    return f"{name}{{{inner}}}"


class Metrics:
    """Thread-safe counters and gauges."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counters: Counter[str] = Counter()
        self.gauges: dict[str, float] = {}

    def incr(self, name: str, n: int = 1, **dims: str) -> None:
        key = metric_key(name, dims)
        with self._lock:
            self.counters[key] += n

    def gauge(self, name: str, value: float, **dims: str) -> None:
        key = metric_key(name, dims)
        with self._lock:
            self.gauges[key] = value

    def get(self, name: str, **dims: str) -> int:
        return self.counters.get(metric_key(name, dims), 0)

    def snapshot(self) -> dict[str, float]:
        with self._lock:
            out: dict[str, float] = dict(self.counters)
            out.update(self.gauges)
        return out
