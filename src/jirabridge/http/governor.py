"""The rate-limit governor: paces one site's requests so that Jira (or GitHub) rarely says 429.

It knows the limits Jira Cloud documents (developer.atlassian.com, "rate limiting"):

- a burst token bucket per site, endpoint and method (GET ~100 rps, POST 100, PUT/DELETE 50);
- per-issue writes: 20 per 2 s and 100 per 30 s to one issue;
- points quotas: a 429 with ``RateLimit-Reason: jira-quota-*`` means *every* request waits until
  the window resets;
- ``Retry-After`` is a floor for everyone on the site, not just the request that got it;
- ``X-RateLimit-NearLimit: true`` or a low ``X-RateLimit-Remaining`` slows the sender early.

and GitHub's primary limit (``x-ratelimit-remaining``/``-reset``: spread what is left over the
time to the reset, stop at zero) and secondary limits (403/429 with ``retry-after``).

Budgets are GCRA token buckets kept in a :class:`~jirabridge.http.governor_store.GovernorStore`;
a shared store (Redis, PostgreSQL) makes several processes serving one site share one budget.
Waiting happens on the injected clock. Design notes: docs/decisions/0101-rate-governor.md.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from jirabridge.errors import RateLimitedError
from jirabridge.http.clock import Clock, SystemClock
from jirabridge.http.governor_store import GovernorStore, MemoryGovernorStore
from jirabridge.http.headers import parse_rate_limit_headers

__all__ = [
    "QUOTA_REASONS",
    "GovernorLimits",
    "Rate",
    "RateGovernor",
    "endpoint_of",
]

logger = logging.getLogger("jirabridge.http.governor")

#: Share of Jira's documented burst rates the governor sends at (see ``jira_cloud``).
BURST_HEADROOM = 0.98

#: ``RateLimit-Reason`` values that mean "the whole site is out of quota until the reset".
QUOTA_REASONS = frozenset({"jira-quota-tenant-based", "jira-quota-global-based"})
_PER_ISSUE_REASON = "jira-per-issue-on-write"
_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Path segments that name one object rather than an endpoint: numbers, issue keys, hex/uuid ids.
_ID_SEGMENT = re.compile(
    r"\d+|[A-Za-z][A-Za-z0-9_]*-\d+|[0-9a-fA-F]{8}-[0-9a-fA-F-]{27}|[0-9a-fA-F]{24,}"
)


def endpoint_of(path: str) -> str:
    """Reduce a request path to its endpoint: ``/rest/api/3/issue/PRJ-7/comment`` becomes
    ``/rest/api/3/issue/{}/comment``, so that one bucket serves every issue."""
    segments = path.split("?", 1)[0].split("/")
    folded = [
        # /rest/api/3: a number right after "api" is the API version, not an object id
        "{}" if _ID_SEGMENT.fullmatch(s) and (i == 0 or segments[i - 1] != "api") else s
        for i, s in enumerate(segments)
    ]
    return "/".join(folded)


@dataclass(frozen=True, slots=True)
class Rate:
    """A token bucket: refills at ``per_second``, holds at most ``burst`` tokens."""

    per_second: float
    burst: float = 1.0

    def __post_init__(self) -> None:
        if self.per_second <= 0 or self.burst < 1:
            raise ValueError("a Rate needs per_second > 0 and burst >= 1")

    @classmethod
    def window(cls, limit: int, period: float, burst: int) -> Rate:
        """A bucket that never lets more than ``limit`` through in any ``period`` seconds.

        A bucket admits at most ``burst + per_second * period`` in a window, so the refill rate
        is what the window leaves after the burst.
        """
        if not 1 <= burst < limit:
            raise ValueError("burst must be at least 1 and below the window limit")
        return cls(per_second=(limit - burst) / period, burst=float(burst))

    @property
    def interval(self) -> float:
        """Seconds per token."""
        return 1.0 / self.per_second


@dataclass(frozen=True)
class GovernorLimits:
    """The budgets one site is paced by. Use :meth:`jira_cloud` or :meth:`github` to start."""

    #: Burst bucket per endpoint, by HTTP method; ``default_rate`` for methods not listed.
    method_rates: Mapping[str, Rate] = field(default_factory=dict)
    default_rate: Rate | None = None
    #: Overrides for single endpoints, keyed by ``(METHOD, endpoint_of(path))``.
    endpoint_rates: Mapping[tuple[str, str], Rate] = field(default_factory=dict)
    #: Buckets every write to one issue passes through (all must allow it).
    issue_write_rates: tuple[Rate, ...] = ()
    #: Token cost while the site says it is near its limit (2.0 halves the rate).
    slowdown_factor: float = 2.0
    #: How long one near-limit signal keeps the slowdown on, in seconds.
    slowdown_period: float = 10.0
    #: ``X-RateLimit-Remaining`` below this share of ``X-RateLimit-Limit`` counts as near-limit.
    low_remaining_ratio: float = 0.2
    #: A site-wide pause longer than this is not waited out: RateLimitedError is raised instead,
    #: so a durable job can sleep it off rather than a request holding a worker for 30 minutes.
    max_wait: float = 120.0

    @classmethod
    def jira_cloud(cls) -> GovernorLimits:
        """Jira Cloud's documented defaults, paced with headroom: burst GET/POST 100 rps and
        PUT/DELETE 50 rps are sent at :data:`BURST_HEADROOM` of that, with half a second of burst
        (see below); per-issue writes 20 per 2 s and 100 per 30 s (bursts of 10, so neither
        window is ever exceeded).

        Why not the exact limit: requests reserved at the limit's pace reach Jira a few
        milliseconds apart, not evenly (event-loop scheduling, connection reuse), and a bunch
        arriving at a server bucket already drained to zero draws a 429 whose ``Retry-After``
        (at least 1 s) stops the whole site. Measured in bench/RESULTS.md: at 96 writes in
        flight the exact pace drew 3-9 429s per 2,000 worklogs.
        """
        get_post, put_delete = 100 * BURST_HEADROOM, 50 * BURST_HEADROOM
        return cls(
            method_rates={
                "GET": Rate(get_post, get_post / 2),
                "HEAD": Rate(get_post, get_post / 2),
                "POST": Rate(get_post, get_post / 2),
                "PUT": Rate(put_delete, put_delete / 2),
                "DELETE": Rate(put_delete, put_delete / 2),
                "PATCH": Rate(put_delete, put_delete / 2),
            },
            default_rate=Rate(put_delete, put_delete / 2),
            issue_write_rates=(Rate.window(20, 2.0, 10), Rate.window(100, 30.0, 10)),
        )

    @classmethod
    def github(cls) -> GovernorLimits:
        """GitHub: reads at the 900-points-a-minute secondary limit, content-creating writes at
        80 a minute; the primary hourly limit is followed from the response headers."""
        write = Rate.window(80, 60.0, 10)
        return cls(
            method_rates={"GET": Rate(15, 30), "HEAD": Rate(15, 30)},
            default_rate=write,
        )

    @classmethod
    def unlimited(cls) -> GovernorLimits:
        """No proactive pacing; only what the server's headers demand (floors, pauses)."""
        return cls()

    def rate_for(self, method: str, endpoint: str) -> Rate | None:
        """The burst bucket that applies to ``method`` on ``endpoint``, if any."""
        override = self.endpoint_rates.get((method, endpoint))
        if override is not None:
            return override
        return self.method_rates.get(method, self.default_rate)


