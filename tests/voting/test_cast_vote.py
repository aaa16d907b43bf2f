"""cast_vote: window, eligibility, quotas under concurrency, ledger and verification."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from contest.accounts.actors import SYSTEM
from contest.errors import Conflict, Forbidden, NotFound, TooMany
from contest.extensions import db
from contest.voting import ledger
from contest.voting import service as voting
from contest.voting.models import LedgerEvent, Vote


@pytest.fixture
def ballot(make_contest, make_entry, make_user):
    contest = make_contest(kind="media", stage="voting")
    entries = [make_entry(contest) for _ in range(8)]
    return contest, entries


def cast(voter, entry, clock, **kwargs):
    result = voting.record_vote(db.session, voter=voter, entry_id=entry.id, now=clock.now(), **kwargs)
    db.session.commit()
    return result


def count(statement):
    with db.engine.connect() as conn:
        return conn.execute(statement).scalar()


def test_a_vote_is_stored_with_a_receipt_and_a_ledger_event(ballot, make_user, clock):
    contest, entries = ballot
    voter = make_user()
    result = cast(voter, entries[0], clock)
    assert result.votes_left_today == 4
    assert len(result.vote.receipt) == 12
    assert count(select(func.count()).select_from(LedgerEvent).where(LedgerEvent.kind == "cast")) == 1
    assert voting.valid_counts(db.session, contest.id) == {entries[0].id: 1}


def test_one_vote_per_entry_per_day_then_the_next_day_again(ballot, make_user, clock):
    _contest, entries = ballot
    voter = make_user()
    cast(voter, entries[0], clock)
    with pytest.raises(Conflict) as caught:
        cast(voter, entries[0], clock)
    assert caught.value.status == 409 and "今天已经为这件作品投过票" in caught.value.message
    db.session.rollback()
    clock.advance(days=1)
    cast(voter, entries[0], clock)
    assert count(select(func.count()).select_from(Vote)) == 2


def test_daily_quota(ballot, make_user, clock):
    _contest, entries = ballot
    voter = make_user()
    for entry in entries[:5]:
        cast(voter, entry, clock)
    with pytest.raises(TooMany) as caught:
        cast(voter, entries[5], clock)
    assert caught.value.status == 429 and caught.value.code == "daily_quota"
    # 10:00 in Beijing: the quota renews at midnight, 14 hours on
    assert caught.value.retry_after == 14 * 3600 + 1
    db.session.rollback()
    assert count(select(func.count()).select_from(Vote)) == 5


def test_outside_the_voting_stage(make_contest, make_entry, make_user, clock):
    contest = make_contest(kind="media", stage="judging")
    entry = make_entry(contest)
    with pytest.raises(Forbidden) as caught:
        cast(make_user(), entry, clock)
    assert caught.value.code == "voting_closed"


def test_entries_not_approved_or_unknown(ballot, make_entry, make_user, clock):
    contest, _entries = ballot
    draft = make_entry(contest, status="submitted")
    with pytest.raises(Forbidden):
        cast(make_user(), draft, clock)
    db.session.rollback()
    with pytest.raises(NotFound):
        voting.record_vote(db.session, voter=make_user(), entry_id=999999, now=clock.now())


def test_captcha_required_when_the_verdict_says_so(ballot, make_user, clock):
    _contest, entries = ballot
    with pytest.raises(voting.CaptchaRequired):
        cast(make_user(), entries[0], clock, verdict=voting.Verdict(action="captcha", score=50, reasons=("burst",)))
    db.session.rollback()
    held = cast(make_user(), entries[0], clock, verdict=voting.Verdict(action="hold", score=80, reasons=("subnet",)))
    assert held.vote.status == "held"


def _parallel(app, jobs):
    """Run callables in threads, each in its own app context (own session and connection)."""
    outcomes: list[object] = []
    lock = threading.Lock()
    start = threading.Barrier(len(jobs))

    def run(job):
        with app.app_context(), app.test_request_context():
            start.wait()
            try:
                job()
                db.session.commit()
                outcome = "ok"
            except (Conflict, TooMany) as exc:
                db.session.rollback()
                outcome = exc.code
            finally:
                db.session.remove()
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def test_fifty_parallel_votes_with_a_quota_of_five(app, ballot, make_user, make_entry, clock):
    contest, entries = ballot
    entries += [make_entry(contest) for _ in range(42)]
    voter = make_user()
    voter_id = voter.id
    jobs = [lambda e=e: voting.record_vote(db.session, voter=db.session.get(type(voter), voter_id), entry_id=e.id, now=clock.now())
            for e in entries[:50]]
    outcomes = _parallel(app, jobs)
    assert outcomes.count("ok") == 5
    assert count(select(func.count()).select_from(Vote)) == 5
    assert count(text("SELECT used FROM vote_quota")) == 5


def test_parallel_votes_for_one_entry_by_many_voters(app, ballot, make_user, clock):
    _contest, entries = ballot
    voter_ids = [make_user().id for _ in range(20)]
    from contest.accounts.models import User
    jobs = [lambda v=v: voting.record_vote(db.session, voter=db.session.get(User, v), entry_id=entries[0].id, now=clock.now())
            for v in voter_ids]
    assert _parallel(app, jobs).count("ok") == 20
    assert count(select(func.count()).select_from(Vote).where(Vote.entry_id == entries[0].id)) == 20


def test_ledger_seals_and_verifies_and_finds_a_changed_vote(ballot, make_user, clock):
    _contest, entries = ballot
    voters = [make_user() for _ in range(3)]
    for voter in voters:
        for entry in entries[:3]:
            cast(voter, entry, clock)
    clock.advance(seconds=5)
    block = ledger.seal_pending(db.session, now=clock.now())
    db.session.commit()
    assert block is not None and block.event_count == 9
    voting.change_status(db.session, actor=SYSTEM, vote_ids=[1], to="voided", reason="同一设备多账号", now=clock.now())
    db.session.commit()
    clock.advance(seconds=5)
    ledger.seal_pending(db.session, now=clock.now())
    db.session.commit()
    report = ledger.verify_ledger(db.session)
    assert report.ok and report.blocks == 2 and report.events == 10
    # a receipt's proof leads to its block's root
    vote, events = voting.receipt_status(db.session, db.session.get(Vote, 2).receipt)
    proof = ledger.inclusion(db.session, events[0])
    assert proof.holds() and proof.leaf_index == 1 and proof.tree_size == 9
    # tamper with one vote row behind the application's back
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE vote SET entry_id = :e WHERE id = 5"), {"e": entries[4].id})
    db.session.expire_all()
    report = ledger.verify_ledger(db.session)
    assert not report.ok and "vote 5" in report.problem


def test_verify_finds_a_status_changed_without_an_event(ballot, make_user, clock):
    _contest, entries = ballot
    cast(make_user(), entries[0], clock)
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE vote SET status = 'voided'"))
    db.session.expire_all()
    report = ledger.verify_ledger(db.session)
    assert not report.ok and "its events say 'valid'" in report.problem


def test_a_held_vote_does_not_count_until_released(ballot, make_user, clock):
    contest, entries = ballot
    result = cast(make_user(), entries[0], clock, verdict=voting.Verdict(action="hold", reasons=("device",)))
    assert voting.valid_counts(db.session, contest.id) == {}
    voting.change_status(db.session, actor=SYSTEM, vote_ids=[result.vote.id], to="valid", reason="人工复核通过", now=clock.now() + timedelta(hours=1))
    db.session.commit()
    assert voting.valid_counts(db.session, contest.id) == {entries[0].id: 1}
    assert ledger.verify_ledger(db.session).ok


@pytest.mark.parametrize("who", ["citizen", "anonymous"])
def test_only_organisers_and_the_system_change_a_votes_status(ballot, make_user, clock, who):
    _contest, entries = ballot
    result = cast(make_user(), entries[0], clock)
    actor = make_user() if who == "citizen" else None
    with pytest.raises(Forbidden):
        voting.change_status(db.session, actor=actor, vote_ids=[result.vote.id], to="voided", reason="刷票", now=clock.now())
    db.session.rollback()
    assert db.session.get(Vote, result.vote.id).status == "valid"
    organiser = make_user("organiser")
    assert voting.change_status(db.session, actor=organiser, vote_ids=[result.vote.id], to="voided", reason="刷票",
                                now=clock.now()) == 1
