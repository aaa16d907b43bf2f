"""Asking for a register code says nothing about whether the number is registered: the
answer, the page after it and the work done are the same; only the phone's owner learns
it, from the text message."""

from __future__ import annotations

import re

from tests.conftest import submit

from .support import (
    BAD_CODE,
    CONSENT,
    PHONE_TAKEN,
    REGISTER,
    STRONG_PASSWORD,
    find_user,
    html,
    outbox,
    request_code,
    sms_codes,
    user_count,
)

REGISTERED = "13800138000"
UNREGISTERED = "13900139000"
# Headers that differ between any two answers: the signed session cookie (it carries the
# CSRF token and the flashed message, signed with a timestamp), the request id, and the
# clock time at which a rate-limit window resets, and the seconds until then (compared
# apart, to the second: two answers may fall either side of a second's boundary).
VARYING_HEADERS = {"set-cookie", "x-request-id", "x-ratelimit-reset", "retry-after"}
CSRF_VALUE = re.compile(r'(name="csrf_token"[^>]*value=")[^"]+')


def _same_shape(response, phone: str) -> tuple[int, str, list[tuple[str, str]], list[str]]:
    """Status, body and headers with the typed number and the CSRF token taken out."""
    body = CSRF_VALUE.sub(r"\1…", html(response)).replace(phone, "PHONE")
    headers = sorted((k, v.replace(phone, "PHONE")) for k, v in response.headers.items() if k.lower() not in VARYING_HEADERS)
    if "Retry-After" in response.headers:
        headers.append(("Retry-After", "present"))
    cookies = sorted(c.split("=", 1)[0] + ";" + c.split(";", 1)[-1] for c in response.headers.getlist("Set-Cookie"))
    return response.status_code, body, headers, cookies


def register_from(client, phone: str, address: str):  # type: ignore[no-untyped-def]
    return submit(client, REGISTER, {"phone": phone, "code": "123456", "display_name": "", "password": STRONG_PASSWORD,
                                     "confirm": STRONG_PASSWORD, **CONSENT}, environ_base={"REMOTE_ADDR": address})


def test_register_code_answer_is_the_same_for_a_registered_and_an_unregistered_phone(client, other_client, make_user):
    make_user(phone=REGISTERED)

    for_registered = request_code(client, REGISTERED)
    for_unregistered = request_code(other_client, UNREGISTERED)

    assert for_registered.status_code == 302
    assert _same_shape(for_registered, REGISTERED) == _same_shape(for_unregistered, UNREGISTERED)
    # Retry-After's presence is part of the shape; where both carry it, the seconds agree
    waits = [answer.headers.get("Retry-After") for answer in (for_registered, for_unregistered)]
    assert waits[0] is None or abs(int(waits[0]) - int(waits[1] or 0)) <= 1
    page_registered = client.get(for_registered.headers["Location"])
    page_unregistered = other_client.get(for_unregistered.headers["Location"])
    assert "验证码已发送，5 分钟内有效。" in html(page_registered)
    assert _same_shape(page_registered, REGISTERED) == _same_shape(page_unregistered, UNREGISTERED)
    # The resend wait applies alike, so a second request does not tell them apart either.
    again_registered, again_unregistered = request_code(client, REGISTERED), request_code(other_client, UNREGISTERED)
    assert again_registered.status_code == again_unregistered.status_code == 429
    assert _same_shape(again_registered, REGISTERED) == _same_shape(again_unregistered, UNREGISTERED)
    assert abs(int(again_registered.headers["Retry-After"]) - int(again_unregistered.headers["Retry-After"])) <= 1


def test_the_same_statements_run_for_a_registered_and_an_unregistered_phone(client, make_user, count_queries):
    make_user(phone=REGISTERED)
    request_code(client, "13700137000")  # warm up: the first request of a test loads what later ones reuse

    with count_queries() as registered_statements:
        request_code(client, REGISTERED)
    with count_queries() as unregistered_statements:
        request_code(client, UNREGISTERED)

    assert [s.split()[0] for s in registered_statements] == [s.split()[0] for s in unregistered_statements]


def test_a_registered_phone_is_told_by_text_to_sign_in_or_reset(client, make_user):
    make_user(phone=REGISTERED)

    request_code(client, REGISTERED)
    request_code(client, UNREGISTERED)

    [notice] = outbox(REGISTERED)
    assert "已经注册过了" in notice.body
    assert "请直接登录" in notice.body and "忘记密码" in notice.body
    assert not re.search(r"\d{6}", notice.body)  # no code to register with
    [code_message] = outbox(UNREGISTERED)
    assert re.search(r"您的注册验证码是 \d{6}", code_message.body)
    assert "已经注册" not in code_message.body
    assert len(sms_codes(REGISTERED)) == len(sms_codes(UNREGISTERED)) == 1


def test_registering_a_registered_phone_says_no_more_than_a_wrong_code(client, make_user):
    existing = make_user(phone=REGISTERED)
    request_code(client, REGISTERED)
    request_code(client, UNREGISTERED)

    # From two addresses, so each answer's per-address rate-limit headers start alike.
    for_registered = register_from(client, REGISTERED, "203.0.113.1")
    for_unregistered = register_from(client, UNREGISTERED, "203.0.113.2")

    assert for_registered.status_code == for_unregistered.status_code == 400
    assert BAD_CODE in html(for_registered)
    assert PHONE_TAKEN not in html(for_registered)
    assert _same_shape(for_registered, REGISTERED) == _same_shape(for_unregistered, UNREGISTERED)
    assert user_count() == 1
    assert find_user(REGISTERED).password_hash == existing.password_hash
    assert sms_codes(REGISTERED)[0].attempts == sms_codes(UNREGISTERED)[0].attempts == 1


def test_the_register_page_still_works_for_an_unregistered_phone(client):
    assert request_code(client, UNREGISTERED).headers["Location"] == f"{REGISTER}?phone={UNREGISTERED}"
