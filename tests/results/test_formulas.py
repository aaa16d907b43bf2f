"""The result formulas computed from known votes and round scores, checked against
arithmetic done by hand (written out in the comments)."""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from dataclasses import asdict, fields
from fractions import Fraction
from itertools import accumulate
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contest.results import formulas
from contest.results.formulas import (
    DEFAULT_FORMULAS,
    EntryInput,
    EntryResult,
    canonical_json,
    check_formula,
    compute,
    default_formula,
    display_fingerprint,
    explain,
    fingerprint,
    format_score,
    short_fingerprint,
    tier_counts,
)


def by_id(results: list[EntryResult]) -> dict[int, EntryResult]:
    return {r.entry_id: r for r in results}


def selection(entry_id: int, votes: int, expert: float | None, tie_break: tuple[float, ...] = (), category: int | None = None) -> EntryInput:
    return EntryInput(entry_id, f"选手{entry_id}", category, votes, {"expert": expert}, tie_break)


# --- 最美职校生 ------------------------------------------------------------------------

SELECTION = [
    selection(1, 2000, 80),
    selection(2, 1234, 88),
    selection(3, 1000, 90),
    selection(4, 500, 95),
    selection(5, 0, 100),   # no vote at all
    selection(6, 1500, None),  # not scored by the experts
]
TWO_AND_TWO = {"awards": [{"name": "最美职校生", "count": 2}, {"name": "提名奖", "count": 2}]}


def test_selection_max_normalisation() -> None:
    # Most valid votes: 2,000 (entry 1). Vote score = votes ÷ 2,000 × 100; total = 30 % vote + 70 % expert.
    #   1: 2000/2000 → 100   × 0.3 = 30    + 80 × 0.7 = 56    → 86.00
    #   2: 1234/2000 → 61.7  × 0.3 = 18.51 + 88 × 0.7 = 61.6  → 80.11
    #   3: 1000/2000 → 50    × 0.3 = 15    + 90 × 0.7 = 63    → 78.00
    #   4:  500/2000 → 25    × 0.3 = 7.5   + 95 × 0.7 = 66.5  → 74.00
    #   5:    0/2000 → 0     × 0.3 = 0     + 100 × 0.7 = 70   → 70.00
    #   6: 1500/2000 → 75, but no expert score → no total, no rank
    # Awards: 最美职校生 ranks 1–2, 提名奖 ranks 3–4.
    results = compute("selection", TWO_AND_TWO, SELECTION)
    assert [r.entry_id for r in results] == [1, 2, 3, 4, 5, 6]
    got = by_id(results)
    assert [got[i].vote_score for i in range(1, 7)] == [100.0, 61.7, 50.0, 25.0, 0.0, 75.0]
    assert [got[i].final_score for i in range(1, 7)] == [86.0, 80.11, 78.0, 74.0, 70.0, None]
    assert [got[i].rank for i in range(1, 7)] == [1, 2, 3, 4, 5, None]
    assert [got[i].award for i in range(1, 7)] == ["最美职校生", "最美职校生", "提名奖", "提名奖", None, None]
    # vote ranks cover every entry of the group, the unscored one too: 2000, 1500, 1234, 1000, 500, 0
    assert [got[i].vote_rank for i in range(1, 7)] == [1, 3, 4, 5, 6, 2]
    assert got[2].weights == {"vote": 30, "expert": 70}
    assert got[2].round_scores == {"expert": 88}
    assert got[2].valid_votes == 1234 and got[2].group == ()
    assert got[1].awards == ("最美职校生",) and got[5].awards == ()
    assert all(r.tie is None for r in results)


def test_selection_rank_scoring() -> None:
    # Vote ranks among the 6 entries (n = 6, n − 1 = 5): 1 (2000), 6 (1500), 2 (1234), 3 (1000), 4 (500), 5 (0).
    # Vote score = 100 × (6 − r) ÷ 5: r1 → 100, r2 → 80, r3 → 60, r4 → 40, r5 → 20, r6 → 0.
    #   1: 100 × 0.3 = 30 + 56   → 86.00
    #   2:  60 × 0.3 = 18 + 61.6 → 79.60
    #   3:  40 × 0.3 = 12 + 63   → 75.00
    #   4:  20 × 0.3 = 6  + 66.5 → 72.50
    #   5:   0 × 0.3 = 0  + 70   → 70.00
    results = by_id(compute("selection", {**TWO_AND_TWO, "vote_scoring": "rank"}, SELECTION))
    assert [results[i].vote_score for i in range(1, 7)] == [100.0, 60.0, 40.0, 20.0, 0.0, 80.0]
    assert [results[i].final_score for i in range(1, 7)] == [86.0, 79.6, 75.0, 72.5, 70.0, None]
    assert [results[i].rank for i in range(1, 7)] == [1, 2, 3, 4, 5, None]


