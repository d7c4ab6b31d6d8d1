"""Recovering the durable workflows of worker processes that stopped, without DBOS Conductor.

DBOS recovers only the workflows of the executor id that launches, so when a worker dies
for good (a node lost, a StatefulSet scaled down) its ``PENDING`` workflows would wait
forever. Every worker therefore writes a heartbeat row to a small table in the DBOS system
database; a worker that finds another executor's heartbeat older than ``stale_after_sec``
asks DBOS to re-enqueue that executor's pending workflows. DBOS's recovery is idempotent:
a re-enqueued workflow goes back through the queue's atomic ENQUEUED -> PENDING dequeue, so
several workers declaring the same executor dead still run each workflow once, and a
workflow already taken by a live worker no longer matches the dead executor's id.

The heartbeat table lives next to DBOS's own tables (same database, same URL) because it
describes the same processes; it is created idempotently at first use, like DBOS's.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, ParamSpec, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from jirabridge.errors import ConfigError, StorageError

__all__ = ["ExecutorHeartbeats", "RecoveryConfig"]

P = ParamSpec("P")
T = TypeVar("T")

_TABLE: Final = "jirabridge_executor_heartbeat"

_metadata = sa.MetaData()
_heartbeats = sa.Table(
    _TABLE,
    _metadata,
    sa.Column("executor_id", sa.String(200), primary_key=True),
    sa.Column("last_seen", sa.Float, nullable=False),
    sa.Column("started_at", sa.Float, nullable=False),
)


@dataclass(frozen=True, slots=True)
class RecoveryConfig:
    """How often workers beat and when a silent executor counts as stopped.

    ``stale_after_sec`` must be several heartbeats long so that a busy but live worker is
    never declared dead (its pending workflows would then run twice at the step level, which
    the write ledger tolerates but which wastes work).
    """

    heartbeat_interval_sec: float = 10.0
    stale_after_sec: float = 60.0

    def __post_init__(self) -> None:
        if not 0.05 <= self.heartbeat_interval_sec <= 3600:
            raise ConfigError("heartbeat_interval_sec must be between 0.05 and 3600 seconds")
        if self.stale_after_sec < 3 * self.heartbeat_interval_sec:
            raise ConfigError("stale_after_sec must be at least three heartbeat intervals")


class ExecutorHeartbeats:
    """The heartbeat table: who is alive, who stopped. Blocking calls run on a thread."""

    def __init__(self, system_database_url: str, *, clock: Callable[[], float] = time.time) -> None:
        self._engine: Engine = sa.create_engine(system_database_url, pool_pre_ping=True)
        self._clock = clock
        self._created = False

    def _ensure_table(self) -> None:
        if not self._created:
            try:
                _metadata.create_all(self._engine, checkfirst=True)
            except (sa.exc.OperationalError, sa.exc.ProgrammingError):
                # Two processes (or a worker and a reader) can both see "no table" and race to
                # create it; the loser's error only means the table now exists.
                if not sa.inspect(self._engine).has_table(_heartbeats.name):
                    raise
            self._created = True

    def _beat(self, executor_id: str) -> None:
        self._ensure_table()
        now = self._clock()
        with self._engine.begin() as connection:
            updated = connection.execute(
                sa.update(_heartbeats)
                .where(_heartbeats.c.executor_id == executor_id)
                .values(last_seen=now)
            )
            if updated.rowcount == 0:
                connection.execute(
                    sa.insert(_heartbeats).values(
                        executor_id=executor_id, last_seen=now, started_at=now
                    )
                )

    async def beat(self, executor_id: str) -> None:
        """Record that ``executor_id`` is alive now."""
        if not executor_id.strip():
            raise ConfigError("executor_id must be a non-empty string")
        await self._run(self._beat, executor_id)

    def _stale(self, stale_after_sec: float) -> list[str]:
        self._ensure_table()
        cutoff = self._clock() - stale_after_sec
        with self._engine.begin() as connection:
            rows = connection.execute(
                sa.select(_heartbeats.c.executor_id)
                .where(_heartbeats.c.last_seen < cutoff)
                .order_by(_heartbeats.c.executor_id)
            )
            return [str(row.executor_id) for row in rows]

    async def stale(self, stale_after_sec: float) -> list[str]:
        """Executors whose last heartbeat is older than ``stale_after_sec``."""
        return await self._run(self._stale, stale_after_sec)

    def _last_seen(self, executor_id: str) -> float | None:
        self._ensure_table()
        with self._engine.begin() as connection:
            value = connection.execute(
                sa.select(_heartbeats.c.last_seen).where(_heartbeats.c.executor_id == executor_id)
            ).scalar_one_or_none()
        return None if value is None else float(value)

    async def last_seen(self, executor_id: str) -> float | None:
        """When ``executor_id`` last beat (epoch seconds), or ``None`` if it has no row."""
        return await self._run(self._last_seen, executor_id)

    def _forget(self, executor_id: str) -> None:
        self._ensure_table()
        with self._engine.begin() as connection:
            connection.execute(
                sa.delete(_heartbeats).where(_heartbeats.c.executor_id == executor_id)
            )

    async def forget(self, executor_id: str) -> None:
        """Drop ``executor_id``'s row (after a clean shutdown, or once it was recovered)."""
        await self._run(self._forget, executor_id)

    async def _run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except sa.exc.SQLAlchemyError as exc:
            raise StorageError(f"executor heartbeats unavailable: {type(exc).__name__}") from exc

    def close(self) -> None:
        """Release the connection pool."""
        self._engine.dispose()

    def __repr__(self) -> str:
        return "ExecutorHeartbeats()"
