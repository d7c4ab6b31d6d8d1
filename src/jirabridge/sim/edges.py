"""The simulator's edges in one place: OAuth gateway, rate limits, faults and webhooks.

:class:`SimEdges` builds the four parts from one :class:`EdgeConfig`, subscribes the webhook
dispatcher to the site's event bus, and installs them in a Starlette app: routes for
``/authorize``, ``/oauth/token*``, Jira's webhook endpoints and ``/_sim/{oauth,ratelimit,
faults,webhooks}``, and the middleware chain (outermost first) gateway -> rate limits -> faults
-> the site. ``/_sim/faults`` switches profile and changes any setting at run time.

:func:`edges_for_site` builds them for the simulator core's site (its clock, event bus, users,
JQL evaluator and search index); ``create_sim_app`` calls it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, fields, replace
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from jirabridge.sim.clock import SimClock
from jirabridge.sim.errors import SimHTTPError
from jirabridge.sim.events import EventBus, SimEvent
from jirabridge.sim.faults import FaultInjector, FaultMiddleware
from jirabridge.sim.jql import And, Clause, Node, Not, Or, parse
from jirabridge.sim.oauth import (
    OAuthClient,
    OAuthConfig,
    OAuthGatewayMiddleware,
    OAuthServer,
    OAuthSite,
)
from jirabridge.sim.profiles import get_profile
from jirabridge.sim.ratelimit import RateLimitConfig, RateLimiter, RateLimitMiddleware
from jirabridge.sim.search import Searcher
from jirabridge.sim.state import SimSite
from jirabridge.sim.web import SimRoute
from jirabridge.sim.webhooks import (
    AdminAuthenticator,
    JqlMatcher,
    WebhookConfig,
    WebhookDispatcher,
    project_filter_matcher,
)

__all__ = [
    "DYNAMIC_JQL_FIELDS",
    "EdgeConfig",
    "SimEdges",
    "check_dynamic_jql",
    "default_oauth_client",
    "edges_for_site",
    "site_jql_matcher",
]

#: Fields a dynamic webhook's JQL filter may use (the platform spec's list).
DYNAMIC_JQL_FIELDS = frozenset(
    {"issuekey", "key", "project", "issuetype", "status", "assignee", "reporter", "priority"}
)


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


class SimEdges:
    """The OAuth server, rate limiter, fault injector and webhook dispatcher of one site."""

    def __init__(
        self,
        config: EdgeConfig,
        clock: SimClock,
        *,
        bus: EventBus | None = None,
        jql_matcher: JqlMatcher = project_filter_matcher,
        dynamic_jql_check: Callable[[str], None] | None = None,
        authenticate_admin: AdminAuthenticator | None = None,
        on_change: Callable[[SimEdges], None] | None = None,
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
        extra: dict[str, Any] = {}
        if authenticate_admin is not None:
            extra["authenticate_admin"] = authenticate_admin
        self.webhooks = WebhookDispatcher(
            clock,
            config=webhook_config,
            client_secret=self.oauth.client_secret,
            faults=self.faults,
            jql_matcher=jql_matcher,
            dynamic_jql_check=dynamic_jql_check,
            **extra,
        )
        self.on_change = on_change
        #: cloud id -> path under the simulator's base URL where that site "lives".
        self.site_suffixes: dict[str, str] = {}
        if bus is not None:
            bus.subscribe(self.webhooks.on_event)

    def apply_profile(self, name: str) -> None:
        """Switch to profile ``name`` (``ValueError`` if unknown); counters are kept."""
        profile = get_profile(name)
        self.faults.config = profile.faults
        self.limiter.config = profile.ratelimit
        self.profile_name = profile.name
        if self.on_change is not None:
            self.on_change(self)

    def routes(self) -> list[BaseRoute]:
        """Every route the edges serve (OAuth, Jira webhook REST, ``/_sim/...``)."""
        return [
            *self.oauth.routes(),
            *self.limiter.routes(),
            Route("/_sim/faults", self.faults_endpoint, methods=["GET", "PUT", "POST"]),
            *self.webhooks.sim_routes(),
            *(_spec_route(r) for r in self.webhooks.jira_routes()),
        ]

    def middleware(self) -> list[Middleware]:
        """The chain, outermost first: gateway, rate limits, faults."""
        return [
            Middleware(OAuthGatewayMiddleware, server=self.oauth),
            Middleware(RateLimitMiddleware, limiter=self.limiter),
            Middleware(FaultMiddleware, faults=self.faults),
        ]

    def install(self, app: Starlette) -> None:
        """Add the routes and the middleware chain to an app built elsewhere (before it starts)."""
        app.router.routes.extend(self.routes())
        # add_middleware puts each new middleware outside the previous ones.
        for item in reversed(self.middleware()):
            app.add_middleware(item.cls, *item.args, **item.kwargs)
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
            if self.on_change is not None:
                self.on_change(self)
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


def _spec_route(route: BaseRoute) -> BaseRoute:
    # SimRoute tells the core's stats and spec validation which operation this is.
    if not isinstance(route, Route) or not route.path.startswith("/rest/api/3/"):
        return route
    return SimRoute(
        route.path,
        route.endpoint,
        methods=sorted(route.methods or ()),
        spec="platform",
        spec_path=route.path,
    )


def default_oauth_client(seed: int) -> OAuthClient:
    """The OAuth app every simulator registers: id and secret derived from the seed."""
    digest = hashlib.sha256(f"jirabridge-sim-oauth:{seed}".encode()).hexdigest()
    return OAuthClient(f"sim-app-{digest[:16]}", digest[16:64], name="Jirabridge (simulated app)")


def _clause_fields(node: Node) -> list[str]:
    if isinstance(node, Clause):
        return [node.field]
    if isinstance(node, Not):
        return _clause_fields(node.expr)
    if isinstance(node, And | Or):
        return [name for item in node.items for name in _clause_fields(item)]
    return []


def check_dynamic_jql(jql: str) -> None:
    """Refuse a dynamic webhook filter outside Jira's subset, with Jira's message."""
    query = parse(jql)
    for name in _clause_fields(query.where) if query.where is not None else []:
        lowered = name.lower()
        if lowered not in DYNAMIC_JQL_FIELDS and not lowered.startswith(("issue.property", "cf[")):
            raise ValueError(f"The clause {name} is unsupported")


def site_jql_matcher(site: SimSite) -> JqlMatcher:
    """Match events against JQL with the core's evaluator, on the issue as it is now.

    A deleted issue is no longer there to evaluate: its event is matched on project and key.
    """

    def matches(jql: str, event: SimEvent) -> bool:
        query = parse(jql)  # JqlError is a ValueError: a bad filter is refused at registration
        if query.where is None or event.issue_key is None:
            return True
        issue = site.find_issue(event.issue_key)
        if issue is None:
            return project_filter_matcher(jql, event)
        try:
            return Searcher(site, None).compile(query.where)(issue)
        except SimHTTPError:
            return False

    return matches


def edges_for_site(
    site: SimSite,
    bus: EventBus,
    *,
    profile: str,
    seed: int,
    config: EdgeConfig | None = None,
    authenticate_admin: AdminAuthenticator | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> SimEdges:
    """The edges of the simulator core's site.

    Unless ``config`` says otherwise: the profile and seed of the site, the app of
    :func:`default_oauth_client`, the site itself plus a second one to choose from on the
    consent page (both served by the same data), and the seeded admin as the consenting user.
    ``sleep`` is how injected latency waits.
    """
    if config is None:
        admin = next((u for u in site.users.values() if u.admin), None)
        base = site.base_url.rstrip("/")
        config = EdgeConfig(
            profile=profile,
            seed=seed,
            oauth=OAuthConfig(
                clients=[default_oauth_client(seed)],
                sites=[
                    OAuthSite(site.cloud_id, "Simulated Jira", base),
                    OAuthSite(
                        _sibling_cloud_id(site.cloud_id),
                        "Simulated Jira (sandbox)",
                        base + "/sandbox",
                    ),
                ],
                default_account_id=site.user_id(admin) if admin is not None else "",
            ),
        )

    def sync_search_lag(edges: SimEdges) -> None:
        # The profile or /_sim/faults changed: the core's index follows.
        site.set_search_lag(*edges.faults.config.search_lag_seconds)

    edges = SimEdges(
        config,
        site.clock,
        bus=bus,
        jql_matcher=site_jql_matcher(site),
        dynamic_jql_check=check_dynamic_jql,
        authenticate_admin=authenticate_admin,
        on_change=sync_search_lag,
        sleep=sleep,
    )
    edges.site_suffixes = {
        s.cloud_id: s.url[len(site.base_url.rstrip("/")) :]
        for s in config.oauth.sites
        if s.url.startswith(site.base_url.rstrip("/"))
    }
    return edges


def _sibling_cloud_id(cloud_id: str) -> str:
    digest = hashlib.sha256(f"sandbox:{cloud_id}".encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))
