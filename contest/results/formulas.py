"""Result formulas: how valid votes and finalised round scores become ranks and awards.

A contest's formula is fixed before voting opens and published with its fingerprint
(a SHA-256 of a canonical JSON of the rule set), so any later change to a weight, a
quota or a tier shows as a different fingerprint. Like the other rules of a contest
(contests.rules) a formula is plain JSON-able data edited by organisers; this module
says what a valid formula is, computes results from it and explains the arithmetic.

It is pure Python on purpose: no Flask, no database. The caller (the results service)
reads the vote ledger and the finalised rounds and hands over plain numbers, so the
arithmetic can be tested by hand and rerun by anyone who wants to check a 公示.

Inputs are already filtered by the caller: ``valid_votes`` counts only the ledger's
valid votes (voided and held votes are never passed in), and ``round_scores`` holds only
finalised rounds' scores.

The three kinds and their defaults (see ``DEFAULT_FORMULAS``):

- **selection** (最美职校生): total = vote score × 30 % + expert score × 70 %, the
  national 最美中职生 mix. The vote score turns valid votes into 0–100 either by
  max-normalisation (``"max"``: votes ÷ the group's most votes × 100, 0 when nobody has a
  vote; the usual 公示 wording "得票最多者计满分，其余按比例折算") or by vote rank
  (``"rank"``: with competition rank r among n entries, 100 × (n − r) ÷ (n − 1), 100
  when n = 1), which caps what a mobilised landslide can buy. Default ``"max"``. Awards
  by rank: 最美职校生 10, then 提名奖 20, one list for the whole contest.
- **media** (全民美拍): 评委奖 from the jury round's score, 人气奖 by valid votes, per
  category (photos and videos do not compete with each other). Default 10 of each per
  category. The notice (附件 3) only asks that works be "以适当的方式进行宣传"; like most
  public photo and video calls we default to 同一作品不重复获奖 (``"exclusive": true``):
  the 评委奖 is decided first, and the 人气奖 goes to the most-voted works that did not
  win it, so more citizens' works are recognised. ``"exclusive": false`` lets one work
  hold both; ``EntryResult.awards`` then lists both, 评委奖 first.
- **innovation** (黄炎培职业教育创新创业大赛): the final round's score decides, within
  each group (中职组 / 高职组, ``Entry.group_id``); tiers 一等奖 10 %, 二等奖 20 %,
  三等奖 30 %, 优秀奖 40 % of the entries scored in the final, i.e. every finalist is
  recognised and the proportions follow the 10/20/30 habit of vocational contests.

Ranking, for every kind: higher score first; ties are broken by the expert component
(selection), then by the judging round's ``tie_break`` keys (per-criterion scores in
the rubric's order, then minus the spread), then by valid votes; entries equal on all
of these share a rank (competition ranking 1, 2, 2, 4). Award tiers are handed out by
rank against cumulative quotas, so entries tied across an award line all receive the
better award — the public expects equal scores to get equal awards — and the slots they
take are not given again below (after two 一等奖 tied at the last place, the 二等奖
list starts one place later).

A tier is given as a ``count`` or as a ``percent`` of the entries competing for it
(those with a score in the deciding round; for 人气奖, all entries of the group).
A percentage becomes a count rounded half up, and at least 1 when the percentage is
above 0 and the group is not empty. Each tier is rounded on its own, as published.

Arithmetic is exact (``fractions.Fraction`` built from the decimal spelling of every
input), so a 30 %/70 % mix never makes a tie or a non-tie by float accident. Scores are
rounded half up to two decimals for display only (``format_score``), never before a
comparison.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from itertools import accumulate
from typing import Any

KINDS = ("selection", "media", "innovation")
# Part of every fingerprint: a change in how a formula is read or hashed shows too.
FORMAT_VERSION = 1
VOTE_SCORINGS = ("max", "rank")
KIND_NAMES = {"selection": "最美职校生", "media": "全民美拍", "innovation": "黄炎培职业教育创新创业大赛"}
# The longest round key a judging round may have (judging_round.key is String(40)).
ROUND_KEY_MAX = 40
AWARD_NAME_MAX = 20
TIERS_MAX = 10
COUNT_MAX = 100_000

DEFAULT_FORMULAS: dict[str, dict[str, Any]] = {
    "selection": {
        "vote_weight": 30,
        "expert_weight": 70,
        "vote_scoring": "max",
        "expert_round": "expert",
        "awards": [{"name": "最美职校生", "count": 10}, {"name": "提名奖", "count": 20}],
        "per_category": False,
    },
    "media": {
        "popular_award": {"name": "人气奖", "count": 10},
        "jury_award": {"name": "评委奖", "count": 10},
        "jury_round": "jury",
        "exclusive": True,
        "per_category": True,
    },
    "innovation": {
        "final_round": "final",
        "tiers": [
            {"name": "一等奖", "percent": 10},
            {"name": "二等奖", "percent": 20},
            {"name": "三等奖", "percent": 30},
            {"name": "优秀奖", "percent": 40},
        ],
        "per_group": True,
        "per_track": False,
    },
}

# Names of the components in EntryResult.weights.
VOTE, EXPERT, JURY, FINAL = "vote", "expert", "jury", "final"
# What separated an entry from others with the same final score (EntryResult.tie).
TIE_LABELS = {
    "shared": "并列",
    "expert": "与他人总分相同，按专家分排序",
    "tie_break": "与他人同分，按评审细项得分排序",
    "votes": "与他人同分，按有效票数排序",
}


# --- inputs and results ---------------------------------------------------------------


@dataclass(frozen=True)
class EntryInput:
    """One entry as the results service hands it over.

    valid_votes: the ledger's valid votes only (voided and held votes already left out).
    round_scores: round key → the entry's score (0–100) in that finalised round, None (or
    no key) when the entry was not in that round.
    tie_break: extra keys from judging, higher wins (per-criterion aggregated scores in the
    rubric's declared order, then minus the judges' spread).
    group_id: 中职组 / 高职组 for 黄炎培 (Entry.group_id); category_id is its track.
    """

    entry_id: int
    title: str
    category_id: int | None
    valid_votes: int
    round_scores: Mapping[str, float | None]
    tie_break: tuple[float, ...] = ()
    group_id: int | None = None


@dataclass(frozen=True)
class EntryResult:
    """One entry's result and the numbers behind it (floats are the nearest doubles to
    the exact values; ranks and awards were decided on the exact values).

    group: what the entry competes within: (category_id,) when awards are per category,
    (category_id?, group_id?) for 黄炎培 per track / per group, () for one list.
    vote_rank: competition rank by valid votes within the group (None for 黄炎培).
    vote_score: the 0–100 vote component (selection only).
    weights: component → percent of the final score ("vote", "expert", "jury", "final").
    final_score / rank: None when the entry has no score in the deciding round.
    tie: None, or why the entry is placed apart from (or level with) others of the same
    final score: "shared", "expert", "tie_break" or "votes" (see TIE_LABELS).
    award: the first of awards (the better one), None without an award.
    """

    entry_id: int
    title: str
    group: tuple[int | None, ...]
    valid_votes: int
    vote_rank: int | None
    vote_score: float | None
    round_scores: dict[str, float | None]
    weights: dict[str, int | float]
    final_score: float | None
    rank: int | None
    tie: str | None
    award: str | None
    awards: tuple[str, ...]


# --- numbers --------------------------------------------------------------------------


def _exact(value: float | int) -> Fraction:
    """The value as the decimal it was written as: 0.1 is 1/10, not the double near it."""
    if isinstance(value, int):
        return Fraction(value)
    return Fraction(repr(float(value)))


def _half_up(value: Fraction, places: int = 2) -> str:
    scale = 10**places
    sign = "-" if value < 0 else ""
    units = math.floor(abs(value) * scale + Fraction(1, 2))
    whole, part = divmod(units, scale)
    return f"{sign}{whole}.{part:0{places}d}" if places else f"{sign}{whole}"


def format_score(value: float | Fraction | None) -> str:
    """A score for display: two decimals rounded half up ("—" when there is none).

    A float is read as its shortest decimal spelling (repr), which is the exact value for
    every score this module produces that could sit on a half (a half needs a short
    decimal), so 80.115 shows as 80.12, not as 80.11 from the double 80.11499….
    """
    if value is None:
        return "—"
    exact = value if isinstance(value, Fraction) else _exact(value)
    return _half_up(exact)


def _percent_text(value: int | float | Fraction) -> str:
    exact = value if isinstance(value, Fraction) else _exact(value)
    return str(exact.numerator) if exact.denominator == 1 else format(Decimal(exact.numerator) / exact.denominator, "f")


def _json_number(value: Fraction) -> int | float:
    # Integral values are stored as ints so that 30 and 30.0 hash the same.
    return value.numerator if value.denominator == 1 else float(value)


def _parse_decimal(raw: Any) -> Fraction | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return Fraction(raw)
    if isinstance(raw, float):
        return _exact(raw) if math.isfinite(raw) else None
    if isinstance(raw, str):
        try:
            parsed = Decimal(raw.strip())
        except InvalidOperation:
            return None
        return Fraction(parsed) if parsed.is_finite() else None
    return None


def _percent(raw: Any, message: str) -> Fraction:
    """A percentage 0–100 with at most two decimals (weights, tier shares)."""
    value = _parse_decimal(raw)
    if value is None or not 0 <= value <= 100 or (value * 100).denominator != 1:
        raise ValueError(message)
    return value


def _count(raw: Any, message: str) -> int:
    value = _parse_decimal(raw)
    if value is None or value.denominator != 1 or not 1 <= value <= COUNT_MAX:
        raise ValueError(message)
    return value.numerator


def _flag(raw: Any, label: str) -> bool:
    if not isinstance(raw, bool):
        raise ValueError(f"“{label}”应为是或否（true / false）。")
    return raw


def _round_key(raw: Any, label: str) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise ValueError(f"请填写{label}的轮次标识。")
    key = raw.strip()
    if len(key) > ROUND_KEY_MAX:
        raise ValueError(f"{label}的轮次标识不能超过 {ROUND_KEY_MAX} 个字符。")
    return key


# --- the formula rule set ------------------------------------------------------------


def default_formula(kind: str) -> dict[str, Any]:
    """A fresh copy of the kind's default formula (safe to edit)."""
    _check_kind(kind)
    return copy.deepcopy(DEFAULT_FORMULAS[kind])


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"未知的赛事类型：{kind}。")


