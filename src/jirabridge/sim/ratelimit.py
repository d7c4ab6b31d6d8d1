"""Jira Cloud's three rate limits, as an ASGI middleware in front of the simulated site.

Any of the three answers 429 (Jira's ``errorMessages`` body) with ``Retry-After`` (seconds),
``X-RateLimit-Limit``, ``X-RateLimit-Remaining``, ``X-RateLimit-Reset`` (ISO 8601, UTC),
``X-RateLimit-NearLimit`` and ``RateLimit-Reason``:

- **burst** (``jira-burst-based``): a token bucket per site, endpoint and method. The endpoint is
  the route template (ids and issue keys in the path become ``{id}``). Steady rates default to
  Jira's: GET 100/s, POST 100/s, PUT, PATCH and DELETE 50/s; the bucket holds one second of
  requests. Per-endpoint overrides are configurable.
- **per-issue writes** (``jira-per-issue-on-write``): POST/PUT/PATCH/DELETE whose path names an
  issue (``.../issue/{idOrKey}/...``) count against sliding windows of 20 per 2 s and 100 per
  30 s for that issue.
- **points quota** (``jira-quota-tenant-based``, or ``jira-quota-global-based`` when the pool is
  global): OAuth (3LO) traffic only, 65,000 points an hour by default, reset at the top of each
  UTC hour with no carry-over. Cost model (Atlassian does not publish one per endpoint; this is
  the documented rule of thumb): a write costs 1 point, except bulk create which costs 1 per
  issue in the request; a read costs 1 + 1 for the object it returns, or 1 + 2 for identity
  reads (users, groups, myself); POSTs that only read (``search/jql``, ``bulkfetch``,
  ``approximate-count``, ``worklog/list``, ``worklog/updated|deleted``) cost as reads.

Successful answers carry the burst bucket's ``X-RateLimit-Limit``/``-Remaining`` and, for
OAuth traffic, ``X-RateLimit-NearLimit`` (``true`` under 20% of the quota left). A rejected
request does not use up budget. Time comes from the SimClock, so tests advance it instead of
sleeping. Counters (allowed and limited, by reason and endpoint) are served at
``GET /_sim/ratelimit`` so a bench can compute its share of the allowed rate.
"""

from __future__ import annotations

import json
import math
import re
from collections import deque
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from jirabridge.sim.asgi_json import (
    ASGIApp,
    Message,
    Receive,
    Scope,
    Send,
    read_body,
    send_json,
)
from jirabridge.sim.clock import SimClock
from jirabridge.sim.errors import jira_error_body
from jirabridge.sim.oauth import principal_from_scope

__all__ = [
    "REASON_BURST",
    "REASON_PER_ISSUE",
    "REASON_QUOTA_GLOBAL",
    "REASON_QUOTA_TENANT",
    "RateLimitConfig",
    "RateLimitMiddleware",
    "RateLimiter",
    "endpoint_template",
    "issue_in_path",
    "request_cost",
]

REASON_BURST = "jira-burst-based"
REASON_PER_ISSUE = "jira-per-issue-on-write"
REASON_QUOTA_TENANT = "jira-quota-tenant-based"
REASON_QUOTA_GLOBAL = "jira-quota-global-based"

_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_ISSUE_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]*-\d+$")
_ID_LIKE = re.compile(r"^(\d+|[0-9a-fA-F-]{20,}|\d+:[0-9a-fA-F-]+)$")
_READ_POSTS = (
    "/search/jql",
    "/bulkfetch",
    "/search/approximate-count",
    "/worklog/list",
    "/worklog/updated",
    "/worklog/deleted",
)
_IDENTITY_SEGMENTS = frozenset({"user", "users", "group", "groups", "myself", "groupuserpicker"})
# Segments after "issue" that name a collection operation, not an issue.
_NOT_ISSUES = frozenset({"bulk", "bulkfetch", "createmeta", "picker", "properties", "archive"})


@dataclass
class RateLimitConfig:
    """The numbers; every limit can be switched off on its own."""

    burst_enabled: bool = True
    burst_rps: dict[str, float] = field(
        default_factory=lambda: {
            "GET": 100.0,
            "POST": 100.0,
            "PUT": 50.0,
            "PATCH": 50.0,
            "DELETE": 50.0,
        }
    )
    #: ``"METHOD /rest/api/3/issue/{id}"`` -> steady rate, for Jira's published overrides.
    burst_overrides: dict[str, float] = field(default_factory=dict)
    #: Bucket capacity in seconds of steady rate (Atlassian does not publish it).
    burst_capacity_seconds: float = 1.0
    per_issue_enabled: bool = True
    #: (max writes, window seconds) pairs, all enforced.
    per_issue_windows: tuple[tuple[int, float], ...] = ((20, 2.0), (100, 30.0))
    quota_enabled: bool = True
    quota_points_per_hour: int = 65_000
    #: "tenant": a pool per app and site; "global": one pool per app across sites.
    quota_pool: Literal["tenant", "global"] = "tenant"
    near_limit_fraction: float = 0.2
    #: Only paths under these prefixes are limited (not /_sim/, /oauth/, /authorize).
    path_prefixes: tuple[str, ...] = ("/rest/",)

    def as_json(self) -> dict[str, Any]:
        """A JSON-able view (for ``/_sim/ratelimit``)."""
        data = asdict(self)
        data["per_issue_windows"] = [list(w) for w in self.per_issue_windows]
        data["path_prefixes"] = list(self.path_prefixes)
        return data


