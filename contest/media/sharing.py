"""Sharing a public entry in chat apps: its link as a QR code, and a poster (cover, title, QR).

Plain functions: callers pass the absolute URL of the entry page, the storage and the
font path, so nothing here depends on a request.

Posters are drawn on demand and not stored. A poster is derived data: kept in storage
it would need a table mapping its inputs to its content key and a clean-up whenever a
title or cover changes; kept in an in-process cache it would cost a few hundred KB per
poster in every worker, and miss in all the others. Instead `PosterSpec.etag` is
computed from the inputs alone, before any drawing, so the view answers revalidations
with 304 without drawing, and HTTP caches (nginx, the chat apps' own fetchers) keep the
image for the hour it is declared public.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
from dataclasses import dataclass

import qrcode
from PIL import Image, ImageDraw, ImageFont, ImageOps
from qrcode.image.pil import PilImage
from sqlalchemy import select

from ..contests.models import Entry
from ..db import SessionLike
from ..typesetting import cjk_font, fit_lines, resolve_font, wrap_text  # noqa: F401 - re-exported for callers
from .models import MediaItem
from .service import public_cover_key
from .storage import Storage

log = logging.getLogger(__name__)

# Part of every image's ETag: change it whenever the drawing changes, so that caches
# holding the old picture fetch the new one.
DRAWING_VERSION = "1"
POSTER_SIZE = (1080, 1600)
# The poster speaks Chinese whatever the page's language: it is made for the city's
# chat groups, and a picture cannot switch language with its viewer.
HEADER_TEXT = "济南市职业教育活动周 · 技能：让生活更美好"
CALL_TO_ACTION = ("长按识别二维码", "为作品加油")
FOOTER_TEXT = "主办：济南市教育局　济南市中华职业教育社等十部门"

RED, RED_DARK, ORANGE, GOLD = (179, 38, 30), (140, 29, 24), (217, 84, 30), (232, 163, 61)
INK, MUTED, PAPER, LINE = (31, 31, 31), (92, 92, 92), (250, 248, 245), (217, 212, 207)
WHITE = (255, 255, 255)

PANEL_TEXT = ("技能：让生活更美好", "济南市职业教育活动周")

# Layout, in pixels of the 1080×1600 poster, from the top: header band, cover (whatever
# height is left), title and subtitle, the card with the QR code, footer band.
MARGIN = 72
HEADER_HEIGHT = 132
FOOTER_HEIGHT = 64
QR_SIDE = 300
QR_CARD_PAD = 28
QR_CARD_TOP = POSTER_SIZE[1] - FOOTER_HEIGHT - 40 - QR_SIDE - 2 * QR_CARD_PAD
TEXT_PAD_TOP, ACCENT_GAP, SUBTITLE_GAP, TEXT_PAD_BOTTOM = 44, 34, 22, 36
TITLE_SIZES = (72, 64, 56)
TITLE_LINES = 3
SUBTITLE_SIZE, SUBTITLE_LINE_HEIGHT = 34, 50
# Chinese typesetting: closing marks never begin a line and opening marks never end one,
# so each stays with the character it belongs to.


# --- QR code -----------------------------------------------------------------------

def _qr_code(url: str, *, border: int = 4) -> qrcode.QRCode:
    # Level M survives a chat app's recompression of a screenshot; H would make the
    # modules smaller for the same side, which hurts more on a phone camera.
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=1, border=border)
    code.add_data(url)
    code.make(fit=True)
    return code


def _qr_image(code: qrcode.QRCode, *, box_size: int) -> Image.Image:
    code.box_size = box_size
    return code.make_image(image_factory=PilImage).get_image()


def qr_png(url: str, *, box_size: int = 8) -> bytes:
    """A PNG QR code (error correction M) that opens `url`."""
    out = io.BytesIO()
    _qr_image(_qr_code(url), box_size=box_size).save(out, "PNG", optimize=True)
    return out.getvalue()


def qr_etag(url: str) -> str:
    """An ETag for the QR code of `url`, known without drawing it."""
    return _digest("qr", DRAWING_VERSION, url)


def _digest(*fields: str) -> str:
    # JSON keeps the fields apart: ("ab", "c") and ("a", "bc") hash differently.
    return hashlib.sha256(json.dumps(fields, ensure_ascii=False).encode()).hexdigest()[:32]


# --- fonts -------------------------------------------------------------------------

@dataclass(frozen=True)
class PosterSpec:
    """Everything a poster shows; equal specs give identical posters."""

    title: str
    subtitle: str
    cover_key: str  # storage key of the cover's display rendition, or ""
    url: str

    @property
    def etag(self) -> str:
        return _digest("poster", DRAWING_VERSION, self.title, self.subtitle, self.cover_key, self.url)


def cover_display_key(session: SessionLike, entry: Entry) -> str:
    """Storage key of the entry's cover at display size ("" without a cover, or when the
    entry's photos are not public: the poster then shows the panel)."""
    cover_key = public_cover_key(entry)
    if not cover_key:
        return ""
    # Entry.cover_key is the cover's thumbnail (galleries show it); the poster needs the
    # larger picture of the same item: an image's display rendition, or a video's poster
    # frame (a video's original is the video itself).
    item = session.execute(
        select(MediaItem.kind, MediaItem.display_key, MediaItem.poster_key, MediaItem.original_key)
        .where(MediaItem.entry_id == entry.id, MediaItem.thumb_key == cover_key)
        .order_by(MediaItem.position, MediaItem.id).limit(1)
    ).first()
    if item is None:
        return ""
    return item.display_key or item.poster_key or (item.original_key if item.kind == "image" else "")


