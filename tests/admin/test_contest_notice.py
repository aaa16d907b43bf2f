"""A notice from the organisers to a contest's schools or judges: site notices for each
recipient and, when chosen, text messages through the outbox and the job runner."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from contest.accounts.models import AuditEvent, Notice, SmsMessage, User
from contest.accounts.sms import ConsoleSmsSender
from contest.contests.models import Contest, School, SchoolContact
from contest.errors import Forbidden, InvalidInput
from contest.extensions import db
from contest.jobs import jobs_of
from contest.judging import service as judging
from tests.conftest import IsolatedClient, csrf_token
from tests.site.isolation import committed

from .conftest import sign_in


def link(user: User, school: School) -> None:
    db.session.add(SchoolContact(user_id=user.id, school_id=school.id))
    db.session.commit()


class World:
    """A contest with entries of two schools, a third school without entries, a contact for
    each school (one without the role any more) and two judges on a round (one withdrawn)."""

    def __init__(self, contest: Contest, organiser: User, entered: list[User], idle: User, judges: list[User]) -> None:
        self.contest, self.organiser, self.entered, self.idle, self.judges = contest, organiser, entered, idle, judges

    @property
    def url(self) -> str:
        return f"/admin/contests/{self.contest.id}/notices"


@pytest.fixture
def world(app: Flask, clock, make_user, make_contest, make_entry, make_school) -> World:  # type: ignore[no-untyped-def]
    organiser = make_user("citizen", "organiser", name="组织者小王")
    contest = make_contest(kind="innovation", stage="judging", title="黄炎培职业教育创新创业大赛", short_title="黄炎培大赛")
    first, second, third, fourth = (make_school() for _ in range(4))
    make_entry(contest, school=first)
    make_entry(contest, school=second)
    make_entry(contest, school=fourth, status="withdrawn")
    entered = [make_user("citizen", "school_contact") for _ in range(2)]
    link(entered[0], first)
    link(entered[1], second)
    idle = make_user("citizen", "school_contact")
    link(idle, third)
    former = make_user("citizen")  # linked, but the role was taken away
    link(former, first)
    fourth_contact = make_user("citizen", "school_contact")
    link(fourth_contact, fourth)
    rnd = judging.create_round(db.session, actor=organiser, contest=contest, now=clock.now(),
                               criteria=[judging.CriterionFields("创新性", 10, 100)],
                               fields=judging.RoundFields(key="online", name="网络评审", judges_per_entry=1))
    judges = [make_user("judge") for _ in range(3)]
    for judge in judges:
        judging.add_judge(db.session, actor=organiser, rnd=rnd, user=judge, now=clock.now())
    judging.withdraw_judge(db.session, actor=organiser, rnd=rnd, judge_id=judges[2].id, reason="出差", now=clock.now())
    db.session.commit()
    return World(contest, organiser, entered, idle, judges[:2])


def html(response: Any) -> str:
    return response.get_data(as_text=True)


def notices_of(user: User) -> list[str]:
    return list(db.session.scalars(select(Notice.body).where(Notice.user_id == user.id)))


def queued_tasks(app: Flask) -> list[str]:
    huey = jobs_of(app)
    names = []
    while (task := huey.dequeue()) is not None:
        names.append(task.name)
    return names


# --- the service ------------------------------------------------------------------------------


def test_recipients_of_each_audience(world: World) -> None:
    counts = judging.recipient_counts(db.session, actor=world.organiser, contest=world.contest)
    # entered: the two contacts of schools with live entries (not the withdrawn one's, not the former contact)
    assert counts == {"schools_entered": 2, "schools_all": 4, "judges": 2}
    users = judging.notice_recipients(db.session, actor=world.organiser, contest=world.contest, audience="judges")
    assert [u.id for u in users] == [j.id for j in world.judges]


def test_a_site_only_notice(app: Flask, world: World, clock) -> None:  # type: ignore[no-untyped-def]
    queued_tasks(app)
    sent = judging.send_contest_notice(db.session, app.extensions["sms_sender"], actor=world.organiser,
                                       contest=world.contest, audience="schools_entered", text="  请于周五前\n确认参赛名单。 ",
                                       sms=False, now=clock.now())
    db.session.commit()
    assert (sent.recipients, sent.texted, sent.not_texted) == (2, 0, 0)
    for user in world.entered:
        assert notices_of(user) == ["【黄炎培大赛】请于周五前 确认参赛名单。"]
    assert notices_of(world.idle) == []
    assert db.session.scalar(select(func.count()).select_from(SmsMessage)) == 0
    assert queued_tasks(app) == []
    [event] = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "contest.notice")).all()
    assert event.actor_id == world.organiser.id and event.target_id == str(world.contest.id)
    assert event.after == {"audience": "schools_entered", "recipients": 2, "sms": False, "texted": 0, "not_texted": 0,
                           "text": "请于周五前 确认参赛名单。"}


def test_a_notice_with_sms_goes_through_the_job_runner(app: Flask, world: World, clock) -> None:  # type: ignore[no-untyped-def]
    queued_tasks(app)
    sent = judging.send_contest_notice(db.session, app.extensions["sms_sender"], actor=world.organiser,
                                       contest=world.contest, audience="judges", text="评审明天开始。", sms=True,
                                       now=clock.now())
    db.session.commit()
    assert (sent.recipients, sent.texted, sent.not_texted) == (2, 2, 0)
    messages = db.session.scalars(select(SmsMessage).order_by(SmsMessage.id)).all()
    assert [(m.phone, m.kind, m.state) for m in messages] == [(j.phone, "notice", "queued") for j in world.judges]
    assert all(m.body == "【济南职教活动周】【黄炎培大赛】评审明天开始。" for m in messages)
    assert queued_tasks(app) == ["send_sms", "send_sms"]


def test_past_the_budget_the_rest_get_the_site_notice_only(app: Flask, world: World, clock) -> None:  # type: ignore[no-untyped-def]
    sent = judging.send_contest_notice(db.session, ConsoleSmsSender(daily_budget=3), actor=world.organiser,
                                       contest=world.contest, audience="schools_all", text="请更新联系人信息。", sms=True,
                                       now=clock.now())
    db.session.commit()
    assert (sent.recipients, sent.texted, sent.not_texted) == (4, 3, 1)
    assert db.session.scalar(select(func.count()).select_from(Notice).where(Notice.body.contains("联系人"))) == 4


@pytest.mark.parametrize(("audience", "text", "message"), [
    ("schools_all", "   ", "请填写通知内容。"),
    ("schools_all", "字" * 301, "通知内容不能超过 300 个字。"),
    ("everyone", "你好", "请选择通知对象。"),
])
def test_bad_notices_are_refused(world: World, clock, audience: str, text: str, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput) as refused:
        judging.send_contest_notice(db.session, ConsoleSmsSender(), actor=world.organiser, contest=world.contest,
                                    audience=audience, text=text, sms=True, now=clock.now())
    assert refused.value.message == message


def test_only_organisers_send(world: World, make_user, clock) -> None:  # type: ignore[no-untyped-def]
    for user in (make_user("citizen"), make_user("school_contact"), make_user("judge")):
        with pytest.raises(Forbidden):
            judging.send_contest_notice(db.session, ConsoleSmsSender(), actor=user, contest=world.contest,
                                        audience="judges", text="你好", sms=False, now=clock.now())


# --- the page ------------------------------------------------------------------------------------


def test_the_page_previews_counts_and_sends(app: Flask, client, world: World) -> None:  # type: ignore[no-untyped-def]
    sign_in(client, world.organiser)
    page = html(client.get(world.url))
    assert 'data-recipients="schools_entered">2 人' in page and 'data-recipients="judges">2 人' in page
    assert f'href="{world.url}"' in html(client.get("/admin/"))
    queued_tasks(app)
    token = csrf_token(client, world.url)
    response = client.post(world.url, data={"csrf_token": token, "audience": "schools_entered", "text": "请确认名单。",
                                            "channel": "sms"})
    assert response.status_code == 302
    assert "通知已发给 2 人。短信已排队 2 条。" in html(client.get(world.url))
    assert committed(select(func.count()).select_from(SmsMessage)) == 2
    assert queued_tasks(app) == ["send_sms", "send_sms"]


def test_the_page_says_how_many_were_not_texted(app: Flask, client, world: World) -> None:  # type: ignore[no-untyped-def]
    app.extensions["sms_sender"] = ConsoleSmsSender(daily_budget=1)
    sign_in(client, world.organiser)
    token = csrf_token(client, world.url)
    client.post(world.url, data={"csrf_token": token, "audience": "schools_all", "text": "请确认名单。", "channel": "sms"})
    assert "今日短信额度已用完，3 人未收到短信（站内通知已送达）。" in html(client.get(world.url))


def test_bad_input_on_the_page_is_400_and_stores_nothing(client, world: World) -> None:  # type: ignore[no-untyped-def]
    sign_in(client, world.organiser)
    token = csrf_token(client, world.url)
    for data, message in (({"audience": "judges", "text": ""}, "请填写通知内容。"),
                          ({"audience": "judges", "text": "长" * 301}, "通知内容不能超过 300 个字。"),
                          ({"audience": "nobody", "text": "你好"}, "请选择通知对象。")):
        response = client.post(world.url, data={"csrf_token": token, "channel": "sms", **data})
        assert response.status_code == 400 and message in html(response)
    assert committed(select(func.count()).select_from(Notice)) == 0
    assert committed(select(func.count()).select_from(SmsMessage)) == 0
    assert committed(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "contest.notice")) == 0


def test_citizens_and_school_contacts_get_403(app: Flask, client, world: World, make_user) -> None:  # type: ignore[no-untyped-def]
    for user in (make_user("citizen"), world.entered[0]):
        other = IsolatedClient(app, app.response_class, use_cookies=True)
        sign_in(other, user)
        assert other.get(world.url).status_code == 403
        token = csrf_token(other, "/")
        response = other.post(world.url, data={"csrf_token": token, "audience": "judges", "text": "你好", "channel": "sms"})
        assert response.status_code == 403
    assert committed(select(func.count()).select_from(Notice)) == 0
