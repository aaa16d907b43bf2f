"""Explanations as data: a Line is a message id (a python-format template in the source
language, marked with N_ so that Babel extracts it) and the values that fill it.

Nothing is rendered where a line is made. Whoever shows it renders it with a translate
function: gettext on pages, in exports and in the CLI (Chinese, the source language,
where no other locale is chosen), the identity in pure code and tests. A value may itself
be a Line (a round's reference, a tie's reason, "未获奖"), a Join of values, or a number
that says how it is written (Score, Percent, Count); names that come from data (awards,
rounds, categories, titles) are plain strings and are never translated.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import TypeAlias

from .numbers import format_score, percent_text

Translate = Callable[[str], str]

# What a line is in an explanation (Line.role).
TITLE, RULE, GAP, GROUP, SUMMARY, ENTRY, MATH = "title", "rule", "gap", "group", "summary", "entry", "math"


def N_(message: str) -> str:
    """Marks a message id for extraction; it is translated where the line is rendered."""
    return message


def source(message: str) -> str:
    """The translate function of the source language: the message id as it is."""
    return message


@dataclass(frozen=True)
class Score:
    """A score, written with two decimals rounded half up ("—" for none)."""

    value: float | Fraction | None


@dataclass(frozen=True)
class Percent:
    """A percentage, written as given (30, 12.5), without the sign."""

    value: int | float | Fraction


@dataclass(frozen=True)
class Count:
    """A count of votes, written with thousands separators (1,234)."""

    value: int


@dataclass(frozen=True)
class Join:
    """Values written one after the other, with a separator that is itself a message id
    ("、" in Chinese, ", " in English)."""

    separator: str
    items: tuple[Param, ...]


@dataclass(frozen=True)
class Line:
    """One line (or part of one): a message id with named python-format fields, the
    values for them, and what the line is in an explanation (TITLE, RULE, GAP, GROUP,
    SUMMARY, ENTRY or MATH), which pages use to style it."""

    template: str
    params: Mapping[str, Param] = field(default_factory=dict)
    role: str = RULE


Param: TypeAlias = str | int | Line | Join | Score | Percent | Count


def line(template: str, /, **params: Param) -> Line:
    return Line(template, params)


def join(separator: str, items: Iterable[Param]) -> Join:
    return Join(separator, tuple(items))


def with_role(value: Line, role: str) -> Line:
    return replace(value, role=role)


GAP_LINE = Line("", role=GAP)


def render(value: Line, translate: Translate = source) -> str:
    """The line's text: its template translated, then filled with its rendered values."""
    if not value.template:
        return ""
    text = translate(value.template)
    if not value.params:
        return text
    return text % {key: render_param(param, translate) for key, param in value.params.items()}


def render_param(value: Param, translate: Translate = source) -> str:
    if isinstance(value, Line):
        return render(value, translate)
    if isinstance(value, Join):
        return translate(value.separator).join(render_param(item, translate) for item in value.items)
    if isinstance(value, Score):
        return format_score(value.value)
    if isinstance(value, Percent):
        return percent_text(value.value)
    if isinstance(value, Count):
        return f"{value.value:,}"
    return str(value)


def plain_text(lines: Sequence[Line], translate: Translate = source) -> list[str]:
    """An explanation as plain text lines (CLI, exports): a gap is an empty line, an
    entry's arithmetic is indented under its title."""
    return [("  " if item.role == MATH else "") + render(item, translate) for item in lines]


def templates_of(value: Line | Join) -> list[str]:
    """Every message id the line renders with (its own, its values' and separators')."""
    if isinstance(value, Join):
        found = [value.separator]
        items: Iterable[Param] = value.items
    else:
        found = [value.template] if value.template else []
        items = value.params.values()
    for item in items:
        if isinstance(item, Line | Join):
            found += templates_of(item)
    return found


__all__ = [
    "ENTRY", "GAP", "GAP_LINE", "GROUP", "MATH", "N_", "RULE", "SUMMARY", "TITLE",
    "Count", "Join", "Line", "Param", "Percent", "Score", "Translate",
    "join", "line", "plain_text", "render", "render_param", "source", "templates_of", "with_role",
]
