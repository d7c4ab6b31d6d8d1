"""Fixtures of the accounts tests, on top of the shared ``database_url``/``engine`` fixtures
(tests/conftest.py: every test runs on SQLite and on PostgreSQL, migrated to head)."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from jirabridge.store.db import session_factory


@pytest.fixture
def acc_db_url(database_url: str, engine: AsyncEngine) -> str:
    """The URL of the migrated database (for tests that start other processes on it)."""
    return database_url


@pytest.fixture
def acc_sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """The session factory of the migrated database."""
    return session_factory(engine)
