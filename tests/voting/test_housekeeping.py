"""Pruning what the vote path no longer needs: fraud observations and idempotent answers,
never votes or the ledger."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update

from contest.antifraud.models import FraudObservation
from contest.antifraud.service import VoteSignals
from contest.extensions import db
from contest.voting import housekeeping, ledger
from contest.voting import service as voting
from contest.voting.models import IdempotentReply, LedgerEvent, Vote


def count(model) -> int:  # type: ignore[no-untyped-def]
    return db.session.scalar(select(func.count()).select_from(model)) or 0


def cast(voter, entry, at, key, clock):  # type: ignore[no-untyped-def]
    """A vote with its observation and idempotent answer, those two dated `at`."""
    signals = VoteSignals(voter_id=voter.id, account_created_at=voter.created_at, contest_id=entry.contest_id,
                          entry_id=entry.id, ip="203.0.113.9", device_id="d-1", user_agent="Mozilla/5.0")
    result = voting.cast_vote(db.session, voter=voter, entry_id=entry.id, now=clock.now(), observe=signals,
                              idempotency=voting.Idempotency(key, "0" * 64))
    db.session.execute(update(FraudObservation).where(FraudObservation.id == result.observation_id).values(at=at))
    db.session.execute(update(IdempotentReply).where(IdempotentReply.key == key).values(created_at=at))
    db.session.commit()


def test_prune_keeps_votes_and_the_ledger(app, make_contest, make_entry, make_user, clock):
    contest = make_contest(kind="media", stage="voting")
    entries = [make_entry(contest) for _ in range(3)]
    voter = make_user()
    now = clock.now()
    cast(voter, entries[0], now - timedelta(days=8), "old", clock)
    cast(voter, entries[1], now - timedelta(days=3), "three-days", clock)
    cast(voter, entries[2], now - timedelta(hours=1), "recent", clock)
    assert (count(FraudObservation), count(IdempotentReply)) == (3, 3)
    pruned = housekeeping.prune(db.session, now, batch=1)  # one row per batch: the loop runs
    assert (pruned.observations, pruned.replies) == (1, 2)
    assert list(db.session.scalars(select(IdempotentReply.key))) == ["recent"]
    assert count(FraudObservation) == 2
    assert (count(Vote), count(LedgerEvent)) == (3, 3)
    assert ledger.verify_ledger(db.session).ok
    assert housekeeping.prune(db.session, now) == housekeeping.Pruned(0, 0)


def test_flask_votes_prune(app, runner, make_contest, make_entry, make_user, clock):
    contest = make_contest(kind="media", stage="voting")
    cast(make_user(), make_entry(contest), clock.now() - timedelta(days=9), "k", clock)
    result = runner.invoke(args=["votes", "prune"])
    assert result.exit_code == 0, result.output
    assert "pruned 1 fraud observations and 1 idempotent answers" in result.output
    assert count(Vote) == 1


def test_the_sealing_daemon_prunes_too(app, runner, make_contest, make_entry, make_user, clock):
    contest = make_contest(kind="media", stage="voting")
    cast(make_user(), make_entry(contest), clock.now() - timedelta(days=9), "k", clock)
    clock.advance(seconds=5)  # past the sealing grace
    result = runner.invoke(args=["votes", "seal", "--every", "0.1", "--count", "1"])
    assert result.exit_code == 0, result.output
    assert "pruned 1 fraud observations and 1 idempotent answers" in result.output
    assert "sealed block #1" in result.output
    assert count(FraudObservation) == 0
