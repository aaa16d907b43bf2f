"""Accounts: registration by phone, SMS codes, passwords, roles."""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import re
import secrets
import unicodedata
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import scoped_session

from ..db import SessionLike, rowcount
from ..errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound, TooMany
from ..i18n import N_, _, code_labels, label_of
from . import audit
from .actors import Actor, is_system
from .login_guard import FailureCounters as FailureCounters  # re-exported: the API counts sign-in failures too
from .login_guard import in_memory_windows as in_memory_windows  # for create_app
from .models import ROLES, LoginSession, Notice, SmsCode, SmsMessage, User, UserRole
from .outbox import SEND_FAILED as SEND_FAILED  # the page that asked for a code shows it
from .outbox import Queued as Queued  # the app's sender: its messages go through the job runner
from .outbox import SmsRefused as SmsRefused
from .outbox import check_code_caps, subnet_of
from .outbox import deliver as deliver  # for the job runner: deliver one message
from .outbox import delivery_failed as delivery_failed
from .outbox import delivery_settled as delivery_settled
from .outbox import describe_sms as describe_sms  # for organisers' listings
from .outbox import due_for_retry as due_for_retry  # for the job runner: what to retry
from .outbox import queue_sms as queue_sms  # for the job runner: queue a message
from .sms import SmsSender as SmsSender  # the type of web.sms_sender(), for callers of notify
from .units import is_city_staff

log = logging.getLogger(__name__)

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

# A sign-in lasts at most as long as the remember-me cookie (REMEMBER_COOKIE_DURATION);
# a browser's session cookie alone usually ends sooner.
SIGN_IN_TTL = timedelta(days=30)
LAST_SEEN_EVERY = timedelta(minutes=5)
SIGN_IN_TOKEN_MAX_LENGTH = 100

# The version of the user agreement and the privacy policy (templates/site/terms.html,
# privacy.html), stored with each registration's consent. Change it whenever either
# document changes: a registration form showing an older version is then refused.
TERMS_VERSION = "2023-05-10"

_hasher = PasswordHasher()


class CodeRejected(DomainError):
    """A wrong, expired or used code. The attempt counter it bumped must be kept."""

    status = 400
    code = "sms_code_invalid"
    keep_changes = True


class BadCredentials(InvalidInput):
    """Unknown phone or wrong password (one message for both). `captcha_required` says
    whether the next try needs a captcha."""

    code = "bad_credentials"
    captcha_required = False


class LoginCaptchaRequired(Forbidden):
    """Signing in to this phone needs a solved captcha (code captcha_required), or the one
    given was wrong or spent (captcha_invalid)."""

    code = "captcha_required"


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


def find_user_by_phone(session: SessionLike, phone: str) -> User | None:
    """The account registered with this phone, if any."""
    return session.scalar(select(User).where(User.phone == phone))


def get_user(session: SessionLike, user_id: int) -> User:
    """One account by id, or NotFound."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(_("账号不存在。"))
    return user


def users_by_id(session: SessionLike, user_ids: Iterable[int | None]) -> dict[int, User]:
    """The accounts with these ids (None and 0 skipped), by id, in one query."""
    wanted = {i for i in user_ids if i}
    return {u.id: u for u in session.scalars(select(User).where(User.id.in_(wanted)))} if wanted else {}


def _token_digest(token: str) -> str:
    # The secret is 256 random bits: a plain digest is enough, no salt or slow hash.
    return hashlib.sha256(token.encode()).hexdigest()


def open_login_session(
    session: SessionLike, *, user: User, now: datetime, remember: bool = False, ip: str = "", user_agent: str = "",
) -> str:
    """Start a sign-in for one browser; returns its secret, which is also the user's flask-login id now."""
    token = secrets.token_urlsafe(32)
    session.add(LoginSession(
        user_id=user.id, token_hash=_token_digest(token), remember=remember, created_at=now, last_seen_at=now,
        expires_at=now + SIGN_IN_TTL, ip=ip[:45], user_agent=user_agent[:300],
    ))
    session.flush()
    user.sign_in_token = token
    return token


# The account and the sign-in's checked columns in one query, by the unique token digest.
_LIVE_SIGN_IN = (
    select(User, LoginSession.id, LoginSession.last_seen_at, LoginSession.expires_at)
    .join(LoginSession, LoginSession.user_id == User.id)
    .where(LoginSession.token_hash == bindparam("digest"), LoginSession.revoked_at.is_(None))
)