def _tier(raw: Any, label: str) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise ValueError(f"{label}设置应写明名称（name）以及名额（count）或比例（percent）。")
    unknown = sorted(str(k) for k in raw if k not in ("name", "count", "percent"))
    if unknown:
        raise ValueError(f"{label}设置中有未知项：{'、'.join(unknown)}。")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"{label}的名称不能为空。")
    name = name.strip()
    if len(name) > AWARD_NAME_MAX:
        raise ValueError(f"奖项名称“{name}”不能超过 {AWARD_NAME_MAX} 个字。")
    has_count, has_percent = raw.get("count") is not None, raw.get("percent") is not None
    if has_count == has_percent:
        raise ValueError(f"奖项“{name}”应按名额（count）或按比例（percent）设置，二者选其一。")
    if has_count:
        return {"name": name, "count": _count(raw["count"], f"奖项“{name}”的名额必须是 1 到 {COUNT_MAX} 之间的整数。")}
    share = _percent(raw["percent"], f"奖项“{name}”的比例必须大于 0% 且不超过 100%（最多两位小数）。")
    if share == 0:
        raise ValueError(f"奖项“{name}”的比例必须大于 0% 且不超过 100%（最多两位小数）。")
    return {"name": name, "percent": _json_number(share)}


def _tiers(raw: Any, label: str, entry_count: int | None) -> list[dict[str, Any]]:
    if not isinstance(raw, list | tuple) or not raw:
        raise ValueError(f"请至少设置一个{label}。")
    if len(raw) > TIERS_MAX:
        raise ValueError(f"{label}最多设置 {TIERS_MAX} 个。")
    tiers = [_tier(item, label) for item in raw]
    _unique_names([t["name"] for t in tiers])
    shares = sum((_exact(t["percent"]) for t in tiers if "percent" in t), Fraction(0))
    if shares > 100:
        raise ValueError(f"各{label}的比例之和不能超过 100%，现在是 {_percent_text(shares)}%。")
    _within_entries(sum(t.get("count", 0) for t in tiers), f"各{label}的名额合计", entry_count)
    return tiers


