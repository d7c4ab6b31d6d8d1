"""The simulator's ASGI app: configuration, the site runtime, routes and middleware."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from jirabridge.sim import agile, routes_issues, routes_meta, routes_search, routes_worklogs
from jirabridge.sim.clock import SimClock
from jirabridge.sim.edges import EdgeConfig, SimEdges, edges_for_site
from jirabridge.sim.errors import SimHTTPError, jira_error_body
from jirabridge.sim.events import EventBus
from jirabridge.sim.seed import SeedSpec, seed_site
from jirabridge.sim.state import SimSite
from jirabridge.sim.web import SimRoute, authenticate, endpoint, json_response

__all__ = ["SimConfig", "SimRuntime", "build_routes", "create_sim_app"]


@dataclass
class SimConfig:
    """How to run a simulated site.

    ``admin_email``/``admin_token`` default to values generated from ``seed`` (see
    :attr:`SimRuntime.admin_email`). ``frozen_at`` freezes the clock (epoch seconds), for tests
    that need byte-identical output; ``validate`` checks every request and response against
    Atlassian's OpenAPI spec (on in the test suite, off for speed elsewhere).
    """

    seed: int = 1
    flavor: Literal["cloud", "datacenter"] = "cloud"
    profile: str = "clean"
    admin_email: str | None = None
    admin_token: str | None = None
    base_url: str = "http://127.0.0.1"
    state_file: Path | None = None
    validate: bool = False
    seed_spec: SeedSpec = field(default_factory=SeedSpec)
    frozen_at: float | None = None
    search_lag: tuple[float, float] = (0.0, 0.0)

    def __post_init__(self) -> None:
        if self.flavor not in ("cloud", "datacenter"):
            raise ValueError(f"flavor must be 'cloud' or 'datacenter', not {self.flavor!r}")
        if self.state_file is not None:
            self.state_file = Path(self.state_file)


class SimRuntime:
    """Everything a running simulator holds: config, clock, event bus, the site and stats.

    Found on ``app.state.sim``. :meth:`reset` rebuilds the site from the seed.
    """

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.clock = SimClock(frozen_at=config.frozen_at)
        self.bus = EventBus()
        self.requests: Counter[tuple[str, str, int]] = Counter()
        #: OAuth, rate limits, faults and webhooks; set by :func:`create_sim_app`.
        self.edges: SimEdges | None = None
        digest = hashlib.sha256(f"jirabridge-sim:{config.seed}".encode()).digest()
        self.cloud_id = str(uuid.UUID(bytes=digest[:16], version=4))
        self.site = SimSite(
            flavor=config.flavor,
            base_url=config.base_url,
            cloud_id=self.cloud_id,
            clock=self.clock,
            bus=self.bus,
            seed=config.seed,
        )
        self.reset()

    def reset(self, spec: SeedSpec | None = None) -> None:
        """Forget everything and seed again (same seed -> same site)."""
        self.site.clear()
        self.requests.clear()
        seed_site(
            self.site,
            spec or self.config.seed_spec,
            admin_email=self.config.admin_email,
            admin_token=self.config.admin_token,
        )
        self.apply_search_lag()

    def apply_search_lag(self) -> None:
        """Set the search index lag: the config's when given, else the edges' profile's."""
        lag = self.config.search_lag
        if lag == (0.0, 0.0) and self.edges is not None:
            lag = self.edges.faults.config.search_lag_seconds
        self.site.set_search_lag(*lag)

    @property
    def admin(self) -> Any:
        """The seeded admin user."""
        return next(u for u in self.site.users.values() if u.admin)

    @property
    def admin_email(self) -> str:
        """Login of the admin: email on Cloud, username on Data Center."""
        user = self.admin
        return str(user.email if self.site.is_cloud else user.name)

    @property
    def admin_token(self) -> str:
        """The admin's API token (Cloud) or password (Data Center)."""
        user = self.admin
        return str(user.api_token if self.site.is_cloud else user.password)

    def set_base_url(self, base_url: str) -> None:
        """Where the simulator is reachable (used in every ``self`` link)."""
        self.site.base_url = base_url.rstrip("/")
        if self.edges is not None:
            for cloud_id, suffix in self.edges.site_suffixes.items():
                self.edges.oauth.move_site(cloud_id, self.site.base_url + suffix)


Handler = Callable[..., Any]


def _api_routes(
    prefix: str,
    table: list[tuple[str, str, Any, int]],
    *,
    version: str,
    spec: str | None,
    spec_prefix: str | None,
    auth: str = "required",
) -> list[SimRoute]:
    routes = []
    for method, path, handler, status in table:
        routes.append(
            SimRoute(
                prefix + path,
                endpoint(handler, version=version, auth=auth, status=status),
                methods=[method],
                spec=spec,
                spec_path=(spec_prefix + path) if spec_prefix is not None else None,
            )
        )
    return routes


