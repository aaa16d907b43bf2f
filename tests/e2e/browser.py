"""What the browser journeys share: the browser set-up, the page log, screenshots, signing
in, reading a captcha's answer and a photo to upload."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask
from PIL import Image, ImageDraw
from playwright.sync_api import ConsoleMessage, Error, Page, Request, expect

from contest.antifraud import captcha
from contest.extensions import db
from tests.conftest import PASSWORD, redis_client

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
# SCREENSHOTS_DIR sends them elsewhere (a second, simultaneous test pass keeps docs/ as is).
SCREENSHOTS = Path(os.environ.get("SCREENSHOTS_DIR") or Path(__file__).resolve().parents[2] / "docs" / "screenshots")

# Most visitors come from a phone, often inside a chat app's browser.
PHONE: dict[str, Any] = dict(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                             has_touch=True, locale="zh-CN", timezone_id="Asia/Shanghai")
DESKTOP: dict[str, Any] = dict(viewport={"width": 1280, "height": 900}, locale="zh-CN", timezone_id="Asia/Shanghai")
# A phone browser's own user agent: headless Chromium names itself, which the anti-fraud
# rightly treats as automation (it would ask for a captcha).
PHONE_BROWSER: dict[str, Any] = {**PHONE, "user_agent": "Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36 "
                                                         "(KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36"}


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


def screenful(page: Page, name: str) -> None:
    """Save one screenful as it is shown (a projector's page: no scrolling, and a hidden
    header whose logo `screenshot` would wait on)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name))


def wait_for_images(page: Page) -> None:
    """Bring lazy images into view and fail if any of them did not load."""
    images = page.locator("img")
    for i in range(images.count()):
        images.nth(i).scroll_into_view_if_needed()
    page.wait_for_function("() => Array.from(document.images).every(img => img.complete)")
    broken = page.evaluate("() => Array.from(document.images).filter(img => !img.naturalWidth).map(img => img.src)")
    assert not broken, f"images that did not load: {broken}"
    page.evaluate("() => window.scrollTo(0, 0)")


def log_in(page: Page, base: str, phone: str, next_path: str = "", password: str = PASSWORD) -> None:
    """Sign in through the login form; with next_path, wait to land there, else for the 退出 button."""
    page.goto(f"{base}/account/login" + (f"?next={next_path}" if next_path else ""))
    page.get_by_label("手机号").fill(phone)
    page.get_by_label("密码", exact=True).fill(password)
    page.get_by_role("button", name="登录").click()
    if next_path:
        page.wait_for_url(base + next_path)
    else:
        expect(page.get_by_role("button", name="退出")).to_be_visible()


def captcha_answer(app: Flask, captcha_id: str) -> str:
    """The characters of a captcha the server issued, as a test reads them (never a page)."""
    db.session.rollback()  # see what the server committed
    code = captcha.challenge_code(db.session, redis_client(app), captcha_id)
    assert code, captcha_id
    return code


def sample_photo(colour: tuple[int, int, int], size: tuple[int, int] = (1200, 800), variant: int = 0) -> Image.Image:
    """A photo stand-in with a few shapes, so resized renditions have something to show.
    Each `variant` (0–5) lays the shapes out differently, so that photos of different
    entries do not look alike to the near-duplicate check."""
    width, height = size
    image = Image.new("RGB", size, (236, 230, 218))
    draw = ImageDraw.Draw(image)
    ground = height * (13 - variant % 3 * 3) // 20
    draw.rectangle((0, ground, width, height), fill=colour)
    sun = width * (2 + variant) // 12 if variant else width * 2 // 3
    draw.ellipse((sun, height // 10, sun + width * 11 // 60, height * 3 // 8), fill=(240, 170, 40))
    peak = width // 3 + (width * variant // 7 if variant % 2 else -width * variant // 20)
    draw.polygon([(peak - width // 4, ground), (peak, height * 9 // 40), (peak + width // 4, ground)], fill=(60, 110, 70))
    for i in range(variant):
        draw.rectangle((width * i // 6, ground - height // 12, width * i // 6 + width // 14, ground), fill=(90, 70, 60))
    return image
