"""Bearer tokens of the JSON API."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..accounts.models import User
from ..db import Base


class ApiToken(Base):
    """A bearer token. Only the SHA-256 of the token is stored: a copy of this table
    does not let anyone call the API. The token is 256 random bits, so a plain digest
    is enough (no salt or slow hash is needed against guessing)."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Digest of the account's session token when this token was issued: a password
    # reset changes the session token, which logs out apps as well as browsers.
    session_stamp: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]

    user: Mapped[User] = relationship()
