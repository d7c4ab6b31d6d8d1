"""Sprint reports for the service: a user's connection -> its boards and their reports.

Every call names the caller's user id; the connection is looked up scoped to it, so another
user's connection is a :class:`~jirabridge.errors.NotFoundError` (404), never a report.
The issue cache is kept per connection and board in the database (``report_cache_*``
tables), so every process and host of a deployment shares it (decision 0600).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jirabridge.service.connection_clients import JiraClientFactory
from jirabridge.service.connections import ConnectionService
from jirabridge.store.report_cache import ReportCacheStore, connection_cache_site
from jirabridge.sync.reports.board import BoardReport, board_report
from jirabridge.sync.reports.history import FieldIds
from jirabridge.sync.reports.source import DatabaseReportCache, ReportCache, SprintDataLoader

__all__ = ["BoardSummary", "ReportService"]


@dataclass(frozen=True)
class BoardSummary:
    """A board a connection can see."""

    id: int
    name: str
    type: str


class ReportService:
    """Boards and board reports through a user's own Jira connections."""

    def __init__(
        self,
        connections: ConnectionService,
        clients: JiraClientFactory,
        cache: ReportCache,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._connections = connections
        self._clients = clients
        self._cache = cache
        self._clock = clock

    @classmethod
    def with_database_cache(
        cls,
        connections: ConnectionService,
        clients: JiraClientFactory,
        sessions: async_sessionmaker[AsyncSession],
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> ReportService:
        """The service with its cache in the application database."""
        cache = DatabaseReportCache(ReportCacheStore(sessions))
        return cls(connections, clients, cache, clock=clock)

    def __repr__(self) -> str:
        return "ReportService()"

    async def boards(self, user_id: str, connection_id: str) -> list[BoardSummary]:
        """The boards the connection's Jira user can see."""
        row = await self._connections.get(user_id, connection_id)
        async with await self._clients.for_connection(row) as client:
            return [BoardSummary(b.id, b.name, b.type or "") async for b in client.boards()]

    async def board_report(
        self,
        user_id: str,
        connection_id: str,
        board_id: int,
        *,
        sprint_ids: Iterable[int] | None = None,
        last: int | None = None,
        zone: tzinfo = UTC,
        points_field: str | None = None,
    ) -> BoardReport:
        """The report of a board's chosen sprints (all started sprints by default)."""
        row = await self._connections.get(user_id, connection_id)
        fields = FieldIds(points=points_field) if points_field else None
        async with await self._clients.for_connection(row) as client:
            loader = SprintDataLoader(
                client,
                self._cache,
                site=connection_cache_site(row.id),
                field_ids=fields,
                clock=self._clock,
            )
            data = await loader.load(board_id, sprint_ids=sprint_ids, last=last)
        return board_report(board_id, data.sprints, data.histories, as_of=self._clock(), zone=zone)
