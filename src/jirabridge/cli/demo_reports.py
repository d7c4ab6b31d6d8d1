"""The demo's report board: a hand-written sprint history, built inside the simulator.

Project RPT, board "RPT board", two closed sprints (A, B) and a future one (C). The script
below is written as if sprint A started on 2026-11-02 at 09:00 UTC; :func:`add_report_history`
shifts every instant by the same amount, so the demo can place it just before today and the
tests at that exact date. The expected numbers in tests/reports/test_scenario.py are worked
out by hand from this script; docs/reports.md walks through sprint A.

Sprint A: 11-02 09:00 -> 11-09 09:00, closed on time.
Sprint B: 11-09 09:00 -> 11-16 09:00, closed an hour late (10:00).

    RPT-1  3 pts  committed to A; in progress 11-03 10:00; done 11-04 10:00
    RPT-2  5 pts  committed to A; in progress 11-05 09:00; re-estimated to 8 at 11-05 12:00;
                  done 11-06 12:00
    RPT-3  2 pts  committed to A; back to the backlog 11-04 15:00
    RPT-4  1 pt   added to A 11-03 12:00; in progress 11-03 13:00; done 11-07 09:00; re-opened
                  (in progress) 11-08 10:00; moved to B 11-09 09:30 (after A closed);
                  done 11-10 12:00
    RPT-5  8 pts  committed to A; never started; stays in the backlog after A
    RPT-6  3 pts  committed to A; moved to future sprint B 11-05 10:00; in progress
                  11-10 09:00; done 11-12 09:00
    RPT-7  2 pts  created 11-06 10:00; added to A 11-06 11:00; re-estimated to 5 at 11-06 12:00;
                  in progress 11-07 15:00; done 11-08 15:00
    RPT-8  5 pts  put in B 11-08 12:00; moved to future sprint C 11-11 09:00
    RPT-9  1 pt   put in B 11-08 12:00; done 11-13 09:00 straight from To Do
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from jirabridge.sim import issues as ops
from jirabridge.sim.agile import create_sprint, move_to_sprint, set_sprint_state
from jirabridge.sim.model import Board, Issue, Project
from jirabridge.sim.state import SimSite

__all__ = ["SCRIPT_START", "add_report_history", "demo_sprint_start", "seed_demo_reports"]

TODO, IN_PROGRESS, DONE = "10000", "10001", "10002"

#: Sprint A's start as the script below is written.
SCRIPT_START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def demo_sprint_start(now: datetime) -> datetime:
    """Where the demo puts sprint A: 19 days ago at 09:00 UTC, so A and B are both closed."""
    day = (now.astimezone(UTC) - timedelta(days=19)).date()
    return datetime(day.year, day.month, day.day, 9, 0, tzinfo=UTC)


def seed_demo_reports(site: SimSite, *, now: datetime) -> int:
    """The demo's report board, added once: a restarted demo keeps the history it has.

    The simulator's state persists between demo runs; adding the history again would make a
    second RPT project. Sprint dates stay where the first run put them (delete the demo's data
    folder to move them to the current date).
    """
    project = next((p for p in site.projects.values() if p.key == "RPT"), None)
    if project is not None:
        board = next((b for b in site.boards.values() if b.project_id == project.id), None)
        if board is not None:
            return board.id
    return add_report_history(site, sprint_start=demo_sprint_start(now))


def add_report_history(site: SimSite, *, sprint_start: datetime = SCRIPT_START) -> int:
    """Add the RPT project and its history to a seeded site; returns the board id."""
    shift = sprint_start - SCRIPT_START

    def ms(text: str) -> int:
        # "11-03 10:00" as written in the script, moved by the shift.
        when = datetime.strptime(f"2026-{text}", "%Y-%m-%d %H:%M").replace(tzinfo=UTC) + shift
        return int(when.timestamp() * 1000)

    lead = next(iter(site.projects.values())).lead
    project = Project(id=site.next_id("project"), key="RPT", name="Reports", lead=lead)
    site.projects[project.id] = project
    board = Board(id=site.next_id("board", 1), name="RPT board", project_id=project.id)
    site.boards[board.id] = board

    def issue(summary: str, points: int, created: str = "10-30 09:00") -> Issue:
        body = {
            "fields": {
                "project": {"key": "RPT"},
                "issuetype": {"name": "Story"},
                "summary": summary,
                "customfield_10016": points,
            }
        }
        return ops.create_issue(site, body, "2", lead, created_ms=ms(created), emit=False)

    def status(i: Issue, to: str, at: str) -> None:
        ops.set_status(site, i, to, lead, at_ms=ms(at))

    def points(i: Issue, value: int, at: str) -> None:
        ops.edit_issue(site, i, {"fields": {"customfield_10016": value}}, "2", lead, at_ms=ms(at))

    site.muted = True
    try:
        r1, r2, r3, r4, r5, r6 = (
            issue(f"Story {n}", p) for n, p in enumerate((3, 5, 2, 1, 8, 3), start=1)
        )
        a = create_sprint(
            site,
            "RPT Sprint A",
            board.id,
            start_ms=ms("11-02 09:00"),
            end_ms=ms("11-09 09:00"),
            created_ms=ms("10-30 10:00"),
        )
        b = create_sprint(
            site,
            "RPT Sprint B",
            board.id,
            start_ms=ms("11-09 09:00"),
            end_ms=ms("11-16 09:00"),
            created_ms=ms("10-30 10:00"),
        )
        c = create_sprint(
            site,
            "RPT Sprint C",
            board.id,
            start_ms=ms("11-16 09:00"),
            end_ms=ms("11-23 09:00"),
            created_ms=ms("10-30 10:00"),
        )
        move_to_sprint(site, a, [r1, r2, r3, r5, r6], lead, at_ms=ms("11-02 08:00"))
        set_sprint_state(site, a, "active", at_ms=ms("11-02 09:00"))
        move_to_sprint(site, a, [r4], lead, at_ms=ms("11-03 12:00"))
        status(r1, IN_PROGRESS, "11-03 10:00")
        status(r4, IN_PROGRESS, "11-03 13:00")
        status(r1, DONE, "11-04 10:00")
        move_to_sprint(site, None, [r3], lead, at_ms=ms("11-04 15:00"))
        status(r2, IN_PROGRESS, "11-05 09:00")
        move_to_sprint(site, b, [r6], lead, at_ms=ms("11-05 10:00"))
        points(r2, 8, "11-05 12:00")
        r7 = issue("Story 7", 2, created="11-06 10:00")
        move_to_sprint(site, a, [r7], lead, at_ms=ms("11-06 11:00"))
        points(r7, 5, "11-06 12:00")
        status(r2, DONE, "11-06 12:00")
        status(r4, DONE, "11-07 09:00")
        status(r7, IN_PROGRESS, "11-07 15:00")
        status(r4, IN_PROGRESS, "11-08 10:00")
        status(r7, DONE, "11-08 15:00")
        r8, r9 = issue("Story 8", 5), issue("Story 9", 1)
        move_to_sprint(site, b, [r8, r9], lead, at_ms=ms("11-08 12:00"))
        set_sprint_state(site, a, "closed", at_ms=ms("11-09 09:00"))
        set_sprint_state(site, b, "active", at_ms=ms("11-09 09:00"))
        move_to_sprint(site, b, [r4], lead, at_ms=ms("11-09 09:30"))
        status(r6, IN_PROGRESS, "11-10 09:00")
        status(r4, DONE, "11-10 12:00")
        move_to_sprint(site, c, [r8], lead, at_ms=ms("11-11 09:00"))
        status(r6, DONE, "11-12 09:00")
        status(r9, DONE, "11-13 09:00")
        set_sprint_state(site, b, "closed", at_ms=ms("11-16 10:00"))
    finally:
        site.muted = False
    return board.id
