"""Logging in and out: credentials, the throttle per phone at one address, remember-me, CSRF, redirects
(tests/accounts/test_login_protection.py has the rest of the failure windows)."""

from __future__ import annotations

import pytest

from contest.extensions import db
from tests.conftest import PASSWORD, csrf_token

from .support import (
    BAD_CREDENTIALS,
    CSRF_MESSAGE,
    LOGIN,
    LOGOUT,
    find_user,
    html,
    log_in,
    signed_in_as,
)

LOCKED = "密码错误次数过多"


def test_login_and_the_session_works(client, make_user):
    user = make_user(name="王老师")

    response = log_in(client, user.phone, PASSWORD)

    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert signed_in_as(client) == "王老师"


def test_login_accepts_a_formatted_phone_number(client, make_user):
    user = make_user(name="王老师")
    phone = f"+86 {user.phone[:3]} {user.phone[3:7]} {user.phone[7:]}"
    assert log_in(client, phone, PASSWORD).status_code == 302
    assert signed_in_as(client) == "王老师"


def test_wrong_password_is_refused(client, make_user):
    user = make_user()
    response = log_in(client, user.phone, PASSWORD + "x")
    assert response.status_code == 400
    assert BAD_CREDENTIALS in html(response)
    assert signed_in_as(client) is None


@pytest.mark.parametrize("phone", ["13912345678", "12345"])
def test_unknown_or_malformed_phone_gets_the_same_message(client, make_user, phone):
    make_user()
    response = log_in(client, phone, PASSWORD)
    assert response.status_code == 400
    assert BAD_CREDENTIALS in html(response)
    assert signed_in_as(client) is None


def test_empty_password_is_refused(client, make_user):
    user = make_user()
    response = log_in(client, user.phone, "")
    assert response.status_code == 400
    assert "请填写密码。" in html(response)
    assert signed_in_as(client) is None


def test_disabled_account_cannot_log_in(client, make_user):
    user = make_user()
    user.is_active_account = False
    db.session.commit()
    response = log_in(client, user.phone, PASSWORD)
    assert response.status_code == 403
    assert "该账号已停用，请联系组织者。" in html(response)
    assert signed_in_as(client) is None


def test_disabling_an_account_ends_its_open_sessions(client, make_user):
    user = make_user(name="被停用的人")
    log_in(client, user.phone, PASSWORD)
    assert signed_in_as(client) == "被停用的人"

    user.is_active_account = False
    db.session.commit()

    assert signed_in_as(client) is None


def test_five_wrong_passwords_lock_the_phone_at_that_address(client, make_user):
    user = make_user()
    for _ in range(5):
        response = log_in(client, user.phone, "Wrong2023pw")
        assert response.status_code == 400
        assert BAD_CREDENTIALS in html(response)

    response = log_in(client, user.phone, PASSWORD)  # even the right password

    assert response.status_code == 429
    assert LOCKED in html(response)
    assert 0 < int(response.headers["Retry-After"]) <= 15 * 60
    assert signed_in_as(client) is None


def test_lockout_is_per_phone_and_spelling_does_not_dodge_it(client, other_client, make_user):
    locked, other = make_user(), make_user(name="另一位")
    for _ in range(5):
        log_in(client, locked.phone, "Wrong2023pw")

    spelled = f"{locked.phone[:3]}-{locked.phone[3:7]}-{locked.phone[7:]}"
    response = log_in(client, spelled, PASSWORD)
    assert response.status_code == 429
    assert LOCKED in html(response)

    assert log_in(other_client, other.phone, PASSWORD).status_code == 302
    assert signed_in_as(other_client) == "另一位"


def test_successful_logins_do_not_count_towards_the_lockout(client, make_user):
    user = make_user()
    for _ in range(4):
        assert log_in(client, user.phone, "Wrong2023pw").status_code == 400
    for _ in range(2):
        assert log_in(client, user.phone, PASSWORD).status_code == 302

    fifth_failure = log_in(client, user.phone, "Wrong2023pw")
    assert fifth_failure.status_code == 400
    assert BAD_CREDENTIALS in html(fifth_failure)

    locked = log_in(client, user.phone, PASSWORD)
    assert locked.status_code == 429
    assert LOCKED in html(locked)


def test_remember_me_sets_a_cookie_that_outlives_the_session(client, make_user):
    user = make_user(name="记住我")
    log_in(client, user.phone, PASSWORD, remember="y")
    assert client.get_cookie("remember_token") is not None

    client.delete_cookie("session")

    assert signed_in_as(client) == "记住我"


def test_without_remember_me_there_is_no_remember_cookie(client, make_user):
    user = make_user(name="不记住")
    log_in(client, user.phone, PASSWORD)
    assert signed_in_as(client) == "不记住"
    assert client.get_cookie("remember_token") is None

    client.delete_cookie("session")

    assert signed_in_as(client) is None


def test_next_page_on_the_same_site_is_followed(client, make_user):
    user = make_user()
    response = log_in(client, user.phone, PASSWORD, url=f"{LOGIN}?next=/account/reset")
    assert response.status_code == 302
    assert response.headers["Location"] == "/account/reset"


@pytest.mark.parametrize("target", [
    "//evil.example.com",
    "https://evil.example.com/",
    "/\\evil.example.com",
    "%2F%2Fevil.example.com",
])
def test_next_never_leaves_the_site(client, make_user, target):
    user = make_user()
    response = log_in(client, user.phone, PASSWORD, url=f"{LOGIN}?next={target}")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize("target", ["/%09/evil.example.com", "/%0A/evil.example.com"])
def test_next_with_control_characters_never_leaves_the_site(client, make_user, target):
    user = make_user()
    response = log_in(client, user.phone, PASSWORD, url=f"{LOGIN}?next={target}")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_logout(client, make_user):
    user = make_user(name="要退出的人")
    log_in(client, user.phone, PASSWORD)
    token = csrf_token(client, "/")

    response = client.post(LOGOUT, data={"csrf_token": token})

    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    page = html(client.get("/"))
    assert "您已退出登录。" in page
    assert signed_in_as(client) is None


def test_logout_without_csrf_token_is_refused(client, make_user):
    user = make_user(name="还在线")
    log_in(client, user.phone, PASSWORD)

    response = client.post(LOGOUT)

    assert response.status_code == 400
    assert CSRF_MESSAGE in html(response)
    assert signed_in_as(client) == "还在线"


def test_logout_with_a_forged_csrf_token_is_refused(client, make_user):
    user = make_user(name="还在线")
    log_in(client, user.phone, PASSWORD)

    response = client.post(LOGOUT, data={"csrf_token": "forged." + "x" * 40})

    assert response.status_code == 400
    assert CSRF_MESSAGE in html(response)
    assert signed_in_as(client) == "还在线"


def test_logout_is_not_a_get(client, make_user):
    user = make_user(name="还在线")
    log_in(client, user.phone, PASSWORD)
    assert client.get(LOGOUT).status_code == 405
    assert signed_in_as(client) == "还在线"


def test_logout_needs_a_signed_in_user(client):
    response = client.post(LOGOUT, data={"csrf_token": csrf_token(client, LOGIN)})
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/account/login?next=")


def test_successful_login_leaves_the_password_hash_alone(client, make_user):
    user = make_user()
    before = user.password_hash
    log_in(client, user.phone, PASSWORD)
    assert find_user(user.phone).password_hash == before
