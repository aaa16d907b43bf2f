"""The one source of vote figures: per entry and per contest, how many votes are counted
(valid), held for checking and voided — voided ones with their reasons — either as the
vote table has them now or as the sealed ledger has them at its head.

Every surface that shows a number of votes reads it from here: the entry page's vote box
and the gallery (through the live boards, which cache `counted` in Redis and fall back to
`figures`), the web and API leaderboards, the fraud desk, the transparency page and its
per-day chart, the results (preview and publication count from the sealed head) and the
exports. Two views exist because the results must be reproducible from the sealed ledger
while the live pages show the vote table as it is: once every event is sealed the two
agree, and a test builds a season and holds every page to the same figures.

Which figures the public may see is not decided here: `Figures.totals`, `summed` and
`counted_by_day` take the entries to leave out (minors' whose counts the rules keep
private, entries no longer competing), so every total leaves out the same entries.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from types import MappingProxyType
from typing import Any

from sqlalchemy import Select, case, distinct, func, select

from ..db import SessionLike
from . import ledger
from .models import LedgerBlock, LedgerEvent, VoteCount

_NO_REASONS: Mapping[str, int] = MappingProxyType({})  # shared by every entry with no voided votes
NO_REASON = ""  # a voided vote whose organiser gave no reason (shown as 未说明)


@dataclass(frozen=True)
class EntryFigures:
    """One entry's votes: counted (valid), held for checking, voided (with reasons)."""

    entry_id: int
    counted: int = 0
    held: int = 0
    voided: int = 0
    voided_by_reason: Mapping[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return self.counted + self.held + self.voided

    def of(self, status: str) -> int:
        """The figure for a vote status (valid, held or voided)."""
        return {"valid": self.counted, "held": self.held, "voided": self.voided}[status]


@dataclass(frozen=True)
class Totals:
    counted: int = 0
    held: int = 0
    voided: int = 0
    voided_by_reason: Mapping[str, int] = field(default_factory=dict)
    entries: int = 0  # entries with at least one vote among those summed


@dataclass(frozen=True)
class Figures:
    """A contest's vote figures at one moment.

    `sealed` figures are the ledger's at `head` (events after it, `unsealed`, are not in
    them); otherwise they are the vote table's at `as_of`. `mismatched` lists (sealed
    view) votes whose table status disagrees with their events: it should stay empty."""

    contest_id: int
    entries: Mapping[int, EntryFigures]
    as_of: datetime | None
    sealed: bool = False
    head: LedgerBlock | None = None
    unsealed: int = 0
    mismatched: tuple[int, ...] = ()

    def of(self, entry_id: int) -> EntryFigures:
        return self.entries.get(entry_id) or EntryFigures(entry_id)

    def counted(self, entry_id: int) -> int:
        return self.of(entry_id).counted

    def counted_map(self, entry_ids: Iterable[int] | None = None) -> dict[int, int]:
        """Counted votes per entry: of the given entries (0 for none), else of every entry with one."""
        if entry_ids is None:
            return {e: f.counted for e, f in self.entries.items() if f.counted}
        return {e: self.counted(e) for e in entry_ids}

    def by_status(self, status: str) -> dict[int, int]:
        """Entry → votes in that status (valid, held or voided), entries with none left out."""
        return {e: f.of(status) for e, f in self.entries.items() if f.of(status)}

    def _summed(self, only: Collection[int] | None, leave_out: Collection[int]) -> list[EntryFigures]:
        return [f for e, f in self.entries.items() if e not in leave_out and (only is None or e in only)]

    def totals(self, *, only: Collection[int] | None = None, leave_out: Collection[int] = ()) -> Totals:
        """The sums over the entries (all, or `only` these), less the entries left out."""
        summed = self._summed(only, leave_out)
        reasons: Counter[str] = Counter()
        for f in summed:
            reasons.update(f.voided_by_reason)
        return Totals(sum(f.counted for f in summed), sum(f.held for f in summed), sum(f.voided for f in summed),
                      dict(reasons), sum(1 for f in summed if f.total))

    def head_info(self) -> dict[str, Any]:
        if self.head is None:
            return {}
        return {"height": self.head.id, "hash": self.head.hash, "sealed_at": self.head.sealed_at.isoformat(),
                "events": self.head.last_event_id}


class _Builder:
    def __init__(self) -> None:
        self.counts: dict[int, dict[str, int]] = {}
        self.reasons: dict[int, Counter[str]] = {}

    def add(self, entry_id: int, status: str, reason: str, n: int = 1) -> None:
        row = self.counts.get(entry_id)
        if row is None:
            row = self.counts[entry_id] = {"valid": 0, "held": 0, "voided": 0}
        row[status] += n
        if status == "voided":
            self.reasons.setdefault(entry_id, Counter())[reason or NO_REASON] += n

    def entries(self) -> dict[int, EntryFigures]:
        # a contest may have tens of thousands of entries: one empty mapping for all without reasons
        reasons = self.reasons
        return {e: EntryFigures(e, c["valid"], c["held"], c["voided"], dict(reasons[e]) if e in reasons else _NO_REASONS)
                for e, c in self.counts.items()}


def figures(session: SessionLike, contest_id: int, *, now: datetime | None = None, sealed: bool = False,
            upto: int | None = None, entry_ids: Collection[int] | Select[Any] | None = None,
            mismatches: bool = True) -> Figures:
    """The contest's vote figures per entry (only `entry_ids`, when given): as the vote
    table has them now, or with `sealed` as the ledger's sealed events leave them — up to
    its head, or up to event `upto` (a head a publication froze). The sealed figures look
    for votes whose table status strays from their events (`mismatched`) unless
    `mismatches` is False: a second pass over the contest's events."""
    if sealed:
        return _sealed(session, contest_id, upto=upto, entry_ids=entry_ids, mismatches=mismatches)
    build = _Builder()
    # the counts kept beside the votes (VoteCount): a row per entry, status, reason and
    # slot, which the _Builder adds up
    query = select(VoteCount.entry_id, VoteCount.status, VoteCount.reason, VoteCount.n).where(
        VoteCount.contest_id == contest_id)
    if isinstance(entry_ids, Select):
        query = query.where(VoteCount.entry_id.in_(entry_ids))
    elif entry_ids is not None:
        if not entry_ids:
            return Figures(contest_id, {}, now)
        query = query.where(VoteCount.entry_id.in_(list(entry_ids)))
    # plain rows (no ORM entities asked for): a row per entry and status, tens of thousands
    row: Any
    for row in session.connection().execute(query):
        if row[-1]:
            build.add(row[0], row[1], row[2] or "", int(row[-1]))
    return Figures(contest_id, build.entries(), now)


def counted_by_day(session: SessionLike, contest_id: int, *, upto: int, only: Collection[int],
                   leave_out: Collection[int] = ()) -> list[tuple[date, int]]:
    """Counted votes per Asia/Shanghai day of the entries `only`, less those left out, as
    the sealed ledger up to event `upto` leaves them (the per-day chart of a publication:
    its days sum to the sealed figures' counted votes of the same entries). Read as a
    stream: memory for the days and the entries, whatever the number of votes."""
    per_day: Counter[date] = Counter()
    for entry_id, day, n in ledger.settled_valid_days(session, contest_id=contest_id, upto=upto):
        if entry_id in only and entry_id not in leave_out:
            per_day[day] += n
    return sorted(per_day.items())


# --- sums and rankings counted in the database ------------------------------------------------
# For pages that show totals and one page of a ranking over tens of thousands of entries
# (the transparency page): the kept counts (VoteCount) summed and sorted by the database,
# the same figures `figures(...)` gives entry by entry, without a row per entry in Python.


def entries_with_votes(session: SessionLike, contest_id: int, *, among: Select[Any],
                       statuses: Collection[str] = ("valid", "held", "voided")) -> list[int]:
    """The entries of `among` (a query of entry ids) with at least one vote in one of
    `statuses`, by id."""
    return list(session.scalars(select(VoteCount.entry_id).distinct().where(
        VoteCount.contest_id == contest_id, VoteCount.entry_id.in_(among), VoteCount.status.in_(list(statuses)),
        VoteCount.n > 0).order_by(VoteCount.entry_id)))


def summed(session: SessionLike, contest_id: int, *, among: Select[Any] | None = None,
           leave_out: Collection[int] = ()) -> Totals:
    """`Figures.totals` over the entries of `among` (every entry without it), less those
    left out, summed by the database."""
    def chosen(query: Any) -> Any:
        query = query.where(VoteCount.contest_id == contest_id)
        if among is not None:
            query = query.where(VoteCount.entry_id.in_(among))
        return query.where(VoteCount.entry_id.not_in(list(leave_out))) if leave_out else query

    query = chosen(select(VoteCount.status, VoteCount.reason, func.sum(VoteCount.n)))
    by_status: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    for status, reason, n in session.execute(query.group_by(VoteCount.status, VoteCount.reason)):
        by_status[status] += int(n or 0)
        if status == "voided" and n:
            reasons[reason or NO_REASON] += int(n)
    entries = chosen(select(func.count(distinct(VoteCount.entry_id))).where(VoteCount.n > 0))
    return Totals(by_status["valid"], by_status["held"], by_status["voided"], dict(reasons),
                  session.scalar(entries) or 0)


@dataclass(frozen=True)
class RankedRow:
    entry_id: int
    reason: str  # a voided row's reason ("" unexplained); "" in a ranking not by reason
    votes: int


def ranking(contest_id: int, status: str, *, among: Select[Any], by_reason: bool = False,
            sink: Collection[int] = ()) -> tuple[Select[Any], Select[Any]]:
    """The entries of `among` with votes in `status` (per reason too, with `by_reason`),
    most votes first, then by entry and reason; the entries in `sink` rank as if they had
    none (their counts are not public, so their places must not tell them). Two queries:
    the rows (RankedRow's columns: add offset and limit) and how many rows there are."""
    n = func.sum(VoteCount.n)
    reason = VoteCount.reason if by_reason else VoteCount.status
    grouped = (select(VoteCount.entry_id, reason.label("reason"), n.label("votes"))
               .where(VoteCount.contest_id == contest_id, VoteCount.status == status, VoteCount.entry_id.in_(among))
               .group_by(VoteCount.entry_id, reason).having(n > 0))
    rows = grouped.subquery()
    rank = case((rows.c.entry_id.in_(list(sink)), 0), else_=rows.c.votes) if sink else rows.c.votes
    return (select(rows.c.entry_id, rows.c.reason, rows.c.votes).order_by(rank.desc(), rows.c.entry_id, rows.c.reason),
            select(func.count()).select_from(rows))


def ranked_page(session: SessionLike, contest_id: int, status: str, *, among: Select[Any], wanted: int, per_page: int,
                by_reason: bool = False, sink: Collection[int] = ()) -> tuple[list[RankedRow], int, int]:
    """Page `wanted` of `ranking(...)` (the first when out of range): its rows, the page
    shown and the number of rows in all."""
    rows, count = ranking(contest_id, status, among=among, by_reason=by_reason, sink=sink)
    total = session.scalar(count) or 0
    pages = max(1, -(-total // per_page))
    page = wanted if 1 <= wanted <= pages else 1
    found = session.execute(rows.offset((page - 1) * per_page).limit(per_page))
    return ([RankedRow(e, r if by_reason else "", int(v)) for e, r, v in found], page, total)


def _sealed(session: SessionLike, contest_id: int, *, upto: int | None, entry_ids: Collection[int] | Select[Any] | None,
            mismatches: bool = True) -> Figures:
    """The contest's sealed events replayed in order, up to the ledger's head (or event
    `upto`): each vote as its last sealed event leaves it, counted in the database."""
    head = ledger.head(session)
    if upto is None:
        upto = head.last_event_id if head else 0
    elif head is not None and head.last_event_id != upto:
        head = session.scalar(select(LedgerBlock).where(LedgerBlock.last_event_id == upto))
    build = _Builder()
    for entry_id, status, reason, n in ledger.settled_counts(session, contest_id=contest_id, upto=upto,
                                                              entry_ids=entry_ids):
        build.add(entry_id, status, reason, n)
    unsealed = session.scalar(select(func.count()).select_from(LedgerEvent).where(
        LedgerEvent.contest_id == contest_id, LedgerEvent.block_id.is_(None))) or 0
    mismatched = ledger.settled_mismatches(session, contest_id=contest_id, upto=upto) if mismatches else []
    return Figures(contest_id, build.entries(), head.sealed_at if head else None, sealed=True, head=head,
                   unsealed=unsealed, mismatched=tuple(mismatched))