class RateGovernor:
    """Paces requests to one site: call :meth:`acquire` before sending, :meth:`observe` after.

    ``site`` names the budget (e.g. the Jira base URL or cloud id); every governor built with the
    same ``site`` and the same shared ``store`` shares one budget.
    """

    def __init__(
        self,
        site: str,
        *,
        limits: GovernorLimits | None = None,
        store: GovernorStore | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.site = site
        self.limits = limits if limits is not None else GovernorLimits.jira_cloud()
        self.store: GovernorStore = store if store is not None else MemoryGovernorStore()
        self.clock: Clock = clock if clock is not None else SystemClock()
        self._prefix = f"jb:gov:{site}:"
        # Near-limit slowdown and primary-limit pacing are hints for this process only; the
        # hard facts (floors) go to the shared store.
        self._slow_until = 0.0
        self._pace_interval = 0.0
        self._pace_until = 0.0
        self._pause_reason: str | None = None
        #: Seconds this governor has made callers wait, in total.
        self.waited = 0.0

    def __repr__(self) -> str:
        return f"RateGovernor(site={self.site!r}, store={self.store!r})"

    def _site_floor_key(self) -> str:
        return self._prefix + "floor"

    def _issue_floor_key(self, issue_key: str) -> str:
        return f"{self._prefix}floor:issue:{issue_key}"

    async def acquire(self, method: str, path: str, *, issue_key: str | None = None) -> float:
        """Wait until a request may be sent, reserving its place in every budget it uses.

        Returns the seconds waited. Raises :class:`~jirabridge.errors.RateLimitedError` instead
        of waiting when the site is paused for longer than ``limits.max_wait``.
        """
        method = method.upper()
        is_write = method not in _READ_METHODS
        waited = await self._wait_out_floors(issue_key if is_write else None)
        now = self.clock.time()
        waits = [0.0]
        endpoint = endpoint_of(path)
        rate = self.limits.rate_for(method, endpoint)
        cost = self.limits.slowdown_factor if now < self._slow_until else 1.0
        if rate is not None:
            waits.append(await self._reserve(f"bucket:{method}:{endpoint}", rate, now, cost))
        if is_write and issue_key:
            for index, issue_rate in enumerate(self.limits.issue_write_rates):
                waits.append(await self._reserve(f"issue:{index}:{issue_key}", issue_rate, now))
        if self._pace_interval and now < self._pace_until:
            waits.append(await self._reserve("pace", Rate(1.0 / self._pace_interval), now))
        wait = max(waits)
        if wait > 0:
            await self.clock.sleep(wait)
        self.waited += waited + wait
        return waited + wait

    async def _reserve(self, name: str, rate: Rate, now: float, cost: float = 1.0) -> float:
        # GCRA: the stored value is when the bucket would be full again; a request may go once
        # that time is no more than `burst` intervals ahead of now.
        span = rate.burst * rate.interval
        tat = await self.store.advance(self._prefix + name, now, rate.interval * cost, span + 60)
        return max(0.0, tat - span - now)

    async def _wait_out_floors(self, issue_key: str | None) -> float:
        waited = 0.0
        # A 429 seen by someone else while we slept may push the floor further; look again,
        # but a bounded number of times.
        for _ in range(3):
            keys = [self._site_floor_key()]
            if issue_key:
                keys.append(self._issue_floor_key(issue_key))
            until = 0.0
            for key in keys:
                until = max(until, await self.store.get(key) or 0.0)
            wait = until - self.clock.time()
            if wait <= 0:
                break
            if wait > self.limits.max_wait:
                raise RateLimitedError(
                    f"{self.site} is rate limited for another {wait:.0f}s",
                    retry_after=wait,
                    reason=self._pause_reason,
                )
            await self.clock.sleep(wait)
            waited += wait
        return waited

    async def observe(
        self,
        method: str,
        path: str,
        status: int,
        headers: Mapping[str, str],
        *,
        issue_key: str | None = None,
    ) -> None:
        """Learn from a response: set floors and pauses, switch slowdown and pacing on or off.

        ``headers`` must be case-insensitive (``httpx.Headers`` is).
        """
        now = self.clock.time()
        info = parse_rate_limit_headers(headers, now)
        exhausted = info.remaining == 0 and info.reset_at is not None and info.reset_at > now
        refused = status == 429 or (status in (403, 503) and info.retry_after is not None)
        if status == 403 and exhausted:
            refused = True  # GitHub's primary limit answers 403 with remaining 0
        if refused:
            until = now + info.retry_after if info.retry_after is not None else now
            # Quota pauses last until the reset; and a 429 without Retry-After (seen during
            # Atlassian gateway incidents) is told to wait for X-RateLimit-Reset instead.
            quota = info.reason in QUOTA_REASONS or exhausted or info.retry_after is None
            if quota and info.reset_at is not None:
                until = max(until, info.reset_at)
            if until > now:
                if info.reason == _PER_ISSUE_REASON and issue_key:
                    key = self._issue_floor_key(issue_key)
                else:
                    key = self._site_floor_key()
                    self._pause_reason = info.reason
                await self.store.raise_to(key, until, until - now + 60)
                logger.info(
                    "rate limited on %s (%s): holding requests for %.1fs",
                    self.site,
                    info.reason or status,
                    until - now,
                )
        elif exhausted and info.reset_at is not None:
            await self.store.raise_to(self._site_floor_key(), info.reset_at, info.reset_at - now)
        self._observe_budget(info.limit, info.remaining, info.reset_at, info.near_limit, now)

    def _observe_budget(
        self,
        limit: int | None,
        remaining: int | None,
        reset_at: float | None,
        near_limit: bool,
        now: float,
    ) -> None:
        low = (
            limit is not None
            and remaining is not None
            and limit > 0
            and remaining < limit * self.limits.low_remaining_ratio
        )
        if low and reset_at is not None and reset_at > now and remaining:
            # An hourly budget (GitHub primary): spread what is left evenly until the reset,
            # but never hold one request longer than max_wait for it.
            self._pace_interval = min((reset_at - now) / remaining, self.limits.max_wait)
            self._pace_until = reset_at
        elif remaining is not None and not low:
            self._pace_interval = 0.0
        if near_limit or (low and reset_at is None):
            self._slow_until = now + self.limits.slowdown_period
        elif remaining is not None and not low:
            self._slow_until = 0.0

    @property
    def slowed(self) -> bool:
        """True while the site's near-limit signal keeps this governor slowed down."""
        return self.clock.time() < self._slow_until
