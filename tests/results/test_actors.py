"""Results operations an organiser or SYSTEM may perform refuse None (what a signed-out
visitor would be); the second organiser's confirmation is always a person."""

from __future__ import annotations

from typing import Any

import pytest

from contest.accounts.actors import SYSTEM
from contest.errors import Forbidden
from contest.extensions import db
from contest.results import service as results
from contest.results.models import Objection, Publication
from tests.results.test_service import Setup

REFUSED = "您没有权限进行此操作。"


@pytest.fixture
def pending(app: Any, clock: Any, make_user: Any, make_contest: Any, make_entry: Any) -> tuple[Setup, Publication]:
    setup = Setup(clock, make_user)
    contest = make_contest(kind="innovation", stage="judging", categories=())
    entries = [make_entry(contest) for _ in range(2)]
    setup.finalised_round(contest, "final", {entries[0].id: 80, entries[1].id: 70})
    publication = results.request_publication(db.session, actor=SYSTEM, contest=contest, now=clock.now())
    db.session.commit()
    return setup, publication


def test_none_is_refused_by_every_step(pending: tuple[Setup, Publication], clock: Any) -> None:
    setup, publication = pending
    now, contest = clock.now(), publication.contest
    steps = [
        lambda: results.set_formula(db.session, actor=None, contest=contest, formula={}, now=now),
        lambda: results.request_publication(db.session, actor=None, contest=contest, now=now),
        lambda: results.confirm_publication(db.session, actor=None, publication=publication, now=now),
        lambda: results.cancel_publication(db.session, actor=None, publication=publication, now=now),
        lambda: results.finalise_publication(db.session, actor=None, publication=publication, now=now),
        lambda: results.answer_objection(db.session, actor=None, objection=Objection(), answer="经复核无误。",
                                         outcome="rejected", now=now),
    ]
    for step in steps:
        with pytest.raises(Forbidden) as refused:
            step()
        assert refused.value.message == REFUSED
        db.session.rollback()
    assert publication.state == "pending"


def test_the_system_requests_but_a_person_confirms(pending: tuple[Setup, Publication], clock: Any) -> None:
    setup, publication = pending
    assert publication.requested_by_id is None
    with pytest.raises(Forbidden) as refused:
        results.confirm_publication(db.session, actor=SYSTEM, publication=publication, now=clock.now())  # type: ignore[arg-type]
    assert refused.value.message == REFUSED and publication.state == "pending"
    results.confirm_publication(db.session, actor=setup.organiser_a, publication=publication, now=clock.now())
    db.session.commit()
    assert publication.state == "publicity" and publication.confirmed_by_id == setup.organiser_a.id
