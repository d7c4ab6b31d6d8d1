"""Intake (verify + store once) and the worker (retry, dead-letter, replay), on both backends."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jirabridge.errors import NotFoundError, WebhookVerificationError
from jirabridge.github.webhooks import github_signature
from jirabridge.jira.webhooks import hub_signature
from jirabridge.service.webhook_intake import WebhookIntake, create_endpoint
from jirabridge.service.webhook_worker import DeliveryWorker
from jirabridge.store.secrets import SecretBox
from jirabridge.store.webhook_models import (
    DeliveryStatus,
    EndpointKind,
    WebhookDeliveryRow,
    WebhookEndpointRow,
    WebhookSource,
)
from jirabridge.store.webhooks import Owner, list_deliveries, replay_deliveries
from jirabridge.sync.dispatch import DeliveryContext, HandlerRegistry

from .conftest import FIXTURES, ManualClock, make_user

GITHUB_EVENTS = sorted(p.stem for p in (FIXTURES / "github").glob("*.json"))


async def _endpoint(
    sessions: async_sessionmaker[AsyncSession],
    box: SecretBox,
    owner: Owner,
    source: WebhookSource = WebhookSource.GITHUB,
    kind: EndpointKind = EndpointKind.GITHUB,
) -> tuple[str, str]:
    async with sessions() as session:
        row, secret = await create_endpoint(
            session, box, owner_user_id=owner.user_id, name="hook", source=source, kind=kind
        )
        await session.commit()
        return row.id, secret


def _github_headers(name: str, body: bytes, secret: str, delivery: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-GitHub-Event": name.split(".")[0],
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": github_signature(body, secret),
    }


async def _count(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(WebhookDeliveryRow)) or 0)


@pytest.mark.parametrize("name", GITHUB_EVENTS)
async def test_github_fixtures_are_accepted_signed_and_refused_forged(
    name: str,
    sessions: async_sessionmaker[AsyncSession],
    box: SecretBox,
    owner: Owner,
    clock: ManualClock,
) -> None:
    endpoint_id, secret = await _endpoint(sessions, box, owner)
    intake = WebhookIntake(sessions, box, clock=clock)
    body = (FIXTURES / "github" / f"{name}.json").read_bytes()
    good = _github_headers(name, body, secret, "d-1")
    result = await intake.receive(WebhookSource.GITHUB, endpoint_id, good, body)
    assert result.new
    assert result.event == name.split(".")[0]

    forged = _github_headers(name, body, "not-the-secret", "d-2")
    with pytest.raises(WebhookVerificationError):
        await intake.receive(WebhookSource.GITHUB, endpoint_id, forged, body)
    tampered = _github_headers(name, body, secret, "d-3")
    with pytest.raises(WebhookVerificationError):
        await intake.receive(WebhookSource.GITHUB, endpoint_id, tampered, body + b" ")
    assert await _count(sessions) == 1


async def test_a_repeated_delivery_is_acknowledged_and_stored_once(
    sessions: async_sessionmaker[AsyncSession], box: SecretBox, owner: Owner, clock: ManualClock
) -> None:
    endpoint_id, secret = await _endpoint(sessions, box, owner)
    intake = WebhookIntake(sessions, box, clock=clock)
    body = (FIXTURES / "github" / "push.json").read_bytes()
    headers = _github_headers("push", body, secret, "same-id")
    first = await intake.receive(WebhookSource.GITHUB, endpoint_id, headers, body)
    second = await intake.receive(WebhookSource.GITHUB, endpoint_id, headers, body)
    assert (first.new, second.new) == (True, False)
    assert await _count(sessions) == 1

    calls: list[str] = []

    async def handler(context: DeliveryContext) -> None:
        calls.append(context.delivery.delivery_id)

    registry = HandlerRegistry()
    registry.register("github:push", handler)
    report = await DeliveryWorker(sessions, registry, clock=clock).drain()
    assert calls == ["same-id"]
    assert len(report.done) == 1


async def test_stored_headers_hold_no_credentials(
    sessions: async_sessionmaker[AsyncSession], box: SecretBox, owner: Owner, clock: ManualClock
) -> None:
    endpoint_id, secret = await _endpoint(
        sessions, box, owner, WebhookSource.JIRA, EndpointKind.ADMIN
    )
    body = json.dumps({"webhookEvent": "jira:issue_updated", "timestamp": 1}).encode()
    headers = {
        "X-Hub-Signature": hub_signature(body, secret),
        "X-Atlassian-Webhook-Identifier": "j-1",
        "Authorization": "Bearer something",
    }
    await WebhookIntake(sessions, box, clock=clock).receive(
        WebhookSource.JIRA, endpoint_id, headers, body
    )
    async with sessions() as session:
        row = await session.scalar(select(WebhookDeliveryRow))
        assert row is not None
        assert set(row.headers) == {"x-atlassian-webhook-identifier"}
        assert secret not in repr(row.headers)


async def test_an_unknown_or_wrong_source_endpoint_is_not_found(
    sessions: async_sessionmaker[AsyncSession], box: SecretBox, owner: Owner, clock: ManualClock
) -> None:
    endpoint_id, _ = await _endpoint(sessions, box, owner)
    intake = WebhookIntake(sessions, box, clock=clock)
    with pytest.raises(NotFoundError):
        await intake.receive(WebhookSource.GITHUB, "nope", {}, b"{}")
    with pytest.raises(NotFoundError):
        await intake.receive(WebhookSource.JIRA, endpoint_id, {}, b"{}")


async def test_bad_signature_warnings_are_rate_limited(
    sessions: async_sessionmaker[AsyncSession],
    box: SecretBox,
    owner: Owner,
    clock: ManualClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    endpoint_id, _ = await _endpoint(sessions, box, owner)
    intake = WebhookIntake(sessions, box, clock=clock)
    body = b"{}"
    headers = _github_headers("ping", body, "wrong", "x")
    with caplog.at_level(logging.WARNING, logger="jirabridge.service.webhook_intake"):
        for _ in range(5):
            with pytest.raises(WebhookVerificationError):
                await intake.receive(WebhookSource.GITHUB, endpoint_id, headers, body)
        clock.advance(61)
        with pytest.raises(WebhookVerificationError):
            await intake.receive(WebhookSource.GITHUB, endpoint_id, headers, body)
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 2
    assert "4 more refused" in warnings[1]


async def test_failing_handler_retries_with_backoff_then_dead_letters_and_replays(
    sessions: async_sessionmaker[AsyncSession], box: SecretBox, owner: Owner, clock: ManualClock
) -> None:
    endpoint_id, secret = await _endpoint(sessions, box, owner)
    body = (FIXTURES / "github" / "ping.json").read_bytes()
    await WebhookIntake(sessions, box, clock=clock).receive(
        WebhookSource.GITHUB, endpoint_id, _github_headers("ping", body, secret, "p-1"), body
    )
    failing = True

    async def handler(context: DeliveryContext) -> None:
        if failing:
            raise RuntimeError("downstream is down")

    registry = HandlerRegistry()
    registry.register("github:ping", handler)
    backoff = (timedelta(seconds=10), timedelta(seconds=60))
    worker = DeliveryWorker(sessions, registry, clock=clock, backoff=backoff)

    assert len((await worker.run_once()).retrying) == 1
    assert (await worker.run_once()).handled == 0  # not due before the backoff
    clock.advance(10)
    assert len((await worker.run_once()).retrying) == 1
    clock.advance(59)
    assert (await worker.run_once()).handled == 0
    clock.advance(1)
    assert len((await worker.run_once()).dead) == 1

    async with sessions() as session:
        dead = await list_deliveries(session, owner, status=DeliveryStatus.DEAD)
    assert len(dead) == 1
    assert dead[0].attempts == 3
    assert dead[0].last_error == "RuntimeError: downstream is down"

    other = await make_user(sessions, "other@example.com")
    async with sessions() as session:
        assert await replay_deliveries(session, other, now=datetime.now(UTC)) == 0
        with pytest.raises(NotFoundError):
            await replay_deliveries(session, other, now=datetime.now(UTC), delivery_pk=dead[0].id)
        assert await list_deliveries(session, other) == []

    failing = False
    async with sessions() as session:
        now = datetime.fromtimestamp(clock(), UTC)
        assert await replay_deliveries(session, owner, now=now) == 1
        await session.commit()
    assert len((await worker.run_once()).done) == 1
    async with sessions() as session:
        (row,) = await list_deliveries(session, owner)
    assert row.status == DeliveryStatus.DONE
    assert row.last_error is None


async def test_a_crashed_workers_lease_runs_out_and_the_delivery_is_done_once(
    sessions: async_sessionmaker[AsyncSession], box: SecretBox, owner: Owner, clock: ManualClock
) -> None:
    endpoint_id, secret = await _endpoint(sessions, box, owner)
    body = (FIXTURES / "github" / "ping.json").read_bytes()
    await WebhookIntake(sessions, box, clock=clock).receive(
        WebhookSource.GITHUB, endpoint_id, _github_headers("ping", body, secret, "p-1"), body
    )
    seen: list[str] = []

    async def handler(context: DeliveryContext) -> None:
        seen.append(context.delivery.delivery_id)

    registry = HandlerRegistry()
    registry.register("github:ping", handler)
    lease = timedelta(seconds=30)
    crashed = DeliveryWorker(sessions, registry, clock=clock, lease=lease, worker_id="a")
    # The crashed worker leased the row and never came back.
    from jirabridge.store.webhooks import claim_due

    async with sessions() as session:
        now = datetime.fromtimestamp(clock(), UTC)
        assert len(await claim_due(session, worker=crashed.worker_id, now=now, lease=lease)) == 1
        await session.commit()
    survivor = DeliveryWorker(sessions, registry, clock=clock, lease=lease, worker_id="b")
    assert (await survivor.run_once()).handled == 0
    clock.advance(31)
    assert len((await survivor.run_once()).done) == 1
    # The first worker waking up late cannot finish what is no longer its own.
    assert (await crashed.run_once()).handled == 0
    assert seen == ["p-1"]


async def test_last_event_time_is_written_at_most_once_a_second(
    sessions: async_sessionmaker[AsyncSession], box: SecretBox, owner: Owner, clock: ManualClock
) -> None:
    endpoint_id, secret = await _endpoint(
        sessions, box, owner, WebhookSource.JIRA, EndpointKind.ADMIN
    )
    intake = WebhookIntake(sessions, box, clock=clock)

    async def deliver(number: int) -> datetime | None:
        body = json.dumps({"webhookEvent": "jira:issue_updated", "timestamp": number}).encode()
        headers = {
            "X-Hub-Signature": hub_signature(body, secret),
            "X-Atlassian-Webhook-Identifier": f"t-{number}",
        }
        assert (await intake.receive(WebhookSource.JIRA, endpoint_id, headers, body)).new
        async with sessions() as session:
            row = await session.get(WebhookEndpointRow, endpoint_id)
            assert row is not None
            return row.last_event_at

    first = await deliver(1)
    assert first is not None
    clock.advance(0.5)
    assert await deliver(2) == first  # within the second: the row is left alone
    clock.advance(0.6)
    later = await deliver(3)
    assert later is not None
    assert later > first
    assert await _count(sessions) == 3
