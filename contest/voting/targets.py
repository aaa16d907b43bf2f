"""What a vote needs to know of its entry and the entry's contest, read in one query of a
few columns, and kept in process between votes.

A vote checks the entry's contest (published, in its voting window, its rules) before it
writes anything. Reading the entry and its contest as ORM objects on every vote cost about
a sixth of the application's time per vote, so the facts are read as plain columns into a
`Target`, and kept per worker process the way the shared pages keep a contest's scope
(contest/page_cache.py): with the version counters of the contest's data (`g`, `c<id>`),
read before the target was loaded, and trusted only while those counters hold and for at
most KEPT_SECONDS. Every change to a contest or one of its entries (moderation, rules,
windows, categories) bumps `c<id>` when it commits, so a vote sees it at the same moment
as the pages do. Where the counters are not shared between processes (no Redis) or Redis
does not answer, nothing is kept: every vote reads its target.

The entry's approval and the contest's publication are checked again inside the vote's
own statement (voting.writer): an entry withdrawn or rejected a moment ago is refused even
while a target kept from before says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import bindparam, select

from .. import page_cache
from ..contests.models import Contest, Entry
from ..contests.rules import Rules
from ..db import SessionLike
from ..errors import Forbidden, NotFound
from ..i18n import _

KEPT_SECONDS = 10  # at most, even while the counters hold (a bump that Redis lost)
KEPT_ENTRIES = 4096
EXTENSION = "vote_targets"


@dataclass(frozen=True)
class Target:
    """An entry as a vote sees it, with its contest's facts."""

    entry_id: int
    contest_id: int
    slug: str
    categories: tuple[int, ...]  # the entry's category and group: the live boards it counts on
    votable: bool  # the entry is approved and its contest published
    voting_window: tuple[datetime | None, datetime | None]
    rules: Rules
    voter_key: str  # the contest's ledger secret for voter pseudonyms

    def voting_open(self, now: datetime) -> bool:
        """Whether `now` is inside the voting window (contests.stage_of's "voting" stage)."""
        start, end = self.voting_window
        return start is not None and end is not None and start <= now < end


_E, _C = Entry.__table__.c, Contest.__table__.c
_READ = (select(_E.id, _E.contest_id, _E.status, _E.category_id, _E.group_id, _C.slug, _C.kind, _C.rules,
                _C.is_published, _C.voter_key, _C.voting_starts_at, _C.voting_ends_at)
         .join_from(Entry.__table__, Contest.__table__, _C.id == _E.contest_id).where(_E.id == bindparam("entry_id")))


def read(session: SessionLike, entry_id: int) -> Target:
    """The entry's target from the database, or NotFound."""
    row = session.execute(_READ, {"entry_id": entry_id}).first()
    if row is None:
        raise NotFound(_("没有找到这件作品。"), code="entry_not_found")
    (entry_id, contest_id, status, category_id, group_id, slug, kind, rules, is_published, voter_key,
     starts_at, ends_at) = row
    return Target(entry_id=entry_id, contest_id=contest_id, slug=slug,
                  categories=tuple(dict.fromkeys(c for c in (category_id, group_id) if c is not None)),
                  votable=status == "approved" and bool(is_published), voting_window=(starts_at, ends_at),
                  rules=Rules.build(kind, rules), voter_key=voter_key)


def votable(session: SessionLike, entry_id: int, *, kept: bool = True) -> Target:
    """The target of a vote for `entry_id`: kept in process while its contest's counters
    hold, else read (always read with kept=False); NotFound for no such entry, Forbidden
    unless it can be voted for."""
    target = _current(session, entry_id) if kept else read(session, entry_id)
    if not target.votable:
        raise not_votable()
    return target


def not_votable() -> Forbidden:
    return Forbidden(_("这件作品目前不能投票。"), code="entry_not_votable")


def forget(entry_id: int) -> None:
    """Drop a kept target (its entry was refused by the vote's own statement)."""
    kept = _kept()
    if kept is not None:
        kept.drop(entry_id)


def _kept() -> page_cache.Kept[int, Target] | None:
    """The targets kept in this process; None where nothing is kept."""
    if not page_cache.versions_shared():
        return None
    kept: page_cache.Kept[int, Target] | None = current_app.extensions.get(EXTENSION)
    if kept is None:
        kept = current_app.extensions.setdefault(EXTENSION, page_cache.Kept[int, Target](KEPT_SECONDS, KEPT_ENTRIES))
    return kept


def _current(session: SessionLike, entry_id: int) -> Target:
    kept = _kept()
    found = kept.get(entry_id) if kept is not None else None
    if kept is None or found is None:
        target = read(session, entry_id)
        if kept is not None:
            # The entry's contest is known now: the next vote reads its counters, then reads
            # the target again and keeps it with them.
            kept.put(entry_id, target, None)
        return target
    stamp, target = found
    versions = page_cache.shared_versions(page_cache.contest_versions(target.contest_id))
    if versions is None:
        kept.drop(entry_id)
        return read(session, entry_id)
    if stamp == versions:
        return target
    # Read after the counters: a change committed from now on moves them again.
    target = read(session, entry_id)
    kept.put(entry_id, target, versions)
    return target
