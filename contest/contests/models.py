"""Contests, their stages, categories, schools and entries."""

from __future__ import annotations

import secrets
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Column, ForeignKey, Index, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

# The 区县 are the accounts domain's (organising units sit in them too).
from ..accounts.models import DISTRICTS as DISTRICTS
from ..accounts.models import OrganisingUnit, User
from ..db import Base
from ..i18n import _

KINDS = ("selection", "media", "innovation")
STAGES = ("submission", "review", "voting", "judging", "publicity")
ENTRY_STATUSES = ("draft", "submitted", "approved", "rejected", "withdrawn")
CATEGORY_KINDS = ("category", "track", "group")
TEAM_ROLES = ("leader", "member", "advisor")


def new_voter_key() -> str:
    """A contest's ledger secret: 32 random bytes, hex."""
    return secrets.token_hex(32)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


# The units a contest names as co-organisers (协办), shown on its pages; they gain no rights.
contest_co_unit = Table(
    "contest_co_unit", Base.metadata,
    Column("contest_id", ForeignKey("contest.id", ondelete="CASCADE"), primary_key=True),
    Column("unit_id", ForeignKey("organising_unit.id", ondelete="CASCADE"), primary_key=True),
)


class Contest(Base):
    __tablename__ = "contest"
    __table_args__ = (CheckConstraint(_in("kind", KINDS), name="kind_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(120))
    short_title: Mapped[str] = mapped_column(String(40), default="")
    theme: Mapped[str] = mapped_column(String(120), default="")
    summary: Mapped[str] = mapped_column(String(500), default="")
    rules_text: Mapped[str] = mapped_column(Text, default="")
    # The organising unit (主办): whose members may run the contest (accounts.units).
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("organising_unit.id", ondelete="RESTRICT"), index=True)
    # Rules as data (quotas, captcha mode, weights …); contests.rules holds the schema.
    rules: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    position: Mapped[int] = mapped_column(default=0)
    is_published: Mapped[bool] = mapped_column(default=True)
    # The date certificates are signed with (颁奖日期); None means the publication's date.
    awarded_on: Mapped[date | None]
    # Made by `flask demo`: the public pages say that its people and dates are invented.
    is_demo: Mapped[bool] = mapped_column(default=False)
    # The contest's own secret for its ledger (docs/LEDGER.md §2): keys the voters'
    # pseudonyms and the digests of events' details. Never shown, never exported.
    voter_key: Mapped[str] = mapped_column(String(64), default=new_voter_key)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    submission_starts_at: Mapped[datetime | None]
    submission_ends_at: Mapped[datetime | None]
    review_starts_at: Mapped[datetime | None]
    review_ends_at: Mapped[datetime | None]
    voting_starts_at: Mapped[datetime | None]
    voting_ends_at: Mapped[datetime | None]
    judging_starts_at: Mapped[datetime | None]
    judging_ends_at: Mapped[datetime | None]
    publicity_starts_at: Mapped[datetime | None]
    publicity_ends_at: Mapped[datetime | None]

    categories: Mapped[list[Category]] = relationship(
        back_populates="contest", cascade="all, delete-orphan", order_by="(Category.kind, Category.position, Category.id)",
        lazy="selectin",
    )
    unit: Mapped[OrganisingUnit | None] = relationship(lazy="joined")
    co_units: Mapped[list[OrganisingUnit]] = relationship(
        secondary=contest_co_unit, order_by="(OrganisingUnit.position, OrganisingUnit.id)"
    )

    @property
    def organisers(self) -> list[str]:
        """The names its pages and certificates give: the organising unit, then co-organisers."""
        units = ([self.unit] if self.unit is not None else []) + [u for u in self.co_units if u.id != self.unit_id]
        return [u.name for u in units]

    def window(self, stage: str) -> tuple[datetime | None, datetime | None]:
        return getattr(self, f"{stage}_starts_at"), getattr(self, f"{stage}_ends_at")

    def categories_of(self, kind: str) -> list[Category]:
        return [c for c in self.categories if c.kind == kind]


class Category(Base):
    """A category (全民美拍), a track (黄炎培 赛道) or a group (中职组 / 高职组)."""

    __tablename__ = "category"
    __table_args__ = (
        UniqueConstraint("contest_id", "kind", "name"),
        CheckConstraint(_in("kind", CATEGORY_KINDS), name="kind_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contest.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20), default="category")
    name: Mapped[str] = mapped_column(String(60))
    description: Mapped[str] = mapped_column(String(300), default="")
    position: Mapped[int] = mapped_column(default=0)

    contest: Mapped[Contest] = relationship(back_populates="categories")


class School(Base):
    __tablename__ = "school"
    __table_args__ = (
        CheckConstraint("enrolment >= 0", name="enrolment_not_negative"),
        CheckConstraint(_in("district", DISTRICTS), name="district_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    district: Mapped[str] = mapped_column(String(20))
    level: Mapped[str] = mapped_column(String(20), default="中职")
    enrolment: Mapped[int] = mapped_column(default=0)


class SchoolContact(Base):
    """An account that acts for a school (学校联络人); also used to find judges' conflicts."""

    __tablename__ = "school_contact"
    __table_args__ = (UniqueConstraint("user_id", "school_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("school.id", ondelete="CASCADE"), index=True)

    school: Mapped[School] = relationship(lazy="joined")
    user: Mapped[User] = relationship()


class Entry(Base):
    __tablename__ = "entry"
    __table_args__ = (
        CheckConstraint(_in("status", ENTRY_STATUSES), name="status_known"),
        Index("ix_entry_gallery", "contest_id", "status", "published_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contest.id", ondelete="CASCADE"))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("category.id", ondelete="SET NULL"), index=True)
    group_id: Mapped[int | None] = mapped_column(ForeignKey("category.id", ondelete="SET NULL"))
    school_id: Mapped[int | None] = mapped_column(ForeignKey("school.id", ondelete="SET NULL"), index=True)
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"), index=True)
    title: Mapped[str] = mapped_column(String(80))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="draft")
    moderation_reason: Mapped[str] = mapped_column(String(500), default="")
    # Storage key of the cover's thumbnail, set by the media domain; lets galleries show
    # covers without reaching into media.
    cover_key: Mapped[str] = mapped_column(String(100), default="", info={"storage_key": True})
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    submitted_at: Mapped[datetime | None]
    published_at: Mapped[datetime | None]

    contest: Mapped[Contest] = relationship()
    category: Mapped[Category | None] = relationship(foreign_keys=[category_id])
    group: Mapped[Category | None] = relationship(foreign_keys=[group_id])
    school: Mapped[School | None] = relationship()
    submitted_by: Mapped[User | None] = relationship()
    nominee: Mapped[NomineeProfile | None] = relationship(back_populates="entry", cascade="all, delete-orphan", uselist=False)
    team_members: Mapped[list[TeamMember]] = relationship(
        back_populates="entry", cascade="all, delete-orphan", order_by="(TeamMember.position, TeamMember.id)"
    )


NAME_FORMS = ("full", "surname")


def public_name(name: str, name_form: str) -> str:
    """A nominee's name as the public pages show it: in full, or as 李同学 when the
    guardian chose to show the surname only."""
    name = name.strip()
    if name_form == "surname" and name:
        return _("%(surname)s同学", surname=name[0])
    return name


class NomineeProfile(Base):
    """The student nominated for 最美职校生. Only consented fields are ever shown."""

    __tablename__ = "nominee_profile"
    __table_args__ = (CheckConstraint("gender IN ('male', 'female')", name="gender_known"),)

    entry_id: Mapped[int] = mapped_column(ForeignKey("entry.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    gender: Mapped[str] = mapped_column(String(10))
    birth_date: Mapped[date | None]
    major: Mapped[str] = mapped_column(String(60), default="")
    grade: Mapped[str] = mapped_column(String(20), default="")
    story: Mapped[str] = mapped_column(Text, default="")
    # A minor's signed guardian consent form is on file (media.consent_form); cleared when
    # the guardian withdraws consent.
    guardian_consent: Mapped[bool] = mapped_column(default=False)
    # What the public page may show, e.g. {"photo": true, "school": true, "major": true,
    # "name": "full"} ("name": "surname" shows 李同学, see `public_name`).
    public_fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    entry: Mapped[Entry] = relationship(back_populates="nominee")

    @property
    def shown_name(self) -> str:
        """The name every public surface shows."""
        return public_name(self.name, str((self.public_fields or {}).get("name") or "full"))


class TeamMember(Base):
    __tablename__ = "team_member"
    __table_args__ = (
        CheckConstraint(_in("role", TEAM_ROLES), name="role_known"),
        # A student is in one team per contest; the database has the last word.
        UniqueConstraint("contest_id", "school_id", "student_no"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("entry.id", ondelete="CASCADE"), index=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contest.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(40))
    # A student's number at the school; with the school it identifies the student, so a
    # unique index can keep a student in one team per contest (see the Entries issue).
    student_no: Mapped[str | None] = mapped_column(String(30))
    school_id: Mapped[int | None] = mapped_column(ForeignKey("school.id", ondelete="SET NULL"))
    major: Mapped[str] = mapped_column(String(60), default="")
    position: Mapped[int] = mapped_column(default=0)

    entry: Mapped[Entry] = relationship(back_populates="team_members")
