"""Exports as durable workflows, queued per Jira site, and their stored progress.

An export is recorded (:func:`record_export`: the exact plan, one row per item) and then
carried out by the workflow ``stories.export`` on the ``stories`` queue in its site's
partition, so two connections to one site take turns while other sites go on. The workflow
has one step that applies the stored plan (:func:`run_export`). If the process dies inside
it, DBOS runs the step again after restart: items the ledger has ``confirmed`` are reported
from it, items left ``sent`` are looked up by their stamp before anything is re-sent, so the
re-run adopts what the dead process created and never creates twice.

Workflows need live resources (database sessions, a Jira client for a connection) that
cannot be pickled into their arguments: the process provides them through :func:`configure`.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jirabridge.errors import ConfigError, JirabridgeError, NotFoundError
from jirabridge.jira import JiraClient
from jirabridge.jobs import registry
from jirabridge.jobs.engine import JobEngine, JobHandle
from jirabridge.jobs.ids import workflow_id
from jirabridge.store.db import read_transaction, write_transaction
from jirabridge.store.export_models import (
    ExportItemRow,
    ExportStatus,
    ItemOutcome,
    StoryExportRow,
)
from jirabridge.store.ledger import WriteLedger
from jirabridge.store.models import utcnow
from jirabridge.sync.stories.execute import ItemResult, Progress, apply_export
from jirabridge.sync.stories.plan import ExportPlan
from jirabridge.sync.stories.snapshot import plan_from_json, plan_id, plan_to_json

__all__ = [
    "STORIES_QUEUE",
    "ClientProvider",
    "configure",
    "enqueue_export",
    "export_workflow",
    "mark_interrupted",
    "outcome_of",
    "record_export",
    "run_export",
]

log = logging.getLogger(__name__)

#: One export at a time per site: exports of one site share its rate limits, and two exports
#: of the same items must not interleave.
STORIES_QUEUE = registry.declare_site_queue("stories", per_site_concurrency=1)

#: Opens a Jira client for a connection id (closing it on exit); no user scoping: workers.
ClientProvider = Callable[[str], AbstractAsyncContextManager[JiraClient]]

_sessions: async_sessionmaker[AsyncSession] | None = None
_provider: ClientProvider | None = None

_OUTCOMES = {
    "created": ItemOutcome.CREATED,
    "updated": ItemOutcome.UPDATED,
    "unchanged": ItemOutcome.SKIPPED,
    "failed": ItemOutcome.FAILED,
    "unknown": ItemOutcome.UNKNOWN,
}


def outcome_of(result: ItemResult) -> str:
    """The stored outcome for an executor result (``unchanged`` is stored as ``skipped``)."""
    return _OUTCOMES[result.status]


def configure(sessions: async_sessionmaker[AsyncSession], provider: ClientProvider) -> None:
    """Give this process's export workflows their database and their Jira clients."""
    global _sessions, _provider
    _sessions = sessions
    _provider = provider


def _configured() -> tuple[async_sessionmaker[AsyncSession], ClientProvider]:
    if _sessions is None or _provider is None:
        raise ConfigError("story export jobs are not configured in this process")
    return _sessions, _provider


async def record_export(
    sessions: async_sessionmaker[AsyncSession],
    plan: ExportPlan,
    *,
    owner_user_id: str | None,
    owner_team_id: str | None = None,
    actor_user_id: str | None,
    connection_id: str,
    site: str,
    base_url: str,
    profile_id: str | None,
    profile_name: str,
    file_name: str,
    file_hash: str,
) -> str:
    """Store an export of ``plan`` (status ``queued``, every item ``pending``); its id."""
    async with write_transaction(sessions) as session:
        row = StoryExportRow(
            owner_user_id=owner_user_id,
            owner_team_id=owner_team_id,
            actor_user_id=actor_user_id,
            connection_id=connection_id,
            site=site,
            base_url=base_url,
            profile_id=profile_id,
            profile_name=profile_name,
            file_name=file_name[:255],
            file_hash=file_hash,
            plan_id=plan_id(plan),
            plan=plan_to_json(plan),
            status=ExportStatus.QUEUED,
            total=len(plan.issues),
        )
        session.add(row)
        await session.flush()
        for position, issue in enumerate(plan.issues):
            session.add(
                ExportItemRow(
                    export_id=row.id,
                    position=position,
                    item_id=issue.item_id,
                    level=issue.level,
                    summary=str(issue.fields.get("summary") or "")[:512],
                    action=issue.action,
                    outcome=ItemOutcome.PENDING,
                    jira_key=issue.key,
                )
            )
        return row.id


