"""Loss: a worker killed (SIGKILL) in the middle of a burst loses nothing and repeats nothing.

Also: the simulator's failing-delivery mode (every first attempt fails) is survived: its
retries arrive with the same identifier and are processed once.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jirabridge.jira.webhooks import hub_signature
from jirabridge.service.webhook_intake import WebhookIntake, create_endpoint
from jirabridge.service.webhook_worker import DeliveryWorker
from jirabridge.sim.app import SimConfig, SimRuntime, create_sim_app
from jirabridge.sim.edges import EdgeConfig
from jirabridge.store.secrets import SecretBox
from jirabridge.store.webhook_models import (
    DeliveryStatus,
    EndpointKind,
    StatusLinkRow,
    WebhookDeliveryRow,
    WebhookSource,
)
from jirabridge.store.webhooks import Owner
from jirabridge.sync.dispatch import DeliveryContext, HandlerRegistry
from jirabridge.sync.status_sync import StatusSync

from .conftest import make_connection
from .receiver import receiving_app, serve

BURST = 120


async def _jira_endpoint(
    sessions: async_sessionmaker[AsyncSession], box: SecretBox, owner: Owner
) -> tuple[str, str]:
    async with sessions() as session:
        row, secret = await create_endpoint(
            session,
            box,
            owner_user_id=owner.user_id,
            name="burst",
            source=WebhookSource.JIRA,
            kind=EndpointKind.ADMIN,
        )
        await session.commit()
        return row.id, secret


@pytest.mark.slow
async def test_a_killed_worker_loses_and_repeats_nothing(
    sessions: async_sessionmaker[AsyncSession],
    box: SecretBox,
    owner: Owner,
    migrated_database_url: str,
) -> None:
    endpoint_id, secret = await _jira_endpoint(sessions, box, owner)
    site = await make_connection(sessions, owner)
    async with sessions() as session:
        link = await StatusSync.link(
            session,
            owner_user_id=owner.user_id,
            owner_team_id=None,
            connection_id=site,
            issue_key="DEMO-1",
            subject_kind="counter",
            subject_id="1",
            local_state="todo",
        )
        await session.commit()
        link_id = link.id

    intake = WebhookIntake(sessions, box)
    for n in range(BURST):
        body = json.dumps({"webhookEvent": "jira:issue_updated", "timestamp": n}).encode()
        headers = {
            "X-Hub-Signature": hub_signature(body, secret),
            "X-Atlassian-Webhook-Identifier": f"burst-{n}",
        }
        await intake.receive(WebhookSource.JIRA, endpoint_id, headers, body)

    child = await asyncio.create_subprocess_exec(
        sys.executable,
        str(Path(__file__).with_name("kill_worker.py")),
        migrated_database_url,
        link_id,
        "45",
        stdout=asyncio.subprocess.PIPE,
    )
    assert child.stdout is not None
    line = await asyncio.wait_for(child.stdout.readline(), timeout=120)
    assert line.strip() == b"STALLED"
    child.kill()
    await child.wait()

    async with sessions() as session:
        done = await session.scalar(
            select(func.count())
            .select_from(WebhookDeliveryRow)
            .where(WebhookDeliveryRow.status == DeliveryStatus.DONE.value)
        )
    assert done == 45  # the stalled one was rolled back with the process

    async def bump(context: DeliveryContext) -> None:
        row = await context.session.get(StatusLinkRow, link_id)
        assert row is not None
        row.version += 1

    registry = HandlerRegistry()
    registry.register("*", bump)
    # A restarted worker, its clock past the dead worker's leases.
    later = DeliveryWorker(sessions, registry, clock=lambda: time.time() + 600)
    await later.drain()

    async with sessions() as session:
        row = await session.get(StatusLinkRow, link_id)
        assert row is not None
        assert row.version == BURST
        attempts = list(await session.scalars(select(WebhookDeliveryRow.attempts)))
        statuses = set(await session.scalars(select(WebhookDeliveryRow.status)))
    assert attempts == [1] * BURST
    assert statuses == {DeliveryStatus.DONE.value}


async def test_the_simulators_failing_delivery_mode_is_survived(
    sessions: async_sessionmaker[AsyncSession], box: SecretBox, owner: Owner, tmp_path: Path
) -> None:
    app, context = receiving_app(sessions, box, tmp_path)
    endpoint_id, secret = await _jira_endpoint(sessions, box, owner)
    seen: list[str] = []

    async def record(ctx: DeliveryContext) -> None:
        seen.append(ctx.delivery.delivery_id)

    context.registry.register("jira:issue_created", record)
    sim_app = create_sim_app(
        SimConfig(base_url="http://sim.test"),
        edges=EdgeConfig(fault_overrides={"webhook_failure_rate": 0.5}, seed=3),
    )
    runtime: SimRuntime = sim_app.state.sim
    assert runtime.edges is not None
    hooks = runtime.edges.webhooks
    async with serve(app) as base:
        hooks.add_admin(
            name="j",
            url=f"{base}/webhooks/jira/{endpoint_id}",
            events=["jira:issue_created"],
            secret=secret,
        )
        import httpx

        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=sim_app),
            base_url="http://sim.test",
            auth=(runtime.admin_email, runtime.admin_token),
        ) as sim:
            for n in range(12):
                created = await sim.post(
                    "/rest/api/3/issue",
                    json={
                        "fields": {
                            "project": {"key": "DEMO"},
                            "summary": f"s{n}",
                            "issuetype": {"name": "Task"},
                        }
                    },
                )
                assert created.status_code == 201, created.text
            for _ in range(8):
                await hooks.drain()
                runtime.clock.advance(timedelta(minutes=16).total_seconds())
            await context.worker.drain()
            log = (await sim.get("/_sim/webhooks/deliveries")).json()
    await hooks.aclose()
    assert runtime.edges.faults.counters["webhook_failures"] > 0
    assert {d["state"] for d in log} == {"delivered"}
    assert len(seen) == 12
    assert len(set(seen)) == 12
