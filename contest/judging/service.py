"""Judging: rounds and rubrics, panels, 回避 declarations and conflicts, assignment,
scoring, the live final, the organiser's dashboard and advancing entries.

Rules this module keeps:
- Authorization is checked here, not in the views: organisers (and admins) manage
  rounds; a judge reads and writes only entries assigned to them, only after signing
  the round's declaration, and never sees another judge's scores or an aggregate
  before the round is closed.
- A submitted score is locked; only an organiser reopens it, with a reason, audit-logged.
- Assignment is planned by judging.assign (pure) and applied here as a diff: pairs that
  carry a score, draft or submitted, and pairs pinned by hand are always kept.
- Aggregates are derived by judging.aggregate from the stored raw values on demand.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import func, select, update
from sqlalchemy.orm import joinedload, selectinload

from ..accounts import audit, units
from ..accounts.actors import SYSTEM, Actor, actor_id, is_system
from ..accounts.models import User
from ..accounts.service import SmsSender, normalize_phone, notify, queue_sms, require_role, set_roles
from ..contests import service as contests
from ..contests.models import Contest, Entry, SchoolContact
from ..db import SessionLike, rowcount
from ..errors import Conflict, Forbidden, InvalidInput, NotFound
from ..i18n import N_, _, code_labels
from . import aggregate as aggregate  # re-exported: the back office reads its result types
from .assign import Plan as Plan  # re-exported: the back office shows the plan
from .assign import plan_assignment
from .models import (
    AGGREGATIONS,
    ROUND_KINDS,
    Assignment,
    Criterion,
    JudgeInvite,
    JudgeProfile,
    PanelMember,
    Round,
    RoundEntry,
    Score,
)
from .models import (
    Conflict as ConflictRow,
)

INVITE_DAYS = 7
REASON_MAX = 300
COMMENT_MAX = 2000


# --- access -----------------------------------------------------------------------


def get_round(session: SessionLike, round_id: int) -> Round:
    found = session.get(Round, round_id)
    if found is None:
        raise NotFound(_("没有这个评审轮次。"))
    return found


def rounds_of(session: SessionLike, contest: Contest) -> list[Round]:
    return list(session.scalars(
        select(Round).where(Round.contest_id == contest.id).order_by(Round.position, Round.id)
        .options(selectinload(Round.criteria))
    ))


# --- rounds and rubrics ------------------------------------------------------------


@dataclass
class CriterionFields:
    name: str
    maximum: float
    weight: float
    description: str = ""


@dataclass
class RoundFields:
    key: str
    name: str
    kind: str = "review"
    judges_per_entry: int = 3
    blind: bool = True
    aggregation: str = "trimmed"
    normalise: bool = False
    min_scores: int = 5
    spread_threshold: float = 20.0
    score_step: float = 0.5
    instructions: str = ""
    position: int = 0


def _round_snapshot(rnd: Round) -> dict[str, Any]:
    return {
        "key": rnd.key, "name": rnd.name, "kind": rnd.kind, "state": rnd.state,
        "judges_per_entry": rnd.judges_per_entry, "blind": rnd.blind, "aggregation": rnd.aggregation,
        "normalise": rnd.normalise, "min_scores": rnd.min_scores, "spread_threshold": rnd.spread_threshold,
        "score_step": rnd.score_step,
        "rubric": [[c.name, c.maximum, c.weight] for c in rnd.criteria],
    }


def check_rubric(criteria: Sequence[CriterionFields]) -> None:
    """A rubric an organiser can save: named criteria, maxima above zero, weights that
    sum to 100 (the scale of every total)."""
    if not criteria:
        raise InvalidInput(_("评分标准至少需要一项。"), code="rubric_empty")
    names = [c.name.strip() for c in criteria]
    if any(not n for n in names):
        raise InvalidInput(_("每项评分标准都需要名称。"), code="rubric_name")
    if len(set(names)) != len(names):
        raise InvalidInput(_("评分标准的名称不能重复。"), code="rubric_name")
    for c in criteria:
        if not (c.maximum > 0 and math.isfinite(c.maximum)):
            raise InvalidInput(_("“%(name)s”的满分必须大于 0。", name=c.name), code="rubric_maximum")
        if not (0 < c.weight <= 100):
            raise InvalidInput(_("“%(name)s”的权重必须在 0 到 100 之间。", name=c.name), code="rubric_weight")
    total = sum(c.weight for c in criteria)
    if abs(total - 100) > 1e-9:
        raise InvalidInput(_("各项权重之和必须为 100，现在是 %(total)s。", total=f"{total:g}"), code="rubric_weights")


def _check_fields(fields: RoundFields) -> None:
    if not fields.key.strip() or not fields.name.strip():
        raise InvalidInput(_("请填写轮次标识和名称。"))
    if fields.kind not in ROUND_KINDS:
        raise InvalidInput(_("未知的轮次类型。"))
    if fields.aggregation not in AGGREGATIONS:
        raise InvalidInput(_("未知的汇总方法。"))
    if not 1 <= fields.judges_per_entry <= 50:
        raise InvalidInput(_("每件作品的评委人数应在 1 到 50 之间。"))
    if not 0 < fields.score_step <= 100:
        raise InvalidInput(_("评分步长必须大于 0。"))
    if not 1 <= fields.min_scores <= 1000:
        raise InvalidInput(_("校准所需最少评分数应在 1 到 1000 之间。"))
    if not 0 <= fields.spread_threshold <= 100:
        raise InvalidInput(_("分差阈值应在 0 到 100 之间。"))


def _apply_fields(rnd: Round, fields: RoundFields) -> None:
    rnd.key = fields.key.strip()
    rnd.name = fields.name.strip()
    rnd.kind = fields.kind
    rnd.judges_per_entry = fields.judges_per_entry
    rnd.blind = fields.blind
    rnd.aggregation = fields.aggregation
    rnd.normalise = fields.normalise
    rnd.min_scores = fields.min_scores
    rnd.spread_threshold = fields.spread_threshold
    rnd.score_step = fields.score_step
    rnd.instructions = fields.instructions
    rnd.position = fields.position


def _set_criteria(rnd: Round, criteria: Sequence[CriterionFields]) -> None:
    rnd.criteria.clear()
    for position, c in enumerate(criteria):
        rnd.criteria.append(Criterion(
            position=position, name=c.name.strip(), description=c.description.strip(),
            maximum=float(c.maximum), weight=float(c.weight),
        ))


def create_round(
    session: SessionLike, *, actor: Actor, contest: Contest, fields: RoundFields,
    criteria: Sequence[CriterionFields], now: datetime, ip: str = "",
) -> Round:
    contests.require_in(session, actor, contest, "judging")
    _check_fields(fields)
    check_rubric(criteria)
    if session.scalar(select(Round.id).where(Round.contest_id == contest.id, Round.key == fields.key.strip())):
        raise Conflict(_("本赛事已有标识为“%(key)s”的轮次。", key=fields.key))
    rnd = Round(contest_id=contest.id, created_at=now, updated_at=now, state="draft")
    _apply_fields(rnd, fields)
    session.add(rnd)
    session.flush()
    _set_criteria(rnd, criteria)
    session.flush()
    audit.record(session, actor=actor, action="round.create", target_type="round", target_id=rnd.id, now=now,
                 after=_round_snapshot(rnd), summary=f"{contest.short_title or contest.title} · {rnd.name}", ip=ip)
    return rnd


def update_round(
    session: SessionLike, *, actor: Actor, rnd: Round, fields: RoundFields,
    criteria: Sequence[CriterionFields] | None, now: datetime, ip: str = "",
) -> Round:
    """Change a round. The rubric, k and the scale can change only while it is a draft:
    scores already given were given against them."""
    contests.require_in(session, actor, rnd.contest, "judging")
    _check_fields(fields)
    before = _round_snapshot(rnd)
    if rnd.state == "finalised":
        raise Conflict(_("轮次已定稿，不能再修改；其得分已用于结果。"), code="round_final")
    if rnd.state != "draft":
        locked = (fields.judges_per_entry != rnd.judges_per_entry or fields.score_step != rnd.score_step
                  or fields.kind != rnd.kind or criteria is not None and [
                      (c.name, float(c.maximum), float(c.weight)) for c in criteria
                  ] != [(c.name, c.maximum, c.weight) for c in rnd.criteria])
        if locked:
            raise Conflict(_("轮次已开始评审，评分标准、每件评委数和类型不能再改。"))
    if criteria is not None:
        check_rubric(criteria)
        if rnd.state == "draft":
            _set_criteria(rnd, criteria)
    if fields.key.strip() != rnd.key and session.scalar(
        select(Round.id).where(Round.contest_id == rnd.contest_id, Round.key == fields.key.strip())
    ):
        raise Conflict(_("本赛事已有标识为“%(key)s”的轮次。", key=fields.key))
    _apply_fields(rnd, fields)
    rnd.updated_at = now
    session.flush()
    old, new = audit.diff(before, _round_snapshot(rnd))
    if new:
        audit.record(session, actor=actor, action="round.update", target_type="round", target_id=rnd.id,
                     now=now, before=old, after=new, summary=rnd.name, ip=ip)
    return rnd


TRANSITIONS = {("draft", "open"), ("open", "closed"), ("closed", "open"), ("closed", "finalised")}


def set_state(session: SessionLike, *, actor: Actor, rnd: Round, state: str, now: datetime, ip: str = "") -> Round:
    """Move a round along draft → open → closed → finalised (closed → open reopens it).
    Opening plans the assignment if none exists; finalising needs every assigned score
    submitted."""
    contests.require_in(session, actor, rnd.contest, "judging")
    if (rnd.state, state) not in TRANSITIONS:
        raise Conflict(_("轮次不能从“%(a)s”变为“%(b)s”。", a=state_label(rnd.state), b=state_label(state)))
    if state == "open" and rnd.state == "draft":
        if not rnd.criteria:
            raise Conflict(_("请先设置评分标准。"))
        if not _entry_ids(session, rnd):
            raise Conflict(_("请先加入参评作品。"))
        if not _active_judge_ids(session, rnd):
            raise Conflict(_("请先组建评委组。"))
        if not session.scalar(select(func.count()).select_from(Assignment).where(Assignment.round_id == rnd.id)):
            rebalance(session, actor=actor, rnd=rnd, now=now, ip=ip)
    if state == "finalised":
        missing = _unsubmitted_count(session, rnd)
        if missing:
            raise Conflict(_("还有 %(n)d 份评分未提交，不能定稿。", n=missing))
    before = rnd.state
    rnd.state = state
    rnd.updated_at = now
    if state == "open":
        rnd.opened_at = rnd.opened_at or now
    elif state == "closed":
        rnd.closed_at = now
        rnd.live_entry_id = None
    elif state == "finalised":
        rnd.finalised_at = now
    audit.record(session, actor=actor, action=f"round.{ 'reopen' if before == 'closed' and state == 'open' else state}",
                 target_type="round", target_id=rnd.id, now=now, before={"state": before}, after={"state": state},
                 summary=rnd.name, ip=ip)
    session.flush()
    return rnd


STATE_LABELS = {"draft": N_("草稿"), "open": N_("评审中"), "closed": N_("已截止"), "finalised": N_("已定稿")}
# The audit actions (and their targets) this module writes, as the audit page and its export show them.
AUDIT_ACTIONS = code_labels("audit_action", {
    "round.create": N_("新建评审轮次"),
    "round.update": N_("修改评审轮次"),
    "round.open": N_("开启评审"),
    "round.reopen": N_("重新开启评审"),
    "round.closed": N_("截止评审"),
    "round.finalised": N_("评审定稿"),
    "round.entries": N_("调整本轮作品"),
    "round.judge_add": N_("添加评委"),
    "round.judge_withdraw": N_("评委退出本轮"),
    "round.assign": N_("分配评审任务"),
    "round.pin": N_("指定评委评审作品"),
    "round.unassign": N_("取消评委的评审任务"),
    "round.advance": N_("作品晋级下一轮"),
    "round.live": N_("切换路演项目"),
    "judge.invite": N_("邀请评委"),
    "judge.invite_accept": N_("评委接受邀请"),
    "judge.invite_revoke": N_("撤销评委邀请"),
    "judge.invite_send": N_("短信发送评委邀请"),
    "contest.notice": N_("群发通知"),
    "judge.profile": N_("修改评委资料"),
    "judge.declaration": N_("评委签署回避声明"),
    "score.submit": N_("提交评分"),
    "score.reopen": N_("退回评分供修改"),
})
code_labels("audit_target", {"round": N_("评审轮次"), "score": N_("评分")})
code_labels("round_state", STATE_LABELS)
# Codes a round's or a score's audit rows hold (accounts.audit.CODED_VALUES).
code_labels("round_kind", {"review": N_("网络评审"), "live": N_("现场路演")})
code_labels("round_aggregation", {"mean": N_("平均"), "trimmed": N_("去掉最高最低后平均（≥5 位评委时）"), "median": N_("中位数")})
code_labels("score_status", {"draft": N_("草稿"), "submitted": N_("已提交")})


def state_label(state: str) -> str:
    return _(STATE_LABELS.get(state, state))


def _unsubmitted_count(session: SessionLike, rnd: Round) -> int:
    submitted = select(Score.id).where(
        Score.round_id == rnd.id, Score.entry_id == Assignment.entry_id, Score.judge_id == Assignment.judge_id,
        Score.status == "submitted",
    ).exists()
    return session.scalar(select(func.count()).select_from(Assignment).where(
        Assignment.round_id == rnd.id, ~submitted,
    )) or 0


def _entry_ids(session: SessionLike, rnd: Round) -> list[int]:
    return list(session.scalars(
        select(RoundEntry.entry_id).where(RoundEntry.round_id == rnd.id).order_by(RoundEntry.position, RoundEntry.entry_id)
    ))


def round_entries(session: SessionLike, rnd: Round) -> list[Entry]:
    return list(session.scalars(
        select(Entry).join(RoundEntry, RoundEntry.entry_id == Entry.id).where(RoundEntry.round_id == rnd.id)
        .order_by(RoundEntry.position, Entry.id)
    ))


def add_entries(
    session: SessionLike, *, actor: Actor, rnd: Round, entry_ids: Iterable[int], now: datetime, ip: str = "",
) -> int:
    """Put approved entries of the round's contest into it; returns how many were new."""
    contests.require_in(session, actor, rnd.contest, "judging")
    if rnd.state not in ("draft", "open"):
        raise Conflict(_("轮次已截止，不能再加入作品。"))
    wanted = sorted(set(entry_ids))
    valid = set(session.scalars(select(Entry.id).where(
        Entry.id.in_(wanted), Entry.contest_id == rnd.contest_id, Entry.status == "approved",
    ))) if wanted else set()
    if set(wanted) - valid:
        raise InvalidInput(_("只能加入本赛事已通过审核的作品。"))
    present = set(_entry_ids(session, rnd))
    position = (session.scalar(select(func.max(RoundEntry.position)).where(RoundEntry.round_id == rnd.id)) or 0)
    added = 0
    for entry_id in wanted:
        if entry_id in present:
            continue
        position += 1
        session.add(RoundEntry(round_id=rnd.id, entry_id=entry_id, position=position, added_at=now))
        added += 1
    session.flush()
    if added:
        audit.record(session, actor=actor, action="round.entries", target_type="round", target_id=rnd.id, now=now,
                     after={"added": added}, summary=rnd.name, ip=ip)
        if rnd.state == "open":
            rebalance(session, actor=actor, rnd=rnd, now=now, ip=ip)
    return added


