"""Kendall's W is computed on the largest complete block that meets the minimum size
(3 entries, 2 judges): a bigger block that is too small never hides a qualifying one."""

from __future__ import annotations

import pytest

from contest.judging.aggregate import aggregate_round
from tests.judging.test_aggregate import ONE, totals_round


def test_a_many_judge_pair_does_not_hide_a_qualifying_block() -> None:
    # Entries 1–2 have eight judges each (16 cells, but only 2 entries); entries 3–7 are five
    # of one set of three judges (15 cells): the 5×3 block is the one W is reported on.
    table = {1: {j: 70 + j for j in range(1, 9)}, 2: {j: 60 + j for j in range(1, 9)}}
    for entry, base in zip(range(3, 8), (90, 80, 70, 60, 50), strict=True):
        table[entry] = {11: base, 12: base - 1, 13: base + 2}
    agreement = aggregate_round(ONE, totals_round(table)).agreement
    assert (agreement.w_entries, agreement.w_judges) == (5, 3)
    assert agreement.kendall_w == pytest.approx(1.0)  # the three judges order the five alike
    assert "W = 1.00" in agreement.explanation


def test_the_minimum_is_checked_before_the_largest_is_picked() -> None:
    # 2 entries × 4 judges (8 cells) beat 3 entries × 2 judges (6 cells) by size, but only the
    # second meets the minimum of 3 entries.
    table = {1: {1: 90, 2: 80, 3: 70, 4: 60}, 2: {1: 50, 2: 60, 3: 40, 4: 45},
             3: {5: 90, 6: 85}, 4: {5: 70, 6: 75}, 5: {5: 60, 6: 50}}
    agreement = aggregate_round(ONE, totals_round(table)).agreement
    assert (agreement.w_entries, agreement.w_judges) == (3, 2)
    # judge 5: 3 > 4 > 5, judge 6: 3 > 4 > 5 → complete agreement
    assert agreement.kendall_w == pytest.approx(1.0)


def test_entries_whose_judges_include_the_block_join_it() -> None:
    # Entries 1–2 by judges {1, 2}, entry 3 by {1, 2, 3}: a 3×2 block through the join.
    table = {1: {1: 90, 2: 80}, 2: {1: 70, 2: 75}, 3: {1: 50, 2: 40, 3: 99}}
    agreement = aggregate_round(ONE, totals_round(table)).agreement
    assert (agreement.w_entries, agreement.w_judges) == (3, 2)


def test_no_block_meets_the_minimum() -> None:
    table = {1: {1: 90, 2: 80, 3: 70}, 2: {1: 50, 2: 60, 3: 40}, 3: {4: 90}}
    agreement = aggregate_round(ONE, totals_round(table)).agreement
    assert agreement.kendall_w is None and (agreement.w_entries, agreement.w_judges) == (0, 0)
