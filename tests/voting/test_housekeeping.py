"""Pruning what the vote path no longer needs: fraud observations and idempotent answers,
never votes or the ledger; and ended sign-ins with them."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update

from contest.accounts import service as accounts
from contest.accounts.models import LoginSession
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
    result = voting.record_vote(db.session, voter=voter, entry_id=entry.id, now=clock.now(), observe=signals,
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
    assert housekeeping.prune(db.session, now) == housekeeping.Pruned(0, 0, 0)


def test_flask_votes_prune(app, runner, make_contest, make_entry, make_user, clock):
    contest = make_contest(kind="media", stage="voting")
    cast(make_user(), make_entry(contest), clock.now() - timedelta(days=9), "k", clock)
    result = runner.invoke(args=["votes", "prune"])
    assert result.exit_code == 0, result.output
    assert "pruned 1 fraud observations, 1 idempotent answers and 0 ended sign-ins" in result.output
    assert count(Vote) == 1


def test_the_job_runners_hourly_prune(app, make_contest, make_entry, make_user, clock):
    contest = make_contest(kind="media", stage="voting")
    cast(make_user(), make_entry(contest), clock.now() - timedelta(days=9), "k", clock)
    done = app.extensions["job_tasks"].prune_now()
    assert done == "pruned 1 fraud observations, 1 idempotent answers and 0 ended sign-ins; 0 expired prepared files removed"
    assert count(FraudObservation) == 0


# --- ended sign-ins ------------------------------------------------------------------------

def sign_ins(user, clock, **ages):  # type: ignore[no-untyped-def]
    """One sign-in per keyword, opened `age` ago; a name starting with "revoked" is revoked then too."""
    tokens = {}
    for name, age in ages.items():
        at = clock.now() - age
        tokens[name] = accounts.open_login_session(db.session, user=user, now=at)
        if name.startswith("revoked"):
            accounts.end_login_session(db.session, token=tokens[name], now=at)
    db.session.commit()
    return tokens


def kept_names(tokens):  # type: ignore[no-untyped-def]
    """The names of the sign-ins whose rows are still stored."""
    return sorted(name for name, token in tokens.items() if db.session.scalar(
        select(func.count()).select_from(LoginSession).where(LoginSession.token_hash == accounts._token_digest(token))))


def test_ended_sign_ins_are_deleted_a_week_after_they_end(app, make_user, clock):
    user = make_user()
    kept = accounts.ENDED_SIGN_INS_KEPT
    tokens = sign_ins(
        user, clock,
        live=timedelta(days=1),  # in use: kept
        revoked_recently=kept - timedelta(hours=1),  # ended less than a week ago: kept a little longer
        revoked_long_ago=kept + timedelta(hours=1),
        revoked_and_old=accounts.SIGN_IN_TTL + kept + timedelta(days=1),
        expired_recently=accounts.SIGN_IN_TTL + kept - timedelta(hours=1),
        expired_long_ago=accounts.SIGN_IN_TTL + kept + timedelta(hours=1),
    )
    other = make_user()
    other_tokens = sign_ins(other, clock, revoked_long_ago=kept + timedelta(days=2), live=timedelta(hours=2))

    deleted = accounts.prune_login_sessions(db.session, clock.now(), batch=1)  # one row per batch: the loop runs

    assert deleted == 4
    assert kept_names(tokens) == ["expired_recently", "live", "revoked_recently"]
    assert kept_names(other_tokens) == ["live"]
    # The sign-ins left work as before.
    assert accounts.load_session_user(db.session, tokens["live"], now=clock.now()).id == user.id
    assert accounts.load_session_user(db.session, other_tokens["live"], now=clock.now()).id == other.id
    assert accounts.prune_login_sessions(db.session, clock.now()) == 0


def test_housekeeping_prunes_ended_sign_ins_too(app, runner, make_user, clock):
    user = make_user()
    sign_ins(user, clock, revoked=timedelta(days=10), expired=accounts.SIGN_IN_TTL + timedelta(days=10),
             live=timedelta(minutes=5))

    pruned = housekeeping.prune(db.session, clock.now())

    assert pruned == housekeeping.Pruned(0, 0, 2)
    assert count(LoginSession) == 1
    sign_ins(user, clock, revoked_again=timedelta(days=9))
    result = runner.invoke(args=["votes", "prune"])
    assert result.exit_code == 0, result.output
    assert "pruned 0 fraud observations, 0 idempotent answers and 1 ended sign-ins" in result.output
    assert count(LoginSession) == 1


def test_the_job_runners_prune_ends_old_sign_ins(app, make_user, clock):
    sign_ins(make_user(), clock, revoked=timedelta(days=10))
    done = app.extensions["job_tasks"].prune_now()
    assert done == "pruned 0 fraud observations, 0 idempotent answers and 1 ended sign-ins; 0 expired prepared files removed"
    assert count(LoginSession) == 0