# --- panel, invitations, declarations, conflicts ----------------------------------------


def _active_judge_ids(session: SessionLike, rnd: Round) -> list[int]:
    return list(session.scalars(
        select(PanelMember.judge_id).where(PanelMember.round_id == rnd.id, PanelMember.status == "active")
        .order_by(PanelMember.id)
    ))


def panel(session: SessionLike, rnd: Round) -> list[PanelMember]:
    return list(session.scalars(
        select(PanelMember).where(PanelMember.round_id == rnd.id).order_by(PanelMember.id)
        .options(selectinload(PanelMember.judge))
    ))


def membership(session: SessionLike, rnd: Round, judge: User) -> PanelMember | None:
    return session.scalar(select(PanelMember).where(PanelMember.round_id == rnd.id, PanelMember.judge_id == judge.id))


def add_judge(session: SessionLike, *, actor: Actor, rnd: Round, user: User, now: datetime, ip: str = "") -> PanelMember:
    """Make an existing account a judge of the round (granting the judge role if needed).
    A withdrawn judge comes back as active."""
    contests.require_in(session, actor, rnd.contest, "judging")
    if rnd.state in ("closed", "finalised"):
        raise Conflict(_("轮次已截止，不能再调整评委组。"))
    if not user.has_role("judge"):
        set_roles(session, actor=actor, user=user, roles=set(user.role_names) | {"judge"}, now=now, ip=ip)
    member = membership(session, rnd, user)
    if member is None:
        member = PanelMember(round_id=rnd.id, judge_id=user.id, added_at=now, status="active")
        session.add(member)
    elif member.status == "active":
        return member
    else:
        member.status, member.withdrawn_at = "active", None
    session.flush()
    audit.record(session, actor=actor, action="round.judge_add", target_type="round", target_id=rnd.id, now=now,
                 after={"judge": user.id}, summary=f"{rnd.name} · {user.name_or_phone}", ip=ip)
    if rnd.state == "open":
        rebalance(session, actor=actor, rnd=rnd, now=now, ip=ip)
    return member


