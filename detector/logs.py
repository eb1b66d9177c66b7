"""JSON-lines logging on stderr.

Use the standard library: ``log = logging.getLogger(__name__)`` and pass structured fields with
``extra={"file": name, "reason": reason}``; every non-standard attribute of the record becomes a
JSON field. Strings of untrusted origin (keys, user agents, file names) are escaped by JSON
encoding plus ``_RAW`` and trimmed here, so a crafted user agent cannot forge log lines or
reach a terminal as escape sequences, and no value can make a line unencodable.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from typing import Any

import orjson

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
MAX_FIELD = 512
MAX_DEPTH = 4
MAX_LINE = 16 * 1024  # far below CloudWatch Logs' 256 KB event limit, which would split a line
# JSON escapes C0 controls but leaves these raw: DEL and C1 controls (a raw U+009B is CSI to some
# terminals), line / paragraph separators, bidi overrides and isolates. A lone surrogate (a file
# name that is not UTF-8) cannot be encoded at all and would cost the whole line.
_RAW = re.compile(r"[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _escape(m: re.Match[str]) -> str:
    c = ord(m.group())
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def _clean(value: Any, depth: int = 0) -> Any:
    """A JSON-encodable, bounded copy of a log field: strings trimmed to ``MAX_FIELD`` and
    escaped, containers cut to 50 items and ``MAX_DEPTH`` levels, integers kept in 64 bits.

    >>> _clean("ok\\u202egnp.exe\\x9b" + "x" * 600)[:24]
    'ok\\\\u202egnp.exe\\\\x9bxxxxx'
    """
    if isinstance(value, str):
        if len(value) > MAX_FIELD:
            value = value[:MAX_FIELD] + f"...(+{len(value) - MAX_FIELD} chars)"
        return _RAW.sub(_escape, value)
    if isinstance(value, bool | float) or value is None:
        return value
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**64 else "<integer out of range>"
    if depth >= MAX_DEPTH:
        return "<nested too deep>"
    if isinstance(value, list | tuple):
        return [_clean(v, depth + 1) for v in value[:50]]
    if isinstance(value, dict):
        return {_clean(str(k)): _clean(v, depth + 1) for k, v in list(value.items())[:50]}
    try:
        text = str(value)
    except Exception:  # a field must never cost the whole line
        text = f"<unprintable {type(value).__name__}>"
    return _clean(text)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": _clean(record.getMessage()),
        }
        extra = [k for k in record.__dict__ if k not in _STANDARD and not k.startswith("_")]
        for key in extra:
            doc[key] = _clean(record.__dict__[key])
        if record.exc_info:
            doc["exception"] = _clean(self.formatException(record.exc_info))
        line = orjson.dumps(doc)
        if len(line) > MAX_LINE:
            # Containers are cut per level, not in total: fold the big ones into trimmed text.
            for key in extra:
                if isinstance(doc[key], list | dict):
                    doc[key] = _clean(orjson.dumps(doc[key]).decode())
            line = orjson.dumps(doc)
        return line.decode()


def setup_logging(level: str = "INFO") -> None:
    """Send JSON lines to stderr at ``level``; idempotent."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_s3ad", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler._s3ad = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
    for noisy in ("botocore", "boto3", "urllib3", "s3transfer", "werkzeug"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
