"""The running service's shared resources, opened and closed in one place.

The web app's lifespan and the ``worker`` command both go through :func:`open_runtime`, so a
process that serves pages and one that only runs workflows are wired the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from jirabridge.errors import ConfigError
from jirabridge.http.governor_store import GovernorStore, MemoryGovernorStore
from jirabridge.jobs.engine import JobEngine, JobsConfig
from jirabridge.jobs.recovery import ExecutorHeartbeats
from jirabridge.service.governor_state import open_governor_store
from jirabridge.service.maintenance import MaintenanceConfig, run_maintenance
from jirabridge.service.settings import Settings
from jirabridge.store import db, migrations

__all__ = ["Runtime", "open_runtime"]

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """What every request handler and workflow of one process shares."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    jobs: JobEngine
    http: httpx.AsyncClient
    #: Shared by every HttpClient this process builds; in Redis or PostgreSQL when several
    #: processes talk to the same sites (``governor_store_url``).
    governor_store: GovernorStore = field(default_factory=MemoryGovernorStore)
    started_at: float = field(default_factory=time.time)


def _install_jobs(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    governor_store: GovernorStore,
) -> None:
    # Workflow modules register at import and need their resources before launch, so that
    # runs recovered at launch can carry on.
    from jirabridge.service.account_wiring import build_accounts_context
    from jirabridge.service.github import build_github_service
    from jirabridge.service.stories import StoriesService, install_story_jobs
    from jirabridge.service.worklogs import WorklogService, install_worklog_jobs
    from jirabridge.sync.devlinks import jobs as devlink_jobs

    install_worklog_jobs(
        sessions,
        lambda: WorklogService.from_settings(
            settings,
            sessions,
            build_accounts_context(settings, sessions, governor_store=governor_store).clients,
        ),
    )
    install_story_jobs(
        sessions,
        lambda: StoriesService(
            sessions,
            build_accounts_context(settings, sessions, governor_store=governor_store).clients,
        ),
    )
    devlink_jobs.configure(build_github_service(settings, sessions))


def _start_timers(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], jobs: JobEngine
) -> list[asyncio.Task[None]]:
    """Periodic work a worker process owns: each timer enqueues durable workflows."""
    from jirabridge.sync.worklogs.jobs import run_pull_schedule

    timers: list[asyncio.Task[None]] = []
    if settings.worklog_pull_interval_sec > 0:
        timers.append(
            asyncio.create_task(
                run_pull_schedule(jobs, sessions, every_sec=settings.worklog_pull_interval_sec),
                name="jirabridge:worklog-pulls",
            )
        )
    if settings.webhook_schedule_tick_sec > 0:
        timers.append(
            asyncio.create_task(
                _run_webhook_schedules(settings, sessions, jobs),
                name="jirabridge:webhook-schedules",
            )
        )
    return timers


async def _run_webhook_schedules(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], jobs: JobEngine
) -> None:
    # Dynamic webhook upkeep and the polling fallback: every worker ticks, the rows' claims
    # make each connection's round run once (see service.webhook_schedules).
    from jirabridge.service.webhook_schedules import schedules_for_runtime
    from jirabridge.sync.worklogs.jobs import enqueue_pull

    async def worklog_pull(connection_id: str, now: datetime) -> object:
        # The pull's workflow id carries the minute, so this and the worklog timer's own
        # pull of the same minute are one workflow.
        return await enqueue_pull(jobs, sessions, connection_id, now=now)

    schedules = schedules_for_runtime(settings, sessions, worklog_pull=worklog_pull)
    await schedules.run(asyncio.Event(), every_sec=settings.webhook_schedule_tick_sec)


@asynccontextmanager
async def open_runtime(
    settings: Settings, *, workers: bool | None = None
) -> AsyncIterator[Runtime]:
    """Open the database, migrate SQLite to head, launch the job engine; close all on exit.

    A process that runs workers also runs housekeeping (:mod:`jirabridge.service.maintenance`):
    heartbeats, resuming the workflows of workers that stopped, and retention.

    On SQLite (one host, one process) the schema is upgraded at start so ``make demo`` needs no
    extra step. On PostgreSQL migrations are a deliberate job (``jirabridge db upgrade``), and a
    database that is behind refuses to start with a sentence saying so.
    """
    run_workers = settings.run_workers if workers is None else workers
    maintenance = MaintenanceConfig.from_settings(settings)
    governor_url = (
        None
        if settings.governor_store_url is None
        else settings.governor_store_url.get_secret_value()
    )
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    url = settings.effective_database_url
    engine = db.make_engine(url)
    try:
        await db.ping(engine)
        if settings.is_sqlite:
            await migrations.upgrade_async(url)
        elif not await migrations.is_at_head_async(url):
            raise ConfigError(
                "the database schema is not at the latest version; run `jirabridge db upgrade`"
            )
        sessions = db.session_factory(engine)
        # The governor store is open before the workflows are installed: the Jira clients they
        # build (also for runs recovered at launch) must pace against the shared budget.
        async with open_governor_store(governor_url) as governor_store:
            _install_jobs(settings, sessions, governor_store)
            jobs = JobEngine(
                JobsConfig(
                    system_database_url=settings.effective_jobs_database_url,
                    application_version=settings.application_version,
                    executor_id=settings.executor_id,
                    polling_interval_sec=settings.jobs_polling_interval_sec,
                    run_workers=run_workers,
                    # DBOS logs through its own handler; keep it to what an operator must see.
                    log_level="WARNING" if settings.log_level != "DEBUG" else "DEBUG",
                )
            )
            from jirabridge.sync.devlinks import jobs as devlink_jobs

            # Webhook handlers enqueue GitHub-and-Jira workflows on this engine.
            devlink_jobs.configure(jobs=jobs)
            await jobs.launch()
            timers = _start_timers(settings, sessions, jobs) if run_workers else []
            heartbeats = ExecutorHeartbeats(jobs.config.system_database_url)
            stop = asyncio.Event()
            housekeeping: asyncio.Task[None] | None = None
            try:
                async with httpx.AsyncClient(
                    timeout=httpx.Timeout(30.0, connect=5.0), follow_redirects=False
                ) as client:
                    runtime = Runtime(
                        settings=settings,
                        engine=engine,
                        sessions=sessions,
                        jobs=jobs,
                        http=client,
                        governor_store=governor_store,
                    )
                    if run_workers:
                        housekeeping = asyncio.create_task(
                            run_maintenance(jobs, runtime.sessions, heartbeats, maintenance, stop),
                            name="jirabridge-maintenance",
                        )
                    yield runtime
            finally:
                stop.set()
                if housekeeping is not None:
                    with contextlib.suppress(asyncio.CancelledError):
                        await housekeeping
                heartbeats.close()
                for timer in timers:
                    timer.cancel()
                await asyncio.gather(*timers, return_exceptions=True)
                await jobs.shutdown()
    finally:
        await engine.dispose()