def test_rank_scoring_shares_ranks_on_equal_votes_zero_votes_included() -> None:
    # Votes 10, 5, 5, 0 → competition ranks 1, 2, 2, 4 among n = 4:
    #   100 × 3/3 = 100, 100 × 2/3 = 66.67 (twice), 100 × 0/3 = 0
    entries = [selection(1, 10, 50), selection(2, 5, 50), selection(3, 5, 50), selection(4, 0, 50)]
    got = by_id(compute("selection", {"vote_scoring": "rank"}, entries))
    assert [got[i].vote_rank for i in range(1, 5)] == [1, 2, 2, 4]
    assert [format_score(got[i].vote_score) for i in range(1, 5)] == ["100.00", "66.67", "66.67", "0.00"]
    # Votes 10, 5, 0, 0 → ranks 1, 2, 3, 3: the two entries without a vote share the better
    # rank, so they score 100 × (4 − 3)/3 = 33.33, not 0 (max-normalisation would give 0).
    entries = [selection(1, 10, 50), selection(2, 5, 50), selection(3, 0, 50), selection(4, 0, 50)]
    got = by_id(compute("selection", {"vote_scoring": "rank"}, entries))
    assert [format_score(got[i].vote_score) for i in range(1, 5)] == ["100.00", "66.67", "33.33", "33.33"]
    # One entry alone: 100 by definition.
    assert compute("selection", {"vote_scoring": "rank"}, [selection(1, 0, 50)])[0].vote_score == 100.0


def test_no_votes_at_all_gives_vote_score_zero() -> None:
    # Max is 0 → every vote score is 0; totals are 0.7 × expert: 63.00 and 56.00.
    got = by_id(compute("selection", None, [selection(1, 0, 90), selection(2, 0, 80)]))
    assert (got[1].vote_score, got[1].final_score, got[1].rank) == (0.0, 63.0, 1)
    assert (got[2].vote_score, got[2].final_score, got[2].rank) == (0.0, 56.0, 2)


TIES = [
    selection(1, 1000, 80),    # 100 × 0.3 = 30  + 80 × 0.7 = 56    → 86.00
    selection(2, 100, 70.5),   #  10 × 0.3 = 3   + 70.5 × 0.7 = 49.35 → 52.35
    selection(3, 170, 67.5),   #  17 × 0.3 = 5.1 + 67.5 × 0.7 = 47.25 → 52.35 (same total as 2)
    selection(4, 200, 60),     #  20 × 0.3 = 6   + 60 × 0.7 = 42    → 48.00
    selection(5, 200, 60),     #  same as 4 in every respect        → 48.00
    selection(6, 50, 50),      #   5 × 0.3 = 1.5 + 50 × 0.7 = 35    → 36.50
]


def test_selection_ties_expert_breaks_then_shared_rank_and_award_boundary() -> None:
    # 2 and 3 both total exactly 52.35; 2 has the higher expert score (70.5 > 67.5) → 2 is
    # 2nd, 3 is 3rd. In doubles 0.3 × 10 + 0.7 × 70.5 = 52.349999… while
    # 0.3 × 17 + 0.7 × 67.5 = 52.35, which would have put 3 ahead without looking at the
    # experts: the exact arithmetic is what makes it a tie.
    # 4 and 5 are equal on total, expert score, tie_break and votes → shared 4th; 6 is 6th
    # (competition ranking 1, 2, 3, 4, 4, 6).
    # Awards: 最美职校生 4 places (ranks ≤ 4), 提名奖 1 place (ranks ≤ 5). 4 and 5 straddle
    # the 最美职校生 line and both get it; they used the 5th place, so 6 (rank 6 > 5) gets nothing.
    formula = {"awards": [{"name": "最美职校生", "count": 4}, {"name": "提名奖", "count": 1}]}
    assert 0.3 * 10 + 0.7 * 70.5 != 0.3 * 17 + 0.7 * 67.5
    got = by_id(compute("selection", formula, TIES))
    assert [got[i].final_score for i in range(1, 7)] == [86.0, 52.35, 52.35, 48.0, 48.0, 36.5]
    assert [got[i].rank for i in range(1, 7)] == [1, 2, 3, 4, 4, 6]
    assert [got[i].tie for i in range(1, 7)] == [None, "expert", "expert", "shared", "shared", None]
    assert [got[i].award for i in range(1, 7)] == ["最美职校生"] * 5 + [None]


def test_selection_tie_broken_by_rubric_criteria() -> None:
    # Same votes and same expert score → same total (30 + 0.7 × 85 = 89.50); judging's
    # tie_break keys (criteria in rubric order, then minus the spread) decide: 2's second
    # criterion 29 beats 1's 28, although 1 has the smaller spread.
    entries = [selection(1, 800, 85, (30.0, 28.0, -2.0)), selection(2, 800, 85, (30.0, 29.0, -4.0))]
    got = by_id(compute("selection", {"awards": [{"name": "最美职校生", "count": 1}]}, entries))
    assert (got[1].final_score, got[2].final_score) == (89.5, 89.5)
    assert (got[2].rank, got[1].rank) == (1, 2)
    assert (got[2].award, got[1].award) == ("最美职校生", None)
    assert got[1].tie == got[2].tie == "tie_break"


def test_selection_per_category_awards() -> None:
    # Two categories (7 and 8), one 最美职校生 place each, vote maxima per category.
    #   category 7: 1 → 100 × 0.3 + 70 × 0.7 = 79.00; 2 → 50 × 0.3 + 90 × 0.7 = 78.00 (max 400)
    #   category 8: 3 → 100 × 0.3 + 60 × 0.7 = 72.00; 4 → 10 × 0.3 + 99 × 0.7 = 72.30 (max 50)
    entries = [selection(1, 400, 70, category=7), selection(2, 200, 90, category=7),
               selection(3, 50, 60, category=8), selection(4, 5, 99, category=8)]
    formula = {"awards": [{"name": "最美职校生", "count": 1}], "per_category": True}
    results = compute("selection", formula, entries)
    assert [(r.group, r.entry_id, r.final_score, r.rank, r.award) for r in results] == [
        ((7,), 1, 79.0, 1, "最美职校生"), ((7,), 2, 78.0, 2, None),
        ((8,), 4, 72.3, 1, "最美职校生"), ((8,), 3, 72.0, 2, None),
    ]