def _unique_names(names: Sequence[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"奖项名称“{name}”重复。")
        seen.add(name)


def _within_entries(total: int, what: str, entry_count: int | None) -> None:
    if entry_count is not None and total > entry_count:
        raise ValueError(f"{what} {total} 名，超过参评作品数 {entry_count} 件。")


def _check_selection(rules: Mapping[str, Any], entry_count: int | None) -> dict[str, Any]:
    vote = _percent(rules["vote_weight"], "投票权重应为 0 到 100 之间的数（最多两位小数）。")
    expert = _percent(rules["expert_weight"], "专家权重应为 0 到 100 之间的数（最多两位小数）。")
    if vote + expert != 100:
        raise ValueError(f"投票权重与专家权重之和必须为 100%，现在是 {_percent_text(vote + expert)}%。")
    if rules["vote_scoring"] not in VOTE_SCORINGS:
        raise ValueError("投票分的计算方式只能是 max（按最高票折算）或 rank（按票数名次折算）。")
    return {
        "vote_weight": _json_number(vote),
        "expert_weight": _json_number(expert),
        "vote_scoring": rules["vote_scoring"],
        "expert_round": _round_key(rules["expert_round"], "专家评审"),
        "awards": _tiers(rules["awards"], "奖项", entry_count),
        "per_category": _flag(rules["per_category"], "按类别分别评奖（per_category）"),
    }


def _check_media(rules: Mapping[str, Any], entry_count: int | None) -> dict[str, Any]:
    popular = _tier(rules["popular_award"], "人气奖")
    jury = _tier(rules["jury_award"], "评委奖")
    _unique_names([popular["name"], jury["name"]])
    exclusive = _flag(rules["exclusive"], "同一作品不重复获奖（exclusive）")
    for award in (popular, jury):
        _within_entries(award.get("count", 0), f"“{award['name']}”名额", entry_count)
    if exclusive:
        _within_entries(popular.get("count", 0) + jury.get("count", 0), "不重复获奖时两个奖项名额合计", entry_count)
    return {
        "popular_award": popular,
        "jury_award": jury,
        "jury_round": _round_key(rules["jury_round"], "评委评审"),
        "exclusive": exclusive,
        "per_category": _flag(rules["per_category"], "按类别分别评奖（per_category）"),
    }


def _check_innovation(rules: Mapping[str, Any], entry_count: int | None) -> dict[str, Any]:
    return {
        "final_round": _round_key(rules["final_round"], "决赛"),
        "tiers": _tiers(rules["tiers"], "奖项等级", entry_count),
        "per_group": _flag(rules["per_group"], "按组别分别评奖（per_group）"),
        "per_track": _flag(rules["per_track"], "按赛道分别评奖（per_track）"),
    }


_CHECKERS: dict[str, Callable[[Mapping[str, Any], int | None], dict[str, Any]]] = {
    "selection": _check_selection,
    "media": _check_media,
    "innovation": _check_innovation,
}


def check_formula(kind: str, formula: Mapping[str, Any] | None, *, entry_count: int | None = None) -> dict[str, Any]:
    """The formula with the kind's defaults filled in and every value checked and
    normalised (names stripped, 30.0 → 30), or ValueError with a Chinese message.

    Missing keys take the kind's defaults; unknown keys are refused, because a misspelt
    key silently replaced by a default would change results without anyone noticing.
    entry_count, when given, is how many entries compete together (for a per-category or
    per-group formula, check each group's size): award counts may not exceed it.
    """
    _check_kind(kind)
    if formula is None:
        formula = {}
    if not isinstance(formula, Mapping):
        raise ValueError("计分公式应为键值对象。")
    defaults = DEFAULT_FORMULAS[kind]
    unknown = sorted(str(k) for k in formula if k not in defaults)
    if unknown:
        raise ValueError(f"未知的公式项：{'、'.join(unknown)}。")
    return _CHECKERS[kind]({**copy.deepcopy(defaults), **formula}, entry_count)


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


def tier_counts(tiers: Sequence[Mapping[str, Any]], competing: int) -> list[int]:
    """How many places each tier has among `competing` entries: a count as given, a
    percentage rounded half up and at least 1 when above 0 (and competing > 0)."""
    counts = []
    for tier in tiers:
        if "count" in tier:
            counts.append(int(tier["count"]))
            continue
        places = math.floor(_exact(tier["percent"]) * competing / 100 + Fraction(1, 2))
        counts.append(max(1, places) if competing > 0 else 0)
    return counts


# --- computing ------------------------------------------------------------------------


def _checked_entries(entries: Iterable[EntryInput]) -> list[EntryInput]:
    items = list(entries)
    seen: set[int] = set()
    for e in items:
        if e.entry_id in seen:
            raise ValueError(f"作品 #{e.entry_id} 重复出现。")
        seen.add(e.entry_id)
        if isinstance(e.valid_votes, bool) or not isinstance(e.valid_votes, int) or e.valid_votes < 0:
            raise ValueError(f"作品 #{e.entry_id} 的有效票数必须是非负整数。")
        for key, score in e.round_scores.items():
            if score is None:
                continue
            if isinstance(score, bool) or not isinstance(score, int | float) or not (math.isfinite(score) and 0 <= score <= 100):
                raise ValueError(f"作品 #{e.entry_id} 在轮次“{key}”的得分应在 0 到 100 之间。")
        if any(isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t) for t in e.tie_break):
            raise ValueError(f"作品 #{e.entry_id} 的同分比较项必须是有限的数。")
    return items


