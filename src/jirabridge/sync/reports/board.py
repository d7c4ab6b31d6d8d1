"""One board report: the chosen sprints' reports, their velocity and their cycle times."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

from jirabridge.sync.reports.engine import (
    CycleTimeReport,
    SprintInfo,
    SprintReport,
    VelocityReport,
    cycle_time_report,
    sprint_report,
    velocity_report,
)
from jirabridge.sync.reports.history import IssueHistory

__all__ = ["BoardReport", "board_report"]


@dataclass(frozen=True)
class BoardReport:
    """Everything the report pages, the CLI and the API show for a board."""

    board_id: int
    as_of: datetime
    zone: str
    sprints: list[SprintReport]
    velocity: VelocityReport
    #: Cycle times of the issues completed in the chosen sprints.
    cycle_time: CycleTimeReport


def board_report(
    board_id: int,
    sprints: Sequence[SprintInfo],
    histories: Sequence[IssueHistory],
    *,
    as_of: datetime,
    zone: tzinfo,
) -> BoardReport:
    """Compute the board report; pure, like the engine it calls."""
    reports = [sprint_report(s, histories, as_of=as_of, zone=zone) for s in sprints]
    completed = {line.key for r in reports for line in r.completed}
    done = [h for h in histories if h.key in completed]
    return BoardReport(
        board_id=board_id,
        as_of=as_of,
        zone=str(zone),
        sprints=reports,
        velocity=velocity_report(reports),
        cycle_time=cycle_time_report(done, as_of=as_of),
    )
