"""Load a model artifact safely: verify everything, then deserialise the verified bytes.

Order matters. ``metadata.json`` (JSON, no code) is read first and checked: format version,
feature list and hash, library versions, window width. Then every file it lists is read and its
sha256 compared; only when all match are the *same bytes* deserialised (not re-read from disk,
so a file swapped after the check is never used), pickles through an allow-list of classes. Any
failure is a ``ModelError`` that names what differs; the CLI prints it and exits 2.

``s3://bucket/prefix/`` locations are downloaded to a temporary directory first. A location may
end in ``#sha256=<hex>`` to pin the artifact: the sha256 of its ``metadata.json`` (printed by
``s3ad train``) must then match too, which protects against a rewritten ``metadata.json``.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

import orjson

from detector.config import Settings
from detector.detect.iforest import IForestAdapter
from detector.detect.online import PopulationModel
from detector.errors import ModelError
from detector.features import FEATURE_HASH, FEATURES
from detector.model import safe_pickle
from detector.model.artifact import ModelArtifact, WarmState, parse_baselines
from detector.model.format import (
    BASELINES,
    FORMAT,
    FORMAT_VERSION,
    IFOREST,
    IFOREST_META,
    METADATA,
    MODEL_FILES,
    ONLINE,
    library_versions,
    safe_file_name,
    sha256_hex,
    version_mismatches,
)
from detector.model.s3 import download_artifact

log = logging.getLogger(__name__)
MAX_METADATA_BYTES = 16 << 20


def load_artifact(
    location: str, settings: Settings | None = None, s3_client: Any = None
) -> ModelArtifact:
    """Verify and load the artifact at ``location`` (a directory or ``s3://…``)."""
    where, _, pin = location.partition("#sha256=")
    if where.startswith("s3://"):
        with tempfile.TemporaryDirectory(prefix="s3ad-model-") as tmp:
            download_artifact(where, Path(tmp), s3_client)
            return _load_dir(Path(tmp), location, pin.lower(), settings)
    return _load_dir(Path(where), location, pin.lower(), settings)


def _load_dir(d: Path, location: str, pin: str, settings: Settings | None) -> ModelArtifact:
    raw = _read(d / METADATA, MAX_METADATA_BYTES, location)
    digest = sha256_hex(raw)
    if pin and pin != digest:
        raise ModelError(
            f"{location}: {METADATA} has sha256 {digest}, the pin says {pin}: refusing to load"
        )
    try:
        meta = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ModelError(f"{location}: {METADATA} is not JSON: {exc}") from exc
    if not isinstance(meta, dict):
        raise ModelError(f"{location}: {METADATA} is not a JSON object")
    check_compatible(meta, location, settings)
    verified = _verified_files(d, meta, location)
    warm = WarmState()
    parse_baselines(verified[BASELINES], warm, f"{location}: {BASELINES}")
    online = safe_pickle.loads(verified[ONLINE], f"{location}: {ONLINE}")
    if not isinstance(online, dict) or not all(
        isinstance(k, tuple) and isinstance(v, PopulationModel) for k, v in online.items()
    ):
        raise ModelError(f"{location}: {ONLINE} does not hold population models")
    warm.online = online
    model = safe_pickle.loads(verified[IFOREST], f"{location}: {IFOREST}")
    if not hasattr(model, "score_samples"):
        raise ModelError(f"{location}: {IFOREST} does not hold an IsolationForest")
    try:
        qmeta = orjson.loads(verified[IFOREST_META])
        quantiles = qmeta["quantiles"]
        fhash = str(qmeta["feature_hash"])
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise ModelError(f"{location}: {IFOREST_META} is malformed: {exc}") from exc
    iforest = IForestAdapter(model, quantiles, fhash)
    artifact = ModelArtifact(location, digest, meta, iforest, warm)
    log.info("model verified", extra={"model": artifact.describe()})
    return artifact


def check_compatible(meta: dict[str, Any], location: str, settings: Settings | None) -> None:
    """Refuse an artifact this build cannot use, naming what differs."""
    if meta.get("format") != FORMAT or meta.get("format_version") != FORMAT_VERSION:
        raise ModelError(
            f"{location}: {METADATA} is format {meta.get('format')!r} version "
            f"{meta.get('format_version')!r}; this build reads {FORMAT!r} version {FORMAT_VERSION}"
        )
    features = meta.get("features", {})
    names = features.get("names") if isinstance(features, dict) else None
    fhash = features.get("hash") if isinstance(features, dict) else None
    if fhash != FEATURE_HASH or names != list(FEATURES):
        have = names if isinstance(names, list) else []
        missing = [f for f in FEATURES if f not in have]
        extra = [f for f in have if f not in FEATURES]
        detail = "; ".join(
            part
            for part in (
                f"this build adds {', '.join(missing)}" if missing else "",
                f"this build lacks {', '.join(map(str, extra))}" if extra else "",
            )
            if part
        )
        raise ModelError(
            f"{location}: the model was trained on features {fhash} ({len(have)} features), "
            f"this build computes {FEATURE_HASH} ({len(FEATURES)}){': ' + detail if detail else ''}"
            " — retrain it with this build"
        )
    versions = meta.get("versions")
    bad = version_mismatches(versions if isinstance(versions, dict) else {}, library_versions())
    if bad:
        raise ModelError(f"{location}: incompatible libraries: {'; '.join(bad)} — retrain it")
    width = meta.get("parameters", {}).get("window_seconds")
    if settings is not None and width != settings.window.width_seconds:
        raise ModelError(
            f"{location}: the model was trained on {width}-second windows, this service uses "
            f"{settings.window.width_seconds} (window.width_seconds)"
        )


def _verified_files(d: Path, meta: dict[str, Any], location: str) -> dict[str, bytes]:
    listing = meta.get("files")
    if not isinstance(listing, dict):
        raise ModelError(f"{location}: {METADATA} lists no files")
    missing = [name for name in MODEL_FILES if name not in listing]
    if missing:
        raise ModelError(f"{location}: {METADATA} does not list {', '.join(missing)}")
    out: dict[str, bytes] = {}
    for name, entry in sorted(listing.items()):
        if not safe_file_name(name) or not isinstance(entry, dict):
            raise ModelError(f"{location}: {METADATA} lists an invalid file name {name!r}")
        size = int(entry.get("bytes", 0))
        data = _read(d / name, size, location)
        got = sha256_hex(data)
        if got != entry.get("sha256"):
            raise ModelError(
                f"{location}: {name} does not match {METADATA} (sha256 {got}, expected "
                f"{entry.get('sha256')}): refusing to load a modified artifact"
            )
        out[name] = data
    return out


def _read(path: Path, limit: int, location: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)
    except FileNotFoundError:
        if path.name == METADATA:
            raise ModelError(
                f"{location}: no {METADATA}; only artifacts written by `s3ad train` are loaded "
                "(a model file without its hashes cannot be verified)"
            ) from None
        raise ModelError(f"{location}: {path.name} is listed in {METADATA} but missing") from None
    except OSError as exc:
        raise ModelError(f"{location}: cannot read {path.name}: {exc.strerror}") from exc
    if len(data) > limit:
        what = f"{limit} bytes" if path.name == METADATA else f"the {limit} bytes {METADATA} lists"
        raise ModelError(f"{location}: {path.name} is larger than {what}")
    return data
