"""Judge invitations on the organisers' desk: the list with each invitation's state,
revoking a pending one, and texting a fresh link through the outbox and the job runner."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from contest.accounts.models import AuditEvent, SmsMessage, User
from contest.accounts.sms import ConsoleSmsSender
from contest.errors import Conflict, Forbidden, InvalidInput
from contest.extensions import db
from contest.jobs import jobs_of
from contest.judging import service as judging
from contest.judging.models import JudgeInvite, Round
from tests.admin.conftest import sign_in
from tests.conftest import IsolatedClient, csrf_token, fixture_unit
from tests.site.isolation import committed

ORGANISER_BODY = "济南市教育局职业教育处"


class Desk:
    def __init__(self, rnd: Round, organiser: User, now: Any) -> None:
        self.round, self.organiser, self.now = rnd, organiser, now

    @property
    def url(self) -> str:
        return f"/admin/judging/rounds/{self.round.id}"

    def invite(self, name: str) -> tuple[JudgeInvite, str]:
        made = judging.create_invite(db.session, actor=self.organiser, rnd=self.round, name=name, organisation="山东大学",
                                     now=self.now)
        db.session.commit()
        return made


@pytest.fixture
def desk(app: Flask, clock, make_user, make_contest) -> Desk:  # type: ignore[no-untyped-def]
    body = fixture_unit(clock, ORGANISER_BODY)  # the inviting unit, named in the text
    organiser = make_user("citizen", "organiser", name="组织者小王", unit=body)
    contest = make_contest(kind="innovation", stage="judging", title="黄炎培职业教育创新创业大赛", categories=(),
                           unit_id=body.id)
    rnd = judging.create_round(db.session, actor=organiser, contest=contest, now=clock.now(),
                               criteria=[judging.CriterionFields("创新性", 10, 100)],
                               fields=judging.RoundFields(key="online", name="网络评审", judges_per_entry=1))
    db.session.commit()
    return Desk(rnd, organiser, clock.now())


def html(response: Any) -> str:
    return response.get_data(as_text=True)


def audits(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def queued_tasks(app: Flask) -> list[str]:
    """Take the job runner's queued tasks off its queue; their names."""
    huey = jobs_of(app)
    names = []
    while (task := huey.dequeue()) is not None:
        names.append(task.name)
    return names


# --- the service ---------------------------------------------------------------------------


def test_states_of_invitations(desk: Desk, make_user, clock) -> None:  # type: ignore[no-untyped-def]
    pending, _t1 = desk.invite("甲老师")
    accepted, token = desk.invite("乙老师")
    revoked, _t3 = desk.invite("丙老师")
    judge = make_user("citizen", phone="13912345678")
    judging.accept_invite(db.session, token=token, user=judge, now=desk.now)
    judging.revoke_invite(db.session, actor=desk.organiser, rnd=desk.round, invite_id=revoked.id, now=desk.now)
    db.session.commit()

    lines = judging.invites_of(db.session, actor=desk.organiser, rnd=desk.round, now=desk.now)
    assert [(line.invite.name, line.state, line.phone) for line in lines] == [
        ("丙老师", "revoked", ""), ("乙老师", "accepted", "139****5678"), ("甲老师", "pending", "")]
    later = desk.now + timedelta(days=judging.INVITE_DAYS)
    states = {line.invite.name: line.state for line in judging.invites_of(db.session, actor=desk.organiser,
                                                                          rnd=desk.round, now=later)}
    assert states == {"甲老师": "expired", "乙老师": "accepted", "丙老师": "revoked"}
    assert pending.id


def test_a_revoked_link_no_longer_works(desk: Desk, make_user) -> None:  # type: ignore[no-untyped-def]
    invite, token = desk.invite("甲老师")
    judging.revoke_invite(db.session, actor=desk.organiser, rnd=desk.round, invite_id=invite.id, now=desk.now)
    db.session.commit()
    with pytest.raises(Conflict) as refused:
        judging.accept_invite(db.session, token=token, user=make_user("citizen"), now=desk.now)
    assert refused.value.message == "这个邀请链接已被组织方撤销。"
    with pytest.raises(Conflict) as again:
        judging.revoke_invite(db.session, actor=desk.organiser, rnd=desk.round, invite_id=invite.id, now=desk.now)
    assert again.value.message == "这个邀请已被接受或已撤销，不能再撤销。"
    [event] = audits("judge.invite_revoke")
    assert event.actor_id == desk.organiser.id and event.after["invite"] == invite.id
    assert token not in str(event.after) + str(event.before) + event.summary