def _round_score(entry: EntryInput, key: str) -> Fraction | None:
    score = entry.round_scores.get(key)
    return None if score is None else _exact(score)


def _competition_ranks(keys: Mapping[int, tuple[Any, ...]]) -> dict[int, int]:
    """Rank 1 for the highest key; equal keys share the better rank (1, 2, 2, 4)."""
    order = sorted(keys, key=lambda i: keys[i], reverse=True)
    ranks: dict[int, int] = {}
    for index, entry_id in enumerate(order):
        previous = order[index - 1] if index else None
        same = previous is not None and keys[previous] == keys[entry_id]
        ranks[entry_id] = ranks[previous] if same and previous is not None else index + 1
    return ranks


def _ties(keys: Mapping[int, tuple[Any, ...]], labels: Sequence[str]) -> dict[int, str | None]:
    """For each entry sharing its first key (the final score) with others: "shared" when
    another entry is equal on every key, else the label of the deepest key needed to
    separate it from all of them."""
    by_score: dict[Any, list[int]] = {}
    for entry_id, key in keys.items():
        by_score.setdefault(key[0], []).append(entry_id)
    ties: dict[int, str | None] = dict.fromkeys(keys)
    for members in by_score.values():
        if len(members) < 2:
            continue
        for entry_id in members:
            depth = 0
            for other in members:
                if other == entry_id:
                    continue
                mine, theirs = keys[entry_id], keys[other]
                differs = next((i for i in range(len(mine)) if mine[i] != theirs[i]), None)
                if differs is None:
                    depth = -1
                    break
                depth = max(depth, differs)
            ties[entry_id] = "shared" if depth < 0 else labels[depth]
    return ties


