"""Choosing where the rate-limit governor keeps its state, from settings.

One process keeps it in memory. Several processes talking to the same Jira sites must share
it, or each would spend the whole site budget on its own: ``governor_store_url`` names a
Redis (``redis://``/``rediss://``) or PostgreSQL (``postgresql://``, any async driver suffix)
that every process uses.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from jirabridge.errors import ConfigError
from jirabridge.http.governor_postgres import PostgresGovernorStore
from jirabridge.http.governor_redis import RedisGovernorStore
from jirabridge.http.governor_store import GovernorStore, MemoryGovernorStore

__all__ = ["governor_store_kind", "open_governor_store"]


def governor_store_kind(url: str | None) -> str:
    """``"memory"``, ``"redis"`` or ``"postgresql"`` for a ``governor_store_url``.

    Raises :class:`~jirabridge.errors.ConfigError` for any other scheme.
    """
    if url is None or not url.strip():
        return "memory"
    scheme = url.strip().split(":", 1)[0].lower()
    if scheme in ("redis", "rediss"):
        return "redis"
    if scheme.split("+", 1)[0] in ("postgresql", "postgres"):
        return "postgresql"
    raise ConfigError(
        "governor_store_url must start with redis://, rediss:// or postgresql:// "
        f"(got scheme {scheme!r})"
    )


def _asyncpg_dsn(url: str) -> str:
    # asyncpg takes a libpq-style URL: no SQLAlchemy driver suffix.
    try:
        parsed = make_url(url.strip())
    except ArgumentError:
        raise ConfigError("governor_store_url is not a valid PostgreSQL URL") from None
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


@asynccontextmanager
async def open_governor_store(url: str | None) -> AsyncIterator[GovernorStore]:
    """Open the store ``url`` names (memory when ``None``) and close it on exit."""
    kind = governor_store_kind(url)
    if kind == "memory" or url is None:
        yield MemoryGovernorStore()
        return
    if kind == "redis":
        redis_store = RedisGovernorStore.from_url(url.strip(), prefix="jirabridge:governor:")
        try:
            yield redis_store
        finally:
            await redis_store.aclose()
        return
    pg_store = await PostgresGovernorStore.connect(_asyncpg_dsn(url))
    try:
        yield pg_store
    finally:
        await pg_store.aclose()