def test_only_organisers_list_revoke_or_send(desk: Desk, make_user) -> None:  # type: ignore[no-untyped-def]
    invite, _token = desk.invite("甲老师")
    for user in (make_user("citizen"), make_user("school_contact"), make_user("judge")):
        with pytest.raises(Forbidden):
            judging.invites_of(db.session, actor=user, rnd=desk.round, now=desk.now)
        with pytest.raises(Forbidden):
            judging.revoke_invite(db.session, actor=user, rnd=desk.round, invite_id=invite.id, now=desk.now)
        with pytest.raises(Forbidden):
            judging.send_invite_sms(db.session, ConsoleSmsSender(), actor=user, rnd=desk.round, invite_id=invite.id,
                                    phone="13812345678", link_for=lambda t: t, now=desk.now)


def test_sending_replaces_the_link_and_queues_the_text(app: Flask, desk: Desk) -> None:
    old, old_token = desk.invite("甲老师")
    queued_tasks(app)  # whatever the fixtures queued
    sent = judging.send_invite_sms(db.session, app.extensions["sms_sender"], actor=desk.organiser, rnd=desk.round,
                                   invite_id=old.id, phone="138 1234 5678", link_for=lambda t: f"https://x.cn/judge/invite/{t}",
                                   now=desk.now)
    db.session.commit()
    assert sent.texted and sent.invite.id != old.id and sent.invite.phone == "13812345678"
    assert (sent.invite.name, sent.invite.organisation) == ("甲老师", "山东大学")
    assert committed(select(JudgeInvite.revoked_at).where(JudgeInvite.id == old.id)) is not None
    [message] = db.session.scalars(select(SmsMessage)).all()
    assert (message.phone, message.kind, message.state) == ("13812345678", "judge_invite", "queued")
    assert message.params == {"organiser": ORGANISER_BODY, "link": f"https://x.cn/judge/invite/{sent.token}"}
    assert ORGANISER_BODY in message.body and sent.token in message.body
    assert queued_tasks(app) == ["send_sms"]
    # the old link is dead; the texted one works
    with pytest.raises(Conflict):
        judging.find_invite(db.session, old_token, desk.now)
    assert judging.find_invite(db.session, sent.token, desk.now).id == sent.invite.id
    [event] = audits("judge.invite_send")
    assert event.before == {"invite": old.id}
    assert event.after == {"invite": sent.invite.id, "phone": "138****5678", "texted": True}
    assert sent.token not in str(event.after) + event.summary


def test_sending_refuses_bad_numbers_and_settled_invitations(app: Flask, desk: Desk, make_user) -> None:  # type: ignore[no-untyped-def]
    invite, token = desk.invite("甲老师")
    sender = app.extensions["sms_sender"]
    with pytest.raises(InvalidInput) as bad:
        judging.send_invite_sms(db.session, sender, actor=desk.organiser, rnd=desk.round, invite_id=invite.id,
                                phone="12345", link_for=lambda t: t, now=desk.now)
    assert bad.value.message == "请输入正确的 11 位中国大陆手机号码。"
    judging.accept_invite(db.session, token=token, user=make_user("citizen"), now=desk.now)
    db.session.commit()
    with pytest.raises(Conflict) as settled:
        judging.send_invite_sms(db.session, sender, actor=desk.organiser, rnd=desk.round, invite_id=invite.id,
                                phone="13812345678", link_for=lambda t: t, now=desk.now)
    assert settled.value.message == "只能重新发送待接受或已过期的邀请。"
    assert db.session.scalar(select(func.count()).select_from(SmsMessage)) == 0


