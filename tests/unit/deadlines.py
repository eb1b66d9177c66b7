"""A test helper: fail a test that waits too long instead of hanging the suite."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def deadline(seconds: int) -> Iterator[None]:
    """Fail instead of hanging: ``multiprocessing.Pool`` waited for ever when a worker died."""

    def hung(signum: int, frame: Any) -> None:
        raise AssertionError(f"still waiting after {seconds} s: a lost worker hangs the run")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
