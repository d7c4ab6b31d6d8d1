"""Database engines and transactions for the application tables (SQLite or PostgreSQL).

SQLite is the laptop default and has one writer at a time. Two settings make that safe under
concurrent use: WAL journal mode (readers never block the writer) and ``BEGIN IMMEDIATE`` for
transactions that will write, so a second writer waits for the lock (up to ``busy_timeout``)
instead of failing with "database is locked" when it tries to upgrade a read lock. The
sqlite3 driver's own transaction handling is switched off and we emit ``BEGIN`` ourselves,
following SQLAlchemy's documented recipe for pysqlite/aiosqlite.

Use :func:`write_transaction` for work that writes and :func:`read_transaction` for work that
only reads; both commit or roll back for you. On PostgreSQL the two differ only in that a read
transaction is rolled back at the end.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from sqlalchemy import event, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from jirabridge.errors import ConfigError, StorageError

__all__ = [
    "READ_ONLY",
    "SQLITE_BUSY_TIMEOUT_MS",
    "dialect_insert",
    "is_sqlite",
    "make_engine",
    "normalize_url",
    "ping",
    "read_transaction",
    "redact_url",
    "session_factory",
    "sqlite_url",
    "storage_errors",
    "write_transaction",
]

#: How long a SQLite writer waits for the lock before giving up.
SQLITE_BUSY_TIMEOUT_MS: Final = 5000

# Execution option read by the "begin" listener: which BEGIN a SQLite transaction starts with.
_BEGIN_MODE_OPTION: Final = "jirabridge_sqlite_begin"
_BEGIN_IMMEDIATE: Final = "IMMEDIATE"
_BEGIN_DEFERRED: Final = "DEFERRED"

#: Execution options for a Core connection that only reads, e.g.
#: ``await connection.execution_options(**READ_ONLY)`` before its first statement: on SQLite
#: its transaction then begins DEFERRED and does not wait for writers. Connections without it
#: begin IMMEDIATE, which is always safe but queues behind every writer.
READ_ONLY: Final[Mapping[str, str]] = MappingProxyType({_BEGIN_MODE_OPTION: _BEGIN_DEFERRED})

_PING_TIMEOUT_SEC: Final = 5.0

_DRIVER_ALIASES: Final = {
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+psycopg": "postgresql+asyncpg",
    "postgresql+psycopg2": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
    "sqlite+pysqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
}


def _parse(url: str) -> URL:
    if not url or not url.strip():
        raise ConfigError("database URL is empty")
    try:
        return make_url(url.strip())
    except ArgumentError:
        # The message of ArgumentError repeats the URL, which may hold a password.
        raise ConfigError(
            "database URL is not valid; expected e.g. sqlite:///path/app.db or "
            "postgresql://user@host/dbname"
        ) from None


def normalize_url(url: str) -> str:
    """Return ``url`` with the async driver Jirabridge uses for its backend.

    ``postgresql://`` (and the psycopg spellings) become ``postgresql+asyncpg://``;
    ``sqlite:///`` becomes ``sqlite+aiosqlite:///``. Other backends are refused with a
    :class:`~jirabridge.errors.ConfigError`.
    """
    parsed = _parse(url)
    driver = _DRIVER_ALIASES.get(parsed.drivername)
    if driver is None:
        raise ConfigError(
            f"unsupported database backend {parsed.drivername!r}: use sqlite or postgresql"
        )
    return parsed.set(drivername=driver).render_as_string(hide_password=False)


def redact_url(url: str) -> str:
    """Return ``url`` with any password replaced by ``***``, for logs and messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<invalid database URL>"


def is_sqlite(url_or_engine: str | AsyncEngine) -> bool:
    """Whether a URL or engine points at SQLite."""
    if isinstance(url_or_engine, AsyncEngine):
        return url_or_engine.dialect.name == "sqlite"
    return _parse(url_or_engine).get_backend_name() == "sqlite"


def sqlite_url(path: str | Path) -> str:
    """Return the async SQLAlchemy URL of the SQLite database file at ``path``.

    The path is made absolute so the URL means the same file whatever the working directory.
    """
    resolved = Path(path).expanduser().resolve()
    if resolved.is_dir():
        raise ConfigError(f"SQLite database path {resolved} is a directory, not a file")
    return f"sqlite+aiosqlite:///{resolved}"