def load_session_user(session: SessionLike, token: str, *, now: datetime) -> User | None:
    """The active user of a live sign-in, from the id flask-login keeps in the session or
    the remember-me cookie; None once that sign-in is revoked or expired."""
    if not token or len(token) > SIGN_IN_TOKEN_MAX_LENGTH:
        return None  # ids of the earlier `user_id:session_token` form end here too
    row = session.execute(_LIVE_SIGN_IN, {"digest": _token_digest(token)}).first()
    if row is None:
        return None
    user, sign_in_id, last_seen_at, expires_at = row
    if expires_at <= now or not user.is_active_account:
        return None
    if now - last_seen_at >= LAST_SEEN_EVERY:
        _note_seen(session, sign_in_id, now)
    user.sign_in_token = token
    return user


def _note_seen(session: SessionLike, sign_in_id: int, now: datetime) -> None:
    """Record that a sign-in was used, on a connection of its own: most pages write
    nothing and commit nothing, and the note must not wait for or join their transaction."""
    bind = session.get_bind()
    engine = bind.engine if isinstance(bind, Connection) else bind
    real = session.registry() if isinstance(session, scoped_session) else session
    if engine.dialect.name == "sqlite" and real.in_transaction():
        dbapi_connection = real.connection().connection.dbapi_connection
        if getattr(dbapi_connection, "in_transaction", False):
            return  # this request holds SQLite's one write lock: a later page notes it
    try:
        with engine.begin() as connection:
            connection.execute(update(LoginSession).where(LoginSession.id == sign_in_id).values(last_seen_at=now))
    except SQLAlchemyError as exc:
        log.warning("could not note a sign-in as seen (%s)", exc)


