"""Who may change an entry after it was sent: a school's contacts act only on the entries
their school submitted (nominations, teams), and only while they hold the school_contact
role, never on a citizen's entry that names the school; withdrawing is open to the
school's contacts until voting or judging starts (by the contest's windows, or for the
entry itself: in a judging round past its draft, scored or voted for); from then on,
results published included, withdrawing is a request, with a reason, that an organiser
approves or declines (media.withdrawals)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from contest.accounts import service as accounts
from contest.accounts.actors import SYSTEM
from contest.accounts.models import AuditEvent, User
from contest.contests.models import Contest, Entry, School
from contest.extensions import db
from contest.judging import service as judging
from contest.judging.models import ROUND_STATES, Round, RoundEntry, Score
from contest.media import submissions
from contest.media.models import WithdrawalRequest
from contest.voting import service as voting
from contest.voting.models import Vote
from tests.conftest import csrf_token, windows_around
from tests.media.conftest import add_contact, page, sign_in

NOT_FOUND = "没有找到这件作品。"
NEEDS_APPROVAL = "投票或评审已经开始，撤回需要主办方批准：请写明理由，提交撤回申请。"


def _entry(make_entry: Callable[..., Entry], contest: Contest, by: User, school: School | None = None,
           status: str = "submitted", **kwargs: Any) -> Entry:
    entry = make_entry(contest, status=status, school=school, **kwargs)
    entry.submitted_by_id = by.id
    db.session.commit()
    return entry


def _withdraw(client: Any, entry: Entry) -> Any:
    return client.post(f"/me/entries/{entry.id}/withdraw", data={"csrf_token": csrf_token(client, "/me/entries")})


def _request(client: Any, entry: Entry, reason: str = "学生转学，无法参加后续评审") -> Any:
    return client.post(f"/me/entries/{entry.id}/withdrawal-request",
                       data={"csrf_token": csrf_token(client, "/me/entries"), "reason": reason})


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
def test_once_voting_or_judging_started_withdrawing_is_a_request(app, contact_client, make_user, make_entry,
                                                                  make_contest, school, stage):
    contest = make_contest(kind="selection", stage=stage)
    nominator = make_user("school_contact")
    add_contact(nominator, school)
    entry = _entry(make_entry, contest, nominator, school, status="approved", nominee="李小燕")
    _withdrawal_needs_approval(app, contact_client, make_user, entry, "approved")


@pytest.mark.parametrize("stage", ["publicity", "closed"])
def test_after_results_are_published_withdrawing_is_a_request_too(app, client, citizen, make_user, make_entry,
                                                                  make_contest, stage):
    contest = make_contest(kind="media", stage=stage)
    entry = _entry(make_entry, contest, citizen, status="approved")
    _withdrawal_needs_approval(app, client, make_user, entry, "approved")


def test_a_citizen_asks_to_withdraw_their_own_entry_during_voting(app, client, citizen, make_user, make_entry,
                                                                  make_contest):
    contest = make_contest(kind="media", stage="voting")
    entry = _entry(make_entry, contest, citizen, status="approved")
    _withdrawal_needs_approval(app, client, make_user, entry, "approved", approve=False)


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


# --- a former contact -----------------------------------------------------------------------

def test_a_former_contact_no_longer_acts_for_the_school(client, make_user, make_entry, make_contest, school, clock):
    """The role is what grants a school's rights: a link to the school left behind when the
    role is taken away (here by the accounts service alone) grants nothing."""
    contest = make_contest(kind="selection", stage="submission")
    entry = _entry(make_entry, contest, make_user("school_contact"), school, nominee="王小明")
    former = make_user("school_contact", name="离职的钱老师")
    add_contact(former, school)
    accounts.set_roles(db.session, actor=SYSTEM, user=former, roles={"citizen"}, now=clock.now())
    db.session.commit()
    sign_in(client, former)
    assert f"/me/entries/{entry.id}" not in page(client.get("/me/entries"))
    url = f"/me/entries/{entry.id}/edit"
    assert client.get(url).status_code == 404
    response = client.post(url, data={"csrf_token": csrf_token(client, "/me/entries"), "title": "改名", "description": ""})
    assert response.status_code == 404 and NOT_FOUND in page(response)
    response = _withdraw(client, entry)
    assert response.status_code == 404 and NOT_FOUND in page(response)
    assert _status(entry) == "submitted"
    assert db.session.get(Entry, entry.id).title != "改名"
    assert submissions.schools_of(db.session, db.session.get(User, former.id)) == []


# --- withdrawing an entry that judges or voters have -----------------------------------------

def _round(contest: Contest, entry: Entry, judge: User, now: Any, state: str) -> Round:
    rnd = judging.create_round(db.session, actor=SYSTEM, contest=contest, now=now,
                               criteria=[judging.CriterionFields("创新性", 100, 100)],
                               fields=judging.RoundFields(key="online", name="网评", judges_per_entry=1))
    judging.add_entries(db.session, actor=SYSTEM, rnd=rnd, entry_ids=[entry.id], now=now)
    judging.add_judge(db.session, actor=SYSTEM, rnd=rnd, user=judge, now=now)
    if state != "draft":
        judging.set_state(db.session, actor=SYSTEM, rnd=rnd, state="open", now=now)
    if state == "closed":
        judging.sign_declaration(db.session, judge=judge, rnd=rnd, accepted=True, now=now)
        judging.save_score(db.session, judge=judge, rnd=rnd, entry_id=entry.id, raw_values={str(rnd.criteria[0].id): "80"},
                           submit=True, now=now)
        judging.set_state(db.session, actor=SYSTEM, rnd=rnd, state="closed", now=now)
    db.session.commit()
    return rnd


def _withdrawal_needs_approval(app: Any, asker: Any, make_user: Callable[..., User], entry: Entry, status: str, *,
                               approve: bool = True) -> None:
    """No direct withdrawal: a request with a reason, which an organiser decides."""
    listing = page(asker.get("/me/entries"))
    assert f"/me/entries/{entry.id}/withdraw\"" not in listing and f"/me/entries/{entry.id}/withdrawal-request" in listing
    response = _withdraw(asker, entry)
    assert response.status_code == 409 and NEEDS_APPROVAL in page(response)
    assert _status(entry) == status
    short = _request(asker, entry, reason="不")
    assert short.status_code == 400 and "请写明撤回的理由" in page(short)
    assert _request(asker, entry).status_code == 302
    again = _request(asker, entry)
    assert again.status_code == 409 and "已有一份撤回申请" in page(again)
    assert "等待主办方处理" in page(asker.get("/me/entries"))
    assert _status(entry) == status  # still in the running until an organiser decides

    organiser = app.test_client()
    sign_in(organiser, make_user("organiser"))
    desk = page(organiser.get("/admin/moderation/withdrawals"))
    assert "学生转学，无法参加后续评审" in desk and entry.title in desk
    [request] = db.session.scalars(select(WithdrawalRequest).where(WithdrawalRequest.entry_id == entry.id))
    url = f"/admin/moderation/withdrawals/{request.id}"
    token = csrf_token(organiser, "/admin/moderation/withdrawals")
    no_reason = organiser.post(url, data={"csrf_token": token, "decision": "approve", "reason": ""})
    assert no_reason.status_code == 400 and _status(entry) == status
    decided = organiser.post(url, data={"csrf_token": token, "decision": "approve" if approve else "decline",
                                        "reason": "情况属实，同意撤回" if approve else "评审已结束，不宜撤回"})
    assert decided.status_code == 302
    assert _status(entry) == ("withdrawn" if approve else status)
    twice = organiser.post(url, data={"csrf_token": token, "decision": "approve", "reason": "再批一次"})
    assert twice.status_code == 409
    db.session.rollback()
    actions = [e.action for e in db.session.scalars(select(AuditEvent).where(
        AuditEvent.target_type == "entry", AuditEvent.target_id == str(entry.id)).order_by(AuditEvent.id))]
    assert actions[-2:] == ["entry.withdrawal_requested", "entry.withdrawal_approved" if approve else "entry.withdrawal_declined"]
    assert ("已获批准撤回" if approve else "未获批准") in page(asker.get("/account/notices"))  # the asker is told


@pytest.mark.parametrize("state", ["open", "closed"])
def test_an_entry_in_a_judging_round_is_withdrawn_only_with_approval(app, contact_client, make_user, make_entry,
                                                                      make_contest, school, clock, state):
    """A round may be opened before the contest's judging window: the entry is being judged all the same."""
    contest = make_contest(kind="innovation", stage="review", categories=())
    nominator = make_user("school_contact")
    add_contact(nominator, school)
    entry = _entry(make_entry, contest, nominator, school, status="approved")
    _round(contest, entry, make_user("judge"), clock.now(), state)
    _withdrawal_needs_approval(app, contact_client, make_user, entry, "approved")