def test_only_valid_votes_count_by_construction() -> None:
    # The ledger (simplified): held and voided votes are the caller's to leave out; the
    # input has no place for them, so the result can only depend on the valid count.
    ledger = ["valid"] * 7 + ["held"] * 50 + ["voided"] * 500 + ["valid"] * 3
    assert {f.name for f in fields(EntryInput)} == {
        "entry_id", "title", "category_id", "valid_votes", "round_scores", "tie_break", "group_id", "count_public"}
    valid = Counter(ledger)["valid"]
    assert valid == 10
    from_ledger = compute("selection", None, [selection(1, valid, 80), selection(2, 20, 75)])
    # 1: 10/20 → 50 × 0.3 + 80 × 0.7 = 71.00; 2: 100 × 0.3 + 75 × 0.7 = 82.50
    assert [(r.entry_id, r.valid_votes, r.final_score) for r in from_ledger] == [(2, 20, 82.5), (1, 10, 71.0)]
    # Counting every row instead (560) would have flipped the order; the formula never sees them.
    everything = compute("selection", None, [selection(1, len(ledger), 80), selection(2, 20, 75)])
    assert everything[0].entry_id == 1


def test_selection_with_no_expert_weight_ranks_by_votes_only() -> None:
    # 100 % vote: an entry without an expert score still gets a total.
    got = by_id(compute("selection", {"vote_weight": 100, "expert_weight": 0}, [selection(1, 30, None), selection(2, 60, 50)]))
    assert (got[1].final_score, got[1].rank, got[2].final_score, got[2].rank) == (50.0, 2, 100.0, 1)


def test_display_rounding_is_half_up_from_the_exact_value() -> None:
    # 1 of 8 votes → 12.5; 12.5 × 0.3 = 3.75 + 80.05 × 0.7 = 56.035 → 59.785 exactly.
    # The double 0.3 × 12.5 + 0.7 × 80.05 prints as 59.785 but round() gives 59.78; half up gives 59.79.
    got = by_id(compute("selection", None, [selection(1, 1, 80.05), selection(2, 8, 50)]))
    assert format_score(got[1].final_score) == "59.79"
    assert round(0.3 * 12.5 + 0.7 * 80.05, 2) == 59.78
    assert format_score(80.115) == format_score(Fraction(16023, 200)) == "80.12"
    assert format_score(Fraction(2, 3) * 100) == "66.67"
    assert format_score(None) == "—"
    assert format_score(0) == "0.00"


# --- 全民美拍 --------------------------------------------------------------------------

def media(entry_id: int, category: int, votes: int, jury: float | None, tie_break: tuple[float, ...] = ()) -> EntryInput:
    return EntryInput(entry_id, f"作品{entry_id}", category, votes, {"jury": jury}, tie_break)


MEDIA = [
    # category 1 (摄影)
    media(1, 1, 900, 92),
    media(2, 1, 700, 88),
    media(3, 1, 650, None),  # not in the jury round: can still be popular
    media(4, 1, 650, 75),
    media(5, 1, 0, 70),      # no vote: never 人气奖
    # category 2 (短视频)
    media(6, 2, 300, 80, (40.0,)),
    media(7, 2, 200, 80, (42.0,)),
    media(8, 2, 100, None),
]
ONE_JURY_TWO_POPULAR = {"jury_award": {"name": "评委奖", "count": 1}, "popular_award": {"name": "人气奖", "count": 2}}


def test_media_exclusive_awards_per_category() -> None:
    # Category 1: jury ranks 1 (92), 2 (88), 4 (75), 5 (70) → 评委奖 to 1.
    #   人气奖 among the others with votes: 2 (700) r1, 3 (650) r2, 4 (650) r2 → 2 places,
    #   3 and 4 tie across the line → all three get 人气奖. 5 has no vote.
    # Category 2: 6 and 7 both score 80; 7's first criterion 42 > 40 → 7 first, 评委奖.
    #   人气奖 among the others: 6 (300), 8 (100) → both.
    results = compute("media", ONE_JURY_TWO_POPULAR, MEDIA)
    assert [(r.group, r.entry_id, r.rank, r.vote_rank, r.awards) for r in results] == [
        ((1,), 1, 1, 1, ("评委奖",)),
        ((1,), 2, 2, 2, ("人气奖",)),
        ((1,), 4, 3, 3, ("人气奖",)),
        ((1,), 5, 4, 5, ()),
        ((1,), 3, None, 3, ("人气奖",)),
        ((2,), 7, 1, 2, ("评委奖",)),
        ((2,), 6, 2, 1, ("人气奖",)),
        ((2,), 8, None, 3, ("人气奖",)),
    ]
    got = by_id(results)
    assert got[1].final_score == 92.0 and got[1].weights == {"jury": 100} and got[1].vote_score is None
    assert got[6].tie == got[7].tie == "tie_break"