def _tiered_awards(ranks: Mapping[int, int], tiers: Sequence[Mapping[str, Any]], competing: int) -> dict[int, str]:
    """Awards by rank against cumulative quotas: a rank within the first quota gets the
    first tier, and so on; ties across a line therefore all get the better tier."""
    bounds = list(accumulate(tier_counts(tiers, competing)))
    awards: dict[int, str] = {}
    for entry_id, rank in ranks.items():
        for tier, bound in zip(tiers, bounds, strict=True):
            if rank <= bound:
                awards[entry_id] = tier["name"]
                break
    return awards


def _vote_ranks(entries: Sequence[EntryInput]) -> dict[int, int]:
    return _competition_ranks({e.entry_id: (e.valid_votes,) for e in entries})


def _vote_scores(method: str, entries: Sequence[EntryInput], vote_ranks: Mapping[int, int]) -> dict[int, Fraction]:
    if method == "max":
        top = max((e.valid_votes for e in entries), default=0)
        return {e.entry_id: Fraction(100 * e.valid_votes, top) if top else Fraction(0) for e in entries}
    n = len(entries)
    return {e.entry_id: Fraction(100 * (n - vote_ranks[e.entry_id]), n - 1) if n > 1 else Fraction(100) for e in entries}


def _float(value: Fraction | None) -> float | None:
    return None if value is None else float(value)


def _result(
    entry: EntryInput, group: tuple[int | None, ...], *, vote_rank: int | None, vote_score: Fraction | None,
    weights: dict[str, int | float], final: Fraction | None, rank: int | None, tie: str | None, awards: tuple[str, ...],
) -> EntryResult:
    return EntryResult(
        entry_id=entry.entry_id, title=entry.title, group=group, valid_votes=entry.valid_votes, vote_rank=vote_rank,
        vote_score=_float(vote_score), round_scores=dict(entry.round_scores), weights=weights, final_score=_float(final),
        rank=rank, tie=tie, award=awards[0] if awards else None, awards=awards,
    )


