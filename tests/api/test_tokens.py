"""Bearer tokens: issued for a phone and password behind the failed sign-in windows (no
lock-out: a login captcha at most), refused when wrong, expired or stale."""

from __future__ import annotations

import hashlib
import json
import secrets

import pytest
from sqlalchemy import select

from contest.antifraud import captcha
from contest.antifraud.models import CaptchaChallenge
from contest.api import tokens
from contest.api.models import ApiToken
from contest.clock import LOCAL_TZ
from contest.extensions import db
from tests.api.conftest import PREFIX, error_of
from tests.conftest import PASSWORD, submit

TOKEN_URL = PREFIX + "/auth/token"
CAPTCHA_URL = PREFIX + "/captchas"
BAD_CREDENTIALS = "手机号或密码错误。"
INVALID_TOKEN = "登录凭证无效或已过期，请重新登录。"


def vote_url(entry) -> str:  # type: ignore[no-untyped-def]
    return f"{PREFIX}/entries/{entry.id}/votes"


def test_a_token_is_issued_for_the_right_credentials_and_only_its_hash_is_kept(api, make_user, clock):
    user = make_user()
    response = api.post(TOKEN_URL, json={"phone": user.phone, "password": PASSWORD})
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    token = body["token"]
    assert len(token) >= 40
    expected_expiry = (clock.now() + tokens.TOKEN_TTL).astimezone(LOCAL_TZ).isoformat()
    assert body["expires_at"] == expected_expiry
    row = db.session.scalar(select(ApiToken).where(ApiToken.user_id == user.id))
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in {row.token_hash, row.session_stamp}


def test_a_formatted_phone_number_works_too(api, make_user):
    user = make_user()
    phone = f"+86 {user.phone[:3]} {user.phone[3:7]} {user.phone[7:]}"
    assert api.post(TOKEN_URL, json={"phone": phone, "password": PASSWORD}).status_code == 201


@pytest.mark.parametrize("phone, password", [("own", PASSWORD + "x"), ("13912345678", PASSWORD), ("12345", PASSWORD),
                                             ("own", "Passw0rd")])
def test_wrong_credentials_are_401_with_one_message(api, make_user, phone, password):
    user = make_user()
    response = api.post(TOKEN_URL, json={"phone": user.phone if phone == "own" else phone, "password": password})
    assert error_of(response) == (401, "bad_credentials")
    assert response.get_json()["error"]["message"] == BAD_CREDENTIALS
    assert db.session.scalar(select(ApiToken.id)) is None


@pytest.mark.parametrize("body, code", [
    (b"{not json", "bad_json"), (b"", "bad_json"), (b"[1, 2]", "bad_json"), (b'{"phone": NaN}', "bad_json"),
    (b'{"phone": 13700000001, "password": "x"}', "invalid"), (b'{"phone": "13700000001"}', "invalid"),
    (b'{"phone": "13700000001", "password": "Passw0rd2023", "remember": true}', "invalid"),
])
def test_malformed_bodies_are_400(api, body, code):
    response = api.post(TOKEN_URL, data=body, content_type="application/json")
    assert error_of(response) == (400, code)
    assert db.session.scalar(select(ApiToken.id)) is None


@pytest.mark.parametrize("phone, password, message", [
    ("own", " ", "密码至少需要 8 位。"), ("own", PASSWORD[:7], "密码至少需要 8 位。"), ("own", "a1" * 65, "密码不能超过 128 位。"),
    ("1" * 33, PASSWORD, "请输入正确的 11 位中国大陆手机号码。"),
])
def test_a_phone_or_password_outside_the_documented_lengths_is_400(api, make_user, phone, password, message):
    """No password shorter than 8 or longer than 128 characters was ever set (the accounts'
    rule), so the document says so and such a one is refused at once."""
    user = make_user()
    response = api.post(TOKEN_URL, json={"phone": user.phone if phone == "own" else phone, "password": password})
    assert error_of(response) == (400, "invalid")
    assert response.get_json()["error"]["message"] == message
    assert db.session.scalar(select(ApiToken.id)) is None
    schema = api.spec["components"]["schemas"]["TokenRequest"]["properties"]
    assert (schema["password"]["minLength"], schema["password"]["maxLength"], schema["phone"]["maxLength"]) == (8, 128, 32)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None, "application/jsonx"])
def test_the_body_must_be_sent_as_json(api, make_user, content_type):
    user = make_user()
    body = json.dumps({"phone": user.phone, "password": PASSWORD})
    response = api.post(TOKEN_URL, data=body, content_type=content_type)
    assert error_of(response) == (415, "unsupported_type")
    assert response.get_json()["error"]["message"] == "请求内容应为 JSON，请使用 Content-Type: application/json。"
    assert db.session.scalar(select(ApiToken.id)) is None
    charset = api.post(TOKEN_URL, data=body, content_type="application/json; charset=utf-8")
    assert charset.status_code == 201


