"""The features whose objects follow Jira's status: time records (#6) and exported stories (#7).

Each is a :data:`~jirabridge.sync.status_sync.SubjectSource`: given a connection and an issue
key, the local objects pointing at that issue. :func:`install_status_subjects` plugs them into
a :class:`~jirabridge.sync.status_sync.StatusSync`, so a Jira status change (webhook or poll)
is recorded on a status link per object, which the events page, the SSE stream and the
stories API read.

Exported items are found through :class:`ExportedItems`, a small interface implemented by
:class:`ExportHistoryItems` over the export history (``story_export_items``); the export's
detail reads the recorded status back through :func:`live_statuses`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from jirabridge.store.account_models import JiraConnectionRow
from jirabridge.store.export_models import ExportItemRow, StoryExportRow
from jirabridge.store.schedules import request_poll
from jirabridge.store.webhook_models import StatusLinkRow
from jirabridge.store.worklog_models import TimeRecordRow
from jirabridge.sync.dispatch import DeliveryContext, HandlerRegistry
from jirabridge.sync.status_sync import StatusSync, Subject, SubjectSource

__all__ = [
    "STORY_SUBJECT",
    "TIME_RECORD_SUBJECT",
    "WORKLOG_EVENTS",
    "ExportHistoryItems",
    "ExportedItem",
    "ExportedItems",
    "exported_items_with_status",
    "install_status_subjects",
    "live_statuses",
    "request_pull_on_worklog_event",
    "story_subjects",
    "time_record_subjects",
]

TIME_RECORD_SUBJECT = "time_record"
STORY_SUBJECT = "story"

#: Jira events that mean a worklog changed (admin webhooks only: OAuth apps get none).
WORKLOG_EVENTS = ("worklog_created", "worklog_updated", "worklog_deleted")


async def time_record_subjects(
    session: AsyncSession, connection_id: str, issue_key: str
) -> list[Subject]:
    """The live time records of ``connection_id`` linked to ``issue_key``."""
    rows = await session.execute(
        select(TimeRecordRow.id, TimeRecordRow.owner_user_id, TimeRecordRow.owner_team_id).where(
            TimeRecordRow.connection_id == connection_id,
            func.upper(TimeRecordRow.issue_key) == issue_key.upper(),
            TimeRecordRow.deleted_at.is_(None),
        )
    )
    return [Subject(TIME_RECORD_SUBJECT, rid, user, team) for rid, user, team in rows.all()]


@dataclass(frozen=True, slots=True)
class ExportedItem:
    """One issue an export wrote: our id for it, its key, and its mirrored Jira status."""

    subject_id: str
    external_id: str
    issue_key: str
    jira_status: str | None = None
    jira_status_category: str | None = None
    local_state: str | None = None


class ExportedItems(Protocol):
    """Where exported items are recorded (the export history; a test may pass its own)."""

    async def for_issue(
        self, session: AsyncSession, connection: JiraConnectionRow, issue_key: str
    ) -> Sequence[ExportedItem]:
        """The items exported through ``connection`` as ``issue_key``."""
        ...  # pragma: no cover - protocol

    async def all(
        self, session: AsyncSession, connection: JiraConnectionRow, *, namespace: str = ""
    ) -> Sequence[ExportedItem]:
        """Every item exported through ``connection`` whose external id starts ``namespace``."""
        ...  # pragma: no cover - protocol


class ExportHistoryItems:
    """:class:`ExportedItems` read from the export history (``story_export_items``).

    An item counts once an export wrote it (it has a Jira key); the subject id is the item
    row's id, so the export's detail page and its status link meet on it. Only exports made
    through ``connection`` are its subjects: they are owned like it, and another person's
    connection to the same site does not see them.
    """

    @staticmethod
    def _query(connection: JiraConnectionRow) -> Select[ExportItemRow]:
        return (
            select(ExportItemRow)
            .join(StoryExportRow, StoryExportRow.id == ExportItemRow.export_id)
            .where(
                StoryExportRow.connection_id == connection.id,
                ExportItemRow.jira_key.is_not(None),
            )
        )

    @staticmethod
    def _item(row: ExportItemRow) -> ExportedItem:
        assert row.jira_key is not None
        return ExportedItem(str(row.id), row.item_id, row.jira_key.upper())

    async def for_issue(
        self, session: AsyncSession, connection: JiraConnectionRow, issue_key: str
    ) -> list[ExportedItem]:
        """The exported items whose issue is ``issue_key``."""
        rows = await session.scalars(
            self._query(connection).where(func.upper(ExportItemRow.jira_key) == issue_key.upper())
        )
        return [self._item(row) for row in rows]

    async def all(
        self, session: AsyncSession, connection: JiraConnectionRow, *, namespace: str = ""
    ) -> list[ExportedItem]:
        """Every exported item of the connection whose local id starts ``namespace``, oldest
        first."""
        rows = await session.scalars(
            self._query(connection)
            .where(ExportItemRow.item_id.startswith(namespace, autoescape=True))
            .order_by(ExportItemRow.id)
        )
        return [self._item(row) for row in rows]


async def live_statuses(
    session: AsyncSession, connection_id: str | None, items: Sequence[ExportItemRow]
) -> dict[int, tuple[str | None, datetime]]:
    """The status webhooks or polling last recorded for each of ``items`` (by item row id), with
    when; items with no status link are absent."""
    if connection_id is None or not items:
        return {}
    by_subject = {str(item.id): item.id for item in items}
    links = await session.scalars(
        select(StatusLinkRow).where(
            StatusLinkRow.connection_id == connection_id,
            StatusLinkRow.subject_kind == STORY_SUBJECT,
            StatusLinkRow.subject_id.in_(by_subject),
        )
    )
    return {by_subject[link.subject_id]: (link.jira_status, link.updated_at) for link in links}


def story_subjects(items: ExportedItems) -> SubjectSource:
    """A subject source for exported items, owned like the connection they went through."""

    async def source(session: AsyncSession, connection_id: str, issue_key: str) -> list[Subject]:
        connection = await session.get(JiraConnectionRow, connection_id)
        if connection is None:
            return []
        found = await items.for_issue(session, connection, issue_key)
        return [
            Subject(
                STORY_SUBJECT,
                item.subject_id,
                connection.owner_user_id,
                connection.owner_team_id,
            )
            for item in found
        ]

    return source


async def exported_items_with_status(
    session: AsyncSession,
    connection: JiraConnectionRow,
    items: ExportedItems,
    *,
    namespace: str = "",
) -> list[ExportedItem]:
    """Every exported item of ``connection`` (in ``namespace``) with its mirrored Jira status."""
    found = await items.all(session, connection, namespace=namespace)
    links = {
        row.subject_id: row
        for row in await session.scalars(
            select(StatusLinkRow).where(
                StatusLinkRow.connection_id == connection.id,
                StatusLinkRow.subject_kind == STORY_SUBJECT,
            )
        )
    }
    out: list[ExportedItem] = []
    for item in found:
        link = links.get(item.subject_id)
        out.append(
            ExportedItem(
                item.subject_id,
                item.external_id,
                item.issue_key,
                link.jira_status if link else None,
                link.jira_status_category if link else None,
                link.local_state if link else None,
            )
        )
    return out


async def request_pull_on_worklog_event(context: DeliveryContext) -> None:
    """A worklog changed in Jira: make the connection's pull-back run at the next tick.

    The pull (``sync.worklogs``) reads ``/worklog/updated`` and ``/worklog/deleted`` from its
    own cursor, so a worklog reported by both this event and the scheduled poll is applied
    once; the event only brings the pull forward.
    """
    if context.endpoint.connection_id is not None:
        await request_poll(context.session, context.endpoint.connection_id, context.now)


def install_status_subjects(
    status: StatusSync, registry: HandlerRegistry, *, exported: ExportedItems | None = None
) -> None:
    """Plug time records and exported items into ``status``, and worklog events into the
    polling schedule."""
    status.add_subject_source(time_record_subjects)
    status.add_subject_source(story_subjects(exported or ExportHistoryItems()))
    for event in WORKLOG_EVENTS:
        registry.register(event, request_pull_on_worklog_event)
