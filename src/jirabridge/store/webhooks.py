"""Repository of webhook endpoints and deliveries: store once, lease, finish, dead-letter, replay.

The delivery table is the durable queue. Intake inserts a row (a repeated delivery id hits the
unique constraint and is dropped); a worker leases due rows, and finishes each one in the same
transaction as the handler's own database effects, so a crash anywhere leaves either both or
neither (see docs/decisions/0500-delivery-table-as-queue.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from jirabridge.errors import NotFoundError, ValidationError
from jirabridge.store.ledger import LedgerEntry
from jirabridge.store.models import WriteLedgerRow
from jirabridge.store.webhook_models import (
    DeliveryStatus,
    DynamicWebhookRow,
    PollWatermarkRow,
    WebhookDeliveryRow,
    WebhookEndpointRow,
)

__all__ = [
    "EndpointHealth",
    "NewDelivery",
    "Owner",
    "claim_due",
    "endpoint_health",
    "fail_delivery",
    "finish_delivery",
    "get_endpoint",
    "get_owned_delivery",
    "get_owned_endpoint",
    "list_deliveries",
    "list_endpoints",
    "own_writes_on",
    "record_deliveries",
    "record_delivery",
    "replay_deliveries",
    "touch_endpoints",
]

#: Longest error text kept on a delivery (the full traceback goes to the log, not the table).
_MAX_ERROR = 2000


@dataclass(frozen=True, slots=True)
class Owner:
    """The user (and the teams they belong to) whose objects a query may see."""

    user_id: str
    team_ids: tuple[str, ...] = ()

    def endpoint_filter(self) -> Any:
        """A WHERE clause matching endpoints this owner may see."""
        clause = WebhookEndpointRow.owner_user_id == self.user_id
        if self.team_ids:
            clause = clause | WebhookEndpointRow.owner_team_id.in_(self.team_ids)
        return clause


async def get_endpoint(session: AsyncSession, endpoint_id: str) -> WebhookEndpointRow | None:
    """The endpoint with this id, whoever owns it (intake only: the URL is the capability)."""
    return await session.get(WebhookEndpointRow, endpoint_id)


async def get_owned_endpoint(
    session: AsyncSession, owner: Owner, endpoint_id: str
) -> WebhookEndpointRow:
    """The endpoint, if ``owner`` may see it; another owner's endpoint is a 404."""
    row = await session.scalar(
        select(WebhookEndpointRow).where(
            WebhookEndpointRow.id == endpoint_id, owner.endpoint_filter()
        )
    )
    if row is None:
        raise NotFoundError("no such webhook endpoint")
    return row


async def list_endpoints(session: AsyncSession, owner: Owner) -> list[WebhookEndpointRow]:
    """The owner's endpoints, oldest first."""
    result = await session.scalars(
        select(WebhookEndpointRow)
        .where(owner.endpoint_filter())
        .order_by(WebhookEndpointRow.created_at, WebhookEndpointRow.id)
    )
    return list(result)


def _insert_for(session: AsyncSession) -> Any:
    # Both dialects spell "insert unless the unique key exists" the same way in SQLAlchemy.
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert
    return sqlite.insert


async def record_delivery(
    session: AsyncSession,
    *,
    endpoint_id: str,
    source: str,
    delivery_id: str,
    event: str,
    body: bytes,
    headers: Mapping[str, str],
    now: datetime,
) -> bool:
    """Store a verified delivery unless its id was seen; ``True`` if it is new.

    The caller commits; the sender must only be answered 2xx after that commit.
    """
    if not delivery_id or len(delivery_id) > 255:
        raise ValidationError("a webhook delivery id must be 1 to 255 characters")
    insert = _insert_for(session)
    statement = (
        insert(WebhookDeliveryRow)
        .values(
            endpoint_id=endpoint_id,
            source=source,
            delivery_id=delivery_id,
            event=event[:128],
            body=body,
            headers=dict(headers),
            status=DeliveryStatus.PENDING.value,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["endpoint_id", "delivery_id"])
    )
    result = await session.execute(statement)
    return bool(getattr(result, "rowcount", 0))


@dataclass(frozen=True, slots=True)
class NewDelivery:
    """One verified delivery to store (see :func:`record_deliveries`)."""

    endpoint_id: str
    source: str
    delivery_id: str
    event: str
    body: bytes
    headers: dict[str, str]


