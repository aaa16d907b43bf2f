"""Organising units and what their members may do.

A contest belongs to one organising unit (`Contest.unit_id`). A person's powers in the
back office come from their memberships: a role in a unit, for all its contests or (with
`contest_id`) for one. The platform's operators hold the global `admin` role and may act
everywhere; everybody else acts only where a membership says so.

| capability | what it covers                                            | unit roles                        |
|------------|-----------------------------------------------------------|-----------------------------------|
| view       | dashboards, lists, exports, the audit log (read-only)     | every role                        |
| moderate   | moderation, withdrawal requests, duplicate flags          | admin, organiser, reviewer        |
| judging    | rounds, panels, invitations, assignment, scores           | admin, organiser, judge_manager   |
| configure  | contest settings, categories, notices to schools/judges   | admin, organiser                  |
| fraud      | the fraud desk: held votes, voiding, releasing            | admin, organiser                  |
| results    | formula, publication (both people), objections, certificates | admin, organiser               |
| create     | new contests of the unit                                  | admin, organiser (whole unit)     |
| members    | the unit's members and their roles                        | admin (whole unit)                |

Services check with `require(actor, capability, unit_id=…, contest_id=…)` (or the
contests domain's `require_in(actor, contest, capability)`); SYSTEM (the command line,
scheduled work) passes. Each check also notes the contest and unit on the session, so the
audit rows written in the same transaction carry them (`audit_scope`).

This module sits in the lowest domain: it knows contests only by their ids.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from ..db import SessionLike
from ..errors import Forbidden, InvalidInput, NotFound
from ..i18n import N_, _, code_labels, label_of
from .actors import Actor, is_system
from .models import DISTRICTS, UNIT_LEVELS, UNIT_ROLES, OrganisingUnit, UnitMembership, User, UserRole

CAPABILITIES: dict[str, frozenset[str]] = {
    "view": frozenset(UNIT_ROLES),
    "moderate": frozenset({"admin", "organiser", "reviewer"}),
    "judging": frozenset({"admin", "organiser", "judge_manager"}),
    "configure": frozenset({"admin", "organiser"}),
    "fraud": frozenset({"admin", "organiser"}),
    "results": frozenset({"admin", "organiser"}),
    "create": frozenset({"admin", "organiser"}),
    "members": frozenset({"admin"}),
}
# Capabilities a membership limited to one contest never gives: they concern the unit.
UNIT_WIDE = frozenset({"create", "members"})

_SCOPE_KEY = "audit_scope"

code_labels("audit_action", {
    "unit.create": N_("创建单位"), "unit.update": N_("修改单位"), "unit.member_add": N_("授予单位角色"),
    "unit.member_remove": N_("撤销单位角色"),
})
code_labels("audit_target", {"unit": N_("单位")})


def is_platform_admin(user: object) -> bool:
    return isinstance(user, User) and user.is_authenticated and user.has_role("admin")


def can(user: object, capability: str, *, unit_id: int | None, contest_id: int | None = None) -> bool:
    """Whether the user holds `capability` in the unit (and, where given, the contest)."""
    if capability not in CAPABILITIES:
        raise ValueError(f"unknown capability {capability!r}")
    if is_platform_admin(user):
        return True
    if not isinstance(user, User) or not user.is_authenticated or unit_id is None:
        return False
    roles = CAPABILITIES[capability]
    for membership in user.memberships:
        if membership.unit_id != unit_id or membership.role not in roles:
            continue
        if membership.contest_id is None or (capability not in UNIT_WIDE and membership.contest_id == contest_id):
            return True
    return False


def note_scope(session: SessionLike, *, unit_id: int | None, contest_id: int | None) -> None:
    """Remember the contest being acted on, for the audit rows of this transaction."""
    session.info[_SCOPE_KEY] = (unit_id, contest_id)


def audit_scope(session: SessionLike) -> tuple[int | None, int | None]:
    """(unit_id, contest_id) of the last scope check in this transaction, or (None, None)."""
    scope = session.info.get(_SCOPE_KEY)
    return scope if isinstance(scope, tuple) else (None, None)


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _forget_scope(session: Session) -> None:
    session.info.pop(_SCOPE_KEY, None)


def require(actor: Actor, capability: str, *, unit_id: int | None, contest_id: int | None = None,
            session: SessionLike | None = None) -> None:
    """Forbidden unless the actor (SYSTEM, or a user with the capability there) may act.
    With a session, the scope is noted for the audit rows that follow."""
    if session is not None:
        note_scope(session, unit_id=unit_id, contest_id=contest_id)
    if is_system(actor):
        return
    if not can(actor, capability, unit_id=unit_id, contest_id=contest_id):
        raise Forbidden(_("您没有权限进行此操作。"))


def is_city_staff(user: object) -> bool:
    """Whether the user keeps the platform-wide records (schools and their contacts,
    accounts' global roles such as judge and school contact): the platform's operators and
    the admins and organiser of a city unit. A 区县 unit's people do not: what they change
    there would reach every other unit's schools and judges."""
    if is_platform_admin(user):
        return True
    if not isinstance(user, User) or not user.is_authenticated:
        return False
    roles = CAPABILITIES["configure"]
    return any(m.role in roles and m.contest_id is None and m.unit.level == "city" for m in user.memberships)


def may_enter_back_office(user: object) -> bool:
    """Operators, and anyone with a role in some unit."""
    return is_platform_admin(user) or (isinstance(user, User) and user.is_authenticated and bool(user.memberships))


def has_anywhere(user: object, capability: str) -> bool:
    """Whether the user holds the capability in at least one unit or contest."""
    if is_platform_admin(user):
        return True
    if not isinstance(user, User):
        return False
    roles = CAPABILITIES[capability]
    return any(m.role in roles and (m.contest_id is None or capability not in UNIT_WIDE) for m in user.memberships)


def visible_scopes(user: object, capability: str = "view") -> tuple[set[int], set[tuple[int, int]]] | None:
    """Where the user holds the capability: (unit ids for all their contests, (unit id,
    contest id) pairs for single contests — a contest counts only while it is still that
    unit's), or None for "everywhere" (the platform's operators)."""
    if is_platform_admin(user):
        return None
    units: set[int] = set()
    contests: set[tuple[int, int]] = set()
    if isinstance(user, User):
        roles = CAPABILITIES[capability]
        for m in user.memberships:
            if m.role not in roles:
                continue
            if m.contest_id is None:
                units.add(m.unit_id)
            elif capability not in UNIT_WIDE:
                contests.add((m.unit_id, m.contest_id))
    return units, contests


# --- units and their members ---------------------------------------------------------------

def list_units(session: SessionLike) -> list[OrganisingUnit]:
    """City units first, then the districts in the platform's order."""
    units = list(session.scalars(select(OrganisingUnit)))
    return sorted(units, key=unit_order)


def unit_order(unit: OrganisingUnit) -> tuple[int, int, int, int]:
    district = DISTRICTS.index(unit.district) if unit.district in DISTRICTS else len(DISTRICTS)
    return (UNIT_LEVELS.index(unit.level), district, unit.position, unit.id)


def get_unit(session: SessionLike, unit_id: int) -> OrganisingUnit:
    unit = session.get(OrganisingUnit, unit_id)
    if unit is None:
        raise NotFound(_("单位不存在。"))
    return unit


def units_where(session: SessionLike, user: object, capability: str) -> list[OrganisingUnit]:
    """The units in which the user holds a unit-wide capability (every unit for operators)."""
    scopes = visible_scopes(user, capability)
    return [u for u in list_units(session) if scopes is None or u.id in scopes[0]]


def save_unit(session: SessionLike, *, actor: Actor, unit: OrganisingUnit | None, name: str, level: str, district: str,
              now: datetime, ip: str = "") -> OrganisingUnit:
    """Create or rename a unit: the platform's operators only (audit-logged)."""
    from . import audit

    if not is_system(actor) and not is_platform_admin(actor):
        raise Forbidden(_("只有平台管理员可以创建或修改单位。"))
    name = " ".join((name or "").split())
    if not name or len(name) > 60:
        raise InvalidInput(_("请填写单位名称（不超过 60 个字）。"), field="name")
    if level not in UNIT_LEVELS:
        raise InvalidInput(_("请选择单位级别。"), field="level")
    if level == "district" and district not in DISTRICTS:
        raise InvalidInput(_("区县单位须选择所在区县。"), field="district")
    if level == "city":
        district = ""
    clash = session.scalar(select(OrganisingUnit.id).where(OrganisingUnit.name == name))
    if clash is not None and (unit is None or clash != unit.id):
        raise InvalidInput(_("已有同名单位。"), field="name")
    before = {"name": unit.name, "level": unit.level, "district": unit.district} if unit else {}
    if unit is None:
        unit = OrganisingUnit(name=name, level=level, district=district, created_at=now)
        session.add(unit)
    else:
        unit.name, unit.level, unit.district = name, level, district
    session.flush()
    note_scope(session, unit_id=unit.id, contest_id=None)
    after = {"name": name, "level": level, "district": district}
    b, a = audit.diff(before, after)
    if b or a:
        audit.record(session, actor=actor, action="unit.create" if not before else "unit.update", target_type="unit",
                     target_id=unit.id, before=b or None, after=a, summary=name, now=now, ip=ip)
    return unit


def ensure_unit(session: SessionLike, *, name: str, level: str = "city", district: str = "", now: datetime) -> OrganisingUnit:
    """The unit of that name, created by the system if missing (the demo, benchmarks)."""
    found = session.scalar(select(OrganisingUnit).where(OrganisingUnit.name == name))
    if found is not None:
        return found
    from .actors import SYSTEM

    return save_unit(session, actor=SYSTEM, unit=None, name=name, level=level, district=district, now=now)


def add_member(session: SessionLike, *, actor: Actor, unit: OrganisingUnit, user: User, role: str,
               contest_id: int | None = None, now: datetime, ip: str = "") -> UnitMembership:
    """Give a person a role in the unit (or one of its contests): the unit's admins and
    the platform's operators (audit-logged). Adding what they already hold changes nothing."""
    from . import audit

    require(actor, "members", unit_id=unit.id, session=session)
    if role not in UNIT_ROLES:
        raise InvalidInput(_("请选择角色。"), field="role")
    for m in user.memberships:
        if m.unit_id == unit.id and m.role == role and m.contest_id == contest_id:
            return m
    membership = UnitMembership(unit_id=unit.id, role=role, contest_id=contest_id, granted_at=now)
    user.memberships.append(membership)
    if not user.has_role("organiser", "admin"):
        # The mark of staff: the header offers them the back office.
        user.roles.append(UserRole(role="organiser", granted_at=now))
    session.flush()
    audit.record(session, actor=actor, action="unit.member_add", target_type="user", target_id=user.id, now=now, ip=ip,
                 after={"unit_role": role, **({"contest_id": contest_id} if contest_id else {})}, summary=f"{unit.name} · {user.masked_phone}")
    return membership


def add_member_by_phone(session: SessionLike, *, actor: Actor, unit: OrganisingUnit, phone: str, role: str,
                        contest_id: int | None = None, now: datetime, ip: str = "") -> UnitMembership:
    """add_member for the account registered with this mobile number (NotFound otherwise:
    the person registers first, so nobody is given a role without having agreed to the terms)."""
    from .service import find_user_by_phone, normalize_phone

    require(actor, "members", unit_id=unit.id, session=session)
    try:
        number = normalize_phone(phone)
    except InvalidInput:
        raise InvalidInput(_("请输入正确的 11 位手机号。"), field="phone") from None
    user = find_user_by_phone(session, number)
    if user is None:
        raise NotFound(_("没有用这个手机号注册的账号，请对方先在网站注册。"), field="phone")
    if contest_id is not None and contest_id not in unit_contest_ids(session, unit):
        raise InvalidInput(_("请选择本单位的活动。"), field="contest_id")
    return add_member(session, actor=actor, unit=unit, user=user, role=role, contest_id=contest_id, now=now, ip=ip)


def unit_contest_ids(session: SessionLike, unit: OrganisingUnit) -> set[int]:
    from sqlalchemy import column, table

    contest = table("contest", column("id"), column("unit_id"))
    return set(session.scalars(select(contest.c.id).where(contest.c.unit_id == unit.id)))


def remove_member(session: SessionLike, *, actor: Actor, membership: UnitMembership, now: datetime, ip: str = "") -> None:
    """Take a role away (audit-logged). An admin cannot remove their own admin role."""
    from . import audit

    require(actor, "members", unit_id=membership.unit_id, session=session)
    if isinstance(actor, User) and actor.id == membership.user_id and membership.role == "admin" \
            and membership.contest_id is None and not is_platform_admin(actor):
        raise Forbidden(_("不能撤销自己的单位管理员角色。"))
    user = membership.user
    summary = f"{membership.unit.name} · {user.masked_phone}"
    before = {"unit_role": membership.role, **({"contest_id": membership.contest_id} if membership.contest_id else {})}
    user.memberships.remove(membership)
    session.flush()
    audit.record(session, actor=actor, action="unit.member_remove", target_type="user", target_id=user.id, now=now, ip=ip,
                 before=before, summary=summary)


def get_membership(session: SessionLike, membership_id: int) -> UnitMembership:
    membership = session.get(UnitMembership, membership_id)
    if membership is None:
        raise NotFound(_("该成员角色不存在。"))
    return membership


def members_of(session: SessionLike, unit: OrganisingUnit) -> list[UnitMembership]:
    return list(session.scalars(select(UnitMembership).where(UnitMembership.unit_id == unit.id)
                                .order_by(UnitMembership.role, UnitMembership.id)))


def role_label(role: str) -> str:
    return label_of("unit_role", role)


def names(units: Iterable[OrganisingUnit]) -> list[str]:
    return [u.name for u in units]
