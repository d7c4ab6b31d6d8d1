"""The simulator's edges in one place: OAuth gateway, rate limits, faults and webhooks.

:class:`SimEdges` builds the four parts from one :class:`EdgeConfig`, subscribes the webhook
dispatcher to the site's event bus, and installs them in a Starlette app: routes for
``/authorize``, ``/oauth/token*``, Jira's webhook endpoints and ``/_sim/{oauth,ratelimit,
faults,webhooks}``, and the middleware chain (outermost first) gateway -> rate limits -> faults
-> the site. ``/_sim/faults`` switches profile and changes any setting at run time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, fields, replace
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from jirabridge.sim.clock import SimClock
from jirabridge.sim.events import EventBus
from jirabridge.sim.faults import FaultInjector, FaultMiddleware
from jirabridge.sim.oauth import OAuthConfig, OAuthGatewayMiddleware, OAuthServer
from jirabridge.sim.profiles import get_profile
from jirabridge.sim.ratelimit import RateLimitConfig, RateLimiter, RateLimitMiddleware
from jirabridge.sim.webhooks import JqlMatcher, WebhookConfig, WebhookDispatcher

__all__ = ["EdgeConfig", "SimEdges"]


@dataclass
class EdgeConfig:
    """Settings of the edges; ``profile`` picks the fault and rate-limit settings."""

    profile: str = "clean"
    seed: int = 0
    oauth: OAuthConfig = field(default_factory=OAuthConfig)
    webhooks: WebhookConfig = field(default_factory=WebhookConfig)
    #: Overrides applied on top of the profile (field name -> value).
    fault_overrides: dict[str, Any] = field(default_factory=dict)
    ratelimit_overrides: dict[str, Any] = field(default_factory=dict)
    base_url: str = "http://127.0.0.1"


class SimEdges:
    """The OAuth server, rate limiter, fault injector and webhook dispatcher of one site."""

    def __init__(
        self,
        config: EdgeConfig,
        clock: SimClock,
        *,
        bus: EventBus | None = None,
        jql_matcher: JqlMatcher | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.config = config
        self.clock = clock
        profile = get_profile(config.profile)
        self.profile_name = profile.name
        self.oauth = OAuthServer(config.oauth, clock)
        self.limiter = RateLimiter(
            _with_overrides(profile.ratelimit, config.ratelimit_overrides), clock
        )
        self.faults = FaultInjector(
            profile.faults.updated(config.fault_overrides), clock, seed=config.seed, sleep=sleep
        )
        webhook_config = replace(config.webhooks, seed=config.seed)
        extra: dict[str, Any] = {} if jql_matcher is None else {"jql_matcher": jql_matcher}
        self.webhooks = WebhookDispatcher(
            clock,
            config=webhook_config,
            client_secret=self.oauth.client_secret,
            faults=self.faults,
            base_url=config.base_url,
            **extra,
        )
        if bus is not None:
            bus.subscribe(self.webhooks.on_event)

    def apply_profile(self, name: str) -> None:
        """Switch to profile ``name`` (``ValueError`` if unknown); counters are kept."""
        profile = get_profile(name)
        self.faults.config = profile.faults
        self.limiter.config = profile.ratelimit
        self.profile_name = profile.name

    def routes(self) -> list[BaseRoute]:
        """Every route the edges serve (OAuth, Jira webhook REST, ``/_sim/...``)."""
        return [
            *self.oauth.routes(),
            *self.limiter.routes(),
            Route("/_sim/faults", self.faults_endpoint, methods=["GET", "PUT", "POST"]),
            *self.webhooks.sim_routes(),
            *self.webhooks.jira_routes(),
        ]

    def install(self, app: Starlette) -> None:
        """Add the routes and the middleware chain to ``app`` (before it starts)."""
        app.router.routes.extend(self.routes())
        # add_middleware puts each new middleware outside the previous ones.
        app.add_middleware(FaultMiddleware, faults=self.faults)
        app.add_middleware(RateLimitMiddleware, limiter=self.limiter)
        app.add_middleware(OAuthGatewayMiddleware, server=self.oauth)
        inner = app.router.lifespan_context

        @contextlib.asynccontextmanager
        async def lifespan(asgi_app: Any) -> AsyncIterator[Any]:
            async with inner(asgi_app) as state:
                try:
                    yield state
                finally:
                    await self.webhooks.aclose()

        app.router.lifespan_context = lifespan

    def snapshot(self) -> dict[str, Any]:
        """What ``GET /_sim/faults`` answers."""
        return {
            "profile": self.profile_name,
            **self.faults.snapshot(),
            "ratelimit": self.limiter.config.as_json(),
        }

    async def faults_endpoint(self, request: Request) -> Response:
        """``GET /_sim/faults``; ``PUT``/``POST`` with any of ``profile`` (name), ``seed``,
        ``storm`` (seconds of 429 storm from now), ``ratelimit`` (settings) and fault settings.
        """
        if request.method == "GET":
            return JSONResponse(self.snapshot())
        try:
            body = json.loads(await request.body() or b"{}")
            if not isinstance(body, dict):
                raise ValueError("the body must be a JSON object")
            if "profile" in body:
                self.apply_profile(str(body.pop("profile")))
            if "seed" in body:
                self.faults.reset(int(body.pop("seed")))
            storm = body.pop("storm", None)
            limits = body.pop("ratelimit", None)
            if limits is not None:
                if not isinstance(limits, dict):
                    raise ValueError("ratelimit must be an object")
                self.limiter.config = _with_overrides(self.limiter.config, limits)
            if body:
                self.faults.config = self.faults.config.updated(body)
            if storm is not None:
                self.faults.start_storm(float(storm))
        except (ValueError, TypeError) as exc:
            return JSONResponse({"errorMessages": [str(exc)], "errors": {}}, status_code=400)
        return JSONResponse(self.snapshot())


def _with_overrides(config: RateLimitConfig, changes: dict[str, Any]) -> RateLimitConfig:
    known = {f.name for f in fields(config)}
    unknown = sorted(set(changes) - known)
    if unknown:
        raise ValueError(f"unknown rate-limit settings: {', '.join(unknown)}")
    data = dict(changes)
    if "per_issue_windows" in data:
        data["per_issue_windows"] = tuple((int(n), float(s)) for n, s in data["per_issue_windows"])
    if "path_prefixes" in data:
        data["path_prefixes"] = tuple(str(p) for p in data["path_prefixes"])
    if data.get("quota_pool", "tenant") not in ("tenant", "global"):
        raise ValueError("quota_pool must be 'tenant' or 'global'")
    return replace(config, **data)
