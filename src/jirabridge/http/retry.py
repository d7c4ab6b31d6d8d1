"""The retry policy as a pure decision: facts about a failed attempt in, a decision out.

No I/O and no sleeping here: :class:`~jirabridge.http.client.HttpClient` asks, then waits on its
clock. The rules follow Atlassian's guidance (docs "build an app that respects rate limits"):
retry only what is safe to repeat, exponential backoff from about 2 s with jitter x0.7-1.3,
``Retry-After`` as a minimum, about four retries. See docs/decisions/0100-retry-policy.md for why
this is written by hand rather than on stamina/tenacity.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from jirabridge.http.clock import RandomSource, system_random

__all__ = [
    "IDEMPOTENT_METHODS",
    "Outcome",
    "OutcomeKind",
    "RequestFacts",
    "RetryDecision",
    "RetryPolicy",
    "is_ambiguous",
]

#: Methods that may be repeated without changing the result (RFC 9110 §9.2.2).
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})


class OutcomeKind(enum.Enum):
    """How an attempt ended."""

    RESPONSE = "response"
    TIMEOUT = "timeout"
    CONNECTION = "connection"


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """What the policy needs to know about the request itself."""

    method: str
    #: True when repeating the request cannot apply it twice.
    idempotent: bool


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one attempt ended: a response status, or no response at all."""

    kind: OutcomeKind
    status: int | None = None
    #: Seconds the server asked us to wait (``Retry-After``), if it said.
    retry_after: float | None = None
    #: The server refused because of a rate limit (429, or GitHub's 403 secondary limit).
    rate_limited: bool = False

    @classmethod
    def response(
        cls, status: int, retry_after: float | None = None, *, rate_limited: bool | None = None
    ) -> Outcome:
        """An answer came back with ``status``; ``rate_limited`` defaults to ``status == 429``."""
        limited = status == 429 if rate_limited is None else rate_limited
        return cls(OutcomeKind.RESPONSE, status, retry_after, limited)

    @classmethod
    def timeout(cls) -> Outcome:
        """No answer in time."""
        return cls(OutcomeKind.TIMEOUT)

    @classmethod
    def connection_error(cls) -> Outcome:
        """The connection failed or dropped before a complete answer."""
        return cls(OutcomeKind.CONNECTION)


def is_ambiguous(outcome: Outcome) -> bool:
    """True when a write may have been applied even though it did not succeed visibly.

    No answer (timeout, dropped connection) and 5xx other than 501 are ambiguous. A 429 is not:
    the request was refused before it was applied. Other 4xx are definite refusals.
    """
    if outcome.kind is not OutcomeKind.RESPONSE:
        return True
    if outcome.rate_limited:
        return False
    status = outcome.status or 0
    return status >= 500 and status != 501


@dataclass(frozen=True, slots=True)
class RetryDecision:
    """The policy's answer."""

    retry: bool
    #: Seconds to wait before the next attempt (0 when not retrying).
    wait: float
    #: Short human-readable reason, for logs and errors.
    reason: str
    #: True when giving up because the server asked for a longer wait than we allow.
    wait_too_long: bool = False


@dataclass(frozen=True)
class RetryPolicy:
    """When and how long to wait before repeating a failed request.

    ``attempt`` counts attempts already made (1 after the first failure); ``elapsed`` is seconds
    since the first attempt started. Backoff for retry *n* is ``base_delay * 2**(n-1)`` times a
    jitter factor in ``jitter``, capped at ``max_delay``, and never below ``Retry-After``.
    """

    max_retries: int = 4
    base_delay: float = 2.0
    max_delay: float = 60.0
    #: Give up when the next wait would end more than this many seconds after the first attempt.
    max_elapsed: float = 300.0
    #: A ``Retry-After`` longer than this is not waited out: the caller gets RateLimitedError.
    max_retry_after: float = 120.0
    jitter: tuple[float, float] = (0.7, 1.3)
    #: Statuses an idempotent request is retried on. 500 is here as well as the gateway statuses
    #: because Jira answers 500 for transient faults too, and repeating a GET/PUT is safe: a search
    #: stream must not die on one page (decision 0100, amended).
    retry_statuses: frozenset[int] = frozenset({429, 500, 502, 503, 504})
    random: RandomSource = field(default=system_random, repr=False, compare=False)

    def __post_init__(self) -> None:
        low, high = self.jitter
        if not 0 < low <= high:
            raise ValueError("jitter must be (low, high) with 0 < low <= high")
        if self.max_retries < 0 or self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("retry limits must not be negative")

    def backoff(self, retry_number: int) -> float:
        """The jittered exponential wait before retry number ``retry_number`` (1-based)."""
        low, high = self.jitter
        factor = low + (high - low) * self.random()
        raw = self.base_delay * 2.0 ** max(retry_number - 1, 0)
        return min(raw * factor, self.max_delay)

    def decide(
        self, request: RequestFacts, outcome: Outcome, attempt: int, elapsed: float
    ) -> RetryDecision:
        """Decide whether to repeat ``request`` after ``outcome``, and after how long."""
        if not self._retryable(request, outcome):
            return RetryDecision(False, 0.0, self._not_retryable_reason(request, outcome))
        if attempt > self.max_retries:
            return RetryDecision(False, 0.0, f"gave up after {attempt} attempts")
        retry_after = outcome.retry_after
        if retry_after is not None and retry_after > self.max_retry_after:
            return RetryDecision(
                False,
                0.0,
                f"server asked to wait {retry_after:.0f}s, more than {self.max_retry_after:.0f}s",
                wait_too_long=True,
            )
        wait = self.backoff(attempt)
        if retry_after is not None:
            wait = max(wait, retry_after)  # Retry-After is a floor, never shortened by backoff
        if elapsed + wait > self.max_elapsed:
            return RetryDecision(
                False,
                0.0,
                f"next wait of {wait:.1f}s would exceed the {self.max_elapsed:.0f}s budget",
                wait_too_long=retry_after is not None,
            )
        return RetryDecision(True, wait, self._retry_reason(outcome))

    def _retryable(self, request: RequestFacts, outcome: Outcome) -> bool:
        if outcome.kind is OutcomeKind.RESPONSE:
            if outcome.rate_limited:
                return True  # refused before being applied: safe for any method
            return request.idempotent and outcome.status in self.retry_statuses
        return request.idempotent

    @staticmethod
    def _retry_reason(outcome: Outcome) -> str:
        if outcome.kind is OutcomeKind.RESPONSE:
            return f"status {outcome.status}"
        return str(outcome.kind.value)

    def _not_retryable_reason(self, request: RequestFacts, outcome: Outcome) -> str:
        if not request.idempotent and (
            outcome.kind is not OutcomeKind.RESPONSE or outcome.status in self.retry_statuses
        ):
            return f"{request.method} is not idempotent; not repeated blindly"
        return f"{self._retry_reason(outcome)} is not retried"
