"""Map/merge engines: who runs ``collect_chunk`` over the files and merges the window aggregates.

Two engines, one contract (``MapMergeEngine.collect``), the same windows bit for bit:

- ``local`` (default): ``multiprocessing`` on this machine's cores (``detector.train.collect``);
- ``spark``: PySpark tasks calling the same ``collect_chunk``, merged with ``reduceByKey``
  (issue 8; EMR Serverless / Glue for months of organisation trails).

Neither has a copy of the features: both call the project's reader, normalizer and
``WindowAgg``. The sequential half (features against history, detection, learning) always runs
once, in this process, over ``Partial.closed()``.

>>> sorted(ENGINES)
['local', 'spark']
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Mapping, Sequence
from typing import Protocol

from detector.errors import ConfigError
from detector.train.collect import CollectSpec, Partial, Reader


class MapMergeEngine(Protocol):
    """Runs the parallel half of training and backtests."""

    name: str

    def describe(self) -> str:
        """One line for the summary: where the work runs."""
        ...

    def collect(self, names: Sequence[str], spec: CollectSpec, reader: Reader) -> Partial:
        """Read ``names`` with ``reader``, fold them per ``spec`` and merge the partials."""
        ...

    def close(self) -> None: ...


# name → (module, class); modules are imported on use so pyspark stays optional.
ENGINES: Mapping[str, tuple[str, str]] = {
    "local": ("detector.engines.local", "LocalEngine"),
    "spark": ("detector.engines.spark", "SparkEngine"),
}


def open_engine(name: str, workers: int = 0, spark_master: str | None = None) -> MapMergeEngine:
    """The engine called ``name``; ``workers``: processes (local) or task slots (spark), 0 = all.

    Raises ``ConfigError`` for an unknown name, or for ``spark`` when pyspark is not installed.
    """
    if name not in ENGINES:
        raise ConfigError(f"unknown engine {name!r} (choose from {', '.join(sorted(ENGINES))})")
    if workers < 0:
        raise ConfigError("--workers must be 0 (all cores) or more")
    module_name, class_name = ENGINES[name]
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
        engine: MapMergeEngine
        if name == "spark":
            engine = cls(workers=workers, master=spark_master)
        else:
            engine = cls(workers=workers)
    except ImportError as exc:
        if (exc.name or "").split(".")[0] not in ("pyspark", "py4j"):
            raise
        raise ConfigError(
            f"engine {name!r} needs pyspark: pip install 's3ad[spark]' (Spark 3.5, Java 17)"
        ) from exc
    return engine


def add_engine_arguments(p: argparse.ArgumentParser, workers: bool = True) -> None:
    """``--engine``, ``--workers``, ``--spark-master``: shared by ``backtest`` and ``train``
    (which has its own ``--workers``)."""
    p.add_argument(
        "--engine",
        choices=sorted(ENGINES),
        default="local",
        help="map/merge on local processes (default) or on Spark (pip install 's3ad[spark]')",
    )
    if workers:
        p.add_argument(
            "--workers", type=int, default=0, help="processes (local) or task slots (spark); 0: all"
        )
    p.add_argument(
        "--spark-master",
        metavar="URL",
        help="Spark master outside spark-submit (default local[*], loopback only)",
    )
