"""Bulk runs are queued per Jira site: two connections to one site share one partition."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any, cast

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jirabridge.jobs.engine import JobEngine
from jirabridge.sync.worklogs import jobs as worklog_jobs
from jirabridge.sync.worklogs.executor import ActionOutcome, WorklogSync
from jirabridge.sync.worklogs.planner import ActionKind, PlannedAction, SyncPlan

from .conftest import add_connection

WAIT_SEC = 60  # turns a hang into a failure; measures nothing


class GatedSync:
    """Stands in for a connection's WorklogSync: each record waits for its gate to open."""

    def __init__(self, connection_id: str, world: GatedWorld) -> None:
        self.connection_id = connection_id
        self.world = world
        self.actor_user_id: str | None = None

    async def plan(self, record_ids: list[str]) -> SyncPlan:
        record_id = record_ids[0]
        self.world.started.append(record_id)
        self.world.arrived[record_id].set()
        await self.world.gates[record_id].wait()
        return SyncPlan((PlannedAction(record_id, ActionKind.CREATE, "test"),))

    async def apply_action(self, action: PlannedAction, *, run_id: str) -> ActionOutcome:
        return ActionOutcome(action.record_id, action.kind, ok=True, worklog_id="1")


class GatedWorld:
    def __init__(self, records: list[str]) -> None:
        self.started: list[str] = []
        self.gates = {r: asyncio.Event() for r in records}
        self.arrived = {r: asyncio.Event() for r in records}

    @asynccontextmanager
    async def provider(self, connection_id: str) -> AsyncIterator[WorklogSync]:
        yield cast(WorklogSync, GatedSync(connection_id, self))


@pytest.fixture
def restore_worklog_jobs() -> Iterator[None]:
    saved = (worklog_jobs._provider, worklog_jobs._sessions)
    yield
    worklog_jobs._provider, worklog_jobs._sessions = saved


@pytest.mark.usefixtures("restore_worklog_jobs")
async def test_runs_of_one_site_serialise_and_other_sites_do_not_wait(
    wl_sessions: async_sessionmaker[AsyncSession], owner_id: str, jobs: JobEngine
) -> None:
    # Two spellings of one site (as two users might type it) and a second site.
    acme_1 = await add_connection(wl_sessions, owner_id, "https://acme.atlassian.net")
    acme_2 = await add_connection(wl_sessions, owner_id, "HTTPS://ACME.atlassian.net:443/")
    other = await add_connection(wl_sessions, owner_id, "https://other.atlassian.net")
    world = GatedWorld(["a1", "a2", "b1"])
    worklog_jobs.configure(wl_sessions, world.provider)

    async def start(connection_id: str, record: str) -> Any:
        _, handle = await worklog_jobs.start_run(
            jobs, wl_sessions, connection_id=connection_id, record_ids=[record], owner_user_id=None
        )
        return handle

    first = await start(acme_1, "a1")
    async with asyncio.timeout(WAIT_SEC):
        await world.arrived["a1"].wait()
    second = await start(acme_2, "a2")
    third = await start(other, "b1")

    # The other site's run starts while acme's first run still holds acme's only slot...
    async with asyncio.timeout(WAIT_SEC):
        await world.arrived["b1"].wait()
    world.gates["b1"].set()
    async with asyncio.timeout(WAIT_SEC):
        assert (await third.result())["succeeded"] == 1
    # ...while acme's second run, through another connection, has waited in the same partition.
    assert "a2" not in world.started
    assert (await second.status()).state == "ENQUEUED"
    assert (await first.status()).site == (await second.status()).site == "acme.atlassian.net"
    assert (await third.status()).site == "other.atlassian.net"

    world.gates["a1"].set()
    world.gates["a2"].set()
    async with asyncio.timeout(WAIT_SEC):
        assert (await first.result())["succeeded"] == 1
        assert (await second.result())["succeeded"] == 1
    assert world.started == ["a1", "b1", "a2"]