def poster_spec(session: SessionLike, entry: Entry, *, url: str) -> PosterSpec:
    """What the poster of a public entry shows: title, contest and school, cover, link."""
    subtitle = entry.contest.title
    if entry.school is not None:
        subtitle = f"{subtitle} · {entry.school.name}"
    return PosterSpec(title=entry.title, subtitle=subtitle, cover_key=cover_display_key(session, entry), url=url)


def render_poster(storage: Storage, spec: PosterSpec, *, font_path: str) -> bytes:
    """The poster of `spec` as PNG bytes, its cover read from storage."""
    return poster_png(title=spec.title, subtitle=spec.subtitle, cover=_open_cover(storage, spec.cover_key),
                      url=spec.url, font_path=font_path)


def _open_cover(storage: Storage, key: str) -> Image.Image | None:
    if not key:
        return None
    try:
        with storage.open(key) as fh:
            image = Image.open(io.BytesIO(fh.read()))
            # Decode at a reduced scale when the JPEG allows it: the poster needs no more.
            image.draft("RGB", (POSTER_SIZE[0], POSTER_SIZE[0]))
            image.load()
    except (OSError, KeyError, SyntaxError, ValueError):
        # A shared link must not break over one missing file: the poster falls back to
        # the panel without a photo, and the log tells the operator.
        log.warning("poster cover %s could not be read", key, exc_info=True)
        return None
    return image


def poster_png(*, title: str, subtitle: str, cover: Image.Image | None, url: str, font_path: str) -> bytes:
    """A 1080×1600 PNG poster: header band, cover (or a gradient panel), title, subtitle, QR code."""
    poster = Image.new("RGB", POSTER_SIZE, PAPER)
    draw = ImageDraw.Draw(poster)
    text = _layout_text(title, subtitle, font_path)
    # Fixed bands at the top and bottom; the cover takes what the title leaves, so a
    # one-line title gets a taller picture and a long one still fits without overlap.
    cover_box = (0, HEADER_HEIGHT, POSTER_SIZE[0], QR_CARD_TOP - text.height)
    _draw_header(draw, font_path)
    if cover is not None:
        _draw_cover(poster, cover, cover_box)
    else:
        _draw_panel(poster, cover_box, font_path)
    _draw_text(draw, text, top=cover_box[3])
    _draw_qr_card(poster, draw, url, font_path)
    _draw_footer(draw, font_path)
    out = io.BytesIO()
    # PNG, not JPEG: the text and the QR modules stay sharp, which is what a phone
    # camera needs to scan a screenshot that a chat app has already recompressed once.
    poster.save(out, "PNG", compress_level=6)
    return out.getvalue()


