"""Bulk worklog syncs as durable workflows, queued per Jira site.

Runs go to the partition of the connection's site (:attr:`JiraConnectionRow.site_key`), not
of the connection: two users' connections to one Jira share its rate limits and per-issue
write windows, so their runs are serialised in one partition, while other sites run beside.

A run is a workflow with one step per record. Each step plans that record afresh and applies
it; if the process dies inside a step, DBOS runs the step again after restart, the plan then
finds the ledger entry ``sent`` and looks the worklog up before writing, so the re-run adopts
what the dead process wrote. Completed steps are never re-run.

Workflows need live resources (database sessions, a Jira client for the connection) that cannot
be pickled into their arguments: the process provides them through :func:`configure`, which
the service runtime calls at start (and tests call with the simulator).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jirabridge.errors import ConfigError, JirabridgeError, NotFoundError
from jirabridge.jobs import registry
from jirabridge.jobs.engine import JobEngine, JobHandle
from jirabridge.jobs.ids import workflow_id
from jirabridge.jobs.registry import durable_sleep
from jirabridge.store.account_models import JiraConnectionRow
from jirabridge.store.db import read_transaction, write_transaction
from jirabridge.store.models import utcnow
from jirabridge.store.worklog_models import (
    PullCursorRow,
    SyncAttemptRow,
    SyncRunRow,
    TimeRecordRow,
)
from jirabridge.sync.worklogs.executor import (
    ActionOutcome,
    SyncSummary,
    WorklogSync,
    jira_unavailable,
)
from jirabridge.sync.worklogs.planner import ActionKind

__all__ = [
    "OUTAGE_WAITS_SEC",
    "WORKLOG_QUEUE",
    "RunProgress",
    "SyncProvider",
    "configure",
    "enqueue_due_pulls",
    "enqueue_pull",
    "pull_run",
    "run_progress",
    "run_pull_schedule",
    "start_run",
    "sync_run",
]

log = logging.getLogger(__name__)

#: One run at a time per Jira site: runs of one site share its rate limits and per-issue
#: windows, and two runs touching the same record must not interleave.
WORKLOG_QUEUE = registry.declare_site_queue("worklogs", per_site_concurrency=1)

#: Opens a :class:`WorklogSync` for a connection id (closing its client on exit).
SyncProvider = Callable[[str], AbstractAsyncContextManager[WorklogSync]]

#: Durable waits between attempts at a record while Jira is unreachable (no answer, breaker
#: open, 5xx after the client's retries): about 45 minutes in all, then the record is failed
#: (and can be retried by hand). The run keeps its site's slot meanwhile: the site is down.
OUTAGE_WAITS_SEC: tuple[float, ...] = (15, 30, 60, 120, 240, 300, 300, 300, 300, 300, 300, 300)

_provider: SyncProvider | None = None
_sessions: async_sessionmaker[AsyncSession] | None = None
_outage_waits: tuple[float, ...] = OUTAGE_WAITS_SEC


def configure(
    sessions: async_sessionmaker[AsyncSession],
    provider: SyncProvider,
    *,
    outage_waits: Sequence[float] | None = None,
) -> None:
    """Give this process's workflows their database and their Jira clients (and, for tests,
    shorter waits through a Jira outage)."""
    global _provider, _sessions, _outage_waits
    _provider = provider
    _sessions = sessions
    _outage_waits = tuple(outage_waits) if outage_waits is not None else OUTAGE_WAITS_SEC


def _configured() -> tuple[async_sessionmaker[AsyncSession], SyncProvider]:
    if _provider is None or _sessions is None:
        raise ConfigError("worklog jobs are not configured in this process (call configure())")
    return _sessions, _provider


# Retries ride out our own database going away (about a minute, backing off from 1 s). Jira's
# errors do not get here: the client retries them, an outage comes back as ``unavailable`` for
# the workflow to wait out, and the outcome records the rest.
@registry.step(name="worklogs.sync-record", retries=6, retry_interval_sec=1.0)
async def sync_record(
    run_id: str, connection_id: str, record_id: str, defer_outages: bool = True
) -> dict[str, Any]:
    """Plan and apply one record; the outcome as a picklable dict, or ``{"unavailable": why}``
    when Jira could not be reached and ``defer_outages`` is set."""
    sessions, provider = _configured()
    async with read_transaction(sessions) as session:
        run = await session.get(SyncRunRow, run_id)
    async with provider(connection_id) as sync:
        sync.actor_user_id = run.actor_user_id if run is not None else None
        sync.defer_outages = defer_outages
        try:
            plan = await sync.plan([record_id])
            if not plan.actions:
                return {"record_id": record_id, "kind": "noop", "ok": False, "error": "record gone"}
            outcome = await sync.apply_action(plan.actions[0], run_id=run_id)
        except JirabridgeError as exc:
            if not jira_unavailable(exc):
                raise
            if defer_outages:
                return {"record_id": record_id, "unavailable": exc.message}
            # Even planning needs Jira: the record fails with the reason, the run goes on.
            outcome = await sync.fail_unreachable(record_id, exc, run_id=run_id)
    return {
        "record_id": outcome.record_id,
        "kind": outcome.kind.value,
        "ok": outcome.ok,
        "worklog_id": outcome.worklog_id,
        "error": outcome.error,
    }


@registry.step(name="worklogs.finish-run")
async def finish_run(run_id: str, summary: dict[str, Any]) -> None:
    """Store the run's summary."""
    sessions, _ = _configured()
    async with write_transaction(sessions) as session:
        run = await session.get(SyncRunRow, run_id)
        if run is not None:
            run.status = "finished"
            run.summary = summary
            run.finished_at = utcnow()


