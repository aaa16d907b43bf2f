"""Results end to end: real votes (valid, held, released, voided) in the ledger and real
finalised rounds give the hand-computed results of the three contests; publication,
objections and the ledger cross-check follow the rules."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from contest.accounts.actors import SYSTEM
from contest.accounts.models import User
from contest.antifraud.service import Verdict
from contest.contests.models import Contest, Entry
from contest.errors import Conflict, Forbidden
from contest.extensions import db
from contest.judging import service as judging
from contest.results import service as results
from contest.results.models import Objection, Publication
from contest.voting import service as voting
from contest.voting.models import Vote

ONE_LINE = [judging.CriterionFields("综合", 100, 100)]


class Setup:
    def __init__(self, clock: Any, make_user: Any) -> None:
        self.clock, self.make_user = clock, make_user
        self.organiser_a = make_user("organiser")
        self.organiser_b = make_user("organiser")
        self.judges = [make_user("judge") for _ in range(3)]

    def votes(self, entry: Entry, n: int, *, verdict: Verdict = Verdict()) -> list[int]:
        ids = []
        for _ in range(n):
            ids.append(voting.record_vote(db.session, voter=self.make_user("citizen"), entry_id=entry.id,
                                        now=self.clock.now(), verdict=verdict).vote.id)
        db.session.commit()
        return ids

    def finalised_round(self, contest: Contest, key: str, scores: dict[int, float]) -> None:
        """A round in which three judges give each entry the same total."""
        now = self.clock.now()
        rnd = judging.create_round(db.session, actor=self.organiser_a, contest=contest, now=now, criteria=ONE_LINE,
                                   fields=judging.RoundFields(key=key, name=f"{key}轮", judges_per_entry=3,
                                                              aggregation="mean", score_step=0.5))
        judging.add_entries(db.session, actor=self.organiser_a, rnd=rnd, entry_ids=list(scores), now=now)
        for judge in self.judges:
            judging.add_judge(db.session, actor=self.organiser_a, rnd=rnd, user=judge, now=now)
        judging.set_state(db.session, actor=self.organiser_a, rnd=rnd, state="open", now=now)
        criterion = str(rnd.criteria[0].id)
        for judge in self.judges:
            judging.sign_declaration(db.session, judge=judge, rnd=rnd, accepted=True, now=now)
            for entry_id, total in scores.items():
                judging.save_score(db.session, judge=judge, rnd=rnd, entry_id=entry_id,
                                   raw_values={criterion: total}, submit=True, now=now)
        judging.set_state(db.session, actor=self.organiser_a, rnd=rnd, state="closed", now=now)
        judging.set_state(db.session, actor=self.organiser_a, rnd=rnd, state="finalised", now=now)
        db.session.commit()

    def after_voting(self, contest: Contest) -> None:
        assert contest.voting_ends_at is not None
        self.clock.set(contest.voting_ends_at + timedelta(hours=1))

    def publish(self, contest: Contest) -> Publication:
        publication = results.request_publication(db.session, actor=self.organiser_a, contest=contest, now=self.clock.now())
        results.confirm_publication(db.session, actor=self.organiser_b, publication=publication, now=self.clock.now())
        db.session.commit()
        return publication


@pytest.fixture
def setup(app, clock, make_user) -> Setup:  # type: ignore[no-untyped-def]
    return Setup(clock, make_user)


def by_entry(publication: Publication) -> dict[int, dict[str, Any]]:
    return {row["entry_id"]: row for row in publication.rows}


def test_selection_mixes_30_percent_votes_and_70_percent_experts_counting_only_valid_votes(
    setup: Setup, make_contest: Any, make_entry: Any,
) -> None:
    contest = make_contest(kind="selection", stage="voting")
    a, b, c = (make_entry(contest, title=t) for t in ("甲", "乙", "丙"))
    # The formula is set before voting opens (the contest's windows put that in the past).
    assert contest.voting_starts_at is not None
    results.set_formula(db.session, actor=SYSTEM, contest=contest, now=contest.voting_starts_at - timedelta(hours=1), formula={
        "vote_weight": 30, "expert_weight": 70, "vote_scoring": "max", "expert_round": "expert",
        "awards": [{"name": "最美职校生", "count": 1}, {"name": "提名奖", "count": 1}]})
    db.session.commit()
    setup.votes(a, 4)
    setup.votes(b, 2)
    setup.votes(b, 1, verdict=Verdict(action="hold", score=80, reasons=("subnet_burst",)))  # stays held
    released = setup.votes(b, 1, verdict=Verdict(action="hold", score=80, reasons=("subnet_burst",)))
    voided = setup.votes(b, 1)
    voting.change_status(db.session, actor=setup.organiser_a, vote_ids=released, to="valid", reason="核实无误",
                         now=setup.clock.now())
    voting.change_status(db.session, actor=setup.organiser_a, vote_ids=voided, to="voided", reason="刷票",
                         now=setup.clock.now())
    db.session.commit()
    setup.finalised_round(contest, "expert", {a.id: 60, b.id: 80, c.id: 70})
    setup.after_voting(contest)

    rows = by_entry(setup.publish(contest))
    # Valid votes: 甲 4, 乙 2 + 1 released = 3 (one held, one voided), 丙 0. Max = 4.
    # 甲: 100 × 30% + 60 × 70% = 30 + 42 = 72
    # 乙: 75 × 30% + 80 × 70% = 22.5 + 56 = 78.5
    # 丙: 0 × 30% + 70 × 70% = 49
    assert [rows[e.id]["valid_votes"] for e in (a, b, c)] == [4, 3, 0]
    assert (rows[b.id]["held_votes"], rows[b.id]["voided_votes"]) == (1, 1)
    assert [rows[e.id]["vote_score"] for e in (a, b, c)] == [100, 75, 0]
    assert [rows[e.id]["final_score"] for e in (a, b, c)] == [72, 78.5, 49]
    assert [rows[e.id]["rank"] for e in (a, b, c)] == [2, 1, 3]
    assert [rows[e.id]["award"] for e in (a, b, c)] == ["提名奖", "最美职校生", None]


def test_media_jury_award_first_then_popularity_among_the_others(setup: Setup, make_contest: Any, make_entry: Any) -> None:
    contest = make_contest(kind="media", stage="voting", categories=())
    x, y, z = (make_entry(contest, title=t) for t in ("X", "Y", "Z"))
    assert contest.voting_starts_at is not None
    results.set_formula(db.session, actor=SYSTEM, contest=contest, now=contest.voting_starts_at - timedelta(hours=1), formula={
        "popular_award": {"name": "人气奖", "count": 1}, "jury_award": {"name": "评委奖", "count": 1},
        "jury_round": "jury", "exclusive": True, "per_category": False})
    setup.votes(x, 5)
    setup.votes(y, 3)
    setup.votes(z, 1)
    setup.votes(z, 4, verdict=Verdict(action="hold", score=90, reasons=("shared_device",)))  # held: not counted
    setup.finalised_round(contest, "jury", {x.id: 90, y.id: 70, z.id: 80})
    setup.after_voting(contest)
    rows = by_entry(setup.publish(contest))
    # 评委奖: X (90, the best jury score). 人气奖 goes down the votes among the others:
    # X 5 (already awarded), Y 3, Z 1 (+4 held, not counted) → Y.
    assert rows[x.id]["awards"] == ["评委奖"]
    assert rows[y.id]["awards"] == ["人气奖"]
    assert rows[z.id]["awards"] == [] and rows[z.id]["valid_votes"] == 1


def test_innovation_tiers_with_a_tie_sharing_the_better_award(setup: Setup, make_contest: Any, make_entry: Any) -> None:
    contest = make_contest(kind="innovation", stage="judging", categories=())
    p, q, r, s = (make_entry(contest, title=t) for t in ("P", "Q", "R", "S"))
    locks = results.locks_at(contest)
    assert locks is not None
    results.set_formula(db.session, actor=SYSTEM, contest=contest, now=locks - timedelta(hours=1), formula={
        "final_round": "final", "tiers": [{"name": "一等奖", "count": 1}, {"name": "二等奖", "count": 1},
                                          {"name": "三等奖", "count": 1}], "per_group": False})
    setup.finalised_round(contest, "final", {p.id: 91, q.id: 85.5, r.id: 85.5, s.id: 60})
    rows = by_entry(setup.publish(contest))
    # Q and R tie on every key: both are 2nd and both get 二等奖; the 三等奖 place they
    # took is gone, so S (4th) gets nothing.
    assert [rows[e.id]["rank"] for e in (p, q, r, s)] == [1, 2, 2, 4]
    assert [rows[e.id]["award"] for e in (p, q, r, s)] == ["一等奖", "二等奖", "二等奖", None]


def test_formula_locks_at_the_first_vote(setup: Setup, make_contest: Any, make_entry: Any) -> None:
    contest = make_contest(kind="selection", stage="voting")
    setup.votes(make_entry(contest), 1)
    formula = {"vote_weight": 40, "expert_weight": 60, "vote_scoring": "rank", "expert_round": "expert"}
    with pytest.raises(Conflict) as caught:
        results.set_formula(db.session, actor=setup.organiser_a, contest=contest, formula=formula, now=setup.clock.now())
    assert caught.value.code == "formula_locked"
    stored = results.set_formula(db.session, actor=setup.organiser_a, contest=contest, formula=formula,
                                 now=setup.clock.now(), override=True, reason="市教育局通知调整投票权重")
    history = results.formula_history(db.session, contest)
    assert history[-1].is_override and history[-1].fingerprint_after == stored.fingerprint
    assert history[-1].fingerprint_before != stored.fingerprint


def test_a_changed_vote_row_blocks_publication(setup: Setup, make_contest: Any, make_entry: Any) -> None:
    contest = make_contest(kind="media", stage="voting", categories=())
    entry = make_entry(contest)
    voided = setup.votes(entry, 2)
    voting.change_status(db.session, actor=setup.organiser_a, vote_ids=voided[:1], to="voided", reason="刷票",
                         now=setup.clock.now())
    db.session.commit()
    setup.finalised_round(contest, "jury", {entry.id: 80})
    setup.after_voting(contest)
    # Someone with database access turns the voided vote back into a valid one.
    db.session.execute(update(Vote).where(Vote.id == voided[0]).values(status="valid"))
    db.session.commit()
    with pytest.raises(Conflict) as caught:
        results.request_publication(db.session, actor=setup.organiser_a, contest=contest, now=setup.clock.now())
    assert caught.value.code == "not_ready" and "账本与投票表不一致" in caught.value.message
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Publication)) == 0


def test_publication_needs_a_second_organiser_and_final_needs_answers(
    setup: Setup, make_contest: Any, make_entry: Any, make_user: Any, app: Any,
) -> None:
    contest = make_contest(kind="innovation", stage="judging", categories=())
    entries = [make_entry(contest) for _ in range(2)]
    setup.finalised_round(contest, "final", {entries[0].id: 80, entries[1].id: 70})
    publication = results.request_publication(db.session, actor=setup.organiser_a, contest=contest, now=setup.clock.now())
    with pytest.raises(Forbidden) as caught:
        results.confirm_publication(db.session, actor=setup.organiser_a, publication=publication, now=setup.clock.now())
    assert caught.value.code == "second_organiser_required" and publication.state == "pending"
    assert results.current_publication(db.session, contest) is None
    results.confirm_publication(db.session, actor=setup.organiser_b, publication=publication, now=setup.clock.now())
    db.session.commit()

    citizen: User = make_user("citizen")
    objection = results.file_objection(db.session, user=citizen, contest=contest, entry_id=entries[0].id,
                                       subject="score", body="决赛评分与现场表现明显不符，请复核。",
                                       storage=app.extensions["storage"], now=setup.clock.now())
    db.session.commit()
    setup.clock.advance(days=6)
    with pytest.raises(Conflict) as caught:
        results.file_objection(db.session, user=make_user("citizen"), contest=contest, entry_id=None, subject="score",
                               body="公示结束之后才提交的异议内容。", storage=None, now=setup.clock.now())  # type: ignore[arg-type]
    assert caught.value.code == "publicity_over" and "公示期已于" in caught.value.message
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Objection)) == 1
    with pytest.raises(Conflict) as caught:
        results.finalise_publication(db.session, actor=setup.organiser_a, publication=publication, now=setup.clock.now())
    assert caught.value.code == "objections_open"
    results.answer_objection(db.session, actor=setup.organiser_b, objection=objection, outcome="rejected",
                             answer="经复核评分记录，评分程序合规。", now=setup.clock.now())
    results.finalise_publication(db.session, actor=setup.organiser_a, publication=publication, now=setup.clock.now())
    assert publication.state == "final"
