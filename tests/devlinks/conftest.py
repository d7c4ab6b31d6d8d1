"""Fixtures for the GitHub-and-Jira tests: a small seeded simulator and a JiraClient on it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from jirabridge.jira import JiraClient
from jirabridge.sim.app import SimConfig, SimRuntime, create_sim_app
from jirabridge.sim.seed import SeedSpec
from jirabridge.store.db import session_factory
from jirabridge.store.ledger import WriteLedger

FROZEN_AT = datetime(2026, 11, 20, 12, 0, tzinfo=UTC).timestamp()


@pytest.fixture
def sim_app() -> Starlette:
    return create_sim_app(
        SimConfig(
            frozen_at=FROZEN_AT,
            base_url="http://sim.test",
            seed_spec=SeedSpec(projects=1, issues_per_project=4, users=3),
        )
    )


@pytest.fixture
async def jira(sim_app: Starlette) -> AsyncIterator[JiraClient]:
    runtime: SimRuntime = sim_app.state.sim
    client = JiraClient.cloud(
        "http://sim.test",
        email=runtime.admin_email,
        api_token=runtime.admin_token,
        transport=httpx.ASGITransport(app=sim_app),
    )
    async with client:
        yield client


@pytest.fixture
def ledger(engine: AsyncEngine) -> WriteLedger:
    return WriteLedger(session_factory(engine))


async def make_owner(engine: AsyncEngine, kind: str, name: str) -> str:
    """Insert a user or a team called ``name``; its owner key (``user:<id>`` / ``team:<id>``)."""
    from jirabridge.store.account_models import TeamRow, UserRow

    async with session_factory(engine)() as session:
        row: UserRow | TeamRow
        if kind == "user":
            row = UserRow(email=f"{name}@example.com", display_name=name, role="member")
        else:
            row = TeamRow(name=name)
        session.add(row)
        await session.commit()
        return f"{kind}:{row.id}"
