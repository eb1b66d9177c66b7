"""`s3ad run` stopped and killed mid-run, then restarted from the same ``--state``.

Story: ECS stops tasks with SIGTERM (deploys, scale-in) and sometimes they die harder (OOM,
host loss: SIGKILL). Either way the next task picks up from the checkpoint, the queue is
finished, no file is lost, and the SIEM ends up with the same findings as if nothing had
happened — an id may arrive again, never a different one.
"""

from __future__ import annotations

import os
import pickle
import random
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import pytest
from daemon_helpers import (
    FAST,
    Daemon,
    Stack,
    Trail,
    assert_final_versions_delivered,
    create_stack,
    depth,
    drain_queue,
    findings_of,
    objects_read,
    read_log,
    small_trail,
    total,
    upload,
)

from detector.config import Settings
from detector.pipeline import Pipeline
from detector.service.state import LocalStateStore

SLOW = os.environ.get("S3AD_SLOW_TESTS") == "1"


@pytest.fixture(scope="module")
def trail(tmp_path_factory: pytest.TempPathFactory) -> Trail:
    return small_trail(tmp_path_factory)


class Null:
    """The detection stage's place when only the engine's checkpointed counts are read."""

    def notable(self, ev: Any) -> bool:
        return False

    def bind(self, history: Any) -> None:
        pass

    def restore(self, data: bytes) -> None:
        pass


def checkpointed_counts(state: Path) -> Any:
    """The engine's record counts in the last checkpoint (read, windowed, late, ...)."""
    blob = LocalStateStore(state).load()
    assert blob is not None, "no checkpoint written"
    pipeline = Pipeline(Settings(), Null())  # type: ignore[arg-type]
    pipeline.restore(pickle.loads(blob)["pipeline"])
    return pipeline.engine.counts


def assert_complete(
    aws: boto3.session.Session, stack: Stack, trail: Trail, state: Path, logs: list[Path]
) -> Counter[str]:
    """Nothing lost, the clean run's findings, only re-publications; the deliveries per id."""
    sqs = aws.client("sqs")
    for url in (stack.queue, stack.dlq):
        assert total(sqs, url) == 0, f"{url} not empty: {depth(sqs, url)}"
    findings = findings_of(drain_queue(sqs, stack.target))
    deliveries = Counter(f["id"] for f in findings)
    assert set(deliveries) == trail.finding_ids  # an id may come again, never another one
    assert_final_versions_delivered(trail, findings)
    read = {key for log in logs for key in objects_read(read_log(log))}
    assert read == set(trail.keys()), "some uploaded file was never read"
    counts = checkpointed_counts(state)
    # Every S3 record of the trail is in exactly one window, as in the replay: none lost to
    # a crash, none counted twice after a redelivery (those are duplicates), none late.
    assert (counts.windowed, counts.late) == (trail.records, 0)
    return deliveries


def test_sigterm_mid_run_then_restart_finishes_the_queue(
    aws: boto3.session.Session, trail: Trail, tmp_path: Path
) -> None:
    stack = create_stack(aws, visibility=6)
    upload(aws, trail)
    sqs = aws.client("sqs")
    state = tmp_path / "state"
    service = {**FAST, "SHUTDOWN_BUDGET_SECONDS": "10"}

    first = Daemon(
        stack, state, tmp_path / "run1.log", drain=False, service=service, log_level="DEBUG"
    )
    first.wait_for(lambda d: d.get("message") == "object read", 60, "the first object read")
    time.sleep(0.5)
    first.terminate()
    stopping = time.monotonic()
    assert first.wait(timeout=30) == 0
    stopped_in = time.monotonic() - stopping

    assert stopped_in < 10
    left = depth(sqs, stack.queue)
    assert left["in_flight"] == 0, left  # every message was deleted or released
    assert left["visible"] > 0, "the run finished before SIGTERM: nothing was tested"
    stop_logs = [d for d in first.lines() if d.get("message") == "stop requested"]
    assert [d["signal"] for d in stop_logs] == ["SIGTERM"]

    second = Daemon(stack, state, tmp_path / "run2.log", service=service, log_level="DEBUG")
    assert second.wait(timeout=120) == 0, second.log.read_text()[-3000:]
    deliveries = assert_complete(aws, stack, trail, state, [first.log, second.log])
    print(
        f"SIGTERM: stopped in {stopped_in:.1f} s with {left['visible']} messages left; "
        f"{sum(deliveries.values())} deliveries of {len(deliveries)} ids"
    )


