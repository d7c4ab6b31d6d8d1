"""The report pages in a real browser (Debian's chromium through Playwright, never downloaded).

The service runs on loopback with the demo's report board on a simulator frozen after both
sprints closed (tests/support/report_scenario.py). Every expected number is the hand-computed
one of tests/reports/test_scenario.py: the charts must be drawn with it, the tables must show
it, and the downloads must carry it.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from importlib.resources import files
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from playwright.sync_api import Browser, Locator, Page, expect
from starlette.applications import Starlette

from jirabridge.service.account_wiring import build_accounts_context
from jirabridge.service.passwords import PasswordHasher
from jirabridge.service.reports import ReportService
from jirabridge.service.settings import load_settings
from jirabridge.sim.server import serve_in_thread
from jirabridge.store.db import make_engine, session_factory
from jirabridge.store.secrets import SecretBox, generate_key
from jirabridge.web.problems import install_problem_handlers

from support.report_scenario import AS_OF, sim_connection

pytestmark = [pytest.mark.browser, pytest.mark.slow]

EMAIL, PASSWORD = "lead@example.test", "correct horse battery staple"
TIMEOUT_MS = 30_000  # turns a hang into a failure; measures nothing

#: Sprint table rows, by hand: committed, added, removed, re-estimates, completed, not
#: completed, carried over.
SPRINT_ROWS = [
    ["RPT Sprint A", "closed", "21", "3", "5", "6", "16", "9", "2"],
    ["RPT Sprint B", "closed", "9", "1", "5", "0", "5", "0", "0"],
]
#: Remaining points at the start and at the end of each UTC day of sprint A.
BURNDOWN_A = ["21", "21", "22", "17", "17", "14", "13", "9", "9"]


async def _resolve(host: str, port: int) -> Sequence[str]:
    return ["127.0.0.1"] if host == "sim.test" else ["93.184.216.34"]


@pytest.fixture
def served(
    migrated_database_url: str, sim_app: Starlette, rpt_board: int, tmp_path: Path
) -> Iterator[dict[str, str]]:
    """The service (accounts and report pages) on loopback; Jira is the simulator in-process."""
    found: dict[str, str] = {"board": str(rpt_board)}
    settings = load_settings(
        data_dir=tmp_path,
        environment="test",
        allow_private_jira_urls=True,
        secret_key="a-browser-test-secret-key-long-enough",
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Everything loop-bound (the database pool) lives on the server's loop.
        engine = make_engine(migrated_database_url)
        sessions = session_factory(engine)
        ctx = build_accounts_context(
            settings,
            sessions,
            box=SecretBox([generate_key()]),
            transport=httpx.ASGITransport(app=sim_app),
            resolver=_resolve,
            clock=lambda: AS_OF,
            hasher=PasswordHasher(time_cost=1, memory_cost=1024),
        )
        user = await ctx.accounts.create_user(email=EMAIL, password=PASSWORD)
        row, _ = await ctx.connections.create(
            user.id,
            sim_connection(sim_app),
            test=False,
        )
        found["connection"] = row.id
        app.state.accounts = ctx
        app.state.reports = ReportService.with_database_cache(
            ctx.connections, ctx.clients, sessions, clock=lambda: AS_OF
        )
        try:
            yield
        finally:
            await engine.dispose()

    from jirabridge.web.routes import accounts_pages, reports_api, reports_pages

    app = FastAPI(lifespan=lifespan)
    install_problem_handlers(app)
    app.state.settings = settings
    app.mount(
        "/static", StaticFiles(directory=str(files("jirabridge.web") / "static")), name="static"
    )
    app.include_router(accounts_pages.router)
    app.include_router(reports_api.router)
    app.include_router(reports_pages.router)
    with serve_in_thread(app, startup_timeout=30) as url:
        found["url"] = url
        yield found


def _log_in_and_open_the_board(page: Page, served: dict[str, str]) -> None:
    url = served["url"]
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{url}/reports")
    expect(page).to_have_url(f"{url}/login?next=/reports")
    page.get_by_label("E-mail").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{url}/reports")
    page.get_by_role("link", name="Simulated Jira").click()
    expect(page.get_by_role("cell", name="RPT board")).to_be_visible()
    page.get_by_role("row", name="RPT board").get_by_role("link", name="Report").click()
    expect(page.locator("h1")).to_have_text("Sprint report")


def _values(shapes: Locator) -> list[str]:
    return [shapes.nth(i).get_attribute("data-value") or "" for i in range(shapes.count())]


def _sprint_section(page: Page, name: str) -> Locator:
    return page.locator("section.sprint").filter(has=page.locator("h2", has_text=name))


def test_charts_and_tables_show_the_hand_computed_numbers(
    browser: Browser, served: dict[str, str]
) -> None:
    page = browser.new_page()
    try:
        _log_in_and_open_the_board(page, served)

        # Velocity: one bar per sprint and series, drawn with a height, carrying its value.
        velocity = page.locator("#velocity svg.chart-bar")
        expect(velocity).to_be_visible()
        committed = velocity.locator('rect.bar[data-series="Committed"]')
        completed = velocity.locator('rect.bar[data-series="Completed"]')
        assert _values(committed) == ["21", "9"]
        assert _values(completed) == ["16", "5"]
        box = committed.first.bounding_box()
        assert box is not None
        assert box["height"] > 0

        # The sprint table, cell by cell, and the averages under it.
        rows = page.locator("#velocity table tbody tr")
        assert [rows.nth(i).locator("td").all_inner_texts() for i in range(rows.count())] == (
            SPRINT_ROWS
        )
        expect(page.locator("#avg-committed")).to_have_text("15")
        expect(page.locator("#avg-completed")).to_have_text("10.5")
        expect(page.locator("#trend")).to_have_text("-11")

        # Burndown of sprint A: one point per sample (start + 8 UTC days), on the line too.
        sprint_a = _sprint_section(page, "RPT Sprint A")
        burndown = sprint_a.locator("svg.chart-line").first
        expect(burndown).to_be_visible()
        remaining = burndown.locator('circle.point[data-series="Remaining"]')
        assert _values(remaining) == BURNDOWN_A
        line = burndown.locator('polyline[data-series="Remaining"]').get_attribute("points")
        assert line is not None
        assert len(line.split()) == len(BURNDOWN_A)
        ideal = burndown.locator('circle.point[data-series="Ideal"]')
        assert ideal.count() == len(BURNDOWN_A)
        assert _values(ideal)[0] == "21"
        assert _values(ideal)[-1] == "0"
        # Burnup: scope and completed at the close.
        burnup = sprint_a.locator("svg.chart-line").nth(1)
        assert _values(burnup.locator('circle.point[data-series="Scope"]'))[-1] == "25"
        assert _values(burnup.locator('circle.point[data-series="Completed"]'))[-1] == "16"
        # Sprint B (9 Nov 09:00 to a close at 10:00 on 16 Nov): start + 8 days as well.
        sprint_b = _sprint_section(page, "RPT Sprint B")
        b_remaining = sprint_b.locator("svg.chart-line").first.locator(
            'circle.point[data-series="Remaining"]'
        )
        assert b_remaining.count() == 9

        # Cycle time: a bar per whole day from 1 to 6 (3 issues at 1 day, 1 at 2, 1 at 6).
        cycle = page.locator("#cycle-time svg.chart-bar rect.bar")
        assert _values(cycle) == ["3", "1", "0", "0", "0", "1"]
        expect(page.locator("#p50")).to_have_text("1.125")
    finally:
        page.close()


def test_csv_and_json_downloads(browser: Browser, served: dict[str, str]) -> None:
    page = browser.new_page()
    try:
        _log_in_and_open_the_board(page, served)
        with page.expect_download() as sprints_download:
            page.locator("#download-csv").click()
        download = sprints_download.value
        assert download.suggested_filename == f"board-{served['board']}-sprints.csv"
        rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text("utf-8"))))
        assert [(r["sprint"], r["committed"], r["completed"]) for r in rows] == [
            ("RPT Sprint A", "21", "16"),
            ("RPT Sprint B", "9", "5"),
        ]

        with page.expect_download() as issues_download:
            page.locator("#download-issues-csv").click()
        download = issues_download.value
        assert download.suggested_filename == f"board-{served['board']}-issues.csv"
        text = Path(download.path()).read_text("utf-8")
        assert "RPT Sprint A,added,RPT-7,Story 7,2" in text

        # The JSON link is the API itself, answered with the browser's own session.
        href = page.locator("#download-json").get_attribute("href")
        assert href is not None
        response = page.request.get(f"{served['url']}{href}")
        assert response.ok, response.text()
        data = json.loads(response.text())
        assert [s["points"]["committed"] for s in data["sprints"]] == [21, 9]
        assert data["velocity"]["completion_ratio"] == 0.7
    finally:
        page.close()
