"""Signing in to a number that asks for a captcha, in a phone's browser: the picture,
"换一张" for another one, and the right password with the new answer signs in."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD, submit

from .browser import BrowserLog, captcha_answer, screenshot

pytestmark = pytest.mark.e2e

BAD_CREDENTIALS = "手机号或密码错误。"


def test_the_login_captcha_can_be_replaced_and_then_signs_in(
        app: Flask, client: FlaskClient, live_server: str, browser_page: Page, browser_log: BrowserLog,
        make_user: Callable) -> None:
    owner = make_user(name="评委老师")
    for n in range(4):  # four failures from elsewhere (`client` made these isolated), the fifth in this browser
        refused = submit(app.test_client(), "/account/login", {"phone": owner.phone, "password": f"Guess{n:04d}x"},
                         environ_base={"REMOTE_ADDR": f"203.0.113.{n + 1}"})
        assert refused.status_code == 400 and BAD_CREDENTIALS in refused.get_data(as_text=True)
    page = browser_page
    page.goto(live_server + "/account/login")
    page.fill("#phone", owner.phone)
    page.fill("#password", "Wrong2023pw")
    page.click("form button[type=submit]")

    expect(page.locator(".notice-error, [role=alert]").first).to_contain_text(BAD_CREDENTIALS)
    image = page.locator("[data-captcha-image]")
    expect(image).to_be_visible()
    refresh = page.get_by_role("button", name="换一张")
    expect(refresh).to_be_visible()
    shown = page.input_value("[data-captcha-id]")
    screenshot(page, "phone-login-captcha.png")

    refresh.click()
    expect(page.locator("[data-captcha-id]")).not_to_have_value(shown)
    fresh = page.input_value("[data-captcha-id]")
    expect(image).to_have_attribute("src", f"/captcha/{fresh}.png")
    page.wait_for_function("() => document.querySelector('[data-captcha-image]').naturalWidth > 0")
    expect(page.locator("#captcha_answer")).to_be_focused()

    page.fill("#password", PASSWORD)
    page.fill("#captcha_answer", captcha_answer(app, fresh).lower())
    page.click("form button[type=submit]")

    page.wait_for_url(live_server + "/")
    expect(page.locator("body")).to_contain_text("评委老师")
    # The one refused sign-in is its page's 400, which Chromium logs; nothing else went wrong.
    assert len(browser_log.errors) == 1
    assert "status of 400" in browser_log.errors[0] and "/account/login" in browser_log.errors[0]
    assert browser_log.foreign_requests() == []
