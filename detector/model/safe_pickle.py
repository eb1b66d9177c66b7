"""Unpickling with an allow-list: the second lock on a model file, after its sha256.

The sha256 in ``metadata.json`` stops a file that was changed on its own; someone who can
rewrite ``metadata.json`` as well can make any pickle "verify". So the loader unpickles through
``Unpickler.find_class`` restricted to the classes a model actually holds (scikit-learn's
IsolationForest and trees, river's HalfSpaceTrees, numpy arrays, our PopulationModel). A pickle
naming anything else — ``os.system``, ``builtins.eval``, ``subprocess.Popen`` — is refused
before that name is even imported. This narrows what a forged file can do; it does not make an
untrusted model location safe (README: the model location must be writable only by trusted
roles).

The list is checked when training too (the writer loads what it wrote), so a library upgrade
that pickles a new class fails in ``s3ad train``, not in the daemon.
"""

from __future__ import annotations

import io
import pickle
from typing import Any

from detector.errors import ModelError

_BUILTINS = frozenset(
    {"tuple", "list", "dict", "set", "frozenset", "int", "float", "complex", "bytes", "str"}
    | {"bytearray", "bool", "slice", "range"}
)
ALLOWED: frozenset[tuple[str, str]] = frozenset(
    {("builtins", name) for name in _BUILTINS}
    | {
        ("collections", "defaultdict"),  # river: HST limits, defaultdict(partial(tuple, …))
        ("functools", "partial"),
        ("random", "Random"),  # river: each HST's generator
        ("numpy", "dtype"),
        ("numpy", "ndarray"),
        ("sklearn.ensemble._iforest", "IsolationForest"),
        ("sklearn.tree._classes", "ExtraTreeRegressor"),
        ("sklearn.tree._tree", "Tree"),
        ("river.anomaly.hst", "HalfSpaceTrees"),
        ("river.tree.padded", "PaddedBranch"),
        ("river.tree.padded", "PaddedLeaf"),
        ("detector.detect.online", "PopulationModel"),
        ("detector.detect.online", "Calibrator"),
    }
    # numpy arrays and scalars; numpy 2 moved numpy.core to numpy._core, both spellings occur.
    | {
        (f"numpy.{core}.{mod}", name)
        for core in ("core", "_core")
        for mod, name in (
            ("multiarray", "_reconstruct"),
            ("multiarray", "scalar"),
            ("numeric", "_frombuffer"),
        )
    }
)


class _AllowListUnpickler(pickle.Unpickler):
    def __init__(self, data: bytes, what: str) -> None:
        super().__init__(io.BytesIO(data))
        self.what = what

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in ALLOWED:
            raise ModelError(
                f"{self.what} refers to {module}.{name}, which no s3ad model holds: refusing to "
                "load it (was the file forged?)"
            )
        return super().find_class(module, name)


def loads(data: bytes, what: str) -> Any:
    """Unpickle ``data`` (already sha256-verified) allowing only model classes."""
    try:
        return _AllowListUnpickler(data, what).load()
    except ModelError:
        raise
    except Exception as exc:  # a corrupt pickle can raise almost anything
        raise ModelError(f"{what} cannot be read: {type(exc).__name__}: {exc}") from exc
