"""Status sync: apply Jira status changes to linked local objects, one plan per link.

Webhooks (:func:`status_webhook_handler`) and polling both end in :func:`apply_incoming_status`,
so they converge on the same state: the second to arrive finds the status already mirrored.
Features plug in with :meth:`StatusSync.subscribe` (called after a link's local state changes,
inside the same transaction) and :meth:`StatusSync.link` (to start following an issue).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from jirabridge.jira.webhooks import JiraWebhookDelivery
from jirabridge.store.webhook_models import StatusLinkRow
from jirabridge.store.webhooks import own_writes_on
from jirabridge.sync.dispatch import DeliveryContext, HandlerRegistry
from jirabridge.sync.status_plan import (
    STATUS_WRITE_KIND,
    IncomingStatus,
    LinkSnapshot,
    StatusAction,
    StatusMapping,
    StatusPlan,
    plan_status_change,
)

__all__ = [
    "ISSUE_EVENTS",
    "AppliedPlan",
    "StatusSubscriber",
    "StatusSync",
    "Subject",
    "SubjectSource",
    "incoming_status_from",
]

#: Jira events whose issue body carries the current status.
ISSUE_EVENTS = ("jira:issue_updated", "jira:issue_created")


@dataclass(frozen=True, slots=True)
class AppliedPlan:
    """A plan and the link it was applied to (what subscribers and live views receive)."""

    link_id: str
    subject_kind: str
    subject_id: str
    plan: StatusPlan


StatusSubscriber = Callable[[AsyncSession, StatusLinkRow, StatusPlan], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Subject:
    """A local object that follows an issue without having been linked by hand."""

    subject_kind: str
    subject_id: str
    owner_user_id: str | None
    owner_team_id: str | None
    local_state: str = "linked"


#: ``(session, connection_id, issue_key) -> subjects``: the local objects of one feature that
#: point at an issue (time records by their issue key, exported stories by their ledger entry).
SubjectSource = Callable[[AsyncSession, str, str], Awaitable[Sequence[Subject]]]


def _obj(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def incoming_status_from(parsed: JiraWebhookDelivery) -> IncomingStatus | None:
    """The issue status a Jira delivery reports, or ``None`` if it reports none."""
    if parsed.issue_key is None:
        return None
    status = _obj(_obj(_obj(parsed.payload.get("issue")).get("fields")).get("status"))
    name = status.get("name")
    category = _obj(status.get("statusCategory")).get("key")
    if not isinstance(name, str):
        for item in parsed.changelog:
            if item.field == "status" and item.to_string:
                name = item.to_string
        if not isinstance(name, str):
            return None
    return IncomingStatus(
        issue_key=parsed.issue_key,
        status_name=name,
        category=category if isinstance(category, str) else None,
    )


class StatusSync:
    """Links, the mapping per subject kind, and the subscribers that follow changes."""

    def __init__(self, mappings: Mapping[str, StatusMapping] | None = None) -> None:
        self._mappings = dict(mappings or {})
        self._subscribers: dict[str, list[StatusSubscriber]] = {}
        self._listeners: list[Callable[[AppliedPlan], None]] = []
        self._sources: list[SubjectSource] = []

    def add_subject_source(self, source: SubjectSource) -> None:
        """Link the subjects ``source`` names for an issue when a status for it comes in.

        So a feature's objects follow Jira without each one being linked up front: the first
        status that arrives creates the link and applies.
        """
        self._sources.append(source)

    def subscribe(
        self, subject_kind: str, subscriber: StatusSubscriber, mapping: StatusMapping | None = None
    ) -> None:
        """Call ``subscriber`` when a link of ``subject_kind`` is applied or conflicts."""
        self._subscribers.setdefault(subject_kind, []).append(subscriber)
        if mapping is not None:
            self._mappings[subject_kind] = mapping

    def listen(self, listener: Callable[[AppliedPlan], None]) -> Callable[[], None]:
        """Be told (after the fact, best effort) of every applied plan: for live views."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def install(self, registry: HandlerRegistry) -> None:
        """Register the webhook handler for the issue events."""
        for event in ISSUE_EVENTS:
            registry.register(event, self.handle_delivery)

    async def handle_delivery(self, context: DeliveryContext) -> None:
        """The webhook handler: apply the status an issue event carries."""
        parsed = context.parsed
        if not isinstance(parsed, JiraWebhookDelivery):
            return
        incoming = incoming_status_from(parsed)
        if incoming is not None:
            await self.apply_incoming_status(context.session, context.site, incoming, context.now)

    @staticmethod
    async def link(
        session: AsyncSession,
        *,
        owner_user_id: str | None,
        owner_team_id: str | None,
        connection_id: str,
        issue_key: str,
        subject_kind: str,
        subject_id: str,
        local_state: str,
        jira_status: str | None = None,
    ) -> StatusLinkRow:
        """Start following ``issue_key`` for a local object (idempotent on the subject)."""
        row = await session.scalar(
            select(StatusLinkRow).where(
                StatusLinkRow.connection_id == connection_id,
                StatusLinkRow.subject_kind == subject_kind,
                StatusLinkRow.subject_id == subject_id,
            )
        )
        if row is None:
            row = StatusLinkRow(
                owner_user_id=owner_user_id,
                owner_team_id=owner_team_id,
                connection_id=connection_id,
                subject_kind=subject_kind,
                subject_id=subject_id,
                version=0,
                local_dirty=False,
            )
            session.add(row)
        row.issue_key = issue_key.upper()
        row.local_state = local_state
        row.jira_status = jira_status
        row.synced_jira_status = jira_status
        await session.flush()
        return row

    @staticmethod
    async def mark_local_change(session: AsyncSession, link_id: str, local_state: str) -> None:
        """Record a local change not yet in Jira (so a Jira change meanwhile is a conflict)."""
        row = await session.get(StatusLinkRow, link_id)
        if row is not None:
            row.local_state = local_state
            row.local_dirty = True
            row.version += 1

    async def apply_incoming_status(
        self, session: AsyncSession, site: str, incoming: IncomingStatus, now: datetime
    ) -> list[AppliedPlan]:
        """Plan and apply an incoming status to every link of that issue on ``site``."""
        await self._link_subjects(session, site, incoming.issue_key.upper())
        links = list(
            await session.scalars(
                select(StatusLinkRow)
                .where(
                    StatusLinkRow.connection_id == site,
                    StatusLinkRow.issue_key == incoming.issue_key.upper(),
                )
                .order_by(StatusLinkRow.id)
            )
        )
        if not links:
            return []
        writes = await own_writes_on(
            session, site=site, kind=STATUS_WRITE_KIND, target=incoming.issue_key.upper()
        )
        applied: list[AppliedPlan] = []
        for link in links:
            snapshot = LinkSnapshot(
                issue_key=link.issue_key,
                local_state=link.local_state,
                jira_status=link.jira_status,
                synced_jira_status=link.synced_jira_status,
                local_dirty=link.local_dirty,
                updated_at=link.updated_at,
            )
            plan = plan_status_change(
                snapshot, incoming, writes, self._mappings.get(link.subject_kind)
            )
            if plan.action == StatusAction.NOOP:
                continue
            self._apply(link, plan, now)
            for subscriber in self._subscribers.get(link.subject_kind, ()):
                await subscriber(session, link, plan)
            applied.append(AppliedPlan(link.id, link.subject_kind, link.subject_id, plan))
        await session.flush()
        for item in applied:
            for listener in list(self._listeners):
                listener(item)
        return applied

    async def _link_subjects(self, session: AsyncSession, site: str, issue_key: str) -> None:
        for source in self._sources:
            subjects = await source(session, site, issue_key)
            if not subjects:
                continue
            known = set(
                (
                    await session.execute(
                        select(StatusLinkRow.subject_kind, StatusLinkRow.subject_id).where(
                            StatusLinkRow.connection_id == site,
                            StatusLinkRow.issue_key == issue_key,
                        )
                    )
                ).all()
            )
            for subject in subjects:
                if (subject.subject_kind, subject.subject_id) in known:
                    continue
                await self.link(
                    session,
                    owner_user_id=subject.owner_user_id,
                    owner_team_id=subject.owner_team_id,
                    connection_id=site,
                    issue_key=issue_key,
                    subject_kind=subject.subject_kind,
                    subject_id=subject.subject_id,
                    local_state=subject.local_state,
                )

    @staticmethod
    def _apply(link: StatusLinkRow, plan: StatusPlan, now: datetime) -> None:
        link.jira_status = plan.jira_status
        link.jira_status_category = plan.jira_category
        link.updated_at = now
        link.version += 1
        if plan.action == StatusAction.CONFLICT:
            link.conflict = plan.reason
            return
        # An echo means Jira now agrees with our local state; an apply means we agree with Jira.
        link.synced_jira_status = plan.jira_status
        link.local_dirty = False
        link.conflict = None
        if plan.new_local_state is not None:
            link.local_state = plan.new_local_state
