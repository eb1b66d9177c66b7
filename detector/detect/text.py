"""Untrusted strings made safe to show: control characters escaped, length capped.

User agents, object keys, bucket names in failed calls and session names come from whoever made
the call. Findings show them, so they must not carry terminal escapes, forged line breaks or
megabytes of padding.
"""

from __future__ import annotations

import re

# C0/C1 controls, line and paragraph separators, bidi overrides and isolates (Trojan Source),
# and lone surrogates, which no JSON encoder can write.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _escape(m: re.Match[str]) -> str:
    c = ord(m.group())
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def clean(value: str, limit: int = 256) -> str:
    """Escape control / bidi characters and cut to ``limit`` characters.

    >>> clean("curl/8\\x1b[31m\\nFAKE")
    'curl/8\\\\x1b[31m\\\\x0aFAKE'
    >>> clean("a" * 10, 4)
    'aaaa…(+6)'
    """
    out = _CONTROL.sub(_escape, value)
    if len(out) > limit:
        out = f"{out[:limit]}…(+{len(out) - limit})"
    return out
