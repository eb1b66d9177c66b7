"""Object-key pattern lists (ransom notes, credential files) as one fast case-insensitive test.

``RuleBook.notable`` asks this of every object read and write, so it is on the per-event path
(issue 6). Two things make it cheap without changing what it finds:

- patterns that all start at a path segment (``(^|/)``, as the built-in lists do) share that
  anchor, so the alternatives are tried only where a segment starts (measured on object keys of
  the bench trail: 3.2 → 1.1 µs a key for the credential list);
- case-insensitive matching costs Python's ``re`` about twice a case-sensitive one. When every
  pattern is *case-free* — ASCII, no capital letter, no escape that names a letter or a code
  point, ranges only within a-z or 0-9, no inline flags — matching an ASCII key lowered with
  ``str.lower`` case-sensitively finds exactly what ``re.I`` finds on the key itself (ransom
  list 2.7 → 1.4 µs a key, credential list 0.9 → 0.6 on the bench trail's keys). Keys that are
  not ASCII (where ``re.I`` folds ``ſ`` to ``s``, ``K`` to ``k``…) and lists that are not
  case-free take the ``re.I`` pattern.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

SEGMENT_START = "(^|/)"


def case_free(pattern: str) -> bool:
    """True when ``pattern`` matches the same ASCII text with and without ``re.I`` once the text
    is lowered: see the module docstring for the rule (conservative: when in doubt, False).

    >>> case_free(r"(^|/)[^/]*\\.(pem|p12)$"), case_free(r"[a-z0-9_-]+"), case_free("Key")
    (True, True, False)
    >>> case_free(r"\\x41"), case_free("[@-_]"), case_free("(?-i:a)")
    (False, False, False)
    """
    if not pattern.isascii() or pattern != pattern.lower():
        return False
    in_class = False
    first = 0  # where the open class's members start (a "-" there is a literal)
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            # ``\.`` is the literal dot; ``\x41``, ``\101``, ``\w``, ``\S``… name letters or
            # classes whose case behaviour this check does not model.
            if i + 1 >= n or pattern[i + 1].isalnum():
                return False
            i += 2
            continue
        if in_class:
            if c == "]":
                in_class = False
            elif c == "-" and i > first and i + 1 < n and pattern[i + 1] != "]":
                lo, hi = pattern[i - 1], pattern[i + 1]
                # A range like ``[@-_]`` holds A-Z without naming a letter: re.I then matches
                # a-z too, which the lowered key would not.
                if not (("a" <= lo <= hi <= "z") or ("0" <= lo <= hi <= "9")):
                    return False
        elif c == "[":
            in_class = True
            if pattern[i + 1 : i + 2] == "^":
                i += 1
            first = i + 1
            if pattern[i + 1 : i + 2] == "]":  # a "]" first in a class is a member, not the end
                i += 1
        elif c == "(" and pattern[i + 1 : i + 2] == "?" and pattern[i + 2 : i + 3] != ":":
            return False  # inline flags, look-arounds, named groups: not modelled
        i += 1
    return True


def _combined(patterns: Sequence[str], flags: int) -> re.Pattern[str]:
    if not patterns:
        return re.compile("(?!)")
    if all(p.startswith(SEGMENT_START) for p in patterns):
        body = "|".join(f"(?:{p[len(SEGMENT_START) :]})" for p in patterns)
        return re.compile(f"(?:^|/)(?:{body})", flags)
    return re.compile("|".join(f"(?:{p})" for p in patterns), flags)


class KeyPatterns:
    """``found(key)``: does any of ``patterns`` match ``key``, case-insensitively (``re.search``
    semantics, as each pattern alone with ``re.I``)?

    >>> KeyPatterns([r"(^|/)id_rsa$", r"(^|/)[^/]*\\.pem$"]).found("home/ci/ID_RSA")
    True
    >>> KeyPatterns([r"(^|/)id_rsa$", r"secret"]).found("x/my-secret-notes")
    True
    """

    __slots__ = ("_folded", "_pattern", "patterns")

    def __init__(self, patterns: Sequence[str]) -> None:
        self.patterns = tuple(patterns)
        self._pattern = _combined(patterns, re.I)
        self._folded = _combined(patterns, 0) if all(map(case_free, patterns)) else None

    def __reduce__(self) -> tuple[type[KeyPatterns], tuple[tuple[str, ...]]]:
        # Pickled as the patterns (compiled or not, ``detector.native``, the same bytes).
        return (KeyPatterns, (self.patterns,))

    def found(self, key: str) -> bool:
        folded = self._folded
        if folded is not None and key.isascii():
            return folded.search(key.lower()) is not None
        return self._pattern.search(key) is not None
