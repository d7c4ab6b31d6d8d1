"""Fixtures for the simulator tests: a validating app per test, clients bound to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from jirabridge.sim.app import SimConfig, SimRuntime, create_sim_app

#: Every test site starts at the same instant, so output is reproducible.
FROZEN_AT = datetime(2026, 11, 20, 12, 0, tzinfo=UTC).timestamp()

ADF = {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": "hello"}]}]}


def make_app(**overrides: Any) -> Starlette:
    """A simulator with the spec-validating middleware on and a frozen clock."""
    options: dict[str, Any] = {"validate": True, "frozen_at": FROZEN_AT, "base_url": "http://sim.test"}
    options.update(overrides)
    return create_sim_app(SimConfig(**options))


def client_for(app: Starlette, *, auth: Any = "admin") -> httpx.AsyncClient:
    """An httpx client on the app through ASGI; ``auth="admin"`` logs in as the seeded admin."""
    runtime: SimRuntime = app.state.sim
    if auth == "admin":
        auth = (runtime.admin_email, runtime.admin_token)
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sim.test", auth=auth
    )


@pytest.fixture
def app() -> Starlette:
    return make_app()


@pytest.fixture
def runtime(app: Starlette) -> SimRuntime:
    return app.state.sim  # type: ignore[no-any-return]


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app) as c:
        yield c


@pytest.fixture
def dc_app() -> Starlette:
    return make_app(flavor="datacenter")


@pytest.fixture
async def dc_client(dc_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(dc_app) as c:
        yield c


@pytest.fixture
def new_issue(client: httpx.AsyncClient) -> Callable[..., Any]:
    async def create(summary: str = "A task", type_name: str = "Task", **fields: Any) -> str:
        body = {"fields": {"project": {"key": "DEMO"}, "issuetype": {"name": type_name}, "summary": summary, **fields}}
        r = await client.post("/rest/api/3/issue", json=body)
        assert r.status_code == 201, r.text
        return str(r.json()["key"])

    return create