def _selection_group(rules: Mapping[str, Any], group: tuple[int | None, ...], entries: Sequence[EntryInput]) -> list[EntryResult]:
    vote_weight, expert_weight = _exact(rules["vote_weight"]), _exact(rules["expert_weight"])
    vote_ranks = _vote_ranks(entries)
    vote_scores = _vote_scores(rules["vote_scoring"], entries, vote_ranks)
    finals: dict[int, Fraction | None] = {}
    keys: dict[int, tuple[Any, ...]] = {}
    for e in entries:
        expert = _round_score(e, rules["expert_round"])
        if expert is None and expert_weight > 0:
            # Not scored by the experts: no total, no rank (a 30 % share alone is no result).
            finals[e.entry_id] = None
            continue
        final = (vote_weight * vote_scores[e.entry_id] + expert_weight * (expert or 0)) / 100
        finals[e.entry_id] = final
        keys[e.entry_id] = (final, expert if expert is not None else Fraction(-1), tuple(e.tie_break), e.valid_votes)
    ranks = _competition_ranks(keys)
    ties = _ties(keys, ("final", "expert", "tie_break", "votes"))
    awards = _tiered_awards(ranks, rules["awards"], len(keys))
    weights = {VOTE: rules["vote_weight"], EXPERT: rules["expert_weight"]}
    return [
        _result(e, group, vote_rank=vote_ranks[e.entry_id], vote_score=vote_scores[e.entry_id], weights=dict(weights),
                final=finals[e.entry_id], rank=ranks.get(e.entry_id), tie=ties.get(e.entry_id),
                awards=(awards[e.entry_id],) if e.entry_id in awards else ())
        for e in entries
    ]


def _media_group(rules: Mapping[str, Any], group: tuple[int | None, ...], entries: Sequence[EntryInput]) -> list[EntryResult]:
    vote_ranks = _vote_ranks(entries)
    scores = {e.entry_id: _round_score(e, rules["jury_round"]) for e in entries}
    keys = {e.entry_id: (score, tuple(e.tie_break), e.valid_votes) for e in entries if (score := scores[e.entry_id]) is not None}
    ranks = _competition_ranks(keys)
    ties = _ties(keys, ("final", "tie_break", "votes"))
    jury = _tiered_awards(ranks, [rules["jury_award"]], len(keys))
    # 人气奖: most valid votes among works that have votes (and, when awards are exclusive,
    # no 评委奖), ranked again among those, so a jury winner's place passes down.
    eligible = [e for e in entries if e.valid_votes > 0 and not (rules["exclusive"] and e.entry_id in jury)]
    popular = _tiered_awards(_vote_ranks(eligible), [rules["popular_award"]], len(entries))
    results = []
    for e in entries:
        won = tuple(a for a in (jury.get(e.entry_id), popular.get(e.entry_id)) if a is not None)
        results.append(_result(e, group, vote_rank=vote_ranks[e.entry_id], vote_score=None, weights={JURY: 100},
                               final=scores[e.entry_id], rank=ranks.get(e.entry_id), tie=ties.get(e.entry_id), awards=won))
    return results


def _innovation_group(rules: Mapping[str, Any], group: tuple[int | None, ...], entries: Sequence[EntryInput]) -> list[EntryResult]:
    scores = {e.entry_id: _round_score(e, rules["final_round"]) for e in entries}
    keys = {e.entry_id: (score, tuple(e.tie_break), e.valid_votes) for e in entries if (score := scores[e.entry_id]) is not None}
    ranks = _competition_ranks(keys)
    ties = _ties(keys, ("final", "tie_break", "votes"))
    awards = _tiered_awards(ranks, rules["tiers"], len(keys))
    return [
        _result(e, group, vote_rank=None, vote_score=None, weights={FINAL: 100}, final=scores[e.entry_id],
                rank=ranks.get(e.entry_id), tie=ties.get(e.entry_id),
                awards=(awards[e.entry_id],) if e.entry_id in awards else ())
        for e in entries
    ]


_GROUP_COMPUTE: dict[str, Callable[[Mapping[str, Any], tuple[int | None, ...], Sequence[EntryInput]], list[EntryResult]]] = {
    "selection": _selection_group,
    "media": _media_group,
    "innovation": _innovation_group,
}


def group_of(kind: str, rules: Mapping[str, Any], entry: EntryInput) -> tuple[int | None, ...]:
    """What the entry competes within under a normalised formula (see EntryResult.group)."""
    if kind == "innovation":
        return ((entry.category_id,) if rules["per_track"] else ()) + ((entry.group_id,) if rules["per_group"] else ())
    return (entry.category_id,) if rules["per_category"] else ()


def _none_last(value: int | None) -> tuple[bool, int]:
    return (value is None, value or 0)


