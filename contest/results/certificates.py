"""Award certificates (荣誉证书): one A4 landscape page per award of a winner in a
publication in 公示 or final, drawn with Pillow and saved as PDF, ready to print.

Everything printed comes from the frozen publication (title, school, award) and the
entry's people (nominee, team, author); the organisers are the contest's own
(``Contest.organiser``), else the bureau and the 职教社 named in the city's notice.
Each certificate carries a number made of its award date's year, the contest, the
publication version and the entry, and a short verification code — the first 8 hex of sha256(formula fingerprint +
entry id + award) — so a certificate can be checked against the published results.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from ..clock import to_local
from ..contests.models import Contest, Entry
from ..db import SessionLike
from ..errors import NotFound
from ..i18n import _
from ..typesetting import cjk_font, fit_lines, wrap_text
from . import service as results
from .models import Publication

DPI = 150
PAGE = (1754, 1240)  # A4 landscape (297 × 210 mm) at 150 dpi
# The city's notice (济教发〔2023〕9号): the bureau leads the week, the 职教社 runs the
# 最美职校生 selection and the 黄炎培 contest.
DEFAULT_ORGANISERS = ("济南市教育局", "济南市中华职业教育社")
ISSUABLE_STATES = ("publicity", "final")

RED, RED_DARK, GOLD, INK, GREY = (158, 27, 30), (120, 18, 22), (176, 132, 40), (40, 32, 28), (110, 100, 92)
PAPER, PAPER_EDGE = (252, 248, 238), (244, 233, 208)


@dataclass(frozen=True)
class Certificate:
    """What one certificate says."""

    kind: str
    contest_title: str
    award: str
    entry_id: int
    entry_title: str
    school: str
    recipient: str  # who the certificate is made out to, without the closing colon
    people: str  # team members and advisors, for a team
    organisers: tuple[str, ...]
    issued_on: date
    number: str
    code: str


def verification_code(fingerprint: str, entry_id: int, award: str) -> str:
    """First 8 hex of sha256(fingerprint + entry id + award): changes with any of them."""
    return hashlib.sha256(f"{fingerprint}{entry_id}{award}".encode()).hexdigest()[:8]


def certificate_number(contest: Contest, publication: Publication, entry_id: int, index: int = 0) -> str:
    """JN<year>-<contest><version>-<entry>, with -2, -3 … for an entry's further awards. The
    year is the award date's (`award_date`), the year the certificate is dated with."""
    suffix = f"-{index + 1}" if index else ""
    year = award_date(contest, publication).year
    return f"JN{year}-{contest.id:02d}{publication.version:02d}-{entry_id:05d}{suffix}"


def week_name(year: int) -> str:
    """济南市 <year> 年职业教育活动周: the week of a certificate's year."""
    return f"济南市 {year} 年职业教育活动周"


def award_date(contest: Contest, publication: Publication) -> date:
    """The date certificates are signed with: the contest's 颁奖日期 when set, else the
    day (Beijing time) the publication was finalised, confirmed or requested."""
    if contest.awarded_on is not None:
        return contest.awarded_on
    published: datetime = publication.finalised_at or publication.confirmed_at or publication.requested_at
    return to_local(published).date()


def organisers_of(contest: Contest) -> tuple[str, ...]:
    """The contest's organising unit and co-organisers, one per line."""
    return tuple(contest.organisers) or DEFAULT_ORGANISERS


CHINESE_DIGITS = "〇一二三四五六七八九"


def _chinese_number(n: int) -> str:
    if n < 10:
        return CHINESE_DIGITS[n]
    tens, units = divmod(n, 10)
    return ("" if tens == 1 else CHINESE_DIGITS[tens]) + "十" + (CHINESE_DIGITS[units] if units else "")


def chinese_date(day: date) -> str:
    """二〇二三年五月二十六日, as certificates are dated."""
    year = "".join(CHINESE_DIGITS[int(d)] for d in str(day.year))
    return f"{year}年{_chinese_number(day.month)}月{_chinese_number(day.day)}日"


# --- who gets one ------------------------------------------------------------------------


def issuable_publication(session: SessionLike, contest: Contest) -> Publication:
    """The publication certificates are printed from: the current one in 公示 or final."""
    publication = results.current_publication(session, contest)
    if publication is None or publication.state not in ISSUABLE_STATES:
        raise NotFound(_("结果尚未公示，还不能打印获奖证书。"), code="not_published")
    return publication


def awards_of(row: dict[str, Any]) -> list[str]:
    return list(row.get("awards") or ([row["award"]] if row.get("award") else []))


