"""Casting votes within the rules, atomically; voiding and releasing; counts and receipts."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from ..accounts.models import User
from ..antifraud import captcha
from ..antifraud import service as antifraud
from ..antifraud.service import Verdict, VoteSignals
from ..clock import LOCAL_TZ, local_midnight
from ..contests import service as contests
from ..contests.models import Contest, Entry
from ..errors import Conflict, DomainError, Forbidden, NotFound, TooMany
from ..i18n import _
from . import ledger, writer
from .models import LedgerEvent, Vote, VoteQuota

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


@dataclass(frozen=True)
class CastVote:
    """A vote as it was stored (written by voting.writer, not through the ORM)."""

    id: int
    contest_id: int
    entry_id: int
    voter_id: int
    status: str
    risk_score: int
    reasons: list[str]
    receipt: str


@dataclass(frozen=True)
class Idempotency:
    """An Idempotency-Key to claim with the vote's answer: the answer is stored in the
    vote's own statement, so a repeat finds it exactly when the vote exists."""

    key: str
    request_hash: str


@dataclass(frozen=True)
class CastResult:
    vote: CastVote
    votes_left_today: int
    entry: Entry
    contest: Contest = field(repr=False)
    observation_id: int | None = None

    def answer(self) -> dict[str, Any]:
        """The vote's answer to its caller (and what an Idempotency-Key replays)."""
        return {"vote_id": self.vote.id, "receipt": self.vote.receipt, "votes_left_today": self.votes_left_today}


def local_day(now: datetime) -> date:
    return now.astimezone(LOCAL_TZ).date()


def new_receipt() -> str:
    return "".join(secrets.choice(RECEIPT_ALPHABET) for _ in range(12))


# The contest in the same query (its categories only if asked for): one round trip.
_WITH_CONTEST = (joinedload(Entry.contest).lazyload(Contest.categories),)


def load_votable_entry(session: Session, entry_id: int) -> tuple[Entry, Contest]:
    """An approved entry of a published contest, or NotFound / Forbidden."""
    entry = session.get(Entry, entry_id, options=_WITH_CONTEST)
    if entry is None:
        raise NotFound(_("没有找到这件作品。"), code="entry_not_found")
    contest = contests.get_contest_by_id(session, entry.contest_id)
    if entry.status != "approved" or not contest.is_published:
        raise Forbidden(_("这件作品目前不能投票。"), code="entry_not_votable")
    return entry, contest


def check_eligible(contest: Contest, voter: User, now: datetime) -> dict[str, Any]:
    """The contest's rules, once the voting window and the voter's eligibility are checked."""
    if not contests.stage_of(contest, now).is_active("voting"):
        raise Forbidden(_("现在不在投票时间内。"), code="voting_closed")
    rules = contests.rules_of(contest)
    if rules.get("verified_only", True) and voter.phone_verified_at is None:
        raise Forbidden(_("请先完成手机验证再投票。"), code="not_verified")
    min_age = int(rules.get("min_account_age_hours", 0))
    if min_age and now - voter.created_at < timedelta(hours=min_age):
        raise Forbidden(_("新注册的账号需满 %(h)s 小时后才能投票。", h=min_age), code="account_too_new")
    return rules


def votes_used_today(session: Session, contest_id: int, voter_id: int, day: date) -> int:
    return session.scalar(select(VoteQuota.used).where(
        VoteQuota.contest_id == contest_id, VoteQuota.voter_id == voter_id, VoteQuota.day == day)) or 0


