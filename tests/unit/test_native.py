"""The compiled build (``detector.native``): chosen only when it is the code on disk.

Story: the hot path is compiled with mypyc for speed (issue 6). A developer edits
``windows.py`` and runs pytest without ``make``: the old compiled module must not quietly run
instead of the edit, so a stale build falls back to the source, all of it. And this test run
itself must exercise the compiled build, or the suite would prove nothing about what ships.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from detector import native
from detector.native import COMPILED, LIBRARY, LOCK, MODULES, PURE, PURE_ENV, decide

SO = importlib.machinery.EXTENSION_SUFFIXES[0]
PURE_RUN = os.environ.get(PURE_ENV, "") not in ("", "0")


def test_this_run_exercises_the_compiled_build() -> None:
    if PURE_RUN:
        pytest.skip(f"{PURE_ENV} is set: this run tests the source on purpose")
    status = native.select()
    assert status.mode == COMPILED, status
    files = {m: str(importlib.import_module(m).__file__) for m in MODULES}
    assert all(f.endswith(SO) for f in files.values()), files


def _fake_build(tmp_path: Path, compiled: bool = True, locked: bool = True) -> Path:
    """A package tree with every listed module's source, its 'compiled' file and the lock."""
    pkg = tmp_path / "detector"
    for m in MODULES:
        src = native.source_of(m, pkg)
        src.parent.mkdir(parents=True, exist_ok=True)
        src.write_text(f"# {m}\n")
        if compiled:
            src.with_suffix(SO).write_bytes(b"")
    if compiled:
        native.source_of(LIBRARY, pkg).with_suffix(SO).write_bytes(b"")
    if locked:
        lock = {"modules": native.digests(pkg), "group": native.GROUP}
        (pkg / LOCK).write_text(json.dumps(lock))
    return pkg


def test_a_fresh_build_is_used(tmp_path: Path) -> None:
    assert decide(_fake_build(tmp_path), environ={}).mode == COMPILED


def test_an_edited_source_makes_the_whole_build_stale(tmp_path: Path) -> None:
    pkg = _fake_build(tmp_path)
    src = native.source_of("detector.windows", pkg)
    src.write_text(src.read_text() + "x = 1\n")
    status = decide(pkg, environ={})
    assert status.mode == PURE
    assert status.stale == ("detector.windows",)
    assert "stale" in status.reason


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("env", PURE_ENV),
        ("not built", "not compiled"),
        ("one missing", "incomplete"),
        ("no library", "incomplete"),
        ("no lock", LOCK),
        ("bad lock", LOCK),
    ],
)
def test_source_is_used_when(tmp_path: Path, case: str, reason: str) -> None:
    pkg = _fake_build(tmp_path, compiled=case != "not built", locked=case != "no lock")
    environ = {PURE_ENV: "1"} if case == "env" else {}
    if case == "one missing":
        native.source_of("detector.engine", pkg).with_suffix(SO).unlink()
    if case == "no library":
        native.source_of(LIBRARY, pkg).with_suffix(SO).unlink()
    if case == "bad lock":
        (pkg / LOCK).write_text("{not json")
    status = decide(pkg, environ=environ)
    assert status.mode == PURE
    assert reason in status.reason


def test_env_zero_does_not_ask_for_source(tmp_path: Path) -> None:
    assert decide(_fake_build(tmp_path), environ={PURE_ENV: "0"}).mode == COMPILED


def _module_file(pure: bool) -> str:
    env = {k: v for k, v in os.environ.items() if k != PURE_ENV}
    if pure:
        env[PURE_ENV] = "1"
    code = (
        "import detector.windows as w, detector.normalize as n\n"
        "from detector import native\n"
        "print(native.select().mode, w.__file__, n.__file__)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def test_pure_env_loads_every_module_from_source() -> None:
    mode, *files = _module_file(pure=True).split()
    assert mode == PURE
    assert all(f.endswith(".py") for f in files), files


def test_without_the_env_the_compiled_modules_load() -> None:
    if PURE_RUN:
        pytest.skip(f"{PURE_ENV} is set")
    mode, *files = _module_file(pure=False).split()
    assert mode == COMPILED
    assert all(f.endswith(SO) for f in files), files


def test_a_stale_build_is_a_logged_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from detector import cli

    stale = native.Status(PURE, "compiled build is stale", ("detector.windows",))
    monkeypatch.setattr(native, "_status", stale)
    with caplog.at_level("INFO", logger="s3ad"):
        cli._log_build()
    [record] = caplog.records
    assert record.levelname == "WARNING"
    assert "stale" in record.getMessage()
    assert record.__dict__["modules"] == ["detector.windows"]
