"""Live counters and leaderboards: exact under concurrency, rebuilt from the database,
healed after a flush; sealing at most every few seconds."""

from __future__ import annotations

import secrets
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from contest.accounts.actors import SYSTEM
from contest.accounts.models import User
from contest.extensions import db
from contest.redis_client import connect
from contest.voting import ledger, live, sealing
from contest.voting import service as voting
from contest.voting.models import LedgerEvent, Vote
from tests.conftest import TEST_DATABASE_URL, redis_client
from tests.site.isolation import committed


@pytest.fixture
def redis(app):
    client = redis_client(app)
    if client is None:
        pytest.skip("needs TEST_REDIS_URL")
    return client


@pytest.fixture
def ballot(make_contest, make_entry):
    contest = make_contest(kind="media", stage="voting")
    photo, video = contest.categories
    entries = [make_entry(contest, category_id=photo.id) for _ in range(3)] + [make_entry(contest, category_id=video.id)]
    return contest, entries


@pytest.fixture
def cast(app, clock):
    """Cast, commit, then count live, as the vote view does; ids or objects."""
    def run(voter, entry, **kwargs):
        voter = db.session.get(User, voter) if isinstance(voter, int) else voter
        entry_id = entry if isinstance(entry, int) else entry.id
        result = voting.record_vote(db.session, voter=voter, entry_id=entry_id, now=clock.now(), **kwargs)
        tally = live.LiveVote.of(result)
        db.session.commit()
        live.after_vote_committed(redis_client(app), tally)
        return tally
    return run


def board(redis, contest_id, suffix="all"):
    return {int(member): int(score) for member, score in redis.zrange(f"lb:{{{contest_id}}}:{suffix}", 0, -1, withscores=True)}


# --- rules of display ----------------------------------------------------------------------

def test_counts_visible_follows_the_rules(app, make_contest, clock):
    contest = make_contest(kind="media", stage="voting")
    _start, end = contest.window("voting")
    assert live.counts_visible(contest, clock.now())
    assert not live.counts_visible(contest, end - timedelta(hours=24))
    assert live.counts_visible(contest, end - timedelta(hours=24, seconds=1))
    assert live.counts_visible(contest, end)  # closed: final counts
    contest.rules = {"hide_counts_hours_before_close": 0}
    assert live.counts_visible(contest, end - timedelta(minutes=1))
    contest.rules = {"counts_public": False}
    assert not live.counts_visible(contest, clock.now())
    innovation = make_contest(kind="innovation", stage="voting")
    assert not live.has_public_vote(innovation) and not live.counts_visible(innovation, clock.now())


# --- reading without Redis -----------------------------------------------------------------

def test_the_database_board_without_redis(app, ballot, make_user, cast):
    contest, entries = ballot
    photo, video = contest.categories
    voters = [make_user() for _ in range(3)]
    for n, entry in enumerate(entries):
        for voter in voters[: 3 - min(n, 2)]:
            cast(voter, entry)
    expected = [(entries[0].id, 3), (entries[1].id, 2), (entries[2].id, 1), (entries[3].id, 1)]
    assert live.leaderboard(db.session, None, contest) == expected
    assert live.leaderboard(db.session, None, contest, limit=2) == expected[:2]
    assert live.leaderboard(db.session, None, contest, category_id=video.id) == [(entries[3].id, 1)]
    assert live.counts_for(db.session, None, contest, [entries[1].id, 999]) == {entries[1].id: 2, 999: 0}
    assert live.leaderboard(db.session, redis_client(app), contest) == expected


# --- Redis boards --------------------------------------------------------------------------

def test_boards_are_built_on_demand_and_then_follow_each_vote(redis, ballot, make_user, cast):
    contest, entries = ballot
    photo, _video = contest.categories
    first = make_user()
    cast(first, entries[0])  # no board yet: left to the rebuild
    assert board(redis, contest.id) == {}
    assert live.leaderboard(db.session, redis, contest) == [(entries[0].id, 1)]
    assert redis.exists(f"lb:{{{contest.id}}}:ready")
    cast(first, entries[1])
    cast(make_user(), entries[1])
    assert board(redis, contest.id) == {entries[0].id: 1, entries[1].id: 2}
    assert board(redis, contest.id, f"cat:{photo.id}") == {entries[0].id: 1, entries[1].id: 2}
    assert live.counts_for(db.session, redis, contest, [entries[1].id, entries[3].id]) == {entries[1].id: 2, entries[3].id: 0}