def endpoint_template(path: str) -> str:
    """The route template of ``path``: ids, keys and account ids become ``{id}``."""
    segments = path.split("/")
    return "/".join(
        "{id}"
        if seg and (_ISSUE_KEY.match(seg) or _ID_LIKE.match(seg)) and segments[i - 1] != "api"
        else seg
        for i, seg in enumerate(segments)
    )


def issue_in_path(path: str) -> str | None:
    """The issue id or key a path addresses (``.../issue/{idOrKey}...``), if any."""
    segments = path.split("/")
    for i, seg in enumerate(segments[:-1]):
        if seg == "issue":
            candidate = segments[i + 1]
            if (
                candidate
                and candidate not in _NOT_ISSUES
                and (_ISSUE_KEY.match(candidate) or candidate.isdigit())
            ):
                return candidate.upper()
    return None


def request_cost(method: str, path: str, body: bytes | None = None) -> int:
    """Points a request costs under the documented model (see the module docstring)."""
    if method in _WRITE_METHODS and not (method == "POST" and path.endswith(_READ_POSTS)):
        if method == "POST" and path.endswith("/issue/bulk") and body:
            try:
                updates = json.loads(body).get("issueUpdates", [])
            except (ValueError, AttributeError):
                return 1
            return max(1, len(updates)) if isinstance(updates, list) else 1
        return 1
    segments = set(path.split("/"))
    return 3 if segments & _IDENTITY_SEGMENTS else 2


@dataclass
class _Bucket:
    tokens: float
    updated: float


@dataclass
class Decision:
    """Why a request was refused and the headers that say so."""

    reason: str
    retry_after: int
    limit: int
    reset_at: float


@dataclass
class _Counters:
    allowed: int = 0
    limited: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)
    by_endpoint: dict[str, dict[str, int]] = field(default_factory=dict)


