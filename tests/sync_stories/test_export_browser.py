"""The stories pages in a real browser (Debian's chromium through Playwright, never
downloaded), against the in-process simulator: make a profile with the editor, upload a file
with a mistake and see it by line, upload it fixed, preview, export with live progress to
100%, see the history with Jira links, dry-run the rollback, then roll back."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from playwright.sync_api import Browser, Page

from jirabridge.sim.server import serve_in_thread
from jirabridge.store.db import make_engine, session_factory
from jirabridge.web.problems import install_problem_handlers
from worklogs.api_support import PASSWORD, build_world, frozen_sim
from worklogs.test_worklogs_browser import TIMEOUT_MS

from .test_parse import YAML
from support.jobs import launched_jobs

pytestmark = [pytest.mark.browser, pytest.mark.slow]

GOOD = YAML
# S2's points are not a number: the preview names the item and the line it starts on.
BAD = GOOD + "    points: lots\n"
BAD_LINE = GOOD.splitlines().index("  - id: S2") + 1


def pages_app() -> FastAPI:
    from jirabridge.web.routes import accounts_pages, stories_api, stories_pages

    app = FastAPI()
    install_problem_handlers(app)
    app.mount(
        "/static", StaticFiles(directory=str(files("jirabridge.web") / "static")), name="static"
    )
    app.include_router(accounts_pages.router)
    app.include_router(stories_api.router)
    app.include_router(stories_pages.router)
    return app


@pytest.fixture
def served(
    migrated_database_url: str, jobs_database_url: str, tmp_path: Path
) -> Iterator[tuple[str, dict[str, Any]]]:
    sim = frozen_sim()
    found: dict[str, Any] = {"sim": sim}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(migrated_database_url)
        try:
            async with launched_jobs(jobs_database_url, "stories-browser") as jobs:
                found["world"] = await build_world(
                    session_factory(engine), tmp_path, jobs=jobs, sim=sim, app=app
                )
                yield
        finally:
            await engine.dispose()

    app = pages_app()
    app.router.lifespan_context = lifespan
    with serve_in_thread(app) as url:  # type: ignore[arg-type]
        yield url, found


def log_in(page: Page, url: str) -> None:
    page.goto(f"{url}/login?next=/stories")
    page.fill("input[name=email]", "ada@example.com")
    page.fill("input[name=password]", PASSWORD)
    page.locator("form button[type=submit]").click()
    page.wait_for_url(f"{url}/stories")


def upload(page: Page, url: str, tmp_path: Path, text: str) -> None:
    page.goto(f"{url}/stories")
    stories = tmp_path / "plan.yaml"
    stories.write_text(text)
    page.set_input_files("#upload-form input[type=file]", str(stories))
    page.locator("#upload-form button[type=submit]").click()
    page.wait_for_url(f"{url}/stories/preview")


def test_profile_upload_preview_export_history_rollback(
    browser: Browser,
    served: tuple[str, dict[str, Any]],
    tmp_path: Path,
) -> None:
    url, found = served
    site = found["sim"].state.sim.site
    page = browser.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("dialog", lambda dialog: dialog.accept())
    log_in(page, url)

    # The profile editor lists projects and issue types from Jira.
    page.goto(f"{url}/stories/profiles/new")
    page.fill("input[name=name]", "team")
    page.select_option("select[name=connection_id]", found["world"].connection_id)
    page.locator("#projects option[value=DEMO]").wait_for(state="attached")
    page.select_option("#project", "DEMO")
    page.locator("#mapping select[name=story_type]").wait_for()
    assert page.locator("#mapping select[name=epic_type]").input_value() == "Epic"
    assert page.locator("#mapping select[name=story_type]").input_value() == "Story"
    page.locator("#no-required").wait_for()
    page.locator("#profile-form button[type=submit]").click()
    page.wait_for_url(f"{url}/stories?profile_id=*")

    # A mistake in the file is shown per item, with its line; nothing can be exported.
    upload(page, url, tmp_path, BAD)
    problem = page.locator("#problems tr.problem").first
    assert "S2" in problem.inner_text()
    assert str(BAD_LINE) in problem.inner_text()
    assert page.locator("#export-form").count() == 0

    # Fixed: the preview shows every issue as it will read, and its epic.
    upload(page, url, tmp_path, GOOD)
    assert page.locator("article.planned").count() == 3
    s1 = page.locator("article.planned[data-item=S1]")
    assert "Under epic E1" in s1.inner_text()
    assert "Visa and Mastercard are accepted" in s1.locator("pre.description").inner_text()
    page.locator("#export-form button[type=submit]").click()

    # Live progress to 100%, then each item links to its issue.
    page.wait_for_url(f"{url}/stories/exports/*")
    page.locator("#export[data-finished=true]").wait_for()
    assert page.inner_text("#export-percent") == "100%"
    assert page.inner_text("#export-status") == "finished"
    link = page.locator("tr[data-item=S1] td.key a")
    key = link.inner_text()
    assert link.get_attribute("href") == f"http://sim.test/browse/{key}"
    stamped = [i for i in site.issues.values() if "jirabridge.external-id" in i.properties]
    assert len(stamped) == 3

    # History lists it with its counts.
    export_url = page.url
    page.goto(f"{url}/stories/exports")
    row = page.locator("table.exports tbody tr").first
    assert "3 created" in row.inner_text()
    assert "finished" in row.inner_text()
    row.locator("a").click()
    page.wait_for_url(export_url)

    # Rollback: the dry run changes nothing, then applying it deletes what we created.
    page.locator("#rollback-dry-run").click()
    page.locator(".rollback-result[data-dry-run=true]").wait_for()
    assert page.locator(".rollback-result td.action", has_text="delete").count() == 3
    assert len([i for i in site.issues.values() if "jirabridge.external-id" in i.properties]) == 3
    page.locator("#rollback-apply").click()
    page.locator(".rollback-result[data-dry-run=false]").wait_for()
    assert page.locator(".rollback-result td.step-outcome", has_text="done").count() == 3
    assert [i for i in site.issues.values() if "jirabridge.external-id" in i.properties] == []
    assert problems == []
    page.close()
