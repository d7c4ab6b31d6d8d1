"""Housekeeping every worker process runs: heartbeats, recovery of stopped workers, retention.

Each worker (``jirabridge worker``, or ``serve`` with its workers) runs :func:`run_maintenance`
beside its workflows. Everything here is safe to run in several processes at once: recovery
goes through DBOS's atomic dequeue (see :mod:`jirabridge.jobs.recovery`) and retention deletes
only rows that are already past their limit, so two workers pruning at once delete each row
once between them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jirabridge.errors import JirabridgeError
from jirabridge.jobs.engine import JobEngine
from jirabridge.jobs.recovery import ExecutorHeartbeats, RecoveryConfig
from jirabridge.service.settings import Settings
from jirabridge.store import db
from jirabridge.store.account_models import OAuthPendingGrantRow, OAuthStateRow, UserSessionRow

__all__ = [
    "MaintenanceConfig",
    "RetentionReport",
    "prune_expired_rows",
    "prune_workflows",
    "recover_stopped_executors",
    "retention_pass",
    "run_maintenance",
]

log = logging.getLogger(__name__)

#: A prune pass deletes at most this many batches, so one pass never hogs the database.
_MAX_BATCHES_PER_PASS: Final = 100


@dataclass(frozen=True, slots=True)
class MaintenanceConfig:
    """The limits housekeeping works with (from :class:`Settings`)."""

    recovery: RecoveryConfig
    workflow_retention: timedelta
    retention_interval_sec: float
    retention_batch: int

    @classmethod
    def from_settings(cls, settings: Settings) -> MaintenanceConfig:
        """Read the limits from ``settings``; a bad combination raises ``ConfigError``."""
        return cls(
            recovery=RecoveryConfig(
                heartbeat_interval_sec=settings.heartbeat_interval_sec,
                stale_after_sec=settings.executor_stale_after_sec,
            ),
            workflow_retention=timedelta(days=settings.retention_workflow_days),
            retention_interval_sec=settings.retention_interval_sec,
            retention_batch=settings.retention_batch,
        )


@dataclass(frozen=True, slots=True)
class RetentionReport:
    """How many rows one retention pass deleted."""

    workflows: int = 0
    sessions: int = 0
    oauth_states: int = 0
    pending_grants: int = 0

    @property
    def total(self) -> int:
        """Every row deleted."""
        return self.workflows + self.sessions + self.oauth_states + self.pending_grants


async def prune_workflows(jobs: JobEngine, finished_before: datetime, *, batch: int) -> int:
    """Delete workflows that finished before ``finished_before``, batch by batch."""
    total = 0
    for _ in range(_MAX_BATCHES_PER_PASS):
        deleted = await jobs.prune_finished(finished_before, batch=batch)
        total += deleted
        if deleted < batch:
            break
    return total


async def prune_expired_rows(
    sessions: async_sessionmaker[AsyncSession], now: datetime
) -> RetentionReport:
    """Delete login sessions, OAuth states and pending grants that expired before ``now``.

    Revoked sessions go too once expired: until then their row is what refuses the cookie.
    """
    async with db.write_transaction(sessions) as session:
        counts = []
        for table in (UserSessionRow, OAuthStateRow, OAuthPendingGrantRow):
            result = await session.execute(delete(table).where(table.expires_at <= now))
            counts.append(int(getattr(result, "rowcount", 0) or 0))
    return RetentionReport(sessions=counts[0], oauth_states=counts[1], pending_grants=counts[2])


async def recover_stopped_executors(
    jobs: JobEngine, heartbeats: ExecutorHeartbeats, config: RecoveryConfig
) -> list[str]:
    """Re-enqueue the pending workflows of every executor silent for too long.

    Returns the workflow ids put back. The stopped executor's heartbeat row is dropped once
    its workflows are back on their queues; if it comes back it simply beats again.
    """
    recovered: list[str] = []
    own = jobs.config.executor_id
    for executor_id in await heartbeats.stale(config.stale_after_sec):
        if executor_id == own:
            continue
        ids = await jobs.recover_executors([executor_id])
        if ids:
            log.warning("worker %s stopped; resumed %d of its workflows", executor_id, len(ids))
        recovered.extend(ids)
        await heartbeats.forget(executor_id)
    return recovered


async def retention_pass(
    jobs: JobEngine,
    sessions: async_sessionmaker[AsyncSession],
    config: MaintenanceConfig,
    now: datetime,
) -> RetentionReport:
    """One retention pass: old finished workflows, then expired sessions and OAuth rows."""
    workflows = await prune_workflows(
        jobs, now - config.workflow_retention, batch=config.retention_batch
    )
    rows = await prune_expired_rows(sessions, now)
    report = RetentionReport(
        workflows=workflows,
        sessions=rows.sessions,
        oauth_states=rows.oauth_states,
        pending_grants=rows.pending_grants,
    )
    if report.total:
        log.info(
            "retention: deleted %d workflows, %d sessions, %d OAuth states, %d pending grants",
            report.workflows,
            report.sessions,
            report.oauth_states,
            report.pending_grants,
        )
    return report


async def run_maintenance(
    jobs: JobEngine,
    sessions: async_sessionmaker[AsyncSession],
    heartbeats: ExecutorHeartbeats,
    config: MaintenanceConfig,
    stop: asyncio.Event,
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    retention: bool = True,
) -> None:
    """Beat, recover and prune until ``stop`` is set; errors are logged, never fatal.

    ``retention=False`` leaves pruning to other processes (recovery only).

    A database that is briefly away must not kill the worker: the next round tries again.
    """
    executor_id = jobs.config.executor_id
    interval = config.recovery.heartbeat_interval_sec
    next_retention = 0.0
    loop = asyncio.get_running_loop()
    # Since when this worker's own beats have kept succeeding. After a database outage every
    # heartbeat is old, the live workers' too: judging others before our own beats have been
    # back for a whole staleness period would resume workflows their live owners still run.
    beating_since: float | None = None
    while not stop.is_set():
        beat = False
        try:
            await heartbeats.beat(executor_id)
            beat = True
            if beating_since is None:
                beating_since = loop.time()
            if loop.time() - beating_since >= config.recovery.stale_after_sec:
                await recover_stopped_executors(jobs, heartbeats, config.recovery)
            if retention and loop.time() >= next_retention:
                await retention_pass(jobs, sessions, config, now())
                next_retention = loop.time() + config.retention_interval_sec
        except JirabridgeError as exc:
            log.warning("maintenance round failed: %s", exc)
        except Exception:
            log.exception("maintenance round failed")
        if not beat:
            beating_since = None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
    # The heartbeat row stays on purpose: a worker stopped for good (scaled down) may leave
    # unfinished workflows, which the others resume once its heartbeat is stale.
