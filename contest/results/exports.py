"""Organisers' exports: results, votes, judges' scores and the audit log as tables
(a header and rows), written as CSV (UTF-8 with a BOM, so Excel opens Chinese right) or
XLSX (openpyxl, bold frozen header, sized columns).

Building a table and writing a file are kept apart: the builders read the database
through the domains' services and return plain values; the writers know nothing of the
domains. Every text cell goes through `safe_cell`, because an exported title, comment or
audit summary was typed by someone else and a spreadsheet would run one that starts
with "=" as a formula (CSV / formula injection).
"""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..accounts import audit
from ..accounts.actors import SYSTEM
from ..accounts.models import User
from ..clock import to_local
from ..contests.models import Category, Contest, Entry, School
from ..db import SessionLike
from ..errors import Conflict, NotFound
from ..i18n import _, label_of
from ..judging import service as judging
from ..judging.models import Round
from ..voting.figures import figures as vote_figures
from . import certificates, formulas
from . import service as results
from .models import Publication

Cell = str | int | float | None
WHATS = ("results", "votes", "scores", "audit")
FORMATS = ("csv", "xlsx")
AUDIT_ROWS_MAX = 100_000
# Characters that make a spreadsheet read a cell as a formula (or, for tab and carriage
# return, start a new cell or line in some importers).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A publication's state as organisers read it (the results admin shows the same words).


@dataclass
class Table:
    """One export: the sheet's name, the header, the rows, and notes (what the data is,
    where it came from) that the XLSX keeps on a second sheet."""

    name: str
    header: list[str]
    rows: list[list[Cell]]
    notes: list[tuple[str, str]] = field(default_factory=list)


# --- cells and files -------------------------------------------------------------------


def safe_cell(value: Cell) -> Cell:
    """A text cell a spreadsheet will show, never run: a leading = + - @ (or tab, CR)
    gets an apostrophe in front. Numbers stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _csv_text(value: Cell) -> Cell:
    return "" if value is None else safe_cell(value)


def csv_chunks(table: Table, *, rows_per_chunk: int = 500) -> Iterator[bytes]:
    """The table as CSV bytes, in chunks for a streamed response. The first chunk starts
    with the UTF-8 byte order mark Excel needs to read the file as UTF-8."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([_csv_text(h) for h in table.header])
    pending = 0
    first = True
    for row in table.rows:
        writer.writerow([_csv_text(v) for v in row])
        pending += 1
        if pending >= rows_per_chunk:
            yield (("\ufeff" if first else "") + buffer.getvalue()).encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
            pending, first = 0, False
    yield (("\ufeff" if first else "") + buffer.getvalue()).encode("utf-8")


def _display_width(value: Cell) -> int:
    text = "" if value is None else str(value)
    # East Asian wide characters take two columns in a spreadsheet's default font.
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def column_widths(table: Table, *, sample: int = 500, minimum: int = 6, maximum: int = 60) -> list[float]:
    """Column widths (in characters) that fit the header and the first rows."""
    widths = [_display_width(h) for h in table.header]
    for row in table.rows[:sample]:
        for i, value in enumerate(row[:len(widths)]):
            widths[i] = max(widths[i], _display_width(value))
    return [float(min(maximum, max(minimum, w + 2))) for w in widths]


HEADER_FONT = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="F1ECE6")


