"""Schools from a spreadsheet: a city's list of vocational schools, kept by the education
bureau in Excel, taken in at once instead of typed school by school.

`read_rows` reads a CSV (UTF-8, with or without the BOM Excel writes, or GBK, which
Excel on a Chinese Windows writes) or an XLSX file into rows by their column names;
`check_rows` checks every row the way the school form does (service._school_values) and
says, per row, what it will do (add or update a school of the same name) or what is
wrong, naming the row, the school and the field. Nothing is stored until the organiser
has seen that preview and confirmed it (`service.import_schools`), and then only the
rows without errors are stored, all in one transaction.

The contact phone, if given, names the account that will act for the school (学校联系人):
an account with that number is linked and given the role; a number nobody has
registered yet is reported, and the school is imported without a contact.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

from openpyxl import load_workbook
from sqlalchemy import select

from ..accounts.models import User
from ..accounts.service import normalize_phone
from ..db import SessionLike
from ..errors import DomainError, InvalidInput
from ..i18n import N_, _
from .models import School

MAX_ROWS = 2000
MAX_BYTES = 5 * 1024 * 1024
# The columns, by the names a spreadsheet may give them.
COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("学校名称", "学校", "名称"),
    "district": ("区县", "所在区县", "区"),
    "level": ("类型", "学校类型", "办学类型"),
    "enrolment": ("在校生人数", "在校生", "在校生数"),
    "phone": ("联系人手机", "联系人手机号", "联系电话", "手机"),
}
FIELD_LABELS = {"name": N_("学校名称"), "district": N_("区县"), "level": N_("类型"), "enrolment": N_("在校生人数"),
                "phone": N_("联系人手机")}
TEMPLATE_HEADER = [FIELD_LABELS[k] for k in ("name", "district", "level", "enrolment", "phone")]


@dataclass
class Row:
    """One spreadsheet row as checked: its number (as the spreadsheet counts, the header
    being row 1), its values, what it will do, and what is wrong with it."""

    number: int
    values: dict[str, str]
    action: str = ""  # "create" or "update" when it has no errors
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    contact_id: int | None = None

    @property
    def ok(self) -> bool:
        return not self.errors


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # Excel keeps numbers as floats: 1200.0 is 1200
    return str(value).strip()


def read_rows(data: bytes, filename: str) -> list[dict[str, str]]:
    """The file's rows as {field: text}; InvalidInput when it cannot be read or lacks the
    school name column."""
    if len(data) > MAX_BYTES:
        raise InvalidInput(_("文件太大：请上传不超过 5 MB 的表格。"), code="file_too_large", field="file")
    if data[:4] == b"PK\x03\x04" or filename.lower().endswith(".xlsx"):
        table = _xlsx_rows(data)
    else:
        table = _csv_rows(data)
    table = [row for row in table if any(_text(v) for v in row)]
    if not table:
        raise InvalidInput(_("表格是空的：第一行应为表头（学校名称、区县、类型、在校生人数、联系人手机）。"),
                           code="empty_file", field="file")
    header = [_text(h) for h in table[0]]
    where: dict[str, int] = {}
    for key, names in COLUMNS.items():
        for i, title in enumerate(header):
            if title in names and key not in where:
                where[key] = i
    if "name" not in where:
        raise InvalidInput(_("表头里没有“学校名称”一列：请使用下载的模板，第一行为表头。"), code="no_name_column",
                           field="file")
    if len(table) - 1 > MAX_ROWS:
        raise InvalidInput(_("一次最多导入 %(n)s 所学校，请分几次导入。", n=MAX_ROWS), code="too_many_rows", field="file")
    return [{key: _text(row[i]) if i < len(row) else "" for key, i in where.items()} for row in table[1:]]


def _xlsx_rows(data: bytes) -> list[list[Any]]:
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        sheet = workbook.worksheets[0]
        rows = [list(r) for r in sheet.iter_rows(values_only=True, max_row=MAX_ROWS + 2)]
        workbook.close()
        return rows
    except Exception:  # openpyxl raises many kinds for a damaged or disguised file
        raise InvalidInput(_("无法读取这个 Excel 文件：请另存为 .xlsx 或 CSV 后再上传。"), code="bad_file",
                           field="file") from None


def _csv_rows(data: bytes) -> list[list[Any]]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes any byte string
        raise InvalidInput(_("无法识别文件的编码：请另存为 UTF-8 编码的 CSV 或 .xlsx 后再上传。"), code="bad_file", field="file")
    if "\x00" in text:
        raise InvalidInput(_("这不是表格文件：请上传 CSV 或 .xlsx 文件。"), code="bad_file", field="file")
    return [list(r) for r in csv.reader(io.StringIO(text))]


def check_rows(session: SessionLike, rows: list[dict[str, str]], *, values_of: Any) -> list[Row]:
    """Every row checked (values_of: the school form's own check, service._school_values),
    with what it will do or why it cannot be imported."""
    existing = {name for name in session.scalars(select(School.name))}
    phones = [r.get("phone", "") for r in rows]
    accounts = _accounts_by_phone(session, phones)
    seen: dict[str, int] = {}
    checked: list[Row] = []
    for n, values in enumerate(rows, start=2):
        row = Row(n, values)
        name = values.get("name", "")
        who = f"“{name}”" if name else ""
        try:
            clean = values_of(name, values.get("district", ""), values.get("level", ""), values.get("enrolment", "") or "0")
            row.values = {**values, **{k: str(v) for k, v in clean.items()}}
        except DomainError as exc:
            label = FIELD_LABELS.get(exc.field or "", "")
            row.errors.append(_("第 %(n)s 行%(who)s：%(field)s%(problem)s", n=n, who=who,
                                field=f"{_(label)} — " if label else "", problem=exc.message))
        if name and name in seen:
            row.errors.append(_("第 %(n)s 行“%(name)s”：与第 %(first)s 行重复。", n=n, name=name, first=seen[name]))
        elif name:
            seen[name] = n
        phone = values.get("phone", "")
        if phone:
            try:
                normal = normalize_phone(phone)
                row.values["phone"] = normal
                user = accounts.get(normal)
                if user is None:
                    row.warnings.append(_("第 %(n)s 行%(who)s：联系人手机 %(phone)s 还没有注册账号，学校先不关联联系人；"
                                          "请联系人用这个手机号注册后再导入一次。", n=n, who=who, phone=normal))
                else:
                    row.contact_id = user.id
            except DomainError:
                row.errors.append(_("第 %(n)s 行%(who)s：联系人手机 — 请输入正确的 11 位中国大陆手机号码。", n=n, who=who))
        if row.ok:
            row.action = "update" if row.values["name"] in existing else "create"
        checked.append(row)
    return checked


def _accounts_by_phone(session: SessionLike, raw: list[str]) -> dict[str, User]:
    phones = set()
    for value in raw:
        try:
            phones.add(normalize_phone(value))
        except DomainError:
            continue
    if not phones:
        return {}
    return {u.phone: u for u in session.scalars(select(User).where(User.phone.in_(phones)))}


def template_csv() -> bytes:
    """The CSV template: the header and two example rows, with the BOM Excel needs."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(TEMPLATE_HEADER)
    writer.writerow(["济南市示例职业中等专业学校", "历下区", "中职", "1800", ""])
    writer.writerow(["济南示例职业学院", "长清区", "高职", "9000", ""])
    return ("\ufeff" + out.getvalue()).encode("utf-8")