async def _sync_through_outages(run_id: str, connection_id: str, record_id: str) -> dict[str, Any]:
    """One record, waiting (durably: a restart resumes the wait) while Jira is down; after the
    last wait the record is tried once more and a failure is recorded as usual."""
    for wait in _outage_waits:
        raw = await sync_record(run_id, connection_id, record_id)
        if "unavailable" not in raw:
            return raw
        log.warning(
            "run %s: Jira unavailable (%s); trying record %s again in %.0f s",
            run_id,
            raw["unavailable"],
            record_id,
            wait,
        )
        await durable_sleep(wait)
    return await sync_record(run_id, connection_id, record_id, False)


@registry.workflow("worklogs.sync-run")
async def sync_run(run_id: str, connection_id: str, record_ids: list[str]) -> dict[str, Any]:
    """Sync ``record_ids`` through ``connection_id``, one durable step per record."""
    summary = SyncSummary()
    for record_id in record_ids:
        raw = await _sync_through_outages(run_id, connection_id, record_id)
        summary.add(
            ActionOutcome(
                record_id=raw["record_id"],
                kind=ActionKind(raw["kind"]),
                ok=raw["ok"],
                worklog_id=raw.get("worklog_id"),
                error=raw.get("error"),
            )
        )
    result = summary.as_dict()
    await finish_run(run_id, result)
    return result


async def start_run(
    jobs: JobEngine,
    sessions: async_sessionmaker[AsyncSession],
    *,
    connection_id: str,
    record_ids: Sequence[str],
    owner_user_id: str | None,
    owner_team_id: str | None = None,
    actor_user_id: str | None = None,
) -> tuple[str, JobHandle[dict[str, Any]]]:
    """Record a run and enqueue its workflow on its site's partition; the run id."""
    ids = list(dict.fromkeys(record_ids))
    async with write_transaction(sessions) as session:
        site = await _site_of(session, connection_id)
        run = SyncRunRow(
            owner_user_id=owner_user_id,
            owner_team_id=owner_team_id,
            connection_id=connection_id,
            actor_user_id=actor_user_id,
            record_ids=ids,
            total=len(ids),
        )
        session.add(run)
        await session.flush()
        for row in (
            (await session.execute(select(TimeRecordRow).where(TimeRecordRow.id.in_(ids))))
            .scalars()
            .all()
        ):
            row.sync_state = "pending"
        run_id = run.id
    handle = await jobs.enqueue(
        WORKLOG_QUEUE,
        site,
        workflow_id("worklog-run", run_id),
        sync_run,
        run_id,
        connection_id,
        ids,
    )
    return run_id, handle


async def _site_of(session: AsyncSession, connection_id: str) -> str:
    """The queue partition of ``connection_id``'s runs: its Jira site."""
    connection = await session.get(JiraConnectionRow, connection_id)
    if connection is None:
        raise NotFoundError("no such Jira connection")
    return connection.site_key


class RunProgress(dict[str, Any]):
    """``{run_id, status, total, done, succeeded, failed, errors[]}`` (a dict, JSON-ready)."""


