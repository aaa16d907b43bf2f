"""bench.scale builds, in a few seconds at a small size, a contest whose ledger verifies
and whose rows are the live path's: each vote's status is its last event's, the sealed
figures agree with the vote table, and the pending events seal with the platform's own
sealer on top of the blocks the builder made."""

from __future__ import annotations

from sqlalchemy import func, select

from bench import scale
from contest import create_app
from contest.extensions import db
from contest.voting import figures, ledger
from contest.voting.models import LedgerBlock, LedgerEvent, Vote, VoteQuota


def test_a_small_scale_contest_verifies_and_its_pending_events_seal(tmp_path):
    url = f"sqlite:///{tmp_path}/scale.sqlite3"
    app = create_app(scale.settings_for(url, "", str(tmp_path)))
    counts = scale.build(app, 200, 2000, pending=300, block_events=400)
    assert counts["valid"] + counts["held"] + counts["voided"] == 2000
    assert counts["held"] and counts["voided"] and counts["events"] > 2000
    with app.app_context():
        report = ledger.verify_ledger(db.session)
        assert report.ok, report.problem
        assert (report.events, report.blocks) == (counts["events"], counts["blocks"]) and report.blocks >= 2
        assert ledger.unsealed_count(db.session) == 300
        assert db.session.scalar(select(func.sum(VoteQuota.used))) == 2000
        assert len({d for (d,) in db.session.execute(select(Vote.day).distinct())}) == 7
        assert scale.STEPS["seal 10,000 pending events"](app) == "300 events"
        assert ledger.verify_ledger(db.session).ok and ledger.unsealed_count(db.session) == 0
        sealed = figures.figures(db.session, 1, sealed=True)
        table = figures.figures(db.session, 1)
        assert sealed.totals() == table.totals() and not sealed.mismatched and sealed.totals().counted == counts["valid"]
        # one more event changed by hand is caught
        db.session.execute(LedgerEvent.__table__.update().where(LedgerEvent.id == 7).values(detail="x"))
        assert not ledger.verify_ledger(db.session).ok
        assert db.session.scalar(select(func.max(LedgerBlock.tree_size))) == counts["events"]