def test_media_one_work_may_hold_both_when_not_exclusive() -> None:
    # Category 1, 人气奖 by votes among all works with votes: 1 (900) r1, 2 (700) r2 → 2 places;
    # 3 and 4 (650) are 3rd. 1 holds both, 评委奖 listed first.
    # Category 2: 6 (300) r1, 7 (200) r2 → both popular; 7 also 评委奖.
    got = by_id(compute("media", {**ONE_JURY_TWO_POPULAR, "exclusive": False}, MEDIA))
    assert got[1].awards == ("评委奖", "人气奖") and got[1].award == "评委奖"
    assert got[2].awards == ("人气奖",)
    assert got[3].awards == got[4].awards == got[5].awards == ()
    assert got[7].awards == ("评委奖", "人气奖") and got[6].awards == ("人气奖",) and got[8].awards == ()


def test_media_jury_tie_broken_by_votes_then_shared() -> None:
    # 1 and 2: same jury score and criteria; 2 has more votes → 2 first.
    # 3 and 4: equal in everything → shared 3rd, both within 评委奖's 3 places (ranks ≤ 3).
    entries = [media(1, 1, 10, 85, (40.0,)), media(2, 1, 20, 85, (40.0,)), media(3, 1, 5, 70), media(4, 1, 5, 70)]
    formula = {"jury_award": {"name": "评委奖", "count": 3}, "popular_award": {"name": "人气奖", "count": 1}}
    got = by_id(compute("media", formula, entries))
    assert [got[i].rank for i in range(1, 5)] == [2, 1, 3, 3]
    assert [got[i].tie for i in range(1, 5)] == ["votes", "votes", "shared", "shared"]
    assert [got[i].awards for i in range(1, 5)] == [("评委奖",)] * 4  # nobody left for 人气奖


# --- 黄炎培 ---------------------------------------------------------------------------

def project(entry_id: int, group: int, final: float | None, tie_break: tuple[float, ...] = ()) -> EntryInput:
    return EntryInput(entry_id, f"项目{entry_id}", 31, 0, {"online": 80.0, "final": final}, tie_break, group_id=group)


INNOVATION = [
    # 中职组 (group 1): 6 entries scored in the final, 1 not
    project(1, 1, 93.5),
    project(2, 1, 91.0, (30.0, 28.0)),
    project(3, 1, 91.0, (30.0, 28.0)),
    project(4, 1, 87.25),
    project(5, 1, 87.0),
    project(6, 1, 60.0),
    project(7, 1, None),
    # 高职组 (group 2): 3 entries
    project(11, 2, 88.0, (30.0, 28.0, -2.0)),
    project(12, 2, 88.0, (30.0, 29.0, -4.0)),
    project(13, 2, 70.0),
]


def test_innovation_percentage_tiers_per_group() -> None:
    # Default tiers 10 / 20 / 30 / 40 % of the entries with a final score, half up, at least 1.
    # 中职组, 6 scored: 0.6 → 1, 1.2 → 1, 1.8 → 2, 2.4 → 2; lines after ranks 1, 2, 4, 6.
    #   ranks: 1 (93.5), 2 and 3 share 2nd (91.0, equal criteria), 4 is 4th, 5 is 5th, 6 is 6th.
    #   2 and 3 both within the 二等奖 line (rank 2 ≤ 2) although it has 1 place;
    #   4 (rank 4 ≤ 4) 三等奖; 5, 6 (≤ 6) 优秀奖; 7 unranked.
    # 高职组, 3 scored: 0.3 → 0 → 1, 0.6 → 1, 0.9 → 1, 1.2 → 1; lines 1, 2, 3, 4.
    #   12 beats 11 on the second criterion (29 > 28) → 12 一等奖, 11 二等奖, 13 三等奖.
    results = compute("innovation", None, INNOVATION)
    assert [(r.group, r.entry_id, r.final_score, r.rank, r.award) for r in results] == [
        ((1,), 1, 93.5, 1, "一等奖"),
        ((1,), 2, 91.0, 2, "二等奖"),
        ((1,), 3, 91.0, 2, "二等奖"),
        ((1,), 4, 87.25, 4, "三等奖"),
        ((1,), 5, 87.0, 5, "优秀奖"),
        ((1,), 6, 60.0, 6, "优秀奖"),
        ((1,), 7, None, None, None),
        ((2,), 12, 88.0, 1, "一等奖"),
        ((2,), 11, 88.0, 2, "二等奖"),
        ((2,), 13, 70.0, 3, "三等奖"),
    ]
    got = by_id(results)
    assert got[2].tie == got[3].tie == "shared" and got[11].tie == "tie_break"
    assert got[1].weights == {"final": 100} and got[1].vote_rank is None and got[1].vote_score is None
    assert got[1].round_scores == {"online": 80.0, "final": 93.5}


def test_innovation_count_tiers_and_one_list() -> None:
    # Counts, all groups together: 一等奖 1, 二等奖 2 → lines 1, 3.
    # Ranks over the 9 scored: 1 (93.5), 2/3 (91), 11/12 (88, 12 ahead), … → 1 一等奖;
    # 2, 3 (rank 2) 二等奖; 12 is 4th → no award.
    formula = {"tiers": [{"name": "一等奖", "count": 1}, {"name": "二等奖", "count": 2}], "per_group": False}
    got = by_id(compute("innovation", formula, INNOVATION))
    assert [got[i].rank for i in (1, 2, 3, 12, 11, 4, 5, 13, 6)] == [1, 2, 2, 4, 5, 6, 7, 8, 9]
    assert [got[i].award for i in (1, 2, 3, 12)] == ["一等奖", "二等奖", "二等奖", None]
    assert {r.group for r in got.values()} == {()}


