"""最美职校生 (selection): total = vote score × 30 % + expert score × 70 %, the national
最美中职生 mix.

The vote score turns valid votes into 0–100 either by max-normalisation (``"max"``: votes
÷ the group's most votes × 100, 0 when nobody has a vote; the usual 公示 wording
"得票最多者计满分，其余按比例折算") or by vote rank (``"rank"``: with competition rank r
among n entries, 100 × (n − r) ÷ (n − 1), 100 when n = 1), which caps what a mobilised
landslide can buy. Default ``"max"``. Where the rules keep minors' counts private, the
scale (the top count, the ranks) is taken from the public counts alone and a private
count is placed on it (vote_scale), so no published figure gives a minor's count away;
the minor's own vote and expert scores are not published either. An entry the experts did not score has no total
(a 30 % share alone is no result). Ties on the total are broken by the expert score.
Awards by rank: 最美职校生 10, then 提名奖 20, one list for the whole contest.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

from .common import (
    EXPERT,
    VOTE,
    EntryInput,
    EntryResult,
    Group,
    Kind,
    award_text,
    competition_ranks,
    entry_result,
    flag,
    percent,
    rank_text,
    round_key,
    round_ref,
    round_score,
    slots_text,
    tier_text,
    tiered_awards,
    tiers,
    ties,
)
from .lines import N_, Count, Line, Percent, Score, line
from .numbers import exact, json_number, percent_text

VOTE_SCORINGS = ("max", "rank")


def vote_scale(entries: Sequence[EntryInput]) -> list[EntryInput]:
    """The entries whose counts set the vote score's scale: those with public counts.

    A private count (a minor's) must not move any published figure of another entry: with
    the group's top count as the scale, one visible count and its vote score would give
    that top away, and with ranks among all entries, an adult's rank would count the
    minors above it. So the scale is the public counts alone, and each private count is
    placed on it (never published itself). With no public count above zero the scale is
    every entry (no published vote score depends on it then: all public scores are 0)."""
    public = [e for e in entries if e.count_public]
    return public if any(e.valid_votes for e in public) else list(entries)


def scaled_ranks(entries: Sequence[EntryInput], scale: Sequence[EntryInput]) -> dict[int, int]:
    """Each entry's competition rank among the scale's counts: 1 + how many of them are higher."""
    counts = [e.valid_votes for e in scale]
    return {e.entry_id: 1 + sum(1 for n in counts if n > e.valid_votes) for e in entries}


def vote_scores(method: str, entries: Sequence[EntryInput], ranks: Mapping[int, int]) -> dict[int, Fraction]:
    """Each entry's 0–100 vote score by max-normalisation or by vote rank, on the scale of
    the public counts (vote_scale); `ranks` are the entries' ranks on that scale."""
    scale = vote_scale(entries)
    if method == "max":
        top = max((e.valid_votes for e in scale), default=0)
        return {e.entry_id: Fraction(100 * min(e.valid_votes, top), top) if top else Fraction(0) for e in entries}
    n = len(scale)
    if n <= 1:
        return {e.entry_id: Fraction(100 if ranks[e.entry_id] == 1 else 0) for e in entries}
    return {e.entry_id: max(Fraction(0), Fraction(100 * (n - ranks[e.entry_id]), n - 1)) for e in entries}


class Selection(Kind):
    key = "selection"
    title = N_("最美职校生")
    defaults = {
        "vote_weight": 30,
        "expert_weight": 70,
        "vote_scoring": "max",
        "expert_round": "expert",
        "awards": [{"name": "最美职校生", "count": 10}, {"name": "提名奖", "count": 20}],
        "per_category": False,
    }
    round_fields = ("expert_round",)
    has_vote_score = True

    def normalise(self, rules: Mapping[str, Any], entry_count: int | None) -> dict[str, Any]:
        vote = percent(rules["vote_weight"], "投票权重应为 0 到 100 之间的数（最多两位小数）。")
        expert = percent(rules["expert_weight"], "专家权重应为 0 到 100 之间的数（最多两位小数）。")
        if vote + expert != 100:
            raise ValueError(f"投票权重与专家权重之和必须为 100%，现在是 {percent_text(vote + expert)}%。")
        if rules["vote_scoring"] not in VOTE_SCORINGS:
            raise ValueError("投票分的计算方式只能是 max（按最高票折算）或 rank（按票数名次折算）。")
        return {
            "vote_weight": json_number(vote),
            "expert_weight": json_number(expert),
            "vote_scoring": rules["vote_scoring"],
            "expert_round": round_key(rules["expert_round"], "专家评审"),
            "awards": tiers(rules["awards"], "奖项", entry_count),
            "per_category": flag(rules["per_category"], "按类别分别评奖（per_category）"),
        }

    def award_tiers(self, rules: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        return list(rules["awards"])

    def rank_group(self, rules: Mapping[str, Any], group: Group, entries: Sequence[EntryInput]) -> list[EntryResult]:
        vote_weight, expert_weight = exact(rules["vote_weight"]), exact(rules["expert_weight"])
        by_votes = scaled_ranks(entries, vote_scale(entries))
        scores = vote_scores(rules["vote_scoring"], entries, by_votes)
        finals: dict[int, Fraction | None] = {}
        keys: dict[int, tuple[Any, ...]] = {}
        for e in entries:
            expert = round_score(e, rules["expert_round"])
            if expert is None and expert_weight > 0:
                # Not scored by the experts: no total, no rank (a 30 % share alone is no result).
                finals[e.entry_id] = None
                continue
            final = (vote_weight * scores[e.entry_id] + expert_weight * (expert or 0)) / 100
            finals[e.entry_id] = final
            keys[e.entry_id] = (final, expert if expert is not None else Fraction(-1), tuple(e.tie_break), e.valid_votes)
        ranks = competition_ranks(keys)
        tied = ties(keys, ("final", "expert", "tie_break", "votes"))
        awards = tiered_awards(ranks, rules["awards"], len(keys))
        weights = {VOTE: rules["vote_weight"], EXPERT: rules["expert_weight"]}
        return [
            entry_result(e, group, vote_rank=by_votes[e.entry_id], vote_score=scores[e.entry_id], weights=dict(weights),
                   final=finals[e.entry_id], rank=ranks.get(e.entry_id), tie=tied.get(e.entry_id),
                   awards=(awards[e.entry_id],) if e.entry_id in awards else ())
            for e in entries
        ]

    def rule_lines(self, rules: Mapping[str, Any], rounds: Mapping[str, str]) -> list[Line]:
        lines = [line(N_("总分 = 投票分 × %(vote)s%% + 专家分 × %(expert)s%%；专家分为%(round)s的定稿得分。"),
                      vote=Percent(rules["vote_weight"]), expert=Percent(rules["expert_weight"]),
                      round=round_ref(rules["expert_round"], rounds))]
        if rules["vote_scoring"] == "max":
            lines.append(line(N_("投票分 = 有效票数 ÷ 本组最高有效票数 × 100；无人得票时为 0。")))
        else:
            lines.append(line(N_("投票分 = 100 × (本组作品数 − 票数名次) ÷ (本组作品数 − 1)；票数相同名次相同，只有 1 件时为 100。")))
        lines.append(line(N_("总分相同时依次比较专家分、评审细项得分、有效票数；仍相同则名次并列（如 1、2、2、4）。")))
        if exact(rules["expert_weight"]) > 0:
            lines.append(line(N_("未参加专家评审的作品不计总分、不参与排名。")))
        lines.append(line(N_("奖项按名次依次授予：%(tiers)s；压线并列的作品同获较高奖项。"), tiers=tier_text(rules["awards"])))
        return lines

    def group_summary(self, rules: Mapping[str, Any], members: Sequence[EntryResult]) -> Line:
        scored = sum(1 for r in members if r.final_score is not None)
        return line(N_("共 %(entries)s 件参评，%(scored)s 件有总分；名额：%(places)s。"),
                    entries=len(members), scored=scored, places=slots_text(rules["awards"], scored))

    def entry_line(self, rules: Mapping[str, Any], result: EntryResult, members: Sequence[EntryResult]) -> Line:
        if rules["vote_scoring"] == "max":
            votes = line(N_("票数 %(votes)s（最高 %(top)s）"), votes=Count(result.valid_votes),
                         top=Count(max(r.valid_votes for r in members)))
        else:
            votes = line(N_("票数 %(votes)s（票数第 %(rank)s 名，共 %(entries)s 件）"), votes=Count(result.valid_votes),
                         rank=result.vote_rank or 0, entries=len(members))
        if result.final_score is None:
            return line(N_("%(votes)s→ 投票分 %(vote_score)s；未参加专家评审，不计总分、不参与排名"),
                        votes=votes, vote_score=Score(result.vote_score))
        return line(
            N_("%(votes)s→ 投票分 %(vote_score)s × %(vote_weight)s%% + 专家分 %(expert)s × %(expert_weight)s%% = "
               "%(total)s，%(rank)s，%(award)s"),
            votes=votes, vote_score=Score(result.vote_score), vote_weight=Percent(rules["vote_weight"]),
            expert=Score(result.round_scores.get(rules["expert_round"])), expert_weight=Percent(rules["expert_weight"]),
            total=Score(result.final_score), rank=rank_text(result), award=award_text(result),
        )


KIND = Selection()
