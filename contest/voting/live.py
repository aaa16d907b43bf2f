"""Live vote counts and leaderboards: Redis sorted sets that follow the database.

The database is the record; everything here can be thrown away and rebuilt from it, and
every reader falls back to the database when Redis is absent, down or not yet rebuilt.

Keys of one contest share a hash tag, so they sit in one Redis Cluster slot:

    lb:{<contest>}:all          sorted set: entry id → valid votes
    lb:{<contest>}:cat:<id>     the same for one category, track or group
    lb:{<contest>}:boards       the board keys that exist (a rebuild drops them all)
    lb:{<contest>}:ready        present while the boards are complete; set by a rebuild, with a TTL
    lb:{<contest>}:gen          bumped by every invalidation
    lb:{<contest>}:seen         ids of the newest votes already counted
    lb:{<contest>}:building     present while a rebuild runs
    lb:{<contest>}:pending      votes committed during a rebuild: vote id → "entry|board,board"
    lb:{<contest>}:lock         one rebuild at a time

Why it stays exact under concurrency:
- A committed vote is added by one Lua script that counts it at most once (its id goes
  into :seen) and only into complete boards (:ready); without :ready it is left to the
  rebuild that the next reader starts.
- A rebuild reads the counts and the ids of the newest votes in ONE SQL statement, so
  both come from the same snapshot on PostgreSQL and SQLite. Votes committed while it
  runs are parked in :pending; the install script applies those the snapshot did not
  see and skips those it did, then sets :ready — unless :gen moved meanwhile (a void
  or release committed while the snapshot was taken), in which case the next reader
  rebuilds again.
- :ready expires (READY_TTL), so a board that missed an update while Redis was
  unreachable from some process heals by itself; the process that saw the failure also
  invalidates the board as soon as Redis answers again.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from redis.exceptions import NoScriptError, RedisError
from sqlalchemy import Connection, Integer, Row, cast, func, literal, null, or_, select, union_all

from ..accounts.models import User
from ..antifraud import service as antifraud
from ..antifraud.service import VoteSignals
from ..contests import service as contests
from ..contests.models import Contest, Entry
from ..db import SessionLike
from ..redis_client import boards_invalidated, health_of, note_degraded
from . import writer
from .figures import figures, summed
from .models import Vote
from .records import CastResult, local_day, votes_used_today

log = logging.getLogger(__name__)

READY_TTL = 600  # seconds a rebuilt board is trusted before it is rebuilt from the database
BUILD_TTL = 120  # a rebuild that dies leaves no lasting trace after this
SEEN_KEEP = 10_000  # newest vote ids remembered for de-duplication
OVERFETCH = 20  # extra board rows read so ties at the cut sort the same as in SQL


def _prefix(contest_id: int) -> str:
    return f"lb:{{{contest_id}}}:"


def _board_suffix(category_id: int | None) -> str:
    return "all" if category_id is None else f"cat:{category_id}"


# --- Redis health, per client ------------------------------------------------------------

def _usable(redis: Any) -> bool:
    if redis is None:
        return False  # no Redis configured: the database is the source, nothing degraded
    if health_of(redis).usable():
        return True
    note_degraded()
    return False


def _failed(redis: Any, exc: Exception, what: str, contest_id: int | None = None) -> None:
    log.warning("live counts: Redis unavailable while %s (%s); reading the database", what, exc)
    health_of(redis).failed(contest_id)
    note_degraded()


def _heal_dirty(redis: Any) -> None:
    """Boards that missed an update while Redis was unreachable are rebuilt on next read;
    after a Sentinel failover, every board (increments sent to the former master in its
    last moments are lost with it)."""
    health = health_of(redis)
    if health.take_master_change():
        try:
            invalidate_every_board(redis)
        except RedisError:
            health.master_changed()
            raise
    dirty = health.take_dirty()
    for n, contest_id in enumerate(sorted(dirty)):
        try:
            invalidate(redis, contest_id)
        except RedisError:
            for left in sorted(dirty)[n:]:
                health.mark_dirty(left)
            raise


# --- Lua ---------------------------------------------------------------------------------

# KEYS: ready, building, pending, seen, boards, board… ; ARGV: vote id, entry id, keep, pending spec
_APPLY = """
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('HSET', KEYS[3], ARGV[1], ARGV[4])
  return 2
