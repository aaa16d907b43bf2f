"""A vote's entry and contest, read as a few columns and kept per process while the
contest's version counters hold (contest/voting/targets.py); the entry's approval and the
contest's publication checked again inside the vote's own statement (voting.writer)."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from flask import current_app
from sqlalchemy import event, func, select, text

from contest.antifraud.service import Verdict
from contest.errors import Forbidden, TooMany
from contest.extensions import db
from contest.voting import service as voting
from contest.voting import targets
from contest.voting.models import LedgerEvent, Vote, VoteEntryQuota, VoteQuota
from tests.conftest import redis_client


@pytest.fixture
def entries(make_contest, make_entry):
    # no captcha: these votes come without a view stamp or a browser, which the scoring notes
    contest = make_contest(kind="media", stage="voting", rules={"captcha_mode": "never"})
    return contest, [make_entry(contest, category_id=contest.categories[0].id) for _ in range(6)]


ADDRESSES = (f"10.{n // 250}.{n % 250}.7" for n in itertools.count(1))  # one each: no velocity signal fires


def vote(voter, entry, clock):
    """The vote request's path (voting.cast_vote), committed as the views commit it."""
    ballot = voting.Ballot(voter=voter, entry_id=entry.id, ip=next(ADDRESSES))
    try:
        result = voting.cast_vote(db.session, redis_client(current_app), ballot, clock.now())
    except Exception:
        db.session.rollback()
        raise
    db.session.commit()
    return result


def count(model):
    with db.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(model)).scalar()


def behind_the_pages_back(statement, **params):
    """A change committed outside the ORM session: no version counter moves (as if the
    bump after its commit had not happened yet, or Redis had lost it)."""
    with db.engine.begin() as conn:
        conn.execute(text(statement), params)


class Reads:
    """Counts the reads of a vote's target (statements on the entry and contest tables)."""

    def __init__(self):
        self.n = 0

    def __call__(self, _conn, _cursor, statement, *_args):
        if "contest.voter_key" in statement and "FROM entry JOIN contest" in statement:
            self.n += 1


@pytest.fixture
def reads(app):
    counter = Reads()
    event.listen(db.engine, "before_cursor_execute", counter)
    yield counter
    event.remove(db.engine, "before_cursor_execute", counter)


def test_a_target_is_read_as_columns_with_its_contest(entries, clock):
    contest, (entry, *_rest) = entries
    target = targets.read(db.session, entry.id)
    assert (target.entry_id, target.contest_id, target.slug, target.voter_key) == (entry.id, contest.id, contest.slug, contest.voter_key)
    assert target.votable and target.voting_open(clock.now())
    assert target.rules.votes_per_day == 5 and target.categories == (entry.category_id,)
    start, end = contest.window("voting")
    assert target.voting_open(start) and not target.voting_open(end) and not target.voting_open(start - timedelta(seconds=1))


def test_kept_while_the_contests_counters_hold_and_read_again_when_they_move(app, entries, make_user, clock, reads):
    if redis_client(app) is None:
        pytest.skip("targets are kept only where the version counters are shared (Redis)")
    contest, entry = entries[0], entries[1][0]
    voters = [make_user() for _ in range(5)]
    vote(voters[0], entry, clock)  # read, kept without versions
    vote(voters[1], entry, clock)  # versions read, then read again and kept with them
    assert reads.n == 2
    vote(voters[2], entry, clock)
    vote(voters[3], entry, clock)
    assert reads.n == 2  # kept: no read
    # An organiser's change commits through the session and moves c<id>: the next vote
    # reads the contest again and counts under the new rule.
    contest.rules = {**contest.rules, "votes_per_day": 1}
    db.session.commit()
    vote(voters[4], entry, clock)
    assert reads.n == 3
    with pytest.raises(TooMany) as refused:
        vote(voters[4], entries[1][1], clock)
    assert refused.value.code == "daily_quota" and "今天的 1 票已经用完了" in refused.value.message


def test_closing_the_vote_early_is_seen_by_the_next_vote(app, entries, make_user, clock):
    contest, (entry, other, *_rest) = entries
    voter = make_user()
    for _ in range(2):  # kept, where it can be
        vote(make_user(), entry, clock)
    contest.voting_ends_at = clock.now()
    db.session.commit()
    with pytest.raises(Forbidden) as refused:
        vote(voter, other, clock)
    assert refused.value.code == "voting_closed"


def test_without_shared_counters_every_vote_reads_its_target(app, entries, make_user, clock, reads):
    if redis_client(app) is not None:
        pytest.skip("the embedded default: no Redis")
    _contest, (entry, *_rest) = entries
    for _ in range(3):
        vote(make_user(), entry, clock)
    assert reads.n == 3
    assert app.extensions.get(targets.EXTENSION) is None
    # A change no counter hears of is seen at once.
    behind_the_pages_back("UPDATE contest SET rules = :rules", rules='{"votes_per_day": 1, "captcha_mode": "never"}')
    voter = make_user()
    vote(voter, entry, clock)
    with pytest.raises(TooMany):
        vote(voter, entries[1][1], clock)


@pytest.mark.parametrize("change", [
    "UPDATE entry SET status = 'rejected' WHERE id = :id",
    "UPDATE entry SET status = 'withdrawn' WHERE id = :id",
    "UPDATE contest SET is_published = false WHERE id = (SELECT contest_id FROM entry WHERE id = :id)",
])
def test_an_entry_that_left_the_vote_a_moment_ago_is_refused_by_the_vote_itself(app, entries, make_user, clock, change):
    """Even a target kept from before the change (the counters not moved yet) cannot
    count a vote: the vote's statement checks approval and publication itself, writes
    nothing, and the kept target is dropped."""
    _contest, (entry, *_rest) = entries
    for _ in range(2):
        vote(make_user(), entry, clock)
    kept = app.extensions.get(targets.EXTENSION)
    if redis_client(app) is not None:
        assert kept is not None and kept.get(entry.id) is not None
    before = [count(m) for m in (Vote, LedgerEvent, VoteEntryQuota, VoteQuota)]
    behind_the_pages_back(change, id=entry.id)
    with pytest.raises(Forbidden) as refused:
        vote(make_user(), entry, clock)
    assert refused.value.code == "entry_not_votable" and refused.value.message == "这件作品目前不能投票。"
    assert [count(m) for m in (Vote, LedgerEvent, VoteEntryQuota, VoteQuota)] == before
    if kept is not None:
        assert kept.get(entry.id) is None


def test_the_statement_refuses_rows_for_an_entry_that_cannot_be_voted_for(app, entries, make_user, clock):
    """The writer's own check, whichever way the target was read."""
    _contest, (entry, *_rest) = entries
    stale = targets.read(db.session, entry.id)
    behind_the_pages_back("UPDATE entry SET status = 'rejected' WHERE id = :id", id=entry.id)
    with pytest.raises(Forbidden) as refused:
        voting._record(db.session, voter=make_user(), target=stale, now=clock.now(), verdict=Verdict(),
                               context=voting.VoteContext(ip="10.1.2.3"), idempotency=None, observe=None)
    assert refused.value.code == "entry_not_votable"
    db.session.rollback()
    assert count(Vote) == 0 and count(VoteEntryQuota) == 0
