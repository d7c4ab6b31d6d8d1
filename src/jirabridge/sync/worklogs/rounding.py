"""Durations and start times of time records, as they go to Jira.

Rounding happens once, when a record is saved, and the rounded value is what is stored and
synced: rounding again at sync time would let the same record land with different durations.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jirabridge.errors import ValidationError

__all__ = ["Rounding", "local_started", "zone"]


@dataclass(frozen=True, slots=True)
class Rounding:
    """How durations are rounded: to the nearest ``step_seconds``, never under ``minimum``.

    Jira refuses worklogs under a minute, hence the default minimum of 60 s. A duration of
    zero (or less) stays zero: an empty record is refused at sync, not made a minute long.
    """

    step_seconds: int = 60
    minimum_seconds: int = 60

    def __post_init__(self) -> None:
        if self.step_seconds < 1:
            raise ValidationError("rounding step must be at least 1 second")
        if self.minimum_seconds < 60:
            raise ValidationError("rounding minimum must be at least 60 seconds (Jira's floor)")

    def apply(self, seconds: float) -> int:
        """``seconds`` rounded to the nearest step (halves up), at least the minimum."""
        if seconds <= 0:
            return 0
        steps = int((seconds + self.step_seconds / 2) // self.step_seconds)
        return max(steps * self.step_seconds, self.minimum_seconds)


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; a clear error for an unknown one."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"unknown time zone {name!r} (use an IANA name)") from None


def local_started(started_at: datetime, time_zone: str) -> datetime:
    """The start instant in the record's own zone, whole seconds (what Jira is sent).

    The instant never changes; only the offset Jira shows does, so a worklog lands on the day
    the person worked it, DST included.
    """
    if started_at.tzinfo is None or started_at.utcoffset() is None:
        raise ValidationError("started_at must be timezone-aware")
    return started_at.astimezone(zone(time_zone)).replace(microsecond=0)
