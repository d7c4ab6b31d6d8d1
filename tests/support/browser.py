"""Browser tests: the one way to start Debian's chromium under Playwright.

Playwright's own browser downloads are never used: the tests drive ``/usr/bin/chromium``
(``apt-get install chromium``) through ``executable_path``. A missing chromium fails the test
with a sentence saying so, rather than skipping it (a skipped browser test proves nothing).

Use::

    pytestmark = [pytest.mark.browser, pytest.mark.slow]

    def test_page(browser: Browser, ...) -> None:   # the fixture below, via tests/conftest.py
        page = browser.new_page()

To serve the app under test: ``jirabridge.sim.server.serve_in_thread(app)`` (a free port,
yields the URL), or ``bind_loopback()`` then ``serve_on(app, sock)`` when the app's settings
need its URL before it is built.

``browser`` is registered for the whole suite by ``tests/conftest.py`` (``pytest_plugins``),
one chromium per test module: Playwright's sync API runs its own event loop, so it is closed
before the next module's async tests run. A module that defines its own ``browser`` fixture
still wins over this one.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser

__all__ = ["CHROMIUM_ARGS", "browser", "chromium"]

#: Flags that keep Debian's chromium quiet and offline in a container (no sandbox as root, no
#: GPU, no update or sync traffic).
CHROMIUM_ARGS: tuple[str, ...] = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's chromium under Playwright (sync API); closed on exit."""
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("Debian's chromium is not installed (apt-get install chromium)")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=executable, args=list(CHROMIUM_ARGS))
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One chromium for the module; each test opens its own pages (or contexts)."""
    with chromium() as launched:
        yield launched
