"""Demo votes and results, through the same services as the pages:

- 全民美拍 (voting open): the citizens' votes of the past three days and this morning.
- 最美职校生 (公示): fifteen days of votes, a click-farm burst held by the anti-fraud
  checks and then voided by an organiser, the result formula fixed before voting, a
  publication requested by one organiser and confirmed by another, and an objection
  with its answer.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select

from ..accounts.actors import SYSTEM
from ..accounts.models import User
from ..antifraud.service import Verdict
from ..contests.models import Contest, Entry
from ..db import SessionLike
from ..errors import DomainError
from ..media.service import Storage
from ..voting import ledger
from ..voting import service as voting
from ..voting.service import VoteContext
from . import service as results

SELECTION_FORMULA = {
    "vote_weight": 30, "expert_weight": 70, "vote_scoring": "max", "expert_round": "expert",
    "awards": [{"name": "最美职校生", "count": 5}, {"name": "提名奖", "count": 5}], "per_category": False,
}


def _of_kind(contests: dict[str, Contest], kind: str) -> Contest:
    """The demo's contest of a kind (there is one of each), whatever its slug."""
    return next(c for c in contests.values() if c.kind == kind)


def _approved(session: SessionLike, contest: Contest) -> list[Entry]:
    return list(session.scalars(select(Entry).where(Entry.contest_id == contest.id, Entry.status == "approved")
                                .order_by(Entry.id)))


def _vote_days(session: SessionLike, rng: random.Random, contest: Contest, voters: Sequence[User],
               first: datetime, days: int, last: datetime | None = None) -> int:
    """Each voter comes back on most days and spends part of the day's quota, favouring
    some entries over others (popularity differs, as it does)."""
    entries = _approved(session, contest)
    appeal = {e.id: rng.uniform(0.3, 1.0) for e in entries}
    cast = 0
    for day in range(days):
        for n, voter in enumerate(voters):
            if rng.random() < 0.25:
                continue
            moment = first + timedelta(days=day, hours=8 + (n * 37 % 12), minutes=n * 13 % 60)
            if last is not None and moment >= last:
                continue
            picks = rng.choices(entries, weights=[appeal[e.id] ** 2 for e in entries], k=rng.randint(1, 5))
            for step, entry in enumerate(dict.fromkeys(picks)):
                at = moment + timedelta(minutes=step * 3)
                try:
                    voting.record_vote(session, voter=voter, entry_id=entry.id, now=at,
                                       context=VoteContext(ip=f"112.224.{n % 40}.{10 + n}", subnet=f"112.224.{n % 40}.0/24",
                                                           user_agent="Mozilla/5.0 (iPhone)"))
                    cast += 1
                except DomainError:
                    pass
    return cast


def seed_votes_and_results(session: SessionLike, contests: dict[str, Contest], citizens: Sequence[User],
                           organisers: Sequence[User], storage: Storage, now: datetime) -> None:
    rng = random.Random(51420)  # nosec B311
    selection = _of_kind(contests, "selection")
    assert selection.voting_starts_at is not None and selection.voting_ends_at is not None
    results.set_formula(session, actor=SYSTEM, contest=selection, formula=SELECTION_FORMULA,
                        now=selection.voting_starts_at - timedelta(days=1))
    start = selection.voting_starts_at
    _vote_days(session, rng, selection, citizens, start, (selection.voting_ends_at - start).days)

    # A click farm: one subnet, one device, empty user agents, minutes apart — held by
    # the anti-fraud checks, then voided after review. Nothing is deleted.
    target = _approved(session, selection)[-1]
    burst_at = start + timedelta(days=6, hours=2)
    held = []
    for n, voter in enumerate(citizens[:12]):
        try:
            result = voting.record_vote(
                session, voter=voter, entry_id=target.id, now=burst_at + timedelta(minutes=n),
                verdict=Verdict(action="hold", score=85, reasons=("subnet_burst", "shared_device", "headless_agent")),
                context=VoteContext(ip=f"36.110.8.{20 + n}", subnet="36.110.8.0/24", device_id="d-farm-01"),
            )
            held.append(result.vote.id)
        except DomainError:
            pass
    voting.change_status(session, actor=organisers[0], vote_ids=held[:9], to="voided",
                         reason="同一网段、同一设备集中投票（刷票）", now=burst_at + timedelta(days=1))
    voting.change_status(session, actor=organisers[0], vote_ids=held[9:], to="valid",
                         reason="核实为本人正常投票", now=burst_at + timedelta(days=1))
    session.flush()

    # 全民美拍: voting is open; the last three days and this morning.
    media = _of_kind(contests, "media")
    assert media.voting_starts_at is not None
    _vote_days(session, rng, media, citizens, media.voting_starts_at, 4, last=now - timedelta(minutes=5))

    # Seal everything cast so far, as the sealing daemon would have.
    while ledger.seal_pending(session, now=now):
        pass
    session.flush()

    # 最美职校生 results: requested and confirmed by two organisers when 公示 began.
    assert selection.publicity_starts_at is not None
    published_at = selection.publicity_starts_at + timedelta(hours=1)
    publication = results.request_publication(session, actor=organisers[0], contest=selection, now=published_at)
    results.confirm_publication(session, actor=organisers[1], publication=publication,
                                now=published_at + timedelta(minutes=40))
    entry_id = publication.rows[1]["entry_id"] if len(publication.rows) > 1 else None
    objection = results.file_objection(
        session, user=citizens[3], contest=selection, entry_id=entry_id, subject="votes",
        body="该同学的票数在某一天突然增加很多，请核实是否存在刷票。", storage=storage,
        now=published_at + timedelta(hours=20),
    )
    results.answer_objection(
        session, actor=organisers[0], objection=objection, outcome="rejected",
        answer="经核查投票账本与设备、网段记录，该作品当日票数来自 23 个不同网段的实名验证账号，未发现异常，异议不成立。",
        now=published_at + timedelta(days=1, hours=3),
    )
    session.flush()
