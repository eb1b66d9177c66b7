"""The artifact layout (format version 1) and the compatibility rules of a model directory.

::

    models/NAME/
      metadata.json       read first, JSON only: features, versions, data, counts, parameters,
                          and the sha256 of every other file
      iforest.pkl         scikit-learn IsolationForest (pickle, protocol 5)
      iforest.json        its calibration quantiles and feature hash (JSON)
      online.pkl          river population models by (account, population) (pickle)
      baselines.json.gz   per-principal histories, accounts' first windows, SSE-C habits (JSON)
      report.md, plots/   for people: hashed like the rest, never parsed by the loader

Pickles execute code when loaded, so nothing is unpickled before its sha256 matches
``metadata.json``, and then only through an allow-list of classes (``safe_pickle``).
"""

from __future__ import annotations

import hashlib
import platform
import re
from importlib import metadata as dist
from typing import Any

import detector

FORMAT = "s3ad-model"
FORMAT_VERSION = 1
METADATA = "metadata.json"
IFOREST = "iforest.pkl"
IFOREST_META = "iforest.json"
ONLINE = "online.pkl"
BASELINES = "baselines.json.gz"
MODEL_FILES = (IFOREST, IFOREST_META, ONLINE, BASELINES)
REPORT = "report.md"
# Leading version parts that must be equal between training and loading: scikit-learn and river
# change their pickled internals between minor releases; numpy only between major ones.
CHECKED_PARTS = {"scikit-learn": 2, "river": 2, "numpy": 1}
_SAFE_NAME = re.compile(r"^(?:plots/)?[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")


def library_versions() -> dict[str, str]:
    """Versions of what the model files depend on, as recorded in ``metadata.json``."""
    out = {"python": platform.python_version(), "s3ad": detector.__version__}
    for name in ("scikit-learn", "river", "numpy"):
        try:
            out[name] = dist.version(name)
        except dist.PackageNotFoundError:
            out[name] = "missing"
    return out


def version_mismatches(recorded: dict[str, Any], current: dict[str, str]) -> list[str]:
    """Libraries whose checked version parts differ, each as ``name trained X, here Y``.

    >>> version_mismatches({"river": "0.21.2"}, {"river": "0.21.0"})
    []
    >>> version_mismatches({"river": "0.22.0"}, {"river": "0.21.0"})
    ['river: model trained with 0.22.0, this build has 0.21.0']
    """
    out = []
    for name, parts in CHECKED_PARTS.items():
        if name not in recorded and name not in current:
            continue
        trained, here = str(recorded.get(name, "unknown")), current.get(name, "missing")
        if trained.split(".")[:parts] != here.split(".")[:parts]:
            out.append(f"{name}: model trained with {trained}, this build has {here}")
    return out


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def safe_file_name(name: str) -> bool:
    """A file name ``metadata.json`` may list: a plain name, or one under ``plots/``.

    Names come from a file an attacker may have edited; they must never reach outside the
    artifact directory.

    >>> safe_file_name("iforest.pkl"), safe_file_name("plots/scores.png")
    (True, True)
    >>> safe_file_name("../etc/passwd"), safe_file_name("/tmp/x"), safe_file_name("plots/../x")
    (False, False, False)
    """
    return bool(_SAFE_NAME.match(name)) and ".." not in name
