"""Functions run in forked child processes, their results piped back to the parent.

Forking hands a child the parent's memory as it is (copy-on-write): the account shards of the
learning pass get their windows without pickling them, and the report's plotting gets the
training rows. A child's result is pickled back through a pipe; a failure in the child is
raised in the parent with the child's traceback. Progress flows through a shared counter the
child ticks, so the parent can keep a progress bar moving while it waits.

The report runs in a child for another reason too: matplotlib's font and mathtext parsing
raises and catches exceptions in reference cycles whose frames reach up to the trainer's, and
those cycles would keep every window of the training run alive until a garbage collection of
millions of objects (6 s after a 2M-record run, measured). A child simply exits.
"""

from __future__ import annotations

import multiprocessing
import traceback
from collections.abc import Callable
from typing import Any

from detector.errors import WorkerLost
from detector.train.collect import gc_paused

Tick = Callable[[int], None]
Job = Callable[[Tick], Any]


def can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


class Forked:
    """``job(tick)`` running in a forked child; ``result()`` waits for its return value."""

    def __init__(self, job: Job) -> None:
        ctx = multiprocessing.get_context("fork")
        self.counter = ctx.Value("q", 0, lock=False)
        self.recv, send = ctx.Pipe(duplex=False)
        # fork: the child inherits ``job`` and what it refers to; nothing is pickled on the way in
        self.proc = ctx.Process(target=_child, args=(job, self.counter, send), daemon=True)
        self.proc.start()
        send.close()

    def done(self) -> int:
        """What the child has ticked so far."""
        return int(self.counter.value)

    def result(self, waiting: Callable[[], None] | None = None) -> Any:
        """The job's return value (``waiting`` is called every 0.2 s until it arrives)."""
        while not self.recv.poll(0.2):
            if waiting:
                waiting()
            if not self.proc.is_alive() and not self.recv.poll(0):
                raise WorkerLost(f"worker process died (exit code {self.proc.exitcode})")
        try:
            with gc_paused():  # results can be large: models, samples, plots
                status, payload = self.recv.recv()
        except EOFError:
            status, payload = "error", f"exit code {self.proc.exitcode}"
        self.proc.join()
        if status != "ok":
            raise RuntimeError(f"worker process failed: {payload}")
        return payload


def run_forked(jobs: list[Job], progress: Tick | None = None) -> list[Any]:
    """Run ``jobs`` at once, each in its own child; their results in order."""
    children = [Forked(job) for job in jobs]
    reported = 0

    def report() -> None:
        nonlocal reported
        now = sum(c.done() for c in children)
        if progress and now > reported:
            progress(now - reported)
        reported = now

    results = [c.result(report) for c in children]
    report()
    return results


def _child(job: Job, counter: Any, conn: Any) -> None:
    def tick(n: int) -> None:
        counter.value += n

    try:
        conn.send(("ok", job(tick)))
    except BaseException as exc:  # reported to the parent, which raises it
        conn.send(("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))
    finally:
        conn.close()
