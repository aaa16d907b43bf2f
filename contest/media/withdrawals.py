"""Withdrawal requests: once voting or judging has started, taking an entry out throws
away the public's votes and the judges' work (and after 公示 changes published results),
so the submitter or the school asks, with a reason, and an organiser approves or
declines, with a reason. Both steps are in the audit log; the requester is told the
outcome. An entry approved for withdrawal after its results were published is listed on
the results page (results.presenters), and the results need a new version.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from ..accounts import audit
from ..accounts.models import User
from ..accounts.service import SmsSender, notify
from ..contests import service as contests
from ..contests.models import Contest, Entry
from ..db import SessionLike
from ..errors import Conflict, InvalidInput, NotFound
from ..i18n import N_, _, code_labels
from .models import WithdrawalRequest
from .submissions import entries_being_assessed, get_own_entry, take_out, withdrawal_refusal

REASON_MIN, REASON_MAX = 4, 500
IN_THE_RUNNING = ("submitted", "approved", "draft")  # entries a withdrawal request may be about
MY_ENTRIES_PATH = "/me/entries"

code_labels("audit_action", {
    "entry.withdrawal_requested": N_("申请撤回作品"),
    "entry.withdrawal_approved": N_("批准撤回作品"),
    "entry.withdrawal_declined": N_("不批准撤回作品"),
})


def _reason(text: str, *, missing: str) -> str:
    text = " ".join((text or "").split())
    if len(text) < REASON_MIN:
        raise InvalidInput(_(missing), code="reason_required")
    return text[:REASON_MAX]


def pending_for(session: SessionLike, entry_ids: list[int]) -> dict[int, WithdrawalRequest]:
    """The pending request of each of these entries that has one."""
    if not entry_ids:
        return {}
    return {r.entry_id: r for r in session.scalars(select(WithdrawalRequest).where(
        WithdrawalRequest.entry_id.in_(entry_ids), WithdrawalRequest.state == "pending"))}


def request_withdrawal(session: SessionLike, *, actor: User, entry_id: int, reason: str, now: datetime,
                       ip: str = "") -> WithdrawalRequest:
    """Ask the organisers to withdraw one's entry (or one's school's), with a reason; only
    where it cannot be withdrawn at once (flushed)."""
    entry = get_own_entry(session, actor, entry_id)
    refusal = withdrawal_refusal(entry, actor, now, being_assessed=entry.id in entries_being_assessed(session, [entry.id]))
    if refusal is None:
        raise Conflict(_("这件作品现在可以直接撤回，不需要申请。"), code="withdraw_directly")
    if refusal.code != "withdrawal_needs_approval":
        raise refusal
    if entry.status not in IN_THE_RUNNING:
        raise Conflict(_("这件作品不在评比中，不需要撤回。"), code="not_in_the_running")
    text = _reason(reason, missing=N_("请写明撤回的理由（至少 4 个字），主办方据此决定是否批准。"))
    if pending_for(session, [entry.id]):
        raise Conflict(_("这件作品已有一份撤回申请在等待主办方处理。"), code="withdrawal_pending")
    request = WithdrawalRequest(entry_id=entry.id, requested_by_id=actor.id, reason=text, state="pending", created_at=now)
    try:
        with session.begin_nested():
            session.add(request)
            session.flush()
    except IntegrityError:  # a second request for the same entry at the same moment
        raise Conflict(_("这件作品已有一份撤回申请在等待主办方处理。"), code="withdrawal_pending") from None
    audit.record(session, actor=actor, action="entry.withdrawal_requested", target_type="entry", target_id=entry.id,
                 now=now, after={"reason": text, "request": request.id}, summary=entry.title, ip=ip)
    return request


def waiting(session: SessionLike, *, actor: User, limit: int = 100) -> list[WithdrawalRequest]:
    """Pending requests, oldest first, for the moderation desk."""
    contests.require_somewhere(actor, "moderate")
    query = select(WithdrawalRequest).where(WithdrawalRequest.state == "pending")
    ids = contests.scoped_contest_ids(actor, "moderate")
    if ids is not None:
        query = query.where(WithdrawalRequest.entry_id.in_(select(Entry.id).where(Entry.contest_id.in_(ids))))
    return list(session.scalars(query.order_by(WithdrawalRequest.created_at, WithdrawalRequest.id).limit(limit)))


def entries_of(session: SessionLike, requests: list[WithdrawalRequest]) -> dict[int, Entry]:
    """The entries these requests are about, with their contests."""
    ids = [r.entry_id for r in requests]
    if not ids:
        return {}
    return {e.id: e for e in session.scalars(select(Entry).where(Entry.id.in_(ids)).options(
        selectinload(Entry.contest), selectinload(Entry.submitted_by)))}


def decide_withdrawal(session: SessionLike, sender: SmsSender, *, actor: User, request_id: int, approve: bool,
                      reason: str, now: datetime, ip: str = "") -> WithdrawalRequest:
    """Approve (the entry is withdrawn: its votes stop counting, its slot is freed) or
    decline a pending request, with a reason the requester reads (flushed)."""
    contests.require_somewhere(actor, "moderate")
    request = session.get(WithdrawalRequest, request_id, with_for_update=True)
    if request is None:
        raise NotFound(_("没有找到这份撤回申请。"))
    entry = session.get(Entry, request.entry_id)
    assert entry is not None
    contests.require_in(session, actor, entry.contest, "moderate")
    if request.state != "pending":
        raise Conflict(_("这份撤回申请已经处理过了。"), code="withdrawal_decided")
    text = _reason(reason, missing=N_("请写明批准或不批准的理由（至少 4 个字），申请人会看到。"))
    before = entry.status
    request.state = "approved" if approve else "declined"
    request.decided_by_id, request.decision_reason, request.decided_at = actor.id, text, now
    if approve and entry.status != "withdrawn":
        take_out(session, entry, now)
    audit.record(session, actor=actor, action=f"entry.withdrawal_{request.state}", target_type="entry",
                 target_id=entry.id, now=now, before={"status": before},
                 after={"status": entry.status, "reason": text, "request": request.id}, summary=entry.title, ip=ip)
    requester = session.get(User, request.requested_by_id) if request.requested_by_id else None
    if requester is not None:
        body = (_("您申请撤回的作品“%(title)s”已获批准撤回。理由：%(reason)s", title=entry.title, reason=text) if approve
                else _("您申请撤回的作品“%(title)s”未获批准，作品继续参加评比。理由：%(reason)s", title=entry.title, reason=text))
        notify(session, sender, user=requester, body=body, now=now, link=MY_ENTRIES_PATH, sms=False)
    session.flush()
    return request


def contest_of(session: SessionLike, request: WithdrawalRequest) -> int:
    """The id of the contest the request's entry is in."""
    entry = session.get(Entry, request.entry_id)
    assert entry is not None
    return entry.contest_id


def withdrawn_after(session: SessionLike, contest: Contest, since: datetime) -> list[tuple[WithdrawalRequest, Entry]]:
    """Entries of the contest whose withdrawal was approved after `since` (a publication's
    confirmation), oldest first: what published results no longer match."""
    rows = session.execute(
        select(WithdrawalRequest, Entry).join(Entry, Entry.id == WithdrawalRequest.entry_id)
        .where(Entry.contest_id == contest.id, WithdrawalRequest.state == "approved", WithdrawalRequest.decided_at > since)
        .order_by(WithdrawalRequest.decided_at, WithdrawalRequest.id)).all()
    return [(r, e) for r, e in rows]
