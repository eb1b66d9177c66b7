"""Build: the hot-path modules listed in ``detector/native.py`` are compiled with mypyc.

Everything else about the package is in ``setup.cfg``. ``S3AD_PURE_PYTHON=1`` skips the
compilation. Without a working C compiler the build warns and installs the pure-Python package
(the same behaviour, slower) unless ``S3AD_REQUIRE_NATIVE=1`` (the Makefile sets it), which
makes that a build error instead.
"""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path
from typing import Any

from setuptools import setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent
native: dict[str, Any] = runpy.run_path(str(HERE / "detector" / "native.py"))
REQUIRED = native["env_flag"]("S3AD_REQUIRE_NATIVE")
HELP = (
    "install a C compiler and the Python headers (Debian: gcc python3-dev), or set "
    "S3AD_PURE_PYTHON=1 for the pure-Python modules (the same results, about a fifth slower)"
)


def _note(message: str) -> None:
    print(f"s3ad build: {message}", file=sys.stderr)


def _failed(what: str, exc: BaseException) -> None:
    """Stop the build (S3AD_REQUIRE_NATIVE) or say the install falls back to source."""
    if REQUIRED:
        raise SystemExit(f"s3ad build: {what} failed: {exc!r}; {HELP}") from exc
    _note(f"{what} failed ({exc!r}); installing the pure-Python modules")


class BuildNative(build_ext):
    """build_ext that records what it compiled (``native.lock``), or falls back to source."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # no compiler, no headers: any failure of the C toolchain
            for ext in self.extensions:  # all or nothing: the modules are one mypyc group
                Path(self.get_ext_fullpath(ext.name)).unlink(missing_ok=True)
            _failed("compiling the hot path", exc)
            return
        package = HERE / "detector" if self.inplace else Path(self.build_lib) / "detector"
        lock = package / native["LOCK"]
        if not self.extensions:  # nothing compiled: no lock may vouch for older compiled files
            lock.unlink(missing_ok=True)
            return
        digests = native["digests"](package)
        lock.write_text(json.dumps({"modules": digests, "group": native["GROUP"]}, indent=1) + "\n")


def _extensions() -> list[Any]:
    if native["env_flag"](native["PURE_ENV"]):
        _note(f"{native['PURE_ENV']} is set: not compiling")
        return []
    try:
        from mypyc.build import mypycify
    except ImportError as exc:
        _failed("importing mypyc (part of mypy)", exc)
        return []
    sources = [str(native["source_of"](m).relative_to(HERE)) for m in native["MODULES"]]
    try:  # mypyc type-checks first: the runtime dependencies must be importable (see Makefile)
        return list(mypycify(sources, opt_level="3", group_name=native["GROUP"]))
    except (Exception, SystemExit) as exc:
        _failed("mypyc", exc)
        return []


setup(ext_modules=_extensions(), cmdclass={"build_ext": BuildNative})
