"""A mergeable distinct-count sketch (k minimum values) for keys and prefixes in a window.

Exact below ``k`` distinct values, an unbiased estimate above; merging two sketches gives the
same result whatever way a window's events were split across files or workers, which is what
lets training merge partial windows bit-for-bit.
"""

from __future__ import annotations

import zlib

K = 1024
_SPACE = float(1 << 32)


def h32(value: str) -> int:
    """Stable 32-bit hash (Python's ``hash`` is salted per process).

    >>> h32("a") == h32("a")
    True
    """
    return zlib.crc32(value.encode("utf-8", "surrogatepass"))


def prune(values: set[int], k: int = K) -> set[int]:
    """Keep the ``k`` smallest hashes."""
    if len(values) <= k:
        return values
    return set(sorted(values)[:k])


def estimate(values: set[int], k: int = K) -> float:
    """Distinct count of a pruned sketch.

    >>> estimate({1, 2, 3})
    3.0
    """
    n = len(values)
    if n < k:
        return float(n)
    kth = max(values)
    return (k - 1) * _SPACE / (kth + 1)
