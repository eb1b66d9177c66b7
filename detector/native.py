"""The modules compiled to C with mypyc, and whether this process may use the compiled build.

The per-event and per-window path (read → normalize → window → featurize → judge → learn) is
pure Python that mypy checks strictly; ``setup.py`` compiles those modules with mypyc when s3ad
is installed (issue 6: about a fifth off the replay's time a record). It is the same source,
so it is the same behaviour: the source stays next to the compiled file and is the fallback.

A process uses the source instead of the compiled modules when

- ``S3AD_PURE_PYTHON=1`` is set (to compare the two, or to debug in Python), or
- nothing was compiled (no C compiler when s3ad was installed), or
- the build is *stale*: a compiled module's source changed since it was built (a developer
  edited it without ``make``). Then the compiled code would not be the code on disk, so it is
  not loaded at all, and ``s3ad`` logs a warning saying so.

The choice is all or nothing and is made once, when ``detector`` is imported (its
``__init__``): mypyc compiles the modules as one group that calls across modules directly.

This module uses only the standard library: ``setup.py`` and the Makefile load it by path.
``python detector/native.py`` prints the compiled modules' source files (for ``make``).
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

# The hot path, leaves first. A module here must not be monkeypatched or subclassed from
# Python, and a class here is created by calling it (no ``cls.__new__``, no ``__slots__`` read).
# A callable it hands out is an attribute, not a property returning a method: mypyc compiled
# ``self.prop(x)`` as a call of the property itself (``Detector.notable``, found by fuzzing).
# Methods are called on their objects (``self.dedup.seen(…)``), not through a bound method kept
# in a local: that interpreter trick turns a direct C call into a generic Python call.
# Classes that are pickled as objects stay out (``detect.online``'s models are in the model
# files and checkpoints: a compiled class pickles differently, and both builds must read them).
MODULES = (
    "detector.sketch",
    "detector.principal",
    "detector.normalize",
    "detector.dedup",
    "detector.windows",
    "detector.history",
    "detector.features",
    "detector.engine",
    "detector.detect.keypatterns",
    "detector.detect.rules",
    "detector.detect.recent",
    "detector.detect.bursts",
    "detector.detect.online_scorer",
    "detector.detect.decide",
    "detector.detect.detector",
    "detector.ingest.decompress",
    "detector.ingest.reader",
    "detector.replay",
    "detector.train.collect",
)
GROUP = "detector.native"  # mypyc's shared library of the group: ``detector/native__mypyc``
LIBRARY = f"{GROUP}__mypyc"
LOCK = "native.lock"  # in the package: the sha256 of each module's source when it was built
PURE_ENV = "S3AD_PURE_PYTHON"

PACKAGE = Path(__file__).resolve().parent  # .../detector
COMPILED = "compiled"
PURE = "pure"


def source_of(module: str, package: Path = PACKAGE) -> Path:
    """``detector.detect.rules`` → ``<package>/detect/rules.py``."""
    return package.joinpath(*module.split(".")[1:]).with_suffix(".py")


def digests(package: Path = PACKAGE, modules: Sequence[str] = MODULES) -> dict[str, str]:
    """sha256 of each module's source, as ``setup.py`` records them in the lock."""
    return {m: hashlib.sha256(source_of(m, package).read_bytes()).hexdigest() for m in modules}


def built(module: str, package: Path = PACKAGE) -> Path | None:
    """The compiled file of ``module`` next to its source, if there is one."""
    src = source_of(module, package)
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        f = src.with_suffix(suffix)
        if f.exists():
            return f
    return None


@dataclass(frozen=True, slots=True)
class Status:
    """Which build this process runs, and why."""

    mode: str  # COMPILED or PURE
    reason: str  # why PURE ("" when COMPILED)
    stale: tuple[str, ...] = ()  # modules whose source differs from the compiled build


def env_flag(name: str, environ: Mapping[str, str] | None = None) -> bool:
    """An on/off environment variable: set to anything but "" or "0" is on."""
    env = os.environ if environ is None else environ
    return env.get(name, "") not in ("", "0")


def decide(package: Path = PACKAGE, environ: dict[str, str] | None = None) -> Status:
    """Compiled, unless asked not to, not built, or stale (see the module docstring)."""
    if env_flag(PURE_ENV, environ):
        return Status(PURE, f"{PURE_ENV} is set")
    targets = (*MODULES, LIBRARY)
    missing = [m for m in targets if built(m, package) is None]
    if len(missing) == len(targets):
        return Status(PURE, "not compiled (no C compiler when s3ad was installed?)")
    if missing:
        return Status(PURE, f"compiled build incomplete: {', '.join(missing)} missing")
    try:
        recorded = json.loads((package / LOCK).read_text())["modules"]
    except (OSError, ValueError, KeyError, TypeError):
        return Status(PURE, f"compiled build has no readable {LOCK}")
    now = digests(package)
    stale = tuple(m for m in MODULES if recorded.get(m) != now[m])
    if stale:
        return Status(
            PURE, "compiled build is stale (source changed since it was built: run make)", stale
        )
    return Status(COMPILED, "")


class SourceFirst(importlib.abc.MetaPathFinder):
    """Loads the listed modules from their ``.py`` source even where a compiled file exists."""

    def __init__(self, modules: Sequence[str], package: Path) -> None:
        self.modules = frozenset(modules)
        self.package = package

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self.modules:
            return None
        return importlib.util.spec_from_file_location(fullname, source_of(fullname, self.package))


_status: Status | None = None


def select() -> Status:
    """Decide once per process; when the answer is PURE, make imports take the source."""
    global _status
    if _status is None:
        _status = decide()
        if _status.mode == PURE:
            sys.meta_path.insert(0, SourceFirst(MODULES, PACKAGE))
    return _status


if __name__ == "__main__":
    print("\n".join(str(source_of(m).relative_to(PACKAGE.parent)) for m in MODULES))
