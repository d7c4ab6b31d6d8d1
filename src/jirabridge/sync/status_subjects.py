"""The features whose objects follow Jira's status: time records (#6) and exported stories (#7).

Each is a :data:`~jirabridge.sync.status_sync.SubjectSource`: given a connection and an issue
key, the local objects pointing at that issue. :func:`install_status_subjects` plugs them into
a :class:`~jirabridge.sync.status_sync.StatusSync`, so a Jira status change (webhook or poll)
is recorded on a status link per object, which the events page, the SSE stream and the
stories API read.

Exported items are found through :class:`ExportedItems`, a small interface: today
:class:`LedgerExportedItems` reads the write ledger (every issue an export created is a
confirmed ``issue`` entry whose ``remote_id`` is the issue key); the export history tables can
implement the same two methods later and be passed instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from jirabridge.store.account_models import JiraConnectionRow
from jirabridge.store.models import LedgerState, WriteLedgerRow
from jirabridge.store.schedules import request_poll
from jirabridge.store.webhook_models import StatusLinkRow
from jirabridge.store.worklog_models import TimeRecordRow
from jirabridge.sync.dispatch import DeliveryContext, HandlerRegistry
from jirabridge.sync.status_sync import StatusSync, Subject, SubjectSource

__all__ = [
    "STORY_SUBJECT",
    "TIME_RECORD_SUBJECT",
    "WORKLOG_EVENTS",
    "ExportedItem",
    "ExportedItems",
    "LedgerExportedItems",
    "exported_items_with_status",
    "install_status_subjects",
    "request_pull_on_worklog_event",
    "story_subjects",
    "time_record_subjects",
]

TIME_RECORD_SUBJECT = "time_record"
STORY_SUBJECT = "story"

#: Jira events that mean a worklog changed (admin webhooks only: OAuth apps get none).
WORKLOG_EVENTS = ("worklog_created", "worklog_updated", "worklog_deleted")

#: The ledger kind exports record their issues under (``sync.stories.execute.LEDGER_KIND``).
_EXPORT_LEDGER_KIND = "issue"


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
    """Where exported items are recorded (the ledger now; the export history later)."""

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


def _export_sites(connection: JiraConnectionRow) -> list[str]:
    # The export API keys its ledger by the site (cloud id, else base URL), not the connection.
    return [s for s in (connection.cloud_id, connection.base_url) if s]


class LedgerExportedItems:
    """:class:`ExportedItems` read from the write ledger's confirmed ``issue`` entries.

    The subject id is the ledger row's id (stable, short); the external id is the one stamped
    on the issue.
    """

    @staticmethod
    def _item(row: WriteLedgerRow) -> ExportedItem:
        assert row.remote_id is not None
        return ExportedItem(str(row.id), row.external_id, row.remote_id.upper())

    async def for_issue(
        self, session: AsyncSession, connection: JiraConnectionRow, issue_key: str
    ) -> list[ExportedItem]:
        """The confirmed export entries whose issue is ``issue_key``."""
        rows = await session.scalars(
            select(WriteLedgerRow).where(
                WriteLedgerRow.site.in_(_export_sites(connection)),
                WriteLedgerRow.kind == _EXPORT_LEDGER_KIND,
                WriteLedgerRow.state == LedgerState.CONFIRMED.value,
                func.upper(WriteLedgerRow.remote_id) == issue_key.upper(),
            )
        )
        return [self._item(row) for row in rows]

    async def all(
        self, session: AsyncSession, connection: JiraConnectionRow, *, namespace: str = ""
    ) -> list[ExportedItem]:
        """Every confirmed export entry of the connection's site in ``namespace``, oldest first."""
        rows = await session.scalars(
            select(WriteLedgerRow)
            .where(
                WriteLedgerRow.site.in_(_export_sites(connection)),
                WriteLedgerRow.kind == _EXPORT_LEDGER_KIND,
                WriteLedgerRow.state == LedgerState.CONFIRMED.value,
                WriteLedgerRow.remote_id.is_not(None),
                WriteLedgerRow.external_id.startswith(namespace, autoescape=True),
            )
            .order_by(WriteLedgerRow.id)
        )
        return [self._item(row) for row in rows]


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
    status.add_subject_source(story_subjects(exported or LedgerExportedItems()))
    for event in WORKLOG_EVENTS:
        registry.register(event, request_pull_on_worklog_event)