def end_login_session(session: SessionLike, *, token: str, now: datetime) -> bool:
    """Revoke one sign-in (logging out on this browser); True if it was live."""
    if not token or len(token) > SIGN_IN_TOKEN_MAX_LENGTH:
        return False
    result = session.execute(
        update(LoginSession)
        .where(LoginSession.token_hash == _token_digest(token), LoginSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return bool(rowcount(result))


def end_all_login_sessions(session: SessionLike, *, user: User, now: datetime) -> int:
    """Revoke every sign-in of the account on every browser, and its API tokens; returns
    how many sign-ins were live."""
    result = session.execute(
        update(LoginSession)
        .where(LoginSession.user_id == user.id, LoginSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    # API tokens carry a digest of the session token and die when it changes.
    user.session_token = secrets.token_hex(16)
    session.flush()
    return rowcount(result)


def live_login_sessions(session: SessionLike, *, user: User, now: datetime) -> list[LoginSession]:
    """The account's sign-ins that still work, most recently used first."""
    return list(session.scalars(
        select(LoginSession)
        .where(LoginSession.user_id == user.id, LoginSession.revoked_at.is_(None), LoginSession.expires_at > now)
        .order_by(LoginSession.last_seen_at.desc(), LoginSession.id.desc())
    ))


def is_current_sign_in(login_session: LoginSession, token: str | None) -> bool:
    """Whether this sign-in is the one the given secret belongs to."""
    return bool(token) and hmac.compare_digest(login_session.token_hash, _token_digest(token or ""))


# Ended sign-ins (revoked, or past their expiry) are kept this long: no page shows them, but
# the address and browser of a recent one help look into a report of a stolen account.
ENDED_SIGN_INS_KEPT = timedelta(days=7)
PRUNE_BATCH = 5_000


def prune_login_sessions(session: SessionLike, now: datetime, *, kept: timedelta = ENDED_SIGN_INS_KEPT,
                         batch: int = PRUNE_BATCH) -> int:
    """Delete sign-ins revoked or expired more than `kept` ago, `batch` rows per short
    transaction (commits after each); returns how many were deleted."""
    cutoff = now - kept
    ended = (LoginSession.revoked_at < cutoff) | (LoginSession.expires_at < cutoff)
    removed, after = 0, 0
    while True:
        # Walking up the primary key, each batch starts where the last one stopped instead
        # of scanning again the live rows it passed.
        ids = list(session.scalars(
            select(LoginSession.id).where(LoginSession.id > after, ended).order_by(LoginSession.id).limit(batch)))
        if not ids:
            return removed
        session.execute(delete(LoginSession).where(LoginSession.id.in_(ids)))
        session.commit()
        removed += len(ids)
        after = ids[-1]


def send_sms_code(
    session: SessionLike, sender: SmsSender, *, phone: str, purpose: str, now: datetime,
    secret_key: str, ip: str = "",
) -> int | None:
    """Send a fresh 6-digit code (replacing any earlier one) for registering or a reset;
    returns the id of the queued text message (None when none is sent), delivered once
    the caller commits.

    The caller cannot tell whether the number is registered: the same work is done and
    the same answer given either way. Only the phone's owner learns it, from the text:
    a registered number asked for a register code is told to sign in or reset instead,
    and an unregistered number asked for a reset code gets nothing.
    """
    phone = normalize_phone(phone)
    if purpose not in ("register", "reset"):
        raise InvalidInput(_("未知的验证码用途。"))
    # Before anything is written: a refusal keeps what it recorded (the budget alert).
    check_code_caps(session, sender, phone=phone, ip=ip, now=now)
    # The id alone: loading the account (and its roles) would be extra work that only
    # a registered number causes.
    registered = session.scalar(select(User.id).where(User.phone == phone)) is not None
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
    # A code row is stored in every case, so the resend wait and the limits behave the
    # same whoever owns the number. A code that is not sent is stored as a random digest
    # that no typed code can match.
    sent = registered if purpose == "reset" else not registered
    code = f"{secrets.randbelow(10**6):06d}"
    code_hash = _code_hash(secret_key, phone, purpose, code) if sent else secrets.token_hex(32)
    session.add(SmsCode(
        phone=phone, purpose=purpose, code_hash=code_hash,
        created_at=now, expires_at=now + CODE_TTL, requested_ip=ip[:45], requested_subnet=subnet_of(ip),
    ))
    message = None
    if purpose == "register" and registered:
        message = queue_sms(session, sender, phone=phone, kind="already_registered", params={}, now=now)
    elif sent:
        message = queue_sms(session, sender, phone=phone, kind=f"{purpose}_code", params={"code": code}, now=now)
    session.flush()
    return message.id if message is not None else None


def consume_sms_code(session: SessionLike, *, phone: str, purpose: str, code: str, now: datetime, secret_key: str) -> None:
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
    if rowcount(result) != 1:
        raise CodeRejected(invalid, field="code")


def register_user(
    session: SessionLike, *, phone: str, code: str, password: str, display_name: str, now: datetime, secret_key: str,
    terms_version: str,
) -> User:
    """Create a verified citizen account from a phone, its SMS code and a password.

    `terms_version` is the version of the user agreement and privacy policy the person
    ticked their consent to; it must be the current TERMS_VERSION (else InvalidInput and
    nothing is stored, the code not even tried), and is stored with the time.

    The code is checked before anything about the number is said: only someone who
    received it can learn that the number is taken (and a registered number is never
    sent a register code, so that happens only when it was registered meanwhile).
    """
    if terms_version != TERMS_VERSION:
        raise InvalidInput(_("用户协议或隐私政策已更新，请阅读后重新勾选同意。"), code="terms_not_accepted",
                           field="accept_terms")
    phone = normalize_phone(phone)
    display_name = (display_name or "").strip()
    if len(display_name) > 20:
        raise InvalidInput(_("昵称不能超过 20 个字。"), field="display_name")
    check_password_strength(password, phone)
    consume_sms_code(session, phone=phone, purpose="register", code=code, now=now, secret_key=secret_key)
    if find_user_by_phone(session, phone) is not None:
        raise Conflict(_("该手机号已注册，请直接登录或找回密码。"), code="phone_taken", field="phone")
    user = _new_user(phone, password, display_name, now, verified=True)
    user.terms_version, user.terms_accepted_at = terms_version, now
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


def authenticate(session: SessionLike, *, phone: str, password: str) -> User:
    """The account for these credentials; one message for unknown phone and wrong password.

    No throttling here: sign-ins from outside go through `sign_in`.
    """
    wrong = BadCredentials(_("手机号或密码错误。"))
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


def sign_in(
    session: SessionLike, counters: FailureCounters | None, *, phone: str, password: str, address: str,
    captcha: Callable[[], bool] | None = None,
) -> User:
    """Check credentials behind the failure windows of login_guard: TooMany for a throttled
    phone-and-address or address, LoginCaptchaRequired when the phone needs a captcha and
    `captcha` (which checks the answer given, consuming it) is None or says no.

    `counters=None` (rate limiting switched off) checks the credentials alone.
    """
    if counters is None:
        return authenticate(session, phone=phone, password=password)
    try:
        normalized: str | None = normalize_phone(phone)
    except InvalidInput:
        normalized = None
    if counters.check(phone=normalized, address=address):
        if captcha is None:
            raise LoginCaptchaRequired(_("该手机号近期登录失败较多，请先完成图形验证码。"))
        if not captcha():
            raise LoginCaptchaRequired(_("验证码不正确或已过期，请换一张再试。"), code="captcha_invalid")
    try:
        return authenticate(session, phone=phone, password=password)
    except BadCredentials as exc:
        counters.record_failure(phone=normalized, address=address)
        exc.captcha_required = counters.captcha_required(normalized)
        raise


def reset_password(session: SessionLike, *, phone: str, code: str, password: str, now: datetime, secret_key: str) -> User:
    """Set a new password after an SMS code; every earlier session is logged out."""
    phone = normalize_phone(phone)
    check_password_strength(password, phone)
    consume_sms_code(session, phone=phone, purpose="reset", code=code, now=now, secret_key=secret_key)
    user = find_user_by_phone(session, phone)
    if user is None:  # a code for an unknown number is never sent, so this cannot match
        raise CodeRejected(_("验证码错误或已失效，请重新获取。"), field="code")
    user.password_hash = hash_password(password)
    end_all_login_sessions(session, user=user, now=now)
    user.phone_verified_at = user.phone_verified_at or now
    session.flush()
    return user


def create_user(
    session: SessionLike, *, phone: str, password: str, roles: list[str], now: datetime, display_name: str = "",
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
code_labels("audit_action", {"user.roles": N_("修改账号角色")})
code_labels("audit_target", {"user": N_("账号")})


def grantable_roles(actor: User) -> set[str]:
    """The roles this actor may grant or revoke."""
    allowed: set[str] = set()
    for role in actor.role_names:
        allowed |= GRANTABLE_BY.get(role, set())
    return allowed


def set_roles(
    session: SessionLike, *, actor: Actor, user: User, roles: set[str], now: datetime, ip: str = "",
) -> tuple[list[str], list[str]]:
    """Make the user's roles equal `roles` within what the actor may change (audit-logged); returns (before, after).

    SYSTEM (an operator at the command line, an accepted judge's invitation) may change everything.
    """
    for role in roles:
        _check_role(role)
    before = sorted(user.role_names)
    if is_system(actor):
        allowed, oneself = set(ROLES), False
    else:
        assert isinstance(actor, User)  # is_system refused anything else
        # Roles are platform-wide: only city staff (and operators) change them.
        allowed, oneself = grantable_roles(actor) if is_city_staff(actor) else set(), actor.id == user.id
    changing = (set(before) ^ roles)
    if not changing <= allowed:
        raise Forbidden(_("您无权更改这些角色：%(roles)s", roles="、".join(label_of("role", r) for r in sorted(changing - allowed))))
    if oneself and "admin" in before and "admin" not in roles:
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


def require_role(actor: Actor, *roles: str) -> User:
    """The actor, if a signed-in user with one of these roles; otherwise Forbidden (None
    too). SYSTEM holds no roles: a service that lets the system act skips this check for
    it (`if not is_system(actor): require_role(...)`)."""
    if not isinstance(actor, User) or not actor.is_authenticated or not actor.has_role(*roles):
        raise Forbidden(_("您没有权限进行此操作。"))
    return actor


def search_users(session: SessionLike, *, phone_prefix: str = "", role: str = "", limit: int = 50, offset: int = 0) -> tuple[list[User], int]:
    """Accounts filtered by phone prefix and role, newest first, with the total count."""
    query = select(User)
    if phone_prefix:
        query = query.where(User.phone.startswith(re.sub(r"\D", "", phone_prefix)[:11]))
    if role:
        query = query.where(User.roles.any(UserRole.role == role))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    users = list(session.scalars(query.order_by(User.id.desc()).limit(limit).offset(offset)))
    return users, total


def outbox(session: SessionLike, *, phone: str | None = None, limit: int = 20) -> list[SmsMessage]:
    """The latest text messages and their delivery, newest first."""
    query = select(SmsMessage).order_by(SmsMessage.id.desc()).limit(limit)
    if phone:
        query = query.where(SmsMessage.phone == phone)
    return list(session.scalars(query))


def notify(session: SessionLike, sender: SmsSender, *, user: User, body: str, now: datetime, link: str = "", sms: bool = True) -> None:
    """Tell a user something: a notice on the site and, unless sms=False, a text message."""
    session.add(Notice(user_id=user.id, body=body[:500], link=link[:200], created_at=now))
    if sms:
        # Past the day's budget the notice is on the site only (the organisers are alerted).
        queue_sms(session, sender, phone=user.phone, kind="notice", params={"body": body}, now=now)


def unread_notices(session: SessionLike, user: User, *, limit: int = 20) -> list[Notice]:
    """The user's latest notices, unread first."""
    return list(session.scalars(
        select(Notice).where(Notice.user_id == user.id)
        .order_by(Notice.read_at.is_not(None), Notice.id.desc()).limit(limit)
    ))


def unread_notice_count(session: SessionLike, user: User) -> int:
    """How many of the user's notices are unread (one COUNT query)."""
    return session.scalar(
        select(func.count()).select_from(Notice).where(Notice.user_id == user.id, Notice.read_at.is_(None))
    ) or 0


def mark_notices_read(session: SessionLike, user: User, now: datetime) -> int:
    """Mark all of the user's unread notices read; returns how many were unread."""
    result = session.execute(
        update(Notice).where(Notice.user_id == user.id, Notice.read_at.is_(None)).values(read_at=now)
    )
    return rowcount(result)
