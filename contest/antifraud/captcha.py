"""Image and audio captchas: the answer lives only on the server, used once.

A challenge is an unguessable id bound to a purpose ('vote', 'login', …) and a short
code. The code is kept in Redis with a TTL (SET … EX) or, without Redis or while it is
down, in the captcha_challenge table; the image and the audio are drawn from it on
demand, which does not consume it. Checking an answer consumes the challenge atomically
(GETDEL, or DELETE … RETURNING on a connection of its own), so it is single-use whatever
the answer and whatever becomes of the request that checked it.

Lifetimes are measured on the wall clock, as Redis TTLs are; `now` parameters exist so
tests can move time. The one who issues and the one who checks must use the same clock.
"""

from __future__ import annotations

import hmac
import logging
import math
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache, lru_cache
from typing import Any

from captcha.audio import AudioCaptcha
from captcha.image import ImageCaptcha
from redis.exceptions import RedisError
from sqlalchemy import delete, select

from ..clock import Clock
from ..db import SessionLike
from ..errors import InvalidInput
from ..i18n import _
from .autonomous import write_now
from .models import CaptchaChallenge

log = logging.getLogger(__name__)

# No 0/O, 1/I/L: the image font and the listener cannot tell them apart.
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTHS = (4, 5)
CAPTCHA_TTL = timedelta(minutes=5)
PURPOSES = ("vote", "login", "register", "sms", "reset", "upload")
REDIS_PREFIX = "captcha:"
ID_MAX_LENGTH = 40

_table = CaptchaChallenge.__table__


@dataclass(frozen=True)
class Challenge:
    """An issued captcha as its client sees it: no code here."""

    id: str
    purpose: str
    expires_at: datetime


def new_code() -> str:
    """4 or 5 characters from the look-alike-free alphabet, from the secrets module."""
    length = CODE_LENGTHS[secrets.randbelow(len(CODE_LENGTHS))]
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def _now(now: datetime | None) -> datetime:
    return now if now is not None else Clock().now()


def _redis_key(captcha_id: str) -> str:
    return REDIS_PREFIX + captcha_id


def _pack(purpose: str, code: str, expires_at: datetime) -> str:
    return f"{purpose}:{code}:{expires_at.timestamp():.3f}"


def _unpack(raw: bytes | str) -> tuple[str, str, datetime]:
    text = raw.decode() if isinstance(raw, bytes) else raw
    purpose, code, expires = text.split(":")
    return purpose, code, datetime.fromtimestamp(float(expires), UTC)


def _well_formed(captcha_id: str) -> bool:
    return 0 < len(captcha_id) <= ID_MAX_LENGTH and all(ch.isalnum() or ch in "-_" for ch in captcha_id)


def issue_captcha(
    session: SessionLike, redis: Any, *, purpose: str, fixed_answer: str = "", ttl: timedelta = CAPTCHA_TTL,
    now: datetime | None = None,
) -> Challenge:
    """A new challenge for `purpose`; its code is stored server-side only (the caller commits)."""
    if purpose not in PURPOSES:
        raise InvalidInput(_("未知的验证码用途。"), code="captcha_purpose", field="purpose")
    now = _now(now)
    # A fixed answer exists only in the testing configuration (config refuses it elsewhere).
    code = fixed_answer.strip().upper() if fixed_answer else new_code()
    captcha_id = secrets.token_urlsafe(18)
    expires_at = now + ttl
    if redis is not None:
        try:
            redis.set(_redis_key(captcha_id), _pack(purpose, code, expires_at),
                      ex=max(1, math.ceil(ttl.total_seconds())), nx=True)
            return Challenge(captcha_id, purpose, expires_at)
        except RedisError as exc:
            log.warning("captcha: Redis unavailable, keeping the challenge in the database (%s)", exc)
    # Expired challenges nobody answered are swept here, through the expires_at index.
    session.execute(delete(_table).where(_table.c.expires_at < now))
    session.add(CaptchaChallenge(id=captcha_id, purpose=purpose, code=code, created_at=now, expires_at=expires_at))
    session.flush()
    return Challenge(captcha_id, purpose, expires_at)


def challenge_code(session: SessionLike, redis: Any, captcha_id: str, *, now: datetime | None = None) -> str | None:
    """The code of a live challenge, for drawing its image or audio; not consumed."""
    if not _well_formed(captcha_id):
        return None
    now = _now(now)
    found: tuple[str, str, datetime] | None = None
    if redis is not None:
        try:
            raw = redis.get(_redis_key(captcha_id))
            found = _unpack(raw) if raw else None
        except RedisError as exc:
            log.warning("captcha: Redis unavailable, reading the database (%s)", exc)
    if found is None:
        row = session.execute(
            select(_table.c.purpose, _table.c.code, _table.c.expires_at).where(_table.c.id == captcha_id)
        ).first()
        found = (row.purpose, row.code, row.expires_at) if row else None
    if found is None or found[2] <= now:
        return None
    return found[1]


def _consume(session: SessionLike, redis: Any, captcha_id: str) -> tuple[str, str, datetime] | None:
    """Take the challenge out of its store in one atomic step: whoever gets it, gets it once."""
    if redis is not None:
        try:
            raw = redis.getdel(_redis_key(captcha_id))
            if raw:
                return _unpack(raw)
        except RedisError as exc:
            log.warning("captcha: Redis unavailable, checking the database (%s)", exc)
    # Not in Redis: it may have been issued while Redis was down.
    stmt = delete(_table).where(_table.c.id == captcha_id).returning(_table.c.purpose, _table.c.code, _table.c.expires_at)
    row = write_now(session, lambda conn: conn.execute(stmt).first())
    return (row.purpose, row.code, row.expires_at) if row else None


def check_captcha(
    session: SessionLike, redis: Any, *, captcha_id: str, answer: str, purpose: str, now: datetime | None = None,
) -> bool:
    """True when the answer matches; the challenge is gone afterwards whatever the outcome."""
    captcha_id = (captcha_id or "").strip()
    if not _well_formed(captcha_id):
        return False
    found = _consume(session, redis, captcha_id)
    if found is None:
        return False
    stored_purpose, code, expires_at = found
    given = (answer or "").strip().upper().encode()
    # Every comparison runs, so the time taken does not tell which one failed.
    matches = hmac.compare_digest(code.encode(), given)
    return matches and stored_purpose == purpose and expires_at > _now(now)


@cache
def _image_captcha() -> ImageCaptcha:
    return ImageCaptcha(width=200, height=70)


@cache
def _audio_captcha() -> AudioCaptcha:
    return AudioCaptcha()


def render_image(code: str) -> bytes:
    """A PNG of the code, distorted afresh on every call."""
    return _image_captcha().generate(code, format="png").getvalue()


# Reading a code out takes most of a second of CPU; a listener who replays it gets the
# same recording (which tells nothing more than the first play did).
@lru_cache(maxsize=64)
def render_audio(code: str) -> bytes:
    """A WAV of the code read out character by character over noise (for screen-reader users)."""
    return bytes(_audio_captcha().generate(code))
