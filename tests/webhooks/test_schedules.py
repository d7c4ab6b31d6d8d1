"""Scheduled webhook work against the simulator: dynamic webhooks kept alive, polling fallback.

The clock is injected (``tick(now)``) and the simulator's clock is frozen and moved by hand, so
30 days pass without a sleep. Runs on SQLite and PostgreSQL (the ``engine`` fixture).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from jirabridge.jira.client import JiraClient
from jirabridge.service.connection_clients import JiraClientFactory
from jirabridge.service.connections import ConnectionService
from jirabridge.service.webhook_schedules import (
    ScheduleConfig,
    ScheduledJira,
    WebhookSchedules,
)
from jirabridge.sim.app import SimConfig, SimRuntime, create_sim_app
from jirabridge.store.account_models import JiraConnectionRow
from jirabridge.store.connection_secrets import ConnectionSecrets
from jirabridge.store.schedules import claim_due_rows
from jirabridge.store.secrets import SecretBox
from jirabridge.store.webhook_models import (
    DynamicWebhookRow,
    EndpointKind,
    PollWatermarkRow,
    StatusLinkRow,
)
from jirabridge.store.webhooks import Owner
from jirabridge.sync.dynamic_webhooks import DYNAMIC_EVENTS
from jirabridge.sync.status_sync import AppliedPlan, StatusSync

from .conftest import add_endpoint, follow, make_connection, transition
from support.sim_oauth import oauth_access_token

START = 1_800_000_000.0
DAY = 86_400.0


def _sim() -> tuple[Starlette, SimRuntime]:
    app = create_sim_app(SimConfig(base_url="http://sim.test", frozen_at=START))
    return app, app.state.sim


def _admin(app: Starlette) -> httpx.AsyncClient:
    runtime: SimRuntime = app.state.sim
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://sim.test",
        auth=(runtime.admin_email, runtime.admin_token),
    )


def _opener(app: Starlette) -> Any:
    runtime: SimRuntime = app.state.sim

    @asynccontextmanager
    async def client_for(connection_id: str) -> AsyncIterator[ScheduledJira]:
        # A fresh consent per round: simulated weeks pass between rounds, and access tokens
        # last an hour (refreshing is the accounts feature's business, tested there).
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://sim.test"
        ) as anonymous:
            token = await oauth_access_token(app, anonymous)
        client = JiraClient.oauth(
            runtime.cloud_id,
            auth=token,
            base_url=f"http://sim.test/ex/jira/{runtime.cloud_id}",
            transport=httpx.ASGITransport(app=app),
        )
        try:
            yield client
        finally:
            await client.aclose()

    return client_for


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


async def _registration(
    sessions: async_sessionmaker[AsyncSession], site: str
) -> DynamicWebhookRow | None:
    async with sessions() as session:
        return await session.get(DynamicWebhookRow, site)


async def test_dynamic_webhooks_registered_refreshed_reregistered_and_deleted(
    sessions: async_sessionmaker[AsyncSession], box: SecretBox, owner: Owner
) -> None:
    app, runtime = _sim()
    hooks = runtime.edges.webhooks
    site = await make_connection(sessions, owner)
    endpoint_id, _ = await add_endpoint(
        sessions, box, owner, EndpointKind.DYNAMIC, site, secret="client-secret"
    )
    await follow(sessions, owner.user_id, site, "DEMO-1", "story-1")
    schedules = WebhookSchedules(
        sessions,
        _opener(app),
        StatusSync(),
        public_base="https://jb.example",
        config=ScheduleConfig(dynamic_every=timedelta(days=1), poll_every=timedelta(days=365)),
    )
    url = f"https://jb.example/webhooks/jira/{endpoint_id}"

    # First tick: registered for the project in use, and remembered.
    report = await schedules.tick(_at(START))
    assert report.registered == [site]
    [hook] = hooks._live_dynamic()
    assert (hook.url, hook.jql_filter) == (url, 'project in ("DEMO")')
    row = await _registration(sessions, site)
    assert row is not None
    assert row.webhook_ids == [hook.id]
    assert (row.jql_filter, row.events) == ('project in ("DEMO")', list(DYNAMIC_EVENTS))
    assert row.expires_at == _at(START + 30 * DAY)

    # Not due again the same day: nothing is sent (the row's claim is the timer's lock).
    assert (await schedules.tick(_at(START + 3600))).registered == []

    # 21 days on (9 left, under the 10-day margin): refreshed, same id, 30 days from now.
    runtime.clock.advance(21 * DAY)
    assert (await schedules.tick(_at(START + 21 * DAY))).registered == [site]
    [again] = hooks._live_dynamic()
    assert again.id == hook.id
    row = await _registration(sessions, site)
    assert row is not None
    assert row.expires_at == _at(START + 51 * DAY)

    # Lost in Jira (an admin deleted it): the next round's list shows it gone; registered again.
    hooks.dynamic_hooks.clear()
    runtime.clock.advance(DAY)
    await schedules.tick(_at(START + 22 * DAY))
    [replacement] = hooks._live_dynamic()
    assert replacement.id != hook.id
    row = await _registration(sessions, site)
    assert row is not None
    assert row.webhook_ids == [replacement.id]

    # A new project in use changes the filter: the old hook is replaced.
    await follow(sessions, owner.user_id, site, "OPS-3", "story-2")
    runtime.clock.advance(DAY)
    await schedules.tick(_at(START + 23 * DAY))
    [widened] = hooks._live_dynamic()
    assert widened.jql_filter == 'project in ("DEMO", "OPS")'

    # Disconnect: deleted in Jira and forgotten here.
    async with sessions() as session:
        connection = await session.get(JiraConnectionRow, site)
    assert connection is not None
    assert await schedules.unregister(connection) == [widened.id]
    assert hooks._live_dynamic() == []
    assert await _registration(sessions, site) is None


async def test_two_workers_ticking_at_once_claim_each_row_once(
    sessions: async_sessionmaker[AsyncSession], box: SecretBox, owner: Owner
) -> None:
    site = await make_connection(sessions, owner)
    now = _at(START)
    async with sessions() as session:
        session.add(PollWatermarkRow(connection_id=site, next_run_at=now))
        await session.commit()
    async with sessions() as first, sessions() as second:
        won = await claim_due_rows(first, PollWatermarkRow, now=now, every=timedelta(minutes=5))
        await first.commit()
        lost = await claim_due_rows(second, PollWatermarkRow, now=now, every=timedelta(minutes=5))
        await second.commit()
    assert [r.connection_id for r in won] == [site]
    assert lost == []
    async with sessions() as session:
        row = await session.get(PollWatermarkRow, site)
        assert row is not None
        assert row.next_run_at == now + timedelta(minutes=5)


async def test_polling_watermark_pulls_missed_changes_once_and_asks_for_worklogs(
    sessions: async_sessionmaker[AsyncSession], owner: Owner
) -> None:
    app, runtime = _sim()
    site = await make_connection(sessions, owner)
    link_id = await follow(sessions, owner.user_id, site, "DEMO-1", "story-1")
    status = StatusSync()
    applied: list[AppliedPlan] = []
    status.listen(applied.append)
    pulls: list[tuple[str, datetime]] = []

    async def worklog_pull(connection_id: str, now: datetime) -> None:
        pulls.append((connection_id, now))

    schedules = WebhookSchedules(
        sessions,
        _opener(app),
        status,
        public_base="https://jb.example",
        config=ScheduleConfig(poll_every=timedelta(minutes=5), overlap=timedelta(minutes=2)),
        worklog_pull=worklog_pull,
    )
    async with _admin(app) as sim:
        # No webhook arrives for this change: the poll finds it.
        await transition(sim, "DEMO-1", "In Progress")
        first = await schedules.tick(_at(START))
        assert first.polled == [site]
        async with sessions() as session:
            link = await session.get(StatusLinkRow, link_id)
            assert link is not None
            assert (link.jira_status, link.local_state) == ("In Progress", "in_progress")
            mark = await session.get(PollWatermarkRow, site)
            assert mark is not None
            assert mark.watermark == _at(START)
        assert pulls == [(site, _at(START))]

        # Next round (5 minutes on) overlaps the last one: the same issue is seen again, and
        # nothing is applied twice.
        runtime.clock.advance(300)
        assert (await schedules.tick(_at(START + 300))).polled == [site]
        assert [a.plan.action.value for a in applied] == ["apply"]

        # A worklog event makes the pull due at once instead of at the next interval.
        from jirabridge.store.schedules import request_poll

        async with sessions() as session:
            await request_poll(session, site, _at(START + 360))
            await session.commit()
        await transition(sim, "DEMO-1", "Done")
        runtime.clock.advance(60)
        assert (await schedules.tick(_at(START + 360))).polled == [site]
        assert [a.plan.jira_status for a in applied] == ["In Progress", "Done"]
        assert len(pulls) == 3


async def test_a_failing_poll_keeps_its_watermark_and_says_why(
    sessions: async_sessionmaker[AsyncSession], owner: Owner
) -> None:
    site = await make_connection(sessions, owner)
    await follow(sessions, owner.user_id, site, "DEMO-1", "story-1")

    @asynccontextmanager
    async def broken(connection_id: str) -> AsyncIterator[ScheduledJira]:
        raise RuntimeError("Jira is away")
        yield  # pragma: no cover

    schedules = WebhookSchedules(sessions, broken, StatusSync(), public_base="https://jb.example")
    report = await schedules.tick(_at(START))
    assert report.polled == []
    assert "Jira is away" in report.failed[site]
    async with sessions() as session:
        mark = await session.get(PollWatermarkRow, site)
        assert mark is not None
        assert mark.watermark is None
        assert mark.last_error is not None
        assert "Jira is away" in mark.last_error
        assert (await session.scalars(select(DynamicWebhookRow))).all() == []


async def test_disconnect_runs_the_clean_up_while_the_tokens_are_still_there(
    sessions: async_sessionmaker[AsyncSession], box: SecretBox, owner: Owner
) -> None:
    secrets = ConnectionSecrets(box)
    service = ConnectionService(sessions, secrets, JiraClientFactory(secrets))
    site = await make_connection(sessions, owner)
    seen: list[tuple[str, bool]] = []

    async def hook(row: JiraConnectionRow) -> None:
        seen.append((row.id, row.is_active))

    async def broken(row: JiraConnectionRow) -> None:
        raise RuntimeError("Jira unreachable")

    service.before_disconnect(hook)
    service.before_disconnect(broken)  # a failing clean-up does not stop the disconnect
    row = await service.disconnect(owner.user_id, site)
    assert seen == [(site, True)]
    assert (row.is_active, row.needs_reconnect) == (False, True)
