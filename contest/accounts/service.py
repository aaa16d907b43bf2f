"""Accounts: registration by phone, SMS codes, passwords, roles."""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
import unicodedata
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound, TooMany
from ..i18n import _
from . import audit
from .models import ROLES, Notice, SmsCode, SmsMessage, User, UserRole
from .sms import SmsSender

CODE_TTL = timedelta(minutes=5)
CODE_MAX_ATTEMPTS = 5
CODE_RESEND_AFTER = timedelta(seconds=60)
# ASCII digits only: `\d` would also accept other scripts' digits and let one number
# be registered twice under different spellings.
PHONE_RE = re.compile(r"^1[3-9][0-9]{9}$")
COMMON_PASSWORDS = frozenset({
    "12345678", "123456789", "1234567890", "password", "password1", "qwerty123", "abc12345",
    "11111111", "88888888", "00000000", "a1234567", "aa123456", "woaini1314", "iloveyou",
    "1qaz2wsx", "qwertyuiop", "abcd1234", "12341234", "5201314a", "passw0rd",
})

_hasher = PasswordHasher()


class CodeRejected(DomainError):
    """A wrong, expired or used code. The attempt counter it bumped must be kept."""

    status = 400
    code = "sms_code_invalid"
    keep_changes = True


def normalize_phone(raw: str) -> str:
    """A mainland mobile number as 11 digits, or InvalidInput."""
    # NFKC turns the full-width digits and plus sign of Chinese input methods into ASCII.
    phone = re.sub(r"[\s-]", "", unicodedata.normalize("NFKC", raw or ""))
    if phone.startswith("+86"):
        phone = phone[3:]
    elif phone.startswith("0086"):
        phone = phone[4:]
    if not PHONE_RE.fullmatch(phone):
        raise InvalidInput(_("请输入正确的 11 位中国大陆手机号码。"), code="invalid_phone", field="phone")
    return phone


