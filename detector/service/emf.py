"""Metrics as CloudWatch Embedded Metric Format log lines.

CloudWatch Logs turns each such JSON line into metrics without any API call or client:
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
"""

from __future__ import annotations

import sys
import time
from typing import IO, Any

import orjson

NAMESPACE = "s3ad"


def emf_document(
    values: dict[str, float], units: dict[str, str], now: float | None = None
) -> dict[str, Any]:
    """One EMF document with every value as a metric (no dimensions: one task = one stream)."""
    names = sorted(values)
    doc: dict[str, Any] = {
        "_aws": {
            "Timestamp": int((now if now is not None else time.time()) * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": [[]],
                    "Metrics": [{"Name": n, "Unit": units.get(n, "Count")} for n in names],
                }
            ],
        }
    }
    for n in names:
        doc[n] = values[n]
    return doc


def emit(values: dict[str, float], units: dict[str, str], out: IO[str] | None = None) -> None:
    stream = out or sys.stderr  # stdout is kept for findings (stdout://)
    stream.write(orjson.dumps(emf_document(values, units)).decode() + "\n")
    stream.flush()
