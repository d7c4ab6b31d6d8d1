"""Our own API's rate limits: per user and per API key, and login attempts (issue #11 item 4).

The limiter runs on an injected clock; shared-store tests use the real local Redis (two
limiters on one store stand for two web processes).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from jirabridge.errors import TooManyRequestsError
from jirabridge.http.governor_redis import RedisGovernorStore
from jirabridge.http.governor_store import MemoryGovernorStore
from jirabridge.service.api_limits import ApiRateLimiter, ApiRateLimits
from jirabridge.service.settings import load_settings
from security.world import MALLORY_PASSWORD, World, submit_login

from support.services import redis_client


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def limits(user: int = 60, key: int = 30, burst: int = 3, login: int = 6) -> ApiRateLimits:
    return ApiRateLimits.per_minute(user=user, key=key, burst=burst, login=login, login_burst=2)


async def test_burst_then_refill_and_retry_after() -> None:
    clock = Clock()
    limiter = ApiRateLimiter(MemoryGovernorStore(), limits(user=60, key=0), clock=clock)
    for _ in range(3):
        await limiter.check_api(user_id="u", api_key_id=None)
    with pytest.raises(TooManyRequestsError) as refused:
        await limiter.check_api(user_id="u", api_key_id=None)
    assert refused.value.http_status == 429
    assert refused.value.retry_after == pytest.approx(1.0)
    # Knocking while limited costs nothing: after the announced wait exactly one more passes.
    for _ in range(5):
        with pytest.raises(TooManyRequestsError):
            await limiter.check_api(user_id="u", api_key_id=None)
    clock.now += refused.value.retry_after
    await limiter.check_api(user_id="u", api_key_id=None)
    with pytest.raises(TooManyRequestsError):
        await limiter.check_api(user_id="u", api_key_id=None)
    # Another user has a bucket of their own.
    await limiter.check_api(user_id="v", api_key_id=None)


async def test_key_bucket_and_user_bucket_both_count() -> None:
    clock = Clock()
    limiter = ApiRateLimiter(
        MemoryGovernorStore(),
        ApiRateLimits.per_minute(user=600, key=60, burst=2, login=0, login_burst=1),
        clock=clock,
    )
    await limiter.check_api(user_id="u", api_key_id="k1")
    await limiter.check_api(user_id="u", api_key_id="k1")
    with pytest.raises(TooManyRequestsError):
        await limiter.check_api(user_id="u", api_key_id="k1")
    # The user's bucket is also 2 deep: a second key of the same user is refused by it...
    with pytest.raises(TooManyRequestsError):
        await limiter.check_api(user_id="u", api_key_id="k2")
    # ...and that refusal took nothing from k2 (all or nothing).
    clock.now += 0.1  # the user bucket refills at 10/s
    await limiter.check_api(user_id="u", api_key_id="k2")
    await limiter.check_api(user_id="w", api_key_id="k2")


async def test_login_attempts_per_email_and_per_address() -> None:
    clock = Clock()
    limiter = ApiRateLimiter(MemoryGovernorStore(), limits(login=6), clock=clock)
    await limiter.check_login(email="Ada@Example.com", address="10.0.0.1")
    await limiter.check_login(email="ada@example.com ", address="10.0.0.2")
    with pytest.raises(TooManyRequestsError) as refused:
        await limiter.check_login(email="ADA@example.com", address="10.0.0.3")
    assert "login" in refused.value.message
    assert refused.value.retry_after == pytest.approx(10.0)
    # One address trying many e-mails runs into its own (wider) bucket.
    for n in range(10):
        await limiter.check_login(email=f"user{n}@example.com", address="10.9.9.9")
    with pytest.raises(TooManyRequestsError):
        await limiter.check_login(email="fresh@example.com", address="10.9.9.9")


async def test_zero_turns_a_bucket_off() -> None:
    limiter = ApiRateLimiter(
        MemoryGovernorStore(),
        ApiRateLimits.per_minute(user=0, key=0, burst=1, login=0, login_burst=1),
        clock=Clock(),
    )
    for _ in range(100):
        await limiter.check_api(user_id="u", api_key_id="k")
        await limiter.check_login(email="a@b.c", address="x")


def test_limits_come_from_settings(tmp_path: object) -> None:
    settings = load_settings(
        data_dir=tmp_path, api_rate_limit_per_minute=120, api_rate_burst=7, environment="test"
    )
    built = ApiRateLimits.from_settings(settings)
    assert built.per_user is not None
    assert built.per_user.per_second == pytest.approx(2.0)
    assert built.per_user.burst == 7
    assert built.per_key is not None
    assert built.login is not None
    defaults = ApiRateLimits.from_settings(load_settings(data_dir=tmp_path, environment="test"))
    assert defaults.per_user is not None
    assert defaults.per_key is not None


@pytest.mark.redis
async def test_two_processes_share_one_bucket_in_redis() -> None:
    client: Any = await redis_client()
    prefix = f"jbtest-apilimit-{uuid.uuid4().hex[:10]}:"
    clock = Clock()
    try:
        first = ApiRateLimiter(RedisGovernorStore(client, prefix=prefix), limits(), clock=clock)
        second = ApiRateLimiter(RedisGovernorStore(client, prefix=prefix), limits(), clock=clock)
        await first.check_api(user_id="u", api_key_id=None)
        await second.check_api(user_id="u", api_key_id=None)
        await first.check_api(user_id="u", api_key_id=None)
        with pytest.raises(TooManyRequestsError):
            await second.check_api(user_id="u", api_key_id=None)
    finally:
        keys = [k async for k in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


@pytest.fixture
def strict(world: World) -> Iterator[Clock]:
    """The world's app with tight limits on a fake clock, for one test."""
    clock = Clock()
    saved = getattr(world.app.state, "api_limiter", None)
    world.app.state.api_limiter = ApiRateLimiter(
        MemoryGovernorStore(),
        ApiRateLimits.per_minute(user=60, key=60, burst=2, login=6, login_burst=2),
        clock=clock,
    )
    try:
        yield clock
    finally:
        world.app.state.api_limiter = saved


@pytest.mark.slow
def test_api_answers_429_with_retry_after(world: World, strict: Clock) -> None:
    assert world.call("GET", "/api/account", world.mallory).status_code == 200
    assert world.call("GET", "/api/account", world.mallory).status_code == 200
    refused = world.call("GET", "/api/account", world.mallory)
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.headers["retry-after"] == "1"
    assert "too many requests" in refused.json()["title"]
    # The same user through the session shares the user bucket.
    assert world.call("GET", "/api/account", world.mallory, session=True).status_code == 429
    # Others are not affected; time heals.
    assert world.call("GET", "/api/account", world.admin).status_code == 200
    strict.now += 1.0
    assert world.call("GET", "/api/account", world.mallory).status_code == 200
    # Pages are not API: no limit there.
    assert world.call("GET", "/account", world.mallory, session=True).status_code == 200


@pytest.mark.slow
def test_login_attempts_are_limited(world: World, strict: Clock) -> None:
    def attempt(password: str) -> int:
        return int(submit_login(world.client, world.mallory.email, password).status_code)

    assert attempt("wrong-1") == 400
    assert attempt("wrong-2") == 400
    assert attempt(MALLORY_PASSWORD) == 429  # even the right one, for now
    strict.now += 10.0
    assert attempt(MALLORY_PASSWORD) == 303