def test_a_disabled_account_gets_no_token(api, make_user):
    user = make_user()
    user.is_active_account = False
    db.session.commit()
    response = api.post(TOKEN_URL, json={"phone": user.phone, "password": PASSWORD})
    assert error_of(response) == (403, "account_disabled")


# --- failed sign-ins: the web login's windows, no lock-out --------------------------------

ATTACKER = "203.0.113.66"
OWNER = "198.51.100.7"
THROTTLED_PAIR = "密码错误次数过多，请 15 分钟后再试，或通过短信找回密码。"
THROTTLED_ADDRESS = "此网络的登录失败次数过多，请稍后再试。"
CAPTCHA_NEEDED = "该手机号近期登录失败较多，请先完成图形验证码。"
CAPTCHA_WRONG = "验证码不正确或已过期，请换一张再试。"


def sign_in(api, phone: str, password: str, address: str, **extra: str):  # type: ignore[no-untyped-def]
    return api.post(TOKEN_URL, json={"phone": phone, "password": password, **extra}, environ_base={"REMOTE_ADDR": address})


def new_captcha(api, app, address: str, body: dict | None = None) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """A captcha from POST /captchas (`body` as sent), with its answer read from the store."""
    kwargs = {} if body is None else {"json": body}
    response = api.post(CAPTCHA_URL, environ_base={"REMOTE_ADDR": address}, **kwargs)
    assert response.status_code == 201, response.get_json()
    captcha_id = response.get_json()["id"]
    answer = captcha.challenge_code(db.session, app.extensions["redis"], captcha_id)
    db.session.rollback()
    assert answer
    return captcha_id, answer


def escalate(api, phone: str) -> None:
    """Five failures from five addresses: the number now asks for a captcha, and no address is throttled."""
    for n in range(5):
        assert sign_in(api, phone, f"Guess{n:04d}x", f"203.0.113.{n + 1}").status_code == 401


def token_rows() -> int:
    return len(db.session.scalars(select(ApiToken.id)).all())


def test_fifty_failures_from_one_address_cannot_stop_the_owner_getting_a_token_from_another(api, app, make_user, clock):
    owner = make_user()

    refusals = [sign_in(api, owner.phone, f"Guess{n:04d}x", ATTACKER) for n in range(50)]

    assert [error_of(r) for r in refusals[:5]] == [(401, "bad_credentials")] * 5
    for throttled in refusals[5:]:
        assert error_of(throttled) == (429, "login_throttled")
        assert throttled.get_json()["error"]["message"] == THROTTLED_PAIR
        assert 0 < int(throttled.headers["Retry-After"]) <= 15 * 60
    # Even the right password is refused at the attacker's address.
    assert error_of(sign_in(api, owner.phone, PASSWORD, ATTACKER)) == (429, "login_throttled")
    assert token_rows() == 0

    # From the owner's address the number asks for a login captcha, and nothing more.
    asked = sign_in(api, owner.phone, PASSWORD, OWNER)
    assert error_of(asked) == (403, "captcha_required")
    assert asked.get_json()["error"]["message"] == CAPTCHA_NEEDED
    captcha_id, answer = new_captcha(api, app, OWNER, {"purpose": "login"})

    issued = sign_in(api, owner.phone, PASSWORD, OWNER, captcha_id=captcha_id, captcha_answer=answer.lower())

    assert issued.status_code == 201
    assert tokens.verify_token(db.session, token=issued.get_json()["token"], now=clock.now()).id == owner.id
    # The captcha was spent on that sign-in.
    again = sign_in(api, owner.phone, PASSWORD, OWNER, captcha_id=captcha_id, captcha_answer=answer)
    assert error_of(again) == (403, "captcha_invalid")
    assert again.get_json()["error"]["message"] == CAPTCHA_WRONG
    assert token_rows() == 1


def test_after_escalation_a_wrong_and_a_right_password_get_the_same_answer_without_a_captcha(api, make_user):
    owner = make_user()
    escalate(api, owner.phone)

    wrong = sign_in(api, owner.phone, "Wrong2023pw", OWNER)
    right = sign_in(api, owner.phone, PASSWORD, OWNER)

    # The password is not even checked: without a captcha nothing can be learnt.
    assert error_of(wrong) == error_of(right) == (403, "captcha_required")
    assert wrong.get_json() == right.get_json()
    assert token_rows() == 0


