"""Fixtures for the simulator tests: a validating app per test, clients bound to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from jirabridge.sim.app import SimRuntime
from sim.simkit import client_for, make_app


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
        body = {
            "fields": {
                "project": {"key": "DEMO"},
                "issuetype": {"name": type_name},
                "summary": summary,
                **fields,
            }
        }
        r = await client.post("/rest/api/3/issue", json=body)
        assert r.status_code == 201, r.text
        return str(r.json()["key"])

    return create
