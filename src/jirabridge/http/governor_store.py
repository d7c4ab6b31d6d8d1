"""Where the rate-limit governor keeps its numbers: a small async protocol and the in-memory store.

The governor needs only three atomic operations on float values by key, which makes shared
backends (Redis, PostgreSQL; see :mod:`jirabridge.http.governor_redis` and
:mod:`jirabridge.http.governor_postgres`) a few lines each:

- :meth:`GovernorStore.advance`: ``value = max(value, now) + increment``, returning the new value
  (the "theoretical arrival time" of a GCRA token bucket);
- :meth:`GovernorStore.raise_to`: ``value = max(value, target)`` (a "do not send before" floor);
- :meth:`GovernorStore.get`.

Values are epoch seconds, so processes sharing a store must have roughly synchronised clocks.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["GovernorStore", "MemoryGovernorStore"]


@runtime_checkable
class GovernorStore(Protocol):
    """Atomic max-and-add operations on named float values, shared by everyone using the store."""

    async def advance(self, key: str, now: float, increment: float, ttl: float) -> float:
        """Set ``key`` to ``max(current, now) + increment`` and return it.

        ``ttl`` is a hint: after that many seconds past ``now`` the value no longer matters and
        may be dropped.
        """
        ...

    async def raise_to(self, key: str, target: float, ttl: float) -> None:
        """Set ``key`` to ``max(current, target)``."""
        ...

    async def get(self, key: str) -> float | None:
        """The current value of ``key``, or ``None`` when unset."""
        ...


class MemoryGovernorStore:
    """A store for one process (the default). Each operation runs without awaiting, so it is
    atomic under asyncio without a lock."""

    def __init__(self) -> None:
        self._values: dict[str, float] = {}

    async def advance(self, key: str, now: float, increment: float, ttl: float) -> float:
        """See :meth:`GovernorStore.advance`."""
        value = max(self._values.get(key, now), now) + increment
        self._values[key] = value
        return value

    async def raise_to(self, key: str, target: float, ttl: float) -> None:
        """See :meth:`GovernorStore.raise_to`."""
        self._values[key] = max(self._values.get(key, target), target)

    async def get(self, key: str) -> float | None:
        """See :meth:`GovernorStore.get`."""
        return self._values.get(key)

    def __repr__(self) -> str:
        return f"MemoryGovernorStore(keys={len(self._values)})"
