"""Sign-ins stored on the server: logging out revokes that browser's sign-in (a copy of
its cookies no longer works), other browsers stay signed in, and "sign out everywhere"
or a password reset revokes them all."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from contest.accounts import service as accounts
from contest.accounts.models import LoginSession
from contest.api import tokens
from contest.errors import DomainError
from contest.extensions import db
from tests.conftest import PASSWORD, csrf_token, submit

from .support import LOGIN, LOGOUT, html, log_in, message_context, request_code, reset, sent_code, signed_in_as

DEVICES = "/account/devices"
SIGN_OUT_ALL = "/account/devices/sign-out-all"


def sign_ins(user_id: int) -> list[LoginSession]:
    db.session.rollback()
    return list(db.session.scalars(select(LoginSession).where(LoginSession.user_id == user_id).order_by(LoginSession.id)))


def log_out(client) -> None:  # type: ignore[no-untyped-def]
    response = client.post(LOGOUT, data={"csrf_token": csrf_token(client, "/")})
    assert response.status_code == 302


def cookie(client, name: str) -> str:  # type: ignore[no-untyped-def]
    found = client.get_cookie(name)
    assert found is not None, f"no {name} cookie"
    return found.value


# --- the web ---------------------------------------------------------------------------

def test_a_copied_session_cookie_stops_working_at_logout(app, client, make_user):
    user = make_user(name="退出的人")
    log_in(client, user.phone, PASSWORD)
    copied = cookie(client, "session")

    log_out(client)

    thief = app.test_client()
    thief.set_cookie("session", copied)
    assert signed_in_as(thief) is None
    assert sign_ins(user.id)[0].revoked_at is not None


def test_a_copied_remember_cookie_stops_working_at_logout(app, client, make_user):
    user = make_user(name="记住我")
    log_in(client, user.phone, PASSWORD, remember="y")
    copied = cookie(client, "remember_token")
    replay = app.test_client()
    replay.set_cookie("remember_token", copied)
    assert signed_in_as(replay) == "记住我"  # the copy works while the sign-in lives

    log_out(client)

    thief = app.test_client()
    thief.set_cookie("remember_token", copied)
    assert signed_in_as(thief) is None


def test_logging_out_on_one_device_leaves_the_others_signed_in(client, other_client, make_user):
    user = make_user(name="两台设备")
    log_in(client, user.phone, PASSWORD)
    log_in(other_client, user.phone, PASSWORD, remember="y")

    log_out(client)

    assert signed_in_as(client) is None
    assert signed_in_as(other_client) == "两台设备"
    other_client.delete_cookie("session")  # the remember cookie alone still works too
    assert signed_in_as(other_client) == "两台设备"
    assert [s.revoked_at is not None for s in sign_ins(user.id)] == [True, False]


def test_a_sign_in_records_where_it_came_from_and_stores_only_a_digest(client, make_user, clock):
    user = make_user()
    submit(client, LOGIN, {"phone": user.phone, "password": PASSWORD}, environ_base={"REMOTE_ADDR": "198.51.100.23"},
           headers={"User-Agent": "Mozilla/5.0 (Linux; Android 13) MicroMessenger/8.0"})
    [sign_in] = sign_ins(user.id)
    assert (sign_in.ip, sign_in.created_at, sign_in.last_seen_at, sign_in.revoked_at) == (
        "198.51.100.23", clock.now(), clock.now(), None)
    assert "MicroMessenger" in sign_in.user_agent
    assert sign_in.expires_at == clock.now() + accounts.SIGN_IN_TTL
    with client.session_transaction() as session:
        secret = session["_user_id"]
    assert secret not in (sign_in.token_hash, str(user.id)) and len(sign_in.token_hash) == 64


def test_signing_out_everywhere_ends_every_sign_in_and_api_token(app, client, other_client, make_user, clock):
    user = make_user(name="全部退出")
    log_in(client, user.phone, PASSWORD)
    log_in(other_client, user.phone, PASSWORD, remember="y")
    remembered = cookie(other_client, "remember_token")
    with message_context():
        api_token = tokens.issue_token(db.session, None, phone=user.phone, password=PASSWORD, address="127.0.0.1", now=clock.now()).token
    db.session.commit()
    page = html(client.get(DEVICES))
    assert page.count('class="card sign-in-item"') == 2
    assert "本设备" in page and "退出所有设备" in page

    response = client.post(SIGN_OUT_ALL, data={"csrf_token": csrf_token(client, DEVICES)})

    assert response.status_code == 302
    assert response.headers["Location"] == LOGIN
    assert "已退出所有设备上的登录（包括本设备），请重新登录。" in html(client.get(LOGIN))
    assert signed_in_as(client) is None
    assert signed_in_as(other_client) is None
    replay = app.test_client()
    replay.set_cookie("remember_token", remembered)
    assert signed_in_as(replay) is None
    with message_context():
        try:
            tokens.verify_token(db.session, token=api_token, now=clock.now())
            api_token_works = True
        except DomainError:
            api_token_works = False
    assert not api_token_works
    assert all(s.revoked_at == clock.now() for s in sign_ins(user.id))
    assert log_in(client, user.phone, PASSWORD).status_code == 302  # signing in again works


def test_signing_out_everywhere_needs_the_csrf_token(client, make_user):
    user = make_user(name="还在线")
    log_in(client, user.phone, PASSWORD)
    assert client.post(SIGN_OUT_ALL).status_code == 400
    assert signed_in_as(client) == "还在线"


def test_the_devices_page_needs_a_signed_in_user(client):
    response = client.get(DEVICES)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/account/login?next=")


def test_a_password_reset_ends_every_sign_in(client, other_client, make_user):
    user = make_user(name="忘记密码")
    log_in(other_client, user.phone, PASSWORD, remember="y")
    log_in(client, user.phone, PASSWORD)

    request_code(client, user.phone, purpose="reset")
    assert reset(client, user.phone, sent_code(user.phone)).status_code == 302

    assert signed_in_as(other_client) is None
    assert all(s.revoked_at is not None for s in sign_ins(user.id))


# --- the service -------------------------------------------------------------------------

def test_a_sign_in_expires(make_user, clock):
    user = make_user()
    token = accounts.open_login_session(db.session, user=user, now=clock.now())
    db.session.commit()

    assert accounts.load_session_user(db.session, token, now=clock.now() + accounts.SIGN_IN_TTL - timedelta(seconds=1)) is user
    assert accounts.load_session_user(db.session, token, now=clock.now() + accounts.SIGN_IN_TTL) is None


def test_a_disabled_account_is_not_loaded(make_user, clock):
    user = make_user()
    token = accounts.open_login_session(db.session, user=user, now=clock.now())
    user.is_active_account = False
    db.session.commit()
    assert accounts.load_session_user(db.session, token, now=clock.now()) is None


def test_last_seen_is_written_at_most_every_few_minutes(make_user, clock):
    user = make_user()
    start = clock.now()
    token = accounts.open_login_session(db.session, user=user, now=start)
    db.session.commit()

    accounts.load_session_user(db.session, token, now=start + timedelta(minutes=4))
    assert sign_ins(user.id)[0].last_seen_at == start
    accounts.load_session_user(db.session, token, now=start + timedelta(minutes=6))
    assert sign_ins(user.id)[0].last_seen_at == start + timedelta(minutes=6)


def test_loading_a_signed_in_user_is_one_query_for_the_sign_in_and_the_account(make_user, clock, count_queries):
    user = make_user("judge")
    user_id = user.id
    token = accounts.open_login_session(db.session, user=user, now=clock.now())
    db.session.commit()
    db.session.expunge_all()

    with count_queries() as statements:
        loaded = accounts.load_session_user(db.session, token, now=clock.now())
        assert loaded.role_names == {"judge"}

    assert loaded.id == user_id and loaded.get_id() == token
    # The account with the sign-in's columns, then its roles (as any load of an account).
    assert len(statements) == 2
    assert "login_session" in statements[0] and "user_account" in statements[0]


def test_ending_one_sign_in_leaves_the_others(make_user, clock):
    user = make_user()
    first = accounts.open_login_session(db.session, user=user, now=clock.now())
    second = accounts.open_login_session(db.session, user=user, now=clock.now())
    db.session.commit()

    assert accounts.end_login_session(db.session, token=first, now=clock.now())
    assert not accounts.end_login_session(db.session, token=first, now=clock.now())  # already ended
    db.session.commit()

    assert accounts.load_session_user(db.session, first, now=clock.now()) is None
    assert accounts.load_session_user(db.session, second, now=clock.now()) is user


@pytest.mark.parametrize(("agent", "name"), [
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 "
     "MicroMessenger/8.0.44(0x18002c2d) NetType/WIFI Language/zh_CN", "微信 · iPhone"),
    ("Mozilla/5.0 (Linux; Android 13; V2227A) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.43 Mobile "
     "Safari/537.36", "Chrome · Android"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 "
     "Safari/605.1.15", "Safari · Mac"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 "
     "Edg/120.0.0.0", "Edge · Windows"),
    ("", "未知浏览器"), ("curl/8.4.0", "未知浏览器"),
])
def test_a_sign_in_names_its_device_as_people_do(agent: str, name: str) -> None:
    from contest.accounts.device_names import device_name

    assert device_name(agent) == name
