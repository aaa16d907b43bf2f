"""Writing an accepted vote: quotas, the vote row, its ledger event, its fraud observation
and the idempotent answer, in the caller's transaction.

On PostgreSQL this is ONE statement of data-modifying CTEs, so a vote costs one round
trip however many rows it touches:

    ok     the entry is approved and its contest published (checked here again: the
           caller may have read them a moment earlier, voting.targets)
    eq     bump the voter's count for the entry today, only if ok, unless at its limit
    dq     bump the voter's count for the contest today, only if eq did, unless at limit
    v      insert the vote, only if dq did
    ev     insert the vote's ledger event, for the vote v inserted
    vc     count it: add one to its entry's count for its status (voting.models.VoteCount)
    ob     insert the fraud observation, for that vote           (when asked for)
    reply  claim the Idempotency-Key with the answer              (when asked for)

Each step reads its predecessor's RETURNING rows, so a refused quota stops everything
after it; the conditional upserts lock the quota rows, so parallel requests queue on
them and can never pass a limit. The statement answers which steps happened.

On SQLite (one writer at a time) the same rows are written by the same inserts one
after the other, each checked before the next.

A vote's status changes (voting.service.change_status) move it between counts with
`move_counts`, in the same transaction; `rebuild_counts` counts a contest's votes
again (flask votes recount).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import Integer, Table, bindparam, case, exists, func, literal, literal_column, null, select, text, true
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import ColumnElement

from ..antifraud.models import FraudObservation
from ..contests.models import Contest, Entry
from ..db import SessionLike, note_public_change
from .models import COUNT_SLOTS, IdempotentReply, LedgerEvent, Vote, VoteCount, VoteEntryQuota, VoteQuota

VOTE = Vote.__table__
EVENT = LedgerEvent.__table__
ENTRY_QUOTA = VoteEntryQuota.__table__
DAY_QUOTA = VoteQuota.__table__
OBSERVATION = FraudObservation.__table__
REPLY = IdempotentReply.__table__
COUNT = VoteCount.__table__
ENTRY = Entry.__table__
CONTEST = Contest.__table__
COUNT_KEY = ("contest_id", "entry_id", "status", "reason", "slot")

VOTE_COLUMNS = ("contest_id", "entry_id", "voter_id", "day", "created_at", "status", "risk_score", "reasons", "ip",
                "subnet", "device_id", "user_agent", "receipt", "idempotency_key", "status_reason")
EVENT_COLUMNS = ("kind", "contest_id", "at", "detail", "vote_status", "format", "digest")  # and vote_id, from the vote
OBSERVATION_COLUMNS = ("contest_id", "entry_id", "voter_id", "at", "ip", "subnet", "device_id")
REPLY_COLUMNS = ("voter_id", "key", "request_hash", "status", "created_at")  # and body


class QuotaReached(Exception):
    """A quota stopped the vote: which one ("entry" or "day")."""

    def __init__(self, which: str) -> None:
        super().__init__(which)
        self.which = which


class NotVotable(Exception):
    """The entry is not approved, or its contest not published (any more)."""


class KeyTaken(Exception):
    """The Idempotency-Key already has an answer: the caller rolls back and replays it."""


class DuplicateVote(Exception):
    """The vote's own unique constraints refused it (same voter and key, or receipt)."""


@dataclass(frozen=True)
class Written:
    vote_id: int
    used_today: int
    observation_id: int | None
    used_for_entry: int  # the voter's votes for this entry today, this one included


@dataclass(frozen=True)
class VoteRows:
    """The values of every row a vote writes (the vote's id is the database's)."""

    vote: dict[str, Any]
    event: dict[str, Any]
    per_entry: int
    per_day: int
    observation: dict[str, Any] | None = None
    reply: dict[str, Any] | None = None  # voter_id, key, request_hash, status, created_at


def write_vote(session: SessionLike, rows: VoteRows) -> Written:
    """Write the vote's rows in the caller's transaction; NotVotable, QuotaReached, KeyTaken
    or DuplicateVote when something refused it (the caller rolls back)."""
    try:
        if session.get_bind().dialect.name == "postgresql":
            written = _write_postgresql(session, rows)
        else:
            written = _write_in_steps(session, rows)
    except IntegrityError as exc:
        raise DuplicateVote(str(exc.orig)) from None
    note_public_change(session, rows.vote["contest_id"], votes=True)
    return written


# --- PostgreSQL: one statement ---------------------------------------------------------------

def _param(table: Table, column: str, prefix: str) -> ColumnElement[Any]:
    # Typed: in INSERT … SELECT the server cannot infer a parameter's type, and the
    # psycopg dialect writes each typed parameter with its cast (%(name)s::INTEGER).
    return bindparam(f"{prefix}{column}", type_=table.c[column].type)


# Constants are written into the statement, not sent as parameters: with them the
# statement stays within what psycopg keeps converted between calls (at most 4,096
# characters and 50 parameters: psycopg._queries), instead of parsing its placeholders
# again on every vote (tests/voting/test_vote_statement.py holds it there).
ONE: ColumnElement[int] = literal_column("1")


