"""Polling fallback: a change no webhook reported is pulled; a change seen twice applies once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jirabridge.errors import ValidationError
from jirabridge.jira.models import Issue
from jirabridge.sim.app import SimConfig, SimRuntime, create_sim_app
from jirabridge.store.webhook_models import StatusLinkRow
from jirabridge.store.webhooks import Owner
from jirabridge.sync.status_poll import poll_statuses, poll_window
from jirabridge.sync.status_sync import StatusSync

from .conftest import make_connection

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def test_poll_window_overlaps_the_watermark() -> None:
    window = poll_window(["demo", "ABC"], NOW - timedelta(minutes=10), NOW)
    assert window.jql == 'project in ("ABC", "DEMO") AND updated >= -16m ORDER BY updated ASC'
    assert window.next_watermark == NOW
    first = poll_window(["DEMO"], None, NOW)
    assert "updated >= -1441m" in first.jql
    with pytest.raises(ValidationError):
        poll_window([], None, NOW)
    with pytest.raises(ValidationError):
        poll_window(["DEMO) OR (1=1"], None, NOW)


async def test_polling_pulls_a_missed_change_and_converges_with_webhooks(
    sessions: async_sessionmaker[AsyncSession], owner: Owner
) -> None:
    site = await make_connection(sessions, owner)
    async with sessions() as session:
        link = await StatusSync.link(
            session,
            owner_user_id=owner.user_id,
            owner_team_id=None,
            connection_id=site,
            issue_key="DEMO-1",
            subject_kind="time_record",
            subject_id="tr-1",
            local_state="todo",
            jira_status="To Do",
        )
        await session.commit()
    sim_app = create_sim_app(SimConfig(base_url="http://sim.test"))
    runtime: SimRuntime = sim_app.state.sim
    status = StatusSync()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sim_app),
        base_url="http://sim.test",
        auth=(runtime.admin_email, runtime.admin_token),
    ) as sim:
        transitions = (await sim.get("/rest/api/3/issue/DEMO-1/transitions")).json()
        [done] = [t["id"] for t in transitions["transitions"] if t["name"] == "Done"]
        await sim.post("/rest/api/3/issue/DEMO-1/transitions", json={"transition": {"id": done}})

        async def search(jql: str) -> AsyncIterator[Issue]:
            answer = await sim.get(
                "/rest/api/3/search/jql", params={"jql": jql, "fields": "status"}
            )
            assert answer.status_code == 200, answer.text
            for raw in answer.json()["issues"]:
                yield Issue.model_validate(raw)

        window = poll_window(["DEMO"], None, datetime.now(UTC))
        first = await poll_statuses(
            search, sessions, status, site=site, window=window, now=datetime.now(UTC)
        )
        second = await poll_statuses(
            search, sessions, status, site=site, window=window, now=datetime.now(UTC)
        )
    assert [p.plan.action.value for p in first] == ["apply"]
    assert second == []
    async with sessions() as session:
        row = await session.get(StatusLinkRow, link.id)
        assert row is not None
        assert (row.jira_status, row.local_state, row.version) == ("Done", "done", 1)