async def run_progress(sessions: async_sessionmaker[AsyncSession], run_id: str) -> RunProgress:
    """Where run ``run_id`` stands, counted from its logged attempts."""
    async with read_transaction(sessions) as session:
        run = await session.get(SyncRunRow, run_id)
        if run is None:
            raise NotFoundError("no such sync run")
        rows = (
            await session.execute(
                select(SyncAttemptRow.status, func.count(func.distinct(SyncAttemptRow.record_id)))
                .where(SyncAttemptRow.run_id == run_id)
                .group_by(SyncAttemptRow.status)
            )
        ).all()
        failures = (
            await session.execute(
                select(SyncAttemptRow.record_id, SyncAttemptRow.error)
                .where(SyncAttemptRow.run_id == run_id, SyncAttemptRow.status == "failed")
                .order_by(SyncAttemptRow.id)
            )
        ).all()
    counts = {status: int(n) for status, n in rows}
    if run.summary is not None:
        return RunProgress(
            run_id=run_id,
            owner_user_id=run.owner_user_id,
            status=run.status,
            done=run.total,
            **run.summary,
        )
    done = min(run.total, sum(counts.values()))
    return RunProgress(
        run_id=run_id,
        owner_user_id=run.owner_user_id,
        status=run.status,
        total=run.total,
        done=done,
        succeeded=counts.get("success", 0),
        failed=counts.get("failed", 0),
        errors=[{"record_id": r, "error": e or ""} for r, e in failures],
    )


#: How far back the first pull of a connection looks.
FIRST_PULL_LOOKBACK = timedelta(days=30)


@registry.step(name="worklogs.pull-changes", retries=2, retry_interval_sec=1.0)
async def pull_changes(connection_id: str, since_iso: str) -> dict[str, Any]:
    """Take a connection's Jira-side changes since the cursor; store the new cursor."""
    sessions, provider = _configured()
    since = datetime.fromisoformat(since_iso)
    async with provider(connection_id) as sync:
        summary, cursor = await sync.pull(since, run_id=f"pull:{connection_id}:{since_iso}")
    async with write_transaction(sessions) as session:
        row = await session.get(PullCursorRow, connection_id)
        if row is None:
            session.add(PullCursorRow(connection_id=connection_id, cursor=cursor))
        elif cursor > row.cursor:
            row.cursor = cursor
    return {**summary.as_dict(), "cursor": cursor.isoformat()}


@registry.workflow("worklogs.pull")
async def pull_run(connection_id: str, since_iso: str) -> dict[str, Any]:
    """One pull-back of ``connection_id`` from ``since_iso``."""
    return await pull_changes(connection_id, since_iso)


async def enqueue_pull(
    jobs: JobEngine,
    sessions: async_sessionmaker[AsyncSession],
    connection_id: str,
    *,
    slot: str | None = None,
    now: datetime | None = None,
) -> JobHandle[dict[str, Any]]:
    """Enqueue a pull-back of ``connection_id`` from its stored cursor.

    Meant to be called on a schedule: ``slot`` names the schedule's tick (default: the
    current minute) and goes into the workflow id, so a timer firing twice or two workers
    firing together start one pull per tick. The cursor only moves to the newest change seen,
    so reading again from it is cheap and harmless (what is in step plans as nothing).
    """
    current = now or utcnow()
    async with read_transaction(sessions) as session:
        row = await session.get(PullCursorRow, connection_id)
        site = await _site_of(session, connection_id)
    since = row.cursor if row is not None else current - FIRST_PULL_LOOKBACK
    since_iso = since.isoformat()
    return await jobs.enqueue(
        WORKLOG_QUEUE,
        site,
        workflow_id("worklog-pull", connection_id, slot or current.strftime("%Y%m%dT%H%M")),
        pull_run,
        connection_id,
        since_iso,
    )


async def enqueue_due_pulls(
    jobs: JobEngine, sessions: async_sessionmaker[AsyncSession], *, now: datetime | None = None
) -> list[str]:
    """Enqueue this tick's pull of every connection that has synced records; their ids.

    Every worker may call this on its timer: the tick (the current minute) is part of each
    workflow id, so one pull per connection and minute runs however many workers fire.
    """
    current = now or utcnow()
    async with read_transaction(sessions) as session:
        connection_ids = (
            (
                await session.execute(
                    select(TimeRecordRow.connection_id)
                    .where(
                        TimeRecordRow.connection_id.is_not(None),
                        TimeRecordRow.worklog_id.is_not(None),
                    )
                    .distinct()
                )
            )
            .scalars()
            .all()
        )
    slot = current.strftime("%Y%m%dT%H%M")
    for connection_id in connection_ids:
        assert connection_id is not None
        await enqueue_pull(jobs, sessions, connection_id, slot=slot, now=current)
    return [c for c in connection_ids if c is not None]


async def run_pull_schedule(
    jobs: JobEngine,
    sessions: async_sessionmaker[AsyncSession],
    *,
    every_sec: float = 300.0,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Enqueue due pulls every ``every_sec`` seconds until cancelled (a worker's timer)."""
    while True:
        try:
            await enqueue_due_pulls(jobs, sessions)
        except JirabridgeError as exc:
            log.warning("could not enqueue worklog pulls: %s", exc)
        await sleep(every_sec)
