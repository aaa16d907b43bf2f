"""SMS pumping defence: caps on code requests per phone, address, /24 or /64 and number
prefix, the deployment's daily budget, and the gateway settings checked at start-up."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from contest import create_app
from contest.accounts import service as accounts
from contest.accounts.models import AuditEvent, Notice, SmsCode, SmsMessage
from contest.accounts.outbox import subnet_of
from contest.accounts.sms import ConsoleSmsSender
from contest.config import ConfigError, Settings
from contest.extensions import db
from tests.accounts.gateway import SECRET, gateway_settings
from tests.accounts.support import html, request_code

SECRET_KEY = "test-secret-key-" + "x" * 24


def past_requests(clock, n: int, *, phone: str, ip: str, ago: timedelta = timedelta(minutes=10)) -> None:  # type: ignore[no-untyped-def]
    """n code requests already made (stored as the service stores them)."""
    for i in range(n):
        db.session.add(SmsCode(phone=phone, purpose="register", code_hash=f"{i:064d}", created_at=clock.now() - ago,
                               expires_at=clock.now() - ago + timedelta(minutes=5), requested_ip=ip,
                               requested_subnet=subnet_of(ip)))
    db.session.commit()


def ask(clock, phone: str, ip: str, sender=None):  # type: ignore[no-untyped-def]
    """Ask for a register code and commit (the text is then delivered); the message id."""
    message_id = accounts.send_sms_code(db.session, sender or ConsoleSmsSender(), phone=phone, purpose="register",
                                        now=clock.now(), secret_key=SECRET_KEY, ip=ip)
    db.session.commit()
    return message_id


def counts() -> tuple[int, int]:
    db.session.rollback()
    return (db.session.scalar(select(func.count()).select_from(SmsCode)) or 0,
            db.session.scalar(select(func.count()).select_from(SmsMessage)) or 0)


CAPS = [
    # (cap code, past requests: (count, phone, ip, how long ago), the new request's phone and ip, message)
    ("sms_cap_phone", (10, "13800138000", "10.0.0.{i}", timedelta(hours=20)), ("13800138000", "10.9.9.9"),
     "该手机号今天获取验证码次数过多，请明天再试。"),
    ("sms_cap_ip", (40, "1390000{i:04d}", "203.0.113.7", timedelta(hours=20)), ("13700137000", "203.0.113.7"),
     "您的网络今天获取验证码次数过多，请明天再试。"),
    ("sms_cap_subnet", (30, "1390000{i:04d}", "198.51.100.{i}", timedelta(minutes=30)), ("13700137000", "198.51.100.250"),
     "您所在的网络获取验证码太频繁，请一小时后再试。"),
    ("sms_cap_subnet", (120, "13{i:09d}", "198.51.100.{i}", timedelta(hours=5)), ("13700137000", "198.51.100.250"),
     "您所在的网络今天获取验证码次数过多，请明天再试。"),
    ("sms_cap_subnet", (30, "1390000{i:04d}", "2001:db8:1:2::{i:x}", timedelta(minutes=30)),
     ("13700137000", "2001:db8:1:2:ffff::1"), "您所在的网络获取验证码太频繁，请一小时后再试。"),
    ("sms_cap_prefix", (20, "1860531{i:04d}", "192.0.{i}.1", timedelta(minutes=30)), ("18605319999", "10.1.1.1"),
     "该号段获取验证码太频繁，请一小时后再试。"),
    ("sms_cap_prefix", (100, "1860531{i:04d}", "192.0.{i}.1", timedelta(hours=5)), ("18605319999", "10.1.1.1"),
     "该号段今天获取验证码次数过多，请明天再试。"),
]


@pytest.mark.parametrize(("code", "past", "new", "message"), CAPS)
def test_each_cap_refuses_the_next_request_and_stores_nothing(app, clock, code, past, new, message) -> None:  # type: ignore[no-untyped-def]
    n, phone, ip, ago = past
    for i in range(n):
        past_requests(clock, 1, phone=phone.format(i=i), ip=ip.format(i=i % 250), ago=ago)
    # one fewer would pass: the cap counts the requests inside its window only
    before = counts()
    with pytest.raises(accounts.SmsRefused) as refused:
        ask(clock, *new)
    assert (refused.value.code, refused.value.message, refused.value.status) == (code, message, 429)
    assert counts() == before


def test_requests_outside_the_window_do_not_count(app, clock) -> None:
    for i in range(30):
        past_requests(clock, 1, phone=f"1390000{i:04d}", ip=f"198.51.100.{i}", ago=timedelta(minutes=61))
    message_id = ask(clock, "13700137000", "198.51.100.250")
    assert counts() == (31, 1)
    # the console sender delivered it as soon as the request committed
    message = db.session.get(SmsMessage, message_id)
    assert message is not None
    assert (message.state, message.provider, message.attempts, message.kind) == ("sent", "console", 1, "register_code")


def test_other_networks_and_prefixes_are_not_held_back(app, clock) -> None:
    for i in range(30):
        past_requests(clock, 1, phone=f"1390000{i:04d}", ip=f"198.51.100.{i}")
    assert ask(clock, "13700137000", "198.51.101.1") is not None  # the next /24
    assert ask(clock, "13700137001", "2001:db8::1") is not None


def test_subnets_are_slash_24_and_slash_64() -> None:
    assert subnet_of("198.51.100.77") == "198.51.100.0/24"
    assert subnet_of("2001:db8:1:2:3:4:5:6") == "2001:db8:1:2::/64"
    assert subnet_of("::ffff:198.51.100.77") == "198.51.100.0/24"
    assert subnet_of("not an address") == ""


def test_the_daily_budget_stops_codes_and_alerts_the_organisers_once(app, clock) -> None:
    sender = ConsoleSmsSender(daily_budget=2)
    assert ask(clock, "13700137001", "10.0.0.1", sender) is not None
    assert ask(clock, "13700137002", "10.0.0.2", sender) is not None
    before = counts()
    for phone in ("13700137003", "13700137004"):
        with pytest.raises(accounts.SmsRefused) as refused:
            ask(clock, phone, "10.0.0.3", sender)
        assert refused.value.code == "sms_budget"
        assert refused.value.message == "今天的短信发送量已达上限，暂时无法发送验证码，请明天再试或联系主办方。"
        db.session.commit()  # what the refusal keeps (views: web.settle_failure)
    assert counts() == before
    [alert] = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "sms.budget_exhausted"))
    assert (alert.actor_id, alert.target_id, alert.after) == (None, "2023-05-16", {"budget": 2})

    # notices past the budget stay on the site, without a text message
    user = accounts.create_user(db.session, phone="13700137009", password="Spring2023go", roles=["citizen"],
                                now=clock.now())
    accounts.notify(db.session, sender, user=user, body="您的作品已通过审核。", now=clock.now())
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(Notice)) == 1
    assert counts()[1] == before[1]

    # a new day (Asia/Shanghai) has a new budget
    clock.advance(hours=14)
    assert ask(clock, "13700137005", "10.0.0.5", sender) is not None


def test_a_cap_refusal_on_the_page_is_a_429_with_the_message(app, client, clock) -> None:
    for i in range(10):
        past_requests(clock, 1, phone="13800138000", ip=f"10.0.0.{i}", ago=timedelta(hours=3))
    response = request_code(client, "13800138000")
    assert response.status_code == 429
    assert "该手机号今天获取验证码次数过多，请明天再试。" in html(response)


def test_the_budget_on_the_page(app, client, clock) -> None:
    app.extensions["sms_sender"] = ConsoleSmsSender(daily_budget=0)
    response = request_code(client, "13800138000")
    assert response.status_code == 429
    assert "今天的短信发送量已达上限" in html(response)
    assert counts() == (0, 0)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "sms.budget_exhausted")) == 1


# --- settings ---------------------------------------------------------------------------------

@pytest.mark.parametrize("provider", ["aliyun", "tencent"])
@pytest.mark.parametrize(("change", "named"), [
    ({"sms_access_key_id": ""}, "SMS_ACCESS_KEY_ID"),
    ({"sms_access_key_secret": ""}, "SMS_ACCESS_KEY_SECRET"),
    ({"sms_sign_name": ""}, "SMS_SIGN_NAME"),
    ({"sms_region": ""}, "SMS_REGION"),
    ({"sms_templates": {"register_code": "1", "reset_code": "2", "already_registered": "3"}}, "SMS_TEMPLATE_NOTICE"),
    ({"sms_access_key_id": "wrong-key-id"}, "SMS_ACCESS_KEY_ID"),
    ({"sms_access_key_secret": "short"}, "SMS_ACCESS_KEY_SECRET"),
    ({"sms_sign_name": "【济南职教】"}, "SMS_SIGN_NAME"),
    ({"sms_region": "Hangzhou"}, "SMS_REGION"),
    ({"sms_endpoint": "https://sms.example.cn/"}, "SMS_ENDPOINT"),
])
def test_a_missing_or_malformed_gateway_setting_is_named(tmp_path: Path, provider: str, change: dict, named: str) -> None:  # type: ignore[type-arg]
    settings = gateway_settings(provider, "", tmp_path)
    with pytest.raises(ConfigError) as error:
        settings.override(change).with_defaults()
    assert named in str(error.value)
    assert SECRET not in str(error.value) and SECRET not in repr(settings)


def test_each_gateway_checks_its_own_id_formats(tmp_path: Path) -> None:
    settings = gateway_settings("tencent", "", tmp_path)
    with pytest.raises(ConfigError, match="SMS_TEMPLATE_REGISTER_CODE"):
        settings.override({"sms_templates": {**settings.sms_templates, "register_code": "SMS_465401"}}).with_defaults()
    with pytest.raises(ConfigError, match="SMS_SDK_APP_ID"):
        settings.override({"sms_sdk_app_id": ""}).with_defaults()
    with pytest.raises(ConfigError, match="SMS_SDK_APP_ID"):
        settings.override({"sms_sdk_app_id": "app-1"}).with_defaults()


def test_settings_come_from_the_environment(tmp_path: Path) -> None:
    environ = {
        "SMS_BACKEND": "aliyun", "SMS_ACCESS_KEY_ID": "LTAI5tQ3exampleKey1234", "SMS_ACCESS_KEY_SECRET": SECRET,
        "SMS_SIGN_NAME": "济南职教", "SMS_REGION": "cn-hangzhou", "SMS_TEMPLATE_REGISTER_CODE": "SMS_1001",
        "SMS_TEMPLATE_RESET_CODE": "SMS_1002", "SMS_TEMPLATE_ALREADY_REGISTERED": "SMS_1003",
        "SMS_TEMPLATE_NOTICE": "SMS_1004", "SMS_DAILY_BUDGET": "500", "SMS_TIMEOUT": "4",
    }
    settings = Settings.from_env(environ, str(tmp_path)).with_defaults()
    assert settings.sms_templates["notice"] == "SMS_1004"
    assert (settings.sms_daily_budget, settings.sms_timeout, settings.sms_protocol) == (500, 4.0, "https")
    for name, value in (("SMS_DAILY_BUDGET", "many"), ("SMS_TIMEOUT", "soon")):
        with pytest.raises(ConfigError, match=name):
            Settings.from_env({**environ, name: value}, str(tmp_path))
    with pytest.raises(ConfigError, match="SMS_BACKEND"):
        Settings.from_env({"SMS_BACKEND": "carrier-pigeon"}, str(tmp_path)).with_defaults()


def test_production_refuses_plain_http_to_the_gateway(tmp_path: Path) -> None:
    settings = gateway_settings("aliyun", "127.0.0.1:9", tmp_path)
    with pytest.raises(ConfigError, match="SMS_PROTOCOL"):
        from contest.config import _check_sms
        _check_sms(settings.override({"env": "production"}))


def test_the_app_starts_with_a_gateway_sender(tmp_path: Path) -> None:
    app = create_app(gateway_settings("tencent", "127.0.0.1:9", tmp_path))
    assert app.extensions["sms_sender"].name == "tencent"
