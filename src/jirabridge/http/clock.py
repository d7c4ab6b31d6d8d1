"""Time and randomness, injectable so that every wait in the HTTP core can be tested instantly.

The HTTP core never calls :func:`time.time`, :func:`asyncio.sleep` or :mod:`random` directly: it
asks a :class:`Clock` and a :data:`RandomSource`. Production code uses :class:`SystemClock` and
:func:`random.random`; tests pass a :class:`FakeClock`, whose ``sleep`` moves time forward at once
and records how long it was asked to wait.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "FakeClock", "RandomSource", "SystemClock", "system_random"]

#: Returns a float in ``[0, 1)``; used for jitter. Inject a constant in tests.
RandomSource = Callable[[], float]

#: The default random source (not for cryptography: jitter only).
system_random: RandomSource = random.random


@runtime_checkable
class Clock(Protocol):
    """Where the HTTP core reads the time and waits."""

    def time(self) -> float:
        """Seconds since the epoch (wall clock; comparable across processes)."""
        ...

    def monotonic(self) -> float:
        """A reading that never goes back; only differences are meaningful."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (no-op for zero or less)."""
        ...


class SystemClock:
    """The real clock."""

    def time(self) -> float:
        """Seconds since the epoch."""
        return time.time()

    def monotonic(self) -> float:
        """:func:`time.monotonic`."""
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        """:func:`asyncio.sleep`, skipped for non-positive waits."""
        if seconds > 0:
            await asyncio.sleep(seconds)

    def __repr__(self) -> str:
        return "SystemClock()"


class FakeClock:
    """A clock for tests: ``sleep`` advances time instantly and is recorded in :attr:`sleeps`.

    ``sleep`` still yields to the event loop once, so concurrent tasks interleave; but time moves
    when a sleep starts, so concurrent sleepers add their waits up. That suits pacing tests, which
    check the order and spacing of sends rather than wall time.
    """

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = float(start)
        #: Every positive wait requested through :meth:`sleep`, in order.
        self.sleeps: list[float] = []

    def time(self) -> float:
        """The fake wall time."""
        return self._now

    def monotonic(self) -> float:
        """The same reading as :meth:`time` (the fake clock never goes back)."""
        return self._now

    async def sleep(self, seconds: float) -> None:
        """Record the wait, move time forward by it and let other tasks run."""
        if seconds > 0:
            self.sleeps.append(seconds)
            self._now += seconds
        await asyncio.sleep(0)

    def advance(self, seconds: float) -> None:
        """Move time forward without sleeping (as if the test waited)."""
        if seconds < 0:
            raise ValueError("FakeClock only moves forward")
        self._now += seconds

    @property
    def slept(self) -> float:
        """Total seconds slept so far."""
        return sum(self.sleeps)

    def __repr__(self) -> str:
        return f"FakeClock(now={self._now!r}, sleeps={len(self.sleeps)})"
