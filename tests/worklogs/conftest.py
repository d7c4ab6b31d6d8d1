"""Fixtures of the worklog sync tests: a migrated database with an owner, and the simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from jirabridge.http import HttpClient
from jirabridge.http.clock import FakeClock
from jirabridge.jira import JiraClient
from jirabridge.jobs.engine import JobEngine, JobsConfig
from jirabridge.sim.app import SimConfig, create_sim_app
from jirabridge.sim.edges import EdgeConfig
from jirabridge.store.account_models import ConnectionKind, JiraConnectionRow
from jirabridge.store.accounts import UserRepository
from jirabridge.store.db import session_factory, write_transaction
from jirabridge.store.worklog_models import TimeRecordRow

BASE = "http://127.0.0.1"


@pytest.fixture
def wl_sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions on the migrated database (SQLite and PostgreSQL)."""
    return session_factory(engine)


@pytest.fixture
async def jobs(jobs_database_url: str) -> AsyncIterator[JobEngine]:
    """A launched job engine that polls its queues often (jobs start without a 1 s wait)."""
    engine = JobEngine(
        JobsConfig(
            system_database_url=jobs_database_url,
            application_version="worklogs-api-test",
            executor_id="worklogs-api-test",
            polling_interval_sec=0.05,
            log_level="WARNING",
        )
    )
    await engine.launch()
    try:
        yield engine
    finally:
        await engine.shutdown()


@pytest.fixture
async def owner_id(wl_sessions: async_sessionmaker[AsyncSession]) -> str:
    """A user who owns the records."""
    async with write_transaction(wl_sessions) as session:
        user = await UserRepository(session).create(email="ada@example.com", password_hash=None)
        return user.id


async def add_connection(
    sessions: async_sessionmaker[AsyncSession], owner_id: str, base_url: str
) -> str:
    """A token connection row of ``owner_id`` to ``base_url`` (no secret); its id."""
    async with write_transaction(sessions) as session:
        row = JiraConnectionRow(
            owner_user_id=owner_id,
            name=base_url,
            kind=ConnectionKind.CLOUD_TOKEN.value,
            base_url=base_url,
        )
        session.add(row)
        await session.flush()
        return row.id


def make_sim(
    profile: str = "clean", seed: int = 11, frozen_at: float | None = None, **fault_overrides: Any
) -> Any:
    """A simulated Cloud site; no injected latency (tests must not wait for real)."""
    overrides = {"latency_ms": 0.0, "jitter_ms": 0.0, **fault_overrides}
    return create_sim_app(
        SimConfig(seed=seed, profile=profile, frozen_at=frozen_at),
        edges=EdgeConfig(profile=profile, seed=seed, fault_overrides=overrides),
    )


def jira_for(app: Any) -> JiraClient:
    """A client of ``app`` whose waits cost no real time."""
    runtime = app.state.sim
    clock = FakeClock()
    http = HttpClient(
        BASE,
        auth=httpx.BasicAuth(runtime.admin_email, runtime.admin_token),
        transport=httpx.ASGITransport(app=app),
        clock=clock,
    )
    return JiraClient(BASE, http=http, sleep=clock.sleep, api_version=3)


@pytest.fixture
async def sim_jira() -> AsyncIterator[tuple[Any, JiraClient]]:
    """A clean simulator and a client of it."""
    app = make_sim()
    client = jira_for(app)
    yield app, client
    await client.aclose()


def open_issue_keys(app: Any, count: int) -> list[str]:
    """Keys of issues that are not done, in a stable order."""
    issues = app.state.sim.site.issues.values()
    keys = [i.key for i in issues if i.status_id != "10002"]
    return sorted(keys)[:count]


def done_issue_key(app: Any) -> str:
    """The key of an issue whose status is Done."""
    return next(i.key for i in app.state.sim.site.issues.values() if i.status_id == "10002")


RecordFactory = Callable[..., Any]


@pytest.fixture
def add_record(wl_sessions: async_sessionmaker[AsyncSession], owner_id: str) -> Callable[..., Any]:
    """Inserts a time record for the owner; returns its id."""

    async def add(
        *, issue_key: str | None, started_at: datetime, seconds: int = 1800, notes: str = "work"
    ) -> str:
        async with write_transaction(wl_sessions) as session:
            row = TimeRecordRow(
                owner_user_id=owner_id,
                issue_key=issue_key,
                started_at=started_at,
                duration_seconds=seconds,
                notes=notes,
            )
            session.add(row)
            await session.flush()
            return row.id

    return add
