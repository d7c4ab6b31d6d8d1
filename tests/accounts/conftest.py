"""Fixtures of the accounts tests, on top of the shared ``migrated_database_url`` and
``engine`` fixtures (tests/conftest.py: each test runs on SQLite and on PostgreSQL)."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from jirabridge.store.db import session_factory


@pytest.fixture
def acc_db_url(migrated_database_url: str, engine: AsyncEngine) -> str:
    """The URL of the migrated database (for tests that start other processes on it)."""
    return migrated_database_url


@pytest.fixture
def acc_sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """The session factory of the migrated database."""
    return session_factory(engine)