def winners(publication: Publication) -> list[dict[str, Any]]:
    """The publication's rows that carry an award, in the published order."""
    return [row for row in publication.rows if awards_of(row)]


def _recipient(kind: str, entry: Entry | None, row: dict[str, Any]) -> tuple[str, str]:
    school = row.get("school", "")
    if kind == "selection":
        name = entry.nominee.name if entry is not None and entry.nominee is not None else ""
        return (f"{school}　{name} 同学".strip() if name else school or row.get("title", "")), ""
    if kind == "innovation":
        members = entry.team_members if entry is not None else []
        students = "、".join(m.name for m in members if m.role != "advisor")
        advisors = "、".join(m.name for m in members if m.role == "advisor")
        # "；" rather than a wide space: line wrapping folds spaces.
        people = "；".join(part for part in (f"团队成员：{students}" if students else "",
                                              f"指导教师：{advisors}" if advisors else "") if part)
        return (f"{school}　项目团队" if school else "项目团队"), people
    author = entry.submitted_by.display_name if entry is not None and entry.submitted_by is not None else ""
    return (author or school or "参赛者"), (school if author and school else "")


def certificates_for(session: SessionLike, contest: Contest, publication: Publication, entry_id: int) -> list[Certificate]:
    """One certificate per award the entry holds in the publication; NotFound when it
    holds none."""
    row = results.row_of(publication, entry_id)
    awards = awards_of(row) if row else []
    if row is None or not awards:
        raise NotFound(_("这件作品在本次公布的结果中没有获奖，没有获奖证书。"), code="not_a_winner")
    entry = session.get(Entry, entry_id)
    recipient, people = _recipient(contest.kind, entry, row)
    issued_on = award_date(contest, publication)
    return [
        Certificate(kind=contest.kind, contest_title=contest.title, award=award, entry_id=entry_id,
                    entry_title=row.get("title", ""), school=row.get("school", ""), recipient=recipient, people=people,
                    organisers=organisers_of(contest), issued_on=issued_on,
                    number=certificate_number(contest, publication, entry_id, i),
                    code=verification_code(publication.fingerprint, entry_id, award))
        for i, award in enumerate(awards)
    ]


# --- drawing -------------------------------------------------------------------------------


def serif_font_path(font_path: str) -> str:
    """The serif sibling of the discovered CJK font (Noto Serif CJK beside Noto Sans CJK),
    which suits a certificate; the font itself when there is none."""
    candidate = font_path.replace("Sans", "Serif")
    return candidate if candidate != font_path and Path(candidate).is_file() else font_path


WORK_LABELS = {"selection": "推荐事迹", "media": "参赛作品", "innovation": "参赛项目"}
LEFT, RIGHT = 250, PAGE[0] - 250
MEASURE = RIGHT - LEFT


