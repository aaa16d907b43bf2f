"""Setting Chinese text in Pillow pictures (share posters, demo illustrations): the
Simplified Chinese face of the CJK font, and line breaking by characters that keeps
punctuation where Chinese typesetting expects it."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from PIL import ImageFont

from .config import discover_cjk_font

NO_LINE_START = set("，。、：；！？”’）》」』】…·,.:;!?)")
NO_LINE_END = set("“‘（《「『【(")


@lru_cache(maxsize=4)
def resolve_font(configured: str = "") -> str:
    """The CJK font to draw with: the FONT_PATH setting, or what fontconfig finds (asked once)."""
    return discover_cjk_font(configured)


def simplified_chinese_index(path: str) -> int:
    # Collections list the Japanese face first; the SC face has the glyph shapes readers
    # in Jinan expect (e.g. 骨, 直).
    for index in range(10):
        try:
            family = ImageFont.truetype(path, 12, index=index).getname()[0] or ""
        except OSError:
            break
        if family.endswith(" SC"):
            return index
    return 0


@lru_cache(maxsize=64)
def cjk_font(font_path: str, size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    path = font_path
    if bold:
        # Noto ships the weights as sibling files; without one, the regular face is used.
        candidate = font_path.replace("Regular", "Bold")
        path = candidate if candidate != font_path and Path(candidate).is_file() else font_path
    return ImageFont.truetype(path, size, index=simplified_chinese_index(path))


def wrap_text(text: str, font: ImageFont.FreeTypeFont, width: float) -> list[str]:
    """`text` broken into lines no wider than `width`, by characters (Chinese has no spaces)."""
    lines: list[str] = []
    line = ""
    for char in " ".join(text.split()):
        if line and char not in NO_LINE_START and font.getlength(line + char) > width:
            carried = ""
            while len(line) > 1 and line[-1] in NO_LINE_END:
                line, carried = line[:-1], line[-1] + carried
            lines.append(line.rstrip())
            line = carried + ("" if char == " " else char)
            continue
        line += char
    if line.strip():
        lines.append(line.rstrip())
    return lines


def fit_lines(text: str, font: ImageFont.FreeTypeFont, width: float, max_lines: int) -> list[str]:
    """At most `max_lines` lines, as even in length as possible; the last one ends in an
    ellipsis when the text was cut."""
    lines = wrap_text(text, font, width)
    if len(lines) > max_lines:
        last = lines[max_lines - 1]
        while last and font.getlength(last + "…") > width:
            last = last[:-1]
        return [*lines[:max_lines - 1], last.rstrip("，。、：；,.:; ") + "…"]
    if len(lines) < 2:
        return lines
    # Narrow the measure as far as the text still takes the same number of lines, so a
    # title never ends with one character alone on its last line.
    low, high = width / len(lines), width
    while high - low > 1:
        middle = (low + high) / 2
        if len(wrap_text(text, font, middle)) == len(lines):
            high = middle
        else:
            low = middle
    return wrap_text(text, font, high)