end
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('ZADD', KEYS[4], 'NX', ARGV[1], ARGV[1]) == 0 then return 3 end
for i = 6, #KEYS do
  redis.call('ZINCRBY', KEYS[i], 1, ARGV[2])
  redis.call('SADD', KEYS[5], KEYS[i])
end
local keep = tonumber(ARGV[3])
local n = redis.call('ZCARD', KEYS[4])
if n > keep then redis.call('ZREMRANGEBYRANK', KEYS[4], 0, n - keep - 1) end
return 1
"""

_APPLY_SHA = hashlib.sha1(_APPLY.encode(), usedforsecurity=False).hexdigest()  # Redis names scripts by SHA-1

# KEYS: ready, building, pending, gen, lock, boards, tmp boards, seen, tmp seen
# ARGV: generation read before the snapshot, lock token, ready TTL, keep, key prefix, tmp prefix
_INSTALL = """
if redis.call('GET', KEYS[5]) ~= ARGV[2] then return -1 end
local prefix, tmp = ARGV[5], ARGV[6]
for _, key in ipairs(redis.call('SMEMBERS', KEYS[6])) do redis.call('DEL', key) end
redis.call('DEL', KEYS[6], KEYS[8])
for _, key in ipairs(redis.call('SMEMBERS', KEYS[7])) do
  local live = prefix .. string.sub(key, string.len(tmp) + 1)
  redis.call('RENAME', key, live)
  redis.call('PERSIST', live)
  redis.call('SADD', KEYS[6], live)
end
redis.call('DEL', KEYS[7])
if redis.call('EXISTS', KEYS[9]) == 1 then
  redis.call('RENAME', KEYS[9], KEYS[8])
  redis.call('PERSIST', KEYS[8])
end
local pending = redis.call('HGETALL', KEYS[3])
for i = 1, #pending, 2 do
  if redis.call('ZADD', KEYS[8], 'NX', pending[i], pending[i]) == 1 then
    local spec = pending[i + 1]
    local bar = string.find(spec, '|', 1, true)
    local entry = string.sub(spec, 1, bar - 1)
    for suffix in string.gmatch(string.sub(spec, bar + 1), '[^,]+') do
      redis.call('ZINCRBY', prefix .. suffix, 1, entry)
      redis.call('SADD', KEYS[6], prefix .. suffix)
    end
  end
end
redis.call('DEL', KEYS[3], KEYS[2], KEYS[5])
local keep = tonumber(ARGV[4])
local n = redis.call('ZCARD', KEYS[8])
if n > keep then redis.call('ZREMRANGEBYRANK', KEYS[8], 0, n - keep - 1) end
if (redis.call('GET', KEYS[4]) or '0') == ARGV[1] then
  redis.call('SET', KEYS[1], '1', 'EX', ARGV[3])
  return 1
end
return 0
"""


# --- what the public side shows ----------------------------------------------------------

def counts_visible(contest: Contest, now: datetime) -> bool:
    """Whether live counts may be shown now: the contest has a public vote, its rules make
    counts public, and we are not in the hidden stretch before voting closes.

    Once voting has closed the final counts are shown again (the stretch exists to stop a
    last-minute race, which is over). Rankings are always shown; only numbers hide.
    """
    return contests.counts_shown(contest, now)


def has_public_vote(contest: Contest) -> bool:
    """Whether the contest's schedule has a public voting window."""
    start, end = contest.window("voting")
    return start is not None and end is not None and contests.rules_of(contest).has_public_vote


def votes_left_today(session: SessionLike, contest: Contest, voter: User, now: datetime) -> int:
    """Votes the voter may still cast in this contest today (Asia/Shanghai day)."""
    per_day = contests.rules_of(contest).votes_per_day
    return max(0, per_day - votes_used_today(session, contest.id, voter.id, local_day(now)))


