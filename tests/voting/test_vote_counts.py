"""The counts kept beside the votes (VoteCount, read by voting.figures) stay equal to the
vote table through casts, holds, voids, releases and a recount; a recount mends counts
that strayed."""

from __future__ import annotations

from sqlalchemy import case, func, literal, select, text

from contest.extensions import db
from contest.voting import figures, review
from contest.voting import service as voting
from contest.voting.models import Vote, VoteCount


def counted() -> dict[tuple[int, str, str], int]:
    rows = db.session.execute(select(VoteCount.entry_id, VoteCount.status, VoteCount.reason, func.sum(VoteCount.n))
                              .group_by(VoteCount.entry_id, VoteCount.status, VoteCount.reason))
    return {(e, s, r): int(n) for e, s, r, n in rows if n}


def in_the_vote_table() -> dict[tuple[int, str, str], int]:
    reason = case((Vote.status == "voided", Vote.status_reason), else_=literal(""))
    rows = db.session.execute(select(Vote.entry_id, Vote.status, reason, func.count())
                              .group_by(Vote.entry_id, Vote.status, reason))
    return {(e, s, r): n for e, s, r, n in rows}


def test_the_counts_follow_every_change_of_the_votes(make_contest, make_entry, make_user, clock, runner):
    contest = make_contest(kind="media", stage="voting")
    entries = [make_entry(contest) for _ in range(3)]
    organiser = make_user("organiser")
    votes = []
    for i in range(24):
        held = i % 4 == 3
        verdict = voting.Verdict(action="hold", score=80, reasons=("subnet_velocity",)) if held else voting.Verdict()
        votes.append(voting.record_vote(db.session, voter=make_user(), entry_id=entries[i % 3].id, now=clock.now(),
                                        verdict=verdict).vote)
        db.session.commit()
    assert counted() == in_the_vote_table() and {s for _e, s, _r in counted()} == {"valid", "held"}
    held = [v.id for v in votes if v.status == "held"]
    review.void_votes(db.session, actor=organiser, contest_id=contest.id, vote_ids=held[:2] + [votes[0].id, votes[1].id],
                      reason="同一设备多账号", now=clock.now())
    review.void_votes(db.session, actor=organiser, contest_id=contest.id, vote_ids=[votes[4].id], reason="异常集中投票",
                      now=clock.now())
    review.release_votes(db.session, actor=organiser, contest_id=contest.id, vote_ids=held[2:5], reason="核实无误",
                         now=clock.now())
    db.session.commit()
    found = counted()
    assert found == in_the_vote_table()
    assert found[(entries[0].id, "voided", "同一设备多账号")] == 2 and found[(entries[1].id, "voided", "异常集中投票")] == 1
    assert sum(n for (_e, s, _r), n in found.items() if s == "held") == len(held) - 5
    # the figures read the counts, and agree with the votes counted one by one
    live = figures.figures(db.session, contest.id)
    by_votes = in_the_vote_table()
    for entry_id, kept in live.entries.items():
        assert (kept.counted, kept.held, kept.voided) == tuple(
            sum(n for (e, s, _r), n in by_votes.items() if e == entry_id and s == status)
            for status in ("valid", "held", "voided"))
        assert dict(kept.voided_by_reason) == {r: n for (e, s, r), n in by_votes.items() if e == entry_id and s == "voided"}
    assert set(live.entries) == {e for e, _s, _r in by_votes} and live.totals().counted == 24 - len(held) - 3 + 3
    # counts that strayed (changed behind the application's back) are counted again by a recount
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE vote_count SET n = n + 5 WHERE status = 'valid'"))
        conn.execute(text("DELETE FROM vote_count WHERE status = 'voided'"))
    db.session.expire_all()
    assert counted() != in_the_vote_table()
    result = runner.invoke(args=["votes", "recount"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert counted() == in_the_vote_table() == found
