"""黄炎培职业教育创新创业大赛 (innovation): the final round's score decides, within each
group (中职组 / 高职组, ``Entry.group_id``; per track too when ``per_track``); tiers
一等奖 10 %, 二等奖 20 %, 三等奖 30 %, 优秀奖 40 % of the entries scored in the final,
i.e. every finalist is recognised and the proportions follow the 10/20/30 habit of
vocational contests. Votes do not count.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .common import (
    FINAL,
    EntryInput,
    EntryResult,
    Group,
    Kind,
    award_text,
    competition_ranks,
    entry_result,
    flag,
    rank_text,
    round_key,
    round_ref,
    round_score,
    scored_keys,
    slots_text,
    tier_text,
    tiered_awards,
    tiers,
    ties,
)
from .lines import N_, Line, Score, line


class Innovation(Kind):
    key = "innovation"
    title = N_("黄炎培职业教育创新创业大赛")
    defaults = {
        "final_round": "final",
        "tiers": [
            {"name": "一等奖", "percent": 10},
            {"name": "二等奖", "percent": 20},
            {"name": "三等奖", "percent": 30},
            {"name": "优秀奖", "percent": 40},
        ],
        "per_group": True,
        "per_track": False,
    }
    round_fields = ("final_round",)
    counts_votes = False

    def normalise(self, rules: Mapping[str, Any], entry_count: int | None) -> dict[str, Any]:
        return {
            "final_round": round_key(rules["final_round"], "决赛"),
            "tiers": tiers(rules["tiers"], "奖项等级", entry_count),
            "per_group": flag(rules["per_group"], "按组别分别评奖（per_group）"),
            "per_track": flag(rules["per_track"], "按赛道分别评奖（per_track）"),
        }

    def award_tiers(self, rules: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        return list(rules["tiers"])

    def group_of(self, rules: Mapping[str, Any], entry: EntryInput) -> Group:
        return ((entry.category_id,) if rules["per_track"] else ()) + ((entry.group_id,) if rules["per_group"] else ())

    def rank_group(self, rules: Mapping[str, Any], group: Group, entries: Sequence[EntryInput]) -> list[EntryResult]:
        scores = {e.entry_id: round_score(e, rules["final_round"]) for e in entries}
        # The published rule: the final score, then the judges' criterion tie-break; an
        # entry equal on both shares the place. Votes play no part in this contest's
        # results, so they break no tie either (scored_keys' last key is dropped).
        keys = {entry_id: key[:2] for entry_id, key in scored_keys(entries, scores).items()}
        ranks = competition_ranks(keys)
        tied = ties(keys, ("final", "tie_break"))
        awards = tiered_awards(ranks, rules["tiers"], len(keys))
        return [
            entry_result(e, group, vote_rank=None, vote_score=None, weights={FINAL: 100}, final=scores[e.entry_id],
                   rank=ranks.get(e.entry_id), tie=tied.get(e.entry_id),
                   awards=(awards[e.entry_id],) if e.entry_id in awards else ())
            for e in entries
        ]

    def rule_lines(self, rules: Mapping[str, Any], rounds: Mapping[str, str]) -> list[Line]:
        return [
            line(N_("成绩 = %(round)s（决赛）的定稿得分；同分时比较评审细项得分，仍相同则名次并列。"),
                 round=round_ref(rules["final_round"], rounds)),
            line(N_("未参加决赛评审的项目不参与排名。")),
            line(N_("奖项按名次依次授予：%(tiers)s；压线并列的项目同获较高奖项。"), tiers=tier_text(rules["tiers"])),
        ]

    def scope_line(self, rules: Mapping[str, Any]) -> Line:
        if rules["per_group"] and rules["per_track"]:
            return line(N_("按赛道和组别分别评奖，下列名额在每个赛道的每个组别内分别计算。"))
        if rules["per_group"]:
            return line(N_("按组别分别评奖，下列名额在每个组别内分别计算。"))
        if rules["per_track"]:
            return line(N_("按赛道分别评奖，下列名额在每个赛道内分别计算。"))
        return line(N_("全部项目一起排名评奖。"))

    def group_summary(self, rules: Mapping[str, Any], members: Sequence[EntryResult]) -> Line:
        scored = sum(1 for r in members if r.final_score is not None)
        return line(N_("共 %(entries)s 项，%(scored)s 项有决赛成绩；名额：%(places)s。"),
                    entries=len(members), scored=scored, places=slots_text(rules["tiers"], scored))

    def entry_line(self, rules: Mapping[str, Any], result: EntryResult, members: Sequence[EntryResult]) -> Line:
        if result.final_score is None:
            return line(N_("未参加决赛评审，不参与排名"))
        return line(N_("决赛得分 %(score)s，%(rank)s → %(award)s"), score=Score(result.final_score),
                    rank=rank_text(result), award=award_text(result))


KIND = Innovation()