# --- after a commit ----------------------------------------------------------------------

@dataclass(frozen=True)
class LiveVote:
    """What the live boards need to know about one committed vote."""

    contest_id: int
    entry_id: int
    vote_id: int
    counted: bool  # a valid vote; a held one counts only once released
    category_ids: tuple[int, ...]

    @classmethod
    def of(cls, result: CastResult) -> LiveVote:
        return cls(result.contest_id, result.entry_id, result.vote.id, result.vote.status == "valid", result.category_ids)


def after_vote(redis: Any, vote: LiveVote, signals: VoteSignals, observation_id: int | None, now: datetime,
               then: Callable[[Any], None] | None = None) -> None:
    """After a vote request's commit: the live boards, the anti-fraud windows and (`then`)
    the shared pages' versions learn of the vote in one Redis round trip. Never raises:
    the vote stands, and whatever missed it catches up by itself."""
    def windows(pipe: Any) -> None:
        if observation_id is not None:
            antifraud.queue_windows(pipe, signals, now, observation_id)

    after_vote_committed(redis, vote, also=windows, then=then)


def after_vote_committed(redis: Any, result: CastResult | LiveVote, also: Callable[[Any], None] | None = None,
                         then: Callable[[Any], None] | None = None) -> None:
    """Add a committed vote to the live boards; `also` queues more commands (the vote's
    anti-fraud windows) on the same pipeline, and `then` commands that must follow the
    count (the shared pages' versions: a page made under the new versions shows the
    vote), so it all costs one round trip. `then` is not called when Redis is known to be
    away, and called again when the pipeline has to be sent again. Never raises: the vote
    already stands, and a board that misses it is rebuilt from the database."""
    vote = result if isinstance(result, LiveVote) else LiveVote.of(result)
    if not _usable(redis):
        if redis is not None and vote.counted:
            health_of(redis).mark_dirty(vote.contest_id)
        return
    try:
        _heal_dirty(redis)
        pipe = redis.pipeline(transaction=False)
        if also is not None:
            also(pipe)
        apply: list[Any] = []
        if vote.counted:
            prefix = _prefix(vote.contest_id)
            suffixes = [_board_suffix(None), *(_board_suffix(c) for c in vote.category_ids)]
            keys = [prefix + name for name in ("ready", "building", "pending", "seen", "boards")]
            keys += [prefix + s for s in suffixes]
            apply = [len(keys), *keys, vote.vote_id, vote.entry_id, SEEN_KEEP, f"{vote.entry_id}|{','.join(suffixes)}"]
            pipe.evalsha(_APPLY_SHA, *apply)
        if then is not None:
            then(pipe)
        try:
            pipe.execute()
        except NoScriptError:  # a new or flushed server: load the script and apply again
            redis.script_load(_APPLY)
            again = redis.pipeline(transaction=False)
            again.evalsha(_APPLY_SHA, *apply)
            if then is not None:
                then(again)  # after the count, again
            again.execute()
    except RedisError as exc:
        _failed(redis, exc, "counting a vote", vote.contest_id if vote.counted else None)


def after_entries_changed(redis: Any, contest_ids: Iterable[int]) -> None:
    """After entries were approved, withdrawn or rejected (committed): the contests' boards
    are marked incomplete and the next reader rebuilds them from the database, where only
    approved entries count. Never raises: a board that misses this heals by itself."""
    ids = sorted(set(contest_ids))
    if not _usable(redis):
        if redis is not None:
            for contest_id in ids:
                health_of(redis).mark_dirty(contest_id)
        return
    for contest_id in ids:
        try:
            invalidate(redis, contest_id)
        except RedisError as exc:
            _failed(redis, exc, "invalidating after an entry's status changed", contest_id)