async def record_deliveries(
    session: AsyncSession, items: Sequence[NewDelivery], now: datetime
) -> list[bool]:
    """Store many deliveries in one statement; for each, ``True`` if it was new.

    ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` (multi-row, both backends) names the rows
    actually inserted; the rest were repeats. The caller commits.
    """
    if not items:
        return []
    for item in items:
        if not item.delivery_id or len(item.delivery_id) > 255:
            raise ValidationError("a webhook delivery id must be 1 to 255 characters")
    insert = _insert_for(session)
    # The Core table, not the mapped class, and one statement executed with many parameter
    # sets (SQLAlchemy's "insertmanyvalues" turns it into multi-row INSERTs): compiled once and
    # cached, where a ``.values([...])`` statement was compiled again for every batch, and the
    # ORM's bulk path cost more CPU than the insert itself on the intake's hot path.
    table = WebhookDeliveryRow.__table__
    statement = (
        insert(table)
        .on_conflict_do_nothing(index_elements=["endpoint_id", "delivery_id"])
        .returning(table.c.endpoint_id, table.c.delivery_id)
    )
    parameters = [
        {
            "endpoint_id": item.endpoint_id,
            "source": item.source,
            "delivery_id": item.delivery_id,
            "event": item.event[:128],
            "body": item.body,
            "headers": item.headers,
            "status": DeliveryStatus.PENDING.value,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for item in items
    ]
    result = await session.execute(statement, parameters)
    inserted = {(row[0], row[1]) for row in result}
    results: list[bool] = []
    for item in items:
        key = (item.endpoint_id, item.delivery_id)
        # The same id twice in one batch: only the first counts as new.
        results.append(key in inserted)
        inserted.discard(key)
    return results


async def touch_endpoints(session: AsyncSession, endpoint_ids: set[str], now: datetime) -> None:
    """Record that these endpoints received an event at ``now`` (the health view's figure)."""
    await session.execute(
        update(WebhookEndpointRow)
        .where(WebhookEndpointRow.id.in_(endpoint_ids))
        .values(last_event_at=now)
        .execution_options(synchronize_session=False)
    )


async def claim_due(
    session: AsyncSession, *, worker: str, now: datetime, lease: timedelta, limit: int = 50
) -> list[int]:
    """Lease up to ``limit`` due pending deliveries to ``worker``; returns their ids.

    A lease is ``next_attempt_at`` pushed into the future: a worker that dies holding it just
    lets it run out, and the delivery becomes due again. The caller commits.
    """
    candidates = list(
        await session.scalars(
            select(WebhookDeliveryRow.id)
            .where(
                WebhookDeliveryRow.status == DeliveryStatus.PENDING.value,
                WebhookDeliveryRow.next_attempt_at <= now,
            )
            .order_by(WebhookDeliveryRow.next_attempt_at, WebhookDeliveryRow.id)
            .limit(limit)
        )
    )
    claimed: list[int] = []
    for delivery_pk in candidates:
        # Conditional on still being due: of two workers racing for a row, one update wins.
        result = await session.execute(
            update(WebhookDeliveryRow)
            .where(
                WebhookDeliveryRow.id == delivery_pk,
                WebhookDeliveryRow.status == DeliveryStatus.PENDING.value,
                WebhookDeliveryRow.next_attempt_at <= now,
            )
            .values(lease_owner=worker, next_attempt_at=now + lease)
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0):
            claimed.append(delivery_pk)
    return claimed


async def finish_delivery(
    session: AsyncSession, delivery_pk: int, *, worker: str, now: datetime
) -> WebhookDeliveryRow | None:
    """Mark a leased delivery done, inside the transaction that applies its effects.

    Returns the row, or ``None`` when this worker no longer holds it (someone else took it
    over after the lease ran out): the caller must then roll back instead of applying.
    """
    result = await session.execute(
        update(WebhookDeliveryRow)
        .where(
            WebhookDeliveryRow.id == delivery_pk,
            WebhookDeliveryRow.status == DeliveryStatus.PENDING.value,
            WebhookDeliveryRow.lease_owner == worker,
        )
        .values(
            status=DeliveryStatus.DONE.value,
            processed_at=now,
            attempts=WebhookDeliveryRow.attempts + 1,
            last_error=None,
        )
        .execution_options(synchronize_session=False)
    )
    if not getattr(result, "rowcount", 0):
        return None
    return await session.get(WebhookDeliveryRow, delivery_pk, populate_existing=True)


async def fail_delivery(
    session: AsyncSession,
    delivery_pk: int,
    *,
    worker: str,
    now: datetime,
    error: str,
    backoff: Sequence[timedelta],
) -> DeliveryStatus | None:
    """Record a failed attempt: retry after the next backoff step, or dead-letter it.

    ``backoff`` lists the waits between attempts; after ``len(backoff) + 1`` failed attempts
    the delivery is dead. Returns the new status, or ``None`` if this worker lost the lease.
    """
    row = await session.get(WebhookDeliveryRow, delivery_pk, populate_existing=True)
    if row is None or row.status != DeliveryStatus.PENDING or row.lease_owner != worker:
        return None
    row.attempts += 1
    row.last_error = error[:_MAX_ERROR]
    row.lease_owner = None
    if row.attempts > len(backoff):
        row.status = DeliveryStatus.DEAD.value
        row.next_attempt_at = now
    else:
        row.next_attempt_at = now + backoff[row.attempts - 1]
    return DeliveryStatus(row.status)


def _owned_deliveries(owner: Owner) -> Select[WebhookDeliveryRow]:
    return (
        select(WebhookDeliveryRow)
        .join(WebhookEndpointRow, WebhookEndpointRow.id == WebhookDeliveryRow.endpoint_id)
        .where(owner.endpoint_filter())
    )


async def list_deliveries(
    session: AsyncSession,
    owner: Owner,
    *,
    status: DeliveryStatus | None = None,
    limit: int = 100,
) -> list[WebhookDeliveryRow]:
    """The owner's deliveries, newest first."""
    query = _owned_deliveries(owner)
    if status is not None:
        query = query.where(WebhookDeliveryRow.status == status.value)
    rows = await session.scalars(query.order_by(WebhookDeliveryRow.id.desc()).limit(limit))
    return list(rows)


async def get_owned_delivery(
    session: AsyncSession, owner: Owner, delivery_pk: int
) -> WebhookDeliveryRow:
    """One delivery of the owner's; another owner's is a 404."""
    row = await session.scalar(_owned_deliveries(owner).where(WebhookDeliveryRow.id == delivery_pk))
    if row is None:
        raise NotFoundError("no such webhook delivery")
    return row


async def replay_deliveries(
    session: AsyncSession,
    owner: Owner,
    *,
    now: datetime,
    delivery_pk: int | None = None,
) -> int:
    """Queue dead deliveries again: one (``delivery_pk``) or all of the owner's dead ones.

    Replaying one that is already done processes it again on purpose (the operator asked);
    handlers are idempotent on state, so that is safe. Returns how many were queued.
    """
    if delivery_pk is not None:
        rows = [await get_owned_delivery(session, owner, delivery_pk)]
    else:
        rows = await list_deliveries(session, owner, status=DeliveryStatus.DEAD, limit=10_000)
    for row in rows:
        row.status = DeliveryStatus.PENDING.value
        row.attempts = 0
        row.next_attempt_at = now
        row.lease_owner = None
        row.last_error = None
    return len(rows)


async def own_writes_on(
    session: AsyncSession, *, site: str, kind: str, target: str
) -> list[LedgerEntry]:
    """Our ledger entries of ``kind`` on ``target`` (an issue key): what echoes can match."""
    rows = await session.scalars(
        select(WriteLedgerRow).where(
            WriteLedgerRow.site == site,
            WriteLedgerRow.kind == kind,
            WriteLedgerRow.target == target,
        )
    )
    return [LedgerEntry.from_row(row) for row in rows]


@dataclass(frozen=True, slots=True)
class EndpointHealth:
    """How one endpoint (and the connection behind it) is doing: the health view's row."""

    endpoint: WebhookEndpointRow
    #: Deliveries waiting or dead-lettered.
    pending: int
    dead: int
    #: The dynamic webhook registration (OAuth connections) and the polling fallback, if any.
    registration: DynamicWebhookRow | None
    polling: PollWatermarkRow | None


async def endpoint_health(session: AsyncSession, owner: Owner) -> list[EndpointHealth]:
    """Every endpoint of ``owner`` with its last event, backlog and schedules, oldest first."""
    endpoints = await list_endpoints(session, owner)
    ids = [e.id for e in endpoints]
    counts: dict[tuple[str, str], int] = {}
    if ids:
        rows = await session.execute(
            select(WebhookDeliveryRow.endpoint_id, WebhookDeliveryRow.status, func.count())
            .where(
                WebhookDeliveryRow.endpoint_id.in_(ids),
                WebhookDeliveryRow.status != DeliveryStatus.DONE.value,
            )
            .group_by(WebhookDeliveryRow.endpoint_id, WebhookDeliveryRow.status)
        )
        counts = {(e, st): int(n) for e, st, n in rows.all()}
    connection_ids = {e.connection_id for e in endpoints if e.connection_id}
    registrations = {
        r.connection_id: r
        for r in await session.scalars(
            select(DynamicWebhookRow).where(DynamicWebhookRow.connection_id.in_(connection_ids))
        )
    }
    polls = {
        r.connection_id: r
        for r in await session.scalars(
            select(PollWatermarkRow).where(PollWatermarkRow.connection_id.in_(connection_ids))
        )
    }
    return [
        EndpointHealth(
            endpoint=e,
            pending=counts.get((e.id, DeliveryStatus.PENDING.value), 0),
            dead=counts.get((e.id, DeliveryStatus.DEAD.value), 0),
            registration=registrations.get(e.connection_id or ""),
            polling=polls.get(e.connection_id or ""),
        )
        for e in endpoints
    ]