@dataclass(frozen=True)
class _TextLayout:
    title_font: ImageFont.FreeTypeFont
    title_lines: list[str]
    subtitle_font: ImageFont.FreeTypeFont
    subtitle_lines: list[str]

    @property
    def title_line_height(self) -> int:
        return math.ceil(self.title_font.size * 1.3)

    @property
    def height(self) -> int:
        return (TEXT_PAD_TOP + ACCENT_GAP + len(self.title_lines) * self.title_line_height + SUBTITLE_GAP
                + len(self.subtitle_lines) * SUBTITLE_LINE_HEIGHT + TEXT_PAD_BOTTOM)


def _layout_text(title: str, subtitle: str, font_path: str) -> _TextLayout:
    width = POSTER_SIZE[0] - 2 * MARGIN
    # The largest size that keeps the title to two lines; a longer title gets three
    # lines at the smallest size, cut with an ellipsis if even that is not enough.
    for size in TITLE_SIZES:
        font = cjk_font(font_path, size, bold=True)
        if len(wrap_text(title, font, width)) <= 2:
            break
    subtitle_font = cjk_font(font_path, SUBTITLE_SIZE)
    return _TextLayout(font, fit_lines(title, font, width, TITLE_LINES),
                       subtitle_font, fit_lines(subtitle, subtitle_font, width, 2))