def test_tier_counts_round_half_up_at_least_one() -> None:
    tiers = DEFAULT_FORMULAS["innovation"]["tiers"]
    # 15 entries: 1.5 → 2, 3 → 3, 4.5 → 5, 6 → 6 (16 places for 15 entries: everyone is awarded)
    assert tier_counts(tiers, 15) == [2, 3, 5, 6]
    # 3 entries: 0.3, 0.6, 0.9, 1.2 → 0 → 1, 1, 1, 1
    assert tier_counts(tiers, 3) == [1, 1, 1, 1]
    assert tier_counts(tiers, 0) == [0, 0, 0, 0]
    # 29 % of 50 is 14.5 exactly → 15 (the double 0.29 × 50 is 14.499999999999998)
    assert 0.29 * 50 < 14.5
    assert tier_counts([{"name": "一等奖", "percent": 29}], 50) == [15]
    # 12.5 % of 4 = 0.5 → 1; of 12 = 1.5 → 2; of 20 = 2.5 → 3; counts as given
    assert [tier_counts([{"name": "一等奖", "percent": 12.5}], n)[0] for n in (4, 12, 20)] == [1, 2, 3]
    assert tier_counts([{"name": "一等奖", "count": 3}], 2) == [3]


# --- explain ---------------------------------------------------------------------------

def test_explain_selection_shows_the_arithmetic() -> None:
    results = compute("selection", TWO_AND_TWO, SELECTION)
    lines = explain("selection", TWO_AND_TWO, results)
    assert lines[0] == f"最美职校生 计分公式（指纹 {short_fingerprint('selection', TWO_AND_TWO)}）"
    assert "总分 = 投票分 × 30% + 专家分 × 70%；专家分为轮次“expert”的定稿得分。" in lines
    assert "共 6 件参评，5 件有总分；名额：最美职校生 2 名，提名奖 2 名。" in lines
    block = lines.index("#2 选手2")
    assert lines[block + 1] == "  票数 1,234（最高 2,000）→ 投票分 61.70 × 30% + 专家分 88.00 × 70% = 80.11，第 2 名，最美职校生"
    assert "  票数 0（最高 2,000）→ 投票分 0.00 × 30% + 专家分 100.00 × 70% = 70.00，第 5 名，未获奖" in lines
    assert "  票数 1,500（最高 2,000）→ 投票分 75.00；未参加专家评审，不计总分、不参与排名" in lines
    rank_lines = explain("selection", {**TWO_AND_TWO, "vote_scoring": "rank"},
                         compute("selection", {**TWO_AND_TWO, "vote_scoring": "rank"}, SELECTION))
    assert "  票数 1,234（票数第 3 名，共 6 件）→ 投票分 60.00 × 30% + 专家分 88.00 × 70% = 79.60，第 2 名，最美职校生" in rank_lines


def test_explain_names_ties() -> None:
    formula = {"awards": [{"name": "最美职校生", "count": 4}, {"name": "提名奖", "count": 1}]}
    lines = explain("selection", formula, compute("selection", formula, TIES))
    assert "  票数 100（最高 1,000）→ 投票分 10.00 × 30% + 专家分 70.50 × 70% = 52.35，第 2 名（与他人总分相同，按专家分排序），最美职校生" in lines
    assert "  票数 200（最高 1,000）→ 投票分 20.00 × 30% + 专家分 60.00 × 70% = 48.00，第 4 名（并列），最美职校生" in lines


def test_explain_media_and_innovation() -> None:
    lines = explain("media", ONE_JURY_TWO_POPULAR, compute("media", ONE_JURY_TWO_POPULAR, MEDIA), names={1: "摄影", 2: "短视频"})
    assert "【摄影】" in lines and "【短视频】" in lines
    assert "共 5 件参评，4 件有评委分；名额：评委奖 1 名，人气奖 2 名。" in lines
    assert "  票数 900（票数第 1 名）；评委分 92.00，评委评审第 1 名 → 评委奖" in lines
    assert "  票数 650（票数第 3 名）；未参加评委评审 → 人气奖" in lines
    assert "同一作品不重复获奖：先定评委奖，人气奖在其余作品中按票数顺延。" in lines
    lines = explain("innovation", None, compute("innovation", None, INNOVATION), names={1: "中职组", 2: "高职组"})
    assert "共 7 项，6 项有决赛成绩；名额：一等奖 1 名，二等奖 1 名，三等奖 2 名，优秀奖 2 名。" in lines
    assert "  决赛得分 91.00，第 2 名（并列） → 二等奖" in lines
    assert "  未参加决赛评审，不参与排名" in lines
    assert "按比例的名额 = 参与该奖项排名的作品数 × 比例，四舍五入取整，比例大于 0 时至少 1 名。" in lines


# --- fingerprint -----------------------------------------------------------------------

