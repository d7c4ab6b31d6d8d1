"""Fixtures for the HTTP core tests: a fake clock, and the real local Redis and PostgreSQL.

Shared-state tests are marked ``redis`` or ``postgres``. Outside CI they skip when the server is
not reachable; under ``CI=true`` they must run, so an unreachable server fails them instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from jirabridge.http.clock import FakeClock

from support.services import redis_client as connect_redis
from support.services import unavailable

POSTGRES_DSN = os.environ.get(
    "JIRABRIDGE_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "redis: needs the Redis server at 127.0.0.1:6379")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def unique() -> Callable[[str], str]:
    """Names no other test run (other engineers run tests at the same time) will use."""
    token = uuid.uuid4().hex[:12]
    return lambda prefix: f"{prefix}_{token}"


@pytest.fixture
async def redis_client() -> AsyncIterator[Any]:
    client: Any = await connect_redis()
    yield client
    await client.aclose()


@pytest.fixture
async def postgres_dsn(unique: Callable[[str], str]) -> AsyncIterator[str]:
    """A throwaway database with a unique name, dropped afterwards."""
    import asyncpg

    try:
        admin = await asyncpg.connect(POSTGRES_DSN)
    except Exception as exc:
        unavailable("PostgreSQL", exc)
    name = unique("jb_http_test")
    await admin.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = POSTGRES_DSN.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
