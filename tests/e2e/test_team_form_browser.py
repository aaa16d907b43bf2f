"""The 黄炎培 team form on a school contact's phone: the school's places above the form,
member rows added and removed within the contest's team size, a refusal shown at its
field (the group that does not fit the school's type, a student's number), and the page
once the school has no place left."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from contest.accounts.actors import SYSTEM
from contest.contests import service as contests
from contest.contests.models import SchoolContact
from contest.extensions import db

from .browser import PHONE, BrowserLog, log_in, screenshot

pytestmark = pytest.mark.e2e


def test_team_rows_and_refusals_at_their_fields(
    app: Flask, live_server: str, new_page: Callable[..., Page], browser_log: BrowserLog, make_contest, make_user,
    make_school, clock,
) -> None:
    contest = make_contest(kind="innovation", stage="submission", slug="hyp-rows", title="黄炎培（报名表测试）", categories=())
    for kind, names in (("track", ("创意组",)), ("group", ("中职组", "高职组"))):
        for name in names:
            contests.add_category(db.session, actor=SYSTEM, contest=contest, kind=kind, name=name, now=clock.now())
    contest.rules = {**(contest.rules or {}), "team_students_min": 2, "team_students_max": 4}
    school = make_school("济南信息工程学校", enrolment=800)
    contact = make_user("school_contact", name="钱老师")
    db.session.add(SchoolContact(user_id=contact.id, school_id=school.id))
    db.session.commit()

    phone = new_page(**PHONE)
    log_in(phone, live_server, contact.phone)
    phone.goto(f"{live_server}/c/{contest.slug}/submit")
    expect(phone.locator(".quota-status")).to_contain_text("还剩 3 个")

    # Two rows to start with (the minimum); more are added one at a time, up to four.
    expect(phone.locator("fieldset.member")).to_have_count(4)
    visible = phone.locator("fieldset.member:visible")
    expect(visible).to_have_count(2)
    add = phone.get_by_role("button", name="添加一名学生")
    add.click()
    expect(visible).to_have_count(3)
    phone.get_by_label("姓名").nth(2).fill("孙丽")
    add.click()
    expect(visible).to_have_count(4)
    expect(add).to_be_hidden()
    expect(phone.get_by_text("已达到每队 4 名学生的上限")).to_be_visible()
    phone.get_by_role("button", name="移除这名学生").nth(1).click()  # the fourth row
    expect(visible).to_have_count(3)
    expect(add).to_be_visible()

    phone.get_by_label("项目名称").fill("社区助老小程序")
    phone.get_by_label("赛道").select_option(label="创意组")
    phone.get_by_label("组别").select_option(label="高职组")
    phone.get_by_label("项目简介").fill("帮助社区老人预约上门服务。")
    for i, (name, number) in enumerate((("周一", "20230001"), ("吴二", "20230002"), ("孙丽", "12"))):
        phone.locator(f"input[name=students-{i}-name]").fill(name)
        phone.locator(f"input[name=students-{i}-student_no]").fill(number)
    phone.locator("input[name=advisors-0-name]").fill("郑老师")
    phone.get_by_role("button", name="提交报名").click()
    group = phone.locator(".field").filter(has=phone.locator("select[name=group]"))
    expect(group.locator(".field-error")).to_contain_text("济南信息工程学校是中职学校，不能报名“高职组”")
    expect(phone.locator("[data-upload-error]")).to_be_visible()
    screenshot(phone, "team-form-group-refused-phone.png")

    phone.get_by_label("组别").select_option(label="中职组")
    phone.get_by_role("button", name="提交报名").click()
    number = phone.locator(".field").filter(has=phone.locator("input[name=students-2-student_no]"))
    expect(number.locator(".field-error")).to_contain_text("第 3 名学生（孙丽）：学号格式不正确")
    expect(group.locator(".field-error")).to_have_count(0)
    screenshot(phone, "team-form-rows-phone.png")

    # No place left: the page says so, and shows no form that could not be sent.
    contest.rules = {**contest.rules, "school_quota_small": 0, "school_quota_medium": 0, "school_quota_large": 0}
    db.session.commit()
    phone.goto(f"{live_server}/c/{contest.slug}/submit")
    expect(phone.get_by_text("贵校在本活动的名额已经用完，不能再推荐或报名。")).to_be_visible()
    expect(phone.get_by_role("button", name="提交报名")).to_have_count(0)
    screenshot(phone, "submit-no-place-left-phone.png")

    unexpected = [e for e in browser_log.errors if "status of 40" not in e]  # the refusals and the closed page
    assert unexpected == [], browser_log.errors
    assert browser_log.foreign_requests() == []