def test_fingerprint_covers_a_documented_canonical_text() -> None:
    text = (
        '{"format":1,"formula":{"awards":[{"count":10,"name":"最美职校生"},{"count":20,"name":"提名奖"}],'
        '"expert_round":"expert","expert_weight":70,"per_category":false,"vote_scoring":"max","vote_weight":30},'
        '"kind":"selection"}'
    )
    assert canonical_json("selection", None) == text
    assert fingerprint("selection", None) == hashlib.sha256(text.encode("utf-8")).hexdigest()
    short = short_fingerprint("selection", None)
    assert short == display_fingerprint(fingerprint("selection", None))
    assert len(short) == 19 and short.count("-") == 3 and short.replace("-", "") == fingerprint("selection", None)[:16]


def test_fingerprint_stable_across_key_order_and_spelling() -> None:
    formula = default_formula("innovation")
    reordered = {k: formula[k] for k in reversed(list(formula))}
    reordered["tiers"] = [{"percent": t["percent"], "name": t["name"]} for t in formula["tiers"]]
    assert fingerprint("innovation", reordered) == fingerprint("innovation", formula)
    # Missing keys are the defaults; 30.0, "30" and 30 are the same weight; names are stripped.
    spelled = {"vote_weight": 30.0, "expert_weight": "70", "awards": [{"name": " 最美职校生 ", "count": 10.0},
                                                                     {"name": "提名奖", "count": "20"}]}
    assert fingerprint("selection", spelled) == fingerprint("selection", {}) == fingerprint("selection", None)


CHANGES: list[tuple[str, dict[str, Any]]] = [
    ("selection", {"vote_weight": 31, "expert_weight": 69}),
    ("selection", {"vote_scoring": "rank"}),
    ("selection", {"expert_round": "expert2"}),
    ("selection", {"awards": [{"name": "最美职校生", "count": 11}, {"name": "提名奖", "count": 20}]}),
    ("selection", {"awards": [{"name": "最美职校生", "count": 10}, {"name": "提名奖", "count": 20}, {"name": "优秀奖", "count": 1}]}),
    ("selection", {"awards": [{"name": "最美职校生", "percent": 10}, {"name": "提名奖", "count": 20}]}),
    ("selection", {"per_category": True}),
    ("media", {"popular_award": {"name": "网络人气奖", "count": 10}}),
    ("media", {"jury_award": {"name": "评委奖", "count": 9}}),
    ("media", {"jury_round": "jury2"}),
    ("media", {"exclusive": False}),
    ("media", {"per_category": False}),
    ("innovation", {"final_round": "final2"}),
    ("innovation", {"tiers": [{"name": "一等奖", "percent": 10.5}, {"name": "二等奖", "percent": 20},
                              {"name": "三等奖", "percent": 30}, {"name": "优秀奖", "percent": 39.5}]}),
    ("innovation", {"tiers": [{"name": "二等奖", "percent": 20}, {"name": "一等奖", "percent": 10},
                              {"name": "三等奖", "percent": 30}, {"name": "优秀奖", "percent": 40}]}),
    ("innovation", {"per_group": False}),
    ("innovation", {"per_track": True}),
]


@pytest.mark.parametrize(("kind", "change"), CHANGES)
def test_fingerprint_changes_when_any_value_changes(kind: str, change: dict[str, Any]) -> None:
    assert fingerprint(kind, change) != fingerprint(kind, None)


def test_fingerprint_differs_between_kinds_and_format_versions(monkeypatch: pytest.MonkeyPatch) -> None:
    assert len({fingerprint(kind, None) for kind in formulas.KINDS}) == 3
    before = fingerprint("media", None)
    monkeypatch.setattr(formulas, "FORMAT_VERSION", 2)
    assert fingerprint("media", None) != before


# --- validation ------------------------------------------------------------------------

def test_check_formula_normalises() -> None:
    assert check_formula("selection", {"vote_weight": 40.0, "expert_weight": "60", "awards": [{"name": " 最美职校生 ", "count": 5.0}]}) == {
        "vote_weight": 40, "expert_weight": 60, "vote_scoring": "max", "expert_round": "expert",
        "awards": [{"name": "最美职校生", "count": 5}], "per_category": False,
    }
    assert check_formula("innovation", {"tiers": [{"name": "一等奖", "percent": "12.50"}]})["tiers"] == [{"name": "一等奖", "percent": 12.5}]
    for kind in formulas.KINDS:
        assert check_formula(kind, None) == DEFAULT_FORMULAS[kind] == default_formula(kind)
        # Defaults fit the entries they are meant for: 30 places for at least 30 entries.
        check_formula(kind, None, entry_count=30)


