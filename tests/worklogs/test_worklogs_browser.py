"""The time pages in a real browser (Debian's chromium through Playwright, never downloaded):
link an issue with the picker, sync one record, bulk sync with live progress, a failure shown
and retried. The app runs under uvicorn on loopback; Jira is the in-process simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from playwright.sync_api import Browser, Page

from jirabridge.jobs.engine import JobEngine, JobsConfig
from jirabridge.sim.server import serve_in_thread
from jirabridge.store.db import make_engine, session_factory

from .api_support import PASSWORD, ApiWorld, api_app, build_world, frozen_sim
from .conftest import done_issue_key, open_issue_keys

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TIMEOUT_MS = 30_000  # turns a hang into a failure; measures nothing


@pytest.fixture
def served(
    migrated_database_url: str, jobs_database_url: str, tmp_path: Path
) -> Iterator[tuple[str, dict[str, Any]]]:
    sim = frozen_sim()
    found: dict[str, Any] = {"sim": sim}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Everything loop-bound (database pool, job engine) lives on the server's loop.
        engine = make_engine(migrated_database_url)
        jobs = JobEngine(
            JobsConfig(
                system_database_url=jobs_database_url,
                application_version="worklogs-browser",
                executor_id="worklogs-browser",
                polling_interval_sec=0.05,
                log_level="WARNING",
            )
        )
        await jobs.launch()
        world: ApiWorld = await build_world(
            session_factory(engine), tmp_path, jobs=jobs, sim=sim, app=app
        )
        found["world"] = world
        try:
            yield
        finally:
            await jobs.shutdown()
            await engine.dispose()

    app = api_app(pages=True)
    app.router.lifespan_context = lifespan
    with serve_in_thread(app) as url:  # type: ignore[arg-type]
        yield url, found


def log_in(page: Page, url: str) -> None:
    page.goto(f"{url}/login?next=/time")
    page.fill("input[name=email]", "ada@example.com")
    page.fill("input[name=password]", PASSWORD)
    page.locator("form button[type=submit]").click()
    page.wait_for_url(f"{url}/time")


def add_record(page: Page, body: dict[str, Any]) -> str:
    record: dict[str, Any] = page.evaluate(
        "body => window.jirabridgeWorklogs.api('POST', '/api/time-records', body)", body
    )
    return str(record["id"])


def test_link_with_the_picker_then_sync_one(
    browser: Browser, served: tuple[str, dict[str, Any]]
) -> None:
    url, found = served
    sim = found["sim"]
    key = open_issue_keys(sim, 1)[0]
    page = browser.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    log_in(page, url)
    page.goto(f"{url}/time/new")
    page.fill("input[name=started]", "2026-11-20T09:15")
    page.fill("input[name=minutes]", "25")
    page.fill("input[name=time_zone]", "Europe/Berlin")
    page.fill("#issue-picker", key.lower())
    page.locator(f"#issue-results .pick[data-key='{key}']").click()
    assert page.input_value("#issue-picker") == key
    page.fill("textarea[name=notes]", "reviewing")
    page.locator("#record-form button[type=submit]").click()
    page.wait_for_url(f"{url}/time/*")
    badge = page.locator(".issue-badge", has_text=key)
    assert badge.get_attribute("href", timeout=TIMEOUT_MS) == f"http://sim.test/browse/{key}"
    page.locator(".issue-badge.cat-new, .issue-badge.cat-indeterminate").wait_for()
    assert "not-synced" in page.locator(".state").inner_text()
    page.locator("#sync-one").click()
    page.locator(".sync-state[data-state=synced]").wait_for()
    worklog_id = page.inner_text("#worklog-id")
    worklog = sim.state.sim.site.worklog_index[int(worklog_id)]
    assert worklog.time_spent_seconds == 25 * 60
    # 09:15 in Berlin (CET, +01:00) is 08:15 UTC.
    assert worklog.started_ms % 86_400_000 == (8 * 3600 + 15 * 60) * 1000
    page.locator(".attempt-success").wait_for()
    # A record mentioning an issue in its notes gets it suggested, and linked in one click.
    other = open_issue_keys(sim, 2)[1]
    loose = add_record(
        page,
        {"started_at": "2026-11-20T13:00:00Z", "duration_seconds": 600, "notes": f"on {other}"},
    )
    page.goto(f"{url}/time/{loose}")
    page.locator(f".accept-suggestion[data-key='{other}']").click()
    page.locator(".issue-badge", has_text=other).wait_for()
    assert problems == []
    page.close()


def test_bulk_sync_with_progress_and_a_failure_shown_then_retried(
    browser: Browser, served: tuple[str, dict[str, Any]]
) -> None:
    url, found = served
    sim = found["sim"]
    keys = open_issue_keys(sim, 3)
    closed = done_issue_key(sim)
    page = browser.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    log_in(page, url)
    ids = [
        add_record(
            page,
            {
                "started_at": f"2026-11-19T{9 + n:02d}:00:00Z",
                "duration_seconds": 1200,
                "issue_key": keys[n % 3],
                "notes": f"task {n}",
            },
        )
        for n in range(5)
    ]
    bad = add_record(
        page,
        {"started_at": "2026-11-19T16:00:00Z", "duration_seconds": 600, "issue_key": closed},
    )
    page.goto(f"{url}/time")
    page.check("#select-all")
    page.locator("#sync-selected").click()
    plan = page.locator("#plan-text")
    plan.wait_for()
    assert "create: 5" in plan.inner_text()
    assert "error: 1" in plan.inner_text()
    page.locator("#plan-apply").click()
    page.locator("#progress[data-finished=true]").wait_for()
    assert "5 succeeded, 1 failed" in page.inner_text("#progress-text")
    assert "closed" in page.inner_text("#progress-errors")
    failed_row = page.locator(f"#rec-{bad} .sync-state[data-state=error]")
    failed_row.wait_for()
    assert "closed" in (failed_row.get_attribute("title") or "")
    assert (
        len([w for w in sim.state.sim.site.worklog_index.values() if w.time_spent_seconds == 1200])
        == 5
    )
    # Someone reopens the issue in Jira; the failure is retried from the history page.
    issue = next(i for i in sim.state.sim.site.issues.values() if i.key == closed)
    issue.status_id = "10000"
    page.goto(f"{url}/time/history?status=failed")
    page.locator(f"button.retry[data-record='{bad}']").first.click()
    page.wait_for_url(f"{url}/time/{bad}")
    page.locator(".sync-state[data-state=synced]").wait_for()
    assert page.locator(".attempt-success").count() == 1
    assert page.locator(".attempt-failed").count() == 1
    assert all(i for i in ids)
    page.close()


def test_suggested_keys_of_several_records_are_linked_in_one_action(
    browser: Browser, served: tuple[str, dict[str, Any]]
) -> None:
    url, found = served
    first, second, third = open_issue_keys(found["sim"], 3)
    page = browser.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    log_in(page, url)
    day = "2026-11-20T{:02d}:00:00Z"
    a = add_record(page, {"started_at": day.format(8), "duration_seconds": 600, "notes": first})
    b = add_record(
        page,
        {"started_at": day.format(9), "duration_seconds": 600, "notes": f"{second} or {third}"},
    )
    untouched = add_record(
        page, {"started_at": day.format(10), "duration_seconds": 600, "notes": f"see {first}"}
    )
    page.goto(f"{url}/time")
    accept = page.locator("#accept-suggestions")
    assert accept.is_disabled()
    page.locator(f"input.suggest[data-record='{a}'][value='{first}']").check()
    page.locator(f"input.suggest[data-record='{b}'][value='{second}']").check()
    # One key per record: ticking the other suggestion of b replaces the first choice.
    page.locator(f"input.suggest[data-record='{b}'][value='{third}']").check()
    assert not page.locator(f"input.suggest[data-record='{b}'][value='{second}']").is_checked()
    accept.click()
    page.locator(f"#rec-{a} .issue-badge", has_text=first).wait_for()
    page.locator(f"#rec-{b} .issue-badge", has_text=third).wait_for()
    assert page.locator(f"#rec-{untouched} .issue-badge").count() == 0
    assert page.locator(f"input.suggest[data-record='{untouched}']").count() == 1
    assert page.locator(f"input.suggest[data-record='{a}']").count() == 0
    assert problems == []
    page.close()
