"""The login page's captcha is the vote's: picture, audio and "换一张", which asks the
captcha route for a new login challenge (what static/js/captcha.js does)."""

from __future__ import annotations

import re

from contest.antifraud import captcha
from contest.extensions import db
from tests.conftest import PASSWORD, redis_client, submit

from .support import LOGIN, html, signed_in_as

CAPTCHA_ID = re.compile(r'name="captcha_id" value="([^"]+)"')
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
REFRESH = re.compile(r'<button type="button" class="link-button" data-captcha-refresh data-url="([^"]+)" '
                     r'data-purpose="([^"]+)" hidden>换一张</button>')


def attempt(client, phone: str, password: str, address: str, **extra: str):  # type: ignore[no-untyped-def]
    return submit(client, LOGIN, {"phone": phone, "password": password, **extra}, environ_base={"REMOTE_ADDR": address})


def test_the_login_captcha_offers_a_new_picture(app, client, make_user):
    owner = make_user(name="评委老师")
    for n in range(5):  # five addresses, once each: the number now asks for a captcha
        attempt(app.test_client(), owner.phone, f"Guess{n:04d}x", f"203.0.113.{n + 1}")

    page = html(attempt(client, owner.phone, PASSWORD, "198.51.100.7"))

    shown = CAPTCHA_ID.search(page).group(1)
    refresh = REFRESH.search(page)
    assert refresh, "the captcha has no 换一张 button"
    assert refresh.groups() == ("/captcha", "login")
    assert page.count('src="/static/js/captcha.js?v=') == 1
    assert "听语音验证码" in page and f'src="/captcha/{shown}.png"' in page

    # What the button does: a new login challenge, which signs in in place of the shown one.
    issued = client.post(refresh.group(1), data={"purpose": refresh.group(2)},
                         headers={"Accept": "application/json", "X-CSRFToken": CSRF.search(page).group(1)},
                         environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert issued.status_code == 201
    fresh = issued.get_json()["id"]
    assert fresh != shown
    answer = captcha.challenge_code(db.session, redis_client(app), fresh)
    done = attempt(client, owner.phone, PASSWORD, "198.51.100.7", captcha_id=fresh, captcha_answer=answer)
    assert done.status_code == 302
    assert signed_in_as(client) == "评委老师"