def kill_and_restart(
    aws: boto3.session.Session,
    trail: Trail,
    tmp_path: Path,
    *,
    kills: int,
    seed: int,
    upload_seconds: float,
) -> dict[str, Any]:
    """Upload the trail over ``upload_seconds`` while a daemon is killed ``kills`` times at
    random moments (seeded) and restarted from the same state; then drain it."""
    rng = random.Random(seed)
    # Each kill may cost the messages in flight one receive; the redrive policy must not count
    # these far-more-frequent-than-real crashes as poison.
    stack = create_stack(aws, visibility=6, max_receive=kills + 3)
    state = tmp_path / "state"
    pace = upload_seconds / len(trail.files)

    def deliver() -> None:  # CloudTrail delivering files over time
        for f in trail.files:
            upload(aws, trail, [f])
            time.sleep(pace)

    uploader = threading.Thread(target=deliver, daemon=True)
    started = time.monotonic()
    uploader.start()
    # Moments of a run's life: starting and restoring; reading during the restart hold;
    # closing windows and publishing after it (hold = 6 s visibility + 2 s heartbeat).
    phases = [(0.3, 2.0), (2.0, 8.0), (10.0, 14.0)]
    delays = [rng.uniform(*phases[i % len(phases)]) for i in range(kills)]
    rng.shuffle(delays)
    logs: list[Path] = []
    kill_points: list[str] = []
    for i, delay in enumerate(delays):
        logs.append(tmp_path / f"run{i:02d}.log")
        daemon = Daemon(stack, state, logs[-1], drain=False, service=FAST, log_level="DEBUG")
        time.sleep(delay)
        assert daemon.proc.poll() is None, f"run {i} exited by itself: {daemon.log}"
        last = [d.get("message") for d in daemon.lines() if "message" in d][-1:]
        daemon.kill9()
        kill_points.append(last[0] if last else "(starting)")
    uploader.join()
    logs.append(tmp_path / "final.log")
    final = Daemon(stack, state, logs[-1], service=FAST, log_level="DEBUG")
    assert final.wait(timeout=180) == 0, final.log.read_text()[-3000:]
    elapsed = time.monotonic() - started

    deliveries = assert_complete(aws, stack, trail, state, logs)
    reads = Counter(k for log in logs for k in objects_read(read_log(log)))
    return {
        "kills": kills,
        "seconds": round(elapsed, 1),
        "ids": len(deliveries),
        "deliveries": sum(deliveries.values()),
        "files": len(trail.files),
        "file_reads": sum(reads.values()),
        "killed_after": Counter(kill_points).most_common(),
    }


def test_kill_9_at_random_points_then_restart_gives_the_clean_findings(
    aws: boto3.session.Session, trail: Trail, tmp_path: Path
) -> None:
    report = kill_and_restart(aws, trail, tmp_path, kills=3, seed=7, upload_seconds=15)
    print(f"kill -9: {report}")


@pytest.mark.slow
@pytest.mark.skipif(not SLOW, reason="takes minutes: set S3AD_SLOW_TESTS=1")
def test_kill_9_twenty_times_then_restart_gives_the_clean_findings(
    aws: boto3.session.Session, trail: Trail, tmp_path: Path
) -> None:
    report = kill_and_restart(aws, trail, tmp_path, kills=20, seed=2026, upload_seconds=100)
    print(f"kill -9 x20: {report}")