def invalidate_every_board(redis: Any) -> int:
    """Mark every contest's boards incomplete (after a failover); how many contests."""
    contest_ids = {int(key.split("{", 1)[1].split("}", 1)[0])
                   for key in (k.decode() if isinstance(k, bytes) else k for k in redis.scan_iter(match="lb:{*}:ready"))
                   if key.split("{", 1)[1].split("}", 1)[0].isdigit()}
    for contest_id in sorted(contest_ids):
        invalidate(redis, contest_id)
    if contest_ids:
        log.warning("live counts: the Redis master changed; %s contests' boards will be rebuilt", len(contest_ids))
    return len(contest_ids)


def invalidate(redis: Any, contest_id: int) -> None:
    """Mark a contest's boards incomplete: the next reader rebuilds them from the database."""
    prefix = _prefix(contest_id)
    pipe = redis.pipeline(transaction=True)
    pipe.incr(prefix + "gen")
    pipe.delete(prefix + "ready")
    pipe.execute()
    boards_invalidated(redis, contest_id)


def after_status_change(session: SessionLike, redis: Any, contest_id: int, entry_ids: Iterable[int] = ()) -> None:
    """After votes were voided or released (committed): the contest's boards are recounted
    from the database at once. Recounting the whole contest in one snapshot, rather than
    patching the changed entries, keeps concurrent votes from being lost or counted twice;
    organisers' actions are rare enough for that to cost nothing noticeable."""
    if not _usable(redis):
        if redis is not None:
            health_of(redis).mark_dirty(contest_id)
        return
    try:
        _heal_dirty(redis)
        invalidate(redis, contest_id)
        rebuild(session, redis, contest_id)
    except RedisError as exc:
        _failed(redis, exc, "recounting after a status change", contest_id)


# --- rebuilding from the database ----------------------------------------------------------

@dataclass(frozen=True)
class Snapshot:
    boards: dict[str, dict[int, int]]  # board suffix → entry id → valid votes
    recent_vote_ids: list[int]


def snapshot(session: SessionLike, contest_id: int, keep: int = SEEN_KEEP) -> Snapshot:
    """Valid votes per approved entry and category, and the ids of the newest votes, read
    in one statement so that both describe the same moment. An entry withdrawn or rejected
    is on no board, whatever became of its votes."""
    counted = (
        select(literal("c").label("kind"), Vote.entry_id.label("id"), Entry.category_id.label("category_id"),
               Entry.group_id.label("group_id"), func.count().label("n"))
        .join(Entry, Entry.id == Vote.entry_id)
        .where(Vote.contest_id == contest_id, Vote.status == "valid", Entry.status == "approved")
        .group_by(Vote.entry_id, Entry.category_id, Entry.group_id)
    )
    newest = select(func.max(Vote.id)).where(Vote.contest_id == contest_id).scalar_subquery()
    recent = select(literal("r"), Vote.id, cast(null(), Integer), cast(null(), Integer), literal(0)).where(
        Vote.contest_id == contest_id, Vote.id > newest - keep)
    boards: dict[str, dict[int, int]] = {}
    recent_ids: list[int] = []
    # A connection of its own: the caller's session keeps its transaction and its objects.
    bind = session.get_bind()
    with (bind.engine if isinstance(bind, Connection) else bind).connect() as conn:
        rows: Sequence[Row[*tuple[Any, ...]]] = conn.execute(union_all(counted, recent)).all()
    for kind, row_id, category_id, group_id, n in rows:
        if kind == "r":
            recent_ids.append(row_id)
            continue
        suffixes = [_board_suffix(None), *(_board_suffix(c) for c in (category_id, group_id) if c is not None)]
        for suffix in dict.fromkeys(suffixes):
            board = boards.setdefault(suffix, {})
            board[row_id] = board.get(row_id, 0) + n
    return Snapshot(boards, recent_ids)


