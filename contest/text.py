"""What a person may type into a title, a name or a story: text that shows as it reads.

Unicode has characters that draw nothing or reorder what follows: bidirectional overrides
(a title "photo\u202egpj.exe" shows as "photoexe.jpg"), zero-width spaces and joiners,
fillers that look blank, the byte-order mark. In a contest they only serve to disguise a
title, impersonate a name ("张三" and "张\u200b三" are different accounts that look the
same) or post an invisible entry. They are removed from everything typed into a form; a
value that was nothing but them is then empty, and the form's "required" check refuses it.
"""

from __future__ import annotations

import re
import unicodedata

# Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt): characters a font
# draws as nothing (combining grapheme joiner, variation selectors, Mongolian and Khmer
# invisibles, tags …), plus every format character (category Cf, tested below), plus the
# braille blank, which is drawn as nothing but is a symbol.
_IGNORABLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f"
    "\u2800\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0000-\U000e0fff]"
)
# Zero-width joiner: inside emoji sequences (👩‍🔧 "woman mechanic") it is how the
# picture is spelt, so it stays between two emoji and goes everywhere else.
_ZWJ = "\u200d"
_SPACES = re.compile(r"[^\S\n]+")


def _is_emoji(ch: str) -> bool:
    return unicodedata.category(ch) == "So" or "\U0001f000" <= ch <= "\U0001faff" or ch == "\ufe0f"


def _visible(value: str, keep_newlines: bool) -> str:
    out: list[str] = []
    for i, ch in enumerate(value):
        if ch == _ZWJ:
            if out and _is_emoji(out[-1]) and i + 1 < len(value) and _is_emoji(value[i + 1]):
                out.append(ch)
            continue
        if ch == "\ufe0f":  # emoji presentation selector: harmless after an emoji
            if out and _is_emoji(out[-1]):
                out.append(ch)
            continue
        category = unicodedata.category(ch)
        if category == "Cf" or _IGNORABLE.match(ch):
            continue
        if category == "Cc":
            if ch == "\n" and keep_newlines:
                out.append(ch)
            elif ch in "\t\r\n":
                out.append(" ")
            continue
        if category in ("Zl", "Zp"):  # line and paragraph separators
            out.append("\n" if keep_newlines else " ")
            continue
        out.append(ch)
    return "".join(out)


def clean_line(value: str) -> str:
    """A one-line value (a title, a name) as it will show: NFC, no invisible or reordering
    characters, runs of spaces made one, no spaces at either end."""
    text = _visible(unicodedata.normalize("NFC", value), keep_newlines=False)
    return _SPACES.sub(" ", text).strip()


def clean_text(value: str) -> str:
    """A text of several lines (a story, a reason): the same characters removed, its line
    breaks and indentation kept, trailing spaces and blank lines at either end dropped."""
    text = _visible(unicodedata.normalize("NFC", value.replace("\r\n", "\n")), keep_newlines=True)
    # Spaces inside a line stay: a paragraph may open with two ideographic spaces.
    return "\n".join(line.rstrip() for line in text.split("\n")).strip("\n")
