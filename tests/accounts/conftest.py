"""Database fixtures for the accounts tests: a fresh schema on SQLite and on PostgreSQL.

(Kept local until the shared fixtures of tests/conftest.py land; same shape: the factory of a
fresh, migrated-or-created database per test.)
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

import jirabridge.store.account_models  # noqa: F401 - registers the tables
from jirabridge.store.db import make_engine, session_factory
from jirabridge.store.models import Base

PG_ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
async def acc_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """The URL of an empty database of each backend, dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'accounts.sqlite'}"
        return
    name = f"jb_acc_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


@pytest.fixture
async def acc_engine(acc_db_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on a database holding the application tables."""
    engine = make_engine(acc_db_url)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def acc_sessions(acc_engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """The session factory of :func:`acc_engine`."""
    return session_factory(acc_engine)
