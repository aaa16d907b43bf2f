"""What every contest kind's formula shares: the inputs and results, reading award tiers,
competition ranks, ties and tiered awards, the explanation's common lines, and Kind, the
base each kind (selection, media, innovation) builds on.

Ranking, for every kind: higher score first; ties are broken by the kind's keys (for
example the expert component), then by the judging round's ``tie_break`` keys
(per-criterion scores in the rubric's order, then minus the spread), then by valid
votes; entries equal on all of these share a rank (competition ranking 1, 2, 2, 4).
Award tiers are handed out by rank against cumulative quotas, so entries tied across an
award line all receive the better award — the public expects equal scores to get equal
awards — and the slots they take are not given again below (after two 一等奖 tied at the
last place, the 二等奖 list starts one place later).

A tier is given as a ``count`` or as a ``percent`` of the entries competing for it
(those with a score in the deciding round; for 人气奖, all entries of the group). A
percentage becomes a count rounded half up, and at least 1 when the percentage is above 0
and the group is not empty. Each tier is rounded on its own, as published.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import accumulate
from typing import Any, ClassVar

from .lines import ENTRY, GAP_LINE, GROUP, MATH, N_, RULE, SUMMARY, TITLE, Join, Line, Param, Percent, join, line, with_role
from .numbers import exact, json_number, parse_decimal, percent_text

# The longest round key a judging round may have (judging_round.key is String(40)).
ROUND_KEY_MAX = 40
AWARD_NAME_MAX = 20
TIERS_MAX = 10
COUNT_MAX = 100_000

# Names of the components in EntryResult.weights.
VOTE, EXPERT, JURY, FINAL = "vote", "expert", "jury", "final"
# What separated an entry from others with the same final score (EntryResult.tie).
TIE_LABELS = {
    "shared": N_("并列"),
    "expert": N_("与他人总分相同，按专家分排序"),
    "tie_break": N_("与他人同分，按评审细项得分排序"),
    "votes": N_("与他人同分，按有效票数排序"),
}

Group = tuple[int | None, ...]


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
    count_public: False when the rules keep the entry's vote count private (a minor's):
    no figure published for another entry may then depend on it (see selection.vote_scores).
    """

    entry_id: int
    title: str
    category_id: int | None
    valid_votes: int
    round_scores: Mapping[str, float | None]
    tie_break: tuple[float, ...] = ()
    group_id: int | None = None
    count_public: bool = True


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
    group: Group
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


def entry_result(
    entry: EntryInput, group: Group, *, vote_rank: int | None, vote_score: Fraction | None,
    weights: dict[str, int | float], final: Fraction | None, rank: int | None, tie: str | None, awards: tuple[str, ...],
) -> EntryResult:
    return EntryResult(
        entry_id=entry.entry_id, title=entry.title, group=group, valid_votes=entry.valid_votes, vote_rank=vote_rank,
        vote_score=_float(vote_score), round_scores=dict(entry.round_scores), weights=weights, final_score=_float(final),
        rank=rank, tie=tie, award=awards[0] if awards else None, awards=awards,
    )


def _float(value: Fraction | None) -> float | None:
    return None if value is None else float(value)


# --- reading a formula's values ----------------------------------------------------------


def percent(raw: Any, message: str) -> Fraction:
    """A percentage 0–100 with at most two decimals (weights, tier shares)."""
    value = parse_decimal(raw)
    if value is None or not 0 <= value <= 100 or (value * 100).denominator != 1:
        raise ValueError(message)
    return value


def count(raw: Any, message: str) -> int:
    value = parse_decimal(raw)
    if value is None or value.denominator != 1 or not 1 <= value <= COUNT_MAX:
        raise ValueError(message)
    return value.numerator


def flag(raw: Any, label: str) -> bool:
    if not isinstance(raw, bool):
        raise ValueError(f"“{label}”应为是或否（true / false）。")
    return raw


def round_key(raw: Any, label: str) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise ValueError(f"请填写{label}的轮次标识。")
    key = raw.strip()
    if len(key) > ROUND_KEY_MAX:
        raise ValueError(f"{label}的轮次标识不能超过 {ROUND_KEY_MAX} 个字符。")
    return key


