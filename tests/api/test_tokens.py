"""Bearer tokens: issued for a phone and password, refused when wrong, expired or stale."""

from __future__ import annotations

import hashlib
import secrets

import pytest
from sqlalchemy import select

from contest.api import tokens
from contest.api.models import ApiToken
from contest.clock import LOCAL_TZ
from contest.extensions import db
from tests.api.conftest import PREFIX, error_of
from tests.conftest import PASSWORD

TOKEN_URL = PREFIX + "/auth/token"
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
                                             ("own", " ")])
def test_wrong_credentials_are_401_with_one_message(api, make_user, phone, password):
    user = make_user()
    response = api.post(TOKEN_URL, json={"phone": user.phone if phone == "own" else phone, "password": password})
    assert error_of(response) == (401, "bad_credentials")
    assert response.get_json()["error"]["message"] == BAD_CREDENTIALS
    assert db.session.scalar(select(ApiToken.id)) is None


@pytest.mark.parametrize("body, code", [
    (b"{not json", "bad_json"), (b"", "bad_json"), (b"[1, 2]", "bad_json"), (b'{"phone": NaN}', "bad_json"),
    (b'{"phone": 13700000001, "password": "x"}', "invalid"), (b'{"phone": "13700000001"}', "invalid"),
])
def test_malformed_bodies_are_400(api, body, code):
    response = api.post(TOKEN_URL, data=body, content_type="application/json")
    assert error_of(response) == (400, code)
    assert db.session.scalar(select(ApiToken.id)) is None


def test_a_disabled_account_gets_no_token(api, make_user):
    user = make_user()
    user.is_active_account = False
    db.session.commit()
    response = api.post(TOKEN_URL, json={"phone": user.phone, "password": PASSWORD})
    assert error_of(response) == (403, "account_disabled")


def test_repeated_wrong_passwords_lock_the_phone_for_a_while(api, make_user):
    user = make_user()
    for _ in range(5):
        assert api.post(TOKEN_URL, json={"phone": user.phone, "password": "wrong-1234"}).status_code == 401
    locked = api.post(TOKEN_URL, json={"phone": user.phone, "password": PASSWORD})
    assert error_of(locked) == (429, "rate_limited")
    assert "密码错误次数过多" in locked.get_json()["error"]["message"]
    assert int(locked.headers["Retry-After"]) > 0
    # another phone from the same address is not locked
    other = make_user()
    assert api.post(TOKEN_URL, json={"phone": other.phone, "password": PASSWORD}).status_code == 201


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
    tokens.issue_token(db.session, phone=user.phone, password=PASSWORD, now=clock.now())
    clock.advance(days=31)
    for _ in range(tokens.MAX_TOKENS_PER_USER + 2):
        tokens.issue_token(db.session, phone=user.phone, password=PASSWORD, now=clock.now())
        clock.advance(minutes=1)
    db.session.commit()
    rows = db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)).all()
    assert len(rows) == 3
    assert all(row.expires_at > clock.now() for row in rows)


def test_a_huge_body_is_refused(api):
    response = api.post(TOKEN_URL, data=b'{"phone": "' + b"1" * 100_000 + b'"}', content_type="application/json")
    assert error_of(response) == (413, "too_large")
