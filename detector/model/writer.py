"""Write an artifact directory: model files, report files, then ``metadata.json`` with hashes.

The directory is assembled next to its destination and moved into place in one rename, so a
reader never sees a half-written model; an existing artifact at the destination is replaced,
but a non-empty directory that is not an artifact is never touched. Before anything is moved,
the writer loads its own pickles through the loader's allow-list, so a model the daemon would
refuse fails here, at training time.
"""

from __future__ import annotations

import os
import pickle
import shutil
import sys
from pathlib import Path
from typing import Any

import orjson

from detector.detect.iforest import IForestAdapter
from detector.errors import ModelError
from detector.model import safe_pickle
from detector.model.artifact import WarmState, baselines_bytes
from detector.model.format import (
    BASELINES,
    FORMAT,
    FORMAT_VERSION,
    IFOREST,
    IFOREST_META,
    METADATA,
    ONLINE,
    sha256_hex,
)

JSON_OPTS = orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2


def model_files(iforest: IForestAdapter, warm: WarmState) -> dict[str, bytes]:
    """The model files of an artifact, by name."""
    files = {
        IFOREST: pickle.dumps(iforest.model, protocol=5),
        IFOREST_META: orjson.dumps(
            {"feature_hash": iforest.feature_hash, "quantiles": iforest.quantiles.tolist()},
            option=JSON_OPTS,
        ),
        ONLINE: pickle.dumps(_canonical(warm.online), protocol=5),
        BASELINES: baselines_bytes(warm),
    }
    for name in (IFOREST, ONLINE):
        safe_pickle.loads(files[name], f"{name} (just written)")
    return files


def _canonical(online: dict[tuple[str, str], Any]) -> dict[tuple[str, str], Any]:
    """Models in key order, each a fresh copy sharing no object with another.

    Models learned in one process share objects (feature names, account ids); models learned
    in different account shards do not. Pickle's memo follows that sharing, so without this the
    bytes of ``online.pkl`` — not the models — would depend on the number of workers.
    """
    return {
        (sys.intern(a), sys.intern(p)): pickle.loads(pickle.dumps(m, protocol=5))
        for (a, p), m in sorted(online.items())
    }


def write_artifact(out: Path, files: dict[str, bytes], metadata: dict[str, Any]) -> str:
    """Write ``files`` and ``metadata.json`` (with a sha256 per file) to ``out``.

    Returns the sha256 of ``metadata.json``, the artifact's identity.
    """
    check_destination(out)
    doc = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        **metadata,
        "files": {
            name: {"sha256": sha256_hex(data), "bytes": len(data)}
            for name, data in sorted(files.items())
        },
    }
    meta = orjson.dumps(doc, option=JSON_OPTS) + b"\n"
    staging = out.with_name(f".{out.name}.partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        for name, data in files.items():
            path = staging / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        (staging / METADATA).write_bytes(meta)  # last: its presence marks a complete artifact
        _swap_into_place(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return sha256_hex(meta)


def check_destination(out: Path) -> None:
    """Refuse early a destination the writer would refuse at the end (before hours of work)."""
    if out.exists() and not out.is_dir():
        raise ModelError(f"--out {out} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not (out / METADATA).is_file():
        raise ModelError(
            f"--out {out} is a non-empty directory without {METADATA}: not replacing it"
        )


def _swap_into_place(staging: Path, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    if not out.exists():
        os.replace(staging, out)
        return
    old = out.with_name(f".{out.name}.old-{os.getpid()}")
    os.replace(out, old)
    os.replace(staging, out)
    shutil.rmtree(old, ignore_errors=True)