def rebuild(session: SessionLike, redis: Any, contest_id: int) -> bool:
    """Rebuild a contest's boards from the database unless another process is doing it;
    True when this call left them complete. Raises RedisError when Redis fails."""
    prefix = _prefix(contest_id)
    token = secrets.token_hex(8)
    if not redis.set(prefix + "lock", token, nx=True, ex=BUILD_TTL):
        return False
    tmp = f"{prefix}tmp:{token}:"  # this rebuild's own scratch keys, gone by themselves if it dies
    try:
        generation = redis.get(prefix + "gen") or b"0"
        start = redis.pipeline(transaction=True)
        start.set(prefix + "building", token, ex=BUILD_TTL)
        start.delete(prefix + "pending")
        start.execute()
        snap = snapshot(session, contest_id)
        fill = redis.pipeline(transaction=False)
        for suffix, counts in snap.boards.items():
            items = list(counts.items())
            for i in range(0, len(items), 1000):
                fill.zadd(tmp + suffix, {str(entry): n for entry, n in items[i:i + 1000]})
            fill.expire(tmp + suffix, BUILD_TTL)
            fill.sadd(tmp + "boards", tmp + suffix)
        for i in range(0, len(snap.recent_vote_ids), 1000):
            fill.zadd(tmp + "seen", {str(v): v for v in snap.recent_vote_ids[i:i + 1000]})
        fill.expire(tmp + "boards", BUILD_TTL)
        fill.expire(tmp + "seen", BUILD_TTL)
        fill.execute()
        keys = [prefix + "ready", prefix + "building", prefix + "pending", prefix + "gen", prefix + "lock",
                prefix + "boards", tmp + "boards", prefix + "seen", tmp + "seen"]
        installed: int = redis.eval(_INSTALL, len(keys), *keys, generation, token, READY_TTL, SEEN_KEEP, prefix, tmp)
        return installed == 1
    except BaseException:
        # let the next reader try again at once rather than after the lock's TTL
        try:
            if redis.get(prefix + "lock") == token.encode():
                redis.delete(prefix + "lock", prefix + "building")
        except RedisError:
            pass
        raise


def recount(session: SessionLike, redis: Any, contest: Contest | None = None) -> dict[int, int]:
    """Rebuild the boards of one contest, or of every contest with a public vote, from the
    database, and the figures' counts (voting.models.VoteCount) in the caller's
    transaction; valid votes per contest. Raises RedisError when Redis fails."""
    targets = [contest] if contest is not None else [c for c in contests.list_contests(session, include_unpublished=True)
                                                     if has_public_vote(c)]
    ids = [c.id for c in targets]
    totals: dict[int, int] = {}
    for contest_id in ids:
        if redis is not None:
            invalidate(redis, contest_id)
            # A rebuild already running may have read the database before this call; it
            # will not mark its result complete (the generation moved), so wait and redo.
            deadline = time.monotonic() + BUILD_TTL + 5
            while not rebuild(session, redis, contest_id):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the boards of contest {contest_id} could not be rebuilt")
                time.sleep(0.1)
        writer.rebuild_counts(session, contest_id)  # the figures' counts, counted again from the votes
        totals[contest_id] = summed(session, contest_id).counted
    return totals


# --- reading -----------------------------------------------------------------------------

def _board_state(session: SessionLike, redis: Any, contest_id: int) -> str:
    """'ready' (complete), 'stale' (being rebuilt elsewhere; slightly behind) or 'none'."""
    prefix = _prefix(contest_id)
    _heal_dirty(redis)
    if redis.exists(prefix + "ready"):
        return "ready"
    if rebuild(session, redis, contest_id) or redis.exists(prefix + "ready"):
        return "ready"
    return "stale" if redis.exists(prefix + "boards") else "none"


def _ranked(rows: Iterable[tuple[int, int]], limit: int) -> list[tuple[int, int]]:
    return sorted(rows, key=lambda row: (-row[1], row[0]))[:limit]


