"""The REST API: API keys, connections CRUD and test against the simulator, CSRF for
sessions, and every connection endpoint walked as a second user (404)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from jirabridge.sim.app import SimRuntime
from jirabridge.store.account_models import UserRole
from jirabridge.store.db import read_transaction

from .web_support import PASSWORD, accounts_app, make_settings, make_sim
from support.routes import app_routes

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
def sim() -> Starlette:
    return make_sim()


@pytest.fixture
def app(acc_sessions: Sessions, sim: Starlette, tmp_path: Path) -> FastAPI:
    return accounts_app(make_settings(tmp_path, sim), acc_sessions, sim)


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        yield client


async def api_key_for(app: FastAPI, email: str, scopes: list[str], role=UserRole.MEMBER) -> str:  # type: ignore[no-untyped-def]
    accounts = app.state.accounts.accounts
    user = await accounts.create_user(email=email, password=PASSWORD, role=role)
    return (await accounts.create_api_key(user, name="test", scopes=scopes)).plaintext


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def sim_token_body(sim: Starlette, **extra: object) -> dict[str, object]:
    runtime: SimRuntime = sim.state.sim
    return {
        "name": "Simulated Jira",
        "kind": "cloud_token",
        "base_url": "http://sim.test",
        "email": runtime.admin_email,
        "secret": runtime.admin_token,
        **extra,
    }


async def test_unauthenticated_and_bad_keys_get_401(http: httpx.AsyncClient) -> None:
    r = await http.get("/api/jira/connections")
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    r = await http.get("/api/jira/connections", headers=bearer("jb_nope"))
    assert r.status_code == 401


async def test_connection_crud_and_test(
    http: httpx.AsyncClient, app: FastAPI, sim: Starlette, acc_sessions: Sessions
) -> None:
    key = await api_key_for(app, "alice@x.io", ["write"])
    r = await http.post("/api/jira/connections", json=sim_token_body(sim), headers=bearer(key))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["test"]["ok"] is True
    conn = body["connection"]
    assert conn["deployment_type"] == "Cloud"
    token = sim.state.sim.admin_token
    assert token not in r.text
    cid = conn["id"]

    listed = (await http.get("/api/jira/connections", headers=bearer(key))).json()
    assert [c["id"] for c in listed] == [cid]
    assert token not in str(listed)
    r = await http.put(
        f"/api/jira/connections/{cid}", json={"name": "Renamed"}, headers=bearer(key)
    )
    assert r.json()["name"] == "Renamed"
    r = await http.post(f"/api/jira/connections/{cid}/test", headers=bearer(key))
    assert r.json()["ok"] is True
    # The database dump holds no token in clear.
    async with read_transaction(acc_sessions) as s:
        rows = (await s.execute(text("SELECT * FROM jira_connections"))).all()
    assert token not in str(rows)
    r = await http.delete(f"/api/jira/connections/{cid}", headers=bearer(key))
    assert r.status_code == 204
    assert (await http.get(f"/api/jira/connections/{cid}", headers=bearer(key))).status_code == 404


async def test_failed_test_saves_nothing_and_bad_input_is_4xx(
    http: httpx.AsyncClient, app: FastAPI, sim: Starlette
) -> None:
    key = await api_key_for(app, "alice@x.io", ["write"])
    r = await http.post(
        "/api/jira/connections", json=sim_token_body(sim, secret="wrong"), headers=bearer(key)
    )
    assert r.status_code == 422
    assert "nothing was saved" in r.json()["title"]
    assert (await http.get("/api/jira/connections", headers=bearer(key))).json() == []
    r = await http.post(
        "/api/jira/connections",
        json=sim_token_body(sim, base_url="https://user:pw@x.example"),
        headers=bearer(key),
    )
    assert r.status_code == 422
    r = await http.post("/api/jira/connections", json={"name": "x"}, headers=bearer(key))
    assert r.status_code == 422
    r = await http.post(
        "/api/jira/connections", json=sim_token_body(sim, extra=1), headers=bearer(key)
    )
    assert r.status_code == 422


async def test_read_scope_cannot_write(
    http: httpx.AsyncClient, app: FastAPI, sim: Starlette
) -> None:
    key = await api_key_for(app, "alice@x.io", ["read"])
    assert (await http.get("/api/jira/connections", headers=bearer(key))).status_code == 200
    r = await http.post("/api/jira/connections", json=sim_token_body(sim), headers=bearer(key))
    assert r.status_code == 403


async def test_second_user_gets_404_on_every_connection_endpoint(
    http: httpx.AsyncClient, app: FastAPI, sim: Starlette
) -> None:
    alice = await api_key_for(app, "alice@x.io", ["write"])
    mallory = await api_key_for(app, "mallory@x.io", ["write"])
    cid = (
        await http.post("/api/jira/connections", json=sim_token_body(sim), headers=bearer(alice))
    ).json()["connection"]["id"]
    calls = [
        ("GET", f"/api/jira/connections/{cid}", None),
        ("PUT", f"/api/jira/connections/{cid}", {"name": "stolen"}),
        ("POST", f"/api/jira/connections/{cid}/test", None),
        ("POST", f"/api/jira/connections/{cid}/disconnect", None),
        ("DELETE", f"/api/jira/connections/{cid}", None),
    ]
    # Every connection route of the app is in the walk (a new one must be added here).
    routes = {(m, p) for m, p in app_routes(app) if p.startswith("/api/jira/connections/{")}
    walked = {(m, p.replace(cid, "{connection_id}")) for m, p, _ in calls}
    assert routes == walked, routes ^ walked
    for method, path, body in calls:
        r = await http.request(method, path, json=body, headers=bearer(mallory))
        assert r.status_code == 404, (method, path, r.text)
    assert (await http.get("/api/jira/connections", headers=bearer(mallory))).json() == []
    still = await http.get(f"/api/jira/connections/{cid}", headers=bearer(alice))
    assert still.json()["name"] == "Simulated Jira"


async def test_keys_shown_once_revocable_and_last_used(
    http: httpx.AsyncClient, app: FastAPI
) -> None:
    key = await api_key_for(app, "alice@x.io", ["write"])
    r = await http.post("/api/keys", json={"name": "ci", "scopes": ["read"]}, headers=bearer(key))
    assert r.status_code == 201
    new_key = r.json()["key"]
    listed = (await http.get("/api/keys", headers=bearer(new_key))).json()
    assert new_key not in str(listed)
    ci = next(k for k in listed if k["name"] == "ci")
    assert ci["last_used_at"] is not None
    assert (await http.get("/api/account", headers=bearer(new_key))).json()["email"] == "alice@x.io"
    assert (await http.delete(f"/api/keys/{ci['id']}", headers=bearer(key))).status_code == 204
    assert (await http.get("/api/account", headers=bearer(new_key))).status_code == 401
    r = await http.post("/api/keys", json={"name": "x", "scopes": ["root"]}, headers=bearer(key))
    assert r.status_code == 422
    r = await http.post("/api/keys", json={"name": "x", "scopes": ["admin"]}, headers=bearer(key))
    assert r.status_code == 403


async def test_audit_is_for_admins(http: httpx.AsyncClient, app: FastAPI, sim: Starlette) -> None:
    member = await api_key_for(app, "m@x.io", ["write"])
    admin = await api_key_for(app, "admin@x.io", ["admin"], role=UserRole.ADMIN)
    await http.post("/api/jira/connections", json=sim_token_body(sim), headers=bearer(member))
    assert (await http.get("/api/audit", headers=bearer(member))).status_code == 403
    page = (await http.get("/api/audit", headers=bearer(admin))).json()
    actions = [e["action"] for e in page["events"]]
    assert "connection.created" in actions
    assert "api_key.created" in actions
    assert sim.state.sim.admin_token not in str(page)
