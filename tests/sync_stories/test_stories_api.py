"""The stories REST API on the accounts app, against the simulator: preview, export,
re-preview (unchanged), bad files as per-item problems, another user's connection a 404."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from accounts.test_api import api_key_for, bearer, sim_token_body
from accounts.web_support import accounts_app, make_settings, make_sim
from jirabridge.store.db import session_factory
from jirabridge.web.routes import stories_api

from .test_export_sim import YAML


@pytest.fixture
def sim() -> Starlette:
    return make_sim()


@pytest.fixture
def app(engine: AsyncEngine, sim: Starlette, tmp_path: Path) -> FastAPI:
    app = accounts_app(make_settings(tmp_path, sim), session_factory(engine), sim)
    app.include_router(stories_api.router)
    return app


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        yield client


async def test_preview_export_and_scoping(
    http: httpx.AsyncClient, app: FastAPI, sim: Starlette
) -> None:
    me = bearer(await api_key_for(app, "me@example.com", ["write"]))
    made = await http.post("/api/jira/connections", json=sim_token_body(sim), headers=me)
    assert made.status_code == 201, made.text
    body = {
        "connection_id": made.json()["connection"]["id"],
        "filename": "plan.yaml",
        "content": YAML,
        "profile": {"project": "DEMO"},
    }
    preview = await http.post("/api/stories/preview", json=body, headers=me)
    assert preview.status_code == 200, preview.text
    assert preview.json()["counts"] == {"create": 3, "update": 0, "unchanged": 0}
    assert "Visa and Mastercard are accepted" in preview.json()["issues"][1]["description"]
    assert len(sim.state.sim.site.issues) == 60  # the preview wrote nothing

    done = await http.post("/api/stories/export", json=body, headers=me)
    assert done.status_code == 200, done.text
    assert done.json()["counts"] == {"created": 3}
    first = done.json()["results"][0]
    assert first["url"] == f"http://sim.test/browse/{first['key']}"
    again = await http.post("/api/stories/preview", json=body, headers=me)
    assert again.json()["counts"] == {"create": 0, "update": 0, "unchanged": 3}

    other = bearer(await api_key_for(app, "other@example.com", ["write"]))
    stolen = await http.post("/api/stories/preview", json=body, headers=other)
    assert stolen.status_code == 404


async def test_bad_file_and_profile(http: httpx.AsyncClient, app: FastAPI, sim: Starlette) -> None:
    me = bearer(await api_key_for(app, "me@example.com", ["write"]))
    made = await http.post("/api/jira/connections", json=sim_token_body(sim), headers=me)
    body = {
        "connection_id": made.json()["connection"]["id"],
        "filename": "plan.md",
        "content": "# Epic: Missing id\n",
        "profile": {"project": "DEMO"},
    }
    preview = await http.post("/api/stories/preview", json=body, headers=me)
    assert preview.json()["problems"][0]["line"] == 1
    refused = await http.post("/api/stories/export", json=body, headers=me)
    assert refused.json()["ok"] is False
    assert len(sim.state.sim.site.issues) == 60
    bad_profile = await http.post(
        "/api/stories/preview", json={**body, "profile": {"flavor": "x"}}, headers=me
    )
    assert bad_profile.status_code == 422
    read_only = bearer(await api_key_for(app, "reader@example.com", ["read"]))
    assert (await http.post("/api/stories/export", json=body, headers=read_only)).status_code in (
        403,
        404,
    )
