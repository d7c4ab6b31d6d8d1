"""A :class:`~jirabridge.http.governor_store.GovernorStore` in Redis, shared by many processes.

Each operation is one Lua script, so it is atomic on the server. Values are stored as decimal
strings (Redis turns Lua numbers into integers on the way out). Keys expire once they no longer
matter. Needs ``redis`` (the ``service`` extra); imported only when used.
"""

from __future__ import annotations

from typing import Any

from jirabridge.errors import ConfigError, StorageError

__all__ = ["RedisGovernorStore"]

_ADVANCE = """
local now = tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1])) or now
local value = math.max(current, now) + tonumber(ARGV[2])
local text = string.format('%.6f', value)
redis.call('SET', KEYS[1], text, 'PX', math.max(1, math.ceil(tonumber(ARGV[3]) * 1000)))
return text
"""

_RAISE_TO = """
local current = tonumber(redis.call('GET', KEYS[1]))
local target = tonumber(ARGV[1])
if current == nil or target > current then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', math.max(1, math.ceil(tonumber(ARGV[2]) * 1000)))
end
return 1
"""


class RedisGovernorStore:
    """Governor state in Redis. ``redis`` is a ``redis.asyncio.Redis`` client (not closed here
    unless built by :meth:`from_url`)."""

    def __init__(self, redis: Any, *, prefix: str = "", owns_client: bool = False) -> None:
        self._redis = redis
        self._prefix = prefix
        self._owns_client = owns_client

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "") -> RedisGovernorStore:
        """Connect lazily to the Redis at ``url`` (e.g. ``redis://127.0.0.1:6379/0``)."""
        try:
            import redis.asyncio as redis_asyncio  # optional: service extra
        except ImportError as exc:
            raise ConfigError(
                "the Redis governor store needs the 'redis' package (jirabridge[service])"
            ) from exc
        return cls(redis_asyncio.Redis.from_url(url), prefix=prefix, owns_client=True)

    async def _eval(self, script: str, key: str, *args: str) -> Any:
        try:
            return await self._redis.eval(script, 1, self._prefix + key, *args)
        except Exception as exc:  # redis raises its own tree; callers see one error type
            raise StorageError(
                f"rate-limit state in Redis unavailable: {type(exc).__name__}"
            ) from exc

    async def advance(self, key: str, now: float, increment: float, ttl: float) -> float:
        """See :meth:`GovernorStore.advance`."""
        result = await self._eval(_ADVANCE, key, repr(now), repr(increment), repr(ttl))
        return float(result)

    async def raise_to(self, key: str, target: float, ttl: float) -> None:
        """See :meth:`GovernorStore.raise_to`."""
        await self._eval(_RAISE_TO, key, repr(target), repr(ttl))

    async def get(self, key: str) -> float | None:
        """See :meth:`GovernorStore.get`."""
        try:
            value = await self._redis.get(self._prefix + key)
        except Exception as exc:
            raise StorageError(
                f"rate-limit state in Redis unavailable: {type(exc).__name__}"
            ) from exc
        return None if value is None else float(value)

    async def aclose(self) -> None:
        """Close the client if this store created it."""
        if self._owns_client:
            await self._redis.aclose()

    def __repr__(self) -> str:
        return f"RedisGovernorStore(prefix={self._prefix!r})"
