"""The result formula locks at the first thing it will be applied to: the first vote cast,
or the first score a judge submits (only a score, for 黄炎培, which has no public vote).
Never at creation: a contest set up with its voting already open stays editable until
then. The organisers' formula page says exactly that, in the words of the contest's kind."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from contest.contests.models import Contest
from contest.errors import Conflict
from contest.extensions import db
from contest.judging import service as judging
from contest.results import service as results
from tests.conftest import sign_in_id

from .test_service import ONE_LINE, Setup

SELECTION = {"vote_weight": 40, "expert_weight": 60, "vote_scoring": "rank", "expert_round": "expert"}
INNOVATION = {"final_round": "final", "tiers": [{"name": "一等奖", "count": 1}], "per_group": False}


@pytest.fixture
def setup(app, clock, make_user) -> Setup:  # type: ignore[no-untyped-def]
    return Setup(clock, make_user)


def _page(client: FlaskClient, setup: Setup, contest: Contest) -> str:
    with client.session_transaction() as session:
        session["_user_id"] = sign_in_id(setup.organiser_a)
        session["_fresh"] = True
    response = client.get(f"/admin/results/{contest.slug}/formula")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    start = html.index('id="formula-lock-note"')
    return html[start:html.index("</p>", start)]


def _one_score(setup: Setup, contest: Contest, entry_id: int) -> None:
    """One judge submits one score in an open round: the judging has begun."""
    now = setup.clock.now()
    rnd = judging.create_round(db.session, actor=setup.organiser_a, contest=contest, now=now, criteria=ONE_LINE,
                               fields=judging.RoundFields(key="final", name="决赛", judges_per_entry=1, aggregation="mean"))
    judging.add_entries(db.session, actor=setup.organiser_a, rnd=rnd, entry_ids=[entry_id], now=now)
    judge = setup.judges[0]
    judging.add_judge(db.session, actor=setup.organiser_a, rnd=rnd, user=judge, now=now)
    judging.set_state(db.session, actor=setup.organiser_a, rnd=rnd, state="open", now=now)
    judging.sign_declaration(db.session, judge=judge, rnd=rnd, accepted=True, now=now)
    judging.save_score(db.session, judge=judge, rnd=rnd, entry_id=entry_id, raw_values={str(rnd.criteria[0].id): 80},
                       submit=True, now=now)
    db.session.commit()


def test_a_contest_created_with_voting_open_is_editable_until_the_first_vote(
        client: FlaskClient, setup: Setup, make_contest: Any, make_entry: Any) -> None:
    contest = make_contest(kind="selection", stage="voting")
    opens = results.locks_at(contest)
    assert opens is not None and opens < setup.clock.now()  # the window opened before anyone could set it
    lock = results.formula_lock(db.session, contest, setup.clock.now())
    assert (lock.locked, lock.public_vote) == (False, True)
    assert "公式在投出第一票或第一位评委提交评分时锁定（以先到者为准），此前可以自由修改。" in _page(client, setup, contest)

    results.set_formula(db.session, actor=setup.organiser_a, contest=contest, formula=SELECTION, now=setup.clock.now())
    db.session.commit()
    [change] = results.formula_history(db.session, contest)
    assert not change.is_override

    setup.votes(make_entry(contest), 1)
    lock = results.formula_lock(db.session, contest, setup.clock.now())
    assert (lock.locked, lock.locked_by, lock.locked_at) == (True, "vote", setup.clock.now())
    # as of a moment before that vote, it was not yet locked
    assert not results.formula_lock(db.session, contest, setup.clock.now() - timedelta(seconds=1)).locked
    with pytest.raises(Conflict) as caught:
        results.set_formula(db.session, actor=setup.organiser_a, contest=contest, now=setup.clock.now(),
                            formula={**SELECTION, "vote_weight": 30, "expert_weight": 70})
    assert caught.value.code == "formula_locked"
    assert caught.value.message.startswith("已经有人投票，计分公式已锁定；")
    assert "投出了第一票，公式已锁定。" in _page(client, setup, contest)


def test_a_first_expert_score_locks_a_contest_with_a_vote_too(setup: Setup, make_contest: Any, make_entry: Any) -> None:
    contest = make_contest(kind="selection", stage="voting")
    _one_score(setup, contest, make_entry(contest).id)
    lock = results.formula_lock(db.session, contest, setup.clock.now())
    assert (lock.locked, lock.locked_by) == (True, "score")


def test_innovation_locks_at_the_first_score_and_never_speaks_of_a_vote(
        client: FlaskClient, setup: Setup, make_contest: Any, make_entry: Any) -> None:
    contest = make_contest(kind="innovation", stage="judging", categories=())
    entry = make_entry(contest)
    note = _page(client, setup, contest)
    assert "本活动没有公众投票：公式在第一位评委提交评分时锁定，此前可以自由修改。" in note
    assert "评审" in note and "投票开始" not in note and "投出" not in note
    results.set_formula(db.session, actor=setup.organiser_a, contest=contest, formula=INNOVATION, now=setup.clock.now())
    db.session.commit()

    _one_score(setup, contest, entry.id)
    lock = results.formula_lock(db.session, contest, setup.clock.now())
    assert (lock.locked, lock.locked_by, lock.public_vote) == (True, "score", False)
    with pytest.raises(Conflict) as caught:
        results.set_formula(db.session, actor=setup.organiser_a, contest=contest, now=setup.clock.now(),
                            formula={**INNOVATION, "per_group": True})
    assert caught.value.message.startswith("已经有评委提交评分，计分公式已锁定；")
    note = _page(client, setup, contest)
    assert "第一位评委提交了评分，公式已锁定。" in note and "投票" not in note
    stored = results.set_formula(db.session, actor=setup.organiser_a, contest=contest, now=setup.clock.now(),
                                 formula={**INNOVATION, "per_group": True}, override=True, reason="按组别分别评奖")
    assert results.formula_history(db.session, contest)[-1].is_override and stored.formula["per_group"] is True
