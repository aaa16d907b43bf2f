"""Every accounts form refuses a post without its CSRF token, and stores nothing."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD, csrf_token

from .support import (
    CSRF_MESSAGE,
    LOGIN,
    NEW_PASSWORD,
    REGISTER,
    RESET,
    SMS_CODE,
    STRONG_PASSWORD,
    find_user,
    html,
    outbox,
    request_code,
    sent_code,
    signed_in_as,
    sms_codes,
    user_count,
)


def test_register_without_csrf_token_stores_nothing(client):
    phone = "13800138000"
    request_code(client, phone)
    response = client.post(REGISTER, data={"phone": phone, "code": sent_code(phone), "password": STRONG_PASSWORD,
                                           "confirm": STRONG_PASSWORD})
    assert response.status_code == 400
    assert CSRF_MESSAGE in html(response)
    assert user_count() == 0
    assert sms_codes(phone)[0].used_at is None


def test_login_without_csrf_token_does_not_log_in(client, make_user):
    user = make_user()
    response = client.post(LOGIN, data={"phone": user.phone, "password": PASSWORD})
    assert response.status_code == 400
    assert CSRF_MESSAGE in html(response)
    assert signed_in_as(client) is None


def test_reset_without_csrf_token_changes_nothing(client, make_user):
    user = make_user()
    request_code(client, user.phone, purpose="reset")
    response = client.post(RESET, data={"phone": user.phone, "code": sent_code(user.phone), "password": NEW_PASSWORD,
                                        "confirm": NEW_PASSWORD})
    assert response.status_code == 400
    assert CSRF_MESSAGE in html(response)
    assert find_user(user.phone).password_hash == user.password_hash
    assert sms_codes(user.phone)[0].used_at is None


@pytest.mark.parametrize("purpose", ["register", "reset"])
def test_sms_code_without_csrf_token_sends_nothing(client, make_user, purpose):
    phone = make_user().phone if purpose == "reset" else "13800138000"
    response = client.post(SMS_CODE, data={"phone": phone, "purpose": purpose})
    assert response.status_code == 400
    assert CSRF_MESSAGE in html(response)
    assert sms_codes() == []
    assert outbox() == []


def test_a_token_from_another_browser_is_refused(client, other_client):
    token = csrf_token(other_client, REGISTER)
    response = client.post(SMS_CODE, data={"csrf_token": token, "phone": "13800138000", "purpose": "register"})
    assert response.status_code == 400
    assert CSRF_MESSAGE in html(response)
    assert sms_codes() == []
