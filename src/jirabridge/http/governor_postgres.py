"""A :class:`~jirabridge.http.governor_store.GovernorStore` in PostgreSQL, shared by many processes.

One table of ``(key, value, expires_at)``; each operation is a single ``INSERT ... ON CONFLICT DO
UPDATE`` statement, atomic under concurrent writers without explicit locks. Needs ``asyncpg``
(the ``service`` extra); imported only when used.
"""

from __future__ import annotations

import re
from typing import Any

from jirabridge.errors import ConfigError, StorageError

__all__ = ["PostgresGovernorStore"]

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


class PostgresGovernorStore:
    """Governor state in a PostgreSQL table. ``pool`` is an ``asyncpg`` pool (or connection).

    Call :meth:`create_table` once (idempotent). :meth:`purge` deletes rows that no longer matter.
    """

    def __init__(self, pool: Any, *, table: str = "jirabridge_rate_governor") -> None:
        if not _IDENTIFIER.fullmatch(table):
            raise ConfigError(f"invalid table name for the governor store: {table!r}")
        self._pool = pool
        self.table = table
        self._owns_pool = False

    @classmethod
    async def connect(
        cls, dsn: str, *, table: str = "jirabridge_rate_governor", create: bool = True
    ) -> PostgresGovernorStore:
        """Open a small pool to ``dsn`` and (by default) create the table."""
        try:
            import asyncpg  # type: ignore[import-untyped]  # optional: service extra
        except ImportError as exc:
            raise ConfigError(
                "the PostgreSQL governor store needs 'asyncpg' (jirabridge[service])"
            ) from exc
        try:
            pool = await asyncpg.create_pool(dsn, min_size=1, max_size=4)
        except (OSError, asyncpg.PostgresError) as exc:
            raise StorageError(f"cannot reach PostgreSQL: {type(exc).__name__}") from exc
        store = cls(pool, table=table)
        store._owns_pool = True
        if create:
            await store.create_table()
        return store

    async def _fetchval(self, sql: str, *args: Any) -> Any:
        try:
            return await self._pool.fetchval(sql, *args)
        except Exception as exc:  # asyncpg raises its own tree; callers see one error type
            raise StorageError(
                f"rate-limit state in PostgreSQL unavailable: {type(exc).__name__}"
            ) from exc

    async def create_table(self) -> None:
        """Create the table if it does not exist."""
        await self._fetchval(
            f"CREATE TABLE IF NOT EXISTS {self.table} ("
            " key text PRIMARY KEY,"
            " value double precision NOT NULL,"
            " expires_at double precision NOT NULL)"
        )

    async def advance(self, key: str, now: float, increment: float, ttl: float) -> float:
        """See :meth:`GovernorStore.advance`."""
        value = await self._fetchval(
            f"INSERT INTO {self.table} AS t (key, value, expires_at)"  # noqa: S608
            " VALUES ($1::text, $2::float8 + $3::float8, $2::float8 + $4::float8)"
            " ON CONFLICT (key) DO UPDATE SET"
            "  value = GREATEST(t.value, $2::float8) + $3::float8,"
            "  expires_at = GREATEST(t.expires_at, EXCLUDED.expires_at)"
            " RETURNING value",
            key,
            now,
            increment,
            ttl,
        )
        return float(value)

    async def raise_to(self, key: str, target: float, ttl: float) -> None:
        """See :meth:`GovernorStore.raise_to`."""
        await self._fetchval(
            f"INSERT INTO {self.table} AS t (key, value, expires_at)"  # noqa: S608
            " VALUES ($1::text, $2::float8, $2::float8 + $3::float8)"
            " ON CONFLICT (key) DO UPDATE SET"
            "  value = GREATEST(t.value, EXCLUDED.value),"
            "  expires_at = GREATEST(t.expires_at, EXCLUDED.expires_at)",
            key,
            target,
            ttl,
        )

    async def get(self, key: str) -> float | None:
        """See :meth:`GovernorStore.get`."""
        value = await self._fetchval(
            f"SELECT value FROM {self.table} WHERE key = $1",  # noqa: S608
            key,
        )
        return None if value is None else float(value)

    async def purge(self, now: float) -> None:
        """Delete rows whose values expired before ``now``."""
        await self._fetchval(
            f"DELETE FROM {self.table} WHERE expires_at < $1::float8",  # noqa: S608
            now,
        )

    async def aclose(self) -> None:
        """Close the pool if :meth:`connect` opened it."""
        if self._owns_pool:
            await self._pool.close()

    def __repr__(self) -> str:
        return f"PostgresGovernorStore(table={self.table!r})"