INVALID: list[tuple[str, Any, int | None, str]] = [
    ("quiz", {}, None, "未知的赛事类型：quiz。"),
    ("selection", ["vote_weight"], None, "计分公式应为键值对象。"),
    ("selection", {"vote_wieght": 30}, None, "未知的公式项：vote_wieght。"),
    ("selection", {"vote_weight": 30, "expert_weight": 60}, None, "投票权重与专家权重之和必须为 100%，现在是 90%。"),
    ("selection", {"vote_weight": 30.5, "expert_weight": 70}, None, "投票权重与专家权重之和必须为 100%，现在是 100.5%。"),
    ("selection", {"vote_weight": -5, "expert_weight": 105}, None, "投票权重应为 0 到 100 之间的数（最多两位小数）。"),
    ("selection", {"vote_weight": 30, "expert_weight": True}, None, "专家权重应为 0 到 100 之间的数（最多两位小数）。"),
    ("selection", {"vote_weight": 33.333, "expert_weight": 66.667}, None, "投票权重应为 0 到 100 之间的数（最多两位小数）。"),
    ("selection", {"vote_scoring": "median"}, None, "投票分的计算方式只能是 max（按最高票折算）或 rank（按票数名次折算）。"),
    ("selection", {"expert_round": "  "}, None, "请填写专家评审的轮次标识。"),
    ("selection", {"expert_round": "x" * 41}, None, "专家评审的轮次标识不能超过 40 个字符。"),
    ("selection", {"per_category": "yes"}, None, "“按类别分别评奖（per_category）”应为是或否（true / false）。"),
    ("selection", {"awards": []}, None, "请至少设置一个奖项。"),
    ("selection", {"awards": [{"name": "最美职校生", "count": 0}]}, None, "奖项“最美职校生”的名额必须是 1 到 100000 之间的整数。"),
    ("selection", {"awards": [{"name": "最美职校生", "count": 2.5}]}, None, "奖项“最美职校生”的名额必须是 1 到 100000 之间的整数。"),
    ("selection", {"awards": [{"name": "最美职校生", "count": 10, "percent": 5}]}, None,
     "奖项“最美职校生”应按名额（count）或按比例（percent）设置，二者选其一。"),
    ("selection", {"awards": [{"name": "最美职校生"}]}, None, "奖项“最美职校生”应按名额（count）或按比例（percent）设置，二者选其一。"),
    ("selection", {"awards": [{"name": "", "count": 1}]}, None, "奖项的名称不能为空。"),
    ("selection", {"awards": ["最美职校生"]}, None, "奖项设置应写明名称（name）以及名额（count）或比例（percent）。"),
    ("selection", {"awards": [{"name": "最美职校生", "count": 1, "money": 100}]}, None, "奖项设置中有未知项：money。"),
    ("selection", {"awards": [{"name": "提名奖", "count": 1}, {"name": "提名奖", "count": 2}]}, None, "奖项名称“提名奖”重复。"),
    ("selection", None, 25, "各奖项的名额合计 30 名，超过参评作品数 25 件。"),
    ("media", {"popular_award": {"name": "评委奖", "count": 1}}, None, "奖项名称“评委奖”重复。"),
    ("media", {"jury_award": {"name": "评委奖", "count": 12}}, 11, "“评委奖”名额 12 名，超过参评作品数 11 件。"),
    ("media", None, 19, "不重复获奖时两个奖项名额合计 20 名，超过参评作品数 19 件。"),
    ("media", {"jury_round": None}, None, "请填写评委评审的轮次标识。"),
    ("innovation", {"tiers": [{"name": "一等奖", "percent": 0}]}, None, "奖项“一等奖”的比例必须大于 0% 且不超过 100%（最多两位小数）。"),
    ("innovation", {"tiers": [{"name": "一等奖", "percent": 101}]}, None, "奖项“一等奖”的比例必须大于 0% 且不超过 100%（最多两位小数）。"),
    ("innovation", {"tiers": [{"name": "一等奖", "percent": 10.125}]}, None, "奖项“一等奖”的比例必须大于 0% 且不超过 100%（最多两位小数）。"),
    ("innovation", {"tiers": [{"name": "一等奖", "percent": 20}, {"name": "二等奖", "percent": 30}, {"name": "三等奖", "percent": 60}]},
     None, "各奖项等级的比例之和不能超过 100%，现在是 110%。"),
    ("innovation", {"tiers": [{"name": f"{i} 等奖", "count": 1} for i in range(11)]}, None, "奖项等级最多设置 10 个。"),
    ("innovation", {"tiers": [{"name": "一等奖", "count": 3}, {"name": "二等奖", "count": 3}]}, 5,
     "各奖项等级的名额合计 6 名，超过参评作品数 5 件。"),
    ("innovation", {"per_group": 1}, None, "“按组别分别评奖（per_group）”应为是或否（true / false）。"),
]


@pytest.mark.parametrize(("kind", "formula", "entry_count", "message"), INVALID)
def test_check_formula_refuses_with_a_clear_message(kind: str, formula: Any, entry_count: int | None, message: str) -> None:
    with pytest.raises(ValueError) as error:
        check_formula(kind, formula, entry_count=entry_count)
    assert str(error.value) == message


def test_percent_tiers_may_share_everything() -> None:
    # 10 + 20 + 30 + 40 = 100 % is allowed (every finalist recognised); counts up to the entry count too.
    check_formula("innovation", None, entry_count=1)
    check_formula("selection", {"awards": [{"name": "最美职校生", "count": 5}]}, entry_count=5)


@pytest.mark.parametrize(("entries", "message"), [
    ([selection(1, 1, 50), selection(1, 2, 60)], "作品 #1 重复出现。"),
    ([selection(1, -1, 50)], "作品 #1 的有效票数必须是非负整数。"),
    ([EntryInput(1, "x", None, 1.5, {})], "作品 #1 的有效票数必须是非负整数。"),  # type: ignore[arg-type]
    ([selection(1, 1, 100.5)], "作品 #1 在轮次“expert”的得分应在 0 到 100 之间。"),
    ([selection(1, 1, float("nan"))], "作品 #1 在轮次“expert”的得分应在 0 到 100 之间。"),
    ([selection(1, 1, 50, (float("inf"),))], "作品 #1 的同分比较项必须是有限的数。"),
])
def test_compute_refuses_bad_inputs(entries: list[EntryInput], message: str) -> None:
    with pytest.raises(ValueError) as error:
        compute("selection", None, entries)
    assert str(error.value) == message