@pytest.mark.parametrize("case", ["wrong", "missing_answer", "unknown", "vote_captcha"])
def test_a_wrong_unknown_or_other_purpose_captcha_is_captcha_invalid(api, app, make_user, case):
    owner = make_user()
    escalate(api, owner.phone)
    login_id, login_answer = new_captcha(api, app, OWNER, {"purpose": "login"})
    vote_id, vote_answer = new_captcha(api, app, OWNER)  # no body: a captcha for a vote
    extra = {
        "wrong": {"captcha_id": login_id, "captcha_answer": "ZZZZZZ"},
        "missing_answer": {"captcha_id": login_id},
        "unknown": {"captcha_id": "no-such-captcha", "captcha_answer": login_answer},
        "vote_captcha": {"captcha_id": vote_id, "captcha_answer": vote_answer},
    }[case]

    refused = sign_in(api, owner.phone, PASSWORD, OWNER, **extra)

    assert error_of(refused) == (403, "captcha_invalid")
    assert refused.get_json()["error"]["message"] == CAPTCHA_WRONG
    assert token_rows() == 0
    fresh_id, fresh_answer = new_captcha(api, app, OWNER, {"purpose": "login"})
    assert sign_in(api, owner.phone, PASSWORD, OWNER, captcha_id=fresh_id, captcha_answer=fresh_answer).status_code == 201


def test_a_captcha_sent_without_need_is_not_spent(api, app, make_user):
    user = make_user()
    captcha_id, answer = new_captcha(api, app, OWNER, {"purpose": "login"})
    assert sign_in(api, user.phone, PASSWORD, OWNER, captcha_id=captcha_id, captcha_answer=answer).status_code == 201
    assert captcha.challenge_code(db.session, app.extensions["redis"], captcha_id) == answer


def test_one_address_trying_many_numbers_is_throttled(api, make_user):
    real = make_user()
    for n in range(30):  # thirty numbers, one failure each: no number reaches its own limits
        assert error_of(sign_in(api, f"1390000{n:04d}", "Wrong2023pw", ATTACKER)) == (401, "bad_credentials")

    for phone, password in ((real.phone, "Wrong2023pw"), (real.phone, PASSWORD), ("13900009999", "Wrong2023pw")):
        throttled = sign_in(api, phone, password, ATTACKER)
        assert error_of(throttled) == (429, "login_throttled")
        assert throttled.get_json()["error"]["message"] == THROTTLED_ADDRESS
        assert 0 < int(throttled.headers["Retry-After"]) <= 3600
    assert token_rows() == 0
    # Another address is not affected, and the number asks for no captcha.
    assert sign_in(api, real.phone, PASSWORD, OWNER).status_code == 201


def test_a_phone_signs_in_as_often_as_its_owner_likes(api, make_user):
    """No limit counts a number's requests: successful sign-ins (an app on several devices,
    reinstalled, …) are never refused, so nobody can use up a number's allowance."""
    user = make_user()
    for _ in range(15):
        assert sign_in(api, user.phone, PASSWORD, OWNER).status_code == 201


def test_successful_sign_ins_are_not_counted_as_failures(api, make_user):
    user = make_user()
    for _ in range(4):
        assert error_of(sign_in(api, user.phone, "Wrong2023pw", OWNER)) == (401, "bad_credentials")
    for _ in range(3):
        assert sign_in(api, user.phone, PASSWORD, OWNER).status_code == 201
    assert error_of(sign_in(api, user.phone, "Wrong2023pw", OWNER)) == (401, "bad_credentials")
    assert error_of(sign_in(api, user.phone, PASSWORD, OWNER)) == (429, "login_throttled")


def test_web_and_api_failures_share_the_windows(api, client, make_user):
    """Guessing through the web form and then the API (or the other way round) gets no
    second allowance."""
    user = make_user()
    for n in range(5):
        web = submit(client, "/account/login", {"phone": user.phone, "password": f"Guess{n:04d}x"},
                     environ_base={"REMOTE_ADDR": ATTACKER})
        assert web.status_code == 400
    assert error_of(sign_in(api, user.phone, PASSWORD, ATTACKER)) == (429, "login_throttled")


@pytest.mark.parametrize("field, value, message", [
    ("captcha_id", "x" * 41, "验证码已过期，请换一张。"),
    ("captcha_answer", "A" * 17, "验证码不正确或已过期，请换一张再试。"),
])
def test_captcha_fields_beyond_their_documented_length_are_400(api, make_user, field, value, message):
    user = make_user()
    response = sign_in(api, user.phone, PASSWORD, OWNER, **{field: value})
    assert error_of(response) == (400, "invalid")
    assert response.get_json()["error"]["message"] == message
    assert api.spec["components"]["schemas"]["TokenRequest"]["properties"][field]["maxLength"] == len(value) - 1
    assert token_rows() == 0


