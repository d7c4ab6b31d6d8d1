"""A stand-in site app for the simulator's edges, a loopback server and a webhook receiver.

The stand-in plays the simulator core's part: it stores issues and worklogs, publishes a
SimEvent per change, and echoes the principal the OAuth gateway placed in the scope.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from jirabridge.sim.clock import SimClock
from jirabridge.sim.edges import EdgeConfig, SimEdges
from jirabridge.sim.events import EventBus, SimEvent
from jirabridge.sim.oauth import OAuthClient, OAuthConfig, OAuthSite

START = 1_800_000_000.0  # 2027-01-15T08:00:00Z, a frozen simulated "now"
CLIENT_ID = "app-client-id"
CLIENT_SECRET = "app-client-secret-0123456789abcdef"
SITES = (
    OAuthSite("11111111-aaaa-4bbb-8ccc-000000000001", "Alpha", "https://alpha.atlassian.net"),
    OAuthSite("22222222-aaaa-4bbb-8ccc-000000000002", "Beta", "https://beta.atlassian.net"),
)


@dataclass
class StandInSite:
    """What the stand-in core stores and the edges it runs behind."""

    clock: SimClock
    bus: EventBus
    edges: SimEdges
    app: Starlette
    issues: dict[str, dict[str, Any]] = field(default_factory=dict)
    worklogs: list[dict[str, Any]] = field(default_factory=list)

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://sim.test"
        )

    def publish_issue_event(self, name: str, key: str, extra: dict[str, Any] | None = None) -> None:
        project = key.split("-")[0]
        payload = {
            "timestamp": int(self.clock.time() * 1000),
            "webhookEvent": name,
            "issue_event_type_name": "issue_created",
            "issue": {"id": "10001", "key": key, "fields": {"project": {"key": project}}},
            **(extra or {}),
        }
        event = SimEvent(name, payload, int(self.clock.time() * 1000), project, key)
        self.bus.publish(event)


def build_site(
    profile: str = "clean",
    *,
    fault_overrides: dict[str, Any] | None = None,
    ratelimit_overrides: dict[str, Any] | None = None,
    seed: int = 7,
    sleep: Callable[[float], Any] | None = None,
    **oauth_kwargs: Any,
) -> StandInSite:
    clock = SimClock(frozen_at=START)
    bus = EventBus()
    oauth = OAuthConfig(
        clients=[OAuthClient(CLIENT_ID, CLIENT_SECRET, redirect_uris=("https://app.test/cb",))],
        sites=SITES,
        default_account_id="5b10ac8d82e05b22cc7d4ef5",
        **oauth_kwargs,
    )

    async def no_sleep(_seconds: float) -> None:
        return None

    edges = SimEdges(
        EdgeConfig(
            profile=profile,
            seed=seed,
            oauth=oauth,
            fault_overrides={"latency_ms": 0.0, **(fault_overrides or {})},
            ratelimit_overrides=ratelimit_overrides or {},
        ),
        clock,
        bus=bus,
        sleep=sleep or no_sleep,
    )
    site: StandInSite

    async def myself(request: Request) -> Response:
        principal = request.scope.get("state", {}).get("sim_principal")
        return JSONResponse({"principal": principal, "path": request.url.path})

    async def create_issue(request: Request) -> Response:
        body = await request.json()
        key = f"{body.get('project', 'PROJ')}-{len(site.issues) + 1}"
        site.issues[key] = body
        site.publish_issue_event("jira:issue_created", key)
        return JSONResponse({"id": str(10000 + len(site.issues)), "key": key}, status_code=201)

    async def get_issue(request: Request) -> Response:
        key = request.path_params["key"]
        if key not in site.issues:
            return JSONResponse({"errorMessages": ["Issue does not exist"], "errors": {}}, 404)
        return JSONResponse({"key": key, "fields": site.issues[key]})

    async def add_worklog(request: Request) -> Response:
        body = await request.json()
        site.worklogs.append({"issue": request.path_params["key"], **body})
        return JSONResponse({"id": str(len(site.worklogs))}, status_code=201)

    async def edit_issue(request: Request) -> Response:
        return Response(status_code=204)

    app = Starlette(
        routes=[
            Route("/rest/api/3/myself", myself),
            Route("/rest/api/3/issue", create_issue, methods=["POST"]),
            Route("/rest/api/3/issue/{key}", get_issue, methods=["GET"]),
            Route("/rest/api/3/issue/{key}", edit_issue, methods=["PUT"]),
            Route("/rest/api/3/issue/{key}/worklog", add_worklog, methods=["POST"]),
        ]
    )
    edges.install(app)
    site = StandInSite(clock=clock, bus=bus, edges=edges, app=app)
    return site


@contextlib.asynccontextmanager
async def serve(app: Any) -> AsyncIterator[str]:
    """Run ``app`` under uvicorn on 127.0.0.1 and a free port, in this event loop."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    # Listening before uvicorn starts lets early connections wait in the backlog.
    sock.listen(64)
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="critical", lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@dataclass
class Receiver:
    """A webhook receiver that records deliveries and answers with programmed statuses."""

    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)

    def app(self) -> Starlette:
        async def hook(request: Request) -> Response:
            self.received.append((dict(request.headers), await request.body()))
            status = self.statuses.pop(0) if self.statuses else 200
            return Response(status_code=status)

        return Starlette(routes=[Route("/hook", hook, methods=["POST"])])
