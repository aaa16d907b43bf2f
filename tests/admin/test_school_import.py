"""Schools from a spreadsheet: a CSV (UTF-8 or GBK) or XLSX is previewed row by row, with
every bad row reported by number, school and field, and only the good rows are stored
when the organiser confirms, with their contacts linked; audit-logged."""

from __future__ import annotations

import csv
import io
import json
import re
from html import unescape
from typing import Any

import openpyxl
import pytest
from sqlalchemy import func, select

from contest.accounts.models import AuditEvent, User
from contest.contests.models import DISTRICTS, School, SchoolContact
from contest.extensions import db
from tests.conftest import csrf_token
from tests.site.isolation import committed

from .conftest import sign_in

HEADER = ["学校名称", "区县", "类型", "在校生人数", "联系人手机"]


def twenty_schools(contact_phone: str = "") -> list[list[str]]:
    """20 rows: 18 good (one with a registered contact, one with an unregistered one), a
    row with an unknown district and a row with a bad phone number."""
    rows = [[f"济南第{n:02d}职业中等专业学校", DISTRICTS[n % 12], "中职" if n % 3 else "高职", str(800 + n * 10), ""]
            for n in range(1, 21)]
    rows[2][4] = contact_phone
    rows[3][4] = "13900001111"  # nobody has registered with it
    rows[6][1] = "历下县"  # no such district
    rows[11][4] = "1234"  # not a phone number
    return rows


def csv_bytes(rows: list[list[str]], encoding: str = "utf-8-sig") -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows([HEADER, *rows])
    return out.getvalue().encode(encoding)


def xlsx_bytes(rows: list[list[Any]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def upload(client: Any, data: bytes, name: str) -> Any:
    return client.post("/admin/schools/import", content_type="multipart/form-data", data={
        "csrf_token": csrf_token(client, "/admin/schools/import"), "file": (io.BytesIO(data), name)})


def schools() -> int:
    return committed(select(func.count()).select_from(School))


def html(response: Any) -> str:
    return response.get_data(as_text=True)


def confirm(client: Any, preview: str) -> Any:
    match = re.search(r'name="rows" value="([^"]*)"', preview)
    assert match, "the preview offers no import"
    return client.post("/admin/schools/import/confirm", data={
        "csrf_token": csrf_token(client, "/admin/schools/import"), "rows": unescape(match.group(1))})


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gb18030"])
def test_twenty_schools_with_two_bad_rows(client, organiser, make_user, encoding):
    contact = make_user("citizen", name="王老师")
    before = schools()
    preview = upload(client, csv_bytes(twenty_schools(contact.phone), encoding), "学校名单.csv")
    assert preview.status_code == 200
    page = html(preview)
    assert schools() == before  # a preview stores nothing
    assert "共 20 行：可以导入 18 行（新增 18，更新 0），有错误 2 行。" in page
    assert "第 8 行“济南第07职业中等专业学校”：区县 — 请选择济南市的区县。" in page
    assert "第 13 行“济南第12职业中等专业学校”：联系人手机 — 请输入正确的 11 位中国大陆手机号码。" in page
    assert "联系人手机 13900001111 还没有注册账号" in page

    done = confirm(client, page)
    assert done.status_code == 302 and done.headers["Location"] == "/admin/schools"
    assert schools() == before + 18
    listing = html(client.get("/admin/schools"))
    assert "已导入：新增 18 所学校，更新 0 所，关联联系人 1 位。" in listing
    assert "济南第07职业中等专业学校" not in listing and "济南第12职业中等专业学校" not in listing
    db.session.expire_all()
    third = db.session.scalar(select(School).where(School.name == "济南第03职业中等专业学校"))
    assert (third.district, third.level, third.enrolment) == (DISTRICTS[3], "高职", 830)
    assert db.session.scalar(select(SchoolContact.school_id).where(SchoolContact.user_id == contact.id)) == third.id
    assert "school_contact" in db.session.get(User, contact.id).role_names
    [event] = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "school.import"))
    assert event.after == {"created": 18, "updated": 0, "contacts": 1, "skipped": 0}
    assert len(list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == "school.create")))) == 18


def test_an_xlsx_updates_schools_of_the_same_name_and_flags_repeats(client, organiser):
    first = upload(client, xlsx_bytes([["济南商贸职业学校", "市中区", "中职", 2400, None]]), "schools.xlsx")
    assert confirm(client, html(first)).status_code == 302
    again = html(upload(client, xlsx_bytes([["济南商贸职业学校", "市中区", "中职", 2600.0, None],
                                            ["济南商贸职业学校", "历下区", "中职", 100, None]]), "schools.xlsx"))
    assert "可以导入 1 行（新增 0，更新 1），有错误 1 行" in again
    assert "第 3 行“济南商贸职业学校”：与第 2 行重复。" in again
    assert confirm(client, again).status_code == 302
    db.session.expire_all()
    assert db.session.scalar(select(School.enrolment).where(School.name == "济南商贸职业学校")) == 2600


@pytest.mark.parametrize(("data", "name", "message"), [
    (b"", "empty.csv", "表格是空的"),
    ("名称不对,区县\n甲,历下区\n".encode(), "x.csv", "表头里没有“学校名称”一列"),
    (b"PK\x03\x04not really a workbook", "fake.xlsx", "无法读取这个 Excel 文件"),
    (b"\x00\x01\x02binary", "a.csv", "这不是表格文件"),
])
def test_files_that_cannot_be_read_say_why(client, organiser, data, name, message):
    response = upload(client, data, name)
    assert response.status_code == 400 and message in html(response)


def test_only_organisers_import_and_the_confirm_is_checked_again(client, organiser, make_user):
    forged = json.dumps([{"name": "伪造学校", "district": "火星区", "level": "中职", "enrolment": "1"}], ensure_ascii=False)
    response = client.post("/admin/schools/import/confirm", data={
        "csrf_token": csrf_token(client, "/admin/schools/import"), "rows": forged})
    assert response.status_code == 302 and schools() == 0  # the bad row is left out, and said
    assert "有 1 行因内容已变化未导入" in html(client.get("/admin/schools"))
    assert client.post("/admin/schools/import/confirm", data={
        "csrf_token": csrf_token(client, "/admin/schools/import"), "rows": "{not json"}).status_code == 400
    no_file = client.post("/admin/schools/import", data={"csrf_token": csrf_token(client, "/admin/schools/import")})
    assert no_file.status_code == 400 and "请选择要上传的表格文件" in html(no_file)


def test_a_citizen_cannot_import(client, make_user):
    sign_in(client, make_user("citizen"))
    assert client.get("/admin/schools/import").status_code == 403
    response = client.post("/admin/schools/import/confirm", data={"rows": "[]"})
    assert response.status_code in (400, 403) and schools() == 0


def test_the_template_downloads(client, organiser):
    response = client.get("/admin/schools/import/template.csv")
    assert response.status_code == 200 and response.get_data().startswith("\ufeff学校名称,区县,类型".encode())
