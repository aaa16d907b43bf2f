"""An organiser's contest form on a desktop: choosing the kind shows that kind's rules at
once (the other kinds' are hidden by static/js/contest-form.js, no round trip), and a
form with two mistakes comes back with both messages beside their fields and a list of
them at the top whose links lead to the fields."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from contest.contests.models import Contest
from tests.site.isolation import committed

from .browser import DESKTOP, BrowserLog, log_in, screenshot

pytestmark = pytest.mark.e2e


def test_the_rules_follow_the_kind_and_every_mistake_shows_at_its_field(
        live_server: str, new_page: Callable[..., Page], browser_log: BrowserLog, make_user: Any) -> None:
    organiser = make_user("organiser", name="组织者")
    page = new_page(**DESKTOP)
    log_in(page, live_server, organiser.phone)
    page.goto(f"{live_server}/admin/contests/new?kind=media")

    sections = {kind: page.locator(f'fieldset[data-rules-kind="{kind}"]') for kind in ("selection", "media", "innovation")}
    expect(sections["media"]).to_be_visible()
    expect(sections["selection"]).to_be_hidden()
    expect(sections["innovation"]).to_be_hidden()
    # by role: only what is on view counts (a hidden field is out of the accessibility tree)
    expect(page.get_by_role("spinbutton", name="每人每天可投票数", exact=True)).to_have_value("5")

    page.get_by_label("活动类型").select_option(label="创新创业大赛")
    expect(sections["innovation"]).to_be_visible()
    expect(sections["media"]).to_be_hidden()
    expect(page.get_by_role("spinbutton", name="每人每天可投票数", exact=True)).to_have_count(0)
    students_max = page.get_by_role("spinbutton", name="每支团队最多学生数", exact=True)
    expect(students_max).to_have_value("5")
    expect(sections["innovation"].locator("#rule-innovation-team_students_max-hint")).to_contain_text("报名表按这个数给出学生填写行")

    page.get_by_label("活动类型").select_option(label="网络评选")
    expect(sections["selection"]).to_be_visible()
    expect(page.get_by_role("spinbutton", name="被推荐学生最大年龄（周岁）", exact=True)).to_have_value("40")
    page.get_by_label("活动类型").select_option(label="创新创业大赛")

    # two mistakes: no title, and a team of at most 99 students
    page.get_by_label("网址标识", exact=True).fill("hyp-2023")
    students_max.fill("99")
    page.get_by_role("spinbutton", name="每支团队最少学生数", exact=True).fill("3")
    page.get_by_role("button", name="保存").click()

    summary = page.locator("#error-summary")
    expect(summary).to_be_visible()
    expect(summary.locator("li")).to_have_count(2)
    expect(page.locator("#title-error")).to_have_text("请填写活动名称。")
    expect(page.locator("#rule-innovation-team_students_max-error")).to_have_text("规则“每支团队最多学生数”应在 1 到 15 之间。")
    expect(page.locator("#title")).to_have_attribute("aria-describedby", "title-hint title-error")
    expect(page.locator("#rule-innovation-team_students_max")).to_have_attribute("aria-invalid", "true")
    # the chosen kind is kept, and its rules are the ones on view
    expect(sections["innovation"]).to_be_visible()
    expect(sections["media"]).to_be_hidden()
    summary.get_by_role("link", name="每支团队最多学生数：规则“每支团队最多学生数”应在 1 到 15 之间。").click()
    assert page.url.endswith("#rule-innovation-team_students_max")
    assert committed(select(func.count()).select_from(Contest)) == 0

    page.evaluate("() => window.scrollTo(0, 0)")
    screenshot(page, "contest-form-kind.png")
    # the refused form's own 400 is the one error the console reports
    assert [e for e in browser_log.errors if "status of 400" not in e] == [] and browser_log.foreign_requests() == []
    assert len(browser_log.errors) == 1