def test_past_the_budget_the_new_link_is_returned_untexted(app: Flask, desk: Desk) -> None:
    invite, _token = desk.invite("甲老师")
    sent = judging.send_invite_sms(db.session, ConsoleSmsSender(daily_budget=0), actor=desk.organiser, rnd=desk.round,
                                   invite_id=invite.id, phone="13812345678", link_for=lambda t: t, now=desk.now)
    db.session.commit()
    assert not sent.texted and sent.invite.sent_at is None
    assert db.session.scalar(select(func.count()).select_from(SmsMessage)) == 0
    assert judging.find_invite(db.session, sent.token, desk.now).id == sent.invite.id


# --- the pages ------------------------------------------------------------------------------


def test_the_round_page_lists_invitations_without_links(app: Flask, client, desk: Desk, make_user) -> None:  # type: ignore[no-untyped-def]
    _pending, pending_token = desk.invite("甲老师")
    _accepted, token = desk.invite("乙老师")
    judging.accept_invite(db.session, token=token, user=make_user("citizen", phone="13912345678"), now=desk.now)
    db.session.commit()
    sign_in(client, desk.organiser)
    page = html(client.get(desk.url))
    section = page[page.index('id="invites"'):page.index('id="conflicts"')]
    assert "待接受" in section and "已接受" in section and "139****5678" in section
    assert "13912345678" not in section
    assert pending_token not in page and token not in page and "/judge/invite/" not in page
    assert len(re.findall(r'data-invite="\d+"', section)) == 2


def test_revoke_and_send_through_the_page(app: Flask, client, desk: Desk) -> None:
    first, _t1 = desk.invite("甲老师")
    second, _t2 = desk.invite("乙老师")
    sign_in(client, desk.organiser)
    token = csrf_token(client, desk.url)
    response = client.post(f"{desk.url}/invites/{first.id}/revoke", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"].endswith("#invites")
    assert committed(select(JudgeInvite.revoked_at).where(JudgeInvite.id == first.id)) is not None
    assert 'data-state="revoked"' in html(client.get(desk.url))
    again = client.post(f"{desk.url}/invites/{first.id}/revoke", data={"csrf_token": token})
    assert again.status_code == 409 and "这个邀请已被接受或已撤销，不能再撤销。" in html(again)

    queued_tasks(app)
    bad = client.post(f"{desk.url}/invites/{second.id}/sms", data={"csrf_token": token, "phone": "1234"})
    assert bad.status_code == 400 and "请输入正确的 11 位中国大陆手机号码。" in html(bad)
    assert committed(select(func.count()).select_from(SmsMessage)) == 0
    assert committed(select(JudgeInvite.revoked_at).where(JudgeInvite.id == second.id)) is None

    response = client.post(f"{desk.url}/invites/{second.id}/sms", data={"csrf_token": token, "phone": "13812345678"})
    assert response.status_code == 302
    assert "邀请短信已排队发送给 138****5678" in html(client.get(desk.url))
    assert committed(select(SmsMessage.kind).where(SmsMessage.phone == "13812345678")) == "judge_invite"
    assert queued_tasks(app) == ["send_sms"]
    assert committed(select(JudgeInvite.revoked_at).where(JudgeInvite.id == second.id)) is not None
    assert client.post(f"{desk.url}/invites/999999/revoke", data={"csrf_token": token}).status_code == 404


def test_citizens_and_school_contacts_get_403(app: Flask, desk: Desk, make_user) -> None:  # type: ignore[no-untyped-def]
    invite, _token = desk.invite("甲老师")
    for user in (make_user("citizen"), make_user("school_contact")):
        client = IsolatedClient(app, app.response_class, use_cookies=True)
        sign_in(client, user)
        token = csrf_token(client, "/")
        for path in (f"{desk.url}/invites/{invite.id}/revoke", f"{desk.url}/invites/{invite.id}/sms"):
            assert client.post(path, data={"csrf_token": token, "phone": "13812345678"}).status_code == 403
    assert committed(select(JudgeInvite.revoked_at).where(JudgeInvite.id == invite.id)) is None
    assert committed(select(func.count()).select_from(SmsMessage)) == 0
