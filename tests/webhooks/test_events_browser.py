"""End to end in a real browser (Debian's chromium through Playwright, never downloaded): an
issue moved in the simulator reaches the events page's badge without a reload.

The simulator and the app (with its delivery worker) run under uvicorn on loopback. The sim's
admin webhook posts a signed delivery to the app's intake, the worker applies it, and the
page's server-sent-event stream updates the badge.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from jirabridge.service.account_wiring import build_accounts_context, secret_box_from_settings
from jirabridge.service.settings import Settings, load_settings
from jirabridge.service.webhook_intake import create_endpoint
from jirabridge.sim.app import SimConfig, SimRuntime, create_sim_app
from jirabridge.sim.server import serve_in_thread
from jirabridge.store.account_models import ConnectionKind, JiraConnectionRow
from jirabridge.store.db import make_engine, session_factory
from jirabridge.store.webhook_models import EndpointKind, WebhookSource
from jirabridge.sync.status_sync import StatusSync
from jirabridge.web.app import create_app

from .conftest import PASSWORD
from support.browser import chromium

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TIMEOUT_MS = 30_000  # turns a hang into a failure; measures nothing


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


async def _prepare(settings: Settings, app_url: str) -> tuple[str, str, str]:
    """A user, a connection, an admin endpoint and a link to DEMO-1: (endpoint, secret, link)."""
    engine = make_engine(settings.effective_database_url)
    sessions = session_factory(engine)
    try:
        accounts = build_accounts_context(settings, sessions)
        user = await accounts.accounts.create_user(email="ada@example.com", password=PASSWORD)
        async with sessions() as session:
            connection = JiraConnectionRow(
                owner_user_id=user.id,
                name="sim",
                kind=ConnectionKind.CLOUD_TOKEN.value,
                base_url="http://sim.test",
            )
            session.add(connection)
            await session.flush()
            endpoint, secret = await create_endpoint(
                session,
                secret_box_from_settings(settings),
                owner_user_id=user.id,
                name="sim admin",
                source=WebhookSource.JIRA,
                kind=EndpointKind.ADMIN,
                connection_id=connection.id,
            )
            link = await StatusSync.link(
                session,
                owner_user_id=user.id,
                owner_team_id=None,
                connection_id=connection.id,
                issue_key="DEMO-1",
                subject_kind="story",
                subject_id="story-1",
                local_state="todo",
                jira_status="To Do",
            )
            await session.commit()
            return endpoint.id, secret, link.id
    finally:
        await engine.dispose()


def test_a_jira_transition_updates_the_badge_live(browser: Browser, tmp_path: Path) -> None:
    settings = load_settings(
        data_dir=tmp_path,
        environment="test",
        webhook_schedule_tick_sec=0,
        worklog_pull_interval_sec=0,
        jobs_polling_interval_sec=0.1,
    )
    sim_app = create_sim_app(SimConfig(base_url="http://sim.test"))
    runtime: SimRuntime = sim_app.state.sim
    with (
        serve_in_thread(sim_app) as sim_url,  # type: ignore[arg-type]
        serve_in_thread(create_app(settings, workers=True)) as app_url,  # type: ignore[arg-type]
        httpx.Client(
            base_url=sim_url, auth=(runtime.admin_email, runtime.admin_token), timeout=30
        ) as sim,
    ):
        # Playwright's sync API owns this thread's event loop: the set-up runs on its own.
        with ThreadPoolExecutor(1) as pool:
            endpoint_id, secret, link_id = pool.submit(
                asyncio.run, _prepare(settings, app_url)
            ).result()
        created = sim.post(
            "/rest/webhooks/1.0/webhook",
            json={
                "name": "jirabridge",
                "url": f"{app_url}/webhooks/jira/{endpoint_id}",
                "events": ["jira:issue_updated"],
                "secret": secret,
            },
        )
        assert created.status_code == 201, created.text

        page = browser.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(f"{app_url}/login?next=/events")
        page.fill("input[name=email]", "ada@example.com")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{app_url}/events")
        badge = page.locator(f"#link-{link_id} .local-state")
        expect(badge).to_have_text("todo")
        # A marker that a reload would wipe.
        page.evaluate("window.__notReloaded = true")

        listed = sim.get("/rest/api/3/issue/DEMO-1/transitions").json()
        [done] = [t["id"] for t in listed["transitions"] if t["name"] == "Done"]
        moved = sim.post("/rest/api/3/issue/DEMO-1/transitions", json={"transition": {"id": done}})
        assert moved.status_code == 204
        delivered = sim.post("/_sim/webhooks/drain").json()
        assert [d["state"] for d in delivered] == ["delivered"]

        expect(badge).to_have_text("done", timeout=TIMEOUT_MS)
        expect(page.locator(f"#link-{link_id} .jira-status")).to_have_text("Done")
        assert page.evaluate("window.__notReloaded") is True
        page.close()
