"""Crash points of webhook delivery processing: the process stops before or after each step
(stored but not acknowledged, lease taken, handlers run, delivery marked done); the sender's
retry and a later worker (past the dead one's lease) end with each delivery's effect applied
exactly once. SQLite and PostgreSQL."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jirabridge.jira.webhooks import hub_signature
from jirabridge.service import webhook_worker
from jirabridge.service.webhook_intake import WebhookIntake
from jirabridge.service.webhook_worker import DeliveryWorker
from jirabridge.store.secrets import SecretBox
from jirabridge.store.webhook_models import (
    DeliveryStatus,
    StatusLinkRow,
    WebhookDeliveryRow,
    WebhookSource,
)
from jirabridge.store.webhooks import Owner
from jirabridge.sync.dispatch import DeliveryContext, HandlerRegistry
from jirabridge.sync.status_sync import StatusSync

from .conftest import make_connection
from .test_load_and_loss import _jira_endpoint
from support.crash_points import CrashPoint, ProcessDied, crash_at

DELIVERIES = 3

POINTS = [
    CrashPoint("intake", "receive", "after", nth=2),  # stored; the answer never went out
    CrashPoint("module", "claim_due", "after"),  # lease taken, not committed
    CrashPoint("worker", "_process", "before", nth=2),  # lease committed, nothing done
    CrashPoint("module", "finish_delivery", "after", nth=2),  # marked done, not committed
    CrashPoint("registry", "dispatch", "before", nth=2),
    CrashPoint("registry", "dispatch", "after", nth=2),  # effects made, not committed
]


@pytest.mark.parametrize("point", POINTS, ids=str)
async def test_processing_stopped_at_any_step_applies_each_delivery_once(
    sessions: async_sessionmaker[AsyncSession], box: SecretBox, owner: Owner, point: CrashPoint
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

    async def bump(context: DeliveryContext) -> None:
        row = await context.session.get(StatusLinkRow, link_id)
        assert row is not None
        row.version += 1

    registry = HandlerRegistry()
    registry.register("*", bump)
    intake = WebhookIntake(sessions, box)
    worker = DeliveryWorker(sessions, registry, worker_id="doomed")
    target = {
        "intake": intake,
        "module": webhook_worker,
        "worker": worker,
        "registry": registry,
    }[point.owner]

    async def deliver(n: int) -> None:
        body = json.dumps({"webhookEvent": "jira:issue_updated", "timestamp": n}).encode()
        headers = {
            "X-Hub-Signature": hub_signature(body, secret),
            "X-Atlassian-Webhook-Identifier": f"crash-{n}",
        }
        await intake.receive(WebhookSource.JIRA, endpoint_id, headers, body)

    async def first_life() -> None:
        for n in range(DELIVERIES):
            await deliver(n)
        await worker.drain()

    with crash_at(target, point), pytest.raises(ProcessDied):
        await first_life()

    # Jira resends whatever was not acknowledged (all of it, to be sure), then a worker that
    # starts after the dead one's lease ran out processes what is due.
    for n in range(DELIVERIES):
        await deliver(n)
    later = DeliveryWorker(sessions, registry, clock=lambda: time.time() + 600)
    await later.drain()

    async with sessions() as session:
        row = await session.get(StatusLinkRow, link_id)
        assert row is not None
        deliveries = list(await session.scalars(select(WebhookDeliveryRow)))
    assert row.version == DELIVERIES
    assert len(deliveries) == DELIVERIES
    assert {d.status for d in deliveries} == {DeliveryStatus.DONE.value}
