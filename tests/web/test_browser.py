"""The UI shell in a real browser: Debian's chromium driven by Playwright (never downloaded)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, ConsoleMessage

from support.processes import RunningProcess

pytestmark = pytest.mark.browser


def test_shell_renders_without_console_errors(
    browser: Browser, running_service: RunningProcess
) -> None:
    page = browser.new_page()
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.goto(running_service.url + "/")
    assert page.title() == "Dashboard · Jirabridge"
    assert page.locator("nav.nav a", has_text="Dashboard").get_attribute("aria-current") == "page"
    # htmx loaded from our own static files and swapped the readiness fragment in.
    assert page.evaluate("typeof window.htmx") == "object"
    page.locator("#readiness .check.ok", has_text="Database: ok").wait_for()
    page.get_by_role("button", name="Check again").click()
    page.locator(".toast", has_text="All systems ready.").first.wait_for()
    page.screenshot(path=str(running_service.log_path.parent / "dashboard.png"), full_page=True)
    assert problems == []
    page.close()
