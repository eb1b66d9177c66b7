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
from pathlib import Path
from typing import Any

import orjson

from detector.ingest.reader import read_local
from detector.ingest.typed import request_fields
from detector.normalize import TimeParser

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


class QueryFold:
    """``bench.DUCK_SQL`` with s3ad's reader and a dict fold, one file at a time (``add``, which
    ``bench`` times like its other floors). ``groups``: per (account, principal, window start)
    the list [events, reads, writes, deletes, errors, buckets, keys, bytes out, IPs], the
    distinct ones as sets. Principals are cached by their text, as the normalizer caches them,
    and times are parsed by its ``TimeParser``."""

    def __init__(self) -> None:
        self.groups: dict[tuple[Any, str, int], list[Any]] = {}
        self._principals: dict[bytes, str] = {}
        self._times = TimeParser()

    def add(self, path: Path) -> int:
        """Fold one file in; the number of records it held."""
        groups, principals = self.groups, self._principals
        recs = read_local(path).records
        for r in recs:
            if r.eventSource != "s3.amazonaws.com":
                continue
            t = self._times.parse(r.eventTime)
            if t is None:
                continue
            text = bytes(r.userIdentity)
            p = principals.get(text)
            if p is None:
                p = principals[text] = _principal(text)
            start = int(t)
            k = (r.recipientAccountId, p, start - start % WIDTH)
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
        return len(recs)


def river_learn_us(learns: int = 20_000) -> float:
    """µs for one ``HalfSpaceTrees.learn_one`` of a population model as the service makes it,
    on vectors in [0, 1] (the trees are padded to full height: every walk is as long)."""
    from detector.detect.online import PopulationModel
    from detector.detect.settings import ModelSettings
    from detector.features import FEATURES

    hst = PopulationModel(ModelSettings()).hst
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
    """Records/s of a replay that did only the query (``records_per_s`` over ``records`` with
    ``windows``) and river's learning of each window."""
    us = 1e6 / float(query["records_per_s"]) + learn_us * query["windows"] / query["records"]
    return float(1e6 / us)
