"""A board report as JSON-ready data, CSV, or a plain-text table.

The JSON shape is the contract of the REST endpoint and ``--format json``; CSV has one row per
sprint (the velocity table) or one row per issue and list (``issues_csv``).
"""

from __future__ import annotations

import csv
import io
from typing import Any

from jirabridge.sync.reports.board import BoardReport
from jirabridge.sync.reports.engine import IssueLine, SprintReport

__all__ = ["issues_csv", "report_json", "sprint_json", "sprints_csv", "sprints_table"]

_LISTS = ("committed", "added", "removed", "completed", "not_completed")


def _num(value: float | None) -> float | int | None:
    # 3.0 reads as 3 in JSON and CSV; fractional points stay fractional.
    if value is None:
        return None
    return int(value) if float(value).is_integer() else round(value, 4)


def _lines(lines: list[IssueLine]) -> list[dict[str, Any]]:
    return [{"key": x.key, "summary": x.summary, "points": _num(x.points)} for x in lines]


def sprint_json(report: SprintReport) -> dict[str, Any]:
    """One sprint report as JSON-ready data."""
    s = report.sprint
    return {
        "id": s.id,
        "name": s.name,
        "state": s.state,
        "start": s.start.isoformat(),
        "end": s.end.isoformat(),
        "complete": s.complete.isoformat() if s.complete else None,
        "measured_at": report.measured_at.isoformat(),
        "points": {
            "committed": _num(report.committed_points),
            "added": _num(report.added_points),
            "removed": _num(report.removed_points),
            "estimate_change": _num(report.estimate_change_points),
            "completed": _num(report.completed_points),
            "not_completed": _num(report.not_completed_points),
        },
        "issues": {name: _lines(getattr(report, name)) for name in _LISTS},
        "carried_over": [
            {"key": c.key, "summary": c.summary, "points": _num(c.points), "to_sprint": c.to_sprint}
            for c in report.carried_over
        ],
        "burndown": [
            {
                "label": p.label,
                "day": p.day.isoformat(),
                "at": p.at.isoformat(),
                "scope_points": _num(p.scope_points),
                "completed_points": _num(p.completed_points),
                "remaining_points": _num(p.remaining_points),
                "ideal_points": _num(p.ideal_points),
                "scope_issues": p.scope_issues,
                "completed_issues": p.completed_issues,
                "remaining_issues": p.remaining_issues,
            }
            for p in report.burndown
        ],
    }


def report_json(report: BoardReport) -> dict[str, Any]:
    """The whole board report as JSON-ready data."""
    v, c = report.velocity, report.cycle_time
    return {
        "board_id": report.board_id,
        "as_of": report.as_of.isoformat(),
        "time_zone": report.zone,
        "sprints": [sprint_json(r) for r in report.sprints],
        "velocity": {
            "sprints": [
                {
                    "id": e.sprint_id,
                    "name": e.name,
                    "state": e.state,
                    "committed": _num(e.committed_points),
                    "completed": _num(e.completed_points),
                }
                for e in v.entries
            ],
            "average_committed": _num(v.average_committed),
            "average_completed": _num(v.average_completed),
            "trend": _num(v.trend),
            "completion_ratio": _num(v.completion_ratio),
        },
        "cycle_time": {
            "issues": [
                {
                    "key": i.key,
                    "started": i.started.isoformat(),
                    "finished": i.finished.isoformat(),
                    "days": _num(round(i.days, 4)),
                }
                for i in c.items
            ],
            "skipped": c.skipped,
            "p50": _num(c.p50),
            "p85": _num(c.p85),
            "p95": _num(c.p95),
            "mean": _num(c.mean),
            "histogram": {str(k): n for k, n in c.histogram.items()},
        },
    }


_SPRINT_COLUMNS = (
    "sprint_id",
    "sprint",
    "state",
    "start",
    "end",
    "committed",
    "added",
    "removed",
    "estimate_change",
    "completed",
    "not_completed",
    "carried_over",
)


def _sprint_row(r: SprintReport) -> list[Any]:
    return [
        r.sprint.id,
        r.sprint.name,
        r.sprint.state,
        r.sprint.start.isoformat(),
        r.sprint.end.isoformat(),
        _num(r.committed_points),
        _num(r.added_points),
        _num(r.removed_points),
        _num(r.estimate_change_points),
        _num(r.completed_points),
        _num(r.not_completed_points),
        len(r.carried_over),
    ]


def sprints_csv(report: BoardReport) -> str:
    """One row per sprint: the points of each measure (the velocity table)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(_SPRINT_COLUMNS)
    for r in report.sprints:
        writer.writerow(_sprint_row(r))
    return out.getvalue()


def issues_csv(report: BoardReport) -> str:
    """One row per sprint, list and issue (an issue may be in several lists)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("sprint_id", "sprint", "list", "key", "summary", "points"))
    for r in report.sprints:
        for name in _LISTS:
            for line in getattr(r, name):
                writer.writerow(
                    (r.sprint.id, r.sprint.name, name, line.key, line.summary, _num(line.points))
                )
    return out.getvalue()


def sprints_table(report: BoardReport) -> list[list[str]]:
    """Header and rows for a text table (the CLI's ``--format table``)."""
    head = [
        "Sprint",
        "State",
        "Committed",
        "Added",
        "Removed",
        "Re-est.",
        "Completed",
        "Not done",
        "Carried",
    ]
    rows = [head]
    for r in report.sprints:
        rows.append(
            [
                r.sprint.name,
                r.sprint.state,
                *(
                    str(_num(x))
                    for x in (
                        r.committed_points,
                        r.added_points,
                        r.removed_points,
                        r.estimate_change_points,
                        r.completed_points,
                        r.not_completed_points,
                    )
                ),
                str(len(r.carried_over)),
            ]
        )
    return rows
