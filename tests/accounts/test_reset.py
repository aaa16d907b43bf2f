"""Resetting a password with an SMS code."""

from __future__ import annotations

from tests.conftest import PASSWORD, csrf_token

from .support import (
    BAD_CODE,
    LOGIN,
    LOGOUT,
    MISMATCH,
    NEW_PASSWORD,
    RESET,
    html,
    log_in,
    other_code,
    outbox,
    password_works,
    request_code,
    reset,
    sent_code,
    signed_in_as,
    sms_codes,
    user_count,
)


def test_reset_password_with_sms_code(client, other_client, make_user):
    user = make_user(name="忘记密码的人")
    log_in(other_client, user.phone, PASSWORD)  # a second device, signed in with the old password
    assert signed_in_as(other_client) == "忘记密码的人"

    sent = request_code(client, user.phone, purpose="reset")
    assert sent.status_code == 302
    assert sent.headers["Location"] == f"{RESET}?phone={user.phone}"
    assert "验证码已发送，5 分钟内有效。" in html(client.get(sent.headers["Location"]))
    assert "您的重置密码验证码是" in outbox(user.phone)[0].body

    done = reset(client, user.phone, sent_code(user.phone))

    assert done.status_code == 302
    assert done.headers["Location"] == LOGIN
    assert "密码已重置，请用新密码登录。" in html(client.get(LOGIN))
    assert not password_works(user.phone, PASSWORD)
    assert password_works(user.phone, NEW_PASSWORD)
    # The device signed in before the reset is signed out ...
    assert signed_in_as(other_client) is None
    logout = other_client.post(LOGOUT, data={"csrf_token": csrf_token(other_client, LOGIN)})
    assert logout.status_code == 302
    assert logout.headers["Location"].startswith("/account/login?next=")
    # ... and the new password signs in over the web too.
    assert log_in(client, user.phone, NEW_PASSWORD).status_code == 302
    assert signed_in_as(client) == "忘记密码的人"


def test_reset_ends_remembered_logins_too(client, other_client, make_user):
    user = make_user(name="记住我")
    log_in(other_client, user.phone, PASSWORD, remember="y")
    other_client.delete_cookie("session")
    assert signed_in_as(other_client) == "记住我"

    request_code(client, user.phone, purpose="reset")
    assert reset(client, user.phone, sent_code(user.phone)).status_code == 302

    other_client.delete_cookie("session")
    assert signed_in_as(other_client) is None


def test_reset_for_an_unregistered_phone_looks_the_same_but_sends_nothing(client, make_user):
    registered = make_user()
    unknown = "13912345678"

    for_registered = request_code(client, registered.phone, purpose="reset")
    for_unknown = request_code(client, unknown, purpose="reset")

    assert for_unknown.status_code == for_registered.status_code == 302
    assert for_unknown.headers["Location"] == f"{RESET}?phone={unknown}"
    assert "验证码已发送，5 分钟内有效。" in html(client.get(for_unknown.headers["Location"]))
    assert outbox(unknown) == []
    assert len(outbox(registered.phone)) == 1

    response = reset(client, unknown, "123456")
    assert response.status_code == 400
    assert BAD_CODE in html(response)
    assert user_count() == 1


def test_reset_with_a_wrong_code_is_refused_and_counted(client, make_user):
    user = make_user()
    request_code(client, user.phone, purpose="reset")
    code = sent_code(user.phone)

    response = reset(client, user.phone, other_code(code))

    assert response.status_code == 400
    assert BAD_CODE in html(response)
    assert sms_codes(user.phone)[0].attempts == 1
    assert password_works(user.phone, PASSWORD)
    # The code form on the error page still asks for a reset code, not a register code.
    assert 'name="purpose" type="hidden" value="reset"' in html(response)


def test_reset_code_works_once(client, make_user):
    user = make_user()
    request_code(client, user.phone, purpose="reset")
    code = sent_code(user.phone)
    assert reset(client, user.phone, code).status_code == 302

    again = reset(client, user.phone, code, password="Winter2025no")

    assert again.status_code == 400
    assert BAD_CODE in html(again)
    assert password_works(user.phone, NEW_PASSWORD)


def test_expired_reset_code_is_refused(client, clock, make_user):
    user = make_user()
    request_code(client, user.phone, purpose="reset")
    clock.advance(minutes=6)

    response = reset(client, user.phone, sent_code(user.phone))

    assert response.status_code == 400
    assert "已过期" in html(response)
    assert password_works(user.phone, PASSWORD)


def test_reset_to_a_weak_password_is_refused_and_keeps_the_code(client, make_user):
    user = make_user()
    request_code(client, user.phone, purpose="reset")

    response = reset(client, user.phone, sent_code(user.phone), password="password1")

    assert response.status_code == 400
    assert "这个密码太常见或包含手机号，请换一个。" in html(response)
    row = sms_codes(user.phone)[0]
    assert row.used_at is None and row.attempts == 0
    assert password_works(user.phone, PASSWORD)


def test_reset_with_mismatched_passwords_is_refused(client, make_user):
    user = make_user()
    request_code(client, user.phone, purpose="reset")

    response = reset(client, user.phone, sent_code(user.phone), confirm=NEW_PASSWORD + "x")

    assert response.status_code == 400
    assert MISMATCH in html(response)
    assert sms_codes(user.phone)[0].used_at is None
    assert password_works(user.phone, PASSWORD)


def test_a_register_code_does_not_reset_a_password(client, make_user):
    phone = "13800138000"
    request_code(client, phone)
    code = sent_code(phone)
    make_user(phone=phone)  # registered some other way meanwhile

    response = reset(client, phone, code)

    assert response.status_code == 400
    assert BAD_CODE in html(response)
    assert password_works(phone, PASSWORD)
