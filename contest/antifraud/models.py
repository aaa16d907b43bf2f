"""What anti-fraud keeps in the database: captcha challenges (when Redis is not there to
hold them), one observation per vote for the sliding windows, and a per-account memo of
how many accounts were registered from the same network at the same time."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base


class CaptchaChallenge(Base):
    """One captcha waiting for its answer. The code stays on the server so the image and
    the audio can be drawn from it; the row is deleted when the answer is checked."""

    __tablename__ = "captcha_challenge"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(20))
    code: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)  # expired rows are swept by this index


class FraudObservation(Base):
    """A vote as the sliding windows see it. Written with the vote, so the windows can be
    read from the database when Redis is absent or down, and Redis rebuilt from here."""

    __tablename__ = "fraud_observation"
    __table_args__ = (
        Index("ix_fraud_observation_ip", "contest_id", "ip", "at"),
        Index("ix_fraud_observation_subnet", "contest_id", "subnet", "at"),
        Index("ix_fraud_observation_device", "device_id", "at"),
        Index("ix_fraud_observation_entry", "entry_id", "at"),
        Index("ix_fraud_observation_at", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contest.id", ondelete="CASCADE"))
    entry_id: Mapped[int] = mapped_column(ForeignKey("entry.id", ondelete="CASCADE"))
    voter_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    ip: Mapped[str] = mapped_column(String(45), default="")
    subnet: Mapped[str] = mapped_column(String(50), default="")
    device_id: Mapped[str] = mapped_column(String(64), default="")


class RegistrationBurst(Base):
    """How many accounts were registered from this account's /24 (or /64) within minutes
    of it. Stored once the window around the registration has passed, since it cannot
    change after that; it saves a scan of recent registrations on every vote."""

    __tablename__ = "fraud_registration_burst"

    voter_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True)
    subnet: Mapped[str] = mapped_column(String(50), default="")
    accounts: Mapped[int] = mapped_column(default=0)
    checked_at: Mapped[datetime]
