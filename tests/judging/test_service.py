"""The judging service: rounds and rubrics, panels and declarations, assignment with
conflicts, scoring rules, reopening, finalising, advancing and the live final."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from sqlalchemy import func, select

from contest.accounts.models import AuditEvent, User
from contest.contests.models import Contest, Entry, School, SchoolContact
from contest.errors import Conflict, Forbidden, InvalidInput
from contest.extensions import db
from contest.judging import service as judging
from contest.judging.models import Assignment, Round, Score

RUBRIC = [
    judging.CriterionFields("创新性", 30, 30, "理念与技术的新颖程度"),
    judging.CriterionFields("商业可行性", 25, 25),
    judging.CriterionFields("团队", 20, 20),
    judging.CriterionFields("社会价值", 15, 15),
    judging.CriterionFields("路演表现", 10, 10),
]


class World:
    def __init__(self, contest: Contest, rnd: Round, organiser: User, judges: list[User], entries: list[Entry],
                 schools: list[School], now: Any) -> None:
        self.contest, self.round, self.organiser, self.judges, self.entries = contest, rnd, organiser, judges, entries
        self.schools, self.now = schools, now

    def declare(self, *judges: User, conflicts: tuple[int, ...] = ()) -> None:
        for judge in judges or self.judges:
            judging.sign_declaration(db.session, judge=judge, rnd=self.round, conflict_entry_ids=conflicts,
                                     accepted=True, now=self.now)
        db.session.commit()

    def full(self, value: float) -> dict[str, float]:
        """Every criterion at `value` × its maximum."""
        return {str(c.id): round(c.maximum * value * 2) / 2 for c in self.round.criteria}

    def assigned(self, judge: User) -> list[int]:
        return sorted(db.session.scalars(select(Assignment.entry_id).where(
            Assignment.round_id == self.round.id, Assignment.judge_id == judge.id)))


@pytest.fixture
def world(app, clock, make_user, make_contest, make_entry, make_school) -> World:  # type: ignore[no-untyped-def]
    contest = make_contest(kind="innovation", stage="judging", categories=())
    schools = [make_school() for _ in range(3)]
    entries = [make_entry(contest, school=schools[i % 3], title=f"项目{i}") for i in range(6)]
    organiser = make_user("organiser")
    judges = [make_user("judge", name=f"评委{i}") for i in range(4)]
    now = clock.now()
    rnd = judging.create_round(db.session, actor=organiser, contest=contest, now=now, criteria=RUBRIC,
                               fields=judging.RoundFields(key="online", name="网评", judges_per_entry=2))
    judging.add_entries(db.session, actor=organiser, rnd=rnd, entry_ids=[e.id for e in entries], now=now)
    for judge in judges:
        judging.add_judge(db.session, actor=organiser, rnd=rnd, user=judge, now=now)
    db.session.commit()
    return World(contest, rnd, organiser, judges, entries, schools, now)


def open_round(w: World) -> None:
    judging.set_state(db.session, actor=w.organiser, rnd=w.round, state="open", now=w.now)
    db.session.commit()


def test_rubric_weights_must_sum_to_100_and_nothing_is_stored(world: World) -> None:
    bad = [judging.CriterionFields("创新性", 10, 50), judging.CriterionFields("团队", 10, 40)]
    with pytest.raises(InvalidInput, match="100"):
        judging.create_round(db.session, actor=world.organiser, contest=world.contest, now=world.now, criteria=bad,
                             fields=judging.RoundFields(key="final", name="决赛"))
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Round)) == 1


@pytest.mark.parametrize("criteria, code", [
    ([], "rubric_empty"),
    ([judging.CriterionFields("创新性", 0, 100)], "rubric_maximum"),
    ([judging.CriterionFields("创新性", 10, 50), judging.CriterionFields("创新性", 10, 50)], "rubric_name"),
])
def test_rubric_refusals(criteria: list[judging.CriterionFields], code: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        judging.check_rubric(criteria)
    assert caught.value.code == code


def test_score_total_is_weighted_by_the_rounds_rubric(world: World) -> None:
    criteria = world.round.criteria
    values = {c.id: c.maximum / 2 for c in criteria}
    values[criteria[0].id] = criteria[0].maximum  # 创新性 at full marks: 30 of its 30 points
    assert judging.score_total(world.round, values) == pytest.approx(30 + (100 - 30) / 2)
    assert judging.score_total(world.round, {c.id: c.maximum for c in criteria[1:]}) is None  # a criterion missing
    assert judging.score_total(world.round, {**values, criteria[0].id: criteria[0].maximum + 1}) is None  # out of range


def test_only_organisers_manage_rounds(world: World, make_user) -> None:  # type: ignore[no-untyped-def]
    citizen = make_user("citizen")
    for actor in (citizen, world.judges[0]):
        with pytest.raises(Forbidden):
            judging.create_round(db.session, actor=actor, contest=world.contest, now=world.now, criteria=RUBRIC,
                                 fields=judging.RoundFields(key="x", name="x"))
        with pytest.raises(Forbidden):
            judging.set_state(db.session, actor=actor, rnd=world.round, state="open", now=world.now)
        with pytest.raises(Forbidden):
            judging.compute_for(db.session, actor=actor, rnd=world.round)


def test_opening_assigns_k_conflict_free_judges_with_balanced_loads(world: World) -> None:
    # Judge 0 belongs to school 0: entries 0 and 3 are off limits for them.
    db.session.add(SchoolContact(user_id=world.judges[0].id, school_id=world.schools[0].id))
    db.session.commit()
    open_round(world)
    pairs = [(a.judge_id, a.entry_id) for a in judging.assignments(db.session, world.round)]
    per_entry = Counter(e for _j, e in pairs)
    assert all(per_entry[e.id] == 2 for e in world.entries)
    loads = Counter(j for j, _e in pairs)
    assert max(loads.values()) - min(loads.values()) <= 1
    assert not {(world.judges[0].id, world.entries[0].id), (world.judges[0].id, world.entries[3].id)} & set(pairs)
    sources = {c.source for c in judging.round_conflicts(db.session, world.round)}
    assert sources == {"affiliation"}


def test_shortfall_is_reported_plainly_when_k_cannot_be_met(world: World) -> None:
    world.round.judges_per_entry = 5
    db.session.commit()
    plan = judging.rebalance(db.session, actor=world.organiser, rnd=world.round, now=world.now)
    assert len(plan.shortfalls) == len(world.entries)
    assert all(s.assigned == 4 for s in plan.shortfalls)


def test_judge_sees_nothing_before_signing_the_declaration(world: World) -> None:
    open_round(world)
    judge = world.judges[0]
    with pytest.raises(Forbidden) as caught:
        judging.judge_queue(db.session, judge=judge, rnd=world.round)
    assert caught.value.code == "declaration_required"
    with pytest.raises(InvalidInput):
        judging.sign_declaration(db.session, judge=judge, rnd=world.round, accepted=False, now=world.now)


def test_declared_conflict_takes_the_judge_off_that_entry(world: World) -> None:
    open_round(world)
    judge = world.judges[1]
    target = world.assigned(judge)[0]
    world.declare(judge, conflicts=(target,))
    assert target not in world.assigned(judge)
    per_entry = Counter(a.entry_id for a in judging.assignments(db.session, world.round))
    assert per_entry[target] == 2


def test_judge_reads_and_writes_only_assigned_entries(world: World, make_user) -> None:  # type: ignore[no-untyped-def]
    open_round(world)
    world.declare()
    judge = world.judges[0]
    mine = world.assigned(judge)
    other = next(e.id for e in world.entries if e.id not in mine)
    with pytest.raises(Forbidden):
        judging.entry_for_judge(db.session, judge=judge, rnd=world.round, entry_id=other)
    with pytest.raises(Forbidden):
        judging.save_score(db.session, judge=judge, rnd=world.round, entry_id=other, raw_values=world.full(0.5),
                           submit=True, now=world.now)
    citizen = make_user("citizen")
    with pytest.raises(Forbidden):
        judging.judge_queue(db.session, judge=citizen, rnd=world.round)
    outsider = make_user("judge")
    with pytest.raises(Forbidden):
        judging.judge_queue(db.session, judge=outsider, rnd=world.round)
    items = judging.judge_queue(db.session, judge=judge, rnd=world.round)
    assert [i.entry.id for i in items] == mine


@pytest.mark.parametrize("change, code", [
    (lambda values, ids: values.update({ids[0]: "31"}), "out_of_range"),
    (lambda values, ids: values.update({ids[0]: "-1"}), "out_of_range"),
    (lambda values, ids: values.update({ids[0]: "12.3"}), "off_step"),
    (lambda values, ids: values.update({ids[0]: "abc"}), "not_a_number"),
    (lambda values, ids: values.update({ids[0]: "nan"}), "out_of_range"),
    (lambda values, ids: values.pop(ids[1]), "missing_criterion"),
    (lambda values, ids: values.update({"999999": "1"}), "unknown_criterion"),
])
def test_bad_scores_are_refused_and_nothing_is_stored(world: World, change: Any, code: str) -> None:
    open_round(world)
    world.declare()
    judge = world.judges[0]
    entry_id = world.assigned(judge)[0]
    values: dict[str, Any] = {k: str(v) for k, v in world.full(0.5).items()}
    change(values, [str(c.id) for c in world.round.criteria])
    with pytest.raises(InvalidInput) as caught:
        judging.save_score(db.session, judge=judge, rnd=world.round, entry_id=entry_id, raw_values=values,
                           submit=True, now=world.now)
    assert caught.value.code == code
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Score)) == 0


def test_draft_then_submit_locks_and_only_an_organiser_reopens_with_a_reason(world: World) -> None:
    open_round(world)
    world.declare()
    judge = world.judges[0]
    entry_id = world.assigned(judge)[0]
    partial = {str(world.round.criteria[0].id): "20"}
    score = judging.save_score(db.session, judge=judge, rnd=world.round, entry_id=entry_id, raw_values=partial,
                               comment="初步印象", submit=False, now=world.now)
    assert score.status == "draft"
    judging.save_score(db.session, judge=judge, rnd=world.round, entry_id=entry_id, raw_values=world.full(0.8),
                       submit=True, now=world.now)
    db.session.commit()
    with pytest.raises(Conflict) as caught:
        judging.save_score(db.session, judge=judge, rnd=world.round, entry_id=entry_id, raw_values=world.full(0.1),
                           submit=True, now=world.now)
    assert caught.value.code == "score_locked"
    db.session.rollback()
    with pytest.raises(Forbidden):
        judging.reopen_score(db.session, actor=judge, score=score, reason="想改", now=world.now)
    with pytest.raises(InvalidInput):
        judging.reopen_score(db.session, actor=world.organiser, score=score, reason=" ", now=world.now)
    judging.reopen_score(db.session, actor=world.organiser, score=score, reason="评委误填路演分", now=world.now)
    db.session.commit()
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "score.reopen"))
    assert event is not None and event.after == {"status": "draft", "reason": "评委误填路演分"}
    judging.save_score(db.session, judge=judge, rnd=world.round, entry_id=entry_id, raw_values=world.full(0.6),
                       submit=True, now=world.now)


def test_no_submission_in_a_closed_round(world: World) -> None:
    open_round(world)
    world.declare()
    judging.set_state(db.session, actor=world.organiser, rnd=world.round, state="closed", now=world.now)
    db.session.commit()
    judge = world.judges[0]
    with pytest.raises(Conflict) as caught:
        judging.save_score(db.session, judge=judge, rnd=world.round, entry_id=world.assigned(judge)[0],
                           raw_values=world.full(0.5), submit=True, now=world.now)
    assert caught.value.code == "round_closed"


def score_everything(w: World, value_of: Any) -> None:
    for judge in w.judges:
        for entry_id in w.assigned(judge):
            judging.save_score(db.session, judge=judge, rnd=w.round, entry_id=entry_id,
                               raw_values=w.full(value_of(judge, entry_id)), submit=True, now=w.now)
    db.session.commit()


def test_aggregate_hidden_from_judges_until_the_round_closes(world: World) -> None:
    open_round(world)
    world.declare()
    score_everything(world, lambda judge, entry_id: 0.5)
    with pytest.raises(Forbidden) as caught:
        judging.visible_result(db.session, viewer=world.judges[0], rnd=world.round)
    assert caught.value.code == "aggregate_hidden"
    assert judging.visible_result(db.session, viewer=world.organiser, rnd=world.round).entries
    judging.set_state(db.session, actor=world.organiser, rnd=world.round, state="closed", now=world.now)
    assert judging.visible_result(db.session, viewer=world.judges[0], rnd=world.round).entries


def test_finalise_needs_every_score_and_results_need_a_final_round(world: World) -> None:
    open_round(world)
    world.declare()
    judging.set_state(db.session, actor=world.organiser, rnd=world.round, state="closed", now=world.now)
    with pytest.raises(Conflict, match="12"):
        judging.set_state(db.session, actor=world.organiser, rnd=world.round, state="finalised", now=world.now)
    with pytest.raises(Conflict):
        judging.final_scores(db.session, world.round)
    judging.set_state(db.session, actor=world.organiser, rnd=world.round, state="open", now=world.now)
    score_everything(world, lambda judge, entry_id: 0.5 + 0.05 * (entry_id % 5))
    judging.set_state(db.session, actor=world.organiser, rnd=world.round, state="closed", now=world.now)
    judging.set_state(db.session, actor=world.organiser, rnd=world.round, state="finalised", now=world.now)
    db.session.commit()
    scores = judging.final_scores(db.session, world.round)
    assert set(scores) == {e.id for e in world.entries}
    best = max(scores.values(), key=lambda s: s.score or 0)
    assert best.rank == 1


def test_withdrawn_judge_keeps_scores_and_others_take_the_rest(world: World) -> None:
    open_round(world)
    world.declare()
    leaving = world.judges[0]
    mine = world.assigned(leaving)
    judging.save_score(db.session, judge=leaving, rnd=world.round, entry_id=mine[0], raw_values=world.full(0.7),
                       submit=True, now=world.now)
    db.session.commit()
    plan = judging.withdraw_judge(db.session, actor=world.organiser, rnd=world.round, judge_id=leaving.id,
                                  reason="临时出差", now=world.now)
    db.session.commit()
    assert plan is not None and not plan.shortfalls
    assert world.assigned(leaving) == [mine[0]]
    per_entry = Counter(a.entry_id for a in judging.assignments(db.session, world.round))
    assert all(per_entry[e.id] == 2 for e in world.entries)
    assert db.session.scalar(select(func.count()).select_from(Score)) == 1


def test_pin_and_unassign_by_hand(world: World) -> None:
    open_round(world)
    world.declare()
    judge = world.judges[2]
    free = next(e.id for e in world.entries if e.id not in world.assigned(judge))
    judging.pin(db.session, actor=world.organiser, rnd=world.round, judge_id=judge.id, entry_id=free, now=world.now)
    judging.rebalance(db.session, actor=world.organiser, rnd=world.round, now=world.now)
    assert free in world.assigned(judge)
    other = world.assigned(judge)[0] if world.assigned(judge)[0] != free else world.assigned(judge)[1]
    judging.unassign(db.session, actor=world.organiser, rnd=world.round, judge_id=judge.id, entry_id=other,
                     reason="与团队有合作", now=world.now)
    judging.rebalance(db.session, actor=world.organiser, rnd=world.round, now=world.now)
    db.session.commit()
    assert other not in world.assigned(judge)
    judging.save_score(db.session, judge=judge, rnd=world.round, entry_id=free, raw_values=world.full(0.5),
                       submit=False, now=world.now)
    with pytest.raises(Conflict):
        judging.unassign(db.session, actor=world.organiser, rnd=world.round, judge_id=judge.id, entry_id=free,
                         reason="x", now=world.now)
    with pytest.raises(Conflict) as caught:
        judging.pin(db.session, actor=world.organiser, rnd=world.round, judge_id=judge.id, entry_id=other, now=world.now)
    assert caught.value.code == "conflicted"


def test_advance_top_n_into_the_next_round(world: World) -> None:
    open_round(world)
    world.declare()
    order = {e.id: i for i, e in enumerate(world.entries)}
    score_everything(world, lambda judge, entry_id: 0.4 + 0.1 * order[entry_id])
    for state in ("closed", "finalised"):
        judging.set_state(db.session, actor=world.organiser, rnd=world.round, state=state, now=world.now)
    final = judging.create_round(db.session, actor=world.organiser, contest=world.contest, now=world.now,
                                 criteria=RUBRIC, fields=judging.RoundFields(key="final", name="决赛", kind="live",
                                                                            judges_per_entry=3, position=1))
    result = judging.compute(db.session, world.round)
    preview = dict(judging.advance_preview(result, [60, 80]))
    assert preview[60] == 4
    added = judging.advance(db.session, actor=world.organiser, rnd=world.round, target=final, top_n=3, now=world.now)
    db.session.commit()
    assert added == 3
    assert {e.id for e in judging.round_entries(db.session, final)} == {e.id for e in world.entries[-3:]}
    assert preview[80] == 2


def test_live_final_shows_the_result_only_when_every_judge_has_submitted(world: World, make_user) -> None:  # type: ignore[no-untyped-def]
    more = [make_user("judge") for _ in range(1)]
    rnd = judging.create_round(db.session, actor=world.organiser, contest=world.contest, now=world.now, criteria=RUBRIC,
                               fields=judging.RoundFields(key="final", name="决赛路演", kind="live", judges_per_entry=5,
                                                                  score_step=0.25))
    entry = world.entries[0]
    judging.add_entries(db.session, actor=world.organiser, rnd=rnd, entry_ids=[entry.id, world.entries[1].id], now=world.now)
    for judge in world.judges + more:
        judging.add_judge(db.session, actor=world.organiser, rnd=rnd, user=judge, now=world.now)
    judging.set_state(db.session, actor=world.organiser, rnd=rnd, state="open", now=world.now)
    panel = world.judges + more
    for judge in panel:
        judging.sign_declaration(db.session, judge=judge, rnd=rnd, accepted=True, now=world.now)
    # Scoring before the entry is on stage is refused.
    with pytest.raises(Conflict) as caught:
        judging.save_score(db.session, judge=panel[0], rnd=rnd, entry_id=entry.id,
                           raw_values={str(c.id): c.maximum for c in rnd.criteria}, submit=True, now=world.now)
    assert caught.value.code == "not_on_stage"
    judging.set_live_entry(db.session, actor=world.organiser, rnd=rnd, entry_id=entry.id, now=world.now)
    totals = [90, 80, 85, 70, 95]
    for judge, total in zip(panel, totals, strict=True):
        values = {str(c.id): c.maximum * total / 100 for c in rnd.criteria}
        board = judging.live_board(db.session, rnd)
        assert board.current is not None and board.current.mean is None
        judging.save_score(db.session, judge=judge, rnd=rnd, entry_id=entry.id, raw_values=values, submit=True, now=world.now)
    board = judging.live_board(db.session, rnd)
    assert board.current is not None
    assert (board.current.dropped_high, board.current.dropped_low) == (95, 70)
    assert board.current.mean == pytest.approx(85.0)
    assert [line.entry.id for line in board.ranking] == [entry.id]


def test_invite_is_single_use_and_expires(world: World, make_user, clock) -> None:  # type: ignore[no-untyped-def]
    invite, token = judging.create_invite(db.session, actor=world.organiser, rnd=world.round, name="王教授",
                                          organisation="山东大学", now=world.now)
    db.session.commit()
    user = make_user("citizen")
    member = judging.accept_invite(db.session, token=token, user=user, now=world.now)
    db.session.commit()
    assert member.status == "active" and user.has_role("judge")
    with pytest.raises(Conflict) as caught:
        judging.accept_invite(db.session, token=token, user=make_user("citizen"), now=world.now)
    assert caught.value.code == "invite_used"
    _old, token2 = judging.create_invite(db.session, actor=world.organiser, rnd=world.round, name="李老师", now=world.now)
    db.session.commit()
    from datetime import timedelta
    with pytest.raises(Conflict) as caught:
        judging.accept_invite(db.session, token=token2, user=make_user("citizen"), now=world.now + timedelta(days=8))
    assert caught.value.code == "invite_expired"