def test_an_entry_in_a_draft_round_is_not_yet_being_judged(contact_client, make_user, make_entry, make_contest, school,
                                                           clock):
    contest = make_contest(kind="innovation", stage="review", categories=())
    entry = _entry(make_entry, contest, make_user("school_contact"), school, status="approved")
    _round(contest, entry, make_user("judge"), clock.now(), "draft")
    assert f"/me/entries/{entry.id}/withdraw" in page(contact_client.get("/me/entries"))
    assert _withdraw(contact_client, entry).status_code == 302
    assert _status(entry) == "withdrawn"


def test_an_entry_with_votes_is_withdrawn_only_with_approval(app, contact_client, make_user, make_entry, make_contest,
                                                               school, clock):
    """Votes were cast, then the organisers moved the voting window later: the votes are still there."""
    contest = make_contest(kind="selection", stage="voting")
    nominator = make_user("school_contact")
    add_contact(nominator, school)
    entry = _entry(make_entry, contest, nominator, school, status="approved", nominee="李小燕")
    voting.record_vote(db.session, voter=make_user(), entry_id=entry.id, now=clock.now())
    for stage, (start, end) in windows_around(clock.now(), "review").items():
        setattr(contest, f"{stage}_starts_at", start)
        setattr(contest, f"{stage}_ends_at", end)
    db.session.commit()
    _withdrawal_needs_approval(app, contact_client, make_user, entry, "approved")


def test_the_tables_media_reads_by_name_are_the_judging_and_voting_tables(app):
    """Media may not import judging or voting: it reads their tables by name, and these
    names must stay those of their models."""
    for light, model in ((submissions._round, Round), (submissions._round_entry, RoundEntry),
                         (submissions._score, Score), (submissions._vote, Vote)):
        real = model.__table__
        assert light.name == real.name
        assert {c.name for c in light.columns} <= {c.name for c in real.columns}, light.name
    assert "draft" in ROUND_STATES
