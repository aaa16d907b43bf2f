"""The job runner seals the ledger: a vote followed by silence is sealed within seconds by
`flask jobs worker` (a real consumer process on the test's database, and on PostgreSQL +
Redis its queue in Redis), and its receipt then shows the block and a proof that checks.

The web app's clock here is a FixedClock; the worker runs on the wall clock, so a vote the
app stamps at its (earlier) time is already past the grace period for the worker.
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from contest import jobs
from contest.accounts.models import AuditEvent
from contest.extensions import db
from contest.voting import ledger
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


def unsealed() -> int:
    return committed(select(func.count()).select_from(LedgerEvent).where(LedgerEvent.block_id.is_(None)))


@pytest.fixture
def ballot(make_contest, make_entry):  # type: ignore[no-untyped-def]
    contest = make_contest(kind="media", stage="voting", rules={"captcha_mode": "never"})
    return contest, [make_entry(contest) for _ in range(2)]


def test_a_vote_on_the_web_is_sealed_by_the_job_runner_with_no_other_traffic(client, ballot, make_user, clock, worker):
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

    def sealed_receipt() -> str:
        html = client.get(f"/receipts/{code}").get_data(as_text=True)
        return html if "证明验算通过" in html else ""

    html = eventually(sealed_receipt)
    assert html, "the vote was not sealed"
    assert time.monotonic() - voted < WAIT
    block = db.session.scalar(select(LedgerBlock))
    assert block is not None
    assert "证明验算通过：这条记录包含在区块 #1 中。" in html and block.hash in html and "尚未封存" not in html
    assert ledger.verify_ledger(db.session).ok


def test_the_sealing_turn_seals_what_is_due_each_round(app, ballot, make_user, clock):
    contest, entries = ballot
    tasks: jobs.Tasks = app.extensions["job_tasks"]
    voting.record_vote(db.session, voter=make_user(), entry_id=entries[0].id, now=clock.now())
    db.session.commit()
    assert tasks.seal_once() is None  # younger than the grace period (the app's clock)
    clock.advance(seconds=3)
    block = tasks.seal_once()
    assert block is not None and block.event_count == 1 and unsealed() == 0
    # A void seals the same way: its event is due after the grace period.
    vote = db.session.scalar(select(Vote))
    voting.change_status(db.session, actor=make_user("organiser"), vote_ids=[vote.id], to="voided",
                         reason="刷票", now=clock.now())
    db.session.commit()
    clock.advance(seconds=3)
    assert tasks.seal_once() is not None and unsealed() == 0


def test_a_failed_nightly_verification_alerts_organisers(app, ballot, make_user, clock):
    contest, entries = ballot
    tasks: jobs.Tasks = app.extensions["job_tasks"]
    voting.record_vote(db.session, voter=make_user(), entry_id=entries[0].id, now=clock.now())
    db.session.commit()
    clock.advance(seconds=3)
    tasks.seal_once()
    assert tasks.verify_now() is True
    assert committed(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "ledger.verify_failed")) == 0
    db.session.execute(Vote.__table__.update().values(entry_id=entries[1].id))  # a vote moved behind the ledger's back
    db.session.commit()
    assert tasks.verify_now() is False
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "ledger.verify_failed"))
    assert event is not None and "账本核验未通过" in event.summary


def test_the_schedules_and_the_status(app, runner):
    found = jobs.status(jobs.jobs_of(app))
    assert found.periodic == ["prune_votes", "requeue_playback", "retry_sms", "seal_ledger", "sweep_media", "verify_ledger"]
    assert (found.queued, found.running, found.failed) == (0, [], [])
    result = runner.invoke(args=["jobs", "status"])
    assert result.exit_code == 0, result.output
    assert "queued: 0" in result.output and "seal_ledger" in result.output and "verify_ledger" in result.output
    # The embedded default keeps its queue in a file under instance/; with REDIS_URL, in Redis.
    huey = jobs.jobs_of(app)
    assert type(huey).__name__ == ("RedisHuey" if redis_client(app) is not None else "SqliteHuey")
