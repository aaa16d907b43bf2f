"""Organisers' edits of contests and schools: SYSTEM (the command line, the demo) may
make them; None, what a signed-out visitor would be, is refused before anything changes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from contest.accounts.actors import SYSTEM
from contest.accounts.models import AuditEvent
from contest.contests import service as contests
from contest.contests.models import Contest
from contest.errors import Forbidden
from contest.extensions import db

OPERATIONS: dict[str, Callable[[Any, Contest, Any], object]] = {
    "create_contest": lambda actor, contest, now: contests.create_contest(
        db.session, actor=actor, now=now, changes=contests.ContestChanges(slug="another-contest", kind="media",
                                                                         title="另一项活动", unit_id=contest.unit_id)),
    "set_rules": lambda actor, contest, now: contests.set_rules(db.session, actor=actor, contest=contest,
                                                               values={"votes_per_day": 3}, now=now),
    "add_category": lambda actor, contest, now: contests.add_category(db.session, actor=actor, contest=contest,
                                                                     kind="category", name="微电影", now=now),
    "save_school": lambda actor, contest, now: contests.save_school(db.session, actor=actor, school=None, name="新学校",
                                                                   district="历下区", level="中职", enrolment=100, now=now),
}


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_none_is_refused_and_the_system_acts_without_a_name(name: str, make_contest: Any, make_user: Any, clock: Any) -> None:
    contest = make_contest()
    before = db.session.scalar(select(func.count()).select_from(AuditEvent))
    for actor in (None, make_user("citizen")):
        with pytest.raises(Forbidden) as refused:
            OPERATIONS[name](actor, contest, clock.now())
        assert refused.value.message == "您没有权限进行此操作。"
        db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == before

    OPERATIONS[name](SYSTEM, contest, clock.now())
    db.session.commit()
    latest = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).one()
    assert latest.actor_id is None


def test_unlinking_a_former_contact_refuses_none(make_user: Any, clock: Any) -> None:
    former = make_user("citizen")
    with pytest.raises(Forbidden):
        contests.unlink_former_contact(db.session, actor=None, user=former, now=clock.now())  # type: ignore[arg-type]
    assert contests.unlink_former_contact(db.session, actor=SYSTEM, user=former, now=clock.now()) == []