async def _record_item(
    sessions: async_sessionmaker[AsyncSession], export_id: str, result: ItemResult
) -> None:
    values: dict[str, Any] = {"outcome": outcome_of(result), "error": result.error}
    if result.key:
        values["jira_key"] = result.key
    async with write_transaction(sessions) as session:
        await session.execute(
            update(ExportItemRow)
            .where(ExportItemRow.export_id == export_id, ExportItemRow.item_id == result.item_id)
            .values(**values)
        )


async def _counts(session: AsyncSession, export_id: str) -> dict[str, int]:
    rows = (
        await session.execute(
            select(ExportItemRow.outcome, func.count())
            .where(ExportItemRow.export_id == export_id)
            .group_by(ExportItemRow.outcome)
        )
    ).all()
    return {str(outcome): int(n) for outcome, n in rows}


async def _finish(
    sessions: async_sessionmaker[AsyncSession], export_id: str, error: str | None
) -> dict[str, int]:
    async with write_transaction(sessions) as session:
        row = await session.get(StoryExportRow, export_id)
        counts = await _counts(session, export_id)
        if row is not None:
            row.status = ExportStatus.FAILED if error else ExportStatus.FINISHED
            row.error = error
            row.counts = counts
            row.finished_at = utcnow()
    return counts


async def mark_interrupted(
    sessions: async_sessionmaker[AsyncSession], export_id: str, error: str
) -> None:
    """Record that an in-process run stopped before the export finished (it stays resumable:
    its items keep their outcomes and the ledger its entries)."""
    await _finish(sessions, export_id, error)


async def run_export(
    export_id: str,
    *,
    sessions: async_sessionmaker[AsyncSession] | None = None,
    provider: ClientProvider | None = None,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Carry out export ``export_id``'s stored plan; per-item outcomes stored as they come.

    Safe to run again (after a crash, or twice): the write ledger and the issues' stamps make
    every item land once. An error that stops the whole export (the connection is gone, Jira
    refuses our credentials) marks it ``failed`` with the reason; items keep their outcomes.
    ``progress`` also hears each item's result, once it is stored (the CLI's progress bar).
    """
    if sessions is None or provider is None:
        sessions, provider = _configured()
    async with write_transaction(sessions) as session:
        row = await session.get(StoryExportRow, export_id)
        if row is None:
            raise NotFoundError("no such export")
        row.status = ExportStatus.RUNNING
        row.started_at = row.started_at or utcnow()
        plan = plan_from_json(row.plan)
        connection_id, site = row.connection_id, row.site
    if connection_id is None:
        return await _finish(sessions, export_id, "its Jira connection was deleted")

    async def record(result: ItemResult) -> None:
        await _record_item(sessions, export_id, result)
        if progress is not None:
            outcome = progress(result)
            if inspect.isawaitable(outcome):
                await outcome

    try:
        async with provider(connection_id) as jira:
            await apply_export(
                plan, jira=jira, ledger=WriteLedger(sessions), site=site, progress=record
            )
    except JirabridgeError as exc:
        log.warning("export %s stopped: %s", export_id, exc.message)
        return await _finish(sessions, export_id, exc.message)
    return await _finish(sessions, export_id, None)


@registry.step(name="stories.apply-export")
async def apply_step(export_id: str) -> dict[str, int]:
    """The one step of an export: apply its stored plan (re-runnable, see module docs)."""
    return await run_export(export_id)


@registry.step(name="stories.fail-export")
async def fail_step(export_id: str, error: str) -> dict[str, int]:
    """Mark an export failed after an unexpected error in its apply step."""
    sessions, _ = _configured()
    return await _finish(sessions, export_id, error)


@registry.workflow("stories.export")
async def export_workflow(export_id: str) -> dict[str, int]:
    """Carry out one export (enqueued in its site's partition by :func:`enqueue_export`)."""
    try:
        return await apply_step(export_id)
    except Exception as exc:
        return await fail_step(export_id, f"the export stopped unexpectedly: {exc}")


async def enqueue_export(jobs: JobEngine, export_id: str, site: str) -> JobHandle[dict[str, int]]:
    """Enqueue the workflow of a recorded export in ``site``'s partition."""
    return await jobs.enqueue(
        STORIES_QUEUE, site, workflow_id("story-export", export_id), export_workflow, export_id
    )


async def stored_plan(sessions: async_sessionmaker[AsyncSession], export_id: str) -> ExportPlan:
    """The plan an export carries out."""
    async with read_transaction(sessions) as session:
        row = await session.get(StoryExportRow, export_id)
        if row is None:
            raise NotFoundError("no such export")
        return plan_from_json(row.plan)


def items_in_order(rows: Sequence[ExportItemRow]) -> list[ExportItemRow]:
    """Items in plan order."""
    return sorted(rows, key=lambda r: r.position)
