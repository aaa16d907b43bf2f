"""The guardian consent form of a minor's nomination: the printable form the platform
fills in for one nominee, and the signed form the school sends back (see media.consent
for who may download, open and withdraw it).

The printable form is a one-page PDF with real text, written here directly: its font is
STSong-Light, one of the Chinese fonts every PDF reader provides (Adobe-GB1), so nothing
is embedded and no PDF library is needed. The signed form is checked by its content like
every other upload (`media.service.check_document`) and stored as a media item in its own
role, `consent`, under a storage key the public file route refuses to serve
(`PRIVATE_EXTENSIONS`).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import datetime

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

PAGE_W, PAGE_H, MARGIN = 595, 842, 56  # A4 in points


def _utf16(text: str) -> str:
    # The form's font uses the UniGB-UCS2-H encoding: two bytes per character.
    return "".join(f"{ord(c) if ord(c) < 0x10000 else 0x3000:04X}" for c in text)


def _width(text: str, size: float) -> float:
    return sum(size / 2 if ord(c) < 0x80 else size for c in text)


def _wrap(text: str, size: float, width: float) -> list[str]:
    lines, line = [], ""
    for char in text:
        if line and _width(line + char, size) > width and char not in "，。、：；）”":
            lines.append(line)
            line = ""
        line += char
    return [*lines, line] if line else lines


class _Page:
    """One A4 page of text and rules, as a PDF content stream."""

    def __init__(self) -> None:
        self.ops: list[str] = []
        self.y: float = PAGE_H - MARGIN

    def text(self, text: str, size: float = 11, *, gap: float = 6, centre: bool = False, indent: float = 0) -> None:
        for line in _wrap(text, size, PAGE_W - 2 * MARGIN - indent):
            self.y -= size * 1.5
            x = (PAGE_W - _width(line, size)) / 2 if centre else MARGIN + indent
            self.ops.append(f"BT /F1 {size:g} Tf {x:.1f} {self.y:.1f} Td <{_utf16(line)}> Tj ET")
        self.y -= gap

    def signature(self, label: str, size: float = 11) -> None:
        self.y -= size * 2.6
        self.ops.append(f"BT /F1 {size:g} Tf {MARGIN:.1f} {self.y:.1f} Td <{_utf16(label)}> Tj ET")
        start = MARGIN + _width(label, size) + 6
        self.ops.append(f"0.5 w {start:.1f} {self.y - 3:.1f} m {PAGE_W - MARGIN:.1f} {self.y - 3:.1f} l S")

    def rule(self) -> None:
        self.y -= 8
        self.ops.append(f"0.8 w {MARGIN:.1f} {self.y:.1f} m {PAGE_W - MARGIN:.1f} {self.y:.1f} l S")
        self.y -= 4


def _pdf(page: _Page, title: str) -> bytes:
    """A one-page PDF. The text is set in STSong-Light, one of the Chinese fonts every PDF
    reader provides (Adobe-GB1), so nothing is embedded and the text stays text."""
    content = zlib.compress("\n".join(page.ops).encode("ascii"))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_W} {PAGE_H}] /Contents 4 0 R "
        "/Resources << /Font << /F1 5 0 R >> >> >>".encode("ascii"),
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /UniGB-UCS2-H /DescendantFonts [6 0 R] >>",
        b"<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light "
        b"/CIDSystemInfo << /Registry (Adobe) /Ordering (GB1) /Supplement 2 >> /FontDescriptor 7 0 R "
        b"/DW 1000 /W [1 95 500] >>",
        b"<< /Type /FontDescriptor /FontName /STSong-Light /Flags 6 /FontBBox [-25 -254 1000 880] "
        b"/ItalicAngle 0 /Ascent 880 /Descent -120 /CapHeight 880 /StemV 93 >>",
        f"<< /Title <FEFF{_utf16(title)}> /Producer (contest) >>".encode("ascii"),
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, len(objects), xref)
    return bytes(out)


def template_pdf(*, contest_title: str, school: str, nominee: str, choices: Choices) -> bytes:
    """The consent form for one nominee, ready to print and sign. A blank name leaves a
    line to write it on."""
    yes, no = _("公开"), _("不公开")
    page = _Page()
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
    page.signature(_("学生签名："))
    page.signature(_("监护人签名："))
    page.signature(_("与学生的关系："))
    page.signature(_("监护人联系电话："))
    page.signature(_("日期：        年      月      日"))
    page.y -= 24
    page.text(_("请监护人签字后，将本页拍照或扫描，由学校联络人在推荐表中上传。"), 10)
    return _pdf(page, _("监护人同意书"))


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