def leaderboard(session: SessionLike, redis: Any, contest: Contest, *, category_id: int | None = None,
                limit: int = 20) -> list[tuple[int, int]]:
    """The top approved entries by valid votes as (entry id, votes), most votes first, ties
    by entry id; from Redis when its board is complete (rebuilt on demand), else from the
    database.

    A board that still lists an entry no longer approved (withdrawn or rejected since it
    was built) is invalidated, and this answer comes from the database: the entry is off
    every leaderboard at once, whichever code changed its status."""
    limit = max(0, limit)
    if _usable(redis):
        try:
            if _board_state(session, redis, contest.id) != "none":
                key = _prefix(contest.id) + _board_suffix(category_id)
                rows = [(int(member), int(score)) for member, score in
                        redis.zrevrangebyscore(key, "+inf", "(0", start=0, num=limit + OVERFETCH, withscores=True)]
                approved = set(session.scalars(select(Entry.id).where(
                    Entry.id.in_([entry_id for entry_id, _n in rows]), Entry.status == "approved"))) if rows else set()
                if len(approved) == len(rows):
                    return _ranked(rows, limit)
                invalidate(redis, contest.id)
        except RedisError as exc:
            _failed(redis, exc, "reading a leaderboard")
    return _database_board(session, contest.id, category_id, limit)


PRIVATE_OVERFETCH = 500  # rows read past the board's size when private counts are left out of it


@dataclass(frozen=True)
class BoardRow:
    rank: int  # competition rank among the board's rows: equal counts share it (1, 2, 2, 4)
    entry_id: int
    votes: int


@dataclass(frozen=True)
class Board:
    """A leaderboard as the public sees it (web page and API alike)."""

    rows: list[BoardRow]
    entries: dict[int, Entry]
    counts_visible: bool
    private_left_out: bool  # the rules keep minors' counts private: their entries are on no board

    def entry(self, row: BoardRow) -> Entry:
        return self.entries[row.entry_id]


def public_board(session: SessionLike, redis: Any, contest: Contest, *, category_id: int | None, size: int,
                 now: datetime) -> Board:
    """The top public entries by counted votes, ranked with shared ranks for equal counts.

    Where the rules keep minors' counts private, their entries are left off the board
    altogether, not listed at their place without a number: a place between two visible
    counts, or shared with one, would give the count away; ranks are among the public
    counts only."""
    private_rule = contests.hides_minor_votes(contest)
    rows = leaderboard(session, redis, contest, category_id=category_id,
                       limit=size + (PRIVATE_OVERFETCH if private_rule else OVERFETCH))
    entries = contests.entries_by_id(session, [entry_id for entry_id, _votes in rows])
    private = contests.minors_among(contest, entries, now)
    ranked: list[BoardRow] = []
    for entry_id, votes in rows:
        if entry_id not in entries or entry_id in private:
            continue
        tied = bool(ranked) and ranked[-1].votes == votes
        ranked.append(BoardRow(ranked[-1].rank if tied else len(ranked) + 1, entry_id, votes))
        if len(ranked) == size:
            break
    return Board(ranked, {row.entry_id: entries[row.entry_id] for row in ranked}, counts_visible(contest, now),
                 private_rule)


def counts_for(session: SessionLike, redis: Any, contest: Contest, entry_ids: list[int]) -> dict[int, int]:
    """Valid votes of the given entries (0 for none), live from Redis or from the database."""
    if not entry_ids:
        return {}
    if _usable(redis):
        try:
            if _board_state(session, redis, contest.id) != "none":
                scores = redis.zmscore(_prefix(contest.id) + "all", [str(e) for e in entry_ids])
                return {e: int(s or 0) for e, s in zip(entry_ids, scores, strict=True)}
        except RedisError as exc:
            _failed(redis, exc, "reading live counts")
    return figures(session, contest.id, entry_ids=entry_ids).counted_map(entry_ids)


def _database_board(session: SessionLike, contest_id: int, category_id: int | None, limit: int) -> list[tuple[int, int]]:
    """The board from the database: counted votes (voting.figures) of the approved entries
    (of the category or group), ranked as the Redis board ranks them."""
    query = select(Entry.id).where(Entry.contest_id == contest_id, Entry.status == "approved")
    if category_id is not None:
        query = query.where(or_(Entry.category_id == category_id, Entry.group_id == category_id))
    return _ranked(figures(session, contest_id, entry_ids=query).counted_map().items(), limit)
