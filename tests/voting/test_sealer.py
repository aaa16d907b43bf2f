"""The sealer: a vote followed by silence is sealed by its own process within seconds.

The sealer's thread reads the app's clock (a FixedClock here): a test moves it past the
grace period, then waits (real time) for the thread's turn.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from contest.extensions import db
from contest.voting import ledger, sealing
from contest.voting import service as voting
from contest.voting.models import LedgerBlock, LedgerEvent, Vote
from tests.conftest import CSRF_RE, login, redis_client
from tests.site.isolation import committed

WAIT = 10.0  # seconds of real time: the promise made to a voter


def eventually(check, timeout=WAIT):  # type: ignore[no-untyped-def]
    """Poll `check` until it answers something true or `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        answer = check()
        if answer or time.monotonic() >= deadline:
            return answer
        time.sleep(0.1)


def sealer_threads() -> int:
    return sum(thread.name == "ledger-sealer" for thread in threading.enumerate())


def unsealed() -> int:
    return committed(select(func.count()).select_from(LedgerEvent).where(LedgerEvent.block_id.is_(None)))


@pytest.fixture
def ballot(make_contest, make_entry):
    contest = make_contest(kind="media", stage="voting", rules={"captcha_mode": "never"})
    return contest, [make_entry(contest) for _ in range(2)]


@pytest.fixture
def vote(app, ballot, make_user, clock):
    """Cast and commit a vote through the service (the after-commit work arms the sealer)."""
    n = iter(range(1, 10_000))

    def run(entry=None):
        i = next(n)
        voter = make_user()
        ballot_ = voting.Ballot(voter=voter, entry_id=(entry or ballot[1][0]).id, ip=f"10.{i // 250}.{i % 250}.1",
                                device_id=f"device-{i}", user_agent="Mozilla/5.0 (Linux; Android 13)")
        result = voting.cast_vote(db.session, redis_client(app), ballot_, clock.now())
        db.session.commit()
        return result
    return run


def test_a_vote_on_the_web_is_sealed_with_no_other_traffic(client, ballot, make_user, clock):
    contest, entries = ballot
    user = make_user()
    clock.advance(hours=3)  # an account a few hours old: nothing unusual for the anti-fraud
    login(client, user)
    page = client.get(f"/c/{contest.slug}/entries/{entries[0].id}").get_data(as_text=True)
    clock.advance(seconds=10)
    response = client.post(f"/c/{contest.slug}/entries/{entries[0].id}/vote",
                           data={"csrf_token": CSRF_RE.search(page).group(1)})  # type: ignore[union-attr]
    voted = time.monotonic()
    assert response.status_code == 302
    code = committed(select(Vote.receipt))
    assert "尚未封存（几秒后再查）" in client.get(f"/receipts/{code}").get_data(as_text=True)

    clock.advance(seconds=5)  # what the next few seconds do to the app's time

    def sealed_receipt() -> str:
        html = client.get(f"/receipts/{code}").get_data(as_text=True)
        return html if "证明验算通过" in html else ""

    html = eventually(sealed_receipt)
    assert html, "the vote was not sealed"
    assert time.monotonic() - voted < WAIT
    block = db.session.scalar(select(LedgerBlock))
    assert "证明验算通过：这条记录包含在区块 #1 中。" in html and block.hash in html and "尚未封存" not in html
    assert eventually(lambda: sealer_threads() == 0)  # nothing left to seal: the thread ends


def test_a_vote_through_the_service_is_sealed_and_verifies(vote, clock):
    result = vote()
    clock.advance(seconds=5)
    assert eventually(lambda: unsealed() == 0)
    event = db.session.scalar(select(LedgerEvent).where(LedgerEvent.vote_id == result.vote.id))
    proof = ledger.inclusion(db.session, event)
    assert proof.block is not None and ledger.apply_proof(event.digest, proof.proof) == proof.block.merkle_root
    assert ledger.verify_ledger(db.session).ok


def test_fifty_votes_arm_one_thread(vote, clock):
    before = threading.active_count()
    for _ in range(50):
        vote()
    assert sealer_threads() == 1 and threading.active_count() <= before + 1
    assert unsealed() == 50
    clock.advance(seconds=5)
    assert eventually(lambda: unsealed() == 0)
    assert committed(select(func.count()).select_from(LedgerBlock)) == 1  # one turn sealed them all
    assert eventually(lambda: sealer_threads() == 0)


def test_a_vote_during_the_wait_rides_on_the_pending_turn(vote, clock):
    vote()
    clock.advance(seconds=1)
    vote()  # not due yet when the turn comes: the thread takes another turn for it
    clock.advance(seconds=1.6)  # the first is due, the second is not
    assert eventually(lambda: committed(select(func.count()).select_from(LedgerBlock)) == 1)
    assert unsealed() == 1 and sealer_threads() == 1
    clock.advance(seconds=5)
    assert eventually(lambda: unsealed() == 0)
    assert eventually(lambda: sealer_threads() == 0)


def test_a_failed_turn_is_logged_and_the_next_vote_arms_again(vote, clock, monkeypatch, caplog):
    def broken(session, *, now, max_events=5000):  # type: ignore[no-untyped-def]
        raise OperationalError("INSERT INTO ledger_block …", {}, Exception("disk I/O error"))

    monkeypatch.setattr(ledger, "seal_pending", broken)
    vote()
    clock.advance(seconds=5)
    failed = eventually(lambda: [r for r in caplog.records if r.name == "contest.voting.sealing" and r.exc_info])
    assert failed and failed[0].levelno == logging.ERROR and "sealing the ledger failed" in failed[0].getMessage()
    assert eventually(lambda: sealer_threads() == 0)  # no retry loop on its own
    assert unsealed() == 1

    monkeypatch.undo()
    vote()
    clock.advance(seconds=5)
    assert eventually(lambda: unsealed() == 0)
    [block] = db.session.scalars(select(LedgerBlock)).all()
    assert block.event_count == 2


def test_losing_the_cluster_turn_still_seals_the_vote(app, vote, clock):
    redis = redis_client(app)
    if redis is None:
        pytest.skip("needs TEST_REDIS_URL")
    redis.set(sealing.SEAL_TICK_KEY, "1", ex=3)  # another process's turn, for 3 more seconds
    vote()
    clock.advance(seconds=5)
    voted = time.monotonic()
    assert eventually(lambda: unsealed() == 0), "the vote was not sealed"
    assert time.monotonic() - voted < WAIT


def test_a_stopped_sealer_arms_no_more(app, vote, clock):
    sealer = sealing.sealer_of(app)
    sealer.stop()
    vote()
    assert sealer_threads() == 0


def test_two_sealers_at_once_seal_each_event_once(app, vote, clock):
    """The second sealer waits for the first (SQLite: BEGIN IMMEDIATE; PostgreSQL: it gives
    up at once on the advisory lock) and never seals the same events again."""
    sealing.sealer_of(app).stop()  # only the two sealers below
    for _ in range(3):
        vote()
    clock.advance(seconds=5)
    answers = []
    engine = db.engine
    with Session(bind=engine) as first:
        assert ledger.seal_pending(first, now=clock.now()) is not None  # its transaction still open

        def second() -> None:
            with Session(bind=engine) as session:
                answers.append(ledger.seal_pending(session, now=clock.now()))
                session.commit()

        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.3)
        first.commit()
        thread.join(timeout=30)
    assert answers == [None]
    assert committed(select(func.count()).select_from(LedgerBlock)) == 1 and unsealed() == 0
    assert ledger.verify_ledger(db.session).ok


def test_the_delay_covers_the_grace_period():
    assert sealing.SEAL_DELAY > ledger.SEAL_GRACE and sealing.SEAL_DELAY < timedelta(seconds=5)
