"""Governor state shared through the real local Redis and PostgreSQL (marked ``redis`` and
``postgres``): several processes serving one site must draw from one budget."""

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from jirabridge.http.clock import FakeClock
from jirabridge.http.governor import GovernorLimits, Rate, RateGovernor
from jirabridge.http.governor_postgres import PostgresGovernorStore
from jirabridge.http.governor_redis import RedisGovernorStore
from jirabridge.http.governor_store import GovernorStore


def near(value: float) -> object:
    return pytest.approx(value, abs=1e-4)


async def check_atomic_advance(first: GovernorStore, second: GovernorStore, key: str) -> None:
    now = 1_700_000_000.0
    results = await asyncio.gather(
        *(store.advance(key, now, 0.5, 60) for store in [first, second] * 20)
    )
    # every reservation got its own slot: no two writers read the same old value
    assert sorted(results) == [near(now + 0.5 * k) for k in range(1, 41)]
    assert await second.get(key) == near(now + 20)


async def check_floor(first: GovernorStore, second: GovernorStore, key: str) -> None:
    assert await first.get(key) is None
    await first.raise_to(key, 100.0, 60)
    await second.raise_to(key, 50.0, 60)  # lower: ignored
    assert await second.get(key) == near(100.0)
    await second.raise_to(key, 150.0, 60)
    assert await first.get(key) == near(150.0)


async def check_two_governors_share_a_budget(
    first: GovernorStore, second: GovernorStore, site: str
) -> None:
    clock = FakeClock()
    limits = GovernorLimits(method_rates={"POST": Rate(10, 2)})
    a = RateGovernor(site, limits=limits, store=first, clock=clock)
    b = RateGovernor(site, limits=limits, store=second, clock=clock)
    assert await a.acquire("POST", "/rest/api/3/issue") == 0
    assert await b.acquire("POST", "/rest/api/3/issue") == 0
    assert await a.acquire("POST", "/rest/api/3/issue") == near(0.1)  # b used the 2nd token
    await b.observe("GET", "/x", 429, httpx.Headers({"Retry-After": "7"}))
    before = clock.time()
    await a.acquire("GET", "/rest/api/3/myself")
    assert clock.time() - before == near(7)


@pytest.mark.redis
async def test_redis_store(redis_client: Any, unique: Callable[[str], str]) -> None:
    import redis.asyncio as redis_asyncio

    prefix = unique("jbtest") + ":"
    other = redis_asyncio.Redis.from_url("redis://127.0.0.1:6379/0")
    first = RedisGovernorStore(redis_client, prefix=prefix)
    second = RedisGovernorStore(other, prefix=prefix)
    try:
        await check_atomic_advance(first, second, "bucket")
        await check_floor(first, second, "floor")
        await check_two_governors_share_a_budget(first, second, unique("site"))
    finally:
        keys = [k async for k in redis_client.scan_iter(match=prefix + "*")]
        if keys:
            await redis_client.delete(*keys)
        await other.aclose()


@pytest.mark.redis
async def test_redis_keys_expire(redis_client: Any, unique: Callable[[str], str]) -> None:
    store = RedisGovernorStore(redis_client, prefix=unique("jbtest") + ":")
    await store.advance("k", 1.0, 1.0, ttl=30)
    ttl_ms = await redis_client.pttl(store._prefix + "k")
    assert 0 < ttl_ms <= 30_000
    await redis_client.delete(store._prefix + "k")


@pytest.mark.postgres
async def test_postgres_store(postgres_dsn: str) -> None:
    first = await PostgresGovernorStore.connect(postgres_dsn, table="governor_state")
    second = await PostgresGovernorStore.connect(postgres_dsn, table="governor_state")
    try:
        await check_atomic_advance(first, second, "bucket")
        await check_floor(first, second, "floor")
        await check_two_governors_share_a_budget(first, second, "acme.atlassian.net")
        await first.purge(now=2_000_000_000.0)
        assert await second.get("floor") is None
    finally:
        await first.aclose()
        await second.aclose()


def test_postgres_store_refuses_an_unsafe_table_name() -> None:
    from jirabridge.errors import ConfigError

    with pytest.raises(ConfigError, match="table"):
        PostgresGovernorStore(object(), table="x; DROP TABLE users")