def _draw_header(draw: ImageDraw.ImageDraw, font_path: str) -> None:
    draw.rectangle((0, 0, POSTER_SIZE[0], HEADER_HEIGHT), fill=RED)
    font = cjk_font(font_path, 40, bold=True)
    while font.getlength(HEADER_TEXT) > POSTER_SIZE[0] - 2 * MARGIN and font.size > 24:
        font = cjk_font(font_path, font.size - 2, bold=True)
    draw.text((POSTER_SIZE[0] // 2, HEADER_HEIGHT // 2), HEADER_TEXT, font=font, fill=WHITE, anchor="mm")


def _draw_cover(poster: Image.Image, cover: Image.Image, box: tuple[int, int, int, int]) -> None:
    size = (box[2] - box[0], box[3] - box[1])
    image = ImageOps.exif_transpose(cover).convert("RGB")
    # Cropped to fill, centred a little above the middle, where faces and subjects sit.
    poster.paste(ImageOps.fit(image, size, Image.Resampling.LANCZOS, centering=(0.5, 0.4)), box[:2])


def _draw_panel(poster: Image.Image, box: tuple[int, int, int, int], font_path: str) -> None:
    """The cover's place without a photo: the site's red-to-gold gradient with rings."""
    width, height = box[2] - box[0], box[3] - box[1]
    ramp = Image.linear_gradient("L")
    # The vertical ramp blended with its quarter turn runs from top left to bottom right.
    mask = Image.blend(ramp, ramp.rotate(90), 0.5).resize((width, height), Image.Resampling.BILINEAR)
    panel = Image.composite(Image.new("RGB", (width, height), ORANGE), Image.new("RGB", (width, height), RED), mask)
    panel = Image.composite(Image.new("RGB", (width, height), GOLD), panel, mask.point(lambda v: max(0, v - 128) * 2))
    layer = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    rings = ImageDraw.Draw(layer)
    for fx, fy, radius, alpha in ((0.84, 0.12, 260, 40), (0.14, 0.92, 200, 34), (0.92, 0.92, 120, 28)):
        cx, cy = fx * width, fy * height
        rings.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), outline=(255, 255, 255, alpha), width=10)
    rings.ellipse((-120, -160, 300, 260), fill=(255, 255, 255, 22))
    big, small = cjk_font(font_path, 80, bold=True), cjk_font(font_path, 36)
    middle = height // 2
    rings.text((width // 2 + 3, middle - 26), PANEL_TEXT[0], font=big, fill=(0, 0, 0, 60), anchor="mm")
    rings.text((width // 2, middle - 30), PANEL_TEXT[0], font=big, fill=(255, 255, 255, 255), anchor="mm")
    rings.text((width // 2, middle + 62), PANEL_TEXT[1], font=small, fill=(255, 255, 255, 235), anchor="mm")
    poster.paste(Image.alpha_composite(panel.convert("RGBA"), layer).convert("RGB"), box[:2])


def _draw_text(draw: ImageDraw.ImageDraw, text: _TextLayout, *, top: int) -> None:
    y = top + TEXT_PAD_TOP
    # An accent bar ties the title to the header's red.
    draw.rectangle((MARGIN, y, MARGIN + 80, y + 8), fill=RED)
    y += ACCENT_GAP
    for line in text.title_lines:
        draw.text((MARGIN, y), line, font=text.title_font, fill=INK)
        y += text.title_line_height
    y += SUBTITLE_GAP
    for line in text.subtitle_lines:
        draw.text((MARGIN, y), line, font=text.subtitle_font, fill=MUTED)
        y += SUBTITLE_LINE_HEIGHT


def _draw_qr_card(poster: Image.Image, draw: ImageDraw.ImageDraw, url: str, font_path: str) -> None:
    bottom = QR_CARD_TOP + QR_SIDE + 2 * QR_CARD_PAD
    draw.rounded_rectangle((MARGIN - 24, QR_CARD_TOP, POSTER_SIZE[0] - MARGIN + 24, bottom), radius=28,
                           fill=WHITE, outline=LINE, width=2)
    qr = _qr_sized(url, QR_SIDE)
    poster.paste(qr, (MARGIN, QR_CARD_TOP + QR_CARD_PAD))
    # Beside the code: the call to action, then the link for those who would rather type it.
    left = MARGIN + QR_SIDE + 40
    width = POSTER_SIZE[0] - MARGIN - left
    big = cjk_font(font_path, 50, bold=True)
    middle = QR_CARD_TOP + QR_CARD_PAD + QR_SIDE // 2
    draw.text((left, middle - 58), CALL_TO_ACTION[0], font=big, fill=RED, anchor="ls")
    draw.text((left, middle + 14), CALL_TO_ACTION[1], font=big, fill=INK, anchor="ls")
    small = cjk_font(font_path, 24)
    y = middle + 70
    for line in _url_lines(url, small, width):
        draw.text((left, y), line, font=small, fill=MUTED, anchor="ls")
        y += 34


def _url_lines(url: str, font: ImageFont.FreeTypeFont, width: float) -> list[str]:
    """The link in at most two lines, broken after a "/" where one fits."""
    # Without the scheme the link is shorter to read and to type; browsers add it back.
    url = url.split("://", 1)[-1]
    if font.getlength(url) <= width:
        return [url]
    cut = url.rfind("/", 0, len(url) - 1)
    while cut > 0 and font.getlength(url[:cut + 1]) > width:
        cut = url.rfind("/", 0, cut)
    if cut > 0 and font.getlength(url[cut + 1:]) <= width:
        return [url[:cut + 1], url[cut + 1:]]
    lines = wrap_text(url, font, width)
    return fit_lines(url, font, width, 2) if len(lines) > 2 else lines


def _qr_sized(url: str, side: int) -> Image.Image:
    """The QR code at the largest whole-pixel module size that fits `side`, centred on white."""
    code = _qr_code(url, border=2)  # the white card around it completes the quiet zone
    modules = code.modules_count + 2 * code.border
    image = _qr_image(code, box_size=max(1, side // modules)).convert("RGB")
    canvas = Image.new("RGB", (side, side), WHITE)
    canvas.paste(image, ((side - image.width) // 2, (side - image.height) // 2))
    return canvas


def _draw_footer(draw: ImageDraw.ImageDraw, font_path: str) -> None:
    top = POSTER_SIZE[1] - FOOTER_HEIGHT
    draw.rectangle((0, top, POSTER_SIZE[0], POSTER_SIZE[1]), fill=RED_DARK)
    draw.text((POSTER_SIZE[0] // 2, top + FOOTER_HEIGHT // 2), FOOTER_TEXT, font=cjk_font(font_path, 26),
              fill=(255, 255, 255), anchor="mm")