def cast_vote(
    session: Session, *, voter: User, entry_id: int, now: datetime, verdict: Verdict = Verdict(),
    context: VoteContext = VoteContext(), idempotency: Idempotency | None = None, observe: VoteSignals | None = None,
) -> CastResult:
    """Cast one vote: window, eligibility, captcha, quotas (per entry, then per day), ledger.

    With `observe`, the vote's fraud observation is written with it; with `idempotency`,
    the key is claimed with the vote's answer (Conflict when it already has one).
    """
    entry, contest = load_votable_entry(session, entry_id)
    rules = check_eligible(contest, voter, now)
    needs_captcha = rules.get("captcha_mode") == "always" or (rules.get("captcha_mode") == "risk" and verdict.action == "captcha")
    if needs_captcha and not context.captcha_passed:
        raise CaptchaRequired(_("请先完成图形验证码。"))
    day = local_day(now)
    per_entry = int(rules.get("votes_per_entry_per_day", 1))
    per_day = int(rules.get("votes_per_day", 5))
    status = "held" if verdict.action == "hold" else "valid"
    vote = {
        "contest_id": contest.id, "entry_id": entry.id, "voter_id": voter.id, "day": day, "created_at": now,
        "status": status, "risk_score": verdict.score, "reasons": list(verdict.reasons), "ip": context.ip[:45],
        "subnet": context.subnet[:50], "device_id": context.device_id[:64], "user_agent": context.user_agent[:300],
        "receipt": new_receipt(), "idempotency_key": idempotency.key if idempotency else None, "status_reason": "",
    }
    detail = ("held: " + ",".join(verdict.reasons) if status == "held" else "valid")[:300]
    event = {"kind": "cast", "contest_id": contest.id, "at": now, "detail": detail, "digest": ledger.digest_of(
        ledger.cast_fields(kind="cast", at=now, detail=detail, contest_id=contest.id, entry_id=entry.id,
                           voter_id=voter.id, day=day, cast_at=now, receipt=vote["receipt"]))}
    reply = None
    if idempotency is not None:
        reply = {"voter_id": voter.id, "key": idempotency.key, "request_hash": idempotency.request_hash, "status": 201,
                 "created_at": now}
    rows = writer.VoteRows(vote=vote, event=event, per_entry=per_entry, per_day=per_day,
                           observation=antifraud.observation_of(observe, now) if observe else None, reply=reply)
    try:
        written = writer.write_vote(session, rows)
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
    cast = CastVote(id=written.vote_id, contest_id=contest.id, entry_id=entry.id, voter_id=voter.id, status=status,
                    risk_score=verdict.score, reasons=list(verdict.reasons), receipt=vote["receipt"])
    return CastResult(cast, per_day - written.used_today, entry, contest, written.observation_id)


def receipt_status(session: Session, receipt: str) -> tuple[Vote, list[Any]]:
    """The vote behind a receipt code and its ledger events, or NotFound."""
    vote = session.scalar(select(Vote).where(Vote.receipt == (receipt or "").strip().upper()))
    if vote is None:
        raise NotFound(_("没有找到这个投票凭证，请检查后重试。"), code="receipt_not_found")
    events = list(session.scalars(select(LedgerEvent).where(LedgerEvent.vote_id == vote.id).order_by(LedgerEvent.id)))
    return vote, events


def change_status(session: Session, *, actor: User | None, vote_ids: list[int], to: str, reason: str, now: datetime) -> int:
    """Void (to='voided') or release (to='valid') votes with a reason; returns how many changed."""
    kind = {"voided": "void", "valid": "release"}[to]
    allowed_from = ("valid", "held") if to == "voided" else ("held",)
    votes = list(session.scalars(select(Vote).where(Vote.id.in_(vote_ids), Vote.status.in_(allowed_from)).with_for_update()))
    for vote in votes:
        vote.status = to
        vote.status_reason = reason[:300]
        ledger.append_event(session, vote=vote, kind=kind, at=now, detail=reason)
    session.flush()
    return len(votes)


def valid_counts(session: Session, contest_id: int) -> dict[int, int]:
    """Valid votes per entry, from the database (the source of truth)."""
    rows = session.execute(
        select(Vote.entry_id, func.count()).where(Vote.contest_id == contest_id, Vote.status == "valid").group_by(Vote.entry_id)
    )
    return {entry_id: n for entry_id, n in rows}



def submit_vote(
    session: Session, redis: Any, *, voter: User, entry_id: int, signals: VoteSignals, now: datetime,
    captcha_id: str = "", captcha_answer: str = "", idempotency: Idempotency | None = None,
) -> CastResult:
    """A vote request end to end before the commit: anti-fraud verdict, captcha, then the
    vote with its fraud observation (stored exactly when the vote is). The Redis windows
    learn of it after the commit (live.after_vote_committed)."""
    verdict = antifraud.assess_vote(session, redis, signals, now)
    captcha_passed = False
    if captcha_id or captcha_answer:
        captcha_passed = captcha.check_captcha(session, redis, captcha_id=captcha_id, answer=captcha_answer, purpose="vote")
        if not captcha_passed:
            raise CaptchaRequired(_("验证码不正确或已过期，请换一张再试。"), code="captcha_invalid")
    context = VoteContext(ip=signals.ip, subnet=antifraud.subnet_of(signals.ip), device_id=signals.device_id,
                          user_agent=signals.user_agent, captcha_passed=captcha_passed)
    return cast_vote(session, voter=voter, entry_id=entry_id, now=now, verdict=verdict, context=context,
                     idempotency=idempotency, observe=signals)
