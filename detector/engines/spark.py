"""PySpark engine: our own ``collect_chunk`` in Spark tasks, partial windows merged by key.

The driver lists the files (``engines.sources``) and hands contiguous chunks of names to
``sc.parallelize``; each task reads its files with the project's reader (boto3 built inside the
task for ``s3://``: the PyPI pyspark has no S3 connector, and none is needed), folds them into
``WindowAgg``s, and emits ``(key, window state)`` pairs plus one ``(None, counters)`` pair.
``reduceByKey`` merges states with ``WindowAgg.merge``, which is associative and commutative, so
the windows equal the local engine's bit for bit however Spark splits and orders the work
(``tests/integration/test_spark_equality.py``). There is deliberately no Spark JSON reader, no
schema and no SQL: a second copy of the features would drift from the service's (issue 8).

Outside ``spark-submit`` the engine starts its own Spark in ``local[*]`` (or ``--spark-master``),
bound to the loopback interface with the web UI off.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from detector.train.collect import CollectSpec, Key, Partial, Reader, chunks, collect_chunk
from detector.windows import WindowAgg

# Upper bound on the files one task reads: short tasks keep retries cheap and let dynamic
# allocation (EMR Serverless, Glue auto scaling) add executors for a long listing.
FILES_PER_TASK = 500
TASKS_PER_SLOT = 4  # as the local engine: a slow chunk does not hold up a whole slot

# (window key, WindowAgg.state()) or (None, a Partial holding only the counters)
Pair = tuple[Key | None, Any]

LOOPBACK = {
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
}


def map_chunks(spec: CollectSpec, reader: Reader, work: Iterable[list[str]]) -> Iterator[Pair]:
    """A task: fold each chunk of files, emit its windows as plain state and its counters."""
    for names in work:
        part = collect_chunk((names, spec, reader))
        for key, w in part.windows.items():
            yield key, w.state()
        part.windows = {}
        yield None, part


def merge_values(a: Any, b: Any) -> Any:
    """``reduceByKey``'s function: counters add up, window states merge as ``WindowAgg``s."""
    if isinstance(a, Partial):
        a.merge(b)
        return a
    w = WindowAgg.from_state(a)
    w.merge(WindowAgg.from_state(b))
    return w.state()


def rebuild(pairs: Iterable[Pair]) -> Partial:
    """The driver's ``Partial`` from the merged pairs (``closed()`` then sorts the windows)."""
    total = Partial()
    for key, value in pairs:
        if key is None:
            total.merge(value)
        else:
            total.windows[key] = WindowAgg.from_state(value)
    return total


def task_count(files: int, slots: int) -> int:
    """How many tasks to split ``files`` into.

    >>> task_count(100, 2), task_count(3, 8), task_count(100_000, 2)
    (8, 3, 200)
    """
    if files <= 0:
        return 0
    return min(files, max(slots * TASKS_PER_SLOT, math.ceil(files / FILES_PER_TASK)))


class SparkEngine:
    """Map/merge on a Spark cluster (or ``local[N]``) through the RDD API."""

    name = "spark"

    def __init__(self, workers: int = 0, master: str | None = None, context: Any = None) -> None:
        from pyspark import SparkContext

        self.workers = workers
        # Stop at close only a context this engine started, not one it was handed or found.
        self._own = context is None and SparkContext._active_spark_context is None
        self.sc: Any = context if context is not None else start_context(master)

    def slots(self) -> int:
        return self.workers or int(self.sc.defaultParallelism)

    def describe(self) -> str:
        return f"spark ({self.sc.master}), {self.slots()} task slots"

    def collect(self, names: Sequence[str], spec: CollectSpec, reader: Reader) -> Partial:
        work = chunks(list(names), task_count(len(names), self.slots())) if names else []
        if not work:
            return Partial()
        rdd = self.sc.parallelize(work, len(work))
        merged = rdd.mapPartitions(functools.partial(map_chunks, spec, reader)).reduceByKey(
            merge_values
        )
        return rebuild(merged.collect())

    def close(self) -> None:
        if self._own:
            self.sc.stop()


def start_context(master: str | None = None) -> Any:
    """A ``SparkContext``: the running one, ``spark-submit``'s, or a loopback-only one on
    ``master`` (default ``local[*]``)."""
    from pyspark import SparkConf, SparkContext

    logging.getLogger("py4j").setLevel(logging.WARNING)  # one INFO line per gateway call
    active = SparkContext._active_spark_context
    if active is not None:  # e.g. made by config/deploy/spark/s3ad_spark_job.py
        return active
    if master is None and "PYSPARK_GATEWAY_PORT" in os.environ:
        # Started by spark-submit (EMR Serverless, Glue, a cluster): its settings rule.
        return SparkContext.getOrCreate(SparkConf().setAppName("s3ad"))
    master = master or "local[*]"
    conf = SparkConf().setAppName("s3ad").setMaster(master)
    local = master.startswith("local")
    if local:
        conf.setAll(list(LOOPBACK.items()))
    with _local_environment(local):
        sc = SparkContext.getOrCreate(conf)
    if local:
        sc.setLogLevel("ERROR")
    return sc


@contextlib.contextmanager
def _local_environment(local: bool) -> Iterator[None]:
    """Environment for a local JVM and its Python workers, set only while they start.

    Workers must run this interpreter (the one with s3ad installed), not whichever ``python3``
    is first on PATH; PySpark reads ``PYSPARK_PYTHON`` once, at start-up. ``SPARK_LOCAL_IP``
    keeps the JVM on the loopback interface instead of the host's first address.
    """
    wanted = {"PYSPARK_PYTHON": sys.executable, "SPARK_LOCAL_IP": "127.0.0.1"} if local else {}
    added = [k for k in wanted if k not in os.environ]
    os.environ.update({k: wanted[k] for k in added})
    try:
        yield
    finally:
        for k in added:
            os.environ.pop(k, None)
