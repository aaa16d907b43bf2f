"""Result formulas: how valid votes and finalised round scores become ranks and awards.

A contest's formula is fixed before voting opens and published with its fingerprint
(a SHA-256 of a canonical JSON of the rule set), so any later change to a weight, a
quota or a tier shows as a different fingerprint. Like the other rules of a contest
(contests.rules) a formula is plain JSON-able data edited by organisers.

This module is the formulas' face: it says what a valid formula is, fingerprints it,
computes results from it and explains the arithmetic, each by handing over to the
contest kind's own module (``kinds.kind_of(kind)``, see kinds/selection.py, media.py and
innovation.py for each kind's rules and defaults, kinds/common.py for ranking, ties and
tiers).

It is pure Python on purpose: no Flask, no database. The caller (the results service)
reads the vote ledger and the finalised rounds and hands over plain numbers, so the
arithmetic can be tested by hand and rerun by anyone who wants to check a 公示.

Inputs are already filtered by the caller: ``valid_votes`` counts only the ledger's
valid votes (voided and held votes are never passed in), and ``round_scores`` holds only
finalised rounds' scores.

Arithmetic is exact (``fractions.Fraction`` built from the decimal spelling of every
input), so a 30 %/70 % mix never makes a tie or a non-tie by float accident. Scores are
rounded half up to two decimals for display only (``format_score``), never before a
comparison.

Explanations are data (``kinds.lines.Line``: a message id and its values, round names
among them), rendered where they are shown with the reader's gettext; ``explain`` gives
them as plain text.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .kinds import KINDS, Kind, kind_of
from .kinds.common import TIE_LABELS, TIERS_MAX, EntryInput, EntryResult, tier_counts
from .kinds.lines import RULE, Line, Translate, plain_text, render, source
from .kinds.numbers import format_score

# Part of every fingerprint: a change in how a formula is read or hashed shows too.
FORMAT_VERSION = 1
DEFAULT_FORMULAS: dict[str, Mapping[str, Any]] = {key: kind_of(key).defaults for key in KINDS}


def default_formula(kind: str) -> dict[str, Any]:
    """A fresh copy of the kind's default formula (safe to edit)."""
    return kind_of(kind).default()


def check_formula(kind: str, formula: Mapping[str, Any] | None, *, entry_count: int | None = None) -> dict[str, Any]:
    """The formula with the kind's defaults filled in and every value checked and
    normalised (names stripped, 30.0 → 30), or ValueError with a Chinese message.

    Missing keys take the kind's defaults; unknown keys are refused, because a misspelt
    key silently replaced by a default would change results without anyone noticing.
    entry_count, when given, is how many entries compete together (for a per-category or
    per-group formula, check each group's size): award counts may not exceed it.
    """
    return kind_of(kind).check(formula, entry_count=entry_count)


def canonical_json(kind: str, formula: Mapping[str, Any] | None) -> str:
    """The exact text the fingerprint covers: the format version, the kind and the
    normalised formula as JSON with sorted keys, no whitespace and Chinese kept as is.

    Published beside the fingerprint, so anyone can check it with any SHA-256 tool
    (e.g. ``printf '%s' "$TEXT" | sha256sum``).
    """
    payload = {"format": FORMAT_VERSION, "kind": kind, "formula": check_formula(kind, formula)}
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def fingerprint(kind: str, formula: Mapping[str, Any] | None) -> str:
    """SHA-256 (hex) of canonical_json, UTF-8 encoded: changes whenever any value does."""
    return hashlib.sha256(canonical_json(kind, formula).encode("utf-8")).hexdigest()


def display_fingerprint(digest: str) -> str:
    """The first 16 hex characters in groups of 4 ("3f2a-9c01-77be-0d45"): short enough to
    read out or compare on a phone, long enough that a change cannot hide in it."""
    head = digest[:16].lower()
    return "-".join(head[i:i + 4] for i in range(0, len(head), 4))


def short_fingerprint(kind: str, formula: Mapping[str, Any] | None) -> str:
    """display_fingerprint of the formula's fingerprint."""
    return display_fingerprint(fingerprint(kind, formula))


def group_of(kind: str, rules: Mapping[str, Any], entry: EntryInput) -> tuple[int | None, ...]:
    """What the entry competes within under a normalised formula (see EntryResult.group)."""
    return kind_of(kind).group_of(rules, entry)


def compute(kind: str, formula: Mapping[str, Any] | None, entries: Iterable[EntryInput]) -> list[EntryResult]:
    """Every entry's result under the formula, ordered by group, then rank (unranked
    last), then vote rank, then entry id. Invalid formula or inputs: ValueError."""
    return kind_of(kind).compute(formula, entries)


def explanation(
    kind: str, formula: Mapping[str, Any] | None, results: Sequence[EntryResult], *,
    names: Mapping[int, str] | None = None, rounds: Mapping[str, str] | None = None,
) -> list[Line]:
    """The formula and each entry's arithmetic as lines to render (for 公示, the
    organisers' preview and the CLI's --explain): a title naming the formula and its
    fingerprint, the rules, then per group a summary of the places, then each entry's
    title and arithmetic. names maps category / group ids to their names for the group
    headings, rounds maps round keys to the names readers know them by."""
    rules = check_formula(kind, formula)
    return kind_of(kind).explanation(rules, results, fingerprint=short_fingerprint(kind, rules),
                                     names=names or {}, rounds=rounds or {})


def award_rules(kind: str, formula: Mapping[str, Any] | None, *, rounds: Mapping[str, str] | None = None) -> list[Line]:
    """The formula's rules as the contest's public rules give them: the rule lines of the
    explanation (which entries compete together, awards and their places, whether one work
    may win two, how scores are computed)."""
    rules = check_formula(kind, formula)
    explained = explanation(kind, rules, [], rounds=rounds)
    return [item for item in explained if item.role == RULE]


def explain(
    kind: str, formula: Mapping[str, Any] | None, results: Sequence[EntryResult], *,
    names: Mapping[int, str] | None = None, rounds: Mapping[str, str] | None = None, translate: Translate = source,
) -> list[str]:
    """explanation() as plain text lines (a blank line before each group, each entry's
    arithmetic indented under its title), in Chinese unless a translate function is given."""
    return plain_text(explanation(kind, formula, results, names=names, rounds=rounds), translate)


__all__ = [
    "DEFAULT_FORMULAS", "FORMAT_VERSION", "KINDS", "TIERS_MAX", "TIE_LABELS", "EntryInput", "EntryResult", "Kind", "Line",
    "award_rules", "canonical_json", "check_formula", "compute", "default_formula", "display_fingerprint", "explain", "explanation",
    "fingerprint", "format_score", "group_of", "kind_of", "plain_text", "render", "short_fingerprint", "tier_counts",
]
