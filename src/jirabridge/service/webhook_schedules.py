"""The webhook feature's scheduled work: keep dynamic webhooks alive, poll what webhooks missed.

:class:`WebhookSchedules` runs in every worker process (a timer in
:mod:`jirabridge.service.runtime`). Each tick claims due rows of two tables with a conditional
UPDATE (:func:`jirabridge.store.schedules.claim_due_rows`), so however many workers tick at
once, each connection's round runs once per interval:

* ``dynamic_webhooks``: list the connection's webhooks in Jira, refresh them well before their
  30-day expiry, register again what Jira lost, store ids, JQL filter, events and expiry;
* ``poll_watermarks``: search ``updated >= watermark - overlap`` in the projects in use, apply
  each status through the same code as the webhooks, ask for a worklog pull-back, and move the
  watermark only after all of that succeeded.

The clock is injected; tests call :meth:`WebhookSchedules.tick` with the time they want.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jirabridge.errors import JirabridgeError, NotFoundError
from jirabridge.jira.models import Issue
from jirabridge.service.connection_clients import JiraClientFactory
from jirabridge.service.settings import Settings
from jirabridge.store.account_models import JiraConnectionRow
from jirabridge.store.db import read_transaction, write_transaction
from jirabridge.store.schedules import (
    ScheduleRow,
    claim_due_rows,
    connections_in_use,
    ensure_dynamic_rows,
    ensure_watermark_rows,
    projects_in_use,
)
from jirabridge.store.webhook_models import DynamicWebhookRow, PollWatermarkRow
from jirabridge.sync.dynamic_webhooks import (
    DEFAULT_REFRESH_BEFORE,
    DYNAMIC_EVENTS,
    WebhookApi,
    keep_registered,
    project_filter,
    remove_registered,
)
from jirabridge.sync.status_poll import DEFAULT_OVERLAP, poll_statuses, poll_window
from jirabridge.sync.status_sync import StatusSync

__all__ = [
    "ScheduleConfig",
    "ScheduledJira",
    "TickReport",
    "WebhookSchedules",
    "client_opener",
    "schedules_for_runtime",
]

log = logging.getLogger(__name__)

_MAX_ERROR = 2000

#: The fields a status poll needs from each issue.
_POLL_FIELDS = ("status", "updated")


class ScheduledJira(WebhookApi, Protocol):
    """What the schedules use of a Jira client: the webhook API and search."""

    def search(self, jql: str, *, fields: tuple[str, ...]) -> AsyncIterator[Issue]: ...


#: Opens a client for a connection id (closing it on exit).
ClientFor = Callable[[str], AbstractAsyncContextManager[ScheduledJira]]


@dataclass(frozen=True, slots=True)
class ScheduleConfig:
    """How often each round runs, and how far it looks back."""

    dynamic_every: timedelta = timedelta(hours=12)
    refresh_before: timedelta = DEFAULT_REFRESH_BEFORE
    poll_every: timedelta = timedelta(minutes=5)
    overlap: timedelta = DEFAULT_OVERLAP


@dataclass
class TickReport:
    """What one tick did: connection ids per outcome."""

    registered: list[str] = field(default_factory=list)
    polled: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def _describe(error: BaseException) -> str:
    text = error.message if isinstance(error, JirabridgeError) else str(error)
    return f"{type(error).__name__}: {text}"[:_MAX_ERROR]


class WebhookSchedules:
    """Dynamic webhook upkeep and the polling fallback, for every connection in use."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        client_for: ClientFor,
        status: StatusSync,
        *,
        public_base: str,
        config: ScheduleConfig | None = None,
        worklog_pull: Callable[[str, datetime], Awaitable[object]] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._sessions = sessions
        self._client_for = client_for
        self._status = status
        self._base = public_base.rstrip("/")
        self.config = config or ScheduleConfig()
        self._worklog_pull = worklog_pull
        self._clock = clock

    def endpoint_url(self, endpoint_id: str) -> str:
        """The public URL Jira delivers a dynamic endpoint's events to."""
        return f"{self._base}/webhooks/jira/{endpoint_id}"

    async def tick(self, now: datetime | None = None) -> TickReport:
        """Run every round that is due at ``now`` (default: the clock)."""
        now = now or self._clock()
        report = TickReport()
        await self._ensure_rows(now)
        config = self.config
        await self._round(
            DynamicWebhookRow,
            config.dynamic_every,
            self._keep_alive,
            now,
            report.registered,
            report,
        )
        await self._round(
            PollWatermarkRow, config.poll_every, self._poll, now, report.polled, report
        )
        return report

    async def run(self, stop: asyncio.Event, *, every_sec: float = 60.0) -> None:
        """Tick every ``every_sec`` seconds until ``stop`` is set; errors are logged."""
        while not stop.is_set():
            try:
                await self.tick()
            except JirabridgeError as exc:
                log.warning("webhook schedules: tick failed: %s", exc.message)
            except Exception:
                log.exception("webhook schedules: tick failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=every_sec)

    async def _ensure_rows(self, now: datetime) -> None:
        try:
            async with write_transaction(self._sessions) as session:
                await ensure_dynamic_rows(session, now)
                await ensure_watermark_rows(session, await connections_in_use(session), now)
        except IntegrityError:
            # Another worker added the same rows a moment ago; its rows serve us too.
            log.debug("webhook schedules: rows added concurrently")

    async def _claim(self, model: type[ScheduleRow], now: datetime, every: timedelta) -> list[str]:
        async with write_transaction(self._sessions) as session:
            rows = await claim_due_rows(session, model, now=now, every=every)
            return [row.connection_id for row in rows]

    async def _round(
        self,
        model: type[ScheduleRow],
        every: timedelta,
        work: Callable[[str, datetime], Awaitable[None]],
        now: datetime,
        done: list[str],
        report: TickReport,
    ) -> None:
        for connection_id in await self._claim(model, now, every):
            try:
                await work(connection_id, now)
                done.append(connection_id)
            except Exception as exc:  # one connection's failure must not stop the others
                report.failed[connection_id] = _describe(exc)
                log.warning(
                    "%s of connection %s: %s", model.__tablename__, connection_id, _describe(exc)
                )
                await self._record_error(model, connection_id, now, _describe(exc))

    async def _keep_alive(self, connection_id: str, now: datetime) -> None:
        async with self._sessions() as session:
            row = await session.get(DynamicWebhookRow, connection_id)
            projects = await projects_in_use(session, connection_id)
        if row is None:
            return
        if not projects:
            # Nothing followed on this site yet: no hook to keep (Jira requires a JQL filter).
            await self._record_error(DynamicWebhookRow, connection_id, now, None)
            return
        jql = project_filter(projects)
        url = self.endpoint_url(row.endpoint_id)
        async with self._client_for(connection_id) as api:
            _plan, result = await keep_registered(
                api, url, jql, now, refresh_before=self.config.refresh_before
            )
        async with write_transaction(self._sessions) as session:
            stored = await session.get(DynamicWebhookRow, connection_id)
            if stored is None:  # disconnected meanwhile
                return
            stored.webhook_ids = sorted(result.webhook_ids)
            stored.jql_filter = jql
            stored.events = list(DYNAMIC_EVENTS)
            stored.expires_at = result.expires_at
            stored.last_run_at = now
            stored.last_error = "; ".join(result.errors)[:_MAX_ERROR] or None

    async def _poll(self, connection_id: str, now: datetime) -> None:
        async with self._sessions() as session:
            row = await session.get(PollWatermarkRow, connection_id)
            projects = await projects_in_use(session, connection_id)
        if row is None:
            return
        if projects:
            window = poll_window(projects, row.watermark, now, overlap=self.config.overlap)
            async with self._client_for(connection_id) as jira:

                def search(jql: str) -> AsyncIterator[Issue]:
                    return jira.search(jql, fields=_POLL_FIELDS)

                await poll_statuses(
                    search, self._sessions, self._status, site=connection_id, window=window, now=now
                )
        if self._worklog_pull is not None:
            await self._worklog_pull(connection_id, now)
        async with write_transaction(self._sessions) as session:
            stored = await session.get(PollWatermarkRow, connection_id)
            if stored is not None:
                # Only now: a pull that failed half-way is read again from the old watermark.
                stored.watermark = now
                stored.last_run_at = now
                stored.last_error = None

    async def _record_error(
        self,
        model: type[ScheduleRow],
        connection_id: str,
        now: datetime,
        error: str | None,
    ) -> None:
        async with write_transaction(self._sessions) as session:
            row = await session.get(model, connection_id)
            if row is not None:
                row.last_run_at = now
                row.last_error = error

    async def unregister(self, connection: JiraConnectionRow) -> list[int]:
        """Delete the connection's dynamic webhooks in Jira and forget them (on disconnect).

        Called while the connection still has its tokens. Returns the ids deleted.
        """
        async with self._sessions() as session:
            row = await session.get(DynamicWebhookRow, connection.id)
        if row is None:
            return []
        async with self._client_for(connection.id) as api:
            deleted = await remove_registered(
                api, self.endpoint_url(row.endpoint_id), row.webhook_ids
            )
        async with write_transaction(self._sessions) as session:
            stored = await session.get(DynamicWebhookRow, connection.id)
            if stored is not None:
                await session.delete(stored)
        return deleted


def client_opener(
    sessions: async_sessionmaker[AsyncSession], clients: JiraClientFactory
) -> ClientFor:
    """Open a client for a stored connection by id (closed when the block ends)."""

    @asynccontextmanager
    async def client_for(connection_id: str) -> AsyncIterator[ScheduledJira]:
        async with read_transaction(sessions) as session:
            row = await session.get(JiraConnectionRow, connection_id)
        if row is None:
            raise NotFoundError("the connection is gone")
        client = await clients.for_connection(row)
        try:
            yield client
        finally:
            await client.aclose()

    return client_for


def schedules_for_runtime(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    *,
    worklog_pull: Callable[[str, datetime], Awaitable[object]] | None = None,
) -> WebhookSchedules:
    """The schedules of a worker process, with clients from the stored connections."""
    from jirabridge.service.account_wiring import build_accounts_context
    from jirabridge.service.webhook_wiring import build_webhooks_context

    clients = build_accounts_context(settings, sessions).clients
    webhooks = build_webhooks_context(settings, sessions)
    client_for = client_opener(sessions, clients)

    return WebhookSchedules(
        sessions,
        client_for,
        webhooks.status,
        public_base=webhooks.public_base,
        config=ScheduleConfig(
            dynamic_every=timedelta(seconds=settings.dynamic_webhook_check_sec),
            poll_every=timedelta(seconds=settings.status_poll_interval_sec),
        ),
        worklog_pull=worklog_pull,
    )
