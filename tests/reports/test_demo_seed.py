"""The demo seeds its report board: the demo's sprints, placed before today, report real numbers.

Runs the demo's seeding function on a fresh simulator (as ``jirabridge demo`` does) without
starting the demo itself.
"""

from __future__ import annotations

from datetime import UTC, datetime

from jirabridge.cli.demo_reports import demo_sprint_start, seed_demo_reports
from jirabridge.sim.app import SimConfig, SimRuntime, create_sim_app
from jirabridge.sync.reports.board import board_report
from jirabridge.sync.reports.source import MemoryReportCache, SprintDataLoader

from support.report_scenario import sim_jira


async def test_demo_board_reports_the_hand_computed_numbers() -> None:
    now = datetime.now(UTC)
    app = create_sim_app(SimConfig(base_url="http://sim.test"))
    runtime: SimRuntime = app.state.sim
    board = seed_demo_reports(runtime.site, now=now)
    # Seeding again (a restarted demo with the simulator's saved state) adds nothing.
    projects = len(runtime.site.projects)
    assert seed_demo_reports(runtime.site, now=now) == board
    assert len(runtime.site.projects) == projects

    async with sim_jira(app) as client:
        loader = SprintDataLoader(client, MemoryReportCache(), site="demo", clock=lambda: now)
        data = await loader.load(board)
    report = board_report(board, data.sprints, data.histories, as_of=now, zone=UTC)

    assert [s.sprint.name for s in report.sprints] == ["RPT Sprint A", "RPT Sprint B"]
    assert report.sprints[0].sprint.start == demo_sprint_start(now)
    # The same numbers as tests/reports/test_scenario.py, shifted to the demo's dates.
    a, b = report.sprints
    assert (a.committed_points, a.completed_points) == (21, 16)
    assert (b.committed_points, b.completed_points) == (9, 5)
    assert report.velocity.completion_ratio == 0.7
    assert [p.remaining_points for p in a.burndown] == [21, 21, 22, 17, 17, 14, 13, 9, 9]