def tier(raw: Any, label: str) -> dict[str, Any]:
    """One award: its name and its places, as a count or as a percentage."""
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
        return {"name": name, "count": count(raw["count"], f"奖项“{name}”的名额必须是 1 到 {COUNT_MAX} 之间的整数。")}
    share = percent(raw["percent"], f"奖项“{name}”的比例必须大于 0% 且不超过 100%（最多两位小数）。")
    if share == 0:
        raise ValueError(f"奖项“{name}”的比例必须大于 0% 且不超过 100%（最多两位小数）。")
    return {"name": name, "percent": json_number(share)}


def tiers(raw: Any, label: str, entry_count: int | None) -> list[dict[str, Any]]:
    """Awards handed out one after the other by rank (best first)."""
    if not isinstance(raw, list | tuple) or not raw:
        raise ValueError(f"请至少设置一个{label}。")
    if len(raw) > TIERS_MAX:
        raise ValueError(f"{label}最多设置 {TIERS_MAX} 个。")
    checked = [tier(item, label) for item in raw]
    unique_names([t["name"] for t in checked])
    shares = sum((exact(t["percent"]) for t in checked if "percent" in t), Fraction(0))
    if shares > 100:
        raise ValueError(f"各{label}的比例之和不能超过 100%，现在是 {percent_text(shares)}%。")
    within_entries(sum(t.get("count", 0) for t in checked), f"各{label}的名额合计", entry_count)
    return checked


