"""A strict fake of Atlassian's OAuth authorization server, for the token tests.

Stricter than Atlassian: reusing a replaced refresh token at any time kills the grant (Atlassian
allows 10 minutes), so a double refresh can never go unnoticed. Runs in-process through
``httpx.ASGITransport`` or as a real loopback server (for the two-process race).
"""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

CLIENT_ID = "fake-client-id"
CLIENT_SECRET = "fake-client-secret-value"

DEFAULT_SITES = [
    {"id": "cloud-1", "name": "acme", "url": "https://acme.atlassian.net", "scopes": []},
]


@dataclass
class Grant:
    sites: list[dict[str, Any]]
    refresh: str
    access: set[str] = field(default_factory=set)
    spent: set[str] = field(default_factory=set)
    alive: bool = True


class FakeAtlassian:
    """State and Starlette app of the fake authorization server."""

    def __init__(self, *, refresh_delay: float = 0.0, expires_in: int = 3600) -> None:
        self.grants: dict[str, Grant] = {}
        self.codes: dict[str, str] = {}
        self.refresh_count = 0
        self.reuse_count = 0
        self.refresh_delay = refresh_delay
        self.expires_in = expires_in
        self.app = Starlette(
            routes=[
                Route("/oauth/token", self.token, methods=["POST"]),
                Route("/oauth/token/accessible-resources", self.resources, methods=["GET"]),
            ]
        )

    def issue_code(self, sites: list[dict[str, Any]] | None = None) -> str:
        grant_id = secrets.token_hex(8)
        self.grants[grant_id] = Grant(sites=list(sites or DEFAULT_SITES), refresh="")
        code = f"code-{secrets.token_hex(8)}"
        self.codes[code] = grant_id
        return code

    def _tokens(self, grant: Grant) -> dict[str, Any]:
        grant.refresh = f"rt-{secrets.token_hex(12)}"
        access = f"at-{secrets.token_hex(12)}"
        grant.access.add(access)
        return {
            "access_token": access,
            "refresh_token": grant.refresh,
            "expires_in": self.expires_in,
            "token_type": "Bearer",
            "scope": "read:jira-work offline_access",
        }

    @staticmethod
    def _error(error: str, status: int = 403) -> JSONResponse:
        return JSONResponse({"error": error, "error_description": error}, status_code=status)

    async def token(self, request: Request) -> JSONResponse:
        if request.headers.get("content-type", "").startswith("application/json"):
            params = dict(await request.json())
        else:
            params = dict(await request.form())
        if params.get("client_id") != CLIENT_ID or params.get("client_secret") != CLIENT_SECRET:
            return self._error("invalid_client", 401)
        if params.get("grant_type") == "authorization_code":
            grant_id = self.codes.pop(str(params.get("code")), None)
            if grant_id is None:
                return self._error("invalid_grant")
            return JSONResponse(self._tokens(self.grants[grant_id]))
        if params.get("grant_type") == "refresh_token":
            token = str(params.get("refresh_token"))
            for grant in self.grants.values():
                if token == grant.refresh and grant.alive:
                    self.refresh_count += 1
                    if self.refresh_delay:
                        await asyncio.sleep(self.refresh_delay)  # widens the race window
                    grant.spent.add(token)
                    return JSONResponse(self._tokens(grant))
                if token in grant.spent:
                    self.reuse_count += 1
                    grant.alive = False
                    return self._error("invalid_grant")
            return self._error("invalid_grant")
        return self._error("unsupported_grant_type", 400)

    async def resources(self, request: Request) -> JSONResponse:
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        for grant in self.grants.values():
            if bearer in grant.access and grant.alive:
                return JSONResponse(grant.sites)
        return JSONResponse({"message": "Unauthorized"}, status_code=401)

    def kill_all(self) -> None:
        for grant in self.grants.values():
            grant.alive = False


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Run ``app`` on 127.0.0.1 on a free port in a thread; yield its base URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the fake server did not start")
        threading.Event().wait(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
