"""An organiser at the education bureau takes in the city's list of schools from a CSV:
the preview names the two bad rows (by row, school and field) and stores nothing; the
confirmation stores the other 18 and links the contact who has an account."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from contest.accounts.models import User
from contest.contests.models import School
from tests.admin.test_school_import import csv_bytes, twenty_schools
from tests.site.isolation import committed

from .browser import DESKTOP, BrowserLog, log_in, screenshot

pytestmark = pytest.mark.e2e


def test_a_csv_of_twenty_schools_with_two_bad_rows(live_server: str, new_page: Callable[..., Page],
                                                   browser_log: BrowserLog, make_user: Callable[..., User],
                                                   tmp_path: Path) -> None:
    organiser = make_user("organiser", name="市教育局 李老师")
    contact = make_user("citizen", name="王老师")
    sheet = tmp_path / "学校名单.csv"
    sheet.write_bytes(csv_bytes(twenty_schools(contact.phone), "gb18030"))  # as Excel on Windows saves it

    page = new_page(**DESKTOP)
    log_in(page, live_server, organiser.phone, next_path="/admin/schools")
    page.get_by_role("link", name="从表格导入").click()
    page.get_by_label("表格文件").set_input_files(str(sheet))
    page.get_by_role("button", name="上传并预览").click()

    expect(page.get_by_text("共 20 行：可以导入 18 行（新增 18，更新 0），有错误 2 行。")).to_be_visible()
    errors = page.locator(".import-errors li")
    expect(errors).to_have_count(2)
    expect(errors.nth(0)).to_have_text("第 8 行“济南第07职业中等专业学校”：区县 — 请选择济南市的区县。")
    expect(errors.nth(1)).to_have_text("第 13 行“济南第12职业中等专业学校”：联系人手机 — 请输入正确的 11 位中国大陆手机号码。")
    expect(page.locator("tr.import-bad")).to_have_count(2)
    assert committed(select(func.count()).select_from(School)) == 0  # the preview stored nothing
    screenshot(page, "school-import-preview.png")

    page.get_by_role("button", name="确认导入 18 所学校").click()
    expect(page.get_by_text("已导入：新增 18 所学校，更新 0 所，关联联系人 1 位。")).to_be_visible()
    expect(page.get_by_role("link", name="济南第03职业中等专业学校")).to_be_visible()
    assert committed(select(func.count()).select_from(School)) == 18
    assert browser_log.errors == [] and browser_log.foreign_requests() == []
