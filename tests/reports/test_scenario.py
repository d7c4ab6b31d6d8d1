"""Reports on the hand-written RPT history (tests/support/report_scenario.py), numbers by hand.

Each expected value below is worked out from the scenario's script, not from the engine.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from jirabridge.sync.reports.board import BoardReport, board_report
from jirabridge.sync.reports.source import SprintDataLoader

from support.report_scenario import AS_OF


async def _report(loader: SprintDataLoader, board: int, zone: str = "UTC") -> BoardReport:
    data = await loader.load(board)
    return board_report(board, data.sprints, data.histories, as_of=AS_OF, zone=ZoneInfo(zone))


def _keys(lines: list) -> list[str]:  # type: ignore[type-arg]
    return sorted(line.key for line in lines)


async def test_sprint_a_lists_and_points(loader: SprintDataLoader, rpt_board: int) -> None:
    report = await _report(loader, rpt_board)
    assert [r.sprint.name for r in report.sprints] == ["RPT Sprint A", "RPT Sprint B"]
    a = report.sprints[0]
    assert _keys(a.committed) == ["RPT-1", "RPT-2", "RPT-3", "RPT-5", "RPT-6"]
    assert a.committed_points == 21  # 3 + 5 + 2 + 8 + 3
    assert _keys(a.added) == ["RPT-4", "RPT-7"]
    assert a.added_points == 3  # RPT-4 at 1, RPT-7 at 2 when it joined
    assert _keys(a.removed) == ["RPT-3", "RPT-6"]
    assert a.removed_points == 5  # 2 + 3
    assert a.estimate_change_points == 6  # RPT-2 5->8, RPT-7 2->5, both while in the sprint
    assert _keys(a.completed) == ["RPT-1", "RPT-2", "RPT-7"]
    assert a.completed_points == 16  # 3 + 8 + 5 (points at the end)
    assert _keys(a.not_completed) == ["RPT-4", "RPT-5"]  # RPT-4 was re-opened
    assert a.not_completed_points == 9
    assert a.committed_points + a.added_points - a.removed_points + a.estimate_change_points == (
        a.final_scope_points
    )
    # RPT-4 went on to sprint B after A closed; RPT-5 back to the backlog.
    sprint_b = report.sprints[1].sprint.id
    assert {(c.key, c.to_sprint) for c in a.carried_over} == {("RPT-4", sprint_b), ("RPT-5", None)}


async def test_sprint_b_moved_between_sprints(loader: SprintDataLoader, rpt_board: int) -> None:
    b = (await _report(loader, rpt_board)).sprints[1]
    assert _keys(b.committed) == ["RPT-6", "RPT-8", "RPT-9"]  # RPT-6 came from A before B began
    assert b.committed_points == 9
    assert _keys(b.added) == ["RPT-4"]
    assert b.added_points == 1
    assert _keys(b.removed) == ["RPT-8"]  # moved on to sprint C
    assert b.removed_points == 5
    assert b.estimate_change_points == 0
    assert _keys(b.completed) == ["RPT-4", "RPT-6", "RPT-9"]
    assert b.completed_points == 5
    assert b.not_completed == []
    assert b.carried_over == []
    # Closed an hour after its planned end: measured at completion.
    assert b.measured_at == datetime(2026, 11, 16, 10, 0, tzinfo=UTC)


async def test_burndown_by_utc_day(loader: SprintDataLoader, rpt_board: int) -> None:
    a = (await _report(loader, rpt_board)).sprints[0]
    got = [(p.label, p.scope_points, p.completed_points, p.remaining_points) for p in a.burndown]
    assert got == [
        ("start", 21, 0, 21),
        ("2026-11-02", 21, 0, 21),
        ("2026-11-03", 22, 0, 22),  # RPT-4 added
        ("2026-11-04", 20, 3, 17),  # RPT-1 done, RPT-3 removed
        ("2026-11-05", 20, 3, 17),  # RPT-6 removed (-3), RPT-2 re-estimated (+3)
        ("2026-11-06", 25, 11, 14),  # RPT-2 done at 8; RPT-7 joined and became 5
        ("2026-11-07", 25, 12, 13),  # RPT-4 done
        ("2026-11-08", 25, 16, 9),  # RPT-4 re-opened (-1), RPT-7 done (+5)
        ("2026-11-09", 25, 16, 9),  # until the close at 09:00
    ]
    last = a.burndown[-1]
    assert (last.scope_issues, last.completed_issues, last.remaining_issues) == (5, 3, 2)
    assert a.burndown[0].ideal_points == 21
    assert last.ideal_points == 0


async def test_burndown_days_follow_the_time_zone(loader: SprintDataLoader, rpt_board: int) -> None:
    # Auckland is UTC+13 in November: each local day ends at 10:59:59 UTC.
    a = (await _report(loader, rpt_board, zone="Pacific/Auckland")).sprints[0]
    got = [(p.label, p.scope_points, p.completed_points, p.remaining_points) for p in a.burndown]
    assert got == [
        ("start", 21, 0, 21),
        ("2026-11-02", 21, 0, 21),
        ("2026-11-03", 21, 0, 21),  # RPT-4 joins at 12:00 UTC, the next Auckland day
        ("2026-11-04", 22, 3, 19),
        ("2026-11-05", 17, 3, 14),
        ("2026-11-06", 20, 3, 17),
        ("2026-11-07", 25, 12, 13),
        ("2026-11-08", 25, 11, 14),
        ("2026-11-09", 25, 16, 9),
    ]
    # Totals do not depend on the zone.
    assert (a.committed_points, a.completed_points) == (21, 16)


async def test_velocity(loader: SprintDataLoader, rpt_board: int) -> None:
    v = (await _report(loader, rpt_board)).velocity
    assert [(e.committed_points, e.completed_points) for e in v.entries] == [(21, 16), (9, 5)]
    assert v.average_committed == 15
    assert v.average_completed == 10.5
    assert v.trend == -11
    assert v.completion_ratio == 0.7  # 21 / 30


async def test_cycle_time(loader: SprintDataLoader, rpt_board: int) -> None:
    c = (await _report(loader, rpt_board)).cycle_time
    days = {i.key: round(i.days, 4) for i in c.items}
    assert days == {
        "RPT-1": 1.0,
        "RPT-2": 1.125,  # 27 hours
        "RPT-7": 1.0,
        "RPT-4": 6.9583,  # first in progress 11-03 13:00 -> final done 11-10 12:00
        "RPT-6": 2.0,
    }
    assert c.skipped == ["RPT-9"]  # straight from To Do to Done
    assert c.p50 == 1.125
    assert c.p85 == pytest.approx(6 + 23 / 24)
    assert c.p95 == pytest.approx(6 + 23 / 24)
    assert c.mean == 2.4167
    assert c.histogram == {1: 3, 2: 1, 6: 1}


async def test_last_and_sprint_selection(loader: SprintDataLoader, rpt_board: int) -> None:
    data = await loader.load(rpt_board, last=1)
    assert [s.name for s in data.sprints] == ["RPT Sprint B"]
    sprint_a = (await loader.board_sprints(rpt_board))[0]
    data = await loader.load(rpt_board, sprint_ids=[sprint_a.id])
    assert [s.name for s in data.sprints] == ["RPT Sprint A"]