# --- POST /captchas: what the captcha is for ----------------------------------------------

@pytest.mark.parametrize("body, purpose", [(None, "vote"), ({}, "vote"), ({"purpose": "vote"}, "vote"),
                                           ({"purpose": "login"}, "login")])
def test_a_captcha_is_for_a_vote_unless_asked_for_a_sign_in(api, app, body, purpose):
    captcha_id, answer = new_captcha(api, app, OWNER, body)
    other = "login" if purpose == "vote" else "vote"
    assert not captcha.check_captcha(db.session, app.extensions["redis"], captcha_id=captcha_id, answer=answer,
                                     purpose=other)
    captcha_id, answer = new_captcha(api, app, OWNER, body)
    assert captcha.check_captcha(db.session, app.extensions["redis"], captcha_id=captcha_id, answer=answer,
                                 purpose=purpose)


@pytest.mark.parametrize("body, code", [
    (b'{"purpose": "register"}', "captcha_purpose"), (b'{"purpose": ""}', "captcha_purpose"),
    (b'{"purpose": null}', "captcha_purpose"), (b'{"purpose": ["login"]}', "captcha_purpose"),
    (b'{"purpose": "LOGIN"}', "captcha_purpose"), (b'{"purpose": "login", "phone": "13700000001"}', "invalid"),
    (b'{"purpose": ', "bad_json"), (b'"login"', "bad_json"),
])
def test_an_unknown_purpose_or_a_bad_captcha_body_is_400(api, body, code):
    response = api.post(CAPTCHA_URL, data=body, content_type="application/json")
    assert error_of(response) == (400, code)
    if code == "captcha_purpose":
        assert response.get_json()["error"]["message"] == "未知的验证码用途。"
    assert db.session.scalar(select(CaptchaChallenge.id)) is None


def test_a_captcha_body_must_be_sent_as_json(api):
    response = api.post(CAPTCHA_URL, data=b"purpose=login", content_type="application/x-www-form-urlencoded")
    assert error_of(response) == (415, "unsupported_type")


def _vote_with(api, ballot, token, **kwargs):  # type: ignore[no-untyped-def]
    _contest, entries = ballot
    return api.post(vote_url(entries[0]), json={}, token=token, **kwargs)


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer nonsense", "Basic dXNlcjpwYXNz", "Bearer " + "x" * 500])
def test_missing_or_invalid_tokens_are_401(api, ballot, header):
    headers = {} if header is None else {"Authorization": header}
    response = _vote_with(api, ballot, None, headers=headers)
    assert error_of(response) == (401, "invalid_token")
    assert response.get_json()["error"]["message"] == INVALID_TOKEN
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="api"'


def test_a_token_expires(api, ballot, voter, clock):
    clock.advance(days=30, seconds=-1)
    # still accepted (the vote is refused for another reason: the window has closed)
    assert error_of(_vote_with(api, ballot, voter.token)) == (403, "voting_closed")
    clock.advance(seconds=1)
    response = _vote_with(api, ballot, voter.token)
    assert error_of(response) == (401, "invalid_token")


def test_a_password_change_ends_the_tokens_issued_before(api, ballot, voter):
    voter.session_token = secrets.token_hex(16)  # what a password reset does
    db.session.commit()
    assert error_of(_vote_with(api, ballot, voter.token)) == (401, "invalid_token")


def test_a_disabled_account_cannot_use_its_token(api, ballot, voter):
    voter.is_active_account = False
    db.session.commit()
    assert error_of(_vote_with(api, ballot, voter.token)) == (401, "invalid_token")


def test_expired_tokens_are_dropped_and_each_account_keeps_a_few(make_user, clock, monkeypatch):
    monkeypatch.setattr(tokens, "MAX_TOKENS_PER_USER", 3)
    user = make_user()
    tokens.issue_token(db.session, None, phone=user.phone, password=PASSWORD, address=OWNER, now=clock.now())
    clock.advance(days=31)
    for _ in range(tokens.MAX_TOKENS_PER_USER + 2):
        tokens.issue_token(db.session, None, phone=user.phone, password=PASSWORD, address=OWNER, now=clock.now())
        clock.advance(minutes=1)
    db.session.commit()
    rows = db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)).all()
    assert len(rows) == 3
    assert all(row.expires_at > clock.now() for row in rows)


def test_a_huge_body_is_refused(api):
    response = api.post(TOKEN_URL, data=b'{"phone": "' + b"1" * 100_000 + b'"}', content_type="application/json")
    assert error_of(response) == (413, "too_large")
