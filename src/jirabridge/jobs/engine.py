"""The durable job engine: DBOS Transact, launched once per process.

DBOS checkpoints workflows and their steps in a *system database* (a SQLite file on a laptop,
PostgreSQL when several worker processes share the work). After a crash, launching again
with the same ``executor_id`` and ``application_version`` resumes every unfinished workflow
of this executor from its last completed step.

DBOS is a process-wide singleton: one :class:`JobEngine` may run at a time; shut it down
before launching another (tests do exactly that). Launch it from the event loop that will
run the workflows (the web app's loop): queued and recovered workflows run on the loop that
launched DBOS, so they can share loop-bound resources such as database pools.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, ClassVar, Final, Generic, ParamSpec, TypeVar

from dbos import DBOS, DBOSConfig, SetEnqueueOptions, SetWorkflowID, WorkflowHandleAsync
from dbos import WorkflowStatus as _DBOSWorkflowStatus
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from jirabridge.errors import ConfigError, NotFoundError, StorageError, ValidationError
from jirabridge.jobs.registry import SiteQueue, declared_queues

__all__ = [
    "JobEngine",
    "JobHandle",
    "JobStatus",
    "JobsConfig",
    "system_database_url",
]

P = ParamSpec("P")
R = TypeVar("R")

_APP_NAME: Final = "jirabridge"
_PING_TIMEOUT_SEC: Final = 5.0
_LOG_LEVELS: Final = frozenset({"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"})
_FINAL_STATES: Final = frozenset(
    {"SUCCESS", "ERROR", "CANCELLED", "MAX_RECOVERY_ATTEMPTS_EXCEEDED"}
)
_STATES: Final = _FINAL_STATES | {"ENQUEUED", "DELAYED", "PENDING"}


def system_database_url(url: str) -> str:
    """Return ``url`` in the form DBOS expects for its system database.

    Accepts the spellings the rest of Jirabridge uses: ``sqlite+aiosqlite:///`` becomes
    ``sqlite:///`` (DBOS drives SQLite synchronously) and PostgreSQL URLs lose their async
    driver (DBOS uses psycopg itself).
    """
    if not url or not url.strip():
        raise ConfigError("system database URL is empty")
    try:
        parsed = make_url(url.strip())
    except ArgumentError:
        raise ConfigError(
            "system database URL is not valid; expected e.g. sqlite:///path/dbos.sqlite"
        ) from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        database = parsed.database or ""
        if database in ("", ":memory:"):
            raise ConfigError("the DBOS system database must be a file, not in-memory SQLite")
        return parsed.set(drivername="sqlite").render_as_string(hide_password=False)
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    raise ConfigError(f"unsupported system database backend {backend!r}: use sqlite or postgresql")


@dataclass(frozen=True, slots=True)
class JobsConfig:
    """How the job engine runs.

    ``application_version`` must be a constant bumped deliberately: DBOS only recovers
    workflows of the running version, so deriving it from the code (DBOS's default) would
    strand in-flight work on every upgrade. ``executor_id`` must be stable for a process slot
    (e.g. ``"local"`` or a StatefulSet ordinal): after a crash, only an executor with the same
    id recovers that process's workflows. ``polling_interval_sec`` is how often queues and
    result waits poll the database; lower it for interactive work and tests.
    ``run_workers=False`` makes a process that enqueues jobs and reads their status but takes
    no jobs from the queues (e.g. a web-only process next to ``jirabridge worker`` processes).
    """

    system_database_url: str
    application_version: str
    executor_id: str
    polling_interval_sec: float = 1.0
    log_level: str = "INFO"
    run_workers: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "system_database_url", system_database_url(self.system_database_url)
        )
        for field_name in ("application_version", "executor_id"):
            value = getattr(self, field_name)
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(f"jobs {field_name} must be a non-empty string")
        if not 0.001 <= self.polling_interval_sec <= 60:
            raise ConfigError("jobs polling_interval_sec must be between 0.001 and 60 seconds")
        if self.log_level.upper() not in _LOG_LEVELS:
            raise ConfigError(f"jobs log_level must be one of {', '.join(sorted(_LOG_LEVELS))}")

    @property
    def is_sqlite(self) -> bool:
        """Whether the system database is a SQLite file."""
        return self.system_database_url.startswith("sqlite")

    def __repr__(self) -> str:
        # The URL may carry a password.
        safe = make_url(self.system_database_url).render_as_string(hide_password=True)
        return (
            f"JobsConfig(system_database_url={safe!r}, "
            f"application_version={self.application_version!r}, "
            f"executor_id={self.executor_id!r}, polling_interval_sec={self.polling_interval_sec}, "
            f"run_workers={self.run_workers})"
        )


def _describe(error: BaseException | None) -> str | None:
    return None if error is None else f"{type(error).__name__}: {error}"


def _epoch_ms(value: int | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value / 1000, tz=UTC)


@dataclass(frozen=True, slots=True)
class JobStatus:
    """Where one workflow stands.

    ``state`` is DBOS's status: ``ENQUEUED``, ``DELAYED``, ``PENDING`` (running or waiting for
    recovery), ``SUCCESS``, ``ERROR``, ``CANCELLED`` or ``MAX_RECOVERY_ATTEMPTS_EXCEEDED``.
    ``site`` is the queue partition the job was enqueued on.
    """

    workflow_id: str
    name: str
    state: str
    queue: str | None
    site: str | None
    executor_id: str | None
    application_version: str | None
    created_at: datetime | None
    updated_at: datetime | None
    error: str | None

    @classmethod
    def _from_dbos(cls, status: _DBOSWorkflowStatus) -> JobStatus:
        return cls(
            workflow_id=status.workflow_id,
            name=status.name,
            state=str(status.status),
            queue=status.queue_name,
            site=status.queue_partition_key,
            executor_id=status.executor_id,
            application_version=status.app_version,
            created_at=_epoch_ms(status.created_at),
            updated_at=_epoch_ms(status.updated_at),
            error=_describe(status.error),
        )

    @property
    def finished(self) -> bool:
        """Whether the workflow has reached a final state."""
        return self.state in _FINAL_STATES


class JobHandle(Generic[R]):
    """A started or enqueued workflow."""

    def __init__(self, handle: WorkflowHandleAsync[R]) -> None:
        self._handle = handle

    @property
    def workflow_id(self) -> str:
        """The workflow's id."""
        return self._handle.get_workflow_id()

    async def result(self) -> R:
        """Wait for the workflow to finish and return its result (or raise its error)."""
        return await self._handle.get_result()

    async def status(self) -> JobStatus:
        """The workflow's current status."""
        return JobStatus._from_dbos(await self._handle.get_status())

    def __repr__(self) -> str:
        return f"JobHandle(workflow_id={self.workflow_id!r})"


