"""The sprint-report cache in the database: a board's load marks and its issues, per site.

Every process of a deployment reads and refreshes the same cache, so a report served by any
host is as warm as the last refresh made by any other. Writes are upserts: two hosts refreshing
the same board at once both succeed, and an issue copy is only replaced by one at least as new
(Jira's ``updated``), so the slower writer cannot put back an older copy.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jirabridge.store.db import (
    dialect_insert,
    read_transaction,
    storage_errors,
    write_transaction,
)
from jirabridge.store.models import utcnow
from jirabridge.store.report_cache_models import ReportCacheBoardRow, ReportCacheIssueRow

__all__ = [
    "CachedBoard",
    "CachedIssue",
    "ReportCacheStore",
    "connection_cache_site",
    "forget_cache_site",
]

#: Rows per multi-row statement: well under SQLite's limit of bound parameters.
_CHUNK = 200


def connection_cache_site(connection_id: str) -> str:
    """The cache site of a connection's reports: the service caches per connection, so a
    report never reads issues fetched with another person's permissions."""
    return f"connection-{connection_id}"


async def forget_cache_site(session: AsyncSession, site: str) -> int:
    """Drop every cached board of ``site`` (their issues go with them, by the foreign key's
    cascade) inside the caller's transaction; how many boards were dropped."""
    result = await session.execute(
        delete(ReportCacheBoardRow).where(ReportCacheBoardRow.site == site)
    )
    return int(getattr(result, "rowcount", 0) or 0)


@dataclass(frozen=True, slots=True)
class CachedIssue:
    """One cached issue: its key, Jira id, Jira's ``updated`` and the raw JSON kept."""

    key: str
    id: str | None
    updated: datetime | None
    raw: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CachedBoard:
    """A board's cache as stored: the load marks and every issue."""

    meta: dict[str, Any]
    issues: list[CachedIssue]


def _storage_errors(action: str) -> AbstractContextManager[None]:
    return storage_errors("report cache", action)


class ReportCacheStore:
    """Loads and saves board caches; one short transaction per call."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def load(self, site: str, board_id: int) -> CachedBoard | None:
        """The board's cache, or None when nothing was saved for it."""
        with _storage_errors("read a board"):
            async with read_transaction(self._sessions) as session:
                board = await session.scalar(
                    select(ReportCacheBoardRow).where(
                        ReportCacheBoardRow.site == site, ReportCacheBoardRow.board_id == board_id
                    )
                )
                if board is None:
                    return None
                rows = await session.scalars(
                    select(ReportCacheIssueRow)
                    .where(ReportCacheIssueRow.board_row_id == board.id)
                    .order_by(ReportCacheIssueRow.id)
                )
                issues = [CachedIssue(r.issue_key, r.issue_id, r.jira_updated, r.raw) for r in rows]
                return CachedBoard(dict(board.meta), issues)

    async def save(
        self,
        site: str,
        board_id: int,
        meta: dict[str, Any],
        *,
        upsert: Sequence[CachedIssue] = (),
        drop: Collection[str] = (),
        replace: bool = False,
    ) -> None:
        """Store the marks, add or refresh ``upsert``, remove ``drop`` (keys), all at once.

        ``replace`` empties the board's issues first (a cache built from scratch).
        """
        now = utcnow()
        with _storage_errors("save a board"):
            async with write_transaction(self._sessions) as session:
                insert = dialect_insert(session)
                board_stmt = (
                    insert(ReportCacheBoardRow)
                    .values(site=site, board_id=board_id, meta=meta, created_at=now, updated_at=now)
                    .on_conflict_do_update(
                        index_elements=["site", "board_id"], set_={"meta": meta, "updated_at": now}
                    )
                    .returning(ReportCacheBoardRow.id)
                )
                board_row = int((await session.execute(board_stmt)).scalar_one())
                issues = ReportCacheIssueRow
                if replace:
                    await session.execute(delete(issues).where(issues.board_row_id == board_row))
                keys = sorted(set(drop))
                for start in range(0, len(keys), _CHUNK):
                    await session.execute(
                        delete(issues).where(
                            issues.board_row_id == board_row,
                            issues.issue_key.in_(keys[start : start + _CHUNK]),
                        )
                    )
                for start in range(0, len(upsert), _CHUNK):
                    values = [
                        {
                            "board_row_id": board_row,
                            "issue_key": i.key,
                            "issue_id": i.id,
                            "jira_updated": i.updated,
                            "raw": i.raw,
                        }
                        for i in upsert[start : start + _CHUNK]
                    ]
                    stmt = insert(issues).values(values)
                    newer = or_(
                        issues.jira_updated.is_(None),
                        stmt.excluded.jira_updated.is_(None),
                        stmt.excluded.jira_updated >= issues.jira_updated,
                    )
                    await session.execute(
                        stmt.on_conflict_do_update(
                            index_elements=["board_row_id", "issue_key"],
                            set_={
                                "issue_id": stmt.excluded.issue_id,
                                "jira_updated": stmt.excluded.jira_updated,
                                "raw": stmt.excluded.raw,
                            },
                            where=newer,
                        )
                    )

    async def forget(self, site: str, board_id: int) -> bool:
        """Drop a board's cache (its issues go with it); True if there was one."""
        with _storage_errors("drop a board"):
            async with write_transaction(self._sessions) as session:
                result = await session.execute(
                    delete(ReportCacheBoardRow).where(
                        ReportCacheBoardRow.site == site, ReportCacheBoardRow.board_id == board_id
                    )
                )
                return bool(getattr(result, "rowcount", 0))