def unique_names(names: Sequence[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"奖项名称“{name}”重复。")
        seen.add(name)


def within_entries(total: int, what: str, entry_count: int | None) -> None:
    if entry_count is not None and total > entry_count:
        raise ValueError(f"{what} {total} 名，超过参评作品数 {entry_count} 件。")


def tier_counts(tiers: Sequence[Mapping[str, Any]], competing: int) -> list[int]:
    """How many places each tier has among `competing` entries: a count as given, a
    percentage rounded half up and at least 1 when above 0 (and competing > 0)."""
    counts = []
    for item in tiers:
        if "count" in item:
            counts.append(int(item["count"]))
            continue
        places = math.floor(exact(item["percent"]) * competing / 100 + Fraction(1, 2))
        counts.append(max(1, places) if competing > 0 else 0)
    return counts


# --- ranking ---------------------------------------------------------------------------


def checked_entries(entries: Iterable[EntryInput]) -> list[EntryInput]:
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


def round_score(entry: EntryInput, key: str) -> Fraction | None:
    score = entry.round_scores.get(key)
    return None if score is None else exact(score)


def competition_ranks(keys: Mapping[int, tuple[Any, ...]]) -> dict[int, int]:
    """Rank 1 for the highest key; equal keys share the better rank (1, 2, 2, 4)."""
    order = sorted(keys, key=lambda i: keys[i], reverse=True)
    ranks: dict[int, int] = {}
    for index, entry_id in enumerate(order):
        previous = order[index - 1] if index else None
        same = previous is not None and keys[previous] == keys[entry_id]
        ranks[entry_id] = ranks[previous] if same and previous is not None else index + 1
    return ranks


def ties(keys: Mapping[int, tuple[Any, ...]], labels: Sequence[str]) -> dict[int, str | None]:
    """For each entry sharing its first key (the final score) with others: "shared" when
    another entry is equal on every key, else the label of the deepest key needed to
    separate it from all of them."""
    by_score: dict[Any, list[int]] = {}
    for entry_id, key in keys.items():
        by_score.setdefault(key[0], []).append(entry_id)
    found: dict[int, str | None] = dict.fromkeys(keys)
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
            found[entry_id] = "shared" if depth < 0 else labels[depth]
    return found


def tiered_awards(ranks: Mapping[int, int], tiers: Sequence[Mapping[str, Any]], competing: int) -> dict[int, str]:
    """Awards by rank against cumulative quotas: a rank within the first quota gets the
    first tier, and so on; ties across a line therefore all get the better tier."""
    bounds = list(accumulate(tier_counts(tiers, competing)))
    awards: dict[int, str] = {}
    for entry_id, rank in ranks.items():
        for item, bound in zip(tiers, bounds, strict=True):
            if rank <= bound:
                awards[entry_id] = item["name"]
                break
    return awards


def vote_ranks(entries: Sequence[EntryInput]) -> dict[int, int]:
    return competition_ranks({e.entry_id: (e.valid_votes,) for e in entries})


def scored_keys(entries: Sequence[EntryInput], scores: Mapping[int, Fraction | None]) -> dict[int, tuple[Any, ...]]:
    """Ranking keys of the entries with a score in the deciding round: the score, the
    judging round's tie-break keys, then valid votes."""
    return {e.entry_id: (score, tuple(e.tie_break), e.valid_votes) for e in entries
            if (score := scores[e.entry_id]) is not None}


def _none_last(value: int | None) -> tuple[bool, int]:
    return (value is None, value or 0)


# --- explaining ------------------------------------------------------------------------


def round_ref(key: str, rounds: Mapping[str, str]) -> Line:
    """A judging round as readers know it: by its name when known ("专家评审"轮), else by
    the key the formula gives (轮次"expert")."""
    if key in rounds:
        return line(N_("“%(name)s”轮"), name=rounds[key])
    return line(N_("轮次“%(key)s”"), key=key)


def places(name: str, number: int) -> Line:
    return line(N_("%(name)s %(count)s 名"), name=name, count=number)


def tier_text(tiers: Sequence[Mapping[str, Any]]) -> Join:
    """The awards as the formula sets them: "一等奖 10%；二等奖 3 名"."""
    return join(N_("；"), (places(t["name"], t["count"]) if "count" in t
                           else line(N_("%(name)s %(percent)s%%"), name=t["name"], percent=Percent(t["percent"]))
                           for t in tiers))


def slots_text(tiers: Sequence[Mapping[str, Any]], competing: int) -> Join:
    """The places each award has among `competing` entries: "一等奖 1 名，二等奖 2 名"."""
    return join(N_("，"), (places(t["name"], n) for t, n in zip(tiers, tier_counts(tiers, competing), strict=True)))


def award_text(result: EntryResult) -> Param:
    return join(N_("、"), result.awards) if result.awards else line(N_("未获奖"))


def rank_text(result: EntryResult) -> Line:
    if result.tie:
        return line(N_("第 %(r)s 名（%(tie)s）"), r=result.rank or 0, tie=line(TIE_LABELS[result.tie]))
    return line(N_("第 %(r)s 名"), r=result.rank or 0)


def group_title(group: Group, names: Mapping[int, str]) -> Join:
    def name(value: int | None) -> Param:
        if value is None:
            return line(N_("未分类"))
        return names[value] if value in names else line(N_("#%(id)s"), id=value)

    return join(N_(" · "), (name(v) for v in group))


# --- the kinds' common ground ---------------------------------------------------------------


class Kind:
    """A contest kind's formula: its defaults, how its rules are checked, how its results
    are computed within each group, and how both are explained.

    A kind fills in the methods marked "the kind's"; the rest (defaults and unknown keys,
    grouping and ordering, the explanation's frame and common lines) is shared.
    """

    key: ClassVar[str]
    title: ClassVar[str]  # a message id: the kind's name in the explanation's title
    defaults: ClassVar[Mapping[str, Any]]
    round_fields: ClassVar[tuple[str, ...]]  # the formula's keys that name judging rounds
    counts_votes: ClassVar[bool] = True  # whether valid votes count towards results
    has_vote_score: ClassVar[bool] = False  # whether results carry a 0–100 vote score

    # --- rules

    def default(self) -> dict[str, Any]:
        """A fresh copy of the kind's default formula (safe to edit)."""
        return copy.deepcopy(dict(self.defaults))

    def check(self, formula: Mapping[str, Any] | None, *, entry_count: int | None = None) -> dict[str, Any]:
        """The formula with the kind's defaults filled in and every value checked and
        normalised (names stripped, 30.0 → 30), or ValueError with a Chinese message.

        Missing keys take the kind's defaults; unknown keys are refused, because a misspelt
        key silently replaced by a default would change results without anyone noticing.
        entry_count, when given, is how many entries compete together: award counts may
        not exceed it.
        """
        if formula is None:
            formula = {}
        if not isinstance(formula, Mapping):
            raise ValueError("计分公式应为键值对象。")
        unknown = sorted(str(k) for k in formula if k not in self.defaults)
        if unknown:
            raise ValueError(f"未知的公式项：{'、'.join(unknown)}。")
        return self.normalise({**self.default(), **formula}, entry_count)

    def normalise(self, rules: Mapping[str, Any], entry_count: int | None) -> dict[str, Any]:
        """The kind's: every value of a complete formula checked and normalised."""
        raise NotImplementedError

    def award_tiers(self, rules: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        """The kind's: every award the normalised formula hands out."""
        raise NotImplementedError

    def rounds(self, formula: Mapping[str, Any]) -> list[str]:
        """The judging rounds the formula reads, by key."""
        return [formula[key] for key in self.round_fields if formula.get(key)]

    # --- computing

    def group_of(self, rules: Mapping[str, Any], entry: EntryInput) -> Group:
        """What the entry competes within under a normalised formula (see EntryResult.group)."""
        return (entry.category_id,) if rules["per_category"] else ()

    def rank_group(self, rules: Mapping[str, Any], group: Group, entries: Sequence[EntryInput]) -> list[EntryResult]:
        """The kind's: the results of the entries competing together."""
        raise NotImplementedError

    def compute(self, formula: Mapping[str, Any] | None, entries: Iterable[EntryInput]) -> list[EntryResult]:
        """Every entry's result under the formula, ordered by group, then rank (unranked
        last), then vote rank, then entry id. Invalid formula or inputs: ValueError."""
        rules = self.check(formula)
        groups: dict[Group, list[EntryInput]] = {}
        for entry in checked_entries(entries):
            groups.setdefault(self.group_of(rules, entry), []).append(entry)
        results: list[EntryResult] = []
        for group in sorted(groups, key=lambda g: tuple(_none_last(v) for v in g)):
            computed = self.rank_group(rules, group, groups[group])
            results.extend(sorted(computed, key=lambda r: (_none_last(r.rank), _none_last(r.vote_rank), r.entry_id)))
        return results

    # --- explaining

    def rule_lines(self, rules: Mapping[str, Any], rounds: Mapping[str, str]) -> list[Line]:
        """The kind's: the formula in words (rounds named through round_ref)."""
        raise NotImplementedError

    def scope_line(self, rules: Mapping[str, Any]) -> Line:
        """Which entries compete together for the awards (for the contest's public rules)."""
        if rules["per_category"]:
            return line(N_("按类别分别评奖，下列名额在每个类别内分别计算。"))
        return line(N_("全部作品一起排名评奖。"))

    def group_summary(self, rules: Mapping[str, Any], members: Sequence[EntryResult]) -> Line:
        """The kind's: how many entries compete in the group and how many places each award has."""
        raise NotImplementedError

    def entry_line(self, rules: Mapping[str, Any], result: EntryResult, members: Sequence[EntryResult]) -> Line:
        """The kind's: one entry's arithmetic, from its numbers to its award."""
        raise NotImplementedError

    def common_lines(self, rules: Mapping[str, Any]) -> list[Line]:
        lines = []
        if any("percent" in t for t in self.award_tiers(rules)):
            lines.append(line(N_("按比例的名额 = 参与该奖项排名的作品数 × 比例，四舍五入取整，比例大于 0 时至少 1 名。")))
        if self.counts_votes:
            lines.append(line(N_("有效票数只计投票账本中的有效票，已作废和待审核的票不计。")))
        lines.append(line(N_("分数显示保留两位小数（四舍五入），排名按未取舍的精确值比较。")))
        return lines

    def explanation(
        self, rules: Mapping[str, Any], results: Sequence[EntryResult], *, fingerprint: str,
        names: Mapping[int, str], rounds: Mapping[str, str],
    ) -> list[Line]:
        """The normalised formula and each entry's arithmetic (for 公示 and the CLI's
        --explain): a title naming the formula and its fingerprint, the rules, then per
        group a summary of the places and, for each entry, its title and its arithmetic.
        names maps category / group ids to their names, rounds round keys to theirs."""
        lines = [Line(N_("%(kind)s 计分公式（指纹 %(fingerprint)s）"), {"kind": line(self.title), "fingerprint": fingerprint},
                      role=TITLE)]
        # which entries compete together first: "1 名" means one per category where awards are per category
        lines += [with_role(item, RULE) for item in [self.scope_line(rules), *self.rule_lines(rules, rounds), *self.common_lines(rules)]]
        groups: dict[Group, list[EntryResult]] = {}
        for item in results:
            groups.setdefault(item.group, []).append(item)
        for group, members in groups.items():
            lines.append(GAP_LINE)
            if group:
                lines.append(Line(N_("【%(group)s】"), {"group": group_title(group, names)}, role=GROUP))
            lines.append(with_role(self.group_summary(rules, members), SUMMARY))
            for item in members:
                lines.append(Line(N_("#%(id)s %(title)s"), {"id": item.entry_id, "title": item.title}, role=ENTRY))
                lines.append(with_role(self.entry_line(rules, item, members), MATH))
        return lines
