"""The GitHub-and-Jira pages in a real browser (Debian's chromium through Playwright): links
per issue and repository, Smart Commit results, backfill progress, the action log, the
triage dry-run with a rule error shown by line, and a connection's rules loaded, saved and
dry-run with its own action log."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from importlib.resources import files
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from playwright.sync_api import Browser, Page, expect

from accounts.web_support import KEY, PASSWORD
from github.conftest import TOKEN, FakeGitHub
from jirabridge.service.account_wiring import build_accounts_context
from jirabridge.service.github import GitHubService
from jirabridge.service.passwords import PasswordHasher
from jirabridge.service.settings import load_settings
from jirabridge.sim.server import bind_loopback, serve_on
from jirabridge.store import migrations
from jirabridge.store.db import make_engine, session_factory
from jirabridge.store.devlink_models import BackfillRunRow
from jirabridge.store.devlinks import DevLinkStore, StoredCursor, StoredLink
from jirabridge.store.secrets import SecretBox
from jirabridge.web.problems import install_problem_handlers

pytestmark = [pytest.mark.browser, pytest.mark.slow]

FIXTURES = Path(__file__).parents[1] / "fixtures" / "webhooks"
CORE_RULES = """\
rules:
  - name: core
    match: {labels: [bug]}
    actions:
      add_labels: [needs-core]
