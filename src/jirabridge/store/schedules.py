"""Per-connection schedules kept in the database: claim a due row once, whoever asks.

Every worker process runs the same timer. A row is claimed by a conditional UPDATE that moves
its ``next_run_at`` past ``now`` only if it is still due, so of several workers ticking at once
exactly one gets each row (the same compare-and-set the delivery queue leases with). A worker
that dies mid-round just leaves the row to come due again at its next interval.

Also here: which connections and projects are "in use", the inputs both schedules start from.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from jirabridge.store.account_models import ConnectionKind, JiraConnectionRow
from jirabridge.store.webhook_models import (
    DynamicWebhookRow,
    EndpointKind,
    PollWatermarkRow,
    StatusLinkRow,
    WebhookEndpointRow,
)
from jirabridge.store.worklog_models import TimeRecordRow

__all__ = [
    "ScheduleRow",
    "claim_due_rows",
    "connections_in_use",
    "ensure_dynamic_rows",
    "ensure_watermark_rows",
    "projects_in_use",
    "request_poll",
]

ScheduleRow = TypeVar("ScheduleRow", DynamicWebhookRow, PollWatermarkRow)


async def claim_due_rows(
    session: AsyncSession,
    model: type[ScheduleRow],
    *,
    now: datetime,
    every: timedelta,
    limit: int = 50,
) -> list[ScheduleRow]:
    """Claim up to ``limit`` rows due at ``now``: each moves to ``now + every``. The caller
    commits before doing the work, so other workers see the claim at once."""
    due = list(
        await session.scalars(
            select(model.connection_id)
            .where(model.next_run_at <= now)
            .order_by(model.next_run_at)
            .limit(limit)
        )
    )
    claimed: list[ScheduleRow] = []
    for connection_id in due:
        result = await session.execute(
            update(model)
            .where(model.connection_id == connection_id, model.next_run_at <= now)
            .values(next_run_at=now + every)
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0):
            row = await session.get(model, connection_id, populate_existing=True)
            if row is not None:
                claimed.append(row)
    return claimed


async def connections_in_use(session: AsyncSession) -> list[str]:
    """Active connections something follows: a status link or a time record with an issue."""
    linked = select(StatusLinkRow.connection_id)
    recorded = select(TimeRecordRow.connection_id).where(
        TimeRecordRow.connection_id.is_not(None), TimeRecordRow.issue_key.is_not(None)
    )
    rows = await session.scalars(
        select(JiraConnectionRow.id)
        .where(
            JiraConnectionRow.is_active.is_(True),
            JiraConnectionRow.id.in_(linked.union(recorded).subquery().select()),
        )
        .order_by(JiraConnectionRow.id)
    )
    return list(rows)


async def projects_in_use(session: AsyncSession, connection_id: str) -> list[str]:
    """Project keys of the issues a connection's links and time records point at, sorted."""
    keys = set(
        await session.scalars(
            select(StatusLinkRow.issue_key).where(StatusLinkRow.connection_id == connection_id)
        )
    )
    keys.update(
        k
        for k in await session.scalars(
            select(TimeRecordRow.issue_key).where(
                TimeRecordRow.connection_id == connection_id,
                TimeRecordRow.issue_key.is_not(None),
                TimeRecordRow.deleted_at.is_(None),
            )
        )
        if k is not None
    )
    # Stored keys are validated on the way in; the project is what precedes the last dash.
    return sorted({k.rsplit("-", 1)[0].upper() for k in keys if "-" in k})


async def ensure_watermark_rows(
    session: AsyncSession, connection_ids: Sequence[str], now: datetime
) -> int:
    """Give every connection in ``connection_ids`` a polling row (due now); returns how many
    were added. Two workers adding the same row race on the primary key; the loser's insert
    fails and its tick is simply skipped, so callers run this in its own transaction."""
    have = set(
        await session.scalars(
            select(PollWatermarkRow.connection_id).where(
                PollWatermarkRow.connection_id.in_(connection_ids)
            )
        )
    )
    added = [c for c in connection_ids if c not in have]
    for connection_id in added:
        session.add(PollWatermarkRow(connection_id=connection_id, next_run_at=now))
    await session.flush()
    return len(added)


async def ensure_dynamic_rows(session: AsyncSession, now: datetime) -> int:
    """Give every active OAuth connection that has a dynamic endpoint a registration row.

    The endpoint (``kind='dynamic'``, tied to the connection) is what says "keep webhooks
    registered for this connection"; the oldest one wins when there are several.
    """
    have = select(DynamicWebhookRow.connection_id)
    candidates = (
        await session.execute(
            select(WebhookEndpointRow.connection_id, func.min(WebhookEndpointRow.id))
            .join(JiraConnectionRow, JiraConnectionRow.id == WebhookEndpointRow.connection_id)
            .where(
                WebhookEndpointRow.kind == EndpointKind.DYNAMIC.value,
                WebhookEndpointRow.is_active.is_(True),
                JiraConnectionRow.kind == ConnectionKind.OAUTH.value,
                JiraConnectionRow.is_active.is_(True),
                WebhookEndpointRow.connection_id.not_in(have),
            )
            .group_by(WebhookEndpointRow.connection_id)
        )
    ).all()
    for connection_id, endpoint_id in candidates:
        session.add(
            DynamicWebhookRow(
                connection_id=connection_id,
                endpoint_id=endpoint_id,
                webhook_ids=[],
                events=[],
                next_run_at=now,
            )
        )
    await session.flush()
    return len(candidates)


async def request_poll(session: AsyncSession, connection_id: str, now: datetime) -> None:
    """Make the connection's next pull due now (a worklog event says there is news).

    Inside the caller's transaction; a connection without a polling row gets one.
    """
    row = await session.get(PollWatermarkRow, connection_id)
    if row is None:
        if await session.get(JiraConnectionRow, connection_id) is not None:
            session.add(PollWatermarkRow(connection_id=connection_id, next_run_at=now))
        return
    if row.next_run_at > now:
        row.next_run_at = now
