"""Jira down for a while, then back: a queued run waits it out (durably) and finishes with each
worklog exactly once; an outage longer than the waits fails the record with the reason, it
does not hang the run. SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jirabridge.http import HttpClient
from jirabridge.http.clock import FakeClock
from jirabridge.jira import JiraClient
from jirabridge.jobs.engine import JobEngine
from jirabridge.store.db import read_transaction
from jirabridge.store.worklog_models import SyncAttemptRow, SyncState
from jirabridge.sync.worklogs import jobs as worklog_jobs
from jirabridge.sync.worklogs.executor import WorklogSync

from .conftest import add_connection, make_sim, open_issue_keys
from .test_worklogs_executor import DAY, SITE, rows, stamped

BASE = "http://sim.test"
WAIT_SEC = 60  # turns a hang into a failure; measures nothing


class Outage(httpx.AsyncBaseTransport):
    """Jira unreachable for the next ``refusals`` requests (connection refused), then back."""

    def __init__(self, app: Any, refusals: int) -> None:
        self._inner = httpx.ASGITransport(app=app)
        self.left = refusals
        self.refused = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.left != 0:
            self.left -= 1
            self.refused += 1
            raise httpx.ConnectError("connection refused", request=request)
        return await self._inner.handle_async_request(request)


def provider_over(
    sessions: async_sessionmaker[AsyncSession], app: Any, outage: Outage
) -> Callable[[str], Any]:
    @asynccontextmanager
    async def provider(connection_id: str) -> AsyncIterator[WorklogSync]:
        runtime = app.state.sim
        clock = FakeClock()  # the client's own retries cost no real time
        http = HttpClient(
            BASE,
            auth=httpx.BasicAuth(runtime.admin_email, runtime.admin_token),
            transport=outage,
            clock=clock,
        )
        jira = JiraClient(BASE, http=http, sleep=clock.sleep, api_version=3)
        try:
            yield WorklogSync(sessions, jira, site=SITE)
        finally:
            await jira.aclose()

    return provider


@pytest.fixture
def restore_worklog_jobs() -> Iterator[None]:
    saved = (worklog_jobs._provider, worklog_jobs._sessions, worklog_jobs._outage_waits)
    yield
    worklog_jobs._provider, worklog_jobs._sessions, worklog_jobs._outage_waits = saved


async def _run(
    jobs: JobEngine,
    sessions: async_sessionmaker[AsyncSession],
    owner_id: str,
    record_ids: list[str],
) -> dict[str, Any]:
    connection_id = await add_connection(sessions, owner_id, BASE)
    _, handle = await worklog_jobs.start_run(
        jobs, sessions, connection_id=connection_id, record_ids=record_ids, owner_user_id=owner_id
    )
    result: dict[str, Any] = await handle.result()
    return result


async def _attempts(sessions: async_sessionmaker[AsyncSession]) -> list[SyncAttemptRow]:
    async with read_transaction(sessions) as session:
        return list((await session.execute(select(SyncAttemptRow))).scalars())


@pytest.mark.usefixtures("restore_worklog_jobs")
async def test_a_run_waits_out_a_jira_outage_and_finishes_exactly_once(
    wl_sessions: async_sessionmaker[AsyncSession],
    owner_id: str,
    add_record: Callable[..., Any],
    jobs: JobEngine,
) -> None:
    app = make_sim()
    keys = open_issue_keys(app, 2)
    records = [await add_record(issue_key=k, started_at=DAY) for k in keys]
    # Long enough to outlast several attempts of the first record, client retries included.
    outage = Outage(app, refusals=40)
    worklog_jobs.configure(
        wl_sessions, provider_over(wl_sessions, app, outage), outage_waits=[0.01] * 20
    )

    result = await _run(jobs, wl_sessions, owner_id, records)

    assert outage.refused == 40  # the outage was met, not skipped
    assert (result["succeeded"], result["failed"]) == (2, 0), result
    assert stamped(app) == dict.fromkeys(records, 1)
    stored = await rows(wl_sessions)
    assert {stored[r].sync_state for r in records} == {SyncState.SYNCED.value}
    # Waiting is not failing: no attempt was logged as a failure.
    assert [a for a in await _attempts(wl_sessions) if a.status != "success"] == []


@pytest.mark.usefixtures("restore_worklog_jobs")
async def test_an_outage_longer_than_the_waits_fails_the_record_with_the_reason(
    wl_sessions: async_sessionmaker[AsyncSession],
    owner_id: str,
    add_record: Callable[..., Any],
    jobs: JobEngine,
) -> None:
    app = make_sim()
    [key] = open_issue_keys(app, 1)
    record = await add_record(issue_key=key, started_at=DAY)
    outage = Outage(app, refusals=-1)  # never back
    worklog_jobs.configure(
        wl_sessions, provider_over(wl_sessions, app, outage), outage_waits=[0.01, 0.01]
    )

    result = await _run(jobs, wl_sessions, owner_id, [record])

    assert (result["succeeded"], result["failed"]) == (0, 1), result
    assert stamped(app) == {}
    row = (await rows(wl_sessions))[record]
    assert row.sync_state == SyncState.ERROR.value
    assert row.last_error is not None
    assert "Jira could not be reached" in row.last_error
    [attempt] = await _attempts(wl_sessions)
    assert attempt.status == "failed"