"""


@pytest.fixture
def site(database_url: str, tmp_path: Path) -> Iterator[str]:
    sock = bind_loopback()
    app_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = load_settings(
        data_dir=tmp_path,
        environment="test",
        base_url=app_url,
        secret_key="a-browser-test-secret-key-long-enough",
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
        user = await context.accounts.create_user(email="dev@example.test", password=PASSWORD)
        store = DevLinkStore(session_factory(engine), f"user:{user.id}")
        await store.save_link(
            StoredLink(
                "DEMO-1",
                "octo/hello",
                "pull_request",
                "4",
                ("title", "branch"),
                "https://github.com/octo/hello/pull/4",
                "DEMO-1 docs",
                "merged",
            )
        )
        await store.save_link(
            StoredLink(
                "WEB-2", "octo/web", "commit", "a" * 40, ("commit_message",), None, "x", None
            )
        )
        await store.record_smart_result(
            repo="octo/hello",
            sha="b" * 40,
            external_id="smart:b:DEMO-1:time:1",
            issue_key="DEMO-1",
            kind="smart_worklog",
            status="done",
        )
        await store.save(StoredCursor("octo/hello", 7, 3, 9, False))
        github = GitHubService(
            session_factory(engine),
            SecretBox([KEY]),
            context.clients,
            public_base=app_url,
            transport=FakeGitHub().transport(),
        )
        seeded = await github.create(
            f"user:{user.id}", name="Seeded", kind="token", secret=TOKEN, repos=["octo/hello"]
        )
        await store.log_triage(
            "github",
            [("octo/hello#9", "bugs", "assign", "hubot", "done", "")],
            connection_id=seeded.connection.id,
        )
        async with session_factory(engine)() as session:
            session.add(
                BackfillRunRow(
                    id="run-1",
                    owner_user_id=user.id,
                    connection_id=seeded.connection.id,
                    repos=["octo/hello"],
                    months=3,
                    status="running",
                )
            )
            await session.commit()
        app.state.github = github
        app.state.accounts = context
        yield
        await engine.dispose()

    from jirabridge.web.routes import accounts_api, accounts_pages, devlinks_pages, github_pages

    app = FastAPI(lifespan=lifespan)
    install_problem_handlers(app)
    app.state.settings = settings
    app.mount(
        "/static", StaticFiles(directory=str(files("jirabridge.web") / "static")), name="static"
    )
    app.include_router(accounts_api.router)
    app.include_router(accounts_pages.router)
    app.include_router(devlinks_pages.router)
    app.include_router(github_pages.router)
    with serve_on(app, sock):
        yield app_url
    sock.close()


def log_in(page: Page, app_url: str) -> None:
    page.goto(f"{app_url}/github")
    expect(page).to_have_url(f"{app_url}/login?next=/github")
    page.get_by_label("E-mail").fill("dev@example.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{app_url}/github")


def test_links_results_progress_log_and_dry_run(browser: Browser, site: str) -> None:
    page = browser.new_page()
    try:
        log_in(page, site)
        links = page.locator("#links tbody tr")
        expect(links).to_have_count(2)
        expect(page.locator("#smart-commits")).to_contain_text("smart_worklog")
        expect(page.locator("#backfill")).to_contain_text("3 / 9")
        expect(page.locator("#triage-log")).to_contain_text("assign hubot")

        page.get_by_role("link", name="octo/hello").first.click()
        expect(page.locator("#links tbody tr")).to_have_count(1)
        expect(page.locator("#links")).to_contain_text("PR #4: DEMO-1 docs")

        page.get_by_role("link", name="Try triage rules (dry-run)").click()
        event = json.loads((FIXTURES / "github" / "issues.opened.json").read_text())
        page.get_by_label("Event (JSON)").fill(json.dumps(event))
        page.get_by_role("button", name="Dry-run").click()
        expect(page.locator("#dry-run")).to_contain_text("rule 'bugs get triaged' (line 2) matches")
        expect(page.locator("#dry-run")).to_contain_text("-> set_priority High")

        page.get_by_label("Rules").fill("rules:\n  - name: x\n    actions: {assign: {team: t}}\n")
        page.get_by_role("button", name="Dry-run").click()
        expect(page.locator("#rule-problems")).to_contain_text("line 3: team 't' is not defined")

        # The rules of a connection: load, save, and dry-run what was saved.
        page.get_by_label("Connection", exact=True).select_option(label="Seeded")
        page.get_by_role("button", name="Load rules").click()
        expect(page.locator("#editing")).to_contain_text("Rules of Seeded: none saved yet")
        expect(page.locator("#connection-log")).to_contain_text("octo/hello#9")
        page.get_by_label("Rules", exact=True).fill(CORE_RULES)
        page.get_by_role("button", name="Save rules").click()
        expect(page.locator(".flash")).to_contain_text("Saved the triage rules of Seeded.")
        expect(page.locator("#editing")).not_to_contain_text("none saved yet")
        expect(page.get_by_label("Rules", exact=True)).to_have_value(CORE_RULES)
        page.get_by_label("Event (JSON)").fill(json.dumps(event))
        page.get_by_role("button", name="Dry-run").click()
        expect(page.locator("#dry-run")).to_contain_text("rule 'core' (line 2) matches")
        expect(page.locator("#dry-run")).to_contain_text("-> add_labels needs-core")
        expect(page.locator("#editing")).to_contain_text("Rules of Seeded")
    finally:
        page.close()


def test_github_connection_add_test_repos_webhooks_remove_and_backfill_progress(
    browser: Browser, site: str
) -> None:
    page = browser.new_page()
    try:
        log_in(page, site)
        page.get_by_role(
            "link", name="GitHub connections: add, test, pick repositories, backfill"
        ).click()
        form = page.locator("#add-connection")
        form.get_by_label("Name", exact=True).fill("Zebra")
        form.get_by_label("Token", exact=True).fill(TOKEN)
        form.get_by_label("Repositories (owner/name, one a line)").fill("octo/hello")
        form.get_by_role("button", name="Save connection").click()
        expect(page.locator("#created")).to_contain_text("Saved Zebra.")
        expect(page.locator("#created-url")).to_contain_text(f"{site}/webhooks/github/")
        secret = page.locator("#created-secret").inner_text()
        assert len(secret) >= 32
        assert TOKEN not in page.content()

        row = page.locator("#github-connections tr", has_text="Zebra")
        row.get_by_role("button", name="Test").click()
        expect(page.locator(".flash")).to_contain_text("GitHub accepted the credentials")
        assert secret not in page.content()  # shown once, never again

        row = page.locator("#github-connections tr", has_text="Zebra")
        row.get_by_label("Repositories").fill("octo/hello\nocto/private")
        row.get_by_role("button", name="Save repositories").click()
        expect(page.locator(".flash")).to_contain_text("Zebra: 2 repositories selected.")

        row = page.locator("#github-connections tr", has_text="Zebra")
        row.get_by_role("button", name="Set up webhooks").click()
        expect(page.locator("#hooks")).to_contain_text("octo/hello: webhook created")
        expect(page.locator("#hooks")).to_contain_text("octo/private: Add the webhook by hand")

        row = page.locator("#github-connections tr", has_text="Zebra")
        row.get_by_role("button", name="Remove").click()
        expect(page.locator(".flash")).to_contain_text("Removed Zebra.")
        expect(page.locator("#github-connections tr[data-connection]")).to_have_count(1)

        page.goto(f"{site}/github/backfill/run-1")
        expect(page.locator("#run-status")).to_have_text("running")
        expect(page.locator("#backfill-repos")).to_contain_text("3 / 9")
        page.goto(f"{site}/github/backfill/someone-elses")
        expect(page.locator("body")).to_contain_text("no such backfill run")
    finally:
        page.close()