def withdraw_judge(
    session: SessionLike, *, actor: Actor, rnd: Round, judge_id: int, reason: str, now: datetime, ip: str = "",
) -> Plan | None:
    """A judge drops out: their unscored entries move to others; every score they gave stays."""
    contests.require_in(session, actor, rnd.contest, "judging")
    reason = _reason(reason)
    member = session.scalar(select(PanelMember).where(PanelMember.round_id == rnd.id, PanelMember.judge_id == judge_id))
    if member is None or member.status != "active":
        raise NotFound(_("这位评委不在本轮评委组中。"))
    member.status, member.withdrawn_at = "withdrawn", now
    session.flush()
    audit.record(session, actor=actor, action="round.judge_withdraw", target_type="round", target_id=rnd.id, now=now,
                 after={"judge": judge_id, "reason": reason}, summary=rnd.name, ip=ip)
    if rnd.state in ("draft", "open") and session.scalar(
        select(func.count()).select_from(Assignment).where(Assignment.round_id == rnd.id)
    ):
        return rebalance(session, actor=actor, rnd=rnd, now=now, ip=ip)
    return None


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(_("请填写原因。"), field="reason")
    return reason[:REASON_MAX]


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_invite(
    session: SessionLike, *, actor: Actor, rnd: Round, name: str, organisation: str = "",
    school_id: int | None = None, now: datetime, ip: str = "",
) -> tuple[JudgeInvite, str]:
    """A one-time invitation link for a judge; returns the invite and its token (shown
    once to the organiser, never stored)."""
    contests.require_in(session, actor, rnd.contest, "judging")
    name = (name or "").strip()
    if not name:
        raise InvalidInput(_("请填写评委姓名。"), field="name")
    token = secrets.token_urlsafe(24)
    invite = JudgeInvite(
        contest_id=rnd.contest_id, round_id=rnd.id, token_hash=_token_hash(token), name=name[:40],
        organisation=(organisation or "").strip()[:100], school_id=school_id,
        created_by_id=actor_id(actor), created_at=now, expires_at=now + timedelta(days=INVITE_DAYS),
    )
    session.add(invite)
    session.flush()
    audit.record(session, actor=actor, action="judge.invite", target_type="round", target_id=rnd.id, now=now,
                 after={"invite": invite.id, "name": invite.name}, summary=rnd.name, ip=ip)
    return invite, token


def find_invite(session: SessionLike, token: str, now: datetime) -> JudgeInvite:
    invite = session.scalar(select(JudgeInvite).where(JudgeInvite.token_hash == _token_hash(token or "")))
    if invite is None:
        raise NotFound(_("邀请链接无效。"))
    if invite.used_at is not None:
        raise Conflict(_("这个邀请链接已经使用过了。"), code="invite_used")
    if invite.revoked_at is not None:
        raise Conflict(_("这个邀请链接已被组织方撤销。"), code="invite_revoked")
    if invite.expires_at <= now:
        raise Conflict(_("这个邀请链接已过期，请联系组织方重新发送。"), code="invite_expired")
    return invite


def accept_invite(session: SessionLike, *, token: str, user: User, now: datetime, ip: str = "") -> PanelMember:
    """The signed-in user redeems the link: single use (compare-and-set on used_at)."""
    invite = find_invite(session, token, now)
    claimed = rowcount(session.execute(
        update(JudgeInvite).where(JudgeInvite.id == invite.id, JudgeInvite.used_at.is_(None),
                                  JudgeInvite.revoked_at.is_(None))
        .values(used_at=now, used_by_id=user.id)
    ))
    if not claimed:
        raise Conflict(_("这个邀请链接已经使用过了。"), code="invite_used")
    profile = session.get(JudgeProfile, user.id)
    if profile is None:
        profile = JudgeProfile(user_id=user.id)
        session.add(profile)
    profile.organisation = invite.organisation or profile.organisation
    if invite.school_id is not None:
        profile.school_id = invite.school_id
    if not user.display_name:
        user.display_name = invite.name
    if not user.has_role("judge"):
        set_roles(session, actor=SYSTEM, user=user, roles=set(user.role_names) | {"judge"}, now=now, ip=ip)
    rnd = get_round(session, invite.round_id) if invite.round_id else None
    if rnd is None:
        raise NotFound(_("邀请对应的轮次已不存在。"))
    member = add_judge(session, actor=SYSTEM, rnd=rnd, user=user, now=now, ip=ip)
    audit.record(session, actor=user, action="judge.invite_accept", target_type="round", target_id=rnd.id, now=now,
                 after={"invite": invite.id}, summary=rnd.name, ip=ip)
    return member


INVITE_STATES = code_labels("invite_state", {
    "pending": N_("待接受"), "accepted": N_("已接受"), "revoked": N_("已撤销"), "expired": N_("已过期"),
})


def invite_state(invite: JudgeInvite, now: datetime) -> str:
    """pending, accepted, revoked or expired (a key of INVITE_STATES)."""
    if invite.used_at is not None:
        return "accepted"
    if invite.revoked_at is not None:
        return "revoked"
    return "expired" if invite.expires_at <= now else "pending"


def mask_phone(phone: str) -> str:
    """A mobile number as the back office shows it (User.masked_phone): 138****0000."""
    return f"{phone[:3]}****{phone[-4:]}" if len(phone) >= 7 else ""


@dataclass(frozen=True)
class InviteLine:
    """An invitation as the organisers' list shows it; never its link (only a hash is kept)."""

    invite: JudgeInvite
    state: str
    phone: str  # masked: the account that accepted it, else the number it was texted to


