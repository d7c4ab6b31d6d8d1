"""The account flows in a real browser (Debian's chromium through Playwright): log in, add a
token connection to the simulator and test it, connect through OAuth with site selection,
disconnect. The app and the simulator run on loopback ports."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from importlib.resources import files
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from playwright.sync_api import Browser, Page, expect

from jirabridge.service.account_wiring import build_accounts_context
from jirabridge.service.passwords import PasswordHasher
from jirabridge.service.settings import load_settings
from jirabridge.sim.app import SimConfig, SimRuntime, create_sim_app
from jirabridge.sim.edges import default_oauth_client
from jirabridge.sim.server import bind_loopback, serve_in_thread, serve_on
from jirabridge.store import migrations
from jirabridge.store.account_models import UserRole
from jirabridge.store.db import make_engine, session_factory
from jirabridge.store.secrets import SecretBox
from jirabridge.web.problems import install_problem_handlers

from .web_support import KEY, PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def site(database_url: str, tmp_path: Path) -> Iterator[tuple[str, SimRuntime]]:
    """The simulator and the accounts app, each on its own loopback port."""
    sim = create_sim_app(SimConfig())
    runtime: SimRuntime = sim.state.sim
    with serve_in_thread(sim) as sim_url:
        sock = bind_loopback()
        app_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        client = default_oauth_client(runtime.config.seed)
        settings = load_settings(
            data_dir=tmp_path,
            environment="test",
            allow_private_jira_urls=True,
            base_url=app_url,
            secret_key="a-browser-test-secret-key-long-enough",
            oauth_client_id=client.client_id,
            oauth_client_secret=client.client_secret,
            oauth_authorize_url=f"{sim_url}/authorize",
            oauth_token_url=f"{sim_url}/oauth/token",
            oauth_api_base=sim_url,
        )

        @asynccontextmanager
        async def lifespan(app: FastAPI) -> AsyncIterator[None]:
            await migrations.upgrade_async(database_url)
            engine = make_engine(database_url)
            context = build_accounts_context(
                settings,
                session_factory(engine),
                box=SecretBox([KEY]),
                hasher=PasswordHasher(time_cost=1, memory_cost=1024),
            )
            await context.accounts.create_user(
                email="admin@example.test", password=PASSWORD, role=UserRole.ADMIN
            )
            app.state.accounts = context
            yield
            await engine.dispose()

        from jirabridge.web.routes import accounts_api, accounts_pages

        app = FastAPI(lifespan=lifespan)
        install_problem_handlers(app)
        app.state.settings = settings
        app.mount(
            "/static",
            StaticFiles(directory=str(files("jirabridge.web") / "static")),
            name="static",
        )
        app.include_router(accounts_api.router)
        app.include_router(accounts_pages.router)
        with serve_on(app, sock):
            yield app_url, runtime
        sock.close()


def log_in(page: Page, app_url: str) -> None:
    page.goto(f"{app_url}/connections")
    expect(page).to_have_url(f"{app_url}/login?next=/connections")
    page.get_by_label("E-mail").fill("admin@example.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{app_url}/connections")


def test_log_in_add_token_connection_oauth_with_site_choice_disconnect(
    browser: Browser, site: tuple[str, SimRuntime], tmp_path: Path
) -> None:
    app_url, sim = site
    page = browser.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    log_in(page, app_url)
    expect(page.locator("#jira-indicator")).to_contain_text("not connected")

    # Step by step: kind, details, test (htmx), save.
    page.get_by_role("link", name="Add a connection").click()
    page.get_by_role("link", name="Jira Cloud: e-mail + API token").click()
    page.get_by_label("Name").fill("Simulated Jira")
    page.get_by_label("Jira URL").fill(sim.site.base_url)
    page.get_by_label("Atlassian account e-mail").fill(sim.admin_email)
    page.get_by_label("API token").fill("not-the-token")
    page.get_by_role("button", name="Test", exact=True).click()
    expect(page.locator("#test-result")).to_contain_text("Test failed")
    page.get_by_label("API token").fill(sim.admin_token)
    page.get_by_role("button", name="Test", exact=True).click()
    expect(page.locator("#test-result")).to_contain_text("Connection works")
    page.get_by_role("button", name="Test and save").click()
    expect(page).to_have_url(f"{app_url}/connections")
    expect(page.locator(".flash-success")).to_contain_text("Connected Simulated Jira")
    expect(page.locator("#jira-indicator")).to_contain_text("1 connected")
    row = page.locator("tr", has_text="Simulated Jira")
    row.get_by_role("button", name="Test").click()
    expect(row.locator(".status")).to_contain_text("OK")

    # OAuth: Atlassian's (simulated) consent page grants two sites; we pick the sandbox.
    page.get_by_role("button", name="Connect Jira Cloud (OAuth)").click()
    expect(page.get_by_text("is requesting access")).to_be_visible()
    for box in page.locator("input[name=site]").all():
        box.check()
    page.get_by_role("button", name="Accept").click()
    expect(page.get_by_role("heading", name="Choose a Jira site")).to_be_visible()
    page.get_by_label("Simulated Jira (sandbox)").check()
    page.get_by_role("button", name="Connect this site").click()
    expect(page).to_have_url(f"{app_url}/connections")
    expect(page.locator("#jira-indicator")).to_contain_text("2 connected")
    oauth_row = page.locator("tr", has_text="Simulated Jira (sandbox)")
    expect(oauth_row).to_contain_text("OAuth")
    oauth_row.get_by_role("button", name="Test").click()
    expect(oauth_row.locator(".status")).to_contain_text("OK")

    oauth_row.get_by_role("button", name="Disconnect").click()
    expect(page.locator(".flash-success")).to_contain_text("Disconnected")
    expect(page.locator("tr", has_text="Simulated Jira (sandbox)")).to_contain_text(
        "Needs reconnect"
    )
    expect(page.locator("#jira-indicator")).to_contain_text("reconnect")
    page.screenshot(path=str(tmp_path / "connections.png"), full_page=True)
    assert problems == []
    page.close()
