"""Jira's datetime wire format.

Jira writes and (for worklog ``started``) only accepts ``yyyy-MM-dd'T'HH:mm:ss.SSSZ``: milliseconds
and an offset without a colon, e.g. ``2026-11-20T09:00:00.000+0000``. It reads back in the same
form, but other Atlassian products, webhooks and Data Center versions also produce ``Z``, offsets
with a colon and missing fractions, so the parser accepts all of them.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from jirabridge.errors import ValidationError

__all__ = ["format_jira_datetime", "from_epoch_ms", "parse_jira_datetime", "to_epoch_ms"]

_JIRA_DATETIME = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[T ](?P<time>\d{2}:\d{2}(?::\d{2})?)"
    r"(?:[.,](?P<frac>\d{1,9}))?"
    r"(?P<tz>Z|[+-]\d{2}(?::?\d{2})?)$"
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def format_jira_datetime(value: datetime) -> str:
    """Return ``value`` as Jira's ``2026-11-20T09:00:00.000+0000`` form.

    A naive datetime is refused: guessing its zone is how worklogs end up hours off.
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError("Jira datetimes must be timezone-aware; got a naive datetime")
    millis = value.microsecond // 1000
    return value.strftime("%Y-%m-%dT%H:%M:%S") + f".{millis:03d}" + value.strftime("%z")


def parse_jira_datetime(text: str) -> datetime:
    """Parse a Jira datetime (``.SSS`` optional; ``Z``, ``+hhmm``, ``+hh:mm`` or ``+hh``)."""
    match = _JIRA_DATETIME.match(text.strip())
    if match is None:
        raise ValidationError(f"not a Jira datetime: {text!r}")
    time_part = match["time"]
    if time_part.count(":") == 1:
        time_part += ":00"
    frac = (match["frac"] or "0")[:6].ljust(6, "0")
    tz_text = match["tz"]
    if tz_text == "Z":
        tz: timezone = UTC
    else:
        sign = -1 if tz_text[0] == "-" else 1
        digits = tz_text[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:4] or "0")
        tz = timezone(sign * timedelta(hours=hours, minutes=minutes))
    try:
        naive = datetime.fromisoformat(f"{match['date']}T{time_part}.{frac}")
    except ValueError as exc:
        raise ValidationError(f"not a Jira datetime: {text!r}") from exc
    return naive.replace(tzinfo=tz)


def to_epoch_ms(value: datetime) -> int:
    """Milliseconds since the epoch, as Jira's ``startedAfter``/``since`` parameters expect."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError("Jira datetimes must be timezone-aware; got a naive datetime")
    # Integer arithmetic: float timestamps can land one millisecond off.
    return (value - _EPOCH) // timedelta(milliseconds=1)


def from_epoch_ms(value: int) -> datetime:
    """The UTC datetime for a Jira epoch-milliseconds value."""
    return datetime.fromtimestamp(value / 1000, tz=UTC)
