"""Fixtures shared by the whole suite: a database on each backend.

``database_url`` runs a test twice: on a SQLite file in a temporary directory and on a fresh
PostgreSQL database (server 127.0.0.1:5432, user ``postgres``, trust auth). Each test gets its
own empty database, named after this run and xdist worker, dropped when the test ends; any
left behind by a crash are dropped at the end of the session. When PostgreSQL is unreachable
the PostgreSQL runs are skipped locally, and fail under ``CI=true`` (CI must run them).

``migrated_database_url`` is the same but migrated to the newest revision (on PostgreSQL a
copy of a template migrated once per session); ``engine`` is an async engine on it and
``session`` a session on that. ``jobs_database_url`` is a DBOS system database (SQLite file
or fresh PostgreSQL database with DBOS's schema, in DBOS's URL form). ``backend`` says which
backend the current run uses.

Heavy imports (SQLAlchemy, the store) happen inside the fixtures, so tests that use none of
this do not pay for them.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

PG_HOST = "127.0.0.1"
# Override only to point the suite at another local server (or, to check the CI rule, at none).
PG_PORT = int(os.environ.get("JIRABRIDGE_TEST_PG_PORT", "5432"))
PG_USER = "postgres"
_PG_ADMIN_DSN = f"host={PG_HOST} port={PG_PORT} user={PG_USER} dbname=postgres connect_timeout=3"

#: Shared fixtures from tests/support: ``browser`` (Debian's chromium through Playwright).
pytest_plugins = ("support.browser",)

BACKENDS = ("sqlite", pytest.param("postgresql", marks=pytest.mark.postgres))


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


class PostgresDatabases:
    """Creates and drops throw-away PostgreSQL databases for one test session."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._counter = 0

    def _admin(self) -> Any:
        import psycopg

        return psycopg.connect(_PG_ADMIN_DSN, autocommit=True)

    def create(self, *, template: str | None = None, suffix: str | None = None) -> str:
        """Create a database (empty, or a copy of ``template``) and return its name."""
        self._counter += 1
        name = f"{self.prefix}_{suffix or self._counter}"
        copy_of = f' TEMPLATE "{template}"' if template else ""
        with self._admin() as connection:
            connection.execute(f'CREATE DATABASE "{name}"{copy_of}')
        return name

    def drop(self, name: str) -> None:
        """Drop a database, disconnecting anyone still on it."""
        with self._admin() as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def drop_leftovers(self) -> None:
        """Drop every database of this session that is still there."""
        with self._admin() as connection:
            rows = connection.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE %s",
                (self.prefix.replace("_", r"\_") + r"\_%",),
            ).fetchall()
        for (name,) in rows:
            self.drop(name)


def _probe_postgres() -> str | None:
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed"
    try:
        with psycopg.connect(_PG_ADMIN_DSN) as connection:
            connection.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"PostgreSQL at {PG_HOST}:{PG_PORT} is unreachable: {type(exc).__name__}"
    return None


@pytest.fixture(scope="session")
def postgres_databases() -> Iterator[PostgresDatabases]:
    """The session's PostgreSQL database factory; skips (or fails in CI) without a server."""
    problem = _probe_postgres()
    if problem is not None:
        if _in_ci():
            pytest.fail(f"{problem}; CI must run the PostgreSQL tests")
        pytest.skip(problem)
    worker = re.sub(r"[^a-z0-9]", "", os.environ.get("PYTEST_XDIST_WORKER", "main").lower())
    manager = PostgresDatabases(f"jbtest_{uuid.uuid4().hex[:10]}_{worker}")
    try:
        yield manager
    finally:
        manager.drop_leftovers()


def _postgres_url(name: str, driver: str) -> str:
    return f"postgresql+{driver}://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """``"sqlite"`` or ``"postgresql"``: the backend this run of the test uses."""
    return str(request.param)


@pytest.fixture
def is_sqlite(backend: str) -> bool:
    """Whether this run of the test is the SQLite one."""
    return backend == "sqlite"


def _fresh_postgres(
    request: pytest.FixtureRequest, driver: str, template: str | None = None
) -> Iterator[str]:
    databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
    name = databases.create(template=template)
    try:
        yield _postgres_url(name, driver)
    finally:
        databases.drop(name)


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of an empty application database, on SQLite and on PostgreSQL."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'app.db'}"
    else:
        yield from _fresh_postgres(request, "asyncpg")


@pytest.fixture(scope="session")
def _migrated_postgres_template(postgres_databases: PostgresDatabases) -> str:
    # Migrating once and copying the result per test (CREATE DATABASE ... TEMPLATE) is several
    # times faster than running the migrations for every test.
    from jirabridge.store.migrations import upgrade

    name = postgres_databases.create(suffix="app_template")
    upgrade(_postgres_url(name, "asyncpg"))
    return name


@pytest.fixture
def migrated_database_url(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[str]:
    """URL of an application database migrated to the newest revision."""
    if backend == "sqlite":
        from jirabridge.store.migrations import upgrade

        url = f"sqlite+aiosqlite:///{tmp_path / 'app.db'}"
        upgrade(url)
        yield url
    else:
        template = request.getfixturevalue("_migrated_postgres_template")
        yield from _fresh_postgres(request, "asyncpg", template)


@pytest.fixture(scope="session")
def _dbos_postgres_template(postgres_databases: PostgresDatabases) -> str:
    from dbos import DBOS

    name = postgres_databases.create(suffix="dbos_template")
    DBOS.migrate(_postgres_url(name, "psycopg"))
    return name


@pytest.fixture
def jobs_database_url(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[str]:
    """URL of an empty DBOS system database (schema created), on SQLite and on PostgreSQL."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'dbos.sqlite'}"
    else:
        template = request.getfixturevalue("_dbos_postgres_template")
        yield from _fresh_postgres(request, "psycopg", template)


@pytest.fixture
async def engine(migrated_database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on a database migrated to the newest schema, on each backend."""
    from jirabridge.store.db import make_engine

    created = make_engine(migrated_database_url)
    try:
        yield created
    finally:
        await created.dispose()


@pytest.fixture
async def session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A session on the migrated ``engine`` (commit yourself; nothing is rolled back)."""
    from jirabridge.store.db import session_factory

    async with session_factory(engine)() as opened:
        yield opened


@pytest.fixture(autouse=True)
def _restore_root_logging() -> Iterator[None]:
    """A command under test may call configure_logging; keep that from leaking into the next."""
    import logging

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