def _enable_wal(path: Path) -> None:
    # DBOS does not set a journal mode on its SQLite file. WAL is a persistent property of
    # the file, so setting it once lets the web app read job status while workers write.
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, timeout=30)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
    finally:
        connection.close()


class JobEngine:
    """Starts, stops and talks to DBOS for this process.

    ``launch()`` registers every queue declared with
    :func:`jirabridge.jobs.registry.declare_site_queue`; queues declared later can be added
    with :meth:`register_queue`.
    """

    _running: ClassVar[JobEngine | None] = None

    def __init__(self, config: JobsConfig) -> None:
        self._config = config
        self._launched = False

    @property
    def config(self) -> JobsConfig:
        """The configuration this engine runs with."""
        return self._config

    @property
    def launched(self) -> bool:
        """Whether this engine is running."""
        return self._launched

    def _dbos_config(self) -> DBOSConfig:
        return {
            "name": _APP_NAME,
            "system_database_url": self._config.system_database_url,
            "application_version": self._config.application_version,
            "executor_id": self._config.executor_id,
            "log_level": self._config.log_level.upper(),
            "notification_listener_polling_interval_sec": self._config.polling_interval_sec,
        }

    async def launch(self) -> None:
        """Start DBOS, recover this executor's unfinished workflows, register the queues.

        Raises :class:`~jirabridge.errors.ConfigError` if another engine runs in this process
        and :class:`~jirabridge.errors.StorageError` if the system database cannot be used.
        """
        if self._launched:
            return
        if JobEngine._running is not None:
            raise ConfigError(
                "another JobEngine is running in this process (DBOS is a process-wide "
                "singleton); shut it down first"
            )
        if self._config.is_sqlite:
            database = make_url(self._config.system_database_url).database or ""
            await asyncio.to_thread(_enable_wal, Path(database))
        JobEngine._running = self
        try:
            DBOS(config=self._dbos_config())
            if not self._config.run_workers:
                DBOS.listen_queues([])
            # Called on this loop's thread on purpose (it blocks briefly): DBOS runs queued
            # and recovered async workflows on the loop that launched it.
            DBOS.launch()
            self._launched = True
            for spec in declared_queues():
                await self.register_queue(spec)
        except Exception as exc:
            await self._destroy()
            if isinstance(exc, ConfigError | StorageError):
                raise
            raise StorageError(
                f"job engine could not start on {self._safe_url()}: {type(exc).__name__}: {exc}"
            ) from exc

    async def shutdown(self, *, drain_sec: int = 0) -> None:
        """Stop DBOS. Waits up to ``drain_sec`` for running workflows; unfinished ones are
        recovered by the next launch with the same executor id."""
        if self._launched:
            await self._destroy(drain_sec=drain_sec)

    async def _destroy(self, *, drain_sec: int = 0) -> None:
        loop = asyncio.get_running_loop()
        try:
            # On a thread of its own, off the loop: destroy waits for workflows that run on
            # this loop, and it shuts down the executor DBOS made the loop's default.
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="jobs-shutdown") as pool:
                await loop.run_in_executor(
                    pool, partial(DBOS.destroy, workflow_completion_timeout_sec=drain_sec)
                )
        finally:
            # DBOS installed its (now shut down) executor as the loop's default; give the
            # loop a working one back so asyncio.to_thread keeps working after shutdown.
            loop.set_default_executor(ThreadPoolExecutor(thread_name_prefix="asyncio"))
            self._launched = False
            if JobEngine._running is self:
                JobEngine._running = None

    def _safe_url(self) -> str:
        return make_url(self._config.system_database_url).render_as_string(hide_password=True)

    def _require_launched(self) -> None:
        if not self._launched:
            raise StorageError("the job engine is not running")

    async def ping(self) -> None:
        """Check that the engine runs and its system database answers (for readiness).

        Raises :class:`~jirabridge.errors.StorageError` otherwise.
        """
        self._require_launched()
        try:
            async with asyncio.timeout(_PING_TIMEOUT_SEC):
                await DBOS.list_queues_async()
        except TimeoutError:
            raise StorageError(
                f"job system database {self._safe_url()} did not answer within "
                f"{_PING_TIMEOUT_SEC:g} s"
            ) from None
        except Exception as exc:
            raise StorageError(
                f"job system database {self._safe_url()} is unreachable: {type(exc).__name__}"
            ) from exc

    async def register_queue(self, spec: SiteQueue) -> None:
        """Create or update a per-site queue in the system database."""
        self._require_launched()
        rate = spec.per_site_rate
        await DBOS.register_queue_async(
            spec.name,
            partition_limiter=None if rate is None else {"limit": rate[0], "period": rate[1]},
            partition_concurrency=spec.per_site_concurrency,
            worker_concurrency=spec.worker_concurrency,
            polling_interval_sec=self._config.polling_interval_sec,
        )

    async def start(
        self,
        workflow_id: str,
        workflow: Callable[P, Coroutine[Any, Any, R]],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> JobHandle[R]:
        """Start ``workflow`` now, in this process, under ``workflow_id``.

        If a workflow with that id exists (running or finished), nothing new starts and the
        handle points at the existing one: that is what makes a deterministic id idempotent.
        """
        self._require_launched()
        _check_workflow_id(workflow_id)
        with SetWorkflowID(workflow_id):
            handle = await DBOS.start_workflow_async(workflow, *args, **kwargs)
        return JobHandle(handle)

    async def enqueue(
        self,
        queue: SiteQueue | str,
        site: str,
        workflow_id: str,
        workflow: Callable[P, Coroutine[Any, Any, R]],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> JobHandle[R]:
        """Put ``workflow`` on ``queue`` in ``site``'s partition, under ``workflow_id``.

        Each site's partition is limited on its own, so one site's burst cannot starve
        another. An existing ``workflow_id`` returns the existing workflow (see :meth:`start`).
        """
        self._require_launched()
        _check_workflow_id(workflow_id)
        if not isinstance(site, str) or not site.strip():
            raise ValidationError("site must be a non-empty string")
        name = queue.name if isinstance(queue, SiteQueue) else queue
        with SetWorkflowID(workflow_id), SetEnqueueOptions(queue_partition_key=site):
            handle = await DBOS.enqueue_workflow_async(name, workflow, *args, **kwargs)
        return JobHandle(handle)

    async def status(self, workflow_id: str) -> JobStatus | None:
        """The status of a workflow, or ``None`` if there is none with that id."""
        self._require_launched()
        found = await DBOS.get_workflow_status_async(workflow_id)
        return None if found is None else JobStatus._from_dbos(found)

    async def list_jobs(
        self,
        *,
        states: Sequence[str] | None = None,
        queue: str | None = None,
        name: str | None = None,
        id_prefix: str | None = None,
        limit: int = 100,
    ) -> list[JobStatus]:
        """Workflows matching every filter given, newest first (for status pages).

        ``states`` are :attr:`JobStatus.state` values; ``id_prefix`` matches the start of the
        workflow id (ids from :func:`~jirabridge.jobs.ids.workflow_id` start with their kind).
        Inputs and outputs are not loaded.
        """
        self._require_launched()
        if not 1 <= limit <= 10_000:
            raise ValidationError("limit must be between 1 and 10000")
        unknown = set(states or ()) - _STATES
        if unknown:
            raise ValidationError(f"unknown job states: {', '.join(sorted(unknown))}")
        found = await DBOS.list_workflows_async(
            status=list(states) if states else None,
            queue_name=queue,
            name=name,
            workflow_id_prefix=id_prefix,
            limit=limit,
            sort_desc=True,
            load_input=False,
            load_output=False,
        )
        return [JobStatus._from_dbos(status) for status in found]

    async def prune_finished(self, finished_before: datetime, *, batch: int = 500) -> int:
        """Delete up to ``batch`` workflows that finished before ``finished_before``.

        DBOS keeps every workflow's inputs, outputs and steps until told otherwise; call this
        periodically (e.g. from a scheduled job) until it returns 0. Returns how many were
        deleted. Unfinished workflows are never touched.
        """
        self._require_launched()
        if finished_before.tzinfo is None:
            raise ValidationError("finished_before must be timezone-aware")
        if not 1 <= batch <= 10_000:
            raise ValidationError("batch must be between 1 and 10000")
        found = await DBOS.list_workflows_async(
            status=sorted(_FINAL_STATES),
            completed_before=finished_before.isoformat(),
            limit=batch,
            load_input=False,
            load_output=False,
        )
        ids = [status.workflow_id for status in found]
        if ids:
            await DBOS.delete_workflows_async(ids, delete_children=True)
        return len(ids)

    async def recover_executors(self, executor_ids: Sequence[str]) -> list[str]:
        """Put the ``PENDING`` workflows of stopped executors back on their queues.

        For executors that will not come back (see :mod:`jirabridge.jobs.recovery`). Each
        workflow goes back through its queue's atomic dequeue, so calling this from several
        workers at once, or for a workflow a live worker already took, runs nothing twice.
        This process's own id is refused: its workflows are running here. Returns the ids of
        the workflows put back.
        """
        self._require_launched()
        others = [e for e in executor_ids if e and e != self._config.executor_id]
        if not others:
            return []
        # DBOS exposes this only as an internal classmethod; Conductor would call it for us.
        handles = await asyncio.to_thread(DBOS._recover_pending_workflows, others)
        return [handle.get_workflow_id() for handle in handles]

    async def handle(self, workflow_id: str) -> JobHandle[Any]:
        """A handle on an existing workflow; :class:`~jirabridge.errors.NotFoundError` if none."""
        self._require_launched()
        if await DBOS.get_workflow_status_async(workflow_id) is None:
            raise NotFoundError(f"no workflow with id {workflow_id!r}")
        return JobHandle(await DBOS.retrieve_workflow_async(workflow_id))


def _check_workflow_id(workflow_id: str) -> None:
    if not isinstance(workflow_id, str) or not workflow_id.strip():
        raise ValidationError("workflow_id must be a non-empty string")
