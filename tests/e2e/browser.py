"""What the browser journeys share: the browser set-up, the page log, screenshots."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import ConsoleMessage, Error, Page, Request

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
# SCREENSHOTS_DIR sends them elsewhere (a second, simultaneous test pass keeps docs/ as is).
SCREENSHOTS = Path(os.environ.get("SCREENSHOTS_DIR") or Path(__file__).resolve().parents[2] / "docs" / "screenshots")

# Most visitors come from a phone, often inside a chat app's browser.
PHONE: dict[str, Any] = dict(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                             has_touch=True, locale="zh-CN", timezone_id="Asia/Shanghai")
DESKTOP: dict[str, Any] = dict(viewport={"width": 1280, "height": 900}, locale="zh-CN", timezone_id="Asia/Shanghai")


@dataclass
class BrowserLog:
    """What the pages of one test did that a visitor would not see: console errors
    (CSP violations land there), uncaught exceptions, and every URL requested."""

    base_url: str
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text} ({message.location.get('url', '')})")

    def on_page_error(self, error: Error) -> None:
        self.errors.append(f"pageerror: {error}")

    def on_request(self, request: Request) -> None:
        self.requests.append(request.url)

    def foreign_requests(self) -> list[str]:
        """Requests that went anywhere but the server itself."""
        own = self.base_url + "/"
        return [url for url in self.requests if not (url.startswith(own) or url.startswith("data:"))]


def screenshot(page: Page, name: str) -> None:
    """Save a full-page PNG under docs/screenshots, after every image on the page has loaded."""
    wait_for_images(page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


def wait_for_images(page: Page) -> None:
    """Bring lazy images into view and fail if any of them did not load."""
    images = page.locator("img")
    for i in range(images.count()):
        images.nth(i).scroll_into_view_if_needed()
    page.wait_for_function("() => Array.from(document.images).every(img => img.complete)")
    broken = page.evaluate("() => Array.from(document.images).filter(img => !img.naturalWidth).map(img => img.src)")
    assert not broken, f"images that did not load: {broken}"
    page.evaluate("() => window.scrollTo(0, 0)")
