"""全民美拍 (media): 评委奖 from the jury round's score, 人气奖 by valid votes, per
category (photos and videos do not compete with each other). Default 10 of each per
category.

The notice (附件 3) only asks that works be "以适当的方式进行宣传"; like most public
photo and video calls we default to 同一作品不重复获奖 (``"exclusive": true``): the 评委奖
is decided first, and the 人气奖 goes to the most-voted works that did not win it, so more
citizens' works are recognised. ``"exclusive": false`` lets one work hold both;
``EntryResult.awards`` then lists both, 评委奖 first. A 人气奖 needs at least one valid vote.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .common import (
    JURY,
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
    tier,
    tier_text,
    tiered_awards,
    ties,
    unique_names,
    vote_ranks,
    within_entries,
)
from .lines import N_, Count, Line, Score, line


class Media(Kind):
    key = "media"
    title = N_("全民美拍")
    defaults = {
        "popular_award": {"name": "人气奖", "count": 10},
        "jury_award": {"name": "评委奖", "count": 10},
        "jury_round": "jury",
        "exclusive": True,
        "per_category": True,
    }
    round_fields = ("jury_round",)

    def normalise(self, rules: Mapping[str, Any], entry_count: int | None) -> dict[str, Any]:
        popular = tier(rules["popular_award"], "人气奖")
        jury = tier(rules["jury_award"], "评委奖")
        unique_names([popular["name"], jury["name"]])
        exclusive = flag(rules["exclusive"], "同一作品不重复获奖（exclusive）")
        for award in (popular, jury):
            within_entries(award.get("count", 0), f"“{award['name']}”名额", entry_count)
        if exclusive:
            within_entries(popular.get("count", 0) + jury.get("count", 0), "不重复获奖时两个奖项名额合计", entry_count)
        return {
            "popular_award": popular,
            "jury_award": jury,
            "jury_round": round_key(rules["jury_round"], "评委评审"),
            "exclusive": exclusive,
            "per_category": flag(rules["per_category"], "按类别分别评奖（per_category）"),
        }

    def award_tiers(self, rules: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        return [rules["jury_award"], rules["popular_award"]]

    def rank_group(self, rules: Mapping[str, Any], group: Group, entries: Sequence[EntryInput]) -> list[EntryResult]:
        by_votes = vote_ranks(entries)
        scores = {e.entry_id: round_score(e, rules["jury_round"]) for e in entries}
        keys = scored_keys(entries, scores)
        ranks = competition_ranks(keys)
        tied = ties(keys, ("final", "tie_break", "votes"))
        jury = tiered_awards(ranks, [rules["jury_award"]], len(keys))
        # 人气奖: most valid votes among works that have votes (and, when awards are exclusive,
        # no 评委奖), ranked again among those, so a jury winner's place passes down.
        eligible = [e for e in entries if e.valid_votes > 0 and not (rules["exclusive"] and e.entry_id in jury)]
        popular = tiered_awards(vote_ranks(eligible), [rules["popular_award"]], len(entries))
        results = []
        for e in entries:
            won = tuple(a for a in (jury.get(e.entry_id), popular.get(e.entry_id)) if a is not None)
            results.append(entry_result(e, group, vote_rank=by_votes[e.entry_id], vote_score=None, weights={JURY: 100},
                                  final=scores[e.entry_id], rank=ranks.get(e.entry_id), tie=tied.get(e.entry_id), awards=won))
        return results

    def rule_lines(self, rules: Mapping[str, Any], rounds: Mapping[str, str]) -> list[Line]:
        jury, popular = rules["jury_award"], rules["popular_award"]
        lines = [
            line(N_("%(jury)s：按%(round)s的定稿得分排名，%(places)s；同分时依次比较评审细项得分、有效票数。"),
                 jury=jury["name"], round=round_ref(rules["jury_round"], rounds), places=tier_text([jury])),
            line(N_("%(popular)s：按有效票数排名，%(places)s；须至少有 1 张有效票。"),
                 popular=popular["name"], places=tier_text([popular])),
        ]
        if rules["exclusive"]:
            lines.append(line(N_("同一作品不重复获奖：先定%(jury)s，%(popular)s在其余作品中按票数顺延。"),
                              jury=jury["name"], popular=popular["name"]))
        else:
            lines.append(line(N_("同一作品可同时获得%(jury)s和%(popular)s。"), jury=jury["name"], popular=popular["name"]))
        lines.append(line(N_("压线并列的作品同获该奖项。")))
        return lines

    def group_summary(self, rules: Mapping[str, Any], members: Sequence[EntryResult]) -> Line:
        scored = sum(1 for r in members if r.final_score is not None)
        return line(N_("共 %(entries)s 件参评，%(scored)s 件有评委分；名额：%(jury)s，%(popular)s。"),
                    entries=len(members), scored=scored, jury=slots_text([rules["jury_award"]], scored),
                    popular=slots_text([rules["popular_award"]], len(members)))

    def entry_line(self, rules: Mapping[str, Any], result: EntryResult, members: Sequence[EntryResult]) -> Line:
        if result.final_score is None:
            jury = line(N_("未参加评委评审"))
        else:
            jury = line(N_("评委分 %(score)s，评委评审%(rank)s"), score=Score(result.final_score), rank=rank_text(result))
        return line(N_("票数 %(votes)s（票数第 %(vote_rank)s 名）；%(jury)s → %(award)s"),
                    votes=Count(result.valid_votes), vote_rank=result.vote_rank or 0, jury=jury, award=award_text(result))


KIND = Media()
