"""Casting votes within the rules, atomically; voiding and releasing; counts and receipts."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from .. import metrics, page_cache
from ..accounts.actors import Actor, is_system
from ..accounts.models import User
from ..antifraud import captcha
from ..antifraud import service as antifraud
from ..antifraud.service import Verdict, VoteSignals
from ..clock import local_midnight
from ..contests import service as contests
from ..contests.models import Contest, Entry
from ..contests.rules import Rules
from ..db import SessionLike, after_commit
from ..errors import Conflict, DomainError, Forbidden, NotFound, TooMany
from ..i18n import _
from . import ledger, live, targets, writer
from .figures import figures
from .models import LedgerEvent, Vote, VoteEntryQuota
from .records import Ballot, CastResult, CastVote, Idempotency, ViewStamp, Voter, local_day, votes_used_today

__all__ = [
    "Ballot", "CaptchaRequired", "CastResult", "CastVote", "Idempotency", "OwnVote", "ViewStamp", "VoteContext",
    "cast_vote", "change_status", "check_eligible", "local_day", "receipt_status", "record_vote",
    "valid_counts", "voted_today", "votes_of_voter", "votes_used_today",
]

RECEIPT_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read aloud or typed from a phone


class CaptchaRequired(DomainError):
    status = 403
    code = "captcha_required"


@dataclass(frozen=True)
class VoteContext:
    """Facts about the request that the ledger keeps with the vote."""

    ip: str = ""
    subnet: str = ""
    device_id: str = ""
    user_agent: str = ""
    captcha_passed: bool = False


def new_receipt() -> str:
    return "".join(secrets.choice(RECEIPT_ALPHABET) for _ in range(12))


def check_eligible(target: targets.Target, voter: Voter, now: datetime) -> Rules:
    """The contest's rules, once the voting window and the voter's eligibility are checked."""
    if not target.voting_open(now):
        raise Forbidden(_("现在不在投票时间内。"), code="voting_closed")
    rules = target.rules
    if rules.verified_only and voter.phone_verified_at is None:
        raise Forbidden(_("请先完成手机验证再投票。"), code="not_verified")
    min_age = rules.min_account_age_hours
    if min_age and now - voter.created_at < timedelta(hours=min_age):
        raise Forbidden(_("新注册的账号需满 %(h)s 小时后才能投票。", h=min_age), code="account_too_new")
    return rules


def cast_vote(session: SessionLike, redis: Any, ballot: Ballot, now: datetime) -> CastResult:
    """A vote request end to end: the entry, the anti-fraud verdict, the captcha, the rules
    and quotas, then the vote with its ledger event and fraud observation, in the caller's
    transaction. The caller commits; once it has, the live boards and the anti-fraud
    windows learn of the vote in one Redis round trip and the ledger is sealed when its
    turn has come (after-commit work: nothing of it happens if the transaction rolls back).

    With `ballot.idempotency`, the key is claimed with the vote's answer (Conflict when it
    already has one: the caller rolls back and replays the stored answer).

    The operators' vote counter learns the outcome here, where the web and the API both
    pass: a refusal with its code at once, a counted or held vote once it is committed.
    """
    try:
        result = _cast_vote(session, redis, ballot, now)
    except DomainError as refusal:
        metrics.vote_refused(refusal.code)
        raise
    status = result.vote.status
    after_commit(session, lambda: metrics.vote_counted(status))
    return result


def _cast_vote(session: SessionLike, redis: Any, ballot: Ballot, now: datetime) -> CastResult:
    target = targets.votable(session, ballot.entry_id)
    if ballot.slug is not None and target.slug != ballot.slug:
        raise NotFound(_("没有找到这件作品。"), code="entry_not_found")
    voter = ballot.voter
    signals = VoteSignals(
        voter_id=voter.id, account_created_at=voter.created_at, contest_id=target.contest_id, entry_id=target.entry_id,
        ip=ballot.ip, device_id=ballot.device_id, user_agent=ballot.user_agent,
        viewed_at=ballot.stamp.seen_for(target.contest_id, target.entry_id) if ballot.stamp else None,
    )
    verdict = antifraud.assess_vote(session, redis, signals, now)
    captcha_passed = False
    if ballot.captcha_id or ballot.captcha_answer:
        captcha_passed = captcha.check_captcha(session, redis, captcha_id=ballot.captcha_id,
                                               answer=ballot.captcha_answer, purpose="vote")
        if not captcha_passed:
            raise CaptchaRequired(_("验证码不正确或已过期，请换一张再试。"), code="captcha_invalid")
    context = VoteContext(ip=signals.ip, subnet=antifraud.subnet_of(signals.ip), device_id=signals.device_id,
                          user_agent=signals.user_agent, captcha_passed=captcha_passed)
    result = _record(session, voter=voter, target=target, now=now, verdict=verdict, context=context,
                     idempotency=ballot.idempotency, observe=signals)
    after_commit(session, lambda: _after_commit(session, redis, result, signals, now))
    return result


def _after_commit(session: SessionLike, redis: Any, result: CastResult, signals: VoteSignals, now: datetime) -> None:
    """A committed vote's follow-up: boards, anti-fraud windows and the shared pages'
    versions, in one round trip. Its ledger event is sealed by the job runner's sealing
    turn a few seconds later (contest/jobs.py); the request does not wait."""
    live.after_vote(redis, live.LiveVote.of(result), signals, result.observation_id, now,
                    then=page_cache.bumps_after(session, redis))


def record_vote(
    session: SessionLike, *, voter: Voter, entry_id: int, now: datetime, verdict: Verdict = Verdict(),
    context: VoteContext = VoteContext(), idempotency: Idempotency | None = None, observe: VoteSignals | None = None,
) -> CastResult:
    """Store one vote with a verdict already reached (cast_vote's last step; the demo's
    data uses it to write votes as the anti-fraud would have judged them): window,
    eligibility, captcha, quotas (per entry, then per day), ledger. Nothing follows the
    commit: the boards pick the vote up when they are next rebuilt.

    With `observe`, the vote's fraud observation is written with it; with `idempotency`,
    the key is claimed with the vote's answer (Conflict when it already has one).
    """
    target = targets.votable(session, entry_id, kept=False)
    return _record(session, voter=voter, target=target, now=now, verdict=verdict, context=context,
                   idempotency=idempotency, observe=observe)


def _record(
    session: SessionLike, *, voter: Voter, target: targets.Target, now: datetime, verdict: Verdict,
    context: VoteContext, idempotency: Idempotency | None, observe: VoteSignals | None,
) -> CastResult:
    rules = check_eligible(target, voter, now)
    needs_captcha = rules.captcha_mode == "always" or (rules.captcha_mode == "risk" and verdict.action == "captcha")
    if needs_captcha and not context.captcha_passed:
        raise CaptchaRequired(_("请先完成图形验证码。"))
    day = local_day(now)
    per_entry, per_day = rules.votes_per_entry_per_day, rules.votes_per_day
    status = "held" if verdict.action == "hold" else "valid"
    vote: dict[str, Any] = {  # the row's columns (writer.VoteRows)
        "contest_id": target.contest_id, "entry_id": target.entry_id, "voter_id": voter.id, "day": day, "created_at": now,
        "status": status, "risk_score": verdict.score, "reasons": list(verdict.reasons), "ip": context.ip[:45],
        "subnet": context.subnet[:50], "device_id": context.device_id[:64], "user_agent": context.user_agent[:300],
        "receipt": new_receipt(), "idempotency_key": idempotency.key if idempotency else None, "status_reason": "",
    }
    detail = ("held: " + ",".join(verdict.reasons) if status == "held" else "valid")[:300]
    event = {"kind": "cast", "contest_id": target.contest_id, "at": now, "detail": detail, "vote_status": status,
             "format": ledger.EVENT_FORMAT, "digest": ledger.digest_of(
        ledger.cast_fields(kind="cast", at=now, detail=detail, contest_id=target.contest_id, entry_id=target.entry_id,
                           voter_id=voter.id, day=day, cast_at=now, receipt=vote["receipt"], vote_status=status,
                           voter_key=target.voter_key))}
    reply = None
    if idempotency is not None:
        reply = {"voter_id": voter.id, "key": idempotency.key, "request_hash": idempotency.request_hash, "status": 201,
                 "created_at": now}
    rows = writer.VoteRows(vote=vote, event=event, per_entry=per_entry, per_day=per_day,
                           observation=antifraud.observation_of(observe, now) if observe else None, reply=reply)
    try:
        written = writer.write_vote(session, rows)
    except writer.NotVotable:
        # withdrawn, rejected or unpublished since the target was kept
        targets.forget(target.entry_id)
        raise targets.not_votable() from None
    except writer.QuotaReached as reached:
        if reached.which == "entry":
            raise Conflict(_("今天已经为这件作品投过票了，明天再来吧。"), code="already_voted") from None
        # The quota renews at midnight, Beijing time: that is when trying again makes sense.
        wait = local_midnight(day + timedelta(days=1)) - now
        raise TooMany(_("今天的 %(n)s 票已经用完了，明天再来吧。", n=per_day), code="daily_quota",
                      retry_after=max(1, int(wait.total_seconds()) + 1)) from None
    except (writer.DuplicateVote, writer.KeyTaken):
        # the same voter and key, or the key's answer already stored: the caller replays it
        raise Conflict(_("这个请求已经处理过了。"), code="duplicate_request") from None
    cast = CastVote(id=written.vote_id, contest_id=target.contest_id, entry_id=target.entry_id, voter_id=voter.id, status=status,
                    risk_score=verdict.score, reasons=list(verdict.reasons), receipt=vote["receipt"])
    return CastResult(cast, per_day - written.used_today, target.slug, target.categories, written.observation_id,
                      entry_done=written.used_for_entry >= per_entry)


def valid_counts(session: SessionLike, contest_id: int) -> dict[int, int]:
    """Counted (valid) votes per entry with any, as the vote table has them (voting.figures)."""
    return figures(session, contest_id).counted_map()


def receipt_status(session: SessionLike, receipt: str) -> tuple[Vote, list[Any]]:
    """The vote behind a receipt code and its ledger events, or NotFound."""
    vote = session.scalar(select(Vote).where(Vote.receipt == (receipt or "").strip().upper()))
    if vote is None:
        raise NotFound(_("没有找到这个投票凭证，请检查后重试。"), code="receipt_not_found")
    events = list(session.scalars(select(LedgerEvent).where(LedgerEvent.vote_id == vote.id).order_by(LedgerEvent.id)))
    return vote, events


def change_status(session: SessionLike, *, actor: Actor, vote_ids: list[int], to: str, reason: str, now: datetime) -> int:
    """Void (to='voided') or release (to='valid') votes with a reason; returns how many changed."""
    kind = {"voided": "void", "valid": "release"}[to]
    allowed_from = ("valid", "held") if to == "voided" else ("held",)
    votes = list(session.scalars(select(Vote).where(Vote.id.in_(vote_ids), Vote.status.in_(allowed_from)).with_for_update()))
    contests.require_somewhere(actor, "fraud")
    voter_keys = {}  # each contest's ledger secret, read once
    for contest_id in sorted({v.contest_id for v in votes}):
        contest = contests.get_contest_by_id(session, contest_id)
        contests.require_in(session, actor, contest, "fraud")
        voter_keys[contest_id] = contest.voter_key
    moves = []
    for vote in votes:
        before = writer.count_key(vote)
        vote.status = to
        vote.status_reason = reason[:300]
        moves.append((before, writer.count_key(vote)))
        ledger.append_event(session, vote=vote, kind=kind, at=now, detail=reason, voter_key=voter_keys[vote.contest_id])
    writer.move_counts(session, moves)  # the figures' counts, in the same transaction
    session.flush()  # their events are sealed by the job runner's sealing turn, as a vote's are
    return len(votes)


# --- what voters see of their own votes --------------------------------------------------

VOTES_PER_PAGE = 50


def voted_today(session: SessionLike, *, contest: Contest, voter: User, entry_ids: Iterable[int],
                now: datetime) -> frozenset[int]:
    """The entries among `entry_ids` (of this contest) that the voter can vote for no more
    today, Beijing time: their per-entry quota (rule votes_per_entry_per_day, usually one
    vote) is used up. One query for a whole page of entries, read from the quota rows
    the vote itself counts on, so a held or voided vote counts as the writer counts it."""
    ids = sorted(set(entry_ids))
    if not ids:
        return frozenset()
    per_entry = contests.rules_of(contest).votes_per_entry_per_day
    return frozenset(session.scalars(select(VoteEntryQuota.entry_id).where(
        VoteEntryQuota.voter_id == voter.id, VoteEntryQuota.day == local_day(now), VoteEntryQuota.entry_id.in_(ids),
        VoteEntryQuota.used >= per_entry)))


@dataclass(frozen=True)
class OwnVote:
    """One of a voter's votes as the voter sees it on 我的投票."""

    receipt: str
    created_at: datetime
    status: str  # valid | held | voided
    reason: str  # the organisers' reason, when they voided or released the vote
    contest_title: str
    contest_slug: str
    entry_id: int
    entry_title: str
    entry_public: bool  # the entry's page can be opened

    @property
    def released(self) -> bool:
        """A held vote that organisers released: valid, with their reason (a vote cast
        valid has none, and a voided vote is never released)."""
        return self.status == "valid" and bool(self.reason)


