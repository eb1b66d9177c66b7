"""Training's parallel half gives the same result whatever the number of workers.

Story: an operator trains on a laptop with 1 worker and in CI with 3; the models must be the
same. Windows are merged from partial aggregates, the warm pass runs account shards in separate
processes, and the IsolationForest sees a sample: each step must be independent of the split.
"""

from __future__ import annotations

import gc
import os
import pickle
import re
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from deadlines import deadline
from test_train_support import small_settings, tiny_trail, train_to

from detector.detect.rules import RuleBook
from detector.errors import WorkerLost
from detector.features import FEATURES
from detector.model.format import METADATA, MODEL_FILES
from detector.train import collect as collect_mod
from detector.train.collect import CollectSpec, Partial, collect, worker_pool
from detector.train.sample import matrix
from detector.train.sources import FileReader, KeyFilter, list_sources
from detector.train.stream import collect_learning, read_ahead
from detector.train.warm import shards_of, warm_pass, warm_sharded
from detector.windows import WindowAgg


@pytest.fixture(scope="module")
def trail(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_trail(tmp_path_factory)


def collected(trail: Path, workers: int) -> tuple[Partial, list[WindowAgg]]:
    settings = small_settings()
    names = list_sources([str(trail)], KeyFilter()).names
    spec = CollectSpec(notable=RuleBook(settings.rules).notable)
    part = collect(names, spec, FileReader(1 << 30), workers)
    return part, part.closed()


def counts(part: Partial) -> tuple[Any, ...]:
    return (part.files, part.read, part.windowed, part.not_s3, part.invalid, part.duplicates)


def test_windows_are_bit_for_bit_equal_for_1_2_and_3_workers(
    trail: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small tasks: many chunk boundaries, so many windows are merged from several partials.
    monkeypatch.setattr(collect_mod, "FILES_PER_TASK", 7)
    results = {n: collected(trail, n) for n in (1, 2, 3)}
    states = {n: [w.state() for w in closed] for n, (_, closed) in results.items()}
    assert len(states[1]) > 2000
    assert states[1] == states[2] == states[3]
    assert counts(results[1][0]) == counts(results[2][0]) == counts(results[3][0])
    part = results[1][0]
    assert part.read == part.windowed + part.not_s3 + part.invalid + part.duplicates


def test_windows_come_out_in_the_services_order(trail: Path) -> None:
    _, closed = collected(trail, 2)
    keys = [(w.start, w.account, w.principal) for w in closed]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)


def test_account_shards_learn_exactly_what_one_pass_learns(trail: Path) -> None:
    settings = small_settings()
    _, closed = collected(trail, 1)
    assert len(shards_of(closed, 2)) == 2  # the trail has two accounts
    one = warm_pass(closed, settings, k=500, seed=1)
    sharded = warm_sharded(closed, settings, workers=2, k=500, seed=1)
    assert (one.windows, one.service, one.clean, one.flagged) == (
        sharded.windows,
        sharded.service,
        sharded.clean,
        sharded.flagged,
    )
    assert one.findings == sharded.findings and one.flagged > 0
    assert {k: h.state() for k, h in one.warm.histories.items()} == {
        k: h.state() for k, h in sharded.warm.histories.items()
    }
    assert one.warm.first_seen == sharded.warm.first_seen
    assert one.warm.ssec == sharded.warm.ssec
    assert sorted(one.warm.online) == sorted(sharded.warm.online)
    for key, model in one.warm.online.items():
        other = sharded.warm.online[key]
        assert (model.learned, model.calibrator.counts) == (
            other.learned,
            other.calibrator.counts,
        )
    x1 = matrix(one.sample, len(FEATURES))
    x2 = matrix(sharded.sample, len(FEATURES))
    assert x1.shape == (500, len(FEATURES)) and np.array_equal(x1, x2)


def test_artifacts_trained_with_1_2_and_3_workers_have_identical_model_files(
    trail: Path, tmp_path: Path
) -> None:
    digests = {}
    for n in (1, 2, 3):
        result = train_to(tmp_path / f"w{n}", [str(trail)], workers=n, report=False, trees=30)
        assert result.metadata["parameters"]["workers"] == n
        streamed = result.metadata["schedule"]["learned_while_reading"]
        assert streamed > 1000  # learned while reading, one worker too
        listing = orjson.loads((tmp_path / f"w{n}" / METADATA).read_bytes())["files"]
        digests[n] = {name: listing[name]["sha256"] for name in MODEL_FILES}
    # The same IsolationForest input, forest and quantiles, baselines and river models.
    assert digests[1] == digests[2] == digests[3]


def test_a_file_delivered_hours_after_its_events_voids_streaming_but_not_the_result(
    trail: Path, tmp_path: Path
) -> None:
    # CloudTrail delivers within minutes; a file that turns up at 20:00 holding 01:00's events
    # breaks the bet learning-while-reading makes. Every file is then read again and learned after.
    copy = tmp_path / "trail" / "AWSLogs"  # delivery times are read from CloudTrail's layout
    shutil.copytree(trail, copy)
    early = sorted(copy.rglob("*_20261101T01*Z_*.json.gz"))[0]
    early.rename(early.with_name(re.sub(r"T01\d\dZ", "T2000Z", early.name)))
    one = train_to(tmp_path / "w1", [str(copy)], workers=1, report=False, trees=30)
    two = train_to(tmp_path / "w2", [str(copy)], workers=2, report=False, trees=30)
    for result in (one, two):
        schedule = result.metadata["schedule"]
        assert schedule["late_after_learning"] > 0 and schedule["learned_while_reading"] == 0
    assert model_digests(tmp_path / "w1") == model_digests(tmp_path / "w2")
    assert one.metadata["counts"] == two.metadata["counts"]
    assert one.metadata["data"] == two.metadata["data"]
    # every file was read again, none twice over: the counts are those of one reading
    logs = [f for f in copy.rglob("*.json.gz") if "_CloudTrail_" in f.name]  # not digests
    assert one.metadata["counts"]["files"]["read"] == len(logs)


def model_digests(model: Path) -> dict[str, str]:
    listing = orjson.loads((model / METADATA).read_bytes())["files"]
    return {name: listing[name]["sha256"] for name in MODEL_FILES}


def test_a_partial_crosses_processes_whole(trail: Path) -> None:
    # Workers hand partials to the parent by pickle, packed as window states (Partial.__reduce__).
    settings = small_settings()
    names = list_sources([str(trail)], KeyFilter()).names
    spec = CollectSpec(notable=RuleBook(settings.rules).notable)
    part = collect(names[:40], spec, FileReader(1 << 30), 1)
    part.unreadable.append(("s3://b/k.json.gz", "not gzip"))
    part.skipped = 3
    assert any(w.notable for w in part.windows.values())  # events travel too
    back = pickle.loads(pickle.dumps(part))
    assert {k: w.state() for k, w in back.windows.items()} == {
        k: w.state() for k, w in part.windows.items()
    }
    assert counts(back) == counts(part) and back.out_of_range == part.out_of_range
    assert (back.skipped, back.unreadable) == (3, [("s3://b/k.json.gz", "not gzip")])


def test_training_drops_evidence_and_nothing_else(trail: Path) -> None:
    settings = small_settings()
    names = list_sources([str(trail)], KeyFilter()).names
    notable = RuleBook(settings.rules).notable
    kept = collect(names, CollectSpec(notable=notable), FileReader(1 << 30), 2).closed()
    dropped = collect(
        names, CollectSpec(notable=notable, evidence=False), FileReader(1 << 30), 2
    ).closed()
    assert all(w.evidence for w in kept)
    assert all(w.evidence == [] for w in dropped)
    for w in kept:
        w.evidence = []
    assert [w.state() for w in kept] == [w.state() for w in dropped]


@pytest.mark.parametrize("workers", [1, 2])
def test_windows_learned_while_reading_are_let_go(trail: Path, workers: int) -> None:
    # Training's memory is the windows of the last lag or so, not the whole history's: once
    # learned, a window is dropped, and only what metadata.json reports about it is kept.
    settings = small_settings()
    names = list_sources([str(trail)], KeyFilter()).names
    spec = CollectSpec(notable=RuleBook(settings.rules).notable, evidence=False)
    reader = FileReader(1 << 30)
    everything = collect(names, spec, reader, 1).closed()
    with collect_mod.gc_paused():  # as ``train`` runs it
        streamed = collect_learning(names, spec, reader, workers, settings, 500, 1)
        alive = sum(1 for o in gc.get_objects() if type(o) is WindowAgg)
    assert streamed.late == 0 and streamed.learned > 0.7 * len(everything)
    assert streamed.learned + len(streamed.windows) == len(everything)
    # alive: the test's own ``everything``, the windows still to learn, and the few the burst
    # rules keep (the last rounds of each account): nowhere near a second copy of the history
    assert alive - len(everything) - len(streamed.windows) < 0.1 * len(everything)
    seen = streamed.seen
    assert seen.windows == len(everything)
    assert seen.principals == {(w.account, w.principal) for w in everything}
    assert seen.accounts == {w.account for w in everything}
    assert (seen.first_window, seen.last_window) == (everything[0].start, everything[-1].start)
    assert seen.first_event == min(w.first for w in everything)
    assert seen.last_event == max(w.last for w in everything)


def _mark(arg: tuple[str, int]) -> int:
    folder, i = arg
    (Path(folder) / str(i)).touch()
    if i == 7:
        raise ValueError("chunk 7 is unreadable")
    return i * i


def test_readers_never_run_more_than_the_limit_ahead_of_the_learner(tmp_path: Path) -> None:
    # A task starts only once submitted, and read_ahead submits one as the caller takes one:
    # however slow the caller, no more than ``limit`` results wait for it (memory stays bounded).
    args = [(str(tmp_path), i) for i in range(7)]
    with worker_pool(2) as pool:
        results = read_ahead(pool, _mark, args, limit=3)
        for taken in range(len(args)):
            assert next(results) == taken * taken  # in order, like imap
            time.sleep(0.05)  # a slow learner: idle readers would run ahead if they could
            assert len(list(tmp_path.iterdir())) <= taken + 1 + 3
        assert next(results, None) is None
        assert len(list(tmp_path.iterdir())) == len(args)
        with pytest.raises(ValueError, match="chunk 7"):  # a worker's error reaches the caller
            list(read_ahead(pool, _mark, [(str(tmp_path), 6), (str(tmp_path), 7)], limit=1))


class DyingReader(FileReader):
    """Reads as ``FileReader`` does, but the process that reads ``fatal`` dies on the spot,
    as one the kernel kills for memory (picklable: it crosses to the workers)."""

    def __init__(self, fatal: str) -> None:
        super().__init__(1 << 30)
        self.fatal = fatal

    def __getstate__(self) -> dict[str, Any]:
        return {**super().__getstate__(), "fatal": self.fatal}

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self.fatal = state["fatal"]

    def __call__(self, name: str) -> Any:
        if name == self.fatal:
            os._exit(137)
        return super().__call__(name)


@pytest.mark.parametrize("streamed", [False, True])
def test_a_worker_killed_mid_run_fails_the_run_with_a_clear_error(
    trail: Path, streamed: bool
) -> None:
    settings = small_settings()
    names = list_sources([str(trail)], KeyFilter()).names
    spec = CollectSpec(notable=RuleBook(settings.rules).notable, evidence=False)
    reader = DyingReader(names[len(names) // 2])
    with deadline(60), pytest.raises(WorkerLost, match="worker process died"):
        if streamed:
            collect_learning(names, spec, reader, 2, settings, 500, 1)
        else:
            collect(names, spec, reader, 2)