def test_a_vote_is_counted_once_even_if_reported_twice(redis, ballot, make_user, cast):
    contest, entries = ballot
    live.leaderboard(db.session, redis, contest)
    tally = cast(make_user(), entries[0])
    live.after_vote_committed(redis, tally)
    assert board(redis, contest.id) == {entries[0].id: 1}


def test_held_votes_count_once_released_and_voided_ones_leave(redis, ballot, make_user, cast, clock):
    contest, entries = ballot
    live.leaderboard(db.session, redis, contest)
    held = cast(make_user(), entries[0], verdict=voting.Verdict(action="hold", reasons=("test",)))
    valid = cast(make_user(), entries[0])
    assert board(redis, contest.id) == {entries[0].id: 1}
    voting.change_status(db.session, actor=SYSTEM, vote_ids=[held.vote_id], to="valid", reason="复核通过", now=clock.now())
    db.session.commit()
    live.after_status_change(db.session, redis, contest.id, [entries[0].id])
    assert board(redis, contest.id) == {entries[0].id: 2}
    voting.change_status(db.session, actor=SYSTEM, vote_ids=[held.vote_id, valid.vote_id], to="voided", reason="刷票", now=clock.now())
    db.session.commit()
    live.after_status_change(db.session, redis, contest.id, [entries[0].id])
    assert live.leaderboard(db.session, redis, contest) == []


def test_boards_heal_after_a_flush(redis, ballot, make_user, cast):
    contest, entries = ballot
    voters = [make_user() for _ in range(3)]
    for voter in voters:
        cast(voter, entries[3])
    assert live.leaderboard(db.session, redis, contest) == [(entries[3].id, 3)]
    redis.flushdb()
    cast(make_user(), entries[2])  # while the boards are gone
    assert live.leaderboard(db.session, redis, contest) == [(entries[3].id, 3), (entries[2].id, 1)]
    assert board(redis, contest.id) == {entries[3].id: 3, entries[2].id: 1}


def test_a_stale_board_expires_and_is_rebuilt(redis, ballot, make_user, cast):
    contest, entries = ballot
    cast(make_user(), entries[0])
    live.leaderboard(db.session, redis, contest)
    redis.zincrby(f"lb:{{{contest.id}}}:all", 5, str(entries[1].id))  # a board gone wrong somehow
    redis.delete(f"lb:{{{contest.id}}}:ready")  # … until its TTL runs out
    assert live.leaderboard(db.session, redis, contest) == [(entries[0].id, 1)]


def test_votes_committed_during_a_rebuild_are_neither_lost_nor_doubled(app, redis, ballot, make_user, cast, monkeypatch):
    contest, entries = ballot
    before, after = make_user().id, make_user().id
    original = live.snapshot

    def racing_snapshot(session, contest_id, keep=live.SEEN_KEEP):
        # committed before the snapshot: parked as pending, and seen by the snapshot too
        with app.app_context():
            cast(before, entries[0].id)
            db.session.remove()
        snap = original(session, contest_id, keep)
        # committed after the snapshot: parked as pending, unknown to it
        with app.app_context():
            cast(after, entries[1].id)
            db.session.remove()
        return snap

    monkeypatch.setattr(live, "snapshot", racing_snapshot)
    assert live.rebuild(db.session, redis, contest.id)
    monkeypatch.undo()
    assert board(redis, contest.id) == {entries[0].id: 1, entries[1].id: 1}
    assert live.leaderboard(db.session, redis, contest) == [(entries[0].id, 1), (entries[1].id, 1)]


def test_a_status_change_during_a_rebuild_keeps_the_board_incomplete(app, redis, ballot, make_user, cast, clock, monkeypatch):
    contest, entries = ballot
    tally = cast(make_user(), entries[0])
    original = live.snapshot

    def snapshot_then_void(session, contest_id, keep=live.SEEN_KEEP):
        snap = original(session, contest_id, keep)
        with app.app_context():
            voting.change_status(db.session, actor=SYSTEM, vote_ids=[tally.vote_id], to="voided", reason="刷票", now=clock.now())
            db.session.commit()
            live.invalidate(redis, contest_id)
            db.session.remove()
        return snap

    monkeypatch.setattr(live, "snapshot", snapshot_then_void)
    assert not live.rebuild(db.session, redis, contest.id)  # its snapshot predates the void
    monkeypatch.undo()
    assert not redis.exists(f"lb:{{{contest.id}}}:ready")
    assert live.leaderboard(db.session, redis, contest) == []


