"""Declaring durable work: workflows, steps and per-site queues, without importing DBOS.

Higher layers (``sync/``) declare their jobs here at import time::

    from jirabridge.jobs import registry

    WORKLOGS = registry.declare_site_queue("worklogs", per_site_rate=(10, 1.0))

    @registry.step(retries=3)
    async def post_worklog(site: str, record_id: str) -> str: ...

    @registry.workflow("sync-worklog")
    async def sync_worklog(site: str, record_id: str) -> str:
        return await post_worklog(site, record_id)

Rules that come with durability: a workflow body must be deterministic (every I/O, clock
read or random number goes in a step); a step may run more than once (it runs again if the
process dies before its result is recorded), so every step that writes to Jira must be
idempotent; arguments and results must be picklable. Modules declaring workflows must be
imported before :meth:`jirabridge.jobs.engine.JobEngine.launch`, so that interrupted
workflows can be recovered.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Final, ParamSpec, TypeVar

from dbos import DBOS

from jirabridge.errors import ConfigError

__all__ = [
    "SiteQueue",
    "current_workflow_id",
    "declare_site_queue",
    "declared_queues",
    "declared_workflows",
    "durable_sleep",
    "step",
    "workflow",
]

P = ParamSpec("P")
R = TypeVar("R")

_NAME: Final = re.compile(r"^[a-z][a-z0-9_.\-]{0,99}$")
_DEFAULT_MAX_RECOVERY_ATTEMPTS: Final = 50

_workflows: dict[str, Callable[..., Any]] = {}
_queues: dict[str, SiteQueue] = {}


def _check_name(what: str, name: str) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(
            f"{what} name {name!r} must be lower-case letters, digits, '.', '_' or '-', "
            "starting with a letter"
        )


@dataclass(frozen=True, slots=True)
class SiteQueue:
    """A queue whose jobs are partitioned per Jira site, each site limited on its own.

    ``per_site_rate`` is ``(limit, period_sec)``: at most ``limit`` jobs of one site start in
    any ``period_sec`` window. ``per_site_concurrency`` caps how many jobs of one site run at
    once across all workers. At least one of the two must be given. ``worker_concurrency``
    caps jobs of this queue running in one process, whatever their site.
    """

    name: str
    per_site_rate: tuple[int, float] | None = None
    per_site_concurrency: int | None = None
    worker_concurrency: int | None = None

    def __post_init__(self) -> None:
        _check_name("queue", self.name)
        if self.per_site_rate is None and self.per_site_concurrency is None:
            raise ConfigError(
                f"queue {self.name!r} needs per_site_rate or per_site_concurrency: "
                "without a per-site limit it would not be partitioned by site"
            )
        if self.per_site_rate is not None:
            limit, period = self.per_site_rate
            if limit < 1 or period <= 0:
                raise ConfigError(f"queue {self.name!r}: per_site_rate needs limit ≥ 1, period > 0")
        for field_name in ("per_site_concurrency", "worker_concurrency"):
            value = getattr(self, field_name)
            if value is not None and value < 1:
                raise ConfigError(f"queue {self.name!r}: {field_name} must be at least 1")


def declare_site_queue(
    name: str,
    *,
    per_site_rate: tuple[int, float] | None = None,
    per_site_concurrency: int | None = None,
    worker_concurrency: int | None = None,
) -> SiteQueue:
    """Declare a per-site queue; the job engine registers it with DBOS when it launches.

    Declaring the same name twice with the same settings returns the first declaration;
    different settings raise :class:`~jirabridge.errors.ConfigError`.
    """
    spec = SiteQueue(name, per_site_rate, per_site_concurrency, worker_concurrency)
    existing = _queues.get(name)
    if existing is not None and existing != spec:
        raise ConfigError(f"queue {name!r} is already declared with other settings")
    _queues[name] = spec
    return spec


def declared_queues() -> tuple[SiteQueue, ...]:
    """Every queue declared so far, in declaration order."""
    return tuple(_queues.values())


def declared_workflows() -> tuple[str, ...]:
    """The names of every workflow declared so far."""
    return tuple(_workflows)


def _origin(func: Callable[..., Any]) -> tuple[str, str]:
    return (func.__module__, func.__qualname__)


def workflow(
    name: str, *, max_recovery_attempts: int = _DEFAULT_MAX_RECOVERY_ATTEMPTS
) -> Callable[
    [Callable[P, Coroutine[Any, Any, R]]],
    Callable[P, Coroutine[Any, Any, R]],
]:
    """Declare an ``async`` function as a durable workflow under a stable ``name``.

    The name, not the Python path, identifies the workflow in the database, so functions can
    be moved or renamed without stranding workflows in flight. A workflow that keeps crashing
    its process is given up after ``max_recovery_attempts`` recoveries.
    """
    _check_name("workflow", name)

    def decorate(
        func: Callable[P, Coroutine[Any, Any, R]],
    ) -> Callable[P, Coroutine[Any, Any, R]]:
        if not inspect.iscoroutinefunction(func):
            raise ConfigError(f"workflow {name!r} must be an async function")
        existing = _workflows.get(name)
        if existing is not None and _origin(existing) != _origin(func):
            raise ConfigError(
                f"workflow name {name!r} is already used by "
                f"{existing.__module__}.{existing.__qualname__}"
            )
        durable = DBOS.workflow(name=name, max_recovery_attempts=max_recovery_attempts)(func)
        _workflows[name] = func
        return durable

    return decorate


def step(
    *,
    name: str | None = None,
    retries: int = 0,
    retry_interval_sec: float = 1.0,
    backoff_rate: float = 2.0,
    retry_on: Callable[[BaseException], bool] | None = None,
    timeout_sec: float | None = None,
) -> Callable[
    [Callable[P, Coroutine[Any, Any, R]]],
    Callable[P, Coroutine[Any, Any, R]],
]:
    """Declare an ``async`` function as a workflow step: its result is checkpointed.

    Inside a workflow a completed step is never run again, even after a crash; a step that
    was interrupted runs again (at-least-once). ``retries`` retries it on exceptions for which
    ``retry_on`` returns true (all, if not given), waiting ``retry_interval_sec`` times
    ``backoff_rate`` to the power of the attempt. ``timeout_sec`` cancels an attempt that runs
    too long. Outside a workflow the function runs as a plain call.
    """
    if retries < 0:
        raise ConfigError("retries must be zero or more")
    if retry_interval_sec < 0 or backoff_rate < 1:
        raise ConfigError("retry_interval_sec must be ≥ 0 and backoff_rate ≥ 1")
    if name is not None:
        _check_name("step", name)

    def decorate(
        func: Callable[P, Coroutine[Any, Any, R]],
    ) -> Callable[P, Coroutine[Any, Any, R]]:
        if not inspect.iscoroutinefunction(func):
            raise ConfigError(f"step {name or func.__qualname__!r} must be an async function")
        return DBOS.step(
            name=name,
            retries_allowed=retries > 0,
            max_attempts=retries + 1,
            interval_seconds=retry_interval_sec,
            backoff_rate=backoff_rate,
            should_retry=retry_on,
            timeout_seconds=timeout_sec,
        )(func)

    return decorate


def current_workflow_id() -> str | None:
    """The id of the workflow running in this task, or ``None`` outside a workflow."""
    value = DBOS.workflow_id
    return value if isinstance(value, str) else None


async def durable_sleep(seconds: float) -> None:
    """Sleep inside a workflow in a way that survives a restart (the wake-up time is stored).

    Use it for long waits such as a ``Retry-After`` of many minutes. Needs a launched job
    engine; outside a workflow it is an ordinary sleep.
    """
    if seconds < 0:
        raise ValueError("seconds must be zero or more")
    await DBOS.sleep_async(seconds)
