"""An organiser on a desktop: the round's list of judge invitations (one pending, one
accepted, one texted), revoking the pending one, and a notice to the schools of a contest
with the count of recipients shown before sending. No console errors, nothing requested
from another host."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from contest.accounts.models import Notice, SmsMessage
from contest.clock import FixedClock
from contest.contests.models import SchoolContact
from contest.extensions import db
from contest.judging import service as judging
from contest.judging.models import JudgeInvite

from .browser import DESKTOP, BrowserLog, log_in, screenshot

pytestmark = pytest.mark.e2e


def test_invitations_and_a_notice_to_schools(app: Flask, clock: FixedClock, live_server: str,  # type: ignore[no-untyped-def]
                                             new_page: Callable[..., Page], browser_log: BrowserLog, make_user,
                                             make_contest, make_school, make_entry) -> None:
    now = clock.now()
    organiser = make_user("citizen", "organiser", name="组织者小王")
    contest = make_contest(kind="innovation", stage="judging", slug="hyp-organiser-e2e", title="黄炎培职业教育创新创业大赛",
                           short_title="黄炎培大赛", categories=())
    schools = [make_school(name=name) for name in ("济南第一职业中等专业学校", "济南商贸职业学校", "济南信息工程学校")]
    for school in schools[:2]:
        make_entry(contest, school=school)
    for school in schools:
        contact = make_user("citizen", "school_contact", name=f"{school.name[:4]}联络人")
        db.session.add(SchoolContact(user_id=contact.id, school_id=school.id))
    rnd = judging.create_round(db.session, actor=organiser, contest=contest, now=now,
                               criteria=[judging.CriterionFields("创新性", 10, 100)],
                               fields=judging.RoundFields(key="online", name="网络评审", judges_per_entry=1))
    pending, _token = judging.create_invite(db.session, actor=organiser, rnd=rnd, name="周教授", organisation="山东大学",
                                            now=now)
    _accepted, token = judging.create_invite(db.session, actor=organiser, rnd=rnd, name="李老师", now=now)
    judging.accept_invite(db.session, token=token, user=make_user("citizen", phone="13912345678"), now=now)
    to_text, _t3 = judging.create_invite(db.session, actor=organiser, rnd=rnd, name="王工程师", organisation="浪潮集团",
                                         now=now)
    judging.send_invite_sms(db.session, app.extensions["sms_sender"], actor=organiser, rnd=rnd, invite_id=to_text.id,
                            phone="13812345678", link_for=lambda t: f"{live_server}/judge/invite/{t}", now=now)
    db.session.commit()

    page = new_page(**DESKTOP)
    round_path = f"/admin/judging/rounds/{rnd.id}"
    log_in(page, live_server, organiser.phone, next_path=round_path)
    page.goto(f"{live_server}{round_path}#invites")
    section = page.locator("#invites")
    expect(section.get_by_role("heading", name="评委邀请")).to_be_visible()
    rows = section.locator("tbody tr")
    expect(rows).to_have_count(4)  # the texted one replaced its first link: that one shows as revoked
    expect(section.locator('tr[data-state="pending"]')).to_have_count(2)
    expect(section.locator('tr[data-state="accepted"]')).to_contain_text("139****5678")
    expect(section.locator(f'tr[data-invite="{pending.id}"]')).to_contain_text("待接受")
    expect(section).not_to_contain_text("/judge/invite/")
    section.locator(f'tr[data-invite="{pending.id}"]').get_by_text("短信发送").click()
    section.locator(f'tr[data-invite="{pending.id}"]').scroll_into_view_if_needed()
    screenshot(page, "invitations-list.png")

    section.locator(f'tr[data-invite="{pending.id}"]').get_by_role("button", name="撤销").click()
    expect(page.get_by_text("已撤销给 周教授 的邀请，原链接已失效。")).to_be_visible()
    expect(page.locator(f'#invites tr[data-invite="{pending.id}"]')).to_contain_text("已撤销")
    db.session.rollback()
    assert db.session.scalar(select(JudgeInvite.revoked_at).where(JudgeInvite.id == pending.id)) is not None

    page.goto(f"{live_server}/admin/")
    page.get_by_role("row", name=contest.title).get_by_role("link", name="群发通知").click()
    expect(page.get_by_role("heading", name="群发通知")).to_be_visible()
    expect(page.locator('[data-recipients="schools_entered"]')).to_have_text("2 人")
    expect(page.locator('[data-recipients="schools_all"]')).to_have_text("3 人")
    page.get_by_label("有作品参加本活动的学校联络人").check()
    page.get_by_label("通知内容（最多 300 字）").fill("请于 5 月 12 日前在平台上确认参赛团队名单，逾期视为放弃。")
    page.get_by_label("站内消息 + 短信").check()
    screenshot(page, "notice-to-schools.png")
    page.get_by_role("button", name="发送通知").click()
    expect(page.get_by_text("通知已发给 2 人。短信已排队 2 条。")).to_be_visible()
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Notice).where(Notice.body.contains("确认参赛团队"))) == 2
    assert db.session.scalar(select(func.count()).select_from(SmsMessage).where(SmsMessage.kind == "notice")) == 2

    assert browser_log.errors == [], browser_log.errors
    assert browser_log.foreign_requests() == []