def xlsx_bytes(table: Table) -> bytes:
    """The table as an XLSX workbook: the data sheet with a bold, frozen header and sized
    columns, then a 说明 sheet with the notes."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_sheet_name(table.name))
    sheet.freeze_panes = "A2"
    for i, width in enumerate(column_widths(table), start=1):
        sheet.column_dimensions[get_column_letter(i)].width = width
    header = []
    for title in table.header:
        cell = WriteOnlyCell(sheet, value=safe_cell(title))
        cell.font, cell.fill = HEADER_FONT, HEADER_FILL
        cell.alignment = Alignment(vertical="center")
        header.append(cell)
    sheet.append(header)
    for row in table.rows:
        sheet.append([safe_cell(v) for v in row])
    if table.notes:
        notes = workbook.create_sheet(_("说明"))
        notes.column_dimensions["A"].width = 16
        notes.column_dimensions["B"].width = 100
        for label, value in table.notes:
            name = WriteOnlyCell(notes, value=safe_cell(label))
            name.font = HEADER_FONT
            notes.append([name, safe_cell(value)])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _sheet_name(name: str) -> str:
    # Excel refuses these characters in a sheet name and names longer than 31.
    cleaned = "".join("_" if ch in "[]:*?/\\" else ch for ch in name).strip("'") or "Sheet"
    return cleaned[:31]


def _local_text(value: datetime | None) -> str:
    return to_local(value).strftime("%Y-%m-%d %H:%M:%S") if value else ""


def _number(value: Any) -> float | int | None:
    if value is None:
        return None
    number = float(value)
    return int(number) if number.is_integer() else round(number, 4)


# --- results -----------------------------------------------------------------------------


def explain_lines(comp: results.Computation) -> list[str]:
    """The formula's explanation of a computation, with category and group names."""
    return comp.explain()


def results_source(session: SessionLike, contest: Contest) -> Publication | None:
    """The publication an export of results shows: the one in 公示 or final, else the
    latest that was not withdrawn (pending or superseded); None means the preview."""
    current = results.current_publication(session, contest)
    if current is not None:
        return current
    return next((p for p in results.publications(session, contest) if p.state != "cancelled"), None)


def results_table(session: SessionLike, contest: Contest) -> Table:
    """Every entry's breakdown: of the current (or latest) publication, else the preview."""
    publication = results_source(session, contest)
    notes: list[tuple[str, str]] = [(_("活动"), contest.title)]
    if publication is not None:
        rows, rounds = publication.rows, [(r["key"], r["name"]) for r in publication.rounds]
        fingerprint = publication.fingerprint
        notes += [
            (_("来源"), _("第 %(v)s 版发布（%(state)s）", v=publication.version,
                         state=_(results.PUBLICATION_STATE_LABELS.get(publication.state, publication.state)))),
            (_("计算时间"), _local_text(publication.computed_at)),
            (_("颁奖日期"), certificates.award_date(contest, publication).isoformat()),
            (_("账本区块"), json.dumps(publication.ledger_head, ensure_ascii=False)),
        ]
        if publication.amendment_reason:
            notes.append((_("更正理由"), publication.amendment_reason))
    else:
        comp = results.compute(session, contest)
        rows, rounds = results.breakdown_rows(comp), [(r.key, r.name) for r in comp.rounds]
        fingerprint = comp.fingerprint
        notes.append((_("来源"), _("预览（尚未发布，结果可能变化）")))
        notes += [(_("提示"), w) for w in comp.warnings]
        notes += [(_("算式") if i == 0 else "", line) for i, line in enumerate(explain_lines(comp)) if line]
    notes.append((_("公式指纹"), fingerprint))
    kind = formulas.kind_of(contest.kind)
    with_votes, with_vote_score = kind.counts_votes, kind.has_vote_score
    header = [_("名次"), _("作品编号"), _("作品"), _("学校"), _("类别")]
    if with_votes:
        header += [_("有效票"), _("待审票"), _("作废票")]
    if with_vote_score:
        header.append(_("投票得分"))
    header += [_("%(name)s得分", name=name) for _key, name in rounds]
    header += [_("最终得分"), _("奖项")]
    body: list[list[Cell]] = []
    for row in rows:
        line: list[Cell] = [row.get("rank"), row.get("entry_id"), row.get("title", ""), row.get("school", ""),
                            row.get("category", "")]
        if with_votes:
            line += [row.get("valid_votes", 0), row.get("held_votes", 0), row.get("voided_votes", 0)]
        if with_vote_score:
            line.append(_number(row.get("vote_score")))
        line += [_number((row.get("round_scores") or {}).get(key)) for key, _name in rounds]
        line += [_number(row.get("final_score")), "、".join(row.get("awards") or ([row["award"]] if row.get("award") else []))]
        body.append(line)
    return Table(_("结果"), header, body, notes)