class Painter:
    def __init__(self, font_path: str) -> None:
        self.serif = serif_font_path(font_path)
        self.sans = font_path

    def font(self, size: int, *, bold: bool = False, sans: bool = False) -> ImageFont.FreeTypeFont:
        return cjk_font(self.sans if sans else self.serif, size, bold)

    def page(self, cert: Certificate) -> Image.Image:
        image = Image.new("RGB", PAGE, PAPER)
        draw = ImageDraw.Draw(image)
        _frame(draw)
        self._heading(draw)
        draw.text((RIGHT + 70, 150), f"证书编号：{cert.number}", font=self.font(24, sans=True), fill=GREY, anchor="rs")
        y = self._body(draw, cert, 410)
        self._signature(draw, cert, max(y + 40, 900))
        draw.text((LEFT - 70, PAGE[1] - 118), f"校验码 {cert.code}　·　{week_name(cert.issued_on.year)}", font=self.font(22, sans=True),
                  fill=GREY, anchor="ls")
        return image

    def _heading(self, draw: ImageDraw.ImageDraw) -> None:
        font = self.font(124, bold=True)
        _spaced(draw, "荣誉证书", font, PAGE[0] // 2, 250, gap=46, fill=RED)
        small = self.font(26, sans=True)
        _spaced(draw, "CERTIFICATE OF HONOR", small, PAGE[0] // 2, 305, gap=8, fill=GOLD)
        draw.line((PAGE[0] // 2 - 300, 330, PAGE[0] // 2 - 30, 330), fill=GOLD, width=2)
        draw.line((PAGE[0] // 2 + 30, 330, PAGE[0] // 2 + 300, 330), fill=GOLD, width=2)
        cx = PAGE[0] // 2
        draw.polygon([(cx, 322), (cx + 8, 330), (cx, 338), (cx - 8, 330)], fill=GOLD)

    def _body(self, draw: ImageDraw.ImageDraw, cert: Certificate, y: int) -> int:
        text_font = self.font(46)
        draw.text((LEFT, y), f"{cert.recipient}：", font=self.font(50, bold=True), fill=INK)
        y += 86
        if cert.people:
            for line in fit_lines(cert.people, self.font(32), MEASURE, 2):
                draw.text((LEFT, y), line, font=self.font(32), fill=GREY)
                y += 48
            y += 18
        indent = text_font.getlength("　　")
        lines = wrap_text(f"在{cert.contest_title}中荣获", text_font, MEASURE - indent)
        for i, line in enumerate(lines[:2]):
            draw.text((LEFT + (indent if i == 0 else 0), y), line, font=text_font, fill=INK)
            y += 70
        y += 20
        for size in (104, 92, 80, 68, 56):
            award_font = self.font(size, bold=True)
            if award_font.getlength(cert.award) <= MEASURE:
                break
        _spaced(draw, cert.award, award_font, PAGE[0] // 2, y + size, gap=max(0, 24 - len(cert.award) * 2), fill=RED)
        y += size + 46
        work_font = self.font(34)
        for line in fit_lines(f"{WORK_LABELS.get(cert.kind, '参赛作品')}：《{cert.entry_title}》", work_font, MEASURE, 2):
            draw.text((PAGE[0] // 2, y), line, font=work_font, fill=GREY, anchor="ma")
            y += 50
        y += 30
        draw.text((LEFT + indent, y), "特发此证，以资鼓励。", font=text_font, fill=INK)
        return y + 70

    def _signature(self, draw: ImageDraw.ImageDraw, cert: Certificate, y: int) -> None:
        font = self.font(40)
        centre = RIGHT - 190
        lines = [*cert.organisers, chinese_date(cert.issued_on)]
        y = min(y, PAGE[1] - 150 - len(lines) * 58)
        for i, line in enumerate(lines):
            draw.text((centre, y + i * 58 + (14 if i == len(lines) - 1 else 0)), line, font=font, fill=INK, anchor="ma")


def _spaced(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont, centre: int, baseline: int, *,
            gap: int, fill: tuple[int, int, int]) -> None:
    """Text centred on `centre`, its characters spaced `gap` apart (titles of certificates
    are set wide)."""
    widths = [font.getlength(ch) for ch in text]
    x = centre - (sum(widths) + gap * (len(text) - 1)) / 2
    for ch, width in zip(text, widths, strict=True):
        draw.text((x, baseline), ch, font=font, fill=fill, anchor="ls")
        x += width + gap


def _frame(draw: ImageDraw.ImageDraw) -> None:
    w, h = PAGE
    draw.rectangle((0, 0, w, h), fill=PAPER_EDGE)
    draw.rectangle((36, 36, w - 36, h - 36), fill=PAPER)
    draw.rectangle((52, 52, w - 52, h - 52), outline=RED, width=16)
    draw.rectangle((78, 78, w - 78, h - 78), outline=GOLD, width=3)
    draw.rectangle((88, 88, w - 88, h - 88), outline=GOLD, width=1)
    for cx, cy in ((78, 78), (w - 78, 78), (78, h - 78), (w - 78, h - 78)):
        draw.polygon([(cx, cy - 22), (cx + 22, cy), (cx, cy + 22), (cx - 22, cy)], fill=GOLD)
        draw.polygon([(cx, cy - 11), (cx + 11, cy), (cx, cy + 11), (cx - 11, cy)], fill=PAPER)


def render(cert: Certificate, font_path: str) -> Image.Image:
    """One certificate as an RGB picture of the A4 page at 150 dpi."""
    return Painter(font_path).page(cert)


def pdf_bytes(certificates: Sequence[Certificate], font_path: str, *,
              on_page: Callable[[int], None] | None = None) -> bytes:
    """The certificates as one PDF, a page each, A4 landscape; `on_page` hears how many
    pages are drawn so far."""
    pages = []
    for cert in certificates:
        pages.append(render(cert, font_path))
        if on_page is not None:
            on_page(len(pages))
    if not pages:
        raise ValueError("no certificate to draw")
    out = io.BytesIO()
    # quality and subsampling go to the JPEG encoder of the PDF's page images: red text
    # stays sharp with full-resolution colour.
    pages[0].save(out, format="PDF", resolution=DPI, save_all=True, append_images=pages[1:], quality=92, subsampling=0,
                  title=f"{certificates[0].contest_title} 荣誉证书", author="、".join(certificates[0].organisers))
    return out.getvalue()
