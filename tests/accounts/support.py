"""Small helpers shared by the accounts tests: the flows a browser goes through,
and fresh reads of what the database holds."""

from __future__ import annotations

import itertools
import re
from typing import Any

from flask import current_app
from flask.testing import FlaskClient
from sqlalchemy import func, select

from contest.accounts import service as accounts
from contest.accounts.models import AuditEvent, SmsCode, SmsMessage, User
from contest.errors import DomainError
from contest.extensions import db
from tests.conftest import submit

REGISTER = "/account/register"
LOGIN = "/account/login"
RESET = "/account/reset"
SMS_CODE = "/account/sms-code"
LOGOUT = "/account/logout"
STRONG_PASSWORD = "Spring2023go"
NEW_PASSWORD = "Autumn2024ok"

BAD_PHONE = "请输入正确的 11 位中国大陆手机号码。"
BAD_CODE = "验证码错误或已失效，请重新获取。"
PHONE_TAKEN = "该手机号已注册，请直接登录或找回密码。"
BAD_CREDENTIALS = "手机号或密码错误。"
MISMATCH = "两次输入的密码不一致。"
CSRF_MESSAGE = "页面已过期或来源不明，请刷新页面后重新提交。"

_addresses = itertools.count(1)


def html(response: Any) -> str:
    return response.get_data(as_text=True)


def fresh_address() -> str:
    """A client address of its own, so per-address limits stay out of a test's way."""
    n = next(_addresses)
    return f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"


def request_code(client: FlaskClient, phone: str, purpose: str = "register", ip: str | None = None) -> Any:
    """Ask for an SMS code from the register (or reset) page's first form."""
    page = REGISTER if purpose == "register" else RESET
    return submit(client, page, {"phone": phone, "purpose": purpose}, action=SMS_CODE,
                  environ_base={"REMOTE_ADDR": ip or fresh_address()})


def sent_code(phone: str) -> str:
    """The code in the latest text message delivered to this phone."""
    messages = outbox(phone)
    assert messages, f"no SMS was sent to {phone}"
    match = re.search(r"验证码是 (\d{6})", messages[0].body)
    assert match, messages[0].body
    return match.group(1)


def other_code(code: str) -> str:
    """A well-formed code that is not this one."""
    return f"{(int(code) + 1) % 1_000_000:06d}"


# What a person who ticks both consent boxes of the registration form posts with it.
CONSENT = {"accept_terms": "y", "accept_privacy": "y", "terms_version": accounts.TERMS_VERSION}


def register(client: FlaskClient, phone: str, code: str, password: str = STRONG_PASSWORD,
             confirm: str | None = None, display_name: str = "", consent: dict[str, str] | None = None) -> Any:
    return submit(client, REGISTER, {"phone": phone, "code": code, "display_name": display_name,
                                     "password": password, "confirm": password if confirm is None else confirm,
                                     **(CONSENT if consent is None else consent)})


def reset(client: FlaskClient, phone: str, code: str, password: str = NEW_PASSWORD, confirm: str | None = None) -> Any:
    return submit(client, RESET, {"phone": phone, "code": code, "password": password,
                                  "confirm": password if confirm is None else confirm})


def log_in(client: FlaskClient, phone: str, password: str, url: str = LOGIN, **extra: Any) -> Any:
    return submit(client, url, {"phone": phone, "password": password, **extra})


def signed_in_as(client: FlaskClient) -> str | None:
    """The name the page header shows for the signed-in user, or None for a visitor."""
    page = html(client.get("/"))
    match = re.search(r'<span class="who">([^<]*)</span>', page)
    if match:
        assert 'action="/account/logout"' in page
        return match.group(1)
    assert 'href="/account/login' in page
    return None


# --- what the database holds (committed state: the test's session is reset first) ---

def _fresh() -> None:
    db.session.rollback()


def find_user(phone: str) -> User | None:
    _fresh()
    return db.session.scalar(select(User).where(User.phone == phone))


def user_count() -> int:
    _fresh()
    return db.session.scalar(select(func.count()).select_from(User)) or 0


def sms_codes(phone: str | None = None) -> list[SmsCode]:
    """Code rows, newest first."""
    _fresh()
    query = select(SmsCode).order_by(SmsCode.id.desc())
    if phone:
        query = query.where(SmsCode.phone == phone)
    return list(db.session.scalars(query))


def outbox(phone: str | None = None) -> list[SmsMessage]:
    """Delivered text messages, newest first."""
    _fresh()
    query = select(SmsMessage).order_by(SmsMessage.id.desc())
    if phone:
        query = query.where(SmsMessage.phone == phone)
    return list(db.session.scalars(query))


def audit_events(action: str | None = None) -> list[AuditEvent]:
    _fresh()
    query = select(AuditEvent).order_by(AuditEvent.id)
    if action:
        query = query.where(AuditEvent.action == action)
    return list(db.session.scalars(query))


def message_context():  # type: ignore[no-untyped-def]
    """A request context for calling services directly.

    Services translate their messages, and the app's locale selector reads the request's
    cookies, so outside a request (the CLI, these tests) a refusal cannot even build its
    message. Reported; until the selector copes, service calls here run in a request.
    """
    return current_app.test_request_context()


def password_works(phone: str, password: str) -> bool:
    _fresh()
    with message_context():
        try:
            accounts.authenticate(db.session, phone=phone, password=password)
        except DomainError:
            return False
        finally:
            db.session.rollback()
    return True