class RateLimiter:
    """The limiter's state: buckets, per-issue windows, quota pools and counters."""

    def __init__(self, config: RateLimitConfig, clock: SimClock) -> None:
        self.config = config
        self.clock = clock
        self._buckets: dict[tuple[str, str, str], _Bucket] = {}
        self._issue_writes: dict[tuple[str, str], deque[float]] = {}
        self._quota: dict[tuple[str, ...], tuple[int, int]] = {}  # key -> (hour, points used)
        self._counters = _Counters()
        self._since = clock.time()

    def reset(self) -> None:
        """Empty every bucket, window, quota pool and counter."""
        self._buckets.clear()
        self._issue_writes.clear()
        self._quota.clear()
        self._counters = _Counters()
        self._since = self.clock.time()

    def counters(self) -> dict[str, Any]:
        """Requests allowed and limited, by reason and by ``"METHOD template"``."""
        c = self._counters
        return {
            "since": self._since,
            "now": self.clock.time(),
            "allowed": c.allowed,
            "limited": c.limited,
            "limitedByReason": dict(c.by_reason),
            "byEndpoint": {k: dict(v) for k, v in c.by_endpoint.items()},
        }

    def _burst_rate(self, method: str, template: str) -> float:
        override = self.config.burst_overrides.get(f"{method} {template}")
        if override is not None:
            return override
        return self.config.burst_rps.get(method, self.config.burst_rps.get("GET", 100.0))

    def _quota_key(self, principal: Mapping[str, Any]) -> tuple[str, ...]:
        client = str(principal.get("client_id", ""))
        if self.config.quota_pool == "global":
            return (client,)
        return (client, str(principal.get("cloud_id", "")))

    def check(
        self,
        *,
        site: str,
        method: str,
        path: str,
        principal: Mapping[str, Any] | None,
        cost: int,
    ) -> tuple[Decision | None, dict[str, str]]:
        """Admit or refuse one request; admitted requests use up their budget.

        Returns the refusal (or None) and the headers to add to the answer.
        """
        now = self.clock.time()
        cfg = self.config
        template = endpoint_template(path)
        endpoint = f"{method} {template}"
        headers: dict[str, str] = {}
        refusal: Decision | None = None

        bucket: _Bucket | None = None
        if cfg.burst_enabled:
            rate = self._burst_rate(method, template)
            capacity = max(1.0, rate * cfg.burst_capacity_seconds)
            key = (site, method, template)
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(capacity, now)
            bucket.tokens = min(capacity, bucket.tokens + (now - bucket.updated) * rate)
            bucket.updated = now
            headers["X-RateLimit-Limit"] = str(int(rate))
            if bucket.tokens < 1.0:
                wait = (1.0 - bucket.tokens) / rate
                refusal = Decision(REASON_BURST, _ceil(wait), int(rate), now + wait)

        window: deque[float] | None = None
        issue = issue_in_path(path) if method in _WRITE_METHODS else None
        if refusal is None and cfg.per_issue_enabled and issue is not None:
            window = self._issue_writes.setdefault((site, issue), deque())
            longest = max((w for _, w in cfg.per_issue_windows), default=0.0)
            while window and window[0] <= now - longest:
                window.popleft()
            for limit, seconds in cfg.per_issue_windows:
                recent = [t for t in window if t > now - seconds]
                if len(recent) >= limit:
                    free_at = recent[-limit] + seconds
                    refusal = Decision(REASON_PER_ISSUE, _ceil(free_at - now), limit, free_at)
                    break

        quota_key: tuple[str, ...] | None = None
        used = 0
        hour = int(now // 3600)
        if cfg.quota_enabled and principal is not None and principal.get("auth_kind") == "oauth":
            quota_key = self._quota_key(principal)
            pool_hour, used = self._quota.get(quota_key, (hour, 0))
            if pool_hour != hour:
                used = 0
            total = cfg.quota_points_per_hour
            if refusal is None and used + cost > total:
                reset = (hour + 1) * 3600.0
                reason = REASON_QUOTA_GLOBAL if cfg.quota_pool == "global" else REASON_QUOTA_TENANT
                refusal = Decision(reason, _ceil(reset - now), total, reset)

        if refusal is not None:
            self._count(endpoint, refusal.reason)
            headers.update(
                {
                    "Retry-After": str(max(1, refusal.retry_after)),
                    "X-RateLimit-Limit": str(refusal.limit),
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": _iso(refusal.reset_at),
                    "RateLimit-Reason": refusal.reason,
                }
            )
            if quota_key is not None:
                left = cfg.quota_points_per_hour - used
                headers["X-RateLimit-NearLimit"] = _near(left, cfg)
            return refusal, headers

        if bucket is not None:
            bucket.tokens -= 1.0
            headers["X-RateLimit-Remaining"] = str(int(bucket.tokens))
        if window is not None:
            window.append(now)
        if quota_key is not None:
            used += cost
            self._quota[quota_key] = (hour, used)
            headers["X-RateLimit-NearLimit"] = _near(cfg.quota_points_per_hour - used, cfg)
        self._count(endpoint, None)
        return None, headers

    def _count(self, endpoint: str, reason: str | None) -> None:
        c = self._counters
        per = c.by_endpoint.setdefault(endpoint, {"allowed": 0, "limited": 0})
        if reason is None:
            c.allowed += 1
            per["allowed"] += 1
        else:
            c.limited += 1
            per["limited"] += 1
            c.by_reason[reason] = c.by_reason.get(reason, 0) + 1

    # -- inspection routes ----------------------------------------------------------------------

    async def inspect(self, request: Request) -> Response:
        """``GET /_sim/ratelimit``: config and counters."""
        return JSONResponse({"config": self.config.as_json(), **self.counters()})

    async def inspect_reset(self, request: Request) -> Response:
        """``POST /_sim/ratelimit/reset``: empty buckets, windows, pools and counters."""
        self.reset()
        return Response(status_code=204)

    def routes(self) -> list[BaseRoute]:
        """The ``/_sim/ratelimit`` routes."""
        return [
            Route("/_sim/ratelimit", self.inspect, methods=["GET"]),
            Route("/_sim/ratelimit/reset", self.inspect_reset, methods=["POST"]),
        ]


class RateLimitMiddleware:
    """Applies a :class:`RateLimiter` to the site's API paths.

    Place it inside the OAuth gateway (it reads the gateway's principal for the quota).
    """

    def __init__(self, app: ASGIApp, limiter: RateLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        cfg = self.limiter.config
        path: str = scope.get("path", "")
        if (
            scope["type"] != "http"
            or not (cfg.burst_enabled or cfg.per_issue_enabled or cfg.quota_enabled)
            or not path.startswith(cfg.path_prefixes)
        ):
            await self.app(scope, receive, send)
            return
        method: str = scope["method"]
        principal = principal_from_scope(scope)
        body: bytes | None = None
        if (
            principal is not None
            and cfg.quota_enabled
            and method == "POST"
            and path.endswith("/issue/bulk")
        ):
            body = await read_body(receive)
            receive = _replay(body)
        site = str(principal.get("cloud_id")) if principal else _host(scope)
        refusal, headers = self.limiter.check(
            site=site,
            method=method,
            path=path,
            principal=principal,
            cost=request_cost(method, path, body),
        )
        if refusal is not None:
            await send_json(send, 429, jira_error_body(["Rate limit exceeded."]), headers.items())
            return
        extra = [(k.lower().encode(), v.encode()) for k, v in headers.items()]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def _host(scope: Scope) -> str:
    for key, value in scope.get("headers", ()):
        if key == b"host":
            return bytes(value).decode("latin-1")
    return "site"


def _ceil(seconds: float) -> int:
    return max(1, math.ceil(seconds - 1e-9))


def _near(left: int, cfg: RateLimitConfig) -> str:
    return "true" if left < cfg.quota_points_per_hour * cfg.near_limit_fraction else "false"


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
