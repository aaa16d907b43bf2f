"""Registering with a phone number, an SMS code and a password."""

from __future__ import annotations

import pytest

from contest.accounts.models import SmsCode

from .support import (
    BAD_CODE,
    BAD_PHONE,
    CONSENT,
    MISMATCH,
    PHONE_TAKEN,
    REGISTER,
    STRONG_PASSWORD,
    find_user,
    html,
    other_code,
    outbox,
    register,
    request_code,
    sent_code,
    signed_in_as,
    sms_codes,
    user_count,
)

PHONE = "13800138000"


def the_code_row(phone: str = PHONE) -> SmsCode:
    rows = sms_codes(phone)
    assert len(rows) == 1
    return rows[0]


def test_register_with_sms_code(client, clock):
    sent = request_code(client, PHONE)
    assert sent.status_code == 302
    assert sent.headers["Location"] == f"{REGISTER}?phone={PHONE}"
    page = html(client.get(sent.headers["Location"]))
    assert "验证码已发送，5 分钟内有效。" in page
    assert f'value="{PHONE}"' in page  # both forms come back filled in
    assert "您的注册验证码是" in outbox(PHONE)[0].body

    done = register(client, PHONE, sent_code(PHONE), display_name="泉城小李")

    assert done.status_code == 302
    assert done.headers["Location"] == "/"
    user = find_user(PHONE)
    assert user is not None
    assert user.role_names == {"citizen"}
    assert user.phone_verified_at == clock.now()
    assert user.display_name == "泉城小李"
    assert the_code_row().used_at == clock.now()
    home = html(client.get("/"))
    assert "注册成功，欢迎参与！" in home
    assert signed_in_as(client) == "泉城小李"


def test_without_a_display_name_the_masked_phone_is_shown(client):
    request_code(client, PHONE)
    assert register(client, PHONE, sent_code(PHONE)).status_code == 302
    assert signed_in_as(client) == "138****8000"


def test_a_formatted_phone_number_is_stored_as_eleven_digits(client):
    request_code(client, "+86 138-0013-8000")
    assert register(client, "138 0013 8000", sent_code(PHONE)).status_code == 302
    assert find_user(PHONE) is not None
    assert user_count() == 1


MALFORMED_PHONES = [
    "12345", "2381234567", "abcdefghijk", "23812345678", "12812345678", "138001380001", "１３８００１３８",
    "13٨00138000",  # an Arabic-Indic digit: a digit, but not one of ours
]


@pytest.mark.parametrize("phone", MALFORMED_PHONES)
def test_code_for_a_malformed_phone_is_refused(client, phone):
    response = request_code(client, phone)
    assert response.status_code == 400
    assert BAD_PHONE in html(response)
    assert sms_codes() == []
    assert outbox() == []


@pytest.mark.parametrize("phone", MALFORMED_PHONES)
def test_register_with_a_malformed_phone_is_refused(client, phone):
    response = register(client, phone, "123456")
    assert response.status_code == 400
    assert BAD_PHONE in html(response)
    assert user_count() == 0


def test_many_malformed_numbers_from_different_visitors_do_not_block_each_other(client):
    # Malformed numbers are limited per address, not in one bucket for everyone.
    for _ in range(7):
        response = request_code(client, "12345")
        assert response.status_code == 400
        assert BAD_PHONE in html(response)


def test_missing_phone_is_refused_with_its_own_message(client):
    response = request_code(client, "")
    assert response.status_code == 400
    assert "请填写手机号。" in html(response)
    assert sms_codes() == []


def test_wrong_code_is_refused_and_the_attempt_is_counted(client):
    request_code(client, PHONE)
    code = sent_code(PHONE)

    response = register(client, PHONE, other_code(code))

    assert response.status_code == 400
    assert BAD_CODE in html(response)
    assert user_count() == 0
    row = the_code_row()
    # The refused request still committed its bookkeeping.
    assert row.attempts == 1
    assert row.used_at is None
    # The right code still works afterwards.
    assert register(client, PHONE, code).status_code == 302
    assert find_user(PHONE) is not None


