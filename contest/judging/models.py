"""Judging rounds, their rubrics, panels, conflicts, assignments and scores.

Raw per-criterion values are what is stored (Score.values); weighted totals,
aggregates, normalised scores and ranks are always derived by judging.aggregate, so a
change of method never loses information.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..accounts.models import User
from ..contests.models import Contest, Entry, School
from ..db import Base

ROUND_STATES = ("draft", "open", "closed", "finalised")
ROUND_KINDS = ("review", "live")
AGGREGATIONS = ("mean", "trimmed", "median")
SCORE_STATUSES = ("draft", "submitted")
CONFLICT_SOURCES = ("declared", "affiliation", "organiser")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Round(Base):
    """One round of a contest (网评, 决赛, 评委评审 …) with its rubric and rules."""

    __tablename__ = "judging_round"
    __table_args__ = (
        UniqueConstraint("contest_id", "key"),
        CheckConstraint(_in("state", ROUND_STATES), name="state_known"),
        CheckConstraint(_in("kind", ROUND_KINDS), name="kind_known"),
        CheckConstraint(_in("aggregation", AGGREGATIONS), name="aggregation_known"),
        CheckConstraint("judges_per_entry >= 1", name="k_positive"),
        CheckConstraint("score_step > 0", name="step_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contest.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(60))
    position: Mapped[int] = mapped_column(default=0)
    kind: Mapped[str] = mapped_column(String(10), default="review")
    state: Mapped[str] = mapped_column(String(10), default="draft")
    judges_per_entry: Mapped[int] = mapped_column(default=3)
    blind: Mapped[bool] = mapped_column(default=True)
    aggregation: Mapped[str] = mapped_column(String(10), default="trimmed")
    normalise: Mapped[bool] = mapped_column(default=False)
    min_scores: Mapped[int] = mapped_column(default=5)
    spread_threshold: Mapped[float] = mapped_column(Float, default=20.0)
    score_step: Mapped[float] = mapped_column(Float, default=0.5)
    instructions: Mapped[str] = mapped_column(Text, default="")
    # The live final: the entry on stage now, and since when.
    live_entry_id: Mapped[int | None] = mapped_column(ForeignKey("entry.id", ondelete="SET NULL"))
    live_started_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    opened_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    finalised_at: Mapped[datetime | None]

    contest: Mapped[Contest] = relationship()
    criteria: Mapped[list[Criterion]] = relationship(
        back_populates="round", order_by="Criterion.position", cascade="all, delete-orphan",
    )
    live_entry: Mapped[Entry | None] = relationship(foreign_keys=[live_entry_id])


class Criterion(Base):
    """One line of a round's rubric. Weights of a rubric sum to 100; the declared order
    (position) is also the order in which ties are broken."""

    __tablename__ = "judging_criterion"
    __table_args__ = (
        UniqueConstraint("round_id", "position"),
        CheckConstraint("maximum > 0", name="maximum_positive"),
        CheckConstraint("weight > 0 AND weight <= 100", name="weight_in_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("judging_round.id", ondelete="CASCADE"))
    position: Mapped[int]
    name: Mapped[str] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(String(300), default="")
    maximum: Mapped[float] = mapped_column(Float)
    weight: Mapped[float] = mapped_column(Float)

    round: Mapped[Round] = relationship(back_populates="criteria")


class RoundEntry(Base):
    """An entry taking part in a round; position is the order of the live pitches."""

    __tablename__ = "judging_round_entry"

    round_id: Mapped[int] = mapped_column(ForeignKey("judging_round.id", ondelete="CASCADE"), primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("entry.id", ondelete="CASCADE"), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(default=0)
    added_at: Mapped[datetime]

    entry: Mapped[Entry] = relationship()


class PanelMember(Base):
    """A judge on a round's panel. declared_at is the signature of the 回避 declaration:
    until it is set the judge sees no entry."""

    __tablename__ = "judging_panel_member"
    __table_args__ = (
        UniqueConstraint("round_id", "judge_id"),
        CheckConstraint("status IN ('active', 'withdrawn')", name="status_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("judging_round.id", ondelete="CASCADE"))
    judge_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(10), default="active")
    added_at: Mapped[datetime]
    declared_at: Mapped[datetime | None]
    declaration_ip: Mapped[str] = mapped_column(String(45), default="")
    withdrawn_at: Mapped[datetime | None]

    judge: Mapped[User] = relationship()


class JudgeProfile(Base):
    """What organisers know of a judge: where they work, which school they belong to
    (the source of automatic conflicts)."""

    __tablename__ = "judge_profile"

    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True)
    organisation: Mapped[str] = mapped_column(String(100), default="")
    title: Mapped[str] = mapped_column(String(60), default="")
    school_id: Mapped[int | None] = mapped_column(ForeignKey("school.id", ondelete="SET NULL"))

    school: Mapped[School | None] = relationship()


class Conflict(Base):
    """A judge who must not score an entry (entry_id) or any entry of a school
    (school_id): declared by the judge, found from their affiliation, or set by an
    organiser (also the record of a pair removed by hand, so re-balancing never puts it
    back)."""

    __tablename__ = "judging_conflict"
    __table_args__ = (
        CheckConstraint(_in("source", CONFLICT_SOURCES), name="source_known"),
        CheckConstraint("entry_id IS NOT NULL OR school_id IS NOT NULL", name="has_target"),
        Index("ix_judging_conflict_contest_judge", "contest_id", "judge_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contest.id", ondelete="CASCADE"))
    judge_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("entry.id", ondelete="CASCADE"))
    school_id: Mapped[int | None] = mapped_column(ForeignKey("school.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(12))
    note: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime]


class Assignment(Base):
    """Judge j scores entry e in round r. pinned: placed by an organiser by hand, kept
    by every re-balance."""

    __tablename__ = "judging_assignment"
    __table_args__ = (
        UniqueConstraint("round_id", "entry_id", "judge_id"),
        Index("ix_judging_assignment_round_judge", "round_id", "judge_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("judging_round.id", ondelete="CASCADE"))
    entry_id: Mapped[int] = mapped_column(ForeignKey("entry.id", ondelete="CASCADE"))
    judge_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    pinned: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]

    entry: Mapped[Entry] = relationship()
    judge: Mapped[User] = relationship()


class Score(Base):
    """One judge's raw values for one entry in one round: {criterion id: value}.
    A submitted score is locked; only an organiser's reopen (with a reason) unlocks it."""

    __tablename__ = "judging_score"
    __table_args__ = (
        UniqueConstraint("round_id", "entry_id", "judge_id"),
        CheckConstraint(_in("status", SCORE_STATUSES), name="status_known"),
        Index("ix_judging_score_round_status", "round_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("judging_round.id", ondelete="CASCADE"))
    entry_id: Mapped[int] = mapped_column(ForeignKey("entry.id", ondelete="CASCADE"))
    judge_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    values: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    comment: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(10), default="draft")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    submitted_at: Mapped[datetime | None]
    reopened_at: Mapped[datetime | None]
    reopen_reason: Mapped[str] = mapped_column(String(300), default="")

    judge: Mapped[User] = relationship()


class JudgeInvite(Base):
    """A one-time link an organiser sends to a judge. Only the token's hash is stored."""

    __tablename__ = "judge_invite"

    id: Mapped[int] = mapped_column(primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contest.id", ondelete="CASCADE"))
    round_id: Mapped[int | None] = mapped_column(ForeignKey("judging_round.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(40), default="")
    organisation: Mapped[str] = mapped_column(String(100), default="")
    school_id: Mapped[int | None] = mapped_column(ForeignKey("school.id", ondelete="SET NULL"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    used_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    # The mobile number the link was last texted to (empty when it was only shown on screen).
    phone: Mapped[str] = mapped_column(String(20), default="")
    sent_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))

    used_by: Mapped[User | None] = relationship(foreign_keys=[used_by_id])
