"""Bearer tokens: issued for a phone and password, verified on every API call."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, select

from ..accounts import service as accounts
from ..accounts.models import User
from ..db import SessionLike
from ..errors import DomainError
from ..i18n import _
from .models import ApiToken

TOKEN_TTL = timedelta(days=30)
# Live tokens kept per account (one per installed app is plenty); older ones are dropped.
MAX_TOKENS_PER_USER = 10
TOKEN_MAX_LENGTH = 100


class InvalidToken(DomainError):
    status = 401
    code = "invalid_token"


class BadCredentials(DomainError):
    status = 401
    code = "bad_credentials"


@dataclass(frozen=True)
class IssuedToken:
    token: str  # shown once, to the caller; only its digest is stored
    expires_at: datetime
    user: User


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def issue_token(
    session: SessionLike, counters: accounts.FailureCounters | None, *, phone: str, password: str, address: str, now: datetime,
    captcha: Callable[[], bool] | None = None, ttl: timedelta = TOKEN_TTL,
) -> IssuedToken:
    """Sign in as the web login does (accounts.sign_in: the same failure windows, so the
    same 429s and login captcha) and issue a new bearer token for the account."""
    try:
        user = accounts.sign_in(session, counters, phone=phone, password=password, address=address, captcha=captcha)
    except accounts.BadCredentials as exc:
        # A bad password is the API's 401; the failure it counted stays counted (the
        # windows live outside the database transaction).
        raise BadCredentials(exc.message) from None
    token = secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, token_hash=_digest(token), session_stamp=_digest(user.session_token),
                   created_at=now, expires_at=now + ttl)
    session.add(row)
    session.flush()
    _prune(session, user.id, now)
    return IssuedToken(token, row.expires_at, user)


def _prune(session: SessionLike, user_id: int, now: datetime) -> None:
    """Drop the account's expired tokens and all but its newest live ones."""
    session.execute(delete(ApiToken).where(ApiToken.user_id == user_id, ApiToken.expires_at <= now))
    keep = select(ApiToken.id).where(ApiToken.user_id == user_id).order_by(ApiToken.id.desc()).limit(MAX_TOKENS_PER_USER)
    session.execute(delete(ApiToken).where(ApiToken.user_id == user_id, ApiToken.id.not_in(keep.scalar_subquery())))


@dataclass(frozen=True)
class Holder:
    """The account behind a bearer token, as the API's calls use it (voting.records.Voter)."""

    id: int
    created_at: datetime
    phone_verified_at: datetime | None


def verify_token(session: SessionLike, *, token: str, now: datetime) -> Holder:
    """The active account behind a bearer token, or InvalidToken (unknown, expired, or
    issued before the account's password last changed). Checked against the database on
    every call (a revoked token, a password change or a suspension counts at once), in one
    query of the few columns the checks and the API's calls use."""
    if not token or len(token) > TOKEN_MAX_LENGTH:
        raise _invalid()
    row = session.execute(_VERIFY, {"digest": _digest(token)}).first()
    if row is None:
        raise _invalid()
    user_id, created_at, phone_verified_at, active, session_token, expires_at, session_stamp = row
    if expires_at <= now or not active or not secrets.compare_digest(session_stamp, _digest(session_token)):
        raise _invalid()
    return Holder(user_id, created_at, phone_verified_at)


def _invalid() -> InvalidToken:
    return InvalidToken(_("登录凭证无效或已过期，请重新登录。"))


_U, _T = User.__table__.c, ApiToken.__table__.c
_VERIFY = (select(_U.id, _U.created_at, _U.phone_verified_at, _U.is_active_account, _U.session_token, _T.expires_at,
                  _T.session_stamp).join_from(User.__table__, ApiToken.__table__, _T.user_id == _U.id)
           .where(_T.token_hash == bindparam("digest")))


def bearer_from_header(value: str | None) -> str:
    """The token of an `Authorization: Bearer …` header, or "" when absent or of another scheme."""
    scheme, _sep, token = (value or "").strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""