def check_password_strength(password: str, phone: str = "") -> None:
    """Refuse passwords that are short, single-class, common or the phone number."""
    if len(password) < 8:
        raise InvalidInput(_("密码至少需要 8 位。"), code="weak_password", field="password")
    if len(password) > 128:
        raise InvalidInput(_("密码不能超过 128 位。"), code="weak_password", field="password")
    if not (re.search(r"[A-Za-z]", password) and re.search(r"\d", password)):
        raise InvalidInput(_("密码需同时包含字母和数字。"), code="weak_password", field="password")
    if password.lower() in COMMON_PASSWORDS or (phone and phone in password):
        raise InvalidInput(_("这个密码太常见或包含手机号，请换一个。"), code="weak_password", field="password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _code_hash(secret_key: str, phone: str, purpose: str, code: str) -> str:
    message = f"{phone}:{purpose}:{code}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()


def find_user_by_phone(session: Session, phone: str) -> User | None:
    """The account registered with this phone, if any."""
    return session.scalar(select(User).where(User.phone == phone))


def get_user(session: Session, user_id: int) -> User:
    """One account by id, or NotFound."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(_("账号不存在。"))
    return user


def load_session_user(session: Session, token: str) -> User | None:
    """The user behind a flask-login id `user_id:session_token`, if still valid."""
    user_id, _sep, session_token = token.partition(":")
    if not user_id.isdigit() or not session_token:
        return None
    user = session.get(User, int(user_id))
    if user is None or not hmac.compare_digest(user.session_token, session_token):
        return None
    return user


def send_sms_code(
    session: Session, sender: SmsSender, *, phone: str, purpose: str, now: datetime,
    secret_key: str, ip: str = "",
) -> None:
    """Send a fresh 6-digit code (replacing any earlier one) for registering or a reset."""
    phone = normalize_phone(phone)
    if purpose not in ("register", "reset"):
        raise InvalidInput(_("未知的验证码用途。"))
    registered = find_user_by_phone(session, phone) is not None
    if purpose == "register" and registered:
        raise Conflict(_("该手机号已注册，请直接登录或找回密码。"), code="phone_taken", field="phone")
    latest = session.scalar(
        select(SmsCode.created_at)
        .where(SmsCode.phone == phone, SmsCode.purpose == purpose)
        .order_by(SmsCode.created_at.desc()).limit(1)
    )
    if latest is not None and now - latest < CODE_RESEND_AFTER:
        wait = max(1, math.ceil((CODE_RESEND_AFTER - (now - latest)).total_seconds()))
        raise TooMany(_("验证码已发送，请 %(seconds)s 秒后再试。", seconds=wait), code="sms_too_soon")
    # Earlier codes for the same purpose stop working.
    session.execute(
        update(SmsCode)
        .where(SmsCode.phone == phone, SmsCode.purpose == purpose, SmsCode.used_at.is_(None))
        .values(used_at=now)
    )
    code = f"{secrets.randbelow(10**6):06d}"
    session.add(SmsCode(
        phone=phone, purpose=purpose, code_hash=_code_hash(secret_key, phone, purpose, code),
        created_at=now, expires_at=now + CODE_TTL, requested_ip=ip[:45],
    ))
    # A reset code for an unknown number is not sent, but the caller cannot tell:
    # the answer is the same, so the form does not reveal who is registered.
    if purpose == "reset" and not registered:
        return
    what = _("注册") if purpose == "register" else _("重置密码")
    sender.send(session, phone, _("【济南职教活动周】您的%(what)s验证码是 %(code)s，5 分钟内有效，请勿告诉他人。", what=what, code=code), now)
    session.flush()


def consume_sms_code(session: Session, *, phone: str, purpose: str, code: str, now: datetime, secret_key: str) -> None:
    """Accept a code once: it must be the latest, unexpired, unused and within few attempts."""
    row = session.scalar(
        select(SmsCode)
        .where(SmsCode.phone == phone, SmsCode.purpose == purpose, SmsCode.used_at.is_(None))
        .order_by(SmsCode.created_at.desc()).limit(1)
        .with_for_update()
    )
    invalid = _("验证码错误或已失效，请重新获取。")
    if row is None:
        raise CodeRejected(invalid, field="code")
    if row.expires_at <= now:
        raise CodeRejected(_("验证码已过期（有效期 5 分钟），请重新获取。"), field="code")
    if row.attempts >= CODE_MAX_ATTEMPTS:
        row.used_at = now
        raise CodeRejected(_("验证码错误次数过多，请重新获取。"), field="code")
    expected = _code_hash(secret_key, phone, purpose, (code or "").strip())
    if not hmac.compare_digest(row.code_hash, expected):
        row.attempts += 1
        if row.attempts >= CODE_MAX_ATTEMPTS:
            row.used_at = now
        raise CodeRejected(invalid, field="code")
    # Compare-and-set: of two requests racing with the same code only one wins.
    result = session.execute(
        update(SmsCode).where(SmsCode.id == row.id, SmsCode.used_at.is_(None)).values(used_at=now)
    )
    if result.rowcount != 1:
        raise CodeRejected(invalid, field="code")


def register_user(
    session: Session, *, phone: str, code: str, password: str, display_name: str, now: datetime, secret_key: str,
) -> User:
    """Create a verified citizen account from a phone, its SMS code and a password."""
    phone = normalize_phone(phone)
    display_name = (display_name or "").strip()
    if len(display_name) > 20:
        raise InvalidInput(_("昵称不能超过 20 个字。"), field="display_name")
    check_password_strength(password, phone)
    if find_user_by_phone(session, phone) is not None:
        raise Conflict(_("该手机号已注册，请直接登录或找回密码。"), code="phone_taken", field="phone")
    consume_sms_code(session, phone=phone, purpose="register", code=code, now=now, secret_key=secret_key)
    user = _new_user(phone, password, display_name, now, verified=True)
    user.roles.append(UserRole(role="citizen", granted_at=now))
    session.add(user)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict(_("该手机号已注册，请直接登录或找回密码。"), code="phone_taken", field="phone") from None
    return user


def _new_user(phone: str, password: str, display_name: str, now: datetime, *, verified: bool) -> User:
    return User(
        phone=phone, password_hash=hash_password(password), display_name=display_name,
        phone_verified_at=now if verified else None, created_at=now, session_token=secrets.token_hex(16),
        is_active_account=True,
    )


def authenticate(session: Session, *, phone: str, password: str) -> User:
    """The account for these credentials; one message for unknown phone and wrong password."""
    wrong = InvalidInput(_("手机号或密码错误。"), code="bad_credentials")
    try:
        phone = normalize_phone(phone)
    except InvalidInput:
        raise wrong from None
    user = find_user_by_phone(session, phone)
    if user is None:
        _hasher.hash(password or "x")  # same work either way: no timing oracle for registered numbers
        raise wrong
    try:
        _hasher.verify(user.password_hash, password or "")
    except (VerificationError, InvalidHashError):
        raise wrong from None
    if not user.is_active_account:
        raise Forbidden(_("该账号已停用，请联系组织者。"), code="account_disabled")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def reset_password(session: Session, *, phone: str, code: str, password: str, now: datetime, secret_key: str) -> User:
    """Set a new password after an SMS code; every earlier session is logged out."""
    phone = normalize_phone(phone)
    check_password_strength(password, phone)
    consume_sms_code(session, phone=phone, purpose="reset", code=code, now=now, secret_key=secret_key)
    user = find_user_by_phone(session, phone)
    if user is None:  # a code for an unknown number is never sent, so this cannot match
        raise CodeRejected(_("验证码错误或已失效，请重新获取。"), field="code")
    user.password_hash = hash_password(password)
    user.session_token = secrets.token_hex(16)
    user.phone_verified_at = user.phone_verified_at or now
    session.flush()
    return user


def create_user(
    session: Session, *, phone: str, password: str, roles: list[str], now: datetime, display_name: str = "",
    check_strength: bool = True,
) -> User:
    """Create an account directly (operators, demo data): verified, with the given roles."""
    phone = normalize_phone(phone)
    if check_strength:
        check_password_strength(password, phone)
    if find_user_by_phone(session, phone) is not None:
        raise Conflict(_("该手机号已注册，请直接登录或找回密码。"), code="phone_taken")
    user = _new_user(phone, password, display_name, now, verified=True)
    for role in sorted(set(roles or ["citizen"])):
        _check_role(role)
        user.roles.append(UserRole(role=role, granted_at=now))
    session.add(user)
    session.flush()
    return user


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise InvalidInput(_("未知角色：%(role)s", role=role))


# Which roles an actor may hand out or take away.
GRANTABLE_BY = {"admin": set(ROLES), "organiser": {"school_contact", "judge"}}


def grantable_roles(actor: User) -> set[str]:
    """The roles this actor may grant or revoke."""
    allowed: set[str] = set()
    for role in actor.role_names:
        allowed |= GRANTABLE_BY.get(role, set())
    return allowed


def set_roles(
    session: Session, *, actor: User | None, user: User, roles: set[str], now: datetime, ip: str = "",
) -> tuple[list[str], list[str]]:
    """Make the user's roles equal `roles` within what the actor may change (audit-logged); returns (before, after).

    `actor=None` is an operator at the command line, who may change everything.
    """
    for role in roles:
        _check_role(role)
    before = sorted(user.role_names)
    allowed = set(ROLES) if actor is None else grantable_roles(actor)
    changing = (set(before) ^ roles)
    if not changing <= allowed:
        raise Forbidden(_("您无权更改这些角色：%(roles)s", roles="、".join(sorted(changing - allowed))))
    if actor is not None and actor.id == user.id and "admin" in before and "admin" not in roles:
        raise Forbidden(_("不能撤销自己的管理员角色。"))
    for link in list(user.roles):
        if link.role not in roles:
            user.roles.remove(link)
    for role in sorted(roles - set(before)):
        user.roles.append(UserRole(role=role, granted_at=now))
    session.flush()
    after = sorted(roles)
    if before != after:
        audit.record(session, actor=actor, action="user.roles", target_type="user", target_id=user.id, now=now,
                     before={"roles": before}, after={"roles": after}, summary=user.masked_phone, ip=ip)
    return before, after


def require_role(actor: User | None, *roles: str) -> User:
    """The actor, if signed in with one of these roles; otherwise Forbidden."""
    if actor is None or not getattr(actor, "is_authenticated", False) or not actor.has_role(*roles):
        raise Forbidden(_("您没有权限进行此操作。"))
    return actor


def search_users(session: Session, *, phone_prefix: str = "", role: str = "", limit: int = 50, offset: int = 0) -> tuple[list[User], int]:
    """Accounts filtered by phone prefix and role, newest first, with the total count."""
    query = select(User)
    if phone_prefix:
        query = query.where(User.phone.startswith(re.sub(r"\D", "", phone_prefix)[:11]))
    if role:
        query = query.where(User.roles.any(UserRole.role == role))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    users = list(session.scalars(query.order_by(User.id.desc()).limit(limit).offset(offset)))
    return users, total


def outbox(session: Session, *, phone: str | None = None, limit: int = 20) -> list[SmsMessage]:
    """The console sender's latest messages, newest first."""
    query = select(SmsMessage).order_by(SmsMessage.id.desc()).limit(limit)
    if phone:
        query = query.where(SmsMessage.phone == phone)
    return list(session.scalars(query))


def notify(session: Session, sender: SmsSender, *, user: User, body: str, now: datetime, link: str = "", sms: bool = True) -> None:
    """Tell a user something: a notice on the site and, unless sms=False, a text message."""
    session.add(Notice(user_id=user.id, body=body[:500], link=link[:200], created_at=now))
    if sms:
        sender.send(session, user.phone, f"【济南职教活动周】{body}"[:500], now)


def unread_notices(session: Session, user: User, *, limit: int = 20) -> list[Notice]:
    """The user's latest notices, unread first."""
    return list(session.scalars(
        select(Notice).where(Notice.user_id == user.id)
        .order_by(Notice.read_at.is_not(None), Notice.id.desc()).limit(limit)
    ))


def unread_notice_count(session: Session, user: User) -> int:
    """How many of the user's notices are unread (one COUNT query)."""
    return session.scalar(
        select(func.count()).select_from(Notice).where(Notice.user_id == user.id, Notice.read_at.is_(None))
    ) or 0


def mark_notices_read(session: Session, user: User, now: datetime) -> int:
    """Mark all of the user's unread notices read; returns how many were unread."""
    result = session.execute(
        update(Notice).where(Notice.user_id == user.id, Notice.read_at.is_(None)).values(read_at=now)
    )
    return result.rowcount or 0
