"""A circuit breaker per site: stop hammering a site that keeps failing, and notice when it is back.

States: *closed* (requests flow; consecutive failures are counted), *open* (requests fail fast
with :class:`~jirabridge.errors.CircuitOpenError` until ``recovery_time`` has passed), *half-open*
(one probe request goes through; its success closes the circuit, its failure opens it again).

Only signs of an unhealthy site count as failures: 5xx, timeouts and connection errors. Any other
response (including 4xx and 429) shows the site is answering and resets the count. Driven by the
injected clock: no timers, no sleeps. Design notes: docs/decisions/0102-circuit-breaker.md.
"""

from __future__ import annotations

import enum
import logging

from jirabridge.errors import CircuitOpenError
from jirabridge.http.clock import Clock, SystemClock

__all__ = ["BreakerState", "CircuitBreaker"]

logger = logging.getLogger("jirabridge.http.breaker")


class BreakerState(enum.Enum):
    """Where a breaker stands."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


class CircuitBreaker:
    """Counts consecutive failures of one site and refuses requests while the site is down.

    Protocol for callers: :meth:`before_request` (raises when refused), then exactly one of
    :meth:`record_success`, :meth:`record_failure` or :meth:`release` (the attempt ended without
    telling us anything, e.g. it was cancelled).
    """

    def __init__(
        self,
        site: str,
        *,
        failure_threshold: int = 5,
        recovery_time: float = 30.0,
        clock: Clock | None = None,
    ) -> None:
        if failure_threshold < 1 or recovery_time < 0:
            raise ValueError("failure_threshold must be >= 1 and recovery_time >= 0")
        self.site = site
        self.failure_threshold = failure_threshold
        self.recovery_time = recovery_time
        self.clock: Clock = clock if clock is not None else SystemClock()
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probe_in_flight = False

    def __repr__(self) -> str:
        return f"CircuitBreaker(site={self.site!r}, state={self.state.value})"

    @property
    def state(self) -> BreakerState:
        """The current state; an open breaker whose recovery time has passed reads half-open."""
        if self._state is BreakerState.OPEN and self._now() >= self.half_open_at:
            return BreakerState.HALF_OPEN
        return self._state

    @property
    def half_open_at(self) -> float:
        """Monotonic time at which an open breaker lets a probe through."""
        return self._opened_at + self.recovery_time

    @property
    def consecutive_failures(self) -> int:
        """Failures since the last success."""
        return self._failures

    def _now(self) -> float:
        return self.clock.monotonic()

    def before_request(self) -> bool:
        """Allow the request, or raise :class:`CircuitOpenError` with the seconds to half-open.

        Returns True when this request is the half-open probe (pass it to :meth:`release`).
        """
        state = self.state
        if state is BreakerState.CLOSED:
            return False
        if state is BreakerState.HALF_OPEN and not self._probe_in_flight:
            self._state = BreakerState.HALF_OPEN
            self._probe_in_flight = True
            return True
        retry_after = max(self.half_open_at - self._now(), 0.0)
        raise CircuitOpenError(
            f"circuit for {self.site} is open after {self._failures} consecutive failures",
            site=self.site,
            retry_after=retry_after,
            # wall-clock time, for people and other processes (half_open_at is monotonic)
            details={"half_open_at": self.clock.time() + retry_after},
        )

    def record_success(self) -> None:
        """The site answered (any status below 500): close the circuit and reset the count."""
        if self._state is not BreakerState.CLOSED:
            logger.info("circuit for %s closed", self.site)
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._probe_in_flight = False

    def record_failure(self) -> None:
        """A 5xx, timeout or connection error: count it; open at the threshold or on a failed
        probe."""
        self._failures += 1
        probe_failed = self._probe_in_flight
        self._probe_in_flight = False
        if probe_failed or self._failures >= self.failure_threshold:
            if self._state is BreakerState.CLOSED or probe_failed:
                logger.warning(
                    "circuit for %s opened after %d consecutive failures",
                    self.site,
                    self._failures,
                )
            self._state = BreakerState.OPEN
            self._opened_at = self._now()

    def release(self, probe: bool) -> None:
        """The attempt ended without an outcome (e.g. cancelled); ``probe`` is what
        :meth:`before_request` returned. Frees the probe slot if this attempt held it."""
        if probe:
            self._probe_in_flight = False
