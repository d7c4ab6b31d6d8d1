"""The REST API: scoped to the caller, dry-run and key explanations."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from accounts.web_support import PASSWORD, accounts_app, make_settings, make_sim
from jirabridge.store.db import session_factory
from jirabridge.store.devlinks import DevLinkStore, StoredLink
from jirabridge.web.routes import devlinks_api

FIXTURES = Path(__file__).parents[1] / "fixtures" / "webhooks"


@pytest.fixture
def app(engine: AsyncEngine, tmp_path: Path) -> FastAPI:
    sim = make_sim()
    app = accounts_app(make_settings(tmp_path, sim), session_factory(engine), sim)
    app.include_router(devlinks_api.router)
    return app


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        yield client


async def key_for(app: FastAPI, email: str) -> tuple[str, dict[str, str]]:
    accounts = app.state.accounts.accounts
    user = await accounts.create_user(email=email, password=PASSWORD)
    key = (await accounts.create_api_key(user, name="t", scopes=["read"])).plaintext
    return user.id, {"Authorization": f"Bearer {key}"}


async def test_links_are_scoped_to_their_owner(
    app: FastAPI, http: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    alice, alice_auth = await key_for(app, "alice@example.com")
    _, bob_auth = await key_for(app, "bob@example.com")
    store = DevLinkStore(session_factory(engine), f"user:{alice}")
    await store.save_link(
        StoredLink("DEMO-1", "o/r", "pull_request", "4", ("title",), "https://x/4", "T", "open")
    )
    mine = await http.get("/api/devlinks/links", params={"issue": "DEMO-1"}, headers=alice_auth)
    assert mine.status_code == 200
    assert [(x["repo"], x["ref"], x["found_in"]) for x in mine.json()] == [("o/r", "4", ["title"])]
    theirs = await http.get("/api/devlinks/links", params={"issue": "DEMO-1"}, headers=bob_auth)
    assert theirs.json() == []
    foreign = await http.get(
        "/api/devlinks/links", params={"owner": f"user:{alice}"}, headers=bob_auth
    )
    assert foreign.status_code == 404
    assert (await http.get("/api/devlinks/links")).status_code == 401


async def test_dry_run_and_rule_errors(app: FastAPI, http: httpx.AsyncClient) -> None:
    _, auth = await key_for(app, "carol@example.com")
    event = json.loads((FIXTURES / "github" / "issues.opened.json").read_text())
    rules = "rules:\n  - name: bugs\n    match: {labels: [bug]}\n    actions: {priority: High}\n"
    ok = await http.post("/api/triage/dry-run", json={"rules": rules, "event": event}, headers=auth)
    assert ok.status_code == 200
    assert ok.json()["actions"] == [
        {"rule": "bugs", "kind": "set_priority", "value": "High", "note": ""}
    ]
    bad = await http.post(
        "/api/triage/dry-run", json={"rules": "rules:\n  - name: x\n", "event": event}, headers=auth
    )
    assert bad.status_code == 422
    assert "line 2" in bad.text

    explained = await http.post(
        "/api/issue-keys/explain", json={"text": "DEMO-7 and UTF-8"}, headers=auth
    )
    assert [(c["key"], c["accepted"]) for c in explained.json()] == [
        ("DEMO-7", True),
        ("UTF-8", False),
    ]
    # The old path sat among the API-key routes (/api/keys): it no longer explains keys.
    moved = await http.post("/api/keys/explain", json={"text": "DEMO-7"}, headers=auth)
    assert moved.status_code in (404, 405)
