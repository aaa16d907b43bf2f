"""What a vote is made of, as plain values: the request, the stored vote and the answer.

Kept apart from the use case (voting.service.cast_vote) so that the live boards, which
the use case feeds after its commit, can speak of votes without importing it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from sqlalchemy import select

from ..clock import LOCAL_TZ
from ..db import SessionLike
from .models import VoteQuota


@dataclass(frozen=True)
class ViewStamp:
    """A verified note of when a page was shown: entry 0 is a gallery page of the contest."""

    contest_id: int
    entry_id: int
    seen: datetime

    def seen_for(self, contest_id: int, entry_id: int) -> datetime | None:
        """When the voter saw this entry, or None when the stamp is for another page."""
        return self.seen if self.contest_id == contest_id and self.entry_id in (0, entry_id) else None


@dataclass(frozen=True)
class Idempotency:
    """An Idempotency-Key to claim with the vote's answer: the answer is stored in the
    vote's own statement, so a repeat finds it exactly when the vote exists."""

    key: str
    request_hash: str


class Voter(Protocol):
    """What a vote needs of the voter's account: a signed-in User, or the holder of an
    API token (api.tokens.Holder), read as these columns only."""

    @property
    def id(self) -> int: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def phone_verified_at(self) -> datetime | None: ...


@dataclass(frozen=True)
class Ballot:
    """A vote as it arrives: who votes for which entry, and what the request says of itself.

    `slug`, when given, is the contest named in the address, which must be the entry's.
    """

    voter: Voter
    entry_id: int
    ip: str
    device_id: str = ""
    user_agent: str = ""
    stamp: ViewStamp | None = None
    captcha_id: str = ""
    captcha_answer: str = ""
    idempotency: Idempotency | None = None
    slug: str | None = None


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
class CastResult:
    """A stored vote and what its answer and the live boards need, as values (they stay
    readable after the commit expires the ORM objects)."""

    vote: CastVote
    votes_left_today: int
    contest_slug: str
    category_ids: tuple[int, ...] = ()  # the entry's category and group, for the live boards
    observation_id: int | None = None
    entry_done: bool = False  # the voter may vote for this entry no more today

    @property
    def entry_id(self) -> int:
        return self.vote.entry_id

    @property
    def contest_id(self) -> int:
        return self.vote.contest_id

    def answer(self) -> dict[str, Any]:
        """The vote's answer to its caller (and what an Idempotency-Key replays)."""
        return {"vote_id": self.vote.id, "receipt": self.vote.receipt, "votes_left_today": self.votes_left_today}


def local_day(now: datetime) -> date:
    return now.astimezone(LOCAL_TZ).date()


def votes_used_today(session: SessionLike, contest_id: int, voter_id: int, day: date) -> int:
    return session.scalar(select(VoteQuota.used).where(
        VoteQuota.contest_id == contest_id, VoteQuota.voter_id == voter_id, VoteQuota.day == day)) or 0
