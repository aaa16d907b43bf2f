"""The pages the manuals (docs/manual/) show that no other journey reaches, walked for real.

An organiser on a desktop edits a contest's categories, invites a judge with a one-time
link, opens the round and reads the judging dashboard and the exports page. The invited
judge, on a phone, opens the link, signs in, accepts, signs the 回避 declaration naming
one entry (which is then assigned to the other judge), scores the one entry left and sees
that the round is done. No console errors, nothing requested from another host.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select

from contest.accounts.actors import SYSTEM
from contest.clock import FixedClock
from contest.extensions import db
from contest.judging import service as judging
from contest.judging.models import Assignment, Score
from contest.judging.models import Conflict as ConflictRow
from tests.conftest import PASSWORD

from .browser import DESKTOP, PHONE, BrowserLog, log_in, screenshot

pytestmark = pytest.mark.e2e

RUBRIC = (("摄影技术", 40), ("主题表达", 60))
ENTRIES = ("泉城晨光里的实训车间", "老师傅的最后一课")


def test_organiser_and_invited_judge_pages(app: Flask, clock: FixedClock, live_server: str,  # type: ignore[no-untyped-def]
                                           new_page: Callable[..., Page], browser_log: BrowserLog, make_user,
                                           make_contest, make_school, make_entry) -> None:
    now = clock.now()
    organiser = make_user("citizen", "organiser", name="组织者小王")
    contest = make_contest(kind="media", stage="judging", slug="meipai-manual-e2e", title="全民美拍摄影短视频大赛",
                           short_title="全民美拍", categories=("摄影作品",))
    school = make_school(name="济南第一职业中等专业学校")
    entries = [make_entry(contest, title=title, school=school) for title in ENTRIES]
    rnd = judging.create_round(db.session, actor=SYSTEM, contest=contest, now=now,
                               criteria=[judging.CriterionFields(name, weight, weight) for name, weight in RUBRIC],
                               fields=judging.RoundFields(key="online", name="网络评审", judges_per_entry=1))
    judging.add_entries(db.session, actor=SYSTEM, rnd=rnd, entry_ids=[e.id for e in entries], now=now)
    colleague = make_user("judge", name="李评委")
    judging.add_judge(db.session, actor=SYSTEM, rnd=rnd, user=colleague, now=now)
    judging.sign_declaration(db.session, judge=colleague, rnd=rnd, accepted=True, now=now)
    db.session.commit()
    invited = make_user("citizen", phone="13912340001", name="王教授")

    desk = new_page(**DESKTOP)
    # Categories: add one, then correct its name.
    log_in(desk, live_server, organiser.phone, next_path="/admin/")
    desk.get_by_role("row", name=contest.title).get_by_role("link", name="分类").click()
    expect(desk.get_by_role("heading", name="分类、赛道与组别")).to_be_visible()
    add = desk.locator("form.card")
    add.get_by_label("类型").select_option(label="类别")
    add.get_by_label("名称").fill("短视屏")
    add.get_by_role("button", name="添加").click()
    expect(desk.get_by_text("已添加。")).to_be_visible()
    item = desk.locator("li.category-item").filter(has_text="短视屏")
    item.get_by_text("修改").click()
    item.get_by_label("名称").fill("短视频")
    item.get_by_label("说明").fill("60 秒以内的竖屏或横屏短片")
    screenshot(desk, "manual-categories.png")
    item.get_by_role("button", name="保存").click()
    expect(desk.get_by_text("已保存。")).to_be_visible()
    expect(desk.locator("li.category-item").filter(has_text="短视频")).to_contain_text("60 秒以内")

    # A one-time invitation link for a judge who has no role yet.
    round_path = f"/admin/judging/rounds/{rnd.id}"
    desk.goto(live_server + "/admin/judging/")
    desk.get_by_role("link", name="概览").first.click()
    desk.wait_for_url(live_server + round_path)
    desk.locator("#invite-name").fill("王教授")
    desk.locator("#invite-org").fill("济南职业学院")
    desk.get_by_role("button", name="生成一次性链接").click()
    expect(desk.get_by_role("heading", name="邀请链接已生成：王教授")).to_be_visible()
    link = desk.locator("#invite-link").input_value()
    assert re.fullmatch(rf"{re.escape(live_server)}/judge/invite/\S+", link), link
    desk.locator(".jd-invite-done").scroll_into_view_if_needed()
    screenshot(desk, "manual-invite-link.png")

    # The judge opens the link on a phone, signs in and accepts.
    phone = new_page(**PHONE)
    phone.goto(link)
    expect(phone.get_by_role("heading", name="评委邀请")).to_be_visible()
    expect(phone.get_by_text("王教授，您好！诚邀您担任以下评审的评委：")).to_be_visible()
    expect(phone.locator(".invite-facts")).to_contain_text("网络评审")
    screenshot(phone, "manual-judge-invite-phone.png")
    phone.get_by_role("link", name="登录").last.click()
    phone.get_by_label("手机号").fill(invited.phone)
    phone.get_by_label("密码", exact=True).fill(PASSWORD)
    phone.get_by_role("button", name="登录").click()
    expect(phone.get_by_text("将以当前账号 王教授 接受邀请。")).to_be_visible()
    phone.get_by_role("button", name="接受邀请").click()
    expect(phone.get_by_text("您已加入“网络评审”评委组。")).to_be_visible()
    expect(phone.get_by_text("评审开始后，您可以在这里签署回避声明并评分。")).to_be_visible()

    # The organiser opens the round: the two judges share the two entries.
    desk.goto(live_server + round_path)
    expect(desk.locator("#panel")).to_contain_text("王教授")
    desk.get_by_role("button", name="开启评审").click()
    expect(desk.get_by_text("评审已开启。")).to_be_visible()
    expect(desk.locator(".jd-loads tbody tr")).to_have_count(2)
    expect(desk.locator("#invites tr[data-state=accepted]")).to_contain_text("王教授")
    screenshot(desk, "manual-judging-round.png")

    # The declaration: the judge names the first entry (a former student made it).
    phone.goto(live_server + "/judge/")
    expect(phone.get_by_text("已提交 0 / 1")).to_be_visible()
    phone.get_by_role("link", name="签署回避声明").click()
    expect(phone.get_by_role("heading", name="关于回避的承诺")).to_be_visible()
    phone.get_by_role("button", name="签署声明").click()
    expect(phone.get_by_text("请阅读并确认回避声明。")).to_be_visible()  # the promise is not optional
    phone.goto(f"{live_server}/judge/rounds/{rnd.id}/declaration")
    phone.get_by_label(ENTRIES[0]).check()
    phone.get_by_label("回避说明（选填）").fill("该作品作者是我带过的学生。")
    phone.get_by_label("我已阅读以上承诺，确认遵守回避规定，并已如实申报回避关系。").check()
    screenshot(phone, "manual-judge-declaration-phone.png")
    phone.get_by_role("button", name="签署声明").click()
    expect(phone.get_by_text("回避声明已签署，您申报的 1 件作品已回避。")).to_be_visible()
    expect(phone.get_by_role("heading", name="分配给您的作品（1 件）")).to_be_visible()
    expect(phone.locator("main")).not_to_contain_text(ENTRIES[0])
    db.session.rollback()  # see what the server committed
    assert db.session.scalar(select(ConflictRow.source).where(ConflictRow.judge_id == invited.id)) == "declared"
    assert set(db.session.scalars(select(Assignment.entry_id).where(Assignment.judge_id == invited.id))) == {entries[1].id}

    # Scoring the one entry left; after it the round is done for this judge.
    phone.get_by_role("link", name=ENTRIES[1]).click()
    expect(phone.get_by_role("heading", name=ENTRIES[1])).to_be_visible()
    phone.get_by_role("group", name="摄影技术").get_by_label("得分").fill("35")
    phone.get_by_role("group", name="主题表达").get_by_label("得分").fill("50")
    expect(phone.locator("[data-total-value]")).to_have_text("85.00")
    phone.once("dialog", lambda dialog: dialog.accept())
    phone.get_by_role("button", name="提交评分").click()
    expect(phone.get_by_text("您已完成本轮全部评分，谢谢！").first).to_be_visible()
    expect(phone.get_by_text("已提交 1 / 1")).to_be_visible()
    screenshot(phone, "manual-judge-done-phone.png")
    db.session.rollback()
    assert db.session.scalar(select(Score.submitted_at).where(Score.judge_id == invited.id)) is not None

    # Progress on the dashboard: one of two scores in.
    desk.goto(f"{live_server}{round_path}/dashboard")
    expect(desk.locator(".jd-tabs [aria-current=page]")).to_have_text("评审看板")
    expect(desk.locator(".jd-stats")).to_contain_text("1 / 2 份")
    screenshot(desk, "manual-judging-dashboard.png")

    # The exports page of the contest's results.
    desk.goto(f"{live_server}/admin/results/{contest.slug}/exports")
    expect(desk.get_by_role("heading", name="结果名单")).to_be_visible()
    expect(desk.get_by_text("尚未提交发布：导出按当前数据计算的预览。")).to_be_visible()
    screenshot(desk, "manual-results-exports.png")

    # The one refusal asked for above (the declaration without the promise) answers 400.
    unexpected = [e for e in browser_log.errors if not ("status of 400" in e and e.endswith("/declaration)"))]
    assert unexpected == [], unexpected
    assert browser_log.foreign_requests() == []
