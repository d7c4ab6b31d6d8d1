"""Fixtures: a simulator holding the hand-written RPT history, and a Jira client on it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from starlette.applications import Starlette

from jirabridge.jira import JiraClient
from jirabridge.sim.app import SimConfig, SimRuntime, create_sim_app
from jirabridge.sim.seed import SeedSpec
from jirabridge.sync.reports.source import MemoryReportCache, SprintDataLoader

from support.report_scenario import AS_OF, build, sim_jira


@pytest.fixture
def sim_app() -> Starlette:
    app = create_sim_app(
        SimConfig(
            frozen_at=AS_OF.timestamp(),
            base_url="http://sim.test",
            seed_spec=SeedSpec(projects=1, issues_per_project=6, users=2, closed_sprints=1),
        )
    )
    runtime: SimRuntime = app.state.sim
    app.state.rpt_board = build(runtime.site)
    return app


@pytest.fixture
def rpt_board(sim_app: Starlette) -> int:
    return int(sim_app.state.rpt_board)


@pytest.fixture
async def jira(sim_app: Starlette) -> AsyncIterator[JiraClient]:
    async with sim_jira(sim_app) as client:
        yield client


@pytest.fixture
def loader(jira: JiraClient) -> SprintDataLoader:
    return SprintDataLoader(jira, MemoryReportCache(), site="sim", clock=lambda: AS_OF)
