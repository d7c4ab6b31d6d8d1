"""Shared by the report tests: the demo's hand-written history at its scripted dates."""

from __future__ import annotations

from datetime import UTC, datetime

from jirabridge.cli.demo_reports import DONE, add_report_history

__all__ = ["AS_OF", "DONE", "build", "ms"]

#: "Now" for every report test: after both RPT sprints closed.
AS_OF = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def ms(text: str) -> int:
    """'11-03 10:00' (November 2026, UTC) -> epoch milliseconds."""
    when = datetime.strptime(f"2026-{text}", "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)


build = add_report_history
