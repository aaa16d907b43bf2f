"""Failed sign-ins slow guessing down without locking anyone out: one address guessing is
throttled there (per number, and across numbers), while failures from anywhere only make
the number ask for a captcha, with which the right password always signs in."""

from __future__ import annotations

import re

import pytest
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from contest.accounts import service as accounts
from contest.accounts.login_guard import FailureCounters
from contest.antifraud import captcha
from contest.errors import TooMany
from contest.extensions import db
from tests.conftest import PASSWORD, redis_client, submit

from .support import BAD_CREDENTIALS, LOGIN, html, message_context, signed_in_as

ATTACKER = "203.0.113.66"
OWNER = "198.51.100.7"
THROTTLED_PAIR = "密码错误次数过多，请 15 分钟后再试，或通过短信找回密码。"
THROTTLED_ADDRESS = "此网络的登录失败次数过多，请稍后再试。"
CAPTCHA_NEEDED = "该手机号近期登录失败较多，请先完成图形验证码。"
CAPTCHA_WRONG = "验证码不正确或已过期，请换一张再试。"
CAPTCHA_ID = re.compile(r'name="captcha_id" value="([^"]+)"')


def attempt(client, phone: str, password: str, address: str, **extra: str):  # type: ignore[no-untyped-def]
    return submit(client, LOGIN, {"phone": phone, "password": password, **extra}, environ_base={"REMOTE_ADDR": address})


def captcha_on(response) -> str:  # type: ignore[no-untyped-def]
    """The id of the captcha the page shows."""
    match = CAPTCHA_ID.search(html(response))
    assert match, "the page shows no captcha"
    return match.group(1)


def answer_of(app, captcha_id: str) -> str:  # type: ignore[no-untyped-def]
    code = captcha.challenge_code(db.session, redis_client(app), captcha_id)
    assert code is not None
    return code


def test_fifty_failures_from_one_address_cannot_stop_the_owner_signing_in_from_another(app, client, other_client, make_user):
    owner = make_user(name="评委老师")
    attacker = app.test_client()

    refusals = [attempt(attacker, owner.phone, f"Guess{n:04d}x", ATTACKER) for n in range(50)]

    assert [r.status_code for r in refusals[:5]] == [400] * 5
    assert all(BAD_CREDENTIALS in html(r) for r in refusals[:5])
    for throttled in refusals[5:]:
        assert throttled.status_code == 429
        assert THROTTLED_PAIR in html(throttled)
        assert 0 < int(throttled.headers["Retry-After"]) <= 15 * 60
    # Even the right password is refused at the attacker's address.
    assert attempt(attacker, owner.phone, PASSWORD, ATTACKER).status_code == 429
    assert signed_in_as(attacker) is None

    # From the owner's own address the number asks for a captcha, and nothing more.
    asked = attempt(client, owner.phone, PASSWORD, OWNER)
    assert asked.status_code == 403
    assert CAPTCHA_NEEDED in html(asked)
    assert signed_in_as(client) is None
    captcha_id = captcha_on(asked)

    done = attempt(client, owner.phone, PASSWORD, OWNER, captcha_id=captcha_id, captcha_answer=answer_of(app, captcha_id))

    assert done.status_code == 302
    assert signed_in_as(client) == "评委老师"


def test_after_escalation_a_wrong_and_a_right_password_get_the_same_answer_without_a_captcha(app, client, make_user):
    owner = make_user()
    for n in range(5):
        attempt(app.test_client(), owner.phone, f"Guess{n:04d}x", f"203.0.113.{n + 1}")  # five addresses, once each

    wrong = attempt(client, owner.phone, "Wrong2023pw", OWNER)
    right = attempt(client, owner.phone, PASSWORD, OWNER)

    # The password is not even checked: without a captcha nothing can be learnt.
    assert wrong.status_code == right.status_code == 403
    assert CAPTCHA_NEEDED in html(wrong) and CAPTCHA_NEEDED in html(right)
    assert signed_in_as(client) is None


def test_a_wrong_captcha_answer_is_refused_with_a_fresh_captcha(app, client, make_user):
    owner = make_user(name="组织者")
    for n in range(5):
        attempt(app.test_client(), owner.phone, f"Guess{n:04d}x", f"203.0.113.{n + 1}")
    first = captcha_on(attempt(client, owner.phone, PASSWORD, OWNER))

    refused = attempt(client, owner.phone, PASSWORD, OWNER, captcha_id=first, captcha_answer="WRONG")

    assert refused.status_code == 403
    assert CAPTCHA_WRONG in html(refused)
    second = captcha_on(refused)
    assert second != first
    # The spent challenge does not work again, even with its right answer.
    assert attempt(client, owner.phone, PASSWORD, OWNER, captcha_id=first, captcha_answer="ANY").status_code == 403
    done = attempt(client, owner.phone, PASSWORD, OWNER, captcha_id=second, captcha_answer=answer_of(app, second))
    assert done.status_code == 302
    assert signed_in_as(client) == "组织者"


