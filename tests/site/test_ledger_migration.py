"""The migration that gives ledger events their vote status carries an existing ledger
over: each event's status from what it says, its digest untouched, so a ledger sealed
before it still verifies after it. Run on a database of its own (a file on SQLite, a
schema of its own on PostgreSQL), migrated down and up."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import select

from contest import create_app
from contest.accounts.models import User
from contest.contests.models import Contest
from contest.extensions import db
from contest.results import service as results
from contest.voting import ledger
from contest.voting import service as voting
from contest.voting.models import LedgerEvent
from tests.conftest import _settings, scratch_database
from tests.voting import old_ledger

BEFORE = "63aa65ebec28"  # the revision before ledger events had vote_status
SCHEMA = "ledger_migration_check"


@pytest.fixture
def scratch_url(tmp_path: Path) -> Iterator[str]:
    yield from scratch_database(tmp_path, SCHEMA)


def test_the_migration_gives_existing_events_their_status_and_keeps_their_digests(
        app, scratch_url, tmp_path, clock, make_user, make_contest, make_entry):
    scratch = create_app(_settings(scratch_url, tmp_path / "scratch", clock))
    with scratch.app_context():
        try:
            upgrade()
            contest = make_contest(kind="media", stage="voting")
            a, b = make_entry(contest), make_entry(contest)
            organiser = make_user("organiser")
            organiser_id = organiser.id

            def cast(entry, held=False):
                verdict = voting.Verdict(action="hold", score=80, reasons=("shared_device",)) if held else voting.Verdict()
                result = voting.record_vote(db.session, voter=make_user(), entry_id=entry.id, now=clock.now(), verdict=verdict)
                db.session.commit()
                return result.vote.id

            valid, voided, held = cast(a), cast(a), cast(a, held=True)
            released, held_voided = cast(b, held=True), cast(b, held=True)
            voting.change_status(db.session, actor=organiser, vote_ids=[released], to="valid", reason="复核通过", now=clock.now())
            voting.change_status(db.session, actor=organiser, vote_ids=[voided, held_voided], to="voided", reason="刷票",
                                 now=clock.now())
            db.session.commit()
            unsealed = cast(b)
            contest_id, a_id, b_id = contest.id, a.id, b.id
            db.session.remove()

            # The schema and the ledger as they were before: old digests, one sealed block.
            downgrade(revision=BEFORE)
            with db.engine.begin() as conn:
                assert "vote_status" not in {c["name"] for c in db.inspect(conn).get_columns("ledger_event")}
                digests = old_ledger.rewrite_digests(conn, mark_format=False)
                last_sealed = max(digests) - 1
                clock.advance(seconds=10)
                old_ledger.seal(conn, upto=last_sealed, now=clock.now())

            upgrade()
            rows = db.session.execute(select(LedgerEvent.id, LedgerEvent.vote_id, LedgerEvent.kind, LedgerEvent.vote_status,
                                             LedgerEvent.format, LedgerEvent.digest).order_by(LedgerEvent.id)).all()
            assert [(r.vote_id, r.kind, r.vote_status) for r in rows] == [
                (valid, "cast", "valid"), (voided, "cast", "valid"), (held, "cast", "held"), (released, "cast", "held"),
                (held_voided, "cast", "held"), (released, "release", "valid"), (voided, "void", "voided"),
                (held_voided, "void", "voided"), (unsealed, "cast", "valid"),
            ]
            assert {r.format for r in rows} == {1}
            assert {r.id: r.digest for r in rows} == digests
            report = ledger.verify_ledger(db.session)
            assert report.ok and (report.blocks, report.events) == (1, 9), report.problem
            tally = results.ledger_tally(db.session, db.session.get(Contest, contest_id))
            assert (tally.by_status("valid"), tally.by_status("held"), tally.by_status("voided")) == ({a_id: 1, b_id: 1}, {a_id: 1},
                                                                                 {a_id: 1, b_id: 1})
            assert tally.unsealed == 1 and tally.mismatched == ()

            # and the ledger goes on with events of the current format
            organiser = db.session.get(User, organiser_id)  # the migration ended the session it was loaded in
            voting.change_status(db.session, actor=organiser, vote_ids=[held], to="voided", reason="刷票", now=clock.now())
            db.session.commit()
            clock.advance(seconds=10)
            ledger.seal_pending(db.session, now=clock.now())
            db.session.commit()
            report = ledger.verify_ledger(db.session)
            assert report.ok and (report.blocks, report.events) == (2, 10), report.problem
            assert db.session.scalar(select(LedgerEvent.format).order_by(LedgerEvent.id.desc()).limit(1)) == ledger.EVENT_FORMAT
        finally:
            db.session.remove()
            db.engine.dispose()
