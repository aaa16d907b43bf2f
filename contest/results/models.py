"""Result formulas (with their public fingerprint and change history), publications
(preview → confirmed by a second organiser → 公示 → final, amendments as new versions)
and objections (异议) filed during 公示."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..accounts.models import User
from ..contests.models import Contest, Entry
from ..db import Base

PUBLICATION_STATES = ("pending", "publicity", "final", "cancelled", "superseded")
OBJECTION_SUBJECTS = ("entry", "votes", "score")
OBJECTION_OUTCOMES = ("upheld", "partly", "rejected")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class ResultFormula(Base):
    """A contest's result formula as data. Fixed before voting opens; a later change
    needs an override with a reason, recorded in FormulaChange and shown publicly."""

    __tablename__ = "result_formula"

    contest_id: Mapped[int] = mapped_column(ForeignKey("contest.id", ondelete="CASCADE"), primary_key=True)
    formula: Mapped[dict[str, Any]] = mapped_column(JSON)
    fingerprint: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime]
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))


class FormulaChange(Base):
    """Every change of a formula: before and after fingerprints, and, after voting
    opened, the override's reason (public)."""

    __tablename__ = "result_formula_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contest.id", ondelete="CASCADE"), index=True)
    fingerprint_before: Mapped[str] = mapped_column(String(64), default="")
    fingerprint_after: Mapped[str] = mapped_column(String(64))
    formula: Mapped[dict[str, Any]] = mapped_column(JSON)
    is_override: Mapped[bool] = mapped_column(default=False)
    reason: Mapped[str] = mapped_column(String(500), default="")
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]


class Publication(Base):
    """One published version of a contest's results, frozen: the formula and its
    fingerprint, the sealed ledger head the votes were counted up to, and every entry's
    breakdown. A new version (an amendment) supersedes the old one, which stays visible."""

    __tablename__ = "result_publication"
    __table_args__ = (
        UniqueConstraint("contest_id", "version"),
        CheckConstraint(_in("state", PUBLICATION_STATES), name="state_known"),
        CheckConstraint("confirmed_by_id IS NULL OR confirmed_by_id <> requested_by_id", name="two_people"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contest.id", ondelete="CASCADE"), index=True)
    version: Mapped[int]
    state: Mapped[str] = mapped_column(String(12), default="pending")
    formula: Mapped[dict[str, Any]] = mapped_column(JSON)
    fingerprint: Mapped[str] = mapped_column(String(64))
    # {"height", "hash", "sealed_at", "events"} of the sealed ledger head counted up to.
    ledger_head: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    rounds: Mapped[list[Any]] = mapped_column(JSON, default=list)  # [{"key","name","finalised_at"}]
    rows: Mapped[list[Any]] = mapped_column(JSON, default=list)  # one breakdown per entry
    # counted votes per day as the results page charts them, made when the results are
    # confirmed: {"leave_out": [entry ids whose counts are private], "days": [[day, n], …]}
    daily: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    computed_at: Mapped[datetime]
    amendment_reason: Mapped[str] = mapped_column(String(500), default="")
    publicity_days: Mapped[int] = mapped_column(default=5)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    requested_at: Mapped[datetime]
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    confirmed_at: Mapped[datetime | None]
    publicity_ends_at: Mapped[datetime | None]
    finalised_at: Mapped[datetime | None]
    finalised_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))

    contest: Mapped[Contest] = relationship()
    requested_by: Mapped[User | None] = relationship(foreign_keys=[requested_by_id])
    confirmed_by: Mapped[User | None] = relationship(foreign_keys=[confirmed_by_id])


class Objection(Base):
    """An objection (异议) a signed-in citizen files during 公示, and the organisers'
    answer. The public sees the text, answer and outcome, never who filed it."""

    __tablename__ = "result_objection"
    __table_args__ = (
        CheckConstraint(_in("subject", OBJECTION_SUBJECTS), name="subject_known"),
        CheckConstraint("outcome IS NULL OR " + _in("outcome", OBJECTION_OUTCOMES), name="outcome_known"),
        Index("ix_result_objection_contest_filed", "contest_id", "filed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contest.id", ondelete="CASCADE"))
    publication_id: Mapped[int] = mapped_column(ForeignKey("result_publication.id", ondelete="CASCADE"), index=True)
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("entry.id", ondelete="SET NULL"))
    subject: Mapped[str] = mapped_column(String(10))
    body: Mapped[str] = mapped_column(Text)
    filed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"), index=True)
    filed_at: Mapped[datetime]
    answer: Mapped[str] = mapped_column(Text, default="")
    outcome: Mapped[str | None] = mapped_column(String(10))
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    answered_at: Mapped[datetime | None]

    entry: Mapped[Entry | None] = relationship()
    evidence: Mapped[list[ObjectionEvidence]] = relationship(
        back_populates="objection", cascade="all, delete-orphan", order_by="ObjectionEvidence.id",
    )


class ObjectionEvidence(Base):
    """A file attached to an objection (image or PDF, checked by content), kept in the
    content-addressed storage; seen by organisers only."""

    __tablename__ = "result_objection_evidence"

    id: Mapped[int] = mapped_column(primary_key=True)
    objection_id: Mapped[int] = mapped_column(ForeignKey("result_objection.id", ondelete="CASCADE"), index=True)
    storage_key: Mapped[str] = mapped_column(String(100), info={"storage_key": True})  # the orphan sweep's mark
    content_type: Mapped[str] = mapped_column(String(50))
    size: Mapped[int]
    original_name: Mapped[str] = mapped_column(String(200), default="")

    objection: Mapped[Objection] = relationship(back_populates="evidence")


PREPARED_STATES = ("queued", "running", "ready", "failed")


class PreparedFile(Base):
    """A file the job runner makes for an organiser (a large export, a batch of
    certificates): its progress while it is made, then the file itself, kept for a day
    (results.prepared)."""

    __tablename__ = "prepared_file"
    __table_args__ = (CheckConstraint(_in("state", PREPARED_STATES), name="state_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contest.id", ondelete="CASCADE"), index=True)
    what: Mapped[str] = mapped_column(String(20))  # an export (exports.WHATS) or "certificates"
    fmt: Mapped[str] = mapped_column(String(10))  # csv, xlsx, pdf
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # the export's filters
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    state: Mapped[str] = mapped_column(String(10), default="queued")
    done: Mapped[int] = mapped_column(default=0)
    total: Mapped[int] = mapped_column(default=0)
    file_name: Mapped[str] = mapped_column(String(200), default="")
    content: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    size: Mapped[int] = mapped_column(default=0)
    error: Mapped[str] = mapped_column(String(200), default="")
    claimed_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    expires_at: Mapped[datetime] = mapped_column(index=True)

    requested_by: Mapped[User | None] = relationship()