def test_expired_code_is_refused(client, clock):
    request_code(client, PHONE)
    code = sent_code(PHONE)
    clock.advance(minutes=6)

    response = register(client, PHONE, code)

    assert response.status_code == 400
    assert "验证码已过期（有效期 5 分钟），请重新获取。" in html(response)
    assert user_count() == 0


def test_code_is_still_good_just_before_it_expires(client, clock):
    request_code(client, PHONE)
    clock.advance(minutes=4, seconds=59)
    assert register(client, PHONE, sent_code(PHONE)).status_code == 302
    assert find_user(PHONE) is not None


def test_five_wrong_codes_burn_the_code(client):
    request_code(client, PHONE)
    code = sent_code(PHONE)
    for attempt in range(1, 6):
        response = register(client, PHONE, other_code(code))
        assert response.status_code == 400
        assert BAD_CODE in html(response)
        assert the_code_row().attempts == attempt

    response = register(client, PHONE, code)

    assert response.status_code == 400
    assert BAD_CODE in html(response)
    assert user_count() == 0
    assert the_code_row().used_at is not None


def test_a_code_sent_to_one_phone_does_not_register_another(client):
    other = "13900139000"
    request_code(client, PHONE)
    request_code(client, other)
    code = sent_code(PHONE)
    if code == sent_code(other):
        pytest.skip("both random codes happen to be equal")

    response = register(client, other, code)

    assert response.status_code == 400
    assert BAD_CODE in html(response)
    assert user_count() == 0
    assert sms_codes(other)[0].attempts == 1


def test_a_used_code_cannot_register_a_second_account(client, other_client):
    request_code(client, PHONE)
    code = sent_code(PHONE)
    assert register(client, PHONE, code).status_code == 302

    response = register(other_client, PHONE, code)

    assert response.status_code == 400
    assert BAD_CODE in html(response)
    assert user_count() == 1


def test_a_number_registered_after_its_code_was_sent_is_taken_for_the_code_holder(client, make_user):
    # Only the holder of a valid code learns that the number is taken.
    request_code(client, PHONE)
    code = sent_code(PHONE)
    make_user(phone=PHONE)  # registered some other way meanwhile

    response = register(client, PHONE, code)

    assert response.status_code == 409
    assert PHONE_TAKEN in html(response)
    assert user_count() == 1


def test_a_new_code_replaces_the_earlier_one(client, clock):
    request_code(client, PHONE)
    first = sent_code(PHONE)
    clock.advance(seconds=61)
    request_code(client, PHONE)
    second = sent_code(PHONE)
    if first == second:
        pytest.skip("both random codes happen to be equal")

    response = register(client, PHONE, first)
    assert response.status_code == 400
    assert BAD_CODE in html(response)
    assert user_count() == 0
    assert register(client, PHONE, second).status_code == 302


def test_resend_within_a_minute_is_refused(client, clock):
    assert request_code(client, PHONE).status_code == 302

    again = request_code(client, PHONE)
    assert again.status_code == 429
    assert "验证码已发送，请 60 秒后再试。" in html(again)

    clock.advance(seconds=45)
    again = request_code(client, PHONE)
    assert again.status_code == 429
    assert "验证码已发送，请 15 秒后再试。" in html(again)
    assert len(outbox(PHONE)) == 1
    assert len(sms_codes(PHONE)) == 1

    clock.advance(seconds=15)
    assert request_code(client, PHONE).status_code == 302
    assert len(outbox(PHONE)) == 2


def test_phone_rate_limit_after_five_codes_an_hour(client, clock):
    for _ in range(5):
        assert request_code(client, PHONE).status_code == 302
        clock.advance(seconds=61)  # past the one-minute resend wait

    # A different spelling of the same number is the same number.
    response = request_code(client, "+86 138 0013 8000")

    assert response.status_code == 429
    assert "该手机号获取验证码次数过多，请一小时后再试。" in html(response)
    assert int(response.headers["Retry-After"]) > 0
    assert len(outbox(PHONE)) == 5
    assert len(sms_codes(PHONE)) == 5