def invites_of(session: SessionLike, *, actor: Actor, rnd: Round, now: datetime) -> list[InviteLine]:
    """The round's invitations, newest first, with their state (one query); readable by
    every role of the unit (a link's secret is never stored, so none is shown)."""
    contests.require_in(session, actor, rnd.contest, "view")
    rows = session.scalars(select(JudgeInvite).where(JudgeInvite.round_id == rnd.id)
                           .order_by(JudgeInvite.id.desc()).options(joinedload(JudgeInvite.used_by)))
    return [InviteLine(i, invite_state(i, now), i.used_by.masked_phone if i.used_by else mask_phone(i.phone))
            for i in rows]


def _round_invite(session: SessionLike, rnd: Round, invite_id: int) -> JudgeInvite:
    invite = session.get(JudgeInvite, invite_id)
    if invite is None or invite.round_id != rnd.id:
        raise NotFound(_("没有找到这个邀请。"))
    return invite


def _revoke(session: SessionLike, invite: JudgeInvite, actor: Actor, now: datetime) -> None:
    """Compare-and-set: a link being accepted at this moment is either accepted or revoked."""
    done = rowcount(session.execute(
        update(JudgeInvite).where(JudgeInvite.id == invite.id, JudgeInvite.used_at.is_(None),
                                  JudgeInvite.revoked_at.is_(None))
        .values(revoked_at=now, revoked_by_id=actor_id(actor)).execution_options(synchronize_session=False)
    ))
    if not done:
        raise Conflict(_("这个邀请已被接受或已撤销，不能再撤销。"), code="invite_settled")
    session.refresh(invite)


def revoke_invite(
    session: SessionLike, *, actor: Actor, rnd: Round, invite_id: int, now: datetime, ip: str = "",
) -> JudgeInvite:
    """Withdraw an invitation nobody has accepted yet: its link stops working (audit-logged)."""
    contests.require_in(session, actor, rnd.contest, "judging")
    invite = _round_invite(session, rnd, invite_id)
    if invite_state(invite, now) not in ("pending", "expired"):
        raise Conflict(_("这个邀请已被接受或已撤销，不能再撤销。"), code="invite_settled")
    _revoke(session, invite, actor, now)
    audit.record(session, actor=actor, action="judge.invite_revoke", target_type="round", target_id=rnd.id, now=now,
                 before={"invite": invite.id}, after={"invite": invite.id, "revoked_at": now},
                 summary=f"{rnd.name} · {invite.name}", ip=ip)
    return invite


@dataclass(frozen=True)
class SentInvite:
    invite: JudgeInvite
    token: str  # the fresh link's token: shown to the organiser only when no text went out
    texted: bool  # False: the day's SMS budget is spent


def inviting_body(contest: Contest) -> str:
    """Who an invitation comes from: the contest's organising unit."""
    return (contest.unit.name if contest.unit is not None else (contest.short_title or contest.title)).strip()[:60]


def send_invite_sms(
    session: SessionLike, sender: SmsSender, *, actor: Actor, rnd: Round, invite_id: int, phone: str,
    link_for: Callable[[str], str], now: datetime, ip: str = "",
) -> SentInvite:
    """Text an invitation to a mobile number. Only a hash of a link is stored, so the
    old link cannot be sent again: a fresh one (valid another 7 days) replaces it and the
    old one is revoked. The message goes through the outbox and the job runner; past the
    day's budget nothing is texted and the new link is returned to be passed on by hand."""
    contests.require_in(session, actor, rnd.contest, "judging")
    number = normalize_phone(phone)
    old = _round_invite(session, rnd, invite_id)
    if invite_state(old, now) not in ("pending", "expired"):
        raise Conflict(_("只能重新发送待接受或已过期的邀请。"), code="invite_settled")
    if rnd.state in ("closed", "finalised"):
        raise Conflict(_("轮次已截止，不能再邀请评委。"), code="round_closed")
    _revoke(session, old, actor, now)
    token = secrets.token_urlsafe(24)
    invite = JudgeInvite(
        contest_id=old.contest_id, round_id=rnd.id, token_hash=_token_hash(token), name=old.name,
        organisation=old.organisation, school_id=old.school_id, created_by_id=actor_id(actor), created_at=now,
        expires_at=now + timedelta(days=INVITE_DAYS), phone=number, sent_at=now,
    )
    session.add(invite)
    session.flush()
    message = queue_sms(session, sender, phone=number, kind="judge_invite",
                        params={"organiser": inviting_body(rnd.contest), "link": link_for(token)}, now=now)
    if message is None:
        invite.sent_at = None
    audit.record(session, actor=actor, action="judge.invite_send", target_type="round", target_id=rnd.id, now=now,
                 before={"invite": old.id}, after={"invite": invite.id, "phone": mask_phone(number),
                                                   "texted": message is not None},
                 summary=f"{rnd.name} · {invite.name}", ip=ip)
    return SentInvite(invite, token, message is not None)


def set_profile(
    session: SessionLike, *, actor: Actor, user: User, organisation: str, title: str, school_id: int | None,
    now: datetime, ip: str = "",
) -> JudgeProfile:
    if not is_system(actor) and not units.has_anywhere(actor, "judging"):
        raise Forbidden(_("您没有权限进行此操作。"))
    profile = session.get(JudgeProfile, user.id) or JudgeProfile(user_id=user.id)
    session.add(profile)
    before = {"organisation": profile.organisation, "title": profile.title, "school_id": profile.school_id}
    profile.organisation, profile.title, profile.school_id = organisation.strip()[:100], title.strip()[:60], school_id
    old, new = audit.diff(before, {"organisation": profile.organisation, "title": profile.title, "school_id": school_id})
    if new:
        audit.record(session, actor=actor, action="judge.profile", target_type="user", target_id=user.id, now=now,
                     before=old, after=new, summary=user.name_or_phone, ip=ip)
    session.flush()
    if "school_id" in new:
        # A new affiliation may conflict with entries the judge holds: re-plan the
        # rounds still being judged (scored pairs stay, as always).
        for rnd in session.scalars(select(Round).join(PanelMember, PanelMember.round_id == Round.id).where(
            PanelMember.judge_id == user.id, PanelMember.status == "active", Round.state.in_(("draft", "open")),
        )):
            if session.scalar(select(func.count()).select_from(Assignment).where(Assignment.round_id == rnd.id)):
                rebalance(session, actor=actor, rnd=rnd, now=now, ip=ip)
    return profile


def judge_profiles(session: SessionLike, judge_ids: Sequence[int]) -> dict[int, JudgeProfile]:
    """The profiles (organisation, title, school) of these judges, by user id, schools loaded."""
    if not judge_ids:
        return {}
    return {p.user_id: p for p in session.scalars(
        select(JudgeProfile).where(JudgeProfile.user_id.in_(judge_ids)).options(joinedload(JudgeProfile.school)))}


def affiliated_school_ids(session: SessionLike, judge_ids: Sequence[int]) -> dict[int, set[int]]:
    """Schools each judge belongs to: their profile's school and any school they act for."""
    schools: dict[int, set[int]] = defaultdict(set)
    if not judge_ids:
        return schools
    for user_id, school_id in session.execute(
        select(JudgeProfile.user_id, JudgeProfile.school_id).where(
            JudgeProfile.user_id.in_(judge_ids), JudgeProfile.school_id.is_not(None))
    ):
        if school_id is not None:  # always, by the query: narrows the type
            schools[user_id].add(school_id)
    for user_id, school_id in session.execute(
        select(SchoolContact.user_id, SchoolContact.school_id).where(SchoolContact.user_id.in_(judge_ids))
    ):
        schools[user_id].add(school_id)
    return schools


@dataclass(frozen=True)
class ConflictPair:
    judge_id: int
    entry_id: int
    source: str  # declared | affiliation | organiser