# --- votes -------------------------------------------------------------------------------


def votes_table(session: SessionLike, contest: Contest) -> Table:
    """Counted (valid), held and voided votes per entry as the vote table has them now
    (voting.figures, the fraud desk's figures), most counted votes first; an entry no
    longer in the running is listed with its status when it has votes."""
    found = vote_figures(session, contest.id)
    # the contest's entries as plain columns, read in batches; those not in the running
    # and without votes are dropped here (no IN list of every entry with votes)
    entries = [row for row in session.execute(
        select(Entry.id, Entry.title, School.name, Category.name, Entry.status)
        .outerjoin(School, School.id == Entry.school_id).outerjoin(Category, Category.id == Entry.category_id)
        .where(Entry.contest_id == contest.id).execution_options(yield_per=5000))
        if row[4] == "approved" or row[0] in found.entries]
    entries.sort(key=lambda row: (-found.counted(row[0]), row[0]))
    header = [_("作品编号"), _("作品"), _("学校"), _("类别"), _("作品状态"), _("有效票"), _("待审票"), _("作废票"), _("合计")]
    body: list[list[Cell]] = []
    labels: dict[str, str] = {}  # each status's label looked up once, not once a row
    for entry_id, title, school, category, status in entries:
        c = found.of(entry_id)
        if status not in labels:
            labels[status] = label_of("entry_status", status)
        body.append([entry_id, title, school or "", category or "", labels[status], c.counted, c.held, c.voided, c.total])
    notes = [(_("活动"), contest.title),
             (_("说明"), _("按投票表中每张票的当前状态统计；公布的结果只计已封存账本中的有效票。"))]
    return Table(_("票数"), header, body, notes)


# --- judges' scores ------------------------------------------------------------------------


def _criterion_label(name: str, maximum: float) -> str:
    return _("%(name)s（满分%(max)s）", name=name, max=f"{maximum:g}")


def scores_table(session: SessionLike, contest: Contest, *, round_id: int | None = None) -> Table:
    """Judges' raw per-criterion scores of finalised rounds only: scores of a round that
    is not finalised may still change, and judges must not see each other's before."""
    rounds = judging.rounds_of(session, contest)
    if round_id is not None:
        rounds = [r for r in rounds if r.id == round_id]
        if not rounds:
            raise NotFound(_("没有这个评审轮次。"))
        if rounds[0].state != "finalised":
            raise Conflict(_("“%(name)s”尚未定稿，评委评分只能在轮次定稿后导出。", name=rounds[0].name),
                           code="round_not_final")
    final = [r for r in rounds if r.state == "finalised"]
    skipped = [r for r in rounds if r.state != "finalised"]
    labels: list[str] = []
    for rnd in final:
        for criterion in rnd.criteria:
            label = _criterion_label(criterion.name, criterion.maximum)
            if label not in labels:
                labels.append(label)
    header = [_("轮次"), _("作品编号"), _("作品"), _("学校"), _("评委"), *labels, _("加权总分"), _("评语"), _("提交时间")]
    body: list[list[Cell]] = []
    for rnd in final:
        body += _round_rows(session, rnd, labels)
    notes = [(_("活动"), contest.title),
             (_("已导出的轮次"), "、".join(r.name for r in final) or _("（无）")),
             (_("未导出"), _("未定稿的轮次不导出评委评分：%(names)s", names="、".join(r.name for r in skipped))
              if skipped else _("（无）"))]
    return Table(_("评委评分"), header, body, notes)