def compute(kind: str, formula: Mapping[str, Any] | None, entries: Iterable[EntryInput]) -> list[EntryResult]:
    """Every entry's result under the formula, ordered by group, then rank (unranked
    last), then vote rank, then entry id. Invalid formula or inputs: ValueError."""
    rules = check_formula(kind, formula)
    groups: dict[tuple[int | None, ...], list[EntryInput]] = {}
    for entry in _checked_entries(entries):
        groups.setdefault(group_of(kind, rules, entry), []).append(entry)
    results: list[EntryResult] = []
    for group in sorted(groups, key=lambda g: tuple(_none_last(v) for v in g)):
        computed = _GROUP_COMPUTE[kind](rules, group, groups[group])
        results.extend(sorted(computed, key=lambda r: (_none_last(r.rank), _none_last(r.vote_rank), r.entry_id)))
    return results


# --- explaining -----------------------------------------------------------------------


def _tier_text(tiers: Sequence[Mapping[str, Any]]) -> str:
    return "；".join(
        f"{t['name']} {t['count']} 名" if "count" in t else f"{t['name']} {_percent_text(t['percent'])}%" for t in tiers
    )


def _slots_text(tiers: Sequence[Mapping[str, Any]], competing: int) -> str:
    return "，".join(f"{t['name']} {n} 名" for t, n in zip(tiers, tier_counts(tiers, competing), strict=True))


def _award_text(result: EntryResult) -> str:
    return "、".join(result.awards) if result.awards else "未获奖"


def _rank_text(result: EntryResult) -> str:
    tie = f"（{TIE_LABELS[result.tie]}）" if result.tie else ""
    return f"第 {result.rank} 名{tie}"


def _header_selection(rules: Mapping[str, Any]) -> list[str]:
    vote, expert = _percent_text(rules["vote_weight"]), _percent_text(rules["expert_weight"])
    lines = [f"总分 = 投票分 × {vote}% + 专家分 × {expert}%；专家分为轮次“{rules['expert_round']}”的定稿得分。"]
    if rules["vote_scoring"] == "max":
        lines.append("投票分 = 有效票数 ÷ 本组最高有效票数 × 100；无人得票时为 0。")
    else:
        lines.append("投票分 = 100 × (本组作品数 − 票数名次) ÷ (本组作品数 − 1)；票数相同名次相同，只有 1 件时为 100。")
    lines.append("总分相同时依次比较专家分、评审细项得分、有效票数；仍相同则名次并列（如 1、2、2、4）。")
    if _exact(rules["expert_weight"]) > 0:
        lines.append("未参加专家评审的作品不计总分、不参与排名。")
    lines.append(f"奖项按名次依次授予：{_tier_text(rules['awards'])}；压线并列的作品同获较高奖项。")
    return lines


def _header_media(rules: Mapping[str, Any]) -> list[str]:
    jury, popular = rules["jury_award"], rules["popular_award"]
    lines = [
        f"{jury['name']}：按轮次“{rules['jury_round']}”的定稿得分排名，{_tier_text([jury])}；同分时依次比较评审细项得分、有效票数。",
        f"{popular['name']}：按有效票数排名，{_tier_text([popular])}；须至少有 1 张有效票。",
    ]
    if rules["exclusive"]:
        lines.append(f"同一作品不重复获奖：先定{jury['name']}，{popular['name']}在其余作品中按票数顺延。")
    else:
        lines.append(f"同一作品可同时获得{jury['name']}和{popular['name']}。")
    lines.append("压线并列的作品同获该奖项。")
    return lines


def _header_innovation(rules: Mapping[str, Any]) -> list[str]:
    return [
        f"成绩 = 轮次“{rules['final_round']}”（决赛）的定稿得分；同分时比较评审细项得分，仍相同则名次并列。",
        "未参加决赛评审的项目不参与排名。",
        f"奖项按名次依次授予：{_tier_text(rules['tiers'])}；压线并列的项目同获较高奖项。",
    ]


def _header_common(kind: str, rules: Mapping[str, Any]) -> list[str]:
    lines = []
    if any("percent" in t for t in _rule_tiers(kind, rules)):
        lines.append("按比例的名额 = 参与该奖项排名的作品数 × 比例，四舍五入取整，比例大于 0 时至少 1 名。")
    if kind != "innovation":
        lines.append("有效票数只计投票账本中的有效票，已作废和待审核的票不计。")
    lines.append("分数显示保留两位小数（四舍五入），排名按未取舍的精确值比较。")
    return lines


