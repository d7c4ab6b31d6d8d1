"""Time records and their sync attempts, scoped to what one user may see.

A user sees their own records and their teams' records; anything else is "not found", never
"forbidden", so ids of other people's records leak nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from jirabridge.errors import NotFoundError
from jirabridge.store.account_models import TeamMembershipRow
from jirabridge.store.worklog_models import SyncAttemptRow, TimeRecordRow

__all__ = ["RecordFilter", "TimeRecordRepository"]


@dataclass(frozen=True, slots=True)
class RecordFilter:
    """Filters for listing records (all optional)."""

    since: datetime | None = None
    until: datetime | None = None
    sync_state: str | None = None
    issue_key: str | None = None
    include_deleted: bool = False


class TimeRecordRepository:
    """Time records and attempts visible to ``user_id``: their own and their teams'."""

    def __init__(self, session: AsyncSession, user_id: str) -> None:
        self._session = session
        self._user_id = user_id

    def _visible(self) -> ColumnElement[bool]:
        my_teams = select(TeamMembershipRow.team_id).where(
            TeamMembershipRow.user_id == self._user_id
        )
        return or_(
            TimeRecordRow.owner_user_id == self._user_id,
            TimeRecordRow.owner_team_id.in_(my_teams),
        )

    async def list(
        self, filters: RecordFilter = RecordFilter(), *, offset: int = 0, limit: int = 50
    ) -> tuple[Sequence[TimeRecordRow], int]:
        """A page of records, newest start first, and the total matching the filters."""
        query = select(TimeRecordRow).where(self._visible())
        if not filters.include_deleted:
            query = query.where(TimeRecordRow.deleted_at.is_(None))
        if filters.since is not None:
            query = query.where(TimeRecordRow.started_at >= filters.since)
        if filters.until is not None:
            query = query.where(TimeRecordRow.started_at < filters.until)
        if filters.sync_state is not None:
            query = query.where(TimeRecordRow.sync_state == filters.sync_state)
        if filters.issue_key is not None:
            query = query.where(TimeRecordRow.issue_key == filters.issue_key)
        total = (
            await self._session.execute(select(func.count()).select_from(query.subquery()))
        ).scalar_one()
        page = await self._session.execute(
            query.order_by(TimeRecordRow.started_at.desc(), TimeRecordRow.id)
            .offset(offset)
            .limit(limit)
        )
        return page.scalars().all(), int(total)

    async def get(self, record_id: str, *, include_deleted: bool = False) -> TimeRecordRow:
        """One visible record, or :class:`NotFoundError`."""
        query = select(TimeRecordRow).where(TimeRecordRow.id == record_id, self._visible())
        if not include_deleted:
            query = query.where(TimeRecordRow.deleted_at.is_(None))
        row = (await self._session.execute(query)).scalar_one_or_none()
        if row is None:
            raise NotFoundError("no such time record")
        return row

    async def add(self, row: TimeRecordRow) -> TimeRecordRow:
        """Insert a record owned by this user or by one of their teams."""
        if row.owner_team_id is not None:
            member = await self._session.get(TeamMembershipRow, (row.owner_team_id, self._user_id))
            if member is None:
                raise NotFoundError("no such team")
        else:
            row.owner_user_id = self._user_id
        self._session.add(row)
        await self._session.flush()
        return row

    async def attempts(
        self,
        *,
        record_id: str | None = None,
        status: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 200,
    ) -> Sequence[SyncAttemptRow]:
        """Sync attempts on visible records, newest first."""
        visible_ids = select(TimeRecordRow.id).where(self._visible())
        query = select(SyncAttemptRow).where(SyncAttemptRow.record_id.in_(visible_ids))
        if record_id is not None:
            query = query.where(SyncAttemptRow.record_id == record_id)
        if status is not None:
            query = query.where(SyncAttemptRow.status == status)
        if since is not None:
            query = query.where(SyncAttemptRow.created_at >= since)
        if until is not None:
            query = query.where(SyncAttemptRow.created_at < until)
        result = await self._session.execute(query.order_by(SyncAttemptRow.id.desc()).limit(limit))
        return result.scalars().all()