def _bump_cte(table: Table, keys: tuple[str, ...], prefix: str, limit: str, guard: Any = None) -> Any:
    source = select(*(_param(table, k, prefix) for k in keys), ONE)
    if guard is not None:
        source = source.where(guard)
    return (
        postgresql.insert(table).from_select([*keys, "used"], source)
        .on_conflict_do_update(index_elements=list(keys), set_={"used": table.c.used + ONE},
                               where=table.c.used < bindparam(limit, type_=Integer))
        .returning(table.c.used).cte(prefix.rstrip("_"))
    )


def _votable(entry_id: Any) -> Any:
    """Whether the entry can be voted for: approved, in a published contest."""
    return exists(select(ENTRY.c.id).join(CONTEST, CONTEST.c.id == ENTRY.c.contest_id)
                  .where(ENTRY.c.id == entry_id, ENTRY.c.status == literal_column("'approved'"), CONTEST.c.is_published))


@cache
def _statement(observe: bool, answer: bool) -> Any:
    ok = select(ONE.label("ok")).where(_votable(_param(ENTRY_QUOTA, "entry_id", "eq_"))).cte("ok")
    eq = _bump_cte(ENTRY_QUOTA, ("entry_id", "voter_id", "day"), "eq_", "per_entry", guard=exists(select(ok.c.ok)))
    dq = _bump_cte(DAY_QUOTA, ("contest_id", "voter_id", "day"), "dq_", "per_day", guard=exists(select(eq.c.used)))
    v = (postgresql.insert(VOTE).from_select(
        list(VOTE_COLUMNS), select(*(_param(VOTE, c, "v_") for c in VOTE_COLUMNS)).where(exists(select(dq.c.used))),
    ).returning(VOTE.c.id, VOTE.c.contest_id, VOTE.c.entry_id, VOTE.c.status, VOTE.c.receipt).cte("v"))
    ev = (postgresql.insert(EVENT).from_select(
        [*EVENT_COLUMNS, "vote_id"], select(*(_param(EVENT, c, "ev_") for c in EVENT_COLUMNS), v.c.id),
    ).returning(EVENT.c.id).cte("ev"))
    vc = (postgresql.insert(COUNT).from_select(
        [*COUNT_KEY, "n"], select(v.c.contest_id, v.c.entry_id, v.c.status, literal_column("''"),
                                  v.c.id % literal_column(str(COUNT_SLOTS)), ONE),
    ).on_conflict_do_update(index_elements=list(COUNT_KEY), set_={"n": COUNT.c.n + ONE}).returning(COUNT.c.n).cte("vc"))
    # PostgreSQL runs every data-modifying CTE, read or not; SQLAlchemy renders only those
    # the statement refers to, hence the counts of ev and vc.
    answers: list[Any] = [select(ok.c.ok).scalar_subquery(), select(eq.c.used).scalar_subquery(),
                          select(dq.c.used).scalar_subquery(),
                          select(v.c.id).scalar_subquery(), select(func.count()).select_from(ev).scalar_subquery(),
                          select(func.count()).select_from(vc).scalar_subquery()]
    if observe:
        ob = (postgresql.insert(OBSERVATION).from_select(
            list(OBSERVATION_COLUMNS), select(*(_param(OBSERVATION, c, "ob_") for c in OBSERVATION_COLUMNS))
            .where(exists(select(v.c.id))),
        ).returning(OBSERVATION.c.id).cte("ob"))
        answers.append(select(ob.c.id).scalar_subquery())
    else:
        answers.append(null())
    if answer:
        body = func.json_build_object(
            literal_column("'vote_id'"), v.c.id, literal_column("'receipt'"), v.c.receipt,
            literal_column("'votes_left_today'"), bindparam("per_day", type_=Integer) - dq.c.used,
        )
        reply = (postgresql.insert(REPLY).from_select(
            [*REPLY_COLUMNS, "body"], select(*(_param(REPLY, c, "re_") for c in REPLY_COLUMNS), body).select_from(v.join(dq, true())),
        ).on_conflict_do_nothing(index_elements=["voter_id", "key"]).returning(REPLY.c.id).cte("reply"))
        answers.append(select(reply.c.id).scalar_subquery())
    else:
        answers.append(null())
    return select(*answers)


def _params(rows: VoteRows) -> dict[str, Any]:
    params: dict[str, Any] = {"per_entry": rows.per_entry, "per_day": rows.per_day}
    vote = rows.vote
    params.update({f"eq_{k}": vote[k] for k in ("entry_id", "voter_id", "day")})
    params.update({f"dq_{k}": vote[k] for k in ("contest_id", "voter_id", "day")})
    params.update({f"v_{k}": vote[k] for k in VOTE_COLUMNS})
    params.update({f"ev_{k}": rows.event[k] for k in EVENT_COLUMNS})
    if rows.observation is not None:
        params.update({f"ob_{k}": rows.observation[k] for k in OBSERVATION_COLUMNS})
    if rows.reply is not None:
        params.update({f"re_{k}": rows.reply[k] for k in REPLY_COLUMNS})
    return params