def many_voters(model: User, n: int) -> list[int]:
    """n verified accounts like `model`, without hashing a password n times."""
    users = [User(phone=f"139{i:08d}", password_hash=model.password_hash, display_name="", created_at=model.created_at,
                  phone_verified_at=model.phone_verified_at, session_token=secrets.token_hex(16), is_active_account=True)
             for i in range(n)]
    db.session.add_all(users)
    db.session.commit()
    return [u.id for u in users]


def _parallel(app, jobs):
    errors: list[BaseException] = []
    start = threading.Barrier(len(jobs))

    def run(job):
        with app.app_context():
            start.wait()
            try:
                job()
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]


def test_many_voters_at_once_with_rebuilds_in_between(app, redis, ballot, make_user, cast, clock):
    """200 voters (40 on SQLite) for one entry while the boards are rebuilt again and again:
    the database, the board and the leaderboard agree at the end."""
    contest, entries = ballot
    n = 200 if TEST_DATABASE_URL else 40
    voter_ids = many_voters(make_user(), n)
    entry_id, contest_id = entries[0].id, contest.id
    live.leaderboard(db.session, redis, contest)

    def rebuilder():
        for _ in range(5):
            live.invalidate(redis, contest_id)
            live.rebuild(db.session, redis, contest_id)

    jobs = [lambda v=v: cast(v, entry_id) for v in voter_ids] + [rebuilder]
    _parallel(app, jobs)
    stored = committed(select(func.count()).select_from(Vote).where(Vote.entry_id == entry_id))
    assert stored == n
    live.leaderboard(db.session, redis, contest)  # complete again if the last rebuild lost a race
    assert board(redis, contest_id)[entry_id] == n
    assert live.leaderboard(db.session, redis, contest) == [(entry_id, n)]


def test_recount_rebuilds_every_contest(redis, ballot, make_contest, make_entry, make_user, cast):
    contest, entries = ballot
    other = make_contest(kind="selection", stage="voting", categories=())
    nominee = make_entry(other)
    voter = make_user()
    cast(voter, entries[0])
    cast(voter, nominee)
    redis.flushdb()
    totals = live.recount(db.session, redis)
    assert totals == {contest.id: 1, other.id: 1}
    assert board(redis, other.id) == {nominee.id: 1}
    assert redis.exists(f"lb:{{{contest.id}}}:ready") and redis.exists(f"lb:{{{other.id}}}:ready")


# --- Redis unreachable ---------------------------------------------------------------------

def test_an_unreachable_redis_falls_back_to_the_database(app, ballot, make_user, cast, clock):
    contest, entries = ballot
    down = connect("redis://127.0.0.1:1/0", timeout=0.2)
    tally = cast(make_user(), entries[0])
    live.after_vote_committed(down, tally)  # logged, not raised
    assert live.leaderboard(db.session, down, contest) == [(entries[0].id, 1)]
    assert live.counts_for(db.session, down, contest, [entries[0].id]) == {entries[0].id: 1}
    live.after_status_change(db.session, down, contest.id, [entries[0].id])
    clock.advance(seconds=10)
    assert sealing.seal_due(db.session, clock.now()) is not None  # sealing needs no Redis


# --- sealing -------------------------------------------------------------------------------

def test_seal_due_seals_what_is_past_the_grace_period(app, ballot, make_user, cast, clock):
    contest, entries = ballot
    cast(make_user(), entries[0])
    assert sealing.seal_due(db.session, clock.now()) is None  # younger than the grace period
    clock.advance(seconds=3)
    block = sealing.seal_due(db.session, clock.now())
    assert block is not None and block.event_count == 1
    assert sealing.seal_due(db.session, clock.now()) is None  # nothing left
    cast(make_user(), entries[0])
    clock.advance(seconds=3)
    block = sealing.seal_due(db.session, clock.now())
    assert block is not None and block.id == 2
    assert committed(select(func.count()).select_from(LedgerEvent).where(LedgerEvent.block_id.is_(None))) == 0
    assert ledger.verify_ledger(db.session).ok
