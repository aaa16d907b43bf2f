"""The accounts services called directly, without HTTP."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from contest.accounts import audit
from contest.accounts import service as accounts
from contest.accounts.actors import SYSTEM
from contest.accounts.models import ROLE_LABELS, SmsCode
from contest.accounts.sms import ConsoleSmsSender
from contest.errors import Conflict, Forbidden, InvalidInput, TooMany
from contest.extensions import db
from tests.conftest import PASSWORD

from .support import (
    BAD_CODE,
    BAD_CREDENTIALS,
    BAD_PHONE,
    PHONE_TAKEN,
    audit_events,
    find_user,
    message_context,
    outbox,
    sms_codes,
)

SECRET = "service-test-secret"
PHONE = "13800138000"


@pytest.fixture(autouse=True)
def in_request(app):  # type: ignore[no-untyped-def]
    with message_context():
        yield


def send_code(clock, phone: str = PHONE, purpose: str = "register") -> str | None:
    """Send a code and commit; the code as delivered, or None when nothing was delivered."""
    before = len(outbox(phone))
    accounts.send_sms_code(db.session, ConsoleSmsSender(), phone=phone, purpose=purpose, now=clock.now(),
                           secret_key=SECRET, ip="198.51.100.4")
    db.session.commit()
    messages = outbox(phone)
    if len(messages) == before:
        return None
    return re.search(r"\d{6}", messages[0].body).group(0)


def consume(clock, code: str, phone: str = PHONE, purpose: str = "register") -> None:
    accounts.consume_sms_code(db.session, phone=phone, purpose=purpose, code=code, now=clock.now(), secret_key=SECRET)


# --- phone numbers ---

@pytest.mark.parametrize("raw", [
    "13800138000", "+86 138 0013 8000", "0086-13800138000", " 138-0013-8000 ", "+86\t13800138000",
    "１３８００１３８０００", "＋８６ １３８ ００１３ ８０００",  # typed with a full-width input method
])
def test_normalize_phone_accepts_common_spellings(raw):
    assert accounts.normalize_phone(raw) == "13800138000"


@pytest.mark.parametrize("raw", [
    "", "12345", "2381234567", "abcdefghijk", "8613800138000", "+85 13800138000", "12800138000", "138001380000",
    "13٨00138000", "138 0013 800x",
])
def test_normalize_phone_refuses_what_is_not_a_mainland_mobile(raw):
    with pytest.raises(InvalidInput) as refused:
        accounts.normalize_phone(raw)
    assert refused.value.message == BAD_PHONE
    assert refused.value.code == "invalid_phone"
    assert refused.value.field == "phone"
    assert refused.value.status == 400


# --- passwords ---

@pytest.mark.parametrize(("password", "message"), [
    ("Ab1", "密码至少需要 8 位。"),
    ("a1" * 65, "密码不能超过 128 位。"),
    ("abcdefghij", "密码需同时包含字母和数字。"),
    ("1357924680", "密码需同时包含字母和数字。"),
    ("password1", "这个密码太常见或包含手机号，请换一个。"),
    ("PASSWORD1", "这个密码太常见或包含手机号，请换一个。"),
    ("woaini1314", "这个密码太常见或包含手机号，请换一个。"),
    ("my13800138000", "这个密码太常见或包含手机号，请换一个。"),
])
def test_weak_passwords_are_refused(password, message):
    with pytest.raises(InvalidInput) as refused:
        accounts.check_password_strength(password, PHONE)
    assert refused.value.message == message
    assert refused.value.code == "weak_password"


@pytest.mark.parametrize("password", ["Spring2023go", "a1b2c3d4", "泉城Jinan2023"])
def test_reasonable_passwords_pass(password):
    accounts.check_password_strength(password, PHONE)


def test_passwords_are_stored_as_salted_argon2_hashes(make_user):
    first, second = make_user(), make_user()
    for user in (first, second):
        assert user.password_hash.startswith("$argon2")
        assert PASSWORD not in user.password_hash
    assert first.password_hash != second.password_hash  # same password, different salt


def test_authenticate_gives_one_answer_for_wrong_password_and_unknown_phone(make_user):
    user = make_user()
    assert accounts.authenticate(db.session, phone=user.phone, password=PASSWORD).id == user.id
    for phone, password in ((user.phone, "Wrong2023pw"), ("13912345678", PASSWORD), ("oops", PASSWORD)):
        with pytest.raises(InvalidInput) as refused:
            accounts.authenticate(db.session, phone=phone, password=password)
        assert refused.value.message == BAD_CREDENTIALS
        assert refused.value.code == "bad_credentials"


# --- SMS codes ---

def test_only_a_keyed_hash_of_the_code_is_stored(clock):
    code = send_code(clock)
    row = sms_codes(PHONE)[0]
    assert re.fullmatch(r"[0-9a-f]{64}", row.code_hash)
    assert code not in row.code_hash
    assert code not in {str(getattr(row, column.key)) for column in SmsCode.__table__.columns}
    assert row.expires_at == clock.now() + timedelta(minutes=5)
    assert row.requested_ip == "198.51.100.4"
    assert "您的注册验证码是 " + code in outbox(PHONE)[0].body


def test_a_code_is_accepted_once(clock):
    code = send_code(clock)
    consume(clock, code)
    db.session.commit()
    with pytest.raises(accounts.CodeRejected) as refused:
        consume(clock, code)
    assert refused.value.message == BAD_CODE


def test_a_code_expires_after_exactly_five_minutes(clock):
    code = send_code(clock)
    clock.advance(minutes=5)
    with pytest.raises(accounts.CodeRejected) as refused:
        consume(clock, code)
    assert refused.value.message == "验证码已过期（有效期 5 分钟），请重新获取。"


def test_a_code_with_too_many_attempts_is_burnt(clock):
    code = send_code(clock)
    row = sms_codes(PHONE)[0]
    row.attempts = accounts.CODE_MAX_ATTEMPTS
    db.session.commit()
    with pytest.raises(accounts.CodeRejected) as refused:
        consume(clock, code)
    assert refused.value.message == "验证码错误次数过多，请重新获取。"
    assert refused.value.keep_changes  # so the view commits the burnt code
    db.session.commit()
    assert sms_codes(PHONE)[0].used_at == clock.now()


def test_codes_are_bound_to_their_purpose(clock, make_user):
    code = send_code(clock)
    make_user(phone=PHONE)
    with pytest.raises(accounts.CodeRejected):
        consume(clock, code, purpose="reset")


def test_unknown_purpose_is_refused(clock):
    with pytest.raises(InvalidInput) as refused:
        send_code(clock, purpose="login")
    assert refused.value.message == "未知的验证码用途。"
    assert sms_codes() == []


def test_resend_wait_counts_down(clock):
    send_code(clock)
    clock.advance(seconds=20.5)
    with pytest.raises(TooMany) as refused:
        send_code(clock)
    assert refused.value.message == "验证码已发送，请 40 秒后再试。"
    assert refused.value.status == 429


def test_register_code_for_a_registered_phone_is_not_delivered(clock, make_user):
    make_user(phone=PHONE)
    accounts.send_sms_code(db.session, ConsoleSmsSender(), phone=PHONE, purpose="register", now=clock.now(),
                           secret_key=SECRET)
    db.session.commit()
    [notice] = outbox(PHONE)  # no code: a notice to sign in or reset instead
    assert "已经注册过了" in notice.body and not re.search(r"\d{6}", notice.body)
    assert len(sms_codes(PHONE)) == 1  # recorded, so the resend wait applies alike
    with pytest.raises(accounts.CodeRejected) as refused:
        accounts.register_user(db.session, phone=PHONE, code="000000", password="Spring2023go", display_name="",
                               now=clock.now(), secret_key=SECRET, terms_version=accounts.TERMS_VERSION)
    assert refused.value.message == BAD_CODE


def test_reset_code_for_an_unknown_phone_is_not_delivered(clock):
    assert send_code(clock, purpose="reset") is None
    assert len(sms_codes(PHONE)) == 1  # recorded, so the resend wait applies alike
    with pytest.raises(accounts.CodeRejected) as refused:
        accounts.reset_password(db.session, phone=PHONE, code="000000", password="Spring2023go", now=clock.now(),
                                secret_key=SECRET)
    assert refused.value.message == BAD_CODE


# --- registering, resetting, sessions ---

def test_register_user_creates_a_verified_citizen(clock):
    code = send_code(clock)
    user = accounts.register_user(db.session, phone="+86 138 0013 8000", code=code, password="Spring2023go",
                                  display_name="  泉城小李 ", now=clock.now(), secret_key=SECRET,
                                  terms_version=accounts.TERMS_VERSION)
    db.session.commit()
    assert user.phone == PHONE
    assert user.display_name == "泉城小李"
    assert user.role_names == {"citizen"}
    assert user.phone_verified_at == clock.now()
    assert (user.terms_version, user.terms_accepted_at) == (accounts.TERMS_VERSION, clock.now())


@pytest.mark.parametrize("version", ["", "2000-01-01"])
def test_register_user_needs_consent_to_the_current_documents(clock, version):
    code = send_code(clock)
    with pytest.raises(InvalidInput) as refused:
        accounts.register_user(db.session, phone=PHONE, code=code, password="Spring2023go", display_name="",
                               now=clock.now(), secret_key=SECRET, terms_version=version)
    assert refused.value.code == "terms_not_accepted" and refused.value.field == "accept_terms"
    db.session.rollback()
    assert find_user(PHONE) is None
    assert sms_codes(PHONE)[0].used_at is None and sms_codes(PHONE)[0].attempts == 0  # the code was not even tried


def test_reset_password_ends_every_sign_in_and_api_token(clock, make_user):
    user = make_user(phone=PHONE)
    phone_sign_in = accounts.open_login_session(db.session, user=user, now=clock.now())
    laptop_sign_in = accounts.open_login_session(db.session, user=user, now=clock.now(), remember=True)
    old_session_token = user.session_token
    db.session.commit()
    assert accounts.load_session_user(db.session, phone_sign_in, now=clock.now()) is user

    code = send_code(clock, purpose="reset")
    accounts.reset_password(db.session, phone=PHONE, code=code, password="Autumn2024ok", now=clock.now(), secret_key=SECRET)
    db.session.commit()

    assert accounts.load_session_user(db.session, phone_sign_in, now=clock.now()) is None
    assert accounts.load_session_user(db.session, laptop_sign_in, now=clock.now()) is None
    assert user.session_token != old_session_token  # what API tokens are stamped with
    assert accounts.authenticate(db.session, phone=PHONE, password="Autumn2024ok") is user


@pytest.mark.parametrize("token", ["", "abc", "1", "1:", ":token", "999:token", "x" * 200])
def test_load_session_user_refuses_malformed_or_unknown_ids(clock, make_user, token):
    user = make_user()
    accounts.open_login_session(db.session, user=user, now=clock.now())
    db.session.commit()
    assert accounts.load_session_user(db.session, token, now=clock.now()) is None


def test_an_id_of_the_earlier_form_signs_nobody_in(clock, make_user):
    # Before sign-ins were stored, flask-login kept `user_id:session_token`.
    user = make_user()
    assert accounts.load_session_user(db.session, f"{user.id}:{user.session_token}", now=clock.now()) is None


def test_create_user_refuses_a_taken_phone_and_unknown_roles(clock, make_user):
    make_user(phone=PHONE)
    with pytest.raises(Conflict) as taken:
        accounts.create_user(db.session, phone=PHONE, password="Spring2023go", roles=["citizen"], now=clock.now())
    assert taken.value.message == PHONE_TAKEN
    with pytest.raises(InvalidInput) as unknown:
        accounts.create_user(db.session, phone="13900139000", password="Spring2023go", roles=["superuser"], now=clock.now())
    assert unknown.value.message == "未知角色：superuser"


# --- roles ---

def test_organiser_can_grant_judge_and_school_contact(clock, make_user):
    organiser, user = make_user("organiser"), make_user()

    before, after = accounts.set_roles(db.session, actor=organiser, user=user, roles={"citizen", "judge", "school_contact"},
                                       now=clock.now(), ip="203.0.113.9")
    db.session.commit()

    assert (before, after) == (["citizen"], ["citizen", "judge", "school_contact"])
    assert user.role_names == {"citizen", "judge", "school_contact"}
    [event] = audit_events("user.roles")
    assert event.actor_id == organiser.id
    assert (event.target_type, event.target_id) == ("user", str(user.id))
    assert event.before == {"roles": ["citizen"]}
    assert event.after == {"roles": ["citizen", "judge", "school_contact"]}
    assert event.summary == user.masked_phone
    assert event.ip == "203.0.113.9"
    assert event.created_at == clock.now()


@pytest.mark.parametrize(("actor_roles", "wanted", "refused_role"), [
    (("organiser",), {"citizen", "admin"}, "admin"),
    (("organiser",), {"citizen", "organiser"}, "organiser"),
    (("citizen",), {"citizen", "judge"}, "judge"),
    (("judge",), set(), "citizen"),
])
def test_roles_outside_the_actors_reach_are_forbidden(clock, make_user, actor_roles, wanted, refused_role):
    actor, user = make_user(*actor_roles), make_user()
    with pytest.raises(Forbidden) as refused:
        accounts.set_roles(db.session, actor=actor, user=user, roles=wanted, now=clock.now())
    assert refused.value.message == f"您无权更改这些角色：{ROLE_LABELS[refused_role]}"
    db.session.rollback()
    assert user.role_names == {"citizen"}
    assert audit_events() == []


def test_organiser_cannot_take_an_admin_role_away(clock, make_user):
    organiser, admin = make_user("organiser"), make_user("admin")
    with pytest.raises(Forbidden):
        accounts.set_roles(db.session, actor=organiser, user=admin, roles={"citizen"}, now=clock.now())


def test_admin_can_grant_admin_but_not_drop_their_own(clock, make_user):
    admin, user = make_user("admin"), make_user()
    accounts.set_roles(db.session, actor=admin, user=user, roles={"admin"}, now=clock.now())
    db.session.commit()
    assert user.role_names == {"admin"}

    with pytest.raises(Forbidden) as refused:
        accounts.set_roles(db.session, actor=admin, user=admin, roles={"organiser"}, now=clock.now())
    assert refused.value.message == "不能撤销自己的管理员角色。"


def test_unchanged_roles_write_no_audit_row(clock, make_user):
    organiser, user = make_user("organiser"), make_user("judge")
    assert accounts.set_roles(db.session, actor=organiser, user=user, roles={"judge"}, now=clock.now()) == (["judge"], ["judge"])
    db.session.commit()
    assert audit_events() == []


def test_unknown_role_is_refused(clock, make_user):
    user = make_user()
    with pytest.raises(InvalidInput) as refused:
        accounts.set_roles(db.session, actor=SYSTEM, user=user, roles={"superuser"}, now=clock.now())
    assert refused.value.message == "未知角色：superuser"


def test_require_role(make_user):
    judge = make_user("judge")
    assert accounts.require_role(judge, "judge", "organiser") is judge
    for actor in (None, make_user()):
        with pytest.raises(Forbidden) as refused:
            accounts.require_role(actor, "judge")
        assert refused.value.message == "您没有权限进行此操作。"


def test_search_users_by_phone_prefix_and_role(make_user):
    judge = make_user("judge", phone="13600000001")
    make_user(phone="13600000002")
    make_user("judge", phone="13500000003")

    found, total = accounts.search_users(db.session, phone_prefix="136", role="judge")
    assert (found, total) == ([judge], 1)
    found, total = accounts.search_users(db.session, phone_prefix="136-0000", limit=1)
    assert total == 2
    assert [u.phone for u in found] == ["13600000002"]  # newest first


def test_audit_diff_keeps_only_changed_keys():
    assert audit.diff({"a": 1, "b": 2}, {"a": 1, "b": 3, "c": 4}) == ({"b": 2, "c": None}, {"b": 3, "c": 4})