def _round_rows(session: SessionLike, rnd: Round, labels: list[str]) -> list[list[Cell]]:
    scores = judging.submitted_score_rows(session, rnd)
    entries = {e.id: e for e in session.scalars(
        select(Entry).where(Entry.id.in_({s.entry_id for s in scores} or {0})).options(selectinload(Entry.school)))}
    position = {c.id: labels.index(_criterion_label(c.name, c.maximum)) for c in rnd.criteria}
    rows: list[list[Cell]] = []
    for score in scores:
        entry = entries.get(score.entry_id)
        values = {int(k): float(v) for k, v in (score.values or {}).items()}
        cells: list[Cell] = [None] * len(labels)
        for cid, value in values.items():
            if cid in position:
                cells[position[cid]] = _number(value)
        total: Cell = judging.score_total(rnd, values)
        rows.append([rnd.name, score.entry_id, entry.title if entry else "",
                     entry.school.name if entry and entry.school else "", _judge_name(score.judge), *cells,
                     total, score.comment or "", _local_text(score.submitted_at)])
    return rows


def _judge_name(user: User | None) -> str:
    return user.name_or_phone if user is not None else ""


# --- the audit log ------------------------------------------------------------------------


def audit_table(session: SessionLike, *, action: str = "", target_type: str = "", contest_id: int | None = None,
                unit_id: int | None = None) -> Table:
    """The audit log of one contest (or one unit), newest first, with the filters of the audit page."""
    events, total = audit.list_events(session, action=action, target_type=target_type, limit=AUDIT_ROWS_MAX,
                                      contest_id=contest_id, unit_id=unit_id)
    # The action and the target are shown in words; their codes follow in columns of their own,
    # after the existing ones, for whoever filters or joins the file by code.
    header = [_("时间"), _("操作人"), _("操作"), _("对象类型"), _("对象编号"), _("摘要"), _("变更前"), _("变更后"),
              _("操作代码"), _("对象类型代码")]
    body: list[list[Cell]] = [
        [_local_text(e.created_at), e.actor.name_or_phone if e.actor else _(SYSTEM.label), label_of("audit_action", e.action),
         label_of("audit_target", e.target_type), e.target_id, e.summary, _json(audit.labelled(e.action, e.before)),
         _json(audit.labelled(e.action, e.after)), e.action,
         e.target_type]
        for e in events
    ]
    notes = [(_("筛选"), _("操作：%(a)s；对象：%(t)s", a=label_of("audit_action", action) if action else _("全部"),
                         t=label_of("audit_target", target_type) if target_type else _("全部")))]
    if total > len(events):
        notes.append((_("提示"), _("共 %(n)s 条，只导出了最新的 %(m)s 条。", n=total, m=len(events))))
    return Table(_("操作日志"), header, body, notes)


def _json(value: Any) -> str:
    return "" if value in (None, {}, []) else json.dumps(value, ensure_ascii=False, sort_keys=True)


# --- choosing ----------------------------------------------------------------------------


def build_table(session: SessionLike, contest: Contest, what: str, *, round_id: int | None = None, action: str = "",
                target_type: str = "") -> Table:
    """The table behind /export/<what>.<fmt>."""
    if what == "results":
        return results_table(session, contest)
    if what == "votes":
        return votes_table(session, contest)
    if what == "scores":
        return scores_table(session, contest, round_id=round_id)
    if what == "audit":
        return audit_table(session, action=action, target_type=target_type, contest_id=contest.id)
    raise NotFound(_("没有这种导出。"))


EXPORT_NAMES = {"results": "结果", "votes": "票数", "scores": "评委评分", "audit": "操作日志"}


def file_names(contest: Contest, what: str, fmt: str) -> tuple[str, str]:
    """(ASCII fallback, Chinese name) of the downloaded file."""
    return f"{contest.slug}-{what}.{fmt}", f"{contest.short_title or contest.title}-{EXPORT_NAMES[what]}.{fmt}"