def _rule_tiers(kind: str, rules: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    if kind == "selection":
        return list(rules["awards"])
    if kind == "media":
        return [rules["jury_award"], rules["popular_award"]]
    return list(rules["tiers"])


def _group_title(group: tuple[int | None, ...], names: Mapping[int, str]) -> str:
    def name(value: int | None) -> str:
        return "未分类" if value is None else names.get(value, f"#{value}")

    return " · ".join(name(v) for v in group)


def _group_summary(kind: str, rules: Mapping[str, Any], members: Sequence[EntryResult]) -> str:
    scored = sum(1 for r in members if r.final_score is not None)
    if kind == "selection":
        return f"共 {len(members)} 件参评，{scored} 件有总分；名额：{_slots_text(rules['awards'], scored)}。"
    if kind == "media":
        jury = _slots_text([rules["jury_award"]], scored)
        popular = _slots_text([rules["popular_award"]], len(members))
        return f"共 {len(members)} 件参评，{scored} 件有评委分；名额：{jury}，{popular}。"
    return f"共 {len(members)} 项，{scored} 项有决赛成绩；名额：{_slots_text(rules['tiers'], scored)}。"


def _entry_selection(rules: Mapping[str, Any], result: EntryResult, members: Sequence[EntryResult]) -> str:
    if rules["vote_scoring"] == "max":
        top = max(r.valid_votes for r in members)
        votes = f"票数 {result.valid_votes:,}（最高 {top:,}）"
    else:
        votes = f"票数 {result.valid_votes:,}（票数第 {result.vote_rank} 名，共 {len(members)} 件）"
    vote_part = f"{votes}→ 投票分 {format_score(result.vote_score)}"
    if result.final_score is None:
        return f"{vote_part}；未参加专家评审，不计总分、不参与排名"
    expert = result.round_scores.get(rules["expert_round"])
    return (
        f"{vote_part} × {_percent_text(rules['vote_weight'])}% + 专家分 {format_score(expert)} × "
        f"{_percent_text(rules['expert_weight'])}% = {format_score(result.final_score)}，{_rank_text(result)}，{_award_text(result)}"
    )


def _entry_media(rules: Mapping[str, Any], result: EntryResult, members: Sequence[EntryResult]) -> str:
    votes = f"票数 {result.valid_votes:,}（票数第 {result.vote_rank} 名）"
    if result.final_score is None:
        jury = "未参加评委评审"
    else:
        jury = f"评委分 {format_score(result.final_score)}，评委评审{_rank_text(result)}"
    return f"{votes}；{jury} → {_award_text(result)}"


def _entry_innovation(rules: Mapping[str, Any], result: EntryResult, members: Sequence[EntryResult]) -> str:
    if result.final_score is None:
        return "未参加决赛评审，不参与排名"
    return f"决赛得分 {format_score(result.final_score)}，{_rank_text(result)} → {_award_text(result)}"


_HEADERS: dict[str, Callable[[Mapping[str, Any]], list[str]]] = {
    "selection": _header_selection,
    "media": _header_media,
    "innovation": _header_innovation,
}
_ENTRY_LINES: dict[str, Callable[[Mapping[str, Any], EntryResult, Sequence[EntryResult]], str]] = {
    "selection": _entry_selection,
    "media": _entry_media,
    "innovation": _entry_innovation,
}


def explain(
    kind: str, formula: Mapping[str, Any] | None, results: Sequence[EntryResult], *, names: Mapping[int, str] | None = None,
) -> list[str]:
    """The formula and each entry's arithmetic as Chinese lines (for 公示 and the CLI's
    --explain): a header naming the formula and its fingerprint, then per group a summary
    of the places, then one block per entry (its title line, then its arithmetic).
    names maps category / group ids to their names for the group headings."""
    rules = check_formula(kind, formula)
    lines = [f"{KIND_NAMES[kind]} 计分公式（指纹 {short_fingerprint(kind, rules)}）"]
    lines += _HEADERS[kind](rules) + _header_common(kind, rules)
    groups: dict[tuple[int | None, ...], list[EntryResult]] = {}
    for result in results:
        groups.setdefault(result.group, []).append(result)
    for group, members in groups.items():
        lines.append("")
        if group:
            lines.append(f"【{_group_title(group, names or {})}】")
        lines.append(_group_summary(kind, rules, members))
        for result in members:
            lines.append(f"#{result.entry_id} {result.title}")
            lines.append(f"  {_ENTRY_LINES[kind](rules, result, members)}")
    return lines
