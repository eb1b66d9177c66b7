"""Fit an oversized finding into an EventBridge entry by trimming, never by dropping it.

A finding over the entry limit is still worth delivering: its type, severity, principal and
resource are what a responder acts on, while long evidence lists and per-feature anomaly
profiles are supporting detail. Trimming goes from least to most important:

1. lists inside ``service.evidence`` (halve the biggest, repeatedly);
2. ``service.action.awsApiCallAction.affectedResources``;
3. ``service.detection.anomaly`` detail (its lists, then its largest maps);
4. long strings anywhere except identifying fields (id, arn, type, account, times).

The result carries ``service.additionalInfo.trimmed = true`` so readers know detail is missing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import orjson

Fits = Callable[[], bool]

# Fields that identify the finding or its resource: truncating them would break dedup/routing.
_PROTECTED = frozenset(
    {
        "id",
        "arn",
        "type",
        "schemaVersion",
        "accountId",
        "region",
        "partition",
        "createdAt",
        "updatedAt",
        "eventFirstSeen",
        "eventLastSeen",
        "name",
    }
)
_ELLIPSIS = "…[trimmed]"


def dumps(obj: Any) -> bytes:
    """Canonical JSON of a finding: sorted keys, as every sink writes it."""
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)


def entry_size(source: str, detail_type: str, detail: bytes, resources: Sequence[str]) -> int:
    """PutEvents entry size as EventBridge counts it (no ``Time``: we let EventBridge set it).

    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html

    >>> entry_size("s3ad", "GuardDuty Finding", b'{"a":1}', ["arn:aws:s3:::b"])
    42
    """
    size = len(source.encode()) + len(detail_type.encode()) + len(detail)
    return size + sum(len(r.encode()) for r in resources)


def fit_detail(finding: Mapping[str, Any], budget: int) -> tuple[bytes, bool]:
    """``(detail JSON, trimmed?)`` with the JSON at most ``budget`` bytes.

    Raises ``ValueError`` if even the trimmed finding does not fit (a budget of a few hundred
    bytes); ``orjson.JSONEncodeError`` if the finding is not JSON.
    """
    detail = dumps(finding)
    if len(detail) <= budget:
        return detail, False
    work: dict[str, Any] = orjson.loads(detail)  # a deep copy the caller never sees
    _mark_trimmed(work)

    def fits() -> bool:
        return len(dumps(work)) <= budget

    steps: list[Callable[[], bool]] = [
        lambda: _halve_lists(_at(work, "service", "evidence"), fits),
        lambda: _halve_node(
            _at(work, "service", "action", "awsApiCallAction", "affectedResources"), fits
        ),
        lambda: _halve_lists(_at(work, "service", "detection", "anomaly"), fits),
        lambda: _halve_maps(_at(work, "service", "detection", "anomaly"), fits),
        lambda: _truncate_strings(work, fits),
    ]
    for step in steps:
        if step():
            return dumps(work), True
    raise ValueError(f"finding does not fit in {budget} bytes even after trimming")


def _mark_trimmed(finding: dict[str, Any]) -> None:
    service = finding.get("service")
    if not isinstance(service, dict):
        service = finding["service"] = {}
    info = service.get("additionalInfo")
    if not isinstance(info, dict):
        info = service["additionalInfo"] = {}
    info["trimmed"] = True


def _at(node: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def _walk(node: Any) -> Iterator[Any]:
    yield node
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
    for child in children:
        yield from _walk(child)


def _halve_lists(root: Any, fits: Fits) -> bool:
    """Halve the biggest lists under ``root`` until the finding fits or no list is left.

    Every list at least half as big as the biggest is halved in the same round, so many
    similar lists shrink together in a few rounds instead of one list per round.
    """
    while not fits():
        sized = [(len(dumps(n)), n) for n in _walk(root) if isinstance(n, list) and n]
        if not sized:
            return False
        largest = max(size for size, _ in sized)
        for size, node in sized:
            if size * 2 >= largest:
                del node[len(node) // 2 :]
    return True


def _halve_maps(root: Any, fits: Fits) -> bool:
    """Drop the later half of the keys of the widest maps below ``root`` (not ``root`` itself).

    Width (key count) marks a map of observations (feature → profile) rather than a record,
    so the widest maps go first; maps of a single key are left to string truncation.
    """
    while not fits():
        maps = [n for n in _walk(root) if isinstance(n, dict) and len(n) > 1 and n is not root]
        if not maps:
            return False
        widest = max(len(n) for n in maps)
        for node in maps:
            if len(node) * 2 >= widest:
                for key in list(node)[len(node) // 2 :]:
                    del node[key]
    return True


def _halve_node(node: Any, fits: Fits) -> bool:
    """Halve ``node`` itself, a list or a map, until it fits or is empty."""
    while not fits():
        if isinstance(node, list) and node:
            del node[len(node) // 2 :]
        elif isinstance(node, dict) and node:
            for key in list(node)[len(node) // 2 :]:
                del node[key]
        else:
            return False
    return True


def _truncate_strings(finding: dict[str, Any], fits: Fits) -> bool:
    """Cut unprotected strings to a shrinking length limit until the finding fits."""
    limit = 8192
    while not fits():
        if limit < 16:
            return False
        for node in _walk(finding):
            if isinstance(node, dict):
                for key, value in node.items():
                    if key not in _PROTECTED and isinstance(value, str) and len(value) > limit:
                        node[key] = value[:limit] + _ELLIPSIS
            elif isinstance(node, list):
                for i, value in enumerate(node):
                    if isinstance(value, str) and len(value) > limit:
                        node[i] = value[:limit] + _ELLIPSIS
        limit //= 2
    return True
