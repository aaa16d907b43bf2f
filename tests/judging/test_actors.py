"""Who may manage judging: an organiser or admin, or SYSTEM (the demo, the command line,
a judge's accepted invitation). None, what a signed-out visitor would be, is refused by
every operation that lets the system act, before anything changes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from contest.accounts.actors import SYSTEM
from contest.accounts.models import AuditEvent, User
from contest.errors import Forbidden
from contest.extensions import db
from contest.judging import service as judging
from contest.judging.models import Round, Score

RUBRIC = [judging.CriterionFields("综合", 100, 100)]
FIELDS = judging.RoundFields(key="online", name="网评", judges_per_entry=1)


class World:
    def __init__(self, rnd: Round, judge: User, entry_id: int, now: Any) -> None:
        self.round, self.judge, self.entry_id, self.now = rnd, judge, entry_id, now


@pytest.fixture
def world(app, clock, make_user, make_contest, make_entry) -> World:  # type: ignore[no-untyped-def]
    contest = make_contest(kind="innovation", stage="judging", categories=())
    entry = make_entry(contest)
    judge = make_user("judge")
    rnd = judging.create_round(db.session, actor=SYSTEM, contest=contest, now=clock.now(), criteria=RUBRIC, fields=FIELDS)
    judging.add_entries(db.session, actor=SYSTEM, rnd=rnd, entry_ids=[entry.id], now=clock.now())
    judging.add_judge(db.session, actor=SYSTEM, rnd=rnd, user=judge, now=clock.now())
    db.session.commit()
    return World(rnd, judge, entry.id, clock.now())


Operation = Callable[[Any, World], object]

OPERATIONS: dict[str, Operation] = {
    "create_round": lambda actor, w: judging.create_round(
        db.session, actor=actor, contest=w.round.contest, fields=judging.RoundFields(key="final", name="决赛"),
        criteria=RUBRIC, now=w.now),
    "update_round": lambda actor, w: judging.update_round(db.session, actor=actor, rnd=w.round, fields=FIELDS,
                                                          criteria=None, now=w.now),
    "set_state": lambda actor, w: judging.set_state(db.session, actor=actor, rnd=w.round, state="open", now=w.now),
    "add_entries": lambda actor, w: judging.add_entries(db.session, actor=actor, rnd=w.round, entry_ids=[w.entry_id],
                                                        now=w.now),
    "add_judge": lambda actor, w: judging.add_judge(db.session, actor=actor, rnd=w.round, user=w.judge, now=w.now),
    "withdraw_judge": lambda actor, w: judging.withdraw_judge(db.session, actor=actor, rnd=w.round, judge_id=w.judge.id,
                                                              reason="临时有事", now=w.now),
    "create_invite": lambda actor, w: judging.create_invite(db.session, actor=actor, rnd=w.round, name="周教授", now=w.now),
    "set_profile": lambda actor, w: judging.set_profile(db.session, actor=actor, user=w.judge, organisation="山东大学",
                                                        title="教授", school_id=None, now=w.now),
    "rebalance": lambda actor, w: judging.rebalance(db.session, actor=actor, rnd=w.round, now=w.now),
    "pin": lambda actor, w: judging.pin(db.session, actor=actor, rnd=w.round, judge_id=w.judge.id, entry_id=w.entry_id,
                                        now=w.now),
    "unassign": lambda actor, w: judging.unassign(db.session, actor=actor, rnd=w.round, judge_id=w.judge.id,
                                                  entry_id=w.entry_id, reason="回避", now=w.now),
    "reopen_score": lambda actor, w: judging.reopen_score(db.session, actor=actor, score=Score(), reason="请复核",
                                                          now=w.now),
    "advance": lambda actor, w: judging.advance(db.session, actor=actor, rnd=w.round, target=w.round, top_n=1, now=w.now),
    "set_live_entry": lambda actor, w: judging.set_live_entry(db.session, actor=actor, rnd=w.round, entry_id=None,
                                                              now=w.now),
    "compute_for": lambda actor, w: judging.compute_for(db.session, actor=actor, rnd=w.round),
}


def _audit_rows() -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEvent)) or 0


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_none_and_a_citizen_are_refused_before_anything_changes(world: World, make_user: Any, name: str) -> None:
    before = _audit_rows()
    for actor in (None, make_user("citizen")):
        with pytest.raises(Forbidden) as refused:
            OPERATIONS[name](actor, world)
        assert refused.value.message == "您没有权限进行此操作。"
        db.session.rollback()
    assert _audit_rows() == before
    assert db.session.scalar(select(func.count()).select_from(Round)) == 1


def test_compute_for_is_for_organisers_not_the_system(world: World, make_user: Any) -> None:
    with pytest.raises(Forbidden):
        judging.compute_for(db.session, actor=SYSTEM, rnd=world.round)  # type: ignore[arg-type]
    assert judging.compute_for(db.session, actor=make_user("organiser"), rnd=world.round).entries


def test_the_system_acts_and_its_audit_rows_name_no_one(world: World) -> None:
    judging.set_state(db.session, actor=SYSTEM, rnd=world.round, state="open", now=world.now)
    invite, _token = judging.create_invite(db.session, actor=SYSTEM, rnd=world.round, name="周教授", now=world.now)
    db.session.commit()
    assert world.round.state == "open" and invite.created_by_id is None
    rows = list(db.session.scalars(select(AuditEvent).where(AuditEvent.target_type == "round")))
    assert {r.action for r in rows} >= {"round.create", "round.entries", "round.judge_add", "round.assign",
                                        "round.open", "judge.invite"}
    assert {r.actor_id for r in rows} == {None}


def test_an_accepted_invitation_grants_the_judge_role_as_the_system(world: World, make_user: Any) -> None:
    _invite, token = judging.create_invite(db.session, actor=SYSTEM, rnd=world.round, name="周教授", now=world.now)
    citizen = make_user("citizen")
    judging.accept_invite(db.session, token=token, user=citizen, now=world.now)
    db.session.commit()
    assert citizen.has_role("judge")
    granted = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "user.roles")).one()
    accepted = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "judge.invite_accept")).one()
    assert granted.actor_id is None and accepted.actor_id == citizen.id
