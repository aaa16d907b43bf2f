"""The guardian consent form of a minor's nomination: the printable form the platform
fills in for one nominee, and the signed form the school sends back (see media.consent
for who may download, open and withdraw it).

The printable form is a one-page PDF with real text, drawn with reportlab: its font is
STSong-Light, one of the Chinese fonts every PDF reader provides (Adobe-GB1), so nothing
is embedded and the text stays text. The signed form is checked by its content like
every other upload (`media.service.check_document`) and stored as a media item in its own
role, `consent`, under a storage key the public file route refuses to serve
(`PRIVATE_EXTENSIONS`).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas
from sqlalchemy import select

from ..contests.models import Entry, public_name
from ..db import SessionLike
from ..errors import UnsupportedMediaType
from ..i18n import _
from .images import ImageDecoder
from .models import MediaItem
from .pdf import MAX_BYTES
from .service import CONSENT_ROLE, check_document
from .storage import Storage

ROLE = CONSENT_ROLE
# Stored under these extensions, which the public route (/media/<key>) does not serve.
PRIVATE_EXTENSIONS = {"pdf": "cpdf", "jpg": "cjpg"}
CONTENT_TYPES = {"cpdf": "application/pdf", "cjpg": "image/jpeg"}


@dataclass(frozen=True)
class Choices:
    """What the guardian agrees the public pages may show."""

    name_form: str = "full"  # "full": the full name; "surname": 李同学
    show_photo: bool = True
    show_major: bool = True
    show_story: bool = True

    @classmethod
    def of(cls, public_fields: dict[str, object]) -> Choices:
        return cls(name_form=str(public_fields.get("name") or "full"), show_photo=bool(public_fields.get("photo")),
                   show_major=bool(public_fields.get("major")), show_story=bool(public_fields.get("story")))


# --- the printable form ---------------------------------------------------------------

PAGE_W, PAGE_H = A4
MARGIN = 56
FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))
# Punctuation that never starts a line: it stays at the end of the line before.
NO_LINE_START = "，。、：；！？）》」』”’"
_PIECE = re.compile(r"[!-~]+|.")


def _printable(text: str) -> str:
    # The font's encoding (UniGB-UCS2-H) has two bytes a character: a character beyond
    # them (no Adobe-GB1 font has a glyph for one) prints as a blank.
    return "".join(c if ord(c) < 0x10000 else "\u3000" for c in text)


def _pieces(text: str, size: float, width: float) -> Iterator[str]:
    """The text in the pieces a line may break between: one character, or a run of ASCII
    letters, digits and signs, unless that is wider than a line."""
    for piece in _PIECE.findall(_printable(text)):
        if len(piece) > 1 and pdfmetrics.stringWidth(piece, FONT, size) > width:
            yield from piece
        else:
            yield piece


def _wrap(text: str, size: float, width: float) -> list[str]:
    lines, line = [], ""
    for piece in _pieces(text, size, width):
        if line and pdfmetrics.stringWidth(line + piece, FONT, size) > width and piece[0] not in NO_LINE_START:
            lines.append(line.rstrip())
            line = piece.lstrip()
        else:
            line += piece
    return [*lines, line] if line else lines


class _Page:
    """One A4 page of text and rules, written top-down on a reportlab canvas."""

    def __init__(self, canvas: Canvas) -> None:
        self.canvas = canvas
        self.y: float = PAGE_H - MARGIN

    def text(self, text: str, size: float = 11, *, gap: float = 6, centre: bool = False, indent: float = 0) -> None:
        self.canvas.setFont(FONT, size)
        for line in _wrap(text, size, PAGE_W - 2 * MARGIN - indent):
            self.y -= size * 1.5
            if centre:
                self.canvas.drawCentredString(PAGE_W / 2, self.y, line)
            else:
                self.canvas.drawString(MARGIN + indent, self.y, line)
        self.y -= gap

    def signatures(self, labels: list[str], size: float = 11) -> None:
        """Labelled lines to sign or write on, their lines starting in one column."""
        self.canvas.setFont(FONT, size)
        self.canvas.setLineWidth(0.5)
        start = MARGIN + max(pdfmetrics.stringWidth(label, FONT, size) for label in labels) + 6
        for label in labels:
            self.y -= size * 2.6
            self.canvas.drawString(MARGIN, self.y, label)
            self.canvas.line(start, self.y - 3, PAGE_W - MARGIN, self.y - 3)

    def rule(self) -> None:
        self.y -= 8
        self.canvas.setLineWidth(0.8)
        self.canvas.line(MARGIN, self.y, PAGE_W - MARGIN, self.y)
        self.y -= 4


def template_pdf(*, contest_title: str, school: str, nominee: str, choices: Choices) -> bytes:
    """The consent form for one nominee, ready to print and sign. A blank name leaves a
    line to write it on."""
    yes, no = _("公开"), _("不公开")
    out = io.BytesIO()
    # invariant: no creation date or random document id, so one form always makes the same bytes
    canvas = Canvas(out, pagesize=A4, invariant=True, pageCompression=1, lang="zh-CN",
                    initialFontName=FONT)  # type: ignore[arg-type]  # a font name; types-reportlab says float
    canvas.setTitle(_("监护人同意书"))
    page = _Page(canvas)
    page.text(_("未成年学生参加评选监护人同意书"), 18, centre=True, gap=2)
    page.text(contest_title, 12, centre=True, gap=4)
    page.rule()
    page.text(_("学生姓名：%(name)s", name=nominee or "＿＿＿＿＿＿＿＿"), 12, gap=0)
    page.text(_("就读学校：%(school)s", school=school), 12, gap=8)
    page.text(_("本人是上述学生的监护人。本人已了解“%(contest)s”的评选规则，同意学校推荐该学生参加评选，"
                "同意学校向主办方提交其姓名、性别、出生日期、专业、年级、事迹介绍和照片、视频，用于审核、评审和下列公开展示。",
                contest=contest_title))
    page.text(_("同意公开展示的信息（与学校提交的推荐一致；如需更改，请学校修改后重新打印本表）："), gap=2)
    name_shown = public_name(nominee, choices.name_form) if nominee else ""
    rows = [
        _("姓名显示为：%(name)s", name=name_shown) if name_shown else
        (_("姓名显示为：只显示姓氏（如“李同学”）") if choices.name_form == "surname" else _("姓名显示为：全名")),
        _("照片和视频：%(v)s", v=yes if choices.show_photo else no),
        _("专业和年级：%(v)s", v=yes if choices.show_major else no),
        _("事迹介绍：%(v)s", v=yes if choices.show_story else no),
    ]
    for row in rows:
        page.text("· " + row, indent=12, gap=0)
    page.text(_("学校名称始终公开；出生日期、手机号和身份证号从不公开。"), 10, gap=8)
    page.text(_("本人可以随时通过学校联络人撤回本同意。撤回后，该学生的推荐立即从所有公开页面撤下。"))
    page.signatures([_("学生签名："), _("监护人签名："), _("与学生的关系："), _("监护人联系电话：")])
    page.y -= 12
    page.text(_("日期：        年      月      日"), gap=24)
    page.text(_("请监护人签字后，将本页拍照或扫描，由学校联络人在推荐表中上传。"), 10)
    canvas.showPage()
    canvas.save()
    return out.getvalue()


# --- the signed form ------------------------------------------------------------------

def check_signed_form(data: bytes, *, decoder: ImageDecoder | None = None) -> tuple[bytes, str]:
    """The signed form as it will be stored (an image cleaned to JPEG, or the PDF as sent)
    and its private extension; anything else is refused."""
    document = check_document(data, max_bytes=MAX_BYTES, decoder=decoder)
    if document is None:
        raise UnsupportedMediaType(_("监护人同意书请上传照片（JPG、PNG 或 WebP）或 PDF 文件。"), code="unsupported_consent",
                                   field="consent")
    return document.data, PRIVATE_EXTENSIONS[document.extension]


def attach_signed_form(session: SessionLike, storage: Storage, entry: Entry, form: tuple[bytes, str], *, name: str,
                       now: datetime) -> MediaItem:
    """Store the signed form as the entry's one consent item (replacing an earlier one)."""
    for old in session.scalars(select(MediaItem).where(MediaItem.entry_id == entry.id, MediaItem.role == ROLE)):
        session.delete(old)
    data, extension = form
    item = MediaItem(entry_id=entry.id, kind="pdf" if extension == "cpdf" else "image", role=ROLE,
                     content_type=CONTENT_TYPES[extension], original_key=storage.put(data, extension),
                     byte_size=len(data), position=99, caption=name[:200], created_at=now)
    session.add(item)
    session.flush()
    return item


def signed_form_of(session: SessionLike, entry_id: int) -> MediaItem | None:
    """The entry's signed consent form, if one is on file."""
    return session.scalar(select(MediaItem).where(MediaItem.entry_id == entry_id, MediaItem.role == ROLE)
                          .order_by(MediaItem.id.desc()).limit(1))
