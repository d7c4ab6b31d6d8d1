"""Jira's wire formats: its date-time form, durations, and plain text <-> ADF for v2/v3 bodies."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

__all__ = [
    "JIRA_DATETIME_RE",
    "adf_from_text",
    "format_duration",
    "jira_datetime",
    "parse_duration",
    "parse_jira_datetime",
    "text_from_adf",
]

# Jira writes and reads ``yyyy-MM-dd'T'HH:mm:ss.SSSZ``: milliseconds, offset without a colon.
JIRA_DATETIME_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.(\d{3})([+-])(\d{2})(\d{2})$"
)
_DURATION_RE = re.compile(r"^\s*(?:(\d+)w)?\s*(?:(\d+)d)?\s*(?:(\d+)h)?\s*(?:(\d+)m)?\s*$")
# Jira's defaults: 8 h working day, 5-day working week.
_UNIT_SECONDS = {"w": 5 * 8 * 3600, "d": 8 * 3600, "h": 3600, "m": 60}


def jira_datetime(ms: int) -> str:
    """Epoch milliseconds as Jira writes them: ``2026-11-20T09:00:00.000+0000`` (site in UTC)."""
    dt = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}+0000"


def parse_jira_datetime(text: str) -> int:
    """Parse Jira's form into epoch milliseconds; ``ValueError`` for anything else (``Z`` too)."""
    m = JIRA_DATETIME_RE.match(text)
    if m is None:
        raise ValueError(text)
    year, month, day, hour, minute, second, milli, sign, oh, om = m.groups()
    offset = timedelta(hours=int(oh), minutes=int(om))
    tz = timezone(offset if sign == "+" else -offset)
    dt = datetime(
        int(year), int(month), int(day), int(hour), int(minute), int(second), int(milli) * 1000, tz
    )
    return int(dt.timestamp() * 1000)


def parse_duration(text: str) -> int:
    """``"1h 30m"`` -> seconds, with Jira's default working day and week; ``ValueError`` else."""
    m = _DURATION_RE.match(text)
    if m is None or not any(m.groups()):
        raise ValueError(text)
    total = 0
    for value, unit in zip(m.groups(), "wdhm", strict=True):
        if value:
            total += int(value) * _UNIT_SECONDS[unit]
    return total


def format_duration(seconds: int) -> str:
    """Seconds -> Jira's short form (``"1d 2h 30m"``), rounding down to whole minutes."""
    parts: list[str] = []
    rest = seconds
    for unit in "wdhm":
        size = _UNIT_SECONDS[unit]
        if rest >= size:
            parts.append(f"{rest // size}{unit}")
            rest %= size
    return " ".join(parts) if parts else "0m"


def adf_from_text(text: str) -> dict[str, Any]:
    """Plain text -> an ADF document, one paragraph per line (how v3 renders a v2 string)."""
    content: list[dict[str, Any]] = []
    for line in text.split("\n"):
        para: dict[str, Any] = {"type": "paragraph", "content": []}
        if line:
            para["content"] = [{"type": "text", "text": line}]
        content.append(para)
    return {"type": "doc", "version": 1, "content": content}


def text_from_adf(doc: Any) -> str:
    """An ADF document -> plain text (how v2 renders a v3 body); unknown nodes keep their text."""
    if doc is None:
        return ""
    if isinstance(doc, str):
        return doc
    blocks: list[str] = []

    def inline(node: Any) -> str:
        if not isinstance(node, dict):
            return ""
        if node.get("type") == "text":
            return str(node.get("text", ""))
        if node.get("type") == "hardBreak":
            return "\n"
        return "".join(inline(child) for child in node.get("content", []) or [])

    if isinstance(doc, dict):
        for block in doc.get("content", []) or []:
            blocks.append(inline(block))
    return "\n".join(blocks)