def round_conflicts(session: SessionLike, rnd: Round, judge_ids: Sequence[int] | None = None) -> list[ConflictPair]:
    """Every (judge, entry) pair of the round that must not meet, with where it comes from."""
    judge_ids = list(judge_ids) if judge_ids is not None else list(session.scalars(
        select(PanelMember.judge_id).where(PanelMember.round_id == rnd.id)))
    entries = list(session.execute(
        select(Entry.id, Entry.school_id).join(RoundEntry, RoundEntry.entry_id == Entry.id)
        .where(RoundEntry.round_id == rnd.id)
    ))
    by_school: dict[int, list[int]] = defaultdict(list)
    for entry_id, school_id in entries:
        if school_id is not None:
            by_school[school_id].append(entry_id)
    in_round = {entry_id for entry_id, _school in entries}
    pairs: dict[tuple[int, int], str] = {}
    for judge_id, schools in affiliated_school_ids(session, judge_ids).items():
        for school_id in schools:
            for entry_id in by_school.get(school_id, ()):
                pairs[(judge_id, entry_id)] = "affiliation"
    if judge_ids:
        for row in session.scalars(select(ConflictRow).where(
            ConflictRow.contest_id == rnd.contest_id, ConflictRow.judge_id.in_(judge_ids))
        ):
            targets = [row.entry_id] if row.entry_id is not None else by_school.get(row.school_id or -1, [])
            for entry_id in targets:
                if entry_id in in_round:
                    pairs.setdefault((row.judge_id, entry_id), row.source)
    return [ConflictPair(j, e, s) for (j, e), s in sorted(pairs.items())]


def sign_declaration(
    session: SessionLike, *, judge: User, rnd: Round, conflict_entry_ids: Iterable[int] = (), note: str = "",
    accepted: bool, now: datetime, ip: str = "",
) -> PanelMember:
    """The 回避 declaration: the judge confirms the rules and names entries they are
    related to. Until this is signed they see no entry; conflicts declared here take the
    judge off those entries."""
    member = membership(session, rnd, judge)
    if member is None or member.status != "active":
        raise Forbidden(_("您不是本轮评委。"))
    if not accepted:
        raise InvalidInput(_("请阅读并确认回避声明。"), field="accept")
    wanted = set(conflict_entry_ids)
    if wanted - set(_entry_ids(session, rnd)):
        raise InvalidInput(_("只能申报本轮的参评作品。"))
    existing = set(session.scalars(select(ConflictRow.entry_id).where(
        ConflictRow.contest_id == rnd.contest_id, ConflictRow.judge_id == judge.id, ConflictRow.entry_id.is_not(None))))
    for entry_id in sorted(wanted - existing):
        session.add(ConflictRow(contest_id=rnd.contest_id, judge_id=judge.id, entry_id=entry_id, source="declared",
                                note=note.strip()[:300], created_at=now))
    first = member.declared_at is None
    member.declared_at = member.declared_at or now
    member.declaration_ip = ip[:45]
    session.flush()
    audit.record(session, actor=judge, action="judge.declaration", target_type="round", target_id=rnd.id, now=now,
                 after={"conflicts": sorted(wanted), "first": first}, summary=rnd.name, ip=ip)
    if wanted and session.scalar(select(func.count()).select_from(Assignment).where(Assignment.round_id == rnd.id)):
        rebalance(session, actor=SYSTEM, rnd=rnd, now=now, ip=ip)
    return member


# --- assignment -------------------------------------------------------------------


def _scored_pairs(session: SessionLike, rnd: Round) -> set[tuple[int, int]]:
    return {(j, e) for j, e in session.execute(
        select(Score.judge_id, Score.entry_id).where(Score.round_id == rnd.id))}


def rebalance(session: SessionLike, *, actor: Actor, rnd: Round, now: datetime, ip: str = "", seed: int | None = None) -> Plan:
    """Plan k conflict-free judges per entry with balanced loads and apply the plan as a
    diff. Pairs with a score (draft or submitted) and pinned pairs stay as they are."""
    contests.require_in(session, actor, rnd.contest, "judging")
    if rnd.state in ("closed", "finalised"):
        raise Conflict(_("轮次已截止，不能再调整分配。"))
    judges = _active_judge_ids(session, rnd)
    entries = _entry_ids(session, rnd)
    current = {(a.judge_id, a.entry_id): a for a in session.scalars(select(Assignment).where(Assignment.round_id == rnd.id))}
    scored = _scored_pairs(session, rnd)
    fixed = {pair for pair, a in current.items() if a.pinned} | (scored & set(current))
    conflicts = {(c.judge_id, c.entry_id) for c in round_conflicts(session, rnd)}
    plan = plan_assignment(
        entries, judges, rnd.judges_per_entry, conflicts=conflicts - fixed, fixed=fixed, current=set(current),
        seed=rnd.id if seed is None else seed,
    )
    removed = [pair for pair in current if pair not in plan.pairs]
    for judge_id, entry_id in removed:
        session.delete(current[(judge_id, entry_id)])
    for judge_id, entry_id in sorted(plan.pairs - set(current)):
        session.add(Assignment(round_id=rnd.id, entry_id=entry_id, judge_id=judge_id, created_at=now))
    session.flush()
    audit.record(
        session, actor=actor, action="round.assign", target_type="round", target_id=rnd.id, now=now,
        after={"pairs": len(plan.pairs), "added": len(plan.pairs - set(current)), "removed": len(removed),
               "shortfalls": len(plan.shortfalls)},
        summary=rnd.name, ip=ip,
    )
    return plan


def assignment_report(session: SessionLike, rnd: Round) -> Plan:
    """What the current assignment looks like, in the planner's terms (no change)."""
    judges = _active_judge_ids(session, rnd)
    entries = _entry_ids(session, rnd)
    current = {(a.judge_id, a.entry_id) for a in session.scalars(select(Assignment).where(Assignment.round_id == rnd.id))}
    conflicts = {(c.judge_id, c.entry_id) for c in round_conflicts(session, rnd)}
    return plan_assignment(entries, judges, rnd.judges_per_entry, conflicts=conflicts - current, fixed=current,
                           current=current, seed=rnd.id)


def pin(session: SessionLike, *, actor: Actor, rnd: Round, judge_id: int, entry_id: int, now: datetime, ip: str = "") -> Assignment:
    """An organiser puts a judge on an entry by hand; kept by every re-balance."""
    contests.require_in(session, actor, rnd.contest, "judging")
    if rnd.state in ("closed", "finalised"):
        raise Conflict(_("轮次已截止，不能再调整分配。"))
    if judge_id not in _active_judge_ids(session, rnd) or entry_id not in _entry_ids(session, rnd):
        raise InvalidInput(_("评委或作品不在本轮中。"))
    if any(c.judge_id == judge_id and c.entry_id == entry_id for c in round_conflicts(session, rnd, [judge_id])):
        raise Conflict(_("这位评委与该作品存在回避关系，不能分配。"), code="conflicted")
    found = session.scalar(select(Assignment).where(
        Assignment.round_id == rnd.id, Assignment.judge_id == judge_id, Assignment.entry_id == entry_id))
    if found is None:
        found = Assignment(round_id=rnd.id, judge_id=judge_id, entry_id=entry_id, created_at=now)
        session.add(found)
    found.pinned = True
    session.flush()
    audit.record(session, actor=actor, action="round.pin", target_type="round", target_id=rnd.id, now=now,
                 after={"judge": judge_id, "entry": entry_id}, summary=rnd.name, ip=ip)
    return found


def unassign(
    session: SessionLike, *, actor: Actor, rnd: Round, judge_id: int, entry_id: int, reason: str, now: datetime, ip: str = "",
) -> None:
    """An organiser takes a judge off an entry. Refused once the judge has scored it; the
    pair is remembered as an organiser's exclusion so re-balancing never puts it back."""
    contests.require_in(session, actor, rnd.contest, "judging")
    reason = _reason(reason)
    if rnd.state in ("closed", "finalised"):
        raise Conflict(_("轮次已截止，不能再调整分配。"))
    found = session.scalar(select(Assignment).where(
        Assignment.round_id == rnd.id, Assignment.judge_id == judge_id, Assignment.entry_id == entry_id))
    if found is None:
        raise NotFound(_("没有这条分配。"))
    if (judge_id, entry_id) in _scored_pairs(session, rnd):
        raise Conflict(_("这位评委已为该作品评分，不能撤下；如需重评请先退回评分。"))
    session.delete(found)
    session.add(ConflictRow(contest_id=rnd.contest_id, judge_id=judge_id, entry_id=entry_id, source="organiser",
                            note=reason, created_at=now))
    session.flush()
    audit.record(session, actor=actor, action="round.unassign", target_type="round", target_id=rnd.id, now=now,
                 after={"judge": judge_id, "entry": entry_id, "reason": reason}, summary=rnd.name, ip=ip)


