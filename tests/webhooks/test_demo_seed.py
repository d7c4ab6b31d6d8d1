"""The demo's webhook data: one endpoint, two followed issues, signed deliveries stored once
(a repeat is dropped) that the worker then applies, so /events shows data."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jirabridge.cli.accounts_common import accounts_context
from jirabridge.cli.demo_webhooks import seed_demo_webhooks
from jirabridge.service.settings import load_settings
from jirabridge.service.webhook_wiring import build_webhooks_context
from jirabridge.store.account_models import ConnectionKind, JiraConnectionRow
from jirabridge.store.secrets import generate_key
from jirabridge.store.webhook_models import StatusLinkRow, WebhookDeliveryRow
from jirabridge.store.webhooks import Owner, list_endpoints


async def test_demo_webhook_data_is_seeded_once_and_processes(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, environment="test", encryption_keys=generate_key())
    async with accounts_context(settings) as ctx:
        user = await ctx.accounts.create_user(email="a@demo.test", password="long password 1")
        async with ctx.sessions() as session:
            connection = JiraConnectionRow(
                owner_user_id=user.id,
                name="Simulated Jira",
                kind=ConnectionKind.CLOUD_TOKEN.value,
                base_url="http://sim.test",
            )
            session.add(connection)
            await session.commit()
            connection_id = connection.id
    seed = {
        "email": "a@demo.test",
        "connection_id": connection_id,
        "statuses": {"DEMO-1": ("In Progress", "indeterminate"), "DEMO-2": ("Done", "done")},
    }
    first = await seed_demo_webhooks(settings, **seed)  # type: ignore[arg-type]
    again = await seed_demo_webhooks(settings, **seed)  # type: ignore[arg-type]
    assert (again.url, again.secret) == (first.url, first.secret)
    assert first.secret not in repr(first)

    async with accounts_context(settings) as ctx:
        [endpoint] = await _endpoints(ctx.sessions, user.id)
        assert first.url.endswith(f"/webhooks/jira/{endpoint}")
        webhooks = build_webhooks_context(settings, ctx.sessions)
        report = await webhooks.worker.drain()
        assert len(report.done) == 2  # three posts, one of them a repeat
        async with ctx.sessions() as session:
            links = {
                row.issue_key: (row.jira_status, row.local_state)
                for row in await session.scalars(select(StatusLinkRow))
            }
            assert len((await session.scalars(select(WebhookDeliveryRow))).all()) == 2
    assert links == {"DEMO-1": ("In Progress", "in_progress"), "DEMO-2": ("Done", "done")}


async def _endpoints(sessions: async_sessionmaker[AsyncSession], user_id: str) -> list[str]:
    async with sessions() as session:
        return [e.id for e in await list_endpoints(session, Owner(user_id=user_id))]
