"""Who may change an entry after it was sent: a school's contacts act only on the entries
their school submitted (nominations, teams), never on a citizen's entry that names the
school; withdrawing is open to the school's contacts until voting or judging starts, then
only to the submitting account, and to nobody once results are published."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from contest.accounts.models import User
from contest.contests.models import Contest, Entry, School
from contest.extensions import db
from tests.conftest import csrf_token
from tests.media.conftest import add_contact, page, sign_in

NOT_FOUND = "没有找到这件作品。"
NOT_SUBMITTER = "投票或评审开始后，只有提交这件作品的账号可以撤回。"
RESULTS_OUT = "本活动已公布结果，作品不能再撤回；如有特殊情况，请联系主办方。"


def _entry(make_entry: Callable[..., Entry], contest: Contest, by: User, school: School | None = None,
           status: str = "submitted", **kwargs: Any) -> Entry:
    entry = make_entry(contest, status=status, school=school, **kwargs)
    entry.submitted_by_id = by.id
    db.session.commit()
    return entry


def _withdraw(client: Any, entry: Entry) -> Any:
    return client.post(f"/me/entries/{entry.id}/withdraw", data={"csrf_token": csrf_token(client, "/me/entries")})


def _status(entry: Entry) -> str:
    db.session.rollback()
    return db.session.get(Entry, entry.id).status


@pytest.fixture
def contact_client(app: Any, client: Any, make_user: Callable[..., User], school: School) -> Any:
    """A signed-in contact of `school` (client)."""
    user = make_user("school_contact", name="钱老师")
    add_contact(user, school)
    sign_in(client, user)
    return client


def test_a_contact_cannot_touch_a_citizens_entry_that_names_the_school(contact_client, make_user, make_entry,
                                                                       make_contest, school):
    contest = make_contest(kind="media", stage="submission")
    entry = _entry(make_entry, contest, make_user(), school)
    assert f"/me/entries/{entry.id}" not in page(contact_client.get("/me/entries"))
    assert contact_client.get(f"/me/entries/{entry.id}/edit").status_code == 404
    response = contact_client.post(f"/me/entries/{entry.id}/edit", data={
        "csrf_token": csrf_token(contact_client, "/me/entries"), "title": "改掉", "description": ""})
    assert response.status_code == 404 and NOT_FOUND in page(response)
    response = _withdraw(contact_client, entry)
    assert response.status_code == 404 and NOT_FOUND in page(response)
    assert _status(entry) == "submitted"
    assert db.session.get(Entry, entry.id).title != "改掉"


@pytest.mark.parametrize("stage", ["submission", "review"])
def test_any_contact_of_the_school_may_withdraw_its_nomination_before_voting(contact_client, make_user, make_entry,
                                                                             make_contest, school, stage):
    contest = make_contest(kind="selection", stage=stage)
    other_contact = make_user("school_contact")
    entry = _entry(make_entry, contest, other_contact, school, nominee="李小燕")
    assert f"/me/entries/{entry.id}/withdraw" in page(contact_client.get("/me/entries"))
    assert _withdraw(contact_client, entry).status_code == 302
    assert _status(entry) == "withdrawn"


@pytest.mark.parametrize("stage", ["voting", "judging"])
def test_once_voting_or_judging_started_only_the_submitter_may_withdraw(app, contact_client, make_user, make_entry,
                                                                         make_contest, school, stage):
    contest = make_contest(kind="selection", stage=stage)
    nominator = make_user("school_contact")
    add_contact(nominator, school)
    entry = _entry(make_entry, contest, nominator, school, status="approved", nominee="李小燕")
    assert f"/me/entries/{entry.id}/withdraw" not in page(contact_client.get("/me/entries"))
    response = _withdraw(contact_client, entry)
    assert response.status_code == 403
    assert NOT_SUBMITTER in page(response)
    assert _status(entry) == "approved"

    own = app.test_client()
    sign_in(own, nominator)
    assert f"/me/entries/{entry.id}/withdraw" in page(own.get("/me/entries"))
    assert _withdraw(own, entry).status_code == 302
    assert _status(entry) == "withdrawn"


@pytest.mark.parametrize("stage", ["publicity", "closed"])
def test_nobody_withdraws_once_results_are_published(client, citizen, make_entry, make_contest, stage):
    contest = make_contest(kind="media", stage=stage)
    entry = _entry(make_entry, contest, citizen, status="approved")
    assert f"/me/entries/{entry.id}/withdraw" not in page(client.get("/me/entries"))
    response = _withdraw(client, entry)
    assert response.status_code == 409
    assert RESULTS_OUT in page(response)
    assert _status(entry) == "approved"


def test_a_citizen_may_withdraw_their_own_entry_during_voting(client, citizen, make_entry, make_contest):
    contest = make_contest(kind="media", stage="voting")
    entry = _entry(make_entry, contest, citizen, status="approved")
    assert _withdraw(client, entry).status_code == 302
    assert _status(entry) == "withdrawn"


def test_a_contact_may_edit_the_schools_nomination_during_submission_only(contact_client, make_user, make_entry,
                                                                         make_contest, school, clock):
    contest = make_contest(kind="selection", stage="submission")
    entry = _entry(make_entry, contest, make_user("school_contact"), school, nominee="李小燕")
    url = f"/me/entries/{entry.id}/edit"
    token = csrf_token(contact_client, url)
    assert contact_client.post(url, data={"csrf_token": token, "title": "新的推荐标题", "description": ""}).status_code == 302
    clock.advance(days=10)
    response = contact_client.post(url, data={"csrf_token": token, "title": "再改一次", "description": ""})
    assert response.status_code == 403
    assert "本活动当前不在作品征集期，不能提交或修改作品。" in page(response)
    db.session.rollback()
    assert db.session.get(Entry, entry.id).title == "新的推荐标题"