def make_engine(url: str, *, echo: bool = False, foreign_keys: bool = True) -> AsyncEngine:
    """Create the async engine for ``url`` (normalised with :func:`normalize_url`).

    For SQLite every connection gets WAL journal mode, ``busy_timeout``, ``foreign_keys=ON``
    and ``synchronous=NORMAL``, and transactions begin ``IMMEDIATE`` unless started through
    :func:`read_transaction`. In-memory SQLite is refused: each pooled connection would see a
    different empty database.

    ``foreign_keys=False`` is for migrations only: SQLite batch migrations copy and drop
    tables, which must not trigger foreign-key actions (integrity is checked afterwards).
    """
    normalized = normalize_url(url)
    parsed = make_url(normalized)
    if parsed.get_backend_name() != "sqlite":
        return create_async_engine(normalized, echo=echo, pool_pre_ping=True)
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file::memory:"):
        raise ConfigError("in-memory SQLite is not supported; give a database file path")
    if not parsed.query.get("uri"):
        parent = Path(database).expanduser().parent
        if not parent.is_dir():
            raise ConfigError(f"directory {parent} for the SQLite database does not exist")
    engine = create_async_engine(normalized, echo=echo)
    _install_sqlite_hooks(engine, foreign_keys=foreign_keys)
    return engine


def _install_sqlite_hooks(engine: AsyncEngine, *, foreign_keys: bool) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Stop the driver from issuing BEGIN (and COMMIT before DDL) itself; _on_begin does it.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get(_BEGIN_MODE_OPTION, _BEGIN_IMMEDIATE)
        connection.exec_driver_sql(f"BEGIN {mode}")


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Return the session factory for ``engine``.

    Objects stay usable after commit (``expire_on_commit=False``): async code cannot lazily
    reload expired attributes.
    """
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def write_transaction(
    factory: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """Open a session in a write transaction; commit on success, roll back on error.

    On SQLite the transaction takes the write lock at once (``BEGIN IMMEDIATE``), so
    concurrent writers queue for up to ``busy_timeout`` rather than fail. Keep it short:
    never hold one across a network call.
    """
    async with factory() as session, session.begin():
        await session.connection(execution_options={_BEGIN_MODE_OPTION: _BEGIN_IMMEDIATE})
        yield session


@asynccontextmanager
async def read_transaction(
    factory: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """Open a session in a read transaction with a consistent snapshot; always rolled back.

    On SQLite it does not take the write lock, so it never waits for writers (WAL mode).
    Anything written inside it is discarded; objects loaded in it stay readable afterwards.
    """
    # Closing (not rolling back) ends the transaction without expiring what was loaded,
    # so objects read here stay readable (detached) after the block.
    async with factory() as session:
        await session.connection(execution_options=READ_ONLY)
        yield session


_CREDENTIALS_IN_TEXT = re.compile(r"://[^/\s@]*@")


async def ping(engine: AsyncEngine, *, within_sec: float = _PING_TIMEOUT_SEC) -> None:
    """Check that the database answers; raise :class:`~jirabridge.errors.StorageError` if not.

    The error message names the database (password hidden) and the cause, never secrets.
    """
    where = redact_url(engine.url.render_as_string(hide_password=False))
    try:
        async with asyncio.timeout(within_sec):
            async with engine.connect() as connection:
                await connection.execution_options(**READ_ONLY)
                await connection.execute(text("SELECT 1"))
    except TimeoutError:
        raise StorageError(
            f"database {where} did not answer within {within_sec:g} s",
            details={"database": where},
        ) from None
    except (SQLAlchemyError, OSError) as exc:
        original = getattr(exc, "orig", None) or exc
        first_line = (str(original).strip().splitlines() or [""])[0]
        cause = _CREDENTIALS_IN_TEXT.sub("://***@", first_line)
        raise StorageError(
            f"database {where} is unreachable: {type(original).__name__}: {cause}",
            details={"database": where},
        ) from exc


@contextmanager
def storage_errors(subject: str, action: str) -> Iterator[None]:
    """Turn "the database did not do it" into StorageError; let logic errors through.

    ``subject`` and ``action`` make the sentence: "write ledger could not record an intent".
    """
    try:
        yield
    except (OperationalError, InterfaceError) as exc:
        orig = exc.orig if isinstance(exc, DBAPIError) else None
        reason = type(orig).__name__ if orig is not None else type(exc).__name__
        raise StorageError(f"{subject} could not {action}: {reason}: {orig}") from exc


def dialect_insert(session: AsyncSession) -> Any:
    """``insert`` of the session's dialect, for ``ON CONFLICT`` (spelled alike on both)."""
    from sqlalchemy.dialects import postgresql, sqlite

    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert
    return sqlite.insert