def assignments(session: SessionLike, rnd: Round) -> list[Assignment]:
    return list(session.scalars(select(Assignment).where(Assignment.round_id == rnd.id).order_by(Assignment.entry_id, Assignment.judge_id)))


# --- scoring ----------------------------------------------------------------------


@dataclass(frozen=True)
class QueueItem:
    entry: Entry
    score: Score | None

    @property
    def status(self) -> str:
        return self.score.status if self.score else "todo"


@dataclass(frozen=True)
class JudgeRound:
    round: Round
    member: PanelMember
    assigned: int
    submitted: int


def judge_rounds(session: SessionLike, judge: User) -> list[JudgeRound]:
    """Rounds where this judge is on the panel and that are not drafts, with progress."""
    require_role(judge, "judge")
    members = list(session.scalars(
        select(PanelMember).join(Round, Round.id == PanelMember.round_id)
        .where(PanelMember.judge_id == judge.id, PanelMember.status == "active", Round.state != "draft")
        .order_by(Round.contest_id, Round.position, Round.id)
    ))
    out = []
    for member in members:
        rnd = get_round(session, member.round_id)
        assigned = session.scalar(select(func.count()).select_from(Assignment).where(
            Assignment.round_id == rnd.id, Assignment.judge_id == judge.id)) or 0
        submitted = session.scalar(select(func.count()).select_from(Score).where(
            Score.round_id == rnd.id, Score.judge_id == judge.id, Score.status == "submitted")) or 0
        out.append(JudgeRound(rnd, member, assigned, submitted))
    return out


def _require_panel_judge(session: SessionLike, rnd: Round, judge: User) -> PanelMember:
    require_role(judge, "judge")
    member = membership(session, rnd, judge)
    if member is None or member.status != "active" or rnd.state == "draft":
        raise Forbidden(_("您不是本轮评委。"))
    return member


def require_declared(session: SessionLike, rnd: Round, judge: User) -> PanelMember:
    member = _require_panel_judge(session, rnd, judge)
    if member.declared_at is None:
        raise Forbidden(_("请先签署回避声明。"), code="declaration_required")
    return member


def judge_queue(session: SessionLike, *, judge: User, rnd: Round) -> list[QueueItem]:
    require_declared(session, rnd, judge)
    rows = session.execute(
        select(Entry, Score).join(Assignment, Assignment.entry_id == Entry.id)
        .outerjoin(Score, (Score.round_id == rnd.id) & (Score.entry_id == Entry.id) & (Score.judge_id == judge.id))
        .join(RoundEntry, (RoundEntry.round_id == rnd.id) & (RoundEntry.entry_id == Entry.id))
        .where(Assignment.round_id == rnd.id, Assignment.judge_id == judge.id)
        .order_by(RoundEntry.position, Entry.id)
    )
    return [QueueItem(entry, score) for entry, score in rows]


def entry_for_judge(session: SessionLike, *, judge: User, rnd: Round, entry_id: int) -> tuple[Entry, Score | None]:
    """An assigned entry and the judge's own score; Forbidden for anything else."""
    require_declared(session, rnd, judge)
    assigned = session.scalar(select(Assignment.id).where(
        Assignment.round_id == rnd.id, Assignment.judge_id == judge.id, Assignment.entry_id == entry_id))
    if assigned is None:
        raise Forbidden(_("这件作品没有分配给您。"), code="not_assigned")
    entry = session.get(Entry, entry_id)
    if entry is None:
        raise NotFound(_("作品不存在。"))
    score = session.scalar(select(Score).where(
        Score.round_id == rnd.id, Score.judge_id == judge.id, Score.entry_id == entry_id))
    return entry, score


def parse_values(rnd: Round, raw: Mapping[str, Any], *, complete: bool) -> dict[str, float]:
    """Criterion values from a form or JSON, keyed by criterion id: numbers in 0..maximum
    on the round's step. complete=True (submitting) requires every criterion."""
    values: dict[str, float] = {}
    step = rnd.score_step
    for criterion in rnd.criteria:
        text = raw.get(str(criterion.id))
        if text is None or (isinstance(text, str) and not text.strip()):
            if complete:
                raise InvalidInput(_("请为“%(name)s”打分。", name=criterion.name), code="missing_criterion",
                                   field=f"c{criterion.id}")
            continue
        try:
            value = float(str(text).strip())
        except ValueError:
            raise InvalidInput(_("“%(name)s”的分数必须是数字。", name=criterion.name), code="not_a_number",
                               field=f"c{criterion.id}") from None
        if not math.isfinite(value) or value < 0 or value > criterion.maximum:
            raise InvalidInput(_("“%(name)s”的分数必须在 0 到 %(max)s 之间。", name=criterion.name,
                                 max=f"{criterion.maximum:g}"), code="out_of_range", field=f"c{criterion.id}")
        steps = value / step
        if abs(steps - round(steps)) > 1e-6:
            raise InvalidInput(_("“%(name)s”的分数须为 %(step)s 的整数倍。", name=criterion.name, step=f"{step:g}"),
                               code="off_step", field=f"c{criterion.id}")
        values[str(criterion.id)] = round(round(steps) * step, 6)
    unknown = {k for k in raw if k not in {str(c.id) for c in rnd.criteria}}
    if unknown:
        raise InvalidInput(_("评分项不属于本轮评分标准。"), code="unknown_criterion")
    return values


def save_score(
    session: SessionLike, *, judge: User, rnd: Round, entry_id: int, raw_values: Mapping[str, Any],
    comment: str = "", submit: bool, now: datetime, ip: str = "",
) -> Score:
    """Save a draft or submit (which locks the score). Only while the round is open, only
    for an assigned entry, and in a live round only for the entry on stage."""
    entry, score = entry_for_judge(session, judge=judge, rnd=rnd, entry_id=entry_id)
    if rnd.state != "open":
        raise Conflict(_("本轮评审已截止，不能再提交评分。"), code="round_closed")
    if rnd.kind == "live" and rnd.live_entry_id != entry.id and (score is None or score.status != "draft"):
        raise Conflict(_("请在该项目路演时评分。"), code="not_on_stage")
    if score is not None and score.status == "submitted":
        raise Conflict(_("评分已提交并锁定；如需修改请联系组织方退回。"), code="score_locked")
    values = parse_values(rnd, raw_values, complete=submit)
    comment = (comment or "").strip()
    if len(comment) > COMMENT_MAX:
        raise InvalidInput(_("评语不能超过 %(n)d 字。", n=COMMENT_MAX), field="comment")
    if score is None:
        score = Score(round_id=rnd.id, entry_id=entry.id, judge_id=judge.id, created_at=now, status="draft")
        session.add(score)
    score.values = values
    score.comment = comment
    score.updated_at = now
    if submit:
        score.status = "submitted"
        score.submitted_at = now
        audit.record(session, actor=judge, action="score.submit", target_type="score", target_id=f"{rnd.id}:{entry.id}",
                     now=now, after={"values": values}, summary=rnd.name, ip=ip)
    session.flush()
    return score