def _write_postgresql(session: SessionLike, rows: VoteRows) -> Written:
    statement = _statement(rows.observation is not None, rows.reply is not None)
    votable, entry_used, day_used, vote_id, _events, _counted, observation_id, reply_id = session.execute(
        statement, _params(rows)).one()
    if votable is None:
        raise NotVotable()
    if entry_used is None:
        raise QuotaReached("entry")
    if day_used is None:
        raise QuotaReached("day")
    if rows.reply is not None and reply_id is None:
        raise KeyTaken()
    return Written(vote_id, day_used, observation_id, entry_used)


# --- SQLite: the same rows, one insert after the other ------------------------------------------

def _bump(session: SessionLike, table: Table, keys: dict[str, Any], limit: int) -> int | None:
    stmt = sqlite.insert(table).values(**keys, used=1).on_conflict_do_update(
        index_elements=list(keys), set_={"used": table.c.used + 1}, where=table.c.used < limit,
    ).returning(table.c.used)
    return session.execute(stmt).scalar()


def _write_in_steps(session: SessionLike, rows: VoteRows) -> Written:
    vote = rows.vote
    if not session.execute(select(_votable(vote["entry_id"]))).scalar():
        raise NotVotable()
    entry_used = _bump(session, ENTRY_QUOTA, {k: vote[k] for k in ("entry_id", "voter_id", "day")}, rows.per_entry)
    if entry_used is None:
        raise QuotaReached("entry")
    used = _bump(session, DAY_QUOTA, {k: vote[k] for k in ("contest_id", "voter_id", "day")}, rows.per_day)
    if used is None:
        raise QuotaReached("day")
    vote_id = session.execute(sqlite.insert(VOTE).values(**vote).returning(VOTE.c.id)).scalar_one()
    session.execute(sqlite.insert(EVENT).values(**rows.event, vote_id=vote_id))
    _add_counts(session, {(vote["contest_id"], vote["entry_id"], vote["status"], "", vote_id % COUNT_SLOTS): 1})
    observation_id = None
    if rows.observation is not None:
        observation_id = session.execute(
            sqlite.insert(OBSERVATION).values(**rows.observation).returning(OBSERVATION.c.id)).scalar_one()
    if rows.reply is not None:
        body = {"vote_id": vote_id, "receipt": vote["receipt"], "votes_left_today": rows.per_day - used}
        claimed = session.execute(
            sqlite.insert(REPLY).values(**rows.reply, body=body)
            .on_conflict_do_nothing(index_elements=["voter_id", "key"]).returning(REPLY.c.id)
        ).scalar()
        if claimed is None:
            raise KeyTaken()
    return Written(vote_id, used, observation_id, entry_used)


# --- the counts beside the votes -----------------------------------------------------------------

def count_key(vote: Vote) -> tuple[int, int, str, str, int]:
    """The VoteCount row a vote is counted in: its entry, status, reason (a voided vote's
    only) and slot."""
    return (vote.contest_id, vote.entry_id, vote.status, vote.status_reason if vote.status == "voided" else "",
            vote.id % COUNT_SLOTS)


def move_counts(session: SessionLike, moves: list[tuple[tuple[int, int, str, str, int], tuple[int, int, str, str, int]]]) -> None:
    """Move votes between counts, in the caller's transaction: one vote for each (from,
    to) pair of count_key values (before and after its status changed)."""
    deltas: dict[tuple[int, int, str, str, int], int] = {}
    for before, after in moves:
        if before != after:
            deltas[before] = deltas.get(before, 0) - 1
            deltas[after] = deltas.get(after, 0) + 1
    _add_counts(session, deltas)


def _add_counts(session: SessionLike, deltas: dict[tuple[int, int, str, str, int], int]) -> None:
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    for key, delta in sorted(deltas.items()):  # in key order: two writers lock rows in the same order
        values = dict(zip(COUNT_KEY, key, strict=True))
        if delta > 0:
            session.execute(dialect.insert(COUNT).values(**values, n=delta)
                            .on_conflict_do_update(index_elements=list(COUNT_KEY), set_={"n": COUNT.c.n + delta}))
        elif delta < 0:  # the row is there: the votes leaving it were counted in it
            session.execute(COUNT.update().where(*(COUNT.c[k] == v for k, v in values.items()))
                            .values(n=COUNT.c.n + delta))


def rebuild_counts(session: SessionLike, contest_id: int) -> None:
    """Count the contest's votes again into VoteCount, in the caller's transaction (on
    PostgreSQL votes wait meanwhile: the vote table is locked against writes until the
    caller commits)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("LOCK TABLE vote IN SHARE MODE"))
    session.execute(COUNT.delete().where(COUNT.c.contest_id == contest_id))
    reason = case((VOTE.c.status == "voided", VOTE.c.status_reason), else_=literal(""))
    key = [VOTE.c.contest_id, VOTE.c.entry_id, VOTE.c.status, reason, VOTE.c.id % COUNT_SLOTS]
    session.execute(COUNT.insert().from_select([*COUNT_KEY, "n"], select(*key, func.count())
                                               .where(VOTE.c.contest_id == contest_id).group_by(*key)))