def build_routes(flavor: str) -> list[SimRoute]:
    """Every REST route the flavour serves (Cloud: v3 and v2; Data Center: v2 only)."""
    platform = routes_issues.ROUTES + routes_worklogs.ROUTES + routes_meta.ROUTES
    routes: list[SimRoute] = []
    versions = ("3", "2") if flavor == "cloud" else ("2",)
    for version in versions:
        prefix = f"/rest/api/{version}"
        spec = "platform" if version == "3" else None
        spec_prefix = "/rest/api/3" if version == "3" else None
        routes += _api_routes(
            prefix,
            routes_meta.ANONYMOUS,
            version=version,
            spec=spec,
            spec_prefix=spec_prefix,
            auth="optional",
        )
        if flavor == "cloud":
            routes += _api_routes(
                prefix, routes_search.ROUTES, version=version, spec=spec, spec_prefix=spec_prefix
            )
            gone = [(m, p, routes_search.gone, 410) for m, p, _, _ in routes_search.ROUTES_V2_DC]
            routes += _api_routes(prefix, gone, version=version, spec=None, spec_prefix=None)
        else:
            routes += _api_routes(
                prefix, routes_search.ROUTES_V2_DC, version=version, spec=None, spec_prefix=None
            )
        routes += _api_routes(prefix, platform, version=version, spec=spec, spec_prefix=spec_prefix)
    routes += _api_routes(
        "/rest/agile/1.0",
        agile.ROUTES,
        version="2" if flavor != "cloud" else "3",
        spec="software" if flavor == "cloud" else None,
        spec_prefix="/rest/agile/1.0" if flavor == "cloud" else None,
    )
    return routes


class _StatsMiddleware:
    """Counts requests by method, route template and status (for ``/_sim/stats``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def record(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record)
        finally:
            route = scope.get("sim_route")
            template = route.path if route is not None else "(unmatched)"
            if not template.startswith("/_sim"):
                runtime: SimRuntime = scope["app"].state.sim
                runtime.requests[(scope["method"], template, status)] += 1


async def _no_sleep(_seconds: float) -> None:
    return None


def _admin_caller(request: Request, runtime: SimRuntime) -> dict[str, Any] | None:
    """Who calls Jira's admin webhook REST (None: not authenticated)."""
    try:
        principal = authenticate(request, runtime.site)
    except SimHTTPError:
        return None
    if principal is None:
        return None
    user = runtime.site.get_user(principal.user_id)
    return {"account_id": principal.user_id, "admin": bool(user is not None and user.admin)}


async def _not_found(request: Request, exc: Exception) -> Response:
    return json_response(jira_error_body(["The requested resource could not be found."]), 404)


async def _method_not_allowed(request: Request, exc: Exception) -> Response:
    return json_response(jira_error_body(["The method is not allowed for this resource."]), 405)


async def _server_error(request: Request, exc: Exception) -> Response:
    return json_response(jira_error_body(["Internal server error."]), 500)


def create_sim_app(
    config: SimConfig | None = None,
    *,
    middleware: list[Middleware] | None = None,
    edges: EdgeConfig | None = None,
) -> Starlette:
    """A Starlette app serving one simulated site; its runtime is ``app.state.sim``.

    The edges (OAuth gateway, rate limits, faults; :mod:`jirabridge.sim.edges`) wrap the REST
    routes, configured from ``config.profile`` and ``config.seed`` unless ``edges`` is given;
    ``middleware`` goes inside them (outermost first), and spec validation innermost.
    """
    from jirabridge.sim import inspect as inspect_api
    from jirabridge.sim import persist

    config = config or SimConfig()
    runtime = SimRuntime(config)
    if config.state_file is not None and config.state_file.exists():
        persist.load(runtime, config.state_file)
    sim_edges = edges_for_site(
        runtime.site,
        runtime.bus,
        profile=config.profile,
        seed=config.seed,
        config=edges,
        authenticate_admin=lambda request: _admin_caller(request, runtime),
        # A frozen clock means a test drives time: injected latency must not cost real time.
        sleep=_no_sleep if config.frozen_at is not None else asyncio.sleep,
    )
    runtime.edges = sim_edges
    runtime.apply_search_lag()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await sim_edges.webhooks.aclose()
        if config.state_file is not None:
            persist.save(runtime, config.state_file)

    # Stats outermost (it counts 429s and faults too); validation innermost, so it checks the
    # site's own answers on the rewritten gateway path, not the edges' 429s and injected 5xx.
    stack: list[Middleware] = [Middleware(_StatsMiddleware), *sim_edges.middleware()]
    stack += middleware or []
    if config.validate:
        from jirabridge.sim.spec import ValidatingMiddleware

        stack.append(Middleware(ValidatingMiddleware))
    app = Starlette(
        routes=[*inspect_api.routes(), *sim_edges.routes(), *build_routes(config.flavor)],
        middleware=stack,
        lifespan=lifespan,
        exception_handlers={404: _not_found, 405: _method_not_allowed, 500: _server_error},
    )
    app.state.sim = runtime
    return app
