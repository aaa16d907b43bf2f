"""People, their roles and their phone verification codes."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from flask_login import UserMixin
from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base
from ..i18n import N_, code_labels

ROLES = ("citizen", "school_contact", "judge", "organiser", "admin")
ROLE_LABELS = code_labels("role", {
    "citizen": N_("公众"), "school_contact": N_("学校联络人"), "judge": N_("评委"), "organiser": N_("组织者"),
    "admin": N_("管理员"),
})
SMS_PURPOSES = ("register", "reset")

# The 12 区县 and the 起步区: where schools and district organising units are.
DISTRICTS = (
    "历下区", "市中区", "槐荫区", "天桥区", "历城区", "长清区", "章丘区", "济阳区",
    "莱芜区", "钢城区", "平阴县", "商河县", "济南新旧动能转换起步区",
)

# Organising units: the city's bodies (市级) and each 区县's (区县级). A contest belongs to
# one; who may do what in it follows the person's role in that unit (accounts.units).
UNIT_LEVELS = ("city", "district")
UNIT_LEVEL_LABELS = code_labels("unit_level", {"city": N_("市级"), "district": N_("区县")})
UNIT_ROLES = ("admin", "organiser", "reviewer", "judge_manager", "viewer")
UNIT_ROLE_LABELS = code_labels("unit_role", {
    "admin": N_("单位管理员"), "organiser": N_("组织者"), "reviewer": N_("审核员"), "judge_manager": N_("评审管理员"),
    "viewer": N_("查看者"),
})


class User(UserMixin, Base):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(11), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(40), default="")
    is_active_account: Mapped[bool] = mapped_column(default=True)
    phone_verified_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    # Consent to the user agreement and privacy policy given at registration: the
    # documents' version (accounts.service.TERMS_VERSION) and when. None for accounts
    # made by operators (flask users create, the demo data).
    terms_version: Mapped[str | None] = mapped_column(String(20))
    terms_accepted_at: Mapped[datetime | None]
    # Changes when the password changes or the user signs out everywhere, so API tokens
    # issued before stop working (browsers' sign-ins are LoginSession rows, revoked then too).
    session_token: Mapped[str] = mapped_column(String(64))

    roles: Mapped[list[UserRole]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin", order_by="UserRole.role"
    )
    # Loaded when first asked for (the back office): a public page never needs them.
    memberships: Mapped[list[UnitMembership]] = relationship(
        back_populates="user", cascade="all, delete-orphan", order_by="UnitMembership.id"
    )

    # The secret of the sign-in (LoginSession) this object stands for in the current
    # request: set when a sign-in is opened or loaded, never stored. flask-login keeps it
    # in the session and the remember cookie, so ending that sign-in ends both.
    if TYPE_CHECKING:  # a plain attribute, not a column: no annotation the mapper would read
        sign_in_token: str | None
    sign_in_token = None

    @property
    def is_active(self) -> bool:  # flask-login
        return self.is_active_account

    def get_id(self) -> str:  # flask-login
        if not self.sign_in_token:
            raise RuntimeError("no sign-in: open one with accounts.service.open_login_session")
        return self.sign_in_token

    def __eq__(self, other: object) -> bool:
        # UserMixin compares get_id(), which is per sign-in; an account is itself on every device.
        if isinstance(other, User):
            return self is other or (self.id is not None and self.id == other.id)
        return NotImplemented

    __hash__ = object.__hash__

    @property
    def role_names(self) -> set[str]:
        return {r.role for r in self.roles}

    def has_role(self, *roles: str) -> bool:
        return bool(self.role_names.intersection(roles))

    @property
    def masked_phone(self) -> str:
        return f"{self.phone[:3]}****{self.phone[-4:]}"

    @property
    def name_or_phone(self) -> str:
        return self.display_name or self.masked_phone


class LoginSession(Base):
    """One sign-in of one browser. The browser holds a random secret (in its session and
    remember-me cookies); only the secret's SHA-256 is stored, so a copy of this table
    signs nobody in. Revoking the row signs that browser out, whatever cookies it kept."""

    __tablename__ = "login_session"
    __table_args__ = (Index("ix_login_session_user", "user_id", "revoked_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    remember: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]
    # Refreshed at most every few minutes, so a page view does not cost a write.
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    ip: Mapped[str] = mapped_column(String(45), default="")
    user_agent: Mapped[str] = mapped_column(String(300), default="")


class UserRole(Base):
    __tablename__ = "user_role"
    __table_args__ = (
        UniqueConstraint("user_id", "role"),
        CheckConstraint("role IN ('citizen', 'school_contact', 'judge', 'organiser', 'admin')", name="role_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(20))
    granted_at: Mapped[datetime]

    user: Mapped[User] = relationship(back_populates="roles")


class OrganisingUnit(Base):
    """A body that runs contests: a city body (济南市教育局, 济南市中华职业教育社) or a
    区县's (its education bureau). `district` names the 区县 of a district unit."""

    __tablename__ = "organising_unit"
    __table_args__ = (CheckConstraint("level IN ('city', 'district')", name="level_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    level: Mapped[str] = mapped_column(String(10), default="city")
    district: Mapped[str] = mapped_column(String(20), default="")
    position: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]

    memberships: Mapped[list[UnitMembership]] = relationship(
        back_populates="unit", cascade="all, delete-orphan", order_by="UnitMembership.id"
    )


class UnitMembership(Base):
    """A person's role in a unit: for all the unit's contests, or (contest_id) for one."""

    __tablename__ = "unit_membership"
    __table_args__ = (
        Index("ix_unit_membership_user", "user_id", "unit_id"),
        CheckConstraint("role IN ('admin', 'organiser', 'reviewer', 'judge_manager', 'viewer')", name="role_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("organising_unit.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(20))
    contest_id: Mapped[int | None] = mapped_column(ForeignKey("contest.id", ondelete="CASCADE"))
    granted_at: Mapped[datetime]

    user: Mapped[User] = relationship(back_populates="memberships")
    unit: Mapped[OrganisingUnit] = relationship(back_populates="memberships", lazy="joined")


class SmsCode(Base):
    """A one-time code sent to a phone; only its keyed hash is stored."""

    __tablename__ = "sms_code"
    __table_args__ = (
        Index("ix_sms_code_phone_purpose", "phone", "purpose", "created_at"),
        Index("ix_sms_code_created_at", "created_at"),
        Index("ix_sms_code_requested_ip_created_at", "requested_ip", "created_at"),
        Index("ix_sms_code_requested_subnet_created_at", "requested_subnet", "created_at"),
        CheckConstraint("purpose IN ('register', 'reset')", name="purpose_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(11))
    purpose: Mapped[str] = mapped_column(String(16))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    used_at: Mapped[datetime | None]
    requested_ip: Mapped[str] = mapped_column(String(45), default="")
    # The /24 (IPv4) or /64 (IPv6) of requested_ip: the caps on code requests count by it.
    requested_subnet: Mapped[str] = mapped_column(String(50), default="")


SMS_STATES = ("queued", "sending", "sent", "failed")
SMS_STATE_LABELS = code_labels("sms_state", {
    "queued": N_("待发送"), "sending": N_("发送中"), "sent": N_("已发送"), "failed": N_("发送失败"),
})


class SmsMessage(Base):
    """One text message and its delivery: queued, claimed by one sender (sending), then
    sent or failed. `body` is the readable text (the console sender's outbox); a gateway
    is given the kind's template and `params` instead."""

    __tablename__ = "sms_outbox"
    __table_args__ = (
        CheckConstraint("state IN ('queued', 'sending', 'sent', 'failed')", name="state_known"),
        Index("ix_sms_outbox_state_next_attempt_at", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(11), index=True)
    body: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(index=True)
    kind: Mapped[str] = mapped_column(String(30), default="")
    params: Mapped[dict[str, str] | None] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(10), default="queued")
    attempts: Mapped[int] = mapped_column(default=0)
    # Which sender took it (console, aliyun, tencent) and what the gateway answered.
    provider: Mapped[str] = mapped_column(String(20), default="")
    request_id: Mapped[str] = mapped_column(String(100), default="")
    error_code: Mapped[str] = mapped_column(String(100), default="")
    error_reason: Mapped[str] = mapped_column(String(100), default="")
    # A failure worth another try (throttled, network); when it is due.
    retryable: Mapped[bool] = mapped_column(default=False)
    next_attempt_at: Mapped[datetime | None]
    claimed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]


class AuditEvent(Base):
    """Who changed what, when, before → after. Accounts own it so every domain above can write it."""

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_target", "target_type", "target_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"), index=True)
    action: Mapped[str] = mapped_column(String(60), index=True)
    target_type: Mapped[str] = mapped_column(String(40))
    target_id: Mapped[str] = mapped_column(String(40))
    summary: Mapped[str] = mapped_column(String(300), default="")
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    ip: Mapped[str] = mapped_column(String(45), default="")
    created_at: Mapped[datetime] = mapped_column(index=True)
    # The contest the action was in and its organising unit (None for platform-wide actions).
    contest_id: Mapped[int | None] = mapped_column(ForeignKey("contest.id", ondelete="SET NULL"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("organising_unit.id", ondelete="SET NULL"), index=True)

    actor: Mapped[User | None] = relationship(lazy="joined")


class Notice(Base):
    """A message to one user shown on the site (e.g. a moderation decision)."""

    __tablename__ = "notice"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    body: Mapped[str] = mapped_column(String(500))
    link: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime]
    read_at: Mapped[datetime | None]
