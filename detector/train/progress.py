"""A one-line progress bar on a terminal, nothing at all in logs or pipes.

Training runs for minutes on big histories; a person at a terminal wants to see it move, a log
collector wants no carriage returns. The bar draws only when the stream is a TTY, at most ten
times a second.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

WIDTH = 28


class Progress:
    """``advance(n)`` units of ``total``; ``close()`` ends the line."""

    def __init__(
        self, label: str, total: int, unit: str, stream: TextIO | None = None, enabled: bool = True
    ) -> None:
        self.stream = stream or sys.stderr
        self.enabled = enabled and self.stream.isatty()
        self.label, self.total, self.unit = label, max(total, 0), unit
        self.done = 0
        self.started = time.monotonic()
        self._drawn = 0.0

    def advance(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if self.enabled and (now - self._drawn >= 0.1 or self.done >= self.total):
            self._drawn = now
            self.stream.write("\r" + self.line(now - self.started))
            self.stream.flush()

    def line(self, elapsed: float) -> str:
        """The bar as text.

        >>> p = Progress("read", 200, "files", enabled=False)
        >>> p.done = 50
        >>> p.line(10.0)
        'read     [#######.....................]  25%      50/200 files   0:10 (ETA 0:30)'
        """
        share = self.done / self.total if self.total else 1.0
        filled = int(WIDTH * min(share, 1.0))
        eta = elapsed / share - elapsed if 0 < share < 1 else 0.0
        tail = f"ETA {_clock(eta)}" if 0 < share < 1 else "done"
        return (
            f"{self.label:<8} [{'#' * filled}{'.' * (WIDTH - filled)}] {100 * share:3.0f}% "
            f"{self.done:>7,}/{self.total:,} {self.unit} {_clock(elapsed):>6} ({tail})"
        )

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\r" + self.line(time.monotonic() - self.started) + "\n")
            self.stream.flush()


def _clock(seconds: float) -> str:
    s = int(seconds)
    return (
        f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"
    )