def test_compute_of_nothing_is_nothing() -> None:
    for kind in formulas.KINDS:
        assert compute(kind, None, []) == []


def test_results_are_json_able() -> None:
    json.dumps([asdict(r) for r in compute("media", None, MEDIA)], ensure_ascii=False)


# --- properties ------------------------------------------------------------------------

scores = st.one_of(
    st.none(),
    st.integers(0, 10_000).map(lambda x: x / 100),
    st.floats(0, 100, allow_nan=False, allow_infinity=False),
)
entry_lists = st.lists(
    st.tuples(st.integers(0, 5_000), scores, st.sampled_from([None, 1, 2]),
              st.lists(st.integers(0, 30).map(float), max_size=2).map(tuple)),
    max_size=25,
).map(lambda rows: [EntryInput(i, f"e{i}", c, v, {"expert": s}, t) for i, (v, s, c, t) in enumerate(rows, 1)])


@st.composite
def selection_formulas(draw: st.DrawFn) -> dict[str, Any]:
    vote = draw(st.integers(0, 10_000)) / 100
    first, second = draw(st.integers(1, 8)), draw(st.integers(1, 8))
    awards = [{"name": "甲", "count": first}, {"name": "乙", "percent": draw(st.integers(1, 100))} if draw(st.booleans())
              else {"name": "乙", "count": second}]
    return {"vote_weight": vote, "expert_weight": round(100 - vote, 2), "vote_scoring": draw(st.sampled_from(["max", "rank"])),
            "awards": awards, "per_category": draw(st.booleans())}


@settings(max_examples=300, deadline=None)
@given(entry_lists, selection_formulas())
def test_property_ranks_follow_final_scores_within_0_100(entries: list[EntryInput], formula: dict[str, Any]) -> None:
    results = compute("selection", formula, entries)
    assert sorted(r.entry_id for r in results) == [e.entry_id for e in entries]
    for r in results:
        assert r.vote_score is not None and 0 <= r.vote_score <= 100
        assert sum(r.weights.values()) == 100
        assert (r.final_score is None) == (r.rank is None)
        if r.final_score is not None:
            assert 0 <= r.final_score <= 100
    for a in results:
        for b in results:
            if a.group != b.group or a.rank is None or b.rank is None:
                continue
            assert a.final_score is not None and b.final_score is not None
            if a.final_score > b.final_score:
                assert a.rank < b.rank
            if a.rank == b.rank:
                assert a.final_score == b.final_score


@settings(max_examples=300, deadline=None)
@given(entry_lists, selection_formulas())
def test_property_awards_fill_their_places_and_ties_share(entries: list[EntryInput], formula: dict[str, Any]) -> None:
    results = compute("selection", formula, entries)
    rules = check_formula("selection", formula)
    names = [t["name"] for t in rules["awards"]]
    for group in {r.group for r in results}:
        ranked = [r for r in results if r.group == group and r.rank is not None]
        lines = list(accumulate(tier_counts(rules["awards"], len(ranked))))
        for index, line in enumerate(lines):
            winners = [r for r in ranked if r.award in names[: index + 1]]
            # every place is used (ties may use more), and nobody below the line wins
            assert len(winners) >= min(line, len(ranked))
            assert all(r.rank is not None and r.rank <= line for r in winners)
        for a in ranked:
            for b in ranked:
                if a.rank == b.rank:
                    assert a.award == b.award
        assert all(r.award is None for r in results if r.group == group and r.rank is None)


@settings(max_examples=200, deadline=None)
@given(st.randoms(use_true_random=False), st.sampled_from(formulas.KINDS))
def test_property_fingerprint_ignores_key_order(rng: random.Random, kind: str) -> None:
    def shuffled(value: Any) -> Any:
        if isinstance(value, dict):
            keys = list(value)
            rng.shuffle(keys)
            return {k: shuffled(value[k]) for k in keys}
        if isinstance(value, list):
            return [shuffled(v) for v in value]
        return value

    formula = default_formula(kind)
    assert fingerprint(kind, shuffled(formula)) == fingerprint(kind, formula)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 50), st.one_of(st.none(), st.integers(0, 100).map(float))), max_size=20))
def test_property_innovation_ranks_and_tiers(rows: list[tuple[int, float | None]]) -> None:
    entries = [EntryInput(i, f"p{i}", None, 0, {"final": s}, group_id=g % 2) for i, (g, s) in enumerate(rows, 1)]
    results = compute("innovation", None, entries)
    order = {"一等奖": 0, "二等奖": 1, "三等奖": 2, "优秀奖": 3}
    for a in results:
        for b in results:
            if a.group == b.group and a.rank is not None and b.rank is not None and a.rank < b.rank:
                assert a.final_score is not None and b.final_score is not None and a.final_score > b.final_score
                # a better rank never gets a worse award
                assert b.award is None or (a.award is not None and order[a.award] <= order[b.award])
