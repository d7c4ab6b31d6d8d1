"""REST API and pages of sprint reports: numbers, CSV, charts, and ownership (404 for others)."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib.resources import files
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from jirabridge.service.account_wiring import build_accounts_context
from jirabridge.service.passwords import PasswordHasher
from jirabridge.service.reports import ReportService
from jirabridge.service.settings import load_settings
from jirabridge.store.db import session_factory
from jirabridge.store.secrets import SecretBox, generate_key
from jirabridge.web.auth import SESSION_COOKIE
from jirabridge.web.problems import install_problem_handlers
from jirabridge.web.routes import reports_api, reports_pages

from support.report_scenario import AS_OF, sim_connection

PASSWORD = "correct horse battery staple"


async def _resolve(host: str, port: int) -> Sequence[str]:
    return ["127.0.0.1"] if host == "sim.test" else ["93.184.216.34"]


@dataclass
class Site:
    http: httpx.AsyncClient
    app: FastAPI
    board: int
    connection: str
    alice_key: str
    alice_session: str
    bob_key: str


@pytest.fixture
async def site(
    engine: AsyncEngine, sim_app: Starlette, rpt_board: int, tmp_path: Path
) -> AsyncIterator[Site]:
    settings = load_settings(
        data_dir=tmp_path,
        environment="test",
        allow_private_jira_urls=True,
        secret_key="a-test-secret-key-that-is-long-enough",
    )
    ctx = build_accounts_context(
        settings,
        session_factory(engine),
        box=SecretBox([generate_key()]),
        transport=httpx.ASGITransport(app=sim_app),
        resolver=_resolve,
        clock=lambda: AS_OF,
        hasher=PasswordHasher(time_cost=1, memory_cost=1024),
    )
    app = FastAPI()
    install_problem_handlers(app)
    app.state.settings = settings
    app.state.accounts = ctx
    # The service's own wiring: the cache in the database (both backends).
    app.state.reports = ReportService.with_database_cache(
        ctx.connections, ctx.clients, session_factory(engine), clock=lambda: AS_OF
    )
    app.mount(
        "/static", StaticFiles(directory=str(files("jirabridge.web") / "static")), name="static"
    )
    app.include_router(reports_api.router)
    app.include_router(reports_pages.router)

    alice = await ctx.accounts.create_user(email="alice@x.io", password=PASSWORD)
    bob = await ctx.accounts.create_user(email="bob@x.io", password=PASSWORD)
    row, _ = await ctx.connections.create(
        alice.id,
        sim_connection(sim_app),
        test=False,
    )
    alice_key = (await ctx.accounts.create_api_key(alice, name="t", scopes=["read"])).plaintext
    bob_key = (await ctx.accounts.create_api_key(bob, name="t", scopes=["read"])).plaintext
    session = await ctx.accounts.start_session(alice)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        yield Site(http, app, rpt_board, row.id, alice_key, session, bob_key)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_boards_and_report_json(site: Site) -> None:
    base = f"/api/reports/connections/{site.connection}/boards"
    r = await site.http.get(base, headers=bearer(site.alice_key))
    assert r.status_code == 200, r.text
    assert {"id": site.board, "name": "RPT board", "type": "scrum"} in r.json()
    r = await site.http.get(f"{base}/{site.board}", headers=bearer(site.alice_key))
    assert r.status_code == 200, r.text
    data = r.json()
    a, b = data["sprints"]
    assert a["points"]["committed"] == 21
    assert a["points"]["completed"] == 16
    assert [i["key"] for i in a["issues"]["removed"]] == ["RPT-3", "RPT-6"]
    assert b["points"]["completed"] == 5
    assert data["velocity"]["trend"] == -11
    assert data["cycle_time"]["p50"] == 1.125


async def test_last_timezone_and_csv(site: Site) -> None:
    base = f"/api/reports/connections/{site.connection}/boards/{site.board}"
    r = await site.http.get(
        base, params={"last": 1, "tz": "Pacific/Auckland"}, headers=bearer(site.alice_key)
    )
    assert [s["name"] for s in r.json()["sprints"]] == ["RPT Sprint B"]
    assert r.json()["time_zone"] == "Pacific/Auckland"
    r = await site.http.get(f"{base}/csv", headers=bearer(site.alice_key))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [(x["sprint"], x["committed"], x["completed"]) for x in rows] == [
        ("RPT Sprint A", "21", "16"),
        ("RPT Sprint B", "9", "5"),
    ]
    r = await site.http.get(
        f"{base}/csv", params={"issues": "true"}, headers=bearer(site.alice_key)
    )
    assert "RPT Sprint A,added,RPT-7,Story 7,2" in r.text


@pytest.mark.parametrize(
    ("params", "status", "message"),
    [
        ({"tz": "Mars/Base"}, 422, "unknown time zone"),
        ({"last": 0}, 422, ""),
        ({"last": 2, "sprint": 1}, 422, "not both"),
        ({"points_field": "x; drop"}, 422, "field id"),
        ({"sprint": 4242}, 404, "sprint 4242"),
    ],
)
async def test_bad_input_is_a_clear_4xx(
    site: Site, params: dict[str, object], status: int, message: str
) -> None:
    base = f"/api/reports/connections/{site.connection}/boards/{site.board}"
    r = await site.http.get(base, params=params, headers=bearer(site.alice_key))
    assert r.status_code == status, r.text
    assert message in r.text


async def test_unknown_board_is_404(site: Site) -> None:
    r = await site.http.get(
        f"/api/reports/connections/{site.connection}/boards/999", headers=bearer(site.alice_key)
    )
    assert r.status_code == 404
    assert "board 999" in r.text


async def test_another_users_connection_is_404_everywhere(site: Site) -> None:
    base = f"/api/reports/connections/{site.connection}/boards"
    for path in (base, f"{base}/{site.board}", f"{base}/{site.board}/csv"):
        r = await site.http.get(path, headers=bearer(site.bob_key))
        assert r.status_code == 404, path
        assert "RPT" not in r.text
    r = await site.http.get(base)
    assert r.status_code == 401


async def test_pages_render_tables_and_charts(site: Site) -> None:
    site.http.cookies.set(SESSION_COOKIE, site.alice_session)
    r = await site.http.get("/reports")
    assert r.status_code == 200
    assert f"/reports/{site.connection}" in r.text
    r = await site.http.get(f"/reports/{site.connection}")
    assert "RPT board" in r.text
    r = await site.http.get(f"/reports/{site.connection}/boards/{site.board}")
    assert r.status_code == 200, r.text
    page = r.text
    assert 'id="avg-completed">10.5<' in page
    assert 'id="trend">-11<' in page
    assert 'id="p50">1.125<' in page
    # The SVGs carry the numbers: velocity bars of sprint A, the burndown's remaining points.
    # Our own page: the charts are well-formed XML we can read back.
    chunks = ["<svg" + c[: c.index("</svg>") + 6] for c in page.split("<svg")[1:]]
    svgs = [ET.fromstring(c) for c in chunks]  # noqa: S314
    ns = "{http://www.w3.org/2000/svg}"
    bars = {
        (b.get("data-series"), b.get("data-label")): b.get("data-value")
        for svg in svgs
        for b in svg.iter(f"{ns}rect")
        if b.get("class") == "bar"
    }
    assert bars[("Committed", "RPT Sprint A")] == "21"
    assert bars[("Completed", "RPT Sprint A")] == "16"
    remaining = [
        c.get("data-value")
        for c in svgs[1].iter(f"{ns}circle")
        if c.get("data-series") == "Remaining"
    ]
    assert remaining == ["21", "21", "22", "17", "17", "14", "13", "9", "9"]


async def test_pages_need_a_login_and_hide_others_connections(site: Site) -> None:
    r = await site.http.get(f"/reports/{site.connection}/boards/{site.board}")
    assert r.status_code == 303
    assert r.headers["location"].startswith("/login")
    bob_ctx = site.app.state.accounts
    bob = await bob_ctx.accounts.authenticate("bob@x.io", PASSWORD)
    bob_session = await bob_ctx.accounts.start_session(bob)
    site.http.cookies.set(SESSION_COOKIE, bob_session)
    r = await site.http.get(f"/reports/{site.connection}/boards/{site.board}")
    assert r.status_code == 404


def test_as_of_is_after_the_scenario() -> None:
    assert datetime.fromisoformat("2026-11-16T10:00:00+00:00") < AS_OF
