"""Browser fixtures: the app served over real HTTP, and Debian's Chromium driven by Playwright.

The live server serves the very `app` the rest of the suite uses (same database,
same FixedClock), so data seeded with the factories is what the browser sees. The
factories commit; the server thread handles its own app and request contexts and so
its own database session.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from .browser import CHROMIUM, CHROMIUM_ARGS, PHONE, BrowserLog


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    """One headless Chromium for the whole run. A missing browser is a failure, not a skip:
    CI installs it, and a silently skipped journey would hide a broken site."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: the browser tests need Debian's Chromium (apt-get install chromium). "
                    "Do not run `playwright install`.", pytrace=False)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def browser_log(live_server: str) -> BrowserLog:
    return BrowserLog(base_url=live_server)


@pytest.fixture
def new_page(chromium: Browser, browser_log: BrowserLog) -> Iterator[Callable[..., Page]]:
    """A factory of pages, each in its own browser context (own cookies) with the given
    context options (PHONE, DESKTOP); all of them report to `browser_log`."""
    contexts = []

    def make(**options: Any) -> Page:
        context = chromium.new_context(**options)
        context.set_default_timeout(10_000)
        context.on("request", browser_log.on_request)
        contexts.append(context)
        page = context.new_page()
        page.on("console", browser_log.on_console)
        page.on("pageerror", browser_log.on_page_error)
        return page

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def browser_page(new_page: Callable[..., Page]) -> Page:
    """A page on a phone-sized screen, in Chinese."""
    return new_page(**PHONE)
