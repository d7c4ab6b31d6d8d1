"""The simulator's clock: real time plus an offset that tests and ``/_sim/clock`` can advance."""

from __future__ import annotations

import time
from datetime import UTC, datetime

__all__ = ["SimClock"]


class SimClock:
    """Wall and monotonic time, both shiftable forward so expiry and rate windows can be tested."""

    def __init__(self, *, frozen_at: float | None = None) -> None:
        self._offset = 0.0
        self._frozen_at = frozen_at

    def time(self) -> float:
        """Seconds since the epoch, as the simulated site sees them."""
        base = self._frozen_at if self._frozen_at is not None else time.time()
        return base + self._offset

    def monotonic(self) -> float:
        """A monotonic reading that also moves with :meth:`advance`."""
        base = self._frozen_at if self._frozen_at is not None else time.monotonic()
        return base + self._offset

    def now(self) -> datetime:
        """The simulated current time, tz-aware UTC."""
        return datetime.fromtimestamp(self.time(), tz=UTC)

    @property
    def frozen(self) -> bool:
        """Whether the clock stands still (moves only with :meth:`advance`)."""
        return self._frozen_at is not None

    @property
    def offset(self) -> float:
        """Seconds the clock has been advanced in total."""
        return self._offset

    def freeze(self) -> None:
        """Stop the clock at the current simulated time (tests: no wall time leaks in)."""
        if self._frozen_at is None:
            self._frozen_at = self.time() - self._offset

    def advance(self, seconds: float) -> None:
        """Move the clock forward (never back: Jira's clock does not go back either)."""
        if seconds < 0:
            raise ValueError("the simulator clock only moves forward")
        self._offset += seconds
