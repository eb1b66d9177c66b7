"""The sequential half of training: run merged windows through a real ``Detector`` + ``Engine``.

Rounds (one window start at a time) are scored, their findings counted and only their clean
windows learned — exactly what the service does — so the river population models, the
per-principal baselines, each account's learning period and SSE-C habits end up as a service
would have them after watching the training data. Clean, non-service windows are offered to the
IsolationForest sample with their feature vectors.

All of this state is keyed by recipient account (population models, learning period) or by
(account, principal) (baselines, habits, attack sequences), so accounts are independent:
``warm_sharded`` runs groups of accounts in forked processes and unions the results, which is
identical to one pass over everything (tested) and bounded by the largest account.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from detector.config import Settings
from detector.detect.detector import Detector
from detector.engine import Engine
from detector.model.artifact import WarmState
from detector.train.collect import gc_paused
from detector.train.sample import BottomK, Row, merge_samples
from detector.windows import WindowAgg


@dataclass(slots=True)
class WarmResult:
    """The warm state of one pass (or of merged shards) and what the pass saw."""

    warm: WarmState
    sample: list[Row]
    windows: int = 0
    service: int = 0  # AWS service windows: judged by rules, never modelled
    clean: int = 0  # clean non-service windows: the IsolationForest's population
    flagged: int = 0  # windows that raised findings: not learned
    findings: dict[str, int] = field(default_factory=dict)  # occurrences by finding type

    def absorb(self, other: WarmResult, k: int) -> None:
        self.warm.absorb(other.warm)
        self.sample = merge_samples([self.sample, other.sample], k)
        for name in ("windows", "service", "clean", "flagged"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for kind, n in other.findings.items():
            self.findings[kind] = self.findings.get(kind, 0) + n


def cold_settings(settings: Settings) -> Settings:
    """Training starts from nothing, whatever model the configuration names."""
    return dataclasses.replace(
        settings, models=dataclasses.replace(settings.models, iforest_path="")
    )


def warm_pass(
    windows: list[WindowAgg],
    settings: Settings,
    k: int,
    seed: int,
    progress: Callable[[int], None] | None = None,
) -> WarmResult:
    """One pass over windows in (start, account, principal) order, as the service would."""
    detector = Detector(cold_settings(settings))
    engine = Engine(detector.settings, notable=detector.notable)
    detector.bind(engine.history)
    sample = BottomK(k, seed)
    result = WarmResult(WarmState(), [])
    findings = result.findings
    with gc_paused():  # long-lived state, no cycles: the collector would only rescan it
        for batch in engine.rounds_of(windows):
            for f in detector.process(batch):
                findings[f["type"]] = findings.get(f["type"], 0) + 1
            clean = detector.learnable(batch)
            engine.learn(clean)
            ok = {id(w) for w in clean}
            for w, v in zip(batch.windows, batch.vectors, strict=True):
                if w.service:
                    result.service += 1
                elif id(w) in ok:
                    result.clean += 1
                    sample.offer(w.account, w.principal, w.start, w.name, w.n, v)
            result.windows += len(batch.windows)
            result.flagged += len(batch.windows) - len(clean)
            if progress:
                progress(len(batch.windows))
    result.warm = WarmState(
        online=detector.online.models,
        histories=engine.history.by_key,
        first_seen=detector.first_seen,
        ssec=detector.ssec.usual,
    )
    result.sample = merge_samples([sample.rows()], k)
    return result


def shards_of(windows: list[WindowAgg], n: int) -> list[list[WindowAgg]]:
    """Split windows into ≤ ``n`` groups of whole accounts of similar size, keeping order.

    >>> ws = [WindowAgg(a, "p", s) for s in (0, 300) for a in ("A", "B", "C")]
    >>> [[(w.account, w.start) for w in g] for g in shards_of(ws, 2)]
    [[('A', 0), ('C', 0), ('A', 300), ('C', 300)], [('B', 0), ('B', 300)]]
    """
    sizes: dict[str, int] = {}
    for w in windows:
        sizes[w.account] = sizes.get(w.account, 0) + 1
    loads = [0] * max(1, min(n, len(sizes)))
    shard_of: dict[str, int] = {}
    for acct, size in sorted(sizes.items(), key=lambda kv: (-kv[1], kv[0])):
        i = loads.index(min(loads))  # largest account first onto the lightest shard
        shard_of[acct] = i
        loads[i] += size
    groups: list[list[WindowAgg]] = [[] for _ in loads]
    for w in windows:
        groups[shard_of[w.account]].append(w)
    return [g for g in groups if g]


def run_shards(
    groups: list[list[WindowAgg]],
    work: Callable[[list[WindowAgg], Callable[[int], None]], Any],
    progress: Callable[[int], None] | None,
) -> list[Any]:
    """``work(group, tick)`` for each group in a forked process; results in group order."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    done = [ctx.Value("q", 0, lock=False) for _ in groups]
    procs = []
    for group, counter in zip(groups, done, strict=True):
        recv, send = ctx.Pipe(duplex=False)
        # fork: the child inherits ``group`` as it is in memory; nothing is pickled on the way in
        p = ctx.Process(target=_child, args=(work, group, counter, send), daemon=True)
        p.start()
        send.close()
        procs.append((p, recv))
    results: list[Any] = []
    seen = 0
    with gc_paused():  # results unpickle here: river models and the sample
        for p, recv in procs:
            result, seen = _receive(p, recv, done, seen, progress)
            results.append(result)
    _report(done, seen, progress)
    return results


def _receive(
    p: Any, recv: Any, done: list[Any], seen: int, progress: Callable[[int], None] | None
) -> tuple[Any, int]:
    """The result of one shard process, reporting progress while waiting for it."""
    while not recv.poll(0.2):
        seen = _report(done, seen, progress)
        if not p.is_alive() and not recv.poll(0):
            raise RuntimeError(f"warm-up worker died (exit code {p.exitcode})")
    try:
        status, payload = recv.recv()
    except EOFError:
        status, payload = "error", f"exit code {p.exitcode}"
    p.join()
    if status != "ok":
        raise RuntimeError(f"warm-up worker failed: {payload}")
    return payload, seen


def _report(done: list[Any], seen: int, progress: Callable[[int], None] | None) -> int:
    now = sum(int(c.value) for c in done)
    if progress and now > seen:
        progress(now - seen)
    return now


def _child(work: Any, group: list[WindowAgg], counter: Any, conn: Any) -> None:
    def tick(n: int) -> None:
        counter.value += n

    try:
        conn.send(("ok", work(group, tick)))
    except BaseException as exc:  # reported to the parent, which raises it
        import traceback

        conn.send(("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))
    finally:
        conn.close()


def warm_sharded(
    windows: list[WindowAgg],
    settings: Settings,
    workers: int,
    k: int,
    seed: int,
    progress: Callable[[int], None] | None = None,
) -> WarmResult:
    """``warm_pass`` over account shards in up to ``workers`` processes, merged."""
    import multiprocessing

    groups = shards_of(windows, workers)
    if len(groups) <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        return warm_pass(windows, settings, k, seed, progress)

    def work(group: list[WindowAgg], tick: Callable[[int], None]) -> WarmResult:
        return warm_pass(group, settings, k, seed, tick)

    results: list[WarmResult] = run_shards(groups, work, progress)
    total = results[0]
    for r in results[1:]:
        total.absorb(r, k)
    return total
