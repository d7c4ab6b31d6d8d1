"""End to end: the simulator's admin and dynamic webhooks drive status changes into our links.

The simulator POSTs real HTTP deliveries to the intake on a loopback port; the worker then
applies them. Our own transition (recorded in the write ledger) comes back and is dropped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jirabridge.service.webhook_intake import create_endpoint
from jirabridge.sim.app import SimConfig, SimRuntime, create_sim_app
from jirabridge.sim.edges import default_oauth_client
from jirabridge.store.account_models import JiraConnectionRow
from jirabridge.store.ledger import LedgerKey, WriteLedger
from jirabridge.store.models import WriteOperation
from jirabridge.store.secrets import SecretBox
from jirabridge.store.webhook_models import (
    DeliveryStatus,
    EndpointKind,
    StatusLinkRow,
    WebhookSource,
)
from jirabridge.store.webhooks import Owner, list_deliveries
from jirabridge.sync.status_plan import STATUS_WRITE_KIND, status_fingerprint
from jirabridge.sync.status_sync import StatusSync

from .conftest import follow, make_connection, transition
from .receiver import receiving_app, serve


async def _state(sessions: async_sessionmaker[AsyncSession], link_id: str) -> StatusLinkRow:
    async with sessions() as session:
        row = await session.get(StatusLinkRow, link_id)
        assert row is not None
        return row


def _sim() -> tuple[Any, SimRuntime, httpx.AsyncClient]:
    app = create_sim_app(SimConfig(base_url="http://sim.test"))
    runtime: SimRuntime = app.state.sim
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://sim.test",
        auth=(runtime.admin_email, runtime.admin_token),
    )
    return app, runtime, client


async def test_admin_webhook_drives_status_and_our_echo_is_dropped(
    sessions: async_sessionmaker[AsyncSession], box: SecretBox, owner: Owner, tmp_path: Path
) -> None:
    app, context = receiving_app(sessions, box, tmp_path)
    site = await make_connection(sessions, owner)
    async with sessions() as session:
        endpoint, secret = await create_endpoint(
            session,
            box,
            owner_user_id=owner.user_id,
            name="sim admin",
            source=WebhookSource.JIRA,
            kind=EndpointKind.ADMIN,
            connection_id=site,
        )
        await session.commit()
    one = await follow(sessions, owner.user_id, site, "DEMO-1", "story-1")
    seen: list[str] = []
    context.status.listen(lambda applied: seen.append(applied.plan.action.value))

    _sim_app, runtime, sim = _sim()
    hooks = runtime.edges.webhooks
    async with serve(app) as base, sim:
        hooks.add_admin(
            name="jirabridge",
            url=f"{base}/webhooks/jira/{endpoint.id}",
            events=["jira:issue_updated"],
            secret=secret,
        )
        # Someone moves DEMO-1 in Jira: it flows to the local state.
        await transition(sim, "DEMO-1", "In Progress")
        await hooks.drain()
        await context.worker.drain()
        row = await _state(sessions, one)
        assert (row.jira_status, row.local_state) == ("In Progress", "in_progress")

        # We move it ourselves (recorded in the ledger first): the echo is dropped.
        async with sessions() as session:
            await StatusSync.mark_local_change(session, one, "done")
            await session.commit()
        ledger = WriteLedger(sessions)
        key = LedgerKey(site, STATUS_WRITE_KIND, "story-1")
        await ledger.record_intent(
            key,
            operation=WriteOperation.UPDATE,
            fingerprint=status_fingerprint("DEMO-1", "Done"),
            target="DEMO-1",
        )
        await transition(sim, "DEMO-1", "Done")
        await ledger.confirm(key, "10000")
        await hooks.drain()
        await context.worker.drain()
        row = await _state(sessions, one)
        assert (row.jira_status, row.local_state, row.local_dirty) == ("Done", "done", False)
        assert row.conflict is None

        # A local change while another automation moves the issue: a conflict, not overwritten.
        async with sessions() as session:
            await StatusSync.mark_local_change(session, one, "in_progress")
            await session.commit()
        await transition(sim, "DEMO-1", "To Do")
        await hooks.drain()
        await context.worker.drain()
        row = await _state(sessions, one)
        assert row.local_state == "in_progress"
        assert row.conflict is not None
        assert "both sides" in row.conflict

        log = (await sim.get("/_sim/webhooks/deliveries")).json()
        assert {d["state"] for d in log} == {"delivered"}
    await hooks.aclose()
    assert seen == ["apply", "echo", "conflict"]
    async with sessions() as session:
        stored = await list_deliveries(session, owner)
    assert {d.status for d in stored} == {DeliveryStatus.DONE}


async def test_dynamic_webhook_jwt_drives_status(
    sessions: async_sessionmaker[AsyncSession], box: SecretBox, owner: Owner, tmp_path: Path
) -> None:
    oauth = default_oauth_client(1)
    app, context = receiving_app(
        sessions,
        box,
        tmp_path,
        oauth_client_secret=oauth.client_secret,
        oauth_client_id=oauth.client_id,
    )
    site = await make_connection(sessions, owner)
    _sim_app, runtime, sim = _sim()
    async with sessions() as session:
        # The JWT's iss (the site) and aud (our app) are checked against these.
        connection = await session.get(JiraConnectionRow, site)
        assert connection is not None
        connection.cloud_id = runtime.cloud_id
        endpoint, _ = await create_endpoint(
            session,
            box,
            owner_user_id=owner.user_id,
            name="sim dynamic",
            source=WebhookSource.JIRA,
            kind=EndpointKind.DYNAMIC,
            connection_id=site,
            secret=oauth.client_secret,
        )
        await session.commit()
    link_id = await follow(sessions, owner.user_id, site, "DEMO-2", "story-2")
    hooks = runtime.edges.webhooks
    async with serve(app) as base, sim:
        principal = {"client_id": oauth.client_id, "cloud_id": runtime.cloud_id, "account_id": "a"}
        [result] = hooks.register_dynamic(
            principal,
            f"{base}/webhooks/jira/{endpoint.id}",
            [{"events": ["jira:issue_updated"], "jqlFilter": "project = DEMO"}],
        )
        assert "createdWebhookId" in result
        await transition(sim, "DEMO-2", "Done")
        await hooks.drain()
        await context.worker.drain()
    await hooks.aclose()
    row = await _state(sessions, link_id)
    assert (row.jira_status, row.local_state) == ("Done", "done")