def test_address_rate_limit_after_three_codes_a_minute(client):
    address = "192.0.2.7"
    for n in range(3):
        assert request_code(client, f"1390000000{n}", ip=address).status_code == 302

    response = request_code(client, "13900000009", ip=address)

    assert response.status_code == 429
    assert "获取验证码太频繁，请稍后再试。" in html(response)
    assert int(response.headers["Retry-After"]) > 0
    assert sms_codes("13900000009") == []


def test_register_for_a_registered_phone_answers_like_a_wrong_code(client, make_user):
    existing = make_user(phone=PHONE)
    password_hash = existing.password_hash

    response = register(client, PHONE, "123456")

    assert response.status_code == 400
    assert BAD_CODE in html(response)
    assert PHONE_TAKEN not in html(response)
    assert user_count() == 1
    assert find_user(PHONE).password_hash == password_hash


WEAK_PASSWORDS = [
    ("Ab1cd2", "密码至少需要 8 位。"),
    ("onlyletters", "密码需同时包含字母和数字。"),
    ("2023051620", "密码需同时包含字母和数字。"),
    ("password1", "这个密码太常见或包含手机号，请换一个。"),
    ("Password1", "这个密码太常见或包含手机号，请换一个。"),
    ("abcd1234", "这个密码太常见或包含手机号，请换一个。"),
    (f"x{PHONE}", "这个密码太常见或包含手机号，请换一个。"),
]


@pytest.mark.parametrize(("password", "message"), WEAK_PASSWORDS)
def test_weak_password_is_refused_and_keeps_the_code(client, password, message):
    request_code(client, PHONE)

    response = register(client, PHONE, sent_code(PHONE), password=password)

    assert response.status_code == 400
    assert message in html(response)
    assert user_count() == 0
    row = the_code_row()
    assert row.used_at is None
    assert row.attempts == 0


def test_password_mismatch_is_refused(client):
    request_code(client, PHONE)

    response = register(client, PHONE, sent_code(PHONE), password=STRONG_PASSWORD, confirm=STRONG_PASSWORD + "x")

    assert response.status_code == 400
    assert MISMATCH in html(response)
    assert user_count() == 0
    assert the_code_row().used_at is None


@pytest.mark.parametrize(("field", "value", "message"), [
    ("code", "", "请填写短信验证码。"),
    ("password", "", "请设置密码。"),
    ("phone", "", "请填写手机号。"),
    ("display_name", "长" * 21, "昵称不能超过 20 个字。"),
])
def test_missing_or_oversized_fields_are_refused(client, field, value, message):
    request_code(client, PHONE)
    form = {"phone": PHONE, "code": sent_code(PHONE), "password": STRONG_PASSWORD, "display_name": ""}
    form[field] = value

    response = register(client, **form)

    assert response.status_code == 400
    assert message in html(response)
    assert user_count() == 0


def test_password_is_stored_as_an_argon2_hash(client):
    request_code(client, PHONE)
    register(client, PHONE, sent_code(PHONE))
    user = find_user(PHONE)
    assert user.password_hash.startswith("$argon2id$")
    assert STRONG_PASSWORD not in user.password_hash


@pytest.mark.parametrize("target, expected", [("/judge/invite/abc", "/judge/invite/abc"), ("https://evil.example/", "/")])
def test_register_returns_to_a_local_next_page_only(client, target, expected):
    """An invited judge who registers lands back on the invitation; an outside address is ignored."""
    from tests.conftest import submit
    request_code(client, PHONE)
    page = f"{REGISTER}?next={target}"
    assert "?next=" in html(client.get(page))  # the form posts back with its next page
    done = submit(client, page, {"phone": PHONE, "code": sent_code(PHONE), "display_name": "",
                                 "password": STRONG_PASSWORD, "confirm": STRONG_PASSWORD, **CONSENT},
                  action=page)
    assert done.status_code == 302
    assert done.headers["Location"] == expected
