"""The most s3ad's stack could do per record, measured beside DuckDB in one bench run.

Issue 6 asks replay to run at 1.5× DuckDB's single thread, where DuckDB computes only the
per-principal 5-minute aggregates of ``bench.DUCK_SQL``. This measures what that same query
costs in s3ad's stack — its reader (ISA-L inflate + the typed decode) and a plain dict fold of
the query's columns — and what river's HalfSpaceTrees costs to learn one window with the
service's settings. Replay does both of those and more (dedup, principal resolution, the
evidence and sketches a finding shows, per-event rules, per-window rules, features, history,
the IsolationForest), so

    ceiling = 1 / (µs a record of the query in s3ad's stack + µs of river learning a window ×
                   windows a record)

is an upper bound on replay: a replay that did nothing else would run at it, no faster.
"""

from __future__ import annotations

import gc
import random
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

READS = frozenset({"GetObject", "GetObjectVersion"})
WRITES = frozenset({"PutObject", "CopyObject", "CompleteMultipartUpload", "UploadPart"})
DELETES = frozenset({"DeleteObject", "DeleteObjects"})
WIDTH = 300


def _principal(text: bytes) -> str:
    """DuckDB's ``coalesce(sessionIssuer.arn, arn, invokedBy, accountId)`` of a userIdentity."""
    try:
        ui = orjson.loads(text) if text else None
    except orjson.JSONDecodeError:
        ui = None
    if type(ui) is not dict:
        return ""
    ctx = ui.get("sessionContext")
    issuer = ctx.get("sessionIssuer") if type(ctx) is dict else None
    for v in (
        issuer.get("arn") if type(issuer) is dict else None,
        ui.get("arn"),
        ui.get("invokedBy"),
        ui.get("accountId"),
    ):
        if type(v) is str:
            return v
    return ""


def _window(minute: str) -> int:
    """The 5-minute window start (epoch seconds) of a ``YYYY-MM-DDTHH:MM`` prefix."""
    t = int(datetime.fromisoformat(minute).replace(tzinfo=UTC).timestamp())
    return t - t % WIDTH


def fold(files: list[Path]) -> tuple[int, dict[tuple[Any, str, int], list[Any]]]:
    """``bench.DUCK_SQL`` with s3ad's reader and a dict fold: (records read, per (account,
    principal, window start) the list [events, reads, writes, deletes, errors, buckets, keys,
    bytes out, IPs], the last as sets). Principals and window starts are cached by their text,
    as the normalizer caches them."""
    from detector.ingest.reader import read_local
    from detector.ingest.typed import request_fields

    principals: dict[bytes, str] = {}
    windows: dict[str, int] = {}
    groups: dict[tuple[Any, str, int], list[Any]] = {}
    records = 0
    for f in files:
        recs = read_local(f).records
        records += len(recs)
        for r in recs:
            et = r.eventTime
            if r.eventSource != "s3.amazonaws.com" or type(et) is not str:
                continue
            text = bytes(r.userIdentity)
            p = principals.get(text)
            if p is None:
                p = principals[text] = _principal(text)
            w = windows.get(et[:16])
            if w is None:
                w = windows[et[:16]] = _window(et[:16])
            k = (r.recipientAccountId, p, w)
            a = groups.get(k)
            if a is None:
                a = groups[k] = [0, 0, 0, 0, 0, set(), set(), 0.0, set()]
            a[0] += 1
            name = r.eventName
            if name in READS:
                a[1] += 1
            elif name in WRITES:
                a[2] += 1
            elif name in DELETES:
                a[3] += 1
            if r.errorCode is not None:
                a[4] += 1
            rp = r.requestParameters
            fields = request_fields(rp) if rp else None
            if fields is not None:
                if fields[0]:
                    a[5].add(fields[0])
                if fields[1]:
                    a[6].add(fields[1])
            extra = r.additionalEventData
            if extra is not None and type(extra.bytesTransferredOut) in (int, float):
                a[7] += extra.bytesTransferredOut
            if r.sourceIPAddress is not None:
                a[8].add(r.sourceIPAddress)
    return records, groups


def query_in_stack(files: list[Path]) -> dict[str, Any]:
    """``fold`` timed with the GC off, as replay runs: records/s and the windows (groups) it
    found. What it leaves out (dedup, evidence, sketches, rules, models) only makes it faster
    than a replay."""
    gc.disable()
    try:
        t = time.perf_counter()
        records, groups = fold(files)
        dt = time.perf_counter() - t
    finally:
        gc.enable()
    return {
        "records": records,
        "windows": len(groups),
        "seconds": dt,
        "records_per_s": records / dt,
    }


def river_learn_us(learns: int = 20_000) -> float:
    """µs for one ``HalfSpaceTrees.learn_one`` with the service's model settings, on scaled
    feature vectors (the trees are padded to full height: every walk is as long)."""
    from river import anomaly

    from detector.detect.settings import ModelSettings
    from detector.features import FEATURES

    s = ModelSettings()
    hst = anomaly.HalfSpaceTrees(
        n_trees=s.river_trees, height=s.river_height, window_size=s.river_window, seed=s.river_seed
    )
    rng = random.Random(7)
    xs = [{f: rng.random() for f in FEATURES} for _ in range(learns)]
    hst.learn_one(xs[0])  # builds the trees
    gc.disable()
    try:
        t = time.perf_counter()
        for x in xs:
            hst.learn_one(x)
        dt = time.perf_counter() - t
    finally:
        gc.enable()
    return float(dt / learns * 1e6)


def ceiling(query: dict[str, Any], learn_us: float) -> float:
    """Records/s of a replay that did only the query and river's learning of each window."""
    us = 1e6 / float(query["records_per_s"]) + learn_us * query["windows"] / query["records"]
    return float(1e6 / us)