def test_the_failure_that_escalates_shows_a_captcha_for_the_next_try(app, client, make_user):
    owner = make_user()
    for n in range(4):
        attempt(app.test_client(), owner.phone, f"Guess{n:04d}x", f"203.0.113.{n + 1}")

    fifth = attempt(client, owner.phone, "Wrong2023pw", OWNER)

    assert fifth.status_code == 400
    assert BAD_CREDENTIALS in html(fifth)
    captcha_on(fifth)


def test_one_address_trying_many_numbers_is_throttled(app, client, make_user):
    real = make_user(name="真实用户")
    for n in range(30):  # thirty numbers, one failure each: no number reaches its own limits
        response = attempt(client, f"1390000{n:04d}", "Wrong2023pw", ATTACKER)
        assert response.status_code == 400

    for phone, password in ((real.phone, "Wrong2023pw"), (real.phone, PASSWORD), ("13900009999", "Wrong2023pw")):
        throttled = attempt(client, phone, password, ATTACKER)
        assert throttled.status_code == 429
        assert THROTTLED_ADDRESS in html(throttled)
        assert 0 < int(throttled.headers["Retry-After"]) <= 3600
    assert signed_in_as(client) is None
    # Another address is not affected, and the number asks for no captcha.
    assert attempt(app.test_client(), real.phone, PASSWORD, OWNER).status_code == 302


def test_malformed_numbers_count_against_the_address(client):
    for _ in range(30):
        assert attempt(client, "12345", "Wrong2023pw", ATTACKER).status_code == 400
    throttled = attempt(client, "12345", "Wrong2023pw", ATTACKER)
    assert throttled.status_code == 429
    assert THROTTLED_ADDRESS in html(throttled)


def test_successful_sign_ins_are_not_counted(client, make_user):
    user = make_user()
    for _ in range(4):
        assert attempt(client, user.phone, "Wrong2023pw", OWNER).status_code == 400
    for _ in range(3):
        assert attempt(client, user.phone, PASSWORD, OWNER).status_code == 302
    assert attempt(client, user.phone, "Wrong2023pw", OWNER).status_code == 400
    assert attempt(client, user.phone, PASSWORD, OWNER).status_code == 429


# --- the service, with its windows in process memory -------------------------------------

@pytest.fixture
def counters() -> FailureCounters:
    return FailureCounters(MovingWindowRateLimiter(MemoryStorage()))


def test_service_the_right_password_with_a_solved_captcha_always_signs_in(make_user, counters):
    user = make_user()
    with message_context():
        for n in range(20):
            with pytest.raises(accounts.DomainError):
                accounts.sign_in(db.session, counters, phone=user.phone, password="Wrong2023pw", address=f"10.9.0.{n}",
                                 captcha=lambda: True)
        with pytest.raises(accounts.LoginCaptchaRequired):
            accounts.sign_in(db.session, counters, phone=user.phone, password=PASSWORD, address="10.9.1.1")
        with pytest.raises(accounts.LoginCaptchaRequired) as wrong:
            accounts.sign_in(db.session, counters, phone=user.phone, password=PASSWORD, address="10.9.1.1",
                             captcha=lambda: False)
        assert wrong.value.code == "captcha_invalid"
        signed_in = accounts.sign_in(db.session, counters, phone=user.phone, password=PASSWORD, address="10.9.1.1",
                                     captcha=lambda: True)
    assert signed_in.id == user.id


def test_service_the_captcha_is_checked_only_when_needed(make_user, counters):
    user = make_user()
    checked: list[bool] = []

    def solved() -> bool:
        checked.append(True)
        return True

    with message_context():
        accounts.sign_in(db.session, counters, phone=user.phone, password=PASSWORD, address=OWNER, captcha=solved)
    assert checked == []  # an answer sent along without need is not spent


def test_service_throttles_answer_with_their_wait(make_user, counters):
    user = make_user()
    with message_context():
        for _ in range(5):
            with pytest.raises(accounts.BadCredentials):
                accounts.sign_in(db.session, counters, phone=user.phone, password="Wrong2023pw", address=ATTACKER)
        with pytest.raises(TooMany) as throttled:
            accounts.sign_in(db.session, counters, phone=user.phone, password=PASSWORD, address=ATTACKER)
    assert throttled.value.status == 429 and throttled.value.code == "login_throttled"
    assert 0 < throttled.value.retry_after <= 15 * 60


def test_service_without_counters_checks_the_credentials_alone(make_user):
    user = make_user()
    with message_context():
        for _ in range(10):
            with pytest.raises(accounts.BadCredentials):
                accounts.sign_in(db.session, None, phone=user.phone, password="Wrong2023pw", address=ATTACKER)
        assert accounts.sign_in(db.session, None, phone=user.phone, password=PASSWORD, address=ATTACKER).id == user.id
