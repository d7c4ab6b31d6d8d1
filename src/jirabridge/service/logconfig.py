"""Logging set-up: plain or JSON lines, and a redaction filter on every handler.

The filter rewrites each record after formatting arguments are merged, so a token reaches no
handler whether it came in the message, its arguments, an ``extra`` field or a traceback.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

__all__ = ["REDACTED", "JsonFormatter", "RedactingFilter", "configure_logging", "redact"]

REDACTED = "[REDACTED]"

# Names whose values are secret wherever they appear: headers, query parameters, JSON keys,
# form fields, keyword arguments in ``extra``.
_SENSITIVE_NAMES = (
    r"authorization|proxy-authorization|cookie|set-cookie|x-hub-signature(?:-256)?|"
    r"password|passwd|secret|client_secret|token|access_token|refresh_token|id_token|api_token|"
    r"api[_-]?key|private[_-]?key|session_?id|jb_session|csrf[_-]?token|encryption_keys?"
)
_SENSITIVE_NAME_RE = re.compile(rf"^(?:{_SENSITIVE_NAMES})$", re.IGNORECASE)

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Header lines and "name: value" / "name=value" pairs (query strings, forms, reprs).
    (
        re.compile(
            rf"(?P<name>\b(?:{_SENSITIVE_NAMES})\b)(?P<sep>['\"]?\s*[:=]\s*['\"]?)"
            r"(?P<value>(?:Basic|Bearer|JWT|token)\s+[^\s'\",&;}]+|[^\s'\",&;}]+)",
            re.IGNORECASE,
        ),
        rf"\g<name>\g<sep>{REDACTED}",
    ),
    # OAuth authorization codes and state in callback query strings.
    (re.compile(r"(?P<name>[?&](?:code|state)=)[^&\s'\"]+"), rf"\g<name>{REDACTED}"),
    # Bare credentials in free text.
    (re.compile(r"\b(Basic|Bearer|JWT)\s+[A-Za-z0-9._~+/=-]{8,}"), rf"\1 {REDACTED}"),
    # JSON Web Tokens.
    (
        re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}"),
        REDACTED,
    ),
    # Atlassian API tokens, GitHub tokens, Fernet tokens.
    (re.compile(r"\bATATT[A-Za-z0-9_=-]{20,}"), REDACTED),
    (re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})"), REDACTED),
    (re.compile(r"\bgAAAAA[A-Za-z0-9_=-]{20,}"), REDACTED),
    # user:password@host in URLs.
    (re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@"), rf"\g<scheme>{REDACTED}@"),
)


def redact(text: str) -> str:
    """Return ``text`` with every secret we recognise replaced by ``[REDACTED]``."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _redact_value(name: str, value: Any) -> Any:
    if _SENSITIVE_NAME_RE.match(name):
        return REDACTED
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {k: _redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_redact_value("", v) for v in value)
    return value


_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}


class RedactingFilter(logging.Filter):
    """Scrubs secrets from a record's message, arguments, extras and exception text."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a bad format string must not hide the record
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info:
            # Render the traceback now so the redacted text is what handlers print.
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for key, value in list(vars(record).items()):
            if key not in _STANDARD_ATTRS:
                setattr(record, key, _redact_value(key, value))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, extras, exception."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS:
                data[key] = value
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            data["exception"] = record.exc_text
        return json.dumps(data, default=str)


class _CurrentStderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at emit time, not the stream seen at set-up.

    A command run inside a test runner (or any code that swaps stderr) would otherwise keep a
    handler pointing at a closed stream and print "Logging error" into later output.
    """

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def configure_logging(level: str = "INFO", *, json_lines: bool = False) -> logging.Handler:
    """Send the root logger to stderr through the redaction filter; return the handler.

    Idempotent: a handler installed by an earlier call is replaced, not doubled.
    """
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, "_jirabridge", False):
            root.removeHandler(existing)
    handler = _CurrentStderrHandler()
    handler._jirabridge = True  # type: ignore[attr-defined]
    handler.addFilter(RedactingFilter())
    handler.setFormatter(
        JsonFormatter()
        if json_lines
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root.addHandler(handler)
    root.setLevel(level)
    # One line per outbound request is noise at INFO; our own client logs retries and failures.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # uvicorn installs its own handlers; route them through ours so they are redacted too.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        lg = logging.getLogger(name)
        lg.handlers = []
        lg.propagate = True
    return handler