def votes_of_voter(session: SessionLike, *, actor: User, page: int = 1,
                   per_page: int = VOTES_PER_PAGE) -> contests.Page:
    """The actor's own votes, newest first, one page of `per_page` (a page past the last
    is the last): two queries, the count and the page, however many votes there are.
    Only the signed-in voter's own: SYSTEM and anyone without an account are refused."""
    if is_system(actor):
        raise Forbidden(_("您没有权限进行此操作。"))
    total = session.scalar(select(func.count()).select_from(Vote).where(Vote.voter_id == actor.id)) or 0
    pages = max(1, -(-total // per_page))
    page = min(max(page, 1), pages)
    rows = session.execute(
        select(Vote.receipt, Vote.created_at, Vote.status, Vote.status_reason, Contest.title, Contest.short_title,
               Contest.slug, Contest.is_published, Entry.id, Entry.title, Entry.status)
        .join(Entry, Entry.id == Vote.entry_id).join(Contest, Contest.id == Vote.contest_id)
        .where(Vote.voter_id == actor.id).order_by(Vote.created_at.desc(), Vote.id.desc())
        .limit(per_page).offset((page - 1) * per_page))
    items = [OwnVote(receipt=r[0], created_at=r[1], status=r[2], reason=r[3], contest_title=r[5] or r[4],
                     contest_slug=r[6], entry_id=r[8], entry_title=r[9], entry_public=bool(r[7]) and r[10] == "approved")
             for r in rows]
    return contests.Page(items, total, page, per_page)
