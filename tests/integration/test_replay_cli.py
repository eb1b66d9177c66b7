"""`s3ad replay --emit windows` and `s3ad check-config`, run as a user runs them.

Story: a user replays a folder holding good log files in all three shapes, digest and Insight
files, and a handful of broken files. Windows come out on stdout as JSON lines; every broken file
is named on stderr with its reason; the exit status tells the script around it that some input
was unreadable (3), that all was read (0), or that the command line was wrong (2).

Interpreter start-up dominates each run, so every run is started at once by the ``runs``
fixture and each test waits only for its own.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

FILES = Path(__file__).resolve().parents[1] / "data" / "files"
RECORDS = Path(__file__).resolve().parents[1] / "data" / "records"
BROKEN = {
    "truncated.json.gz": "truncated-gzip",
    "not_gzip.json.gz": "not-gzip",
    "not_json.json": "not-json",
    "no_records.json": "no-records",
    "records_not_list.json": "records-not-list",
}
GOOD_EVENTS = 24  # S3 records in good/: 13 identities + 8 special calls + 3 JSON Lines


@dataclass
class Run:
    proc: subprocess.Popen[bytes]
    out: Path
    err: Path

    def result(self) -> tuple[int, str, str]:
        code = self.proc.wait(timeout=120)
        return code, self.out.read_text(), self.err.read_text()


def scenarios(tmp: Path) -> dict[str, tuple[list[str], dict[str, str]]]:
    """Name → (s3ad arguments, S3AD_* environment)."""
    mixed = tmp / "mixed"
    for part in ("good", "skip", "broken"):
        shutil.copytree(FILES / part, mixed / part)
    clean = tmp / "clean"
    for part in ("good", "skip"):
        shutil.copytree(FILES / part, clean / part)
    # A redelivered file, read after the newest events (folders are walked in sorted order).
    straggler = json.loads((RECORDS / "identity_root.json").read_text())
    straggler["eventTime"] = "2026-11-01T09:30:00Z"  # 46 minutes behind the newest event
    (clean / "good" / "zz_redelivered.json").write_text(json.dumps({"Records": [straggler]}))
    bad_toml = tmp / "s3ad.toml"
    bad_toml.write_text("[window]\nwidth_seconds = 600\nlatenes_seconds = 60\n")
    replay = ["replay", "--emit", "windows"]
    return {
        "mixed": ([*replay, str(mixed), str(tmp / "typo")], {}),
        "clean": ([*replay, str(clean)], {"S3AD_WINDOW_WIDTH_SECONDS": "600"}),
        "unknown_flag": ([*replay, "--no-such-flag", str(clean)], {}),
        "check_config": (["check-config"], {"S3AD_WINDOW_WIDTH_SECONDS": "600"}),
        "check_bad_key": (["check-config", "--config", str(bad_toml)], {}),
    }


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Run]]:
    tmp = tmp_path_factory.mktemp("cli")
    base = {k: v for k, v in os.environ.items() if not k.startswith("S3AD_")}
    started: dict[str, Run] = {}
    for name, (args, env) in scenarios(tmp).items():
        out, err = tmp / f"{name}.out", tmp / f"{name}.err"
        with out.open("wb") as fo, err.open("wb") as fe:
            proc = subprocess.Popen(
                [sys.executable, "-m", "detector", *args],
                stdout=fo,
                stderr=fe,
                env={**base, **env},
                cwd=tmp,
            )
        started[name] = Run(proc, out, err)
    yield started
    for run in started.values():
        if run.proc.poll() is None:
            run.proc.kill()
            run.proc.wait()


def windows(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines()]


def logs(stderr: str) -> list[dict]:
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


def seconds(w: dict) -> float:
    end = datetime.fromisoformat(w["window_end"].replace("Z", "+00:00"))
    start = datetime.fromisoformat(w["window_start"].replace("Z", "+00:00"))
    return (end - start).total_seconds()


def test_replay_over_good_and_broken_files_prints_windows_names_broken_files_and_exits_3(
    runs: dict[str, Run],
) -> None:
    code, stdout, stderr = runs["mixed"].result()
    assert code == 3, stderr

    out = windows(stdout)
    assert sum(w["events"] for w in out) == GOOD_EVENTS  # the good files were all processed
    assert {seconds(w) for w in out} == {300}
    assert all(len(w["features"]) == 34 for w in out)
    assert {
        "arn:aws:iam::111122223333:role/service-role/etl-prod",
        "anonymous:example-public-site",
        "service:s3.amazonaws.com",
        "account:444455556666",
    } <= {w["principal"] for w in out}

    unreadable = {
        Path(line["file"]).name: line["reason"]
        for line in logs(stderr)
        if line["message"] in ("unreadable input", "input not found")
    }
    assert unreadable == {**BROKEN, "typo": "not-found"}
    for name, reason in BROKEN.items():  # the human summary names them too
        assert f"{name}: {reason}" in stderr
    skipped = [line["reason"] for line in logs(stderr) if line["message"] == "skipping file"]
    assert sorted(skipped) == ["digest", "digest", "insight", "insight"]


def test_replay_with_every_input_readable_exits_0_and_counts_stragglers_late(
    runs: dict[str, Run],
) -> None:
    code, stdout, stderr = runs["clean"].result()
    assert code == 0, stderr
    assert sum(w["events"] for w in windows(stdout)) == GOOD_EVENTS
    assert not [line for line in logs(stderr) if line["level"] == "ERROR"]
    assert "4 skipped (digest/Insight), 0 unreadable" in stderr
    assert f"{GOOD_EVENTS} windowed, 1 late" in stderr


def test_window_width_comes_from_the_environment(runs: dict[str, Run]) -> None:
    _, stdout, _ = runs["clean"].result()  # run with S3AD_WINDOW_WIDTH_SECONDS=600
    assert {seconds(w) for w in windows(stdout)} == {600}


def test_a_bad_flag_is_a_usage_error(runs: dict[str, Run]) -> None:
    code, stdout, stderr = runs["unknown_flag"].result()
    assert code == 2
    assert stdout == ""
    assert "usage:" in stderr and "--no-such-flag" in stderr


def test_check_config_prints_the_resolved_settings_as_json(runs: dict[str, Run]) -> None:
    code, stdout, stderr = runs["check_config"].result()
    assert code == 0, stderr
    resolved = json.loads(stdout)
    assert resolved["window"] == {"width_seconds": 600, "lateness_seconds": 900}
    assert resolved["input"]["max_object_bytes"] == 1 << 30


def test_check_config_rejects_an_unknown_key(runs: dict[str, Run]) -> None:
    code, stdout, stderr = runs["check_bad_key"].result()
    assert code == 2
    assert stdout == ""
    assert "latenes_seconds" in stderr and "[window]" in stderr
