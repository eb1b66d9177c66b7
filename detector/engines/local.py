"""The default engine: ``multiprocessing`` over this machine's cores (``train.collect``)."""

from __future__ import annotations

import os
from collections.abc import Sequence

from detector.train.collect import CollectSpec, Partial, Reader, collect


class LocalEngine:
    """``collect`` in ``workers`` processes (0: all cores, 1: in this process)."""

    name = "local"

    def __init__(self, workers: int = 0) -> None:
        self.workers = workers

    def describe(self) -> str:
        n = self.workers or os.cpu_count() or 1
        return f"local, {n} worker{'s' if n != 1 else ''}"

    def collect(self, names: Sequence[str], spec: CollectSpec, reader: Reader) -> Partial:
        if not names:
            return Partial()
        return collect(names, spec, reader, self.workers)

    def close(self) -> None:
        pass