def reopen_score(session: SessionLike, *, actor: Actor, score: Score, reason: str, now: datetime, ip: str = "") -> Score:
    """An organiser unlocks a submitted score so the judge can change it (audit-logged)."""
    contests.require_somewhere(actor, "judging")
    rnd = get_round(session, score.round_id)
    contests.require_in(session, actor, rnd.contest, "judging")
    reason = _reason(reason)
    if rnd.state not in ("open", "closed"):
        raise Conflict(_("只有评审中或已截止的轮次可以退回评分。"))
    if score.status != "submitted":
        raise Conflict(_("这份评分还没有提交。"))
    score.status = "draft"
    score.reopened_at = now
    score.reopen_reason = reason
    session.flush()
    audit.record(session, actor=actor, action="score.reopen", target_type="score", target_id=f"{rnd.id}:{score.entry_id}",
                 now=now, before={"status": "submitted", "values": score.values}, after={"status": "draft", "reason": reason},
                 summary=f"{rnd.name} · {score.judge.name_or_phone}", ip=ip)
    return score


def get_score(session: SessionLike, rnd: Round, entry_id: int, judge_id: int) -> Score:
    score = session.scalar(select(Score).where(
        Score.round_id == rnd.id, Score.entry_id == entry_id, Score.judge_id == judge_id))
    if score is None:
        raise NotFound(_("没有这份评分。"))
    return score


# --- aggregation, dashboard, advancing --------------------------------------------


def _criteria(rnd: Round) -> list[aggregate.Criterion]:
    return [aggregate.Criterion(id=c.id, name=c.name, maximum=c.maximum, weight=c.weight) for c in rnd.criteria]


def submitted_score_rows(session: SessionLike, rnd: Round) -> list[Score]:
    """The round's submitted scores with their judges, by entry then judge (exports)."""
    return list(session.scalars(
        select(Score).where(Score.round_id == rnd.id, Score.status == "submitted")
        .options(selectinload(Score.judge)).order_by(Score.entry_id, Score.judge_id)
    ))


def score_total(rnd: Round, values: Mapping[int, float]) -> float | None:
    """One judge's weighted total (0–100) of an entry under the round's rubric, or None
    when the marks do not fit the rubric (exports)."""
    try:
        return aggregate.weighted_total(_criteria(rnd), values)
    except ValueError:
        return None


def submitted_scores(session: SessionLike, rnd: Round) -> list[aggregate.Score]:
    return [
        aggregate.Score(entry_id=e, judge_id=j, values={int(k): float(v) for k, v in values.items()})
        for e, j, values in session.execute(
            select(Score.entry_id, Score.judge_id, Score.values).where(
                Score.round_id == rnd.id, Score.status == "submitted").order_by(Score.entry_id, Score.judge_id))
    ]


def compute(session: SessionLike, rnd: Round) -> aggregate.RoundResult:
    """The round's aggregate from its submitted scores, for organisers."""
    entries = _entry_ids(session, rnd)
    return aggregate.aggregate_round(
        _criteria(rnd), submitted_scores(session, rnd), entry_ids=entries,
        method=cast(aggregate.Method, rnd.aggregation),  # the column's check constraint keeps it to AGGREGATIONS
        normalise=rnd.normalise, min_scores=rnd.min_scores, spread_threshold=rnd.spread_threshold,
    )


def compute_for(session: SessionLike, *, actor: User, rnd: Round) -> aggregate.RoundResult:
    """The aggregate for the organiser's dashboard (a person's: never the system's)."""
    if not isinstance(actor, User):
        raise Forbidden(_("您没有权限进行此操作。"))
    contests.require_in(session, actor, rnd.contest, "view")
    return compute(session, rnd)


def _oversees(viewer: User, rnd: Round) -> bool:
    """Whether the viewer sees the round from the back office (any role in its contest's unit)."""
    return units.can(viewer, "view", unit_id=rnd.contest.unit_id, contest_id=rnd.contest_id)


def visible_result(session: SessionLike, *, viewer: User, rnd: Round) -> aggregate.RoundResult:
    """Organisers see the aggregate any time; judges only once the round is closed."""
    if _oversees(viewer, rnd):
        return compute(session, rnd)
    _require_panel_judge(session, rnd, viewer)
    if rnd.state not in ("closed", "finalised"):
        raise Forbidden(_("评审结束前不能查看汇总结果。"), code="aggregate_hidden")
    return compute(session, rnd)


@dataclass(frozen=True)
class FinalScore:
    entry_id: int
    score: float | None
    rank: int | None
    tie_break: tuple[float, ...]


def final_scores(session: SessionLike, rnd: Round) -> dict[int, FinalScore]:
    """The finalised round's score of each entry (0–100), for results. Refused for a
    round that is not finalised: results never quote scores that may still change."""
    if rnd.state != "finalised":
        raise Conflict(_("“%(name)s”尚未定稿。", name=rnd.name), code="round_not_final")
    result = compute(session, rnd)
    out = {}
    for item in result.entries:
        # Ties: the rubric's criteria in declared order, then the smaller spread.
        tie = tuple(item.criterion_scores.get(c.id, 0.0) for c in rnd.criteria) + (-item.spread,)
        out[item.entry_id] = FinalScore(item.entry_id, item.ranking_score, item.rank, tie)
    return out


@dataclass
class Progress:
    per_judge: list[tuple[User, int, int, int]] = field(default_factory=list)  # judge, assigned, drafts, submitted
    per_entry: list[tuple[Entry, int, int]] = field(default_factory=list)  # entry, assigned, submitted
    assigned: int = 0
    submitted: int = 0

    @property
    def percent(self) -> int:
        return round(100 * self.submitted / self.assigned) if self.assigned else 0


def progress(session: SessionLike, rnd: Round) -> Progress:
    counts: dict[tuple[int, int], str] = {(j, e): s for j, e, s in session.execute(
        select(Score.judge_id, Score.entry_id, Score.status).where(Score.round_id == rnd.id))}
    pairs = [(a.judge_id, a.entry_id) for a in assignments(session, rnd)]
    judge_load: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
    entry_load: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for pair in pairs:
        status = counts.get(pair)
        judge_load[pair[0]][0] += 1
        entry_load[pair[1]][0] += 1
        if status == "draft":
            judge_load[pair[0]][1] += 1
        elif status == "submitted":
            judge_load[pair[0]][2] += 1
            entry_load[pair[1]][1] += 1
    out = Progress(assigned=len(pairs), submitted=sum(v[2] for v in judge_load.values()))
    for member in panel(session, rnd):
        a, d, s = judge_load.get(member.judge_id, [0, 0, 0])
        out.per_judge.append((member.judge, a, d, s))
    for entry in round_entries(session, rnd):
        a, s = entry_load.get(entry.id, [0, 0])
        out.per_entry.append((entry, a, s))
    return out


def advance_preview(result: aggregate.RoundResult, thresholds: Sequence[float]) -> list[tuple[float, int]]:
    """How many entries would pass at each threshold."""
    scores = [e.ranking_score for e in result.entries if e.ranking_score is not None]
    return [(t, sum(1 for s in scores if s >= t)) for t in thresholds]


def advance_candidates(
    result: aggregate.RoundResult, *, top_n: int | None = None, threshold: float | None = None,
) -> list[aggregate.EntryResult]:
    """The entries that pass: the top N by rank (entries tied at the cut all pass) or
    those at or above a score threshold."""
    ranked = [e for e in result.entries if e.rank is not None and e.ranking_score is not None]
    if top_n is not None:
        return [e for e in ranked if e.rank is not None and e.rank <= top_n]
    return [e for e in ranked if threshold is not None and e.ranking_score is not None and e.ranking_score >= threshold]


