"""The local servers some tests need (Redis here; PostgreSQL has its fixtures in conftest).

Outside CI a test that needs an unreachable server skips; under ``CI=true`` it fails, since CI
must run it (``.ci/run`` starts the servers).
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

__all__ = ["REDIS_URL", "in_ci", "redis_client", "unavailable"]

REDIS_URL = os.environ.get("JIRABRIDGE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def in_ci() -> bool:
    """Whether this run is CI's (``CI=true``)."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def unavailable(what: str, exc: BaseException) -> NoReturn:
    """Skip the test (fail it under CI) because ``what`` could not be reached."""
    if in_ci():
        pytest.fail(f"{what} must be reachable under CI=true: {exc!r}")
    pytest.skip(f"{what} not reachable: {exc!r}")


async def redis_client() -> object:
    """A connected ``redis.asyncio`` client of :data:`REDIS_URL` (skip/fail when it is down);
    the caller closes it."""
    import redis.asyncio as redis_asyncio

    client = redis_asyncio.Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except Exception as exc:
        await client.aclose()
        unavailable("Redis", exc)
    return client
