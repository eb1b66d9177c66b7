"""A progress bar for people at a terminal, and silence in logs and pipes."""

from __future__ import annotations

import io

from detector.train.progress import Progress


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_sees_the_bar_move_and_end_with_a_newline() -> None:
    out = Tty()
    bar = Progress("read", 4, "files", stream=out)
    for _ in range(4):
        bar.advance(1)
    bar.close()
    text = out.getvalue()
    assert text.startswith("\r") and text.endswith("\n")
    assert "100%" in text and "4/4 files" in text and "done" in text


def test_a_pipe_or_a_log_gets_nothing() -> None:
    out = io.StringIO()
    bar = Progress("read", 4, "files", stream=out)
    bar.advance(4)
    bar.close()
    assert out.getvalue() == ""


def test_the_line_shows_share_counts_and_eta() -> None:
    bar = Progress("learn", 1000, "windows", enabled=False)
    bar.done = 250
    line = bar.line(30.0)
    assert "25%" in line and "250/1,000 windows" in line and "ETA 1:30" in line
