"""flask users … and flask sms outbox."""

from __future__ import annotations

import pytest

from .support import BAD_PHONE, PHONE_TAKEN, audit_events, find_user, password_works, request_code, user_count

PHONE = "13811112222"


@pytest.fixture
def flask_cli(app, runner):  # type: ignore[no-untyped-def]
    """Run a command the way `flask …` does: in an application context of its own."""
    def invoke(*args: str):  # type: ignore[no-untyped-def]
        with app.app_context():
            return runner.invoke(args=list(args))
    return invoke


def create(flask_cli, *extra: str):  # type: ignore[no-untyped-def]
    return flask_cli("users", "create", "--phone", PHONE, "--password", "Abcd12345x", *extra)


def test_users_create_with_several_roles(flask_cli):
    result = create(flask_cli, "--role", "judge", "--role", "organiser", "--name", "评委甲")

    assert result.exit_code == 0, result.output
    user = find_user(PHONE)
    assert f"created user {user.id} ({PHONE}) with roles judge, organiser" in result.output
    assert user.role_names == {"judge", "organiser"}
    assert user.display_name == "评委甲"
    assert user.phone_verified_at is not None
    assert user.password_hash.startswith("$argon2")
    assert password_works(PHONE, "Abcd12345x")


def test_users_create_without_a_role_makes_a_citizen(flask_cli):
    assert create(flask_cli).exit_code == 0
    assert find_user(PHONE).role_names == {"citizen"}


def test_users_grant_and_revoke(flask_cli):
    create(flask_cli, "--role", "judge", "--role", "organiser")

    granted = flask_cli("users", "grant", PHONE, "admin")
    assert granted.exit_code == 0, granted.output
    assert f"{PHONE}: judge, organiser -> admin, judge, organiser" in granted.output
    assert find_user(PHONE).role_names == {"admin", "judge", "organiser"}

    revoked = flask_cli("users", "revoke", "+86 138 1111 2222", "judge")
    assert revoked.exit_code == 0, revoked.output
    assert f"{PHONE}: admin, judge, organiser -> admin, organiser" in revoked.output
    assert find_user(PHONE).role_names == {"admin", "organiser"}

    grant_event, revoke_event = audit_events("user.roles")
    assert grant_event.actor_id is None  # an operator at the command line
    assert grant_event.before == {"roles": ["judge", "organiser"]}
    assert grant_event.after == {"roles": ["admin", "judge", "organiser"]}
    assert revoke_event.after == {"roles": ["admin", "organiser"]}


def test_granting_a_role_held_already_changes_nothing(flask_cli):
    create(flask_cli, "--role", "judge")
    result = flask_cli("users", "grant", PHONE, "judge")
    assert result.exit_code == 0
    assert f"{PHONE}: judge -> judge" in result.output
    assert audit_events() == []


def test_grant_to_an_unknown_phone_fails(flask_cli):
    result = flask_cli("users", "grant", "13999998888", "judge")
    assert result.exit_code == 1
    assert "no account with phone 13999998888" in result.output
    assert audit_events() == []


def test_grant_of_an_unknown_role_fails(flask_cli):
    create(flask_cli)
    result = flask_cli("users", "grant", PHONE, "superuser")
    assert result.exit_code == 2
    assert "superuser" in result.output
    assert find_user(PHONE).role_names == {"citizen"}


@pytest.mark.parametrize(("phone", "password", "message"), [
    ("12345", "Abcd12345x", BAD_PHONE),
    (PHONE, "abcdefgh", "密码需同时包含字母和数字。"),
], ids=["malformed-phone", "weak-password"])
def test_users_create_refuses_bad_input_with_the_message(flask_cli, phone, password, message):
    result = flask_cli("users", "create", "--phone", phone, "--password", password)
    assert result.exit_code == 1
    assert message in result.output
    assert user_count() == 0


def test_users_create_refuses_a_taken_phone(flask_cli):
    create(flask_cli)
    result = create(flask_cli, "--role", "admin")
    assert result.exit_code == 1
    assert PHONE_TAKEN in result.output
    assert find_user(PHONE).role_names == {"citizen"}


@pytest.mark.parametrize("phone", ["12345", "abcdefghijk"])
def test_users_create_with_a_malformed_phone_fails_and_stores_nothing(flask_cli, phone):
    result = flask_cli("users", "create", "--phone", phone, "--password", "Abcd12345x")
    assert result.exit_code != 0
    assert user_count() == 0


def test_sms_outbox_prints_delivered_messages(client, flask_cli):
    request_code(client, "13800138000")
    request_code(client, "13900139000")

    everything = flask_cli("sms", "outbox")
    assert everything.exit_code == 0
    lines = everything.output.strip().splitlines()
    assert len(lines) == 2
    assert "13800138000 【济南职教活动周】您的注册验证码是" in lines[0]  # oldest first
    assert "13900139000 【济南职教活动周】您的注册验证码是" in lines[1]

    one_phone = flask_cli("sms", "outbox", "--phone", "13900139000")
    assert [line.split()[2] for line in one_phone.output.strip().splitlines()] == ["13900139000"]

    latest = flask_cli("sms", "outbox", "--limit", "1")
    assert "13900139000" in latest.output and "13800138000" not in latest.output


def test_sms_outbox_when_empty_prints_nothing(flask_cli):
    result = flask_cli("sms", "outbox")
    assert result.exit_code == 0
    assert result.output == ""