def advance(
    session: SessionLike, *, actor: Actor, rnd: Round, target: Round, top_n: int | None = None,
    threshold: float | None = None, now: datetime, ip: str = "",
) -> int:
    """Put the best entries of a finalised round into the next round, by top N (ties at
    the cut all pass) or by a score threshold."""
    contests.require_in(session, actor, rnd.contest, "judging")
    if rnd.state != "finalised":
        raise Conflict(_("请先将本轮定稿，再晋级作品。"))
    if target.contest_id != rnd.contest_id or target.id == rnd.id:
        raise InvalidInput(_("请选择本赛事的另一轮次。"))
    if (top_n is None) == (threshold is None):
        raise InvalidInput(_("请选择按名次或按分数线晋级。"))
    if top_n is not None and top_n < 1:
        raise InvalidInput(_("晋级名额至少为 1。"))
    chosen = [e.entry_id for e in advance_candidates(compute(session, rnd), top_n=top_n, threshold=threshold)]
    added = add_entries(session, actor=actor, rnd=target, entry_ids=chosen, now=now, ip=ip)
    audit.record(session, actor=actor, action="round.advance", target_type="round", target_id=rnd.id, now=now,
                 after={"target": target.id, "top_n": top_n, "threshold": threshold, "entries": len(chosen)},
                 summary=f"{rnd.name} → {target.name}", ip=ip)
    return added


# --- the live final ----------------------------------------------------------------


def set_live_entry(session: SessionLike, *, actor: Actor, rnd: Round, entry_id: int | None, now: datetime, ip: str = "") -> Round:
    """The organiser brings an entry on stage (or clears the stage)."""
    contests.require_in(session, actor, rnd.contest, "judging")
    if rnd.kind != "live":
        raise Conflict(_("只有现场路演轮次可以切换路演项目。"))
    if rnd.state != "open":
        raise Conflict(_("请先开启本轮评审。"))
    if entry_id is not None and entry_id not in _entry_ids(session, rnd):
        raise InvalidInput(_("该项目不在本轮中。"))
    rnd.live_entry_id = entry_id
    rnd.live_started_at = now if entry_id is not None else None
    session.flush()
    audit.record(session, actor=actor, action="round.live", target_type="round", target_id=rnd.id, now=now,
                 after={"entry": entry_id}, summary=rnd.name, ip=ip)
    return rnd


@dataclass(frozen=True)
class LiveLine:
    entry: Entry
    judges: int
    submitted: int
    dropped_high: float | None = None
    dropped_low: float | None = None
    mean: float | None = None
    rank: int | None = None


@dataclass
class LiveBoard:
    round: Round
    current: LiveLine | None
    ranking: list[LiveLine]


def live_board_for(session: SessionLike, *, viewer: User, rnd: Round) -> LiveBoard:
    """The big screen, for organisers and the round's active judges only (the screen
    PC is signed in as an organiser); only live rounds have one."""
    if not _oversees(viewer, rnd):
        _require_panel_judge(session, rnd, viewer)
    if rnd.kind != "live":
        raise NotFound(_("只有现场路演轮次有大屏幕。"), code="not_live")
    return live_board(session, rnd)


def live_board(session: SessionLike, rnd: Round) -> LiveBoard:
    """The big screen: the entry on stage with how many judges have submitted, and — once
    all have — its result (highest and lowest dropped, the mean), then the running ranking
    of every completed entry. Nothing is shown of an entry before all its judges submit."""
    criteria = _criteria(rnd)
    assigned: dict[int, int] = defaultdict(int)
    for entry_id, in session.execute(select(Assignment.entry_id).where(Assignment.round_id == rnd.id)):
        assigned[entry_id] += 1
    totals: dict[int, list[float]] = defaultdict(list)
    for s in submitted_scores(session, rnd):
        totals[s.entry_id].append(aggregate.weighted_total(criteria, s.values))
    entries = {e.id: e for e in round_entries(session, rnd)}
    lines: dict[int, LiveLine] = {}
    for entry_id, entry in entries.items():
        done = totals.get(entry_id, [])
        need = assigned.get(entry_id, 0)
        if need and len(done) >= need:
            high, low, mean = aggregate.live_result(done, rnd.aggregation)
            lines[entry_id] = LiveLine(entry, need, len(done), high, low, mean)
        else:
            lines[entry_id] = LiveLine(entry, need, len(done))
    complete = sorted((line for line in lines.values() if line.mean is not None), key=lambda line: -(line.mean or 0))
    ranking: list[LiveLine] = []
    for position, line in enumerate(complete, start=1):
        rank = ranking[-1].rank if ranking and ranking[-1].mean == line.mean else position
        ranking.append(LiveLine(line.entry, line.judges, line.submitted, line.dropped_high, line.dropped_low, line.mean, rank))
    current = lines.get(rnd.live_entry_id) if rnd.live_entry_id else None
    return LiveBoard(rnd, current, ranking)


# --- notices to a contest's schools or judges ----------------------------------------------

NOTICE_MAX = 300
NOTICE_AUDIENCES = code_labels("notice_audience", {
    "schools_entered": N_("有作品参加本活动的学校联络人"),
    "schools_all": N_("全部学校联络人"),
    "judges": N_("本活动各轮次的评委"),
})


def contest_judges(session: SessionLike, contest: Contest) -> list[User]:
    """Active accounts on the panel of any round of the contest (withdrawn judges left out)."""
    on_panel = select(PanelMember.judge_id).join(Round, Round.id == PanelMember.round_id).where(
        Round.contest_id == contest.id, PanelMember.status == "active")
    return list(session.scalars(
        select(User).where(User.id.in_(on_panel), User.is_active_account.is_(True)).order_by(User.id)
    ))


def notice_recipients(session: SessionLike, *, actor: Actor, contest: Contest, audience: str) -> list[User]:
    """Who a notice to this audience reaches (organisers only)."""
    contests.require_in(session, actor, contest, "configure")
    if audience == "judges":
        return contest_judges(session, contest)
    if audience in contests.NOTICE_AUDIENCES_OF_SCHOOLS:
        return contests.school_contact_users(session, contest if audience == "schools_entered" else None)
    raise InvalidInput(_("请选择通知对象。"), field="audience")


def recipient_counts(session: SessionLike, *, actor: Actor, contest: Contest) -> dict[str, int]:
    """How many accounts each audience reaches, for the organiser to see before sending."""
    return {a: len(notice_recipients(session, actor=actor, contest=contest, audience=a)) for a in NOTICE_AUDIENCES}


@dataclass(frozen=True)
class NoticeSent:
    recipients: int
    texted: int
    not_texted: int  # past the day's SMS budget: on the site only


def send_contest_notice(
    session: SessionLike, sender: SmsSender, *, actor: Actor, contest: Contest, audience: str, text: str,
    sms: bool, now: datetime, link: str = "", ip: str = "",
) -> NoticeSent:
    """A short notice from the organisers to every recipient of the audience: a notice on
    the site and, with sms, a text message each through the outbox and the job runner
    (audit-logged with the counts)."""
    text = " ".join((text or "").split())
    if not text:
        raise InvalidInput(_("请填写通知内容。"), field="text")
    if len(text) > NOTICE_MAX:
        raise InvalidInput(_("通知内容不能超过 %(n)s 个字。", n=NOTICE_MAX), field="text")
    users = notice_recipients(session, actor=actor, contest=contest, audience=audience)
    if not users:
        raise InvalidInput(_("没有可以通知的对象。"), field="audience")
    body = f"【{contest.short_title or contest.title}】{text}"
    texted = 0
    for user in users:
        notify(session, sender, user=user, body=body, now=now, link=link, sms=False)
        # notify's own text message, queued here to count those past the day's budget.
        if sms and queue_sms(session, sender, phone=user.phone, kind="notice", params={"body": body}, now=now):
            texted += 1
    session.flush()
    outcome = NoticeSent(len(users), texted, len(users) - texted if sms else 0)
    audit.record(session, actor=actor, action="contest.notice", target_type="contest", target_id=contest.id, now=now,
                 after={"audience": audience, "recipients": outcome.recipients, "sms": sms, "texted": texted,
                        "not_texted": outcome.not_texted, "text": text},
                 summary=contest.title, ip=ip)
    return outcome
