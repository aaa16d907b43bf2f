"""Organising units in a browser. The 历下区 unit's administrator, on a desktop, sees only
the district's own contest in the back office (the city's and 章丘区's are not listed and
cannot be opened), gives a colleague the reviewer role by phone number, and starts a new
全民美拍 from the district template. A citizen on a phone finds the district contests
under 区县活动 on the home page and filters them by 区县."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select

from contest.accounts.models import OrganisingUnit, UnitMembership, User
from contest.contests.models import Contest
from contest.extensions import db

from .browser import DESKTOP, PHONE, BrowserLog, log_in, screenshot

pytestmark = pytest.mark.e2e


def test_a_district_runs_its_own_contest_and_citizens_find_it(
        app: Flask, live_server: str, new_page: Callable[..., Page], browser_log: BrowserLog,
        make_user: Callable[..., User], make_contest: Callable[..., Contest],
        make_unit: Callable[..., OrganisingUnit]) -> None:
    city = make_contest(kind="selection", stage="voting", slug="zuimei-e2e", title="济南市“最美职校生”网络评选活动")
    lixia = make_unit("历下区教育和体育局", district="历下区")
    zhangqiu = make_unit("章丘区教育和体育局", district="章丘区")
    own = make_contest(kind="media", stage="voting", slug="lixia-e2e", title="历下区全民美拍活动", unit_id=lixia.id)
    theirs = make_contest(kind="media", stage="submission", slug="zhangqiu-e2e", title="章丘区全民美拍活动",
                          unit_id=zhangqiu.id)
    admin = make_user(unit=lixia, unit_role="admin", name="历下区教体局")
    colleague = make_user("citizen", name="审核老师", phone="13912340077")

    desk = new_page(**DESKTOP)
    log_in(desk, live_server, admin.phone, next_path="/admin/")
    main = desk.locator("main")
    expect(main.get_by_role("link", name=own.title)).to_be_visible()
    expect(main.get_by_text(city.title)).to_have_count(0)
    expect(main.get_by_text(theirs.title)).to_have_count(0)
    screenshot(desk, "district-back-office.png")
    refused = desk.goto(f"{live_server}/admin/contests/{theirs.id}")
    assert refused is not None and refused.status == 403
    browser_log.errors.clear()  # the console reports that 403

    # The unit's page: a colleague becomes a reviewer of every contest of the unit.
    desk.goto(f"{live_server}/admin/units")
    desk.get_by_role("link", name="历下区教育和体育局").click()
    desk.get_by_label("手机号（对方须已在网站注册）").fill(colleague.phone)
    desk.get_by_label("角色", exact=True).select_option(label="审核员")
    desk.get_by_role("button", name="授予").click()
    expect(desk.get_by_text("已授予角色。")).to_be_visible()
    expect(desk.get_by_role("row", name="审核老师")).to_contain_text("审核员")
    screenshot(desk, "district-unit-members.png")
    db.session.expire_all()
    assert db.session.scalar(select(UnitMembership.role).where(UnitMembership.user_id == colleague.id)) == "reviewer"

    # A new 全民美拍 of the district, from its template: saved as filled in.
    desk.get_by_role("link", name="新建本单位的全民美拍").click()
    expect(desk.get_by_label("活动名称")).to_have_value("历下区“技能：让生活更美好”全民美拍活动")
    desk.get_by_label("网址标识").fill("lixia-meipai-new")
    desk.get_by_role("button", name="保存").first.click()
    expect(desk.get_by_text("活动已创建。")).to_be_visible()
    made = db.session.scalar(select(Contest).where(Contest.slug == "lixia-meipai-new"))
    assert made is not None and made.unit_id == lixia.id

    # On a phone: the city's contests first, then the districts', filtered by 区县.
    phone = new_page(**PHONE)
    phone.goto(f"{live_server}/")
    cards = phone.locator("main .contest-card h3")
    titles = cards.all_inner_texts()
    assert titles.index(city.title) < titles.index(own.title), titles
    phone.get_by_role("navigation", name="按区县筛选").get_by_role("link", name="历下区").click()
    expect(phone.locator("main")).to_contain_text(own.title)
    expect(phone.locator("main")).not_to_contain_text(theirs.title)
    expect(phone.get_by_role("link", name="历下区", exact=True)).to_have_attribute("aria-current", "page")
    phone.locator("#district-title").scroll_into_view_if_needed()
    screenshot(phone, "phone-home-district-filter.png")
    phone.get_by_role("link", name=own.title).first.click()
    expect(phone.locator("main")).to_contain_text("主办单位：历下区教育和体育局")
    assert browser_log.errors == [] and browser_log.foreign_requests() == []
