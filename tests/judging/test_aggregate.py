"""judging.aggregate: hand-computed examples, then every formula checked against a plain
reference implementation (exact fractions, sorted lists, brute force) on random rounds."""

from __future__ import annotations

import itertools
import math
import random
import re
import statistics
from collections import Counter
from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import get_args

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from contest.judging.aggregate import (
    Criterion,
    EntryResult,
    JudgeStats,
    Method,
    RoundResult,
    Score,
    aggregate_round,
    aggregate_values,
    check_rubric,
    icc_band,
    icc_oneway,
    kendall_w,
    live_result,
    weighted_total,
)

SETTINGS = settings(max_examples=100, deadline=None)
ONE = [Criterion(id=1, name="总分", maximum=100.0, weight=100.0)]


def by_entry(result: RoundResult) -> dict[int, EntryResult]:
    return {e.entry_id: e for e in result.entries}


def by_judge(result: RoundResult) -> dict[int, JudgeStats]:
    return {j.judge_id: j for j in result.judges}


def scored(result: RoundResult) -> dict[int, tuple[float, int]]:
    """entry id → (ranking score, rank) of every scored entry."""
    pairs = {}
    for e in result.entries:
        assert e.ranking_score is not None and e.rank is not None
        pairs[e.entry_id] = (e.ranking_score, e.rank)
    return pairs


def totals_round(table: Mapping[int, Mapping[int, float]]) -> list[Score]:
    """{entry: {judge: total}} on the one-criterion rubric, where value = total."""
    return [Score(entry_id=e, judge_id=j, values={1: t}) for e, row in table.items() for j, t in row.items()]


# --- hand-computed examples -------------------------------------------------------------

def test_weighted_total_by_hand() -> None:
    criteria = [Criterion(1, "创新性", 10, 30), Criterion(2, "可行性", 20, 40), Criterion(3, "路演表现", 5, 30)]
    # 8/10 × 30 + 15/20 × 40 + 4/5 × 30 = 24 + 30 + 24
    assert weighted_total(criteria, {1: 8, 2: 15, 3: 4}) == 78
    assert weighted_total(criteria, {1: 10, 2: 20, 3: 5}) == 100
    assert weighted_total(criteria, {1: 0, 2: 0, 3: 0}) == 0


def test_trimmed_mean_and_median_by_hand() -> None:
    five = [40, 70, 72, 80, 100]
    assert aggregate_values(five, "mean") == pytest.approx(72.4)  # 362 / 5
    assert aggregate_values(five, "trimmed") == 74  # 40 and 100 dropped: (70 + 72 + 80) / 3
    assert aggregate_values(five, "median") == 72
    four = [40, 70, 80, 100]
    assert aggregate_values(four, "trimmed") == 72.5  # under 5 judges: the plain mean
    assert aggregate_values(four, "median") == 75  # (70 + 80) / 2
    # Only one copy of the extremes is dropped.
    assert aggregate_values([60, 60, 70, 90, 90], "trimmed") == pytest.approx(220 / 3)


def test_round_with_five_judges_uses_the_trimmed_mean() -> None:
    table = {1: dict(zip(range(1, 6), [40, 70, 72, 80, 100], strict=True))}
    entry = by_entry(aggregate_round(ONE, totals_round(table), method="trimmed"))[1]
    assert entry.aggregated == entry.ranking_score == 74
    assert entry.criterion_scores == {1: 74}
    assert entry.spread == 60 and entry.flagged and entry.rank == 1
    assert by_entry(aggregate_round(ONE, totals_round(table), method="median"))[1].aggregated == 72


def test_ties_by_declared_criterion_order_then_spread_then_shared_rank() -> None:
    # Declared order: 表现 (id 20) before 创新 (id 10), so 20 decides first although its id is larger.
    criteria = [Criterion(20, "表现", 60, 60), Criterion(10, "创新", 40, 40)]
    marks = {
        1: [{20: 30, 10: 40}, {20: 30, 10: 40}],  # 30 + 40 = 70 twice; spread 0
        2: [{20: 40, 10: 30}, {20: 40, 10: 30}],  # 40 + 30 = 70; 表现 40 beats 30
        3: [{20: 20, 10: 40}, {20: 40, 10: 40}],  # 60 and 80: mean 70, 表现 30, 创新 40, spread 20
        4: [{20: 30, 10: 40}, {20: 30, 10: 40}],  # the same as entry 1: shares its rank
        5: [{20: 60, 10: 40}, {20: 60, 10: 40}],  # 100
        6: [{20: 10, 10: 40}, {20: 41, 10: 40}],  # 50 and 81: mean 65.5, spread 31
    }
    scores = [Score(e, judge, values) for e, pair in marks.items() for judge, values in zip((7, 8), pair, strict=True)]
    result = aggregate_round(criteria, scores, entry_ids=[1, 2, 3, 4, 5, 6, 9])
    ranks = {e.entry_id: e.rank for e in result.entries}
    assert ranks == {5: 1, 2: 2, 1: 3, 4: 3, 3: 5, 6: 6, 9: None}
    assert [e.entry_id for e in result.entries] == [5, 2, 1, 4, 3, 6, 9]
    entries = by_entry(result)
    assert list(entries[3].criterion_scores.items()) == [(20, 30), (10, 40)]
    assert entries[3].spread == 20 and not entries[3].flagged  # exactly at the threshold: not flagged
    assert entries[6].spread == 31 and entries[6].flagged
    unscored = entries[9]
    assert (unscored.n_judges, unscored.aggregated, unscored.ranking_score, unscored.rank) == (0, None, None, None)


def test_normalisation_with_an_uncalibrated_judge_and_bias() -> None:
    # Judge 1 gives 65 and 85 (mean 75, SD 10), judge 2 gives 70 and 95 (mean 82.5, SD 12.5):
    # both have min_scores = 2 scores and a spread, so they are calibrated. Judge 3 scored only
    # entry 3 (65): not calibrated.
    # Round: totals 65, 85, 70, 95, 65 → M = 380 / 5 = 76; deviations −11, 9, −6, 19, −11,
    # squares 121 + 81 + 36 + 361 + 121 = 720, S = √(720 / 5) = 12.
    # Entry 1: z = −1 for both judges → 76 − 12 = 64; entry 2: z = +1 → 88.
    # Entry 3: judge 3 standardised with M and S and mapped back → 65 unchanged.
    table = {1: {1: 65, 2: 70}, 2: {1: 85, 2: 95}, 3: {3: 65}}
    raw = aggregate_round(ONE, totals_round(table), min_scores=2)
    assert [(e.entry_id, e.aggregated, e.rank) for e in raw.entries] == [(2, 90, 1), (1, 67.5, 2), (3, 65, 3)]
    result = aggregate_round(ONE, totals_round(table), normalise=True, min_scores=2)
    assert (result.round_mean, result.round_sd) == (76, 12)
    entries = by_entry(result)
    assert entries[1].normalised_totals == {1: 64, 2: 64} and entries[1].normalised == 64
    assert entries[2].normalised == entries[2].ranking_score == 88
    assert entries[3].normalised == 65 and entries[3].aggregated == 65
    assert [(e.entry_id, e.rank) for e in result.entries] == [(2, 1), (3, 2), (1, 3)]
    judges = by_judge(result)
    assert (judges[1].mean, judges[1].sd, judges[1].calibrated) == (75, 10, True)
    assert (judges[2].mean, judges[2].sd, judges[2].calibrated) == (82.5, 12.5, True)
    assert (judges[3].n, judges[3].calibrated) == (1, False)
    # Bias: judge 1 is 65 − 70 = −5 and 85 − 95 = −10 below the others → −7.5; judge 2 +7.5;
    # judge 3 never shares an entry.
    assert (judges[1].bias, judges[2].bias, judges[3].bias) == (-7.5, 7.5, None)
    # With the default min_scores = 5 nobody is calibrated and nothing moves.
    plain = by_entry(aggregate_round(ONE, totals_round(table), normalise=True))
    assert {e: r.normalised for e, r in plain.items()} == {1: 67.5, 2: 90, 3: 65}


def test_flat_scorer() -> None:
    # Judge 1: 80, 81, 82 → population SD √(2/3) ≈ 0.82 < 3 with 3 scores: flat.
    # Judge 2: 50, 70, 90 → SD √(800/3) ≈ 16.3: not flat. Judge 3: 75, 75 → too few to tell.
    table = {1: {1: 80, 2: 50, 3: 75}, 2: {1: 81, 2: 70, 3: 75}, 3: {1: 82, 2: 90}}
    judges = by_judge(aggregate_round(ONE, totals_round(table)))
    assert judges[1].flat and judges[1].sd == pytest.approx(math.sqrt(2 / 3))
    assert not judges[2].flat
    assert not judges[3].flat and judges[3].sd == 0 and not judges[3].calibrated


# Shrout & Fleiss (1979), "Intraclass correlations: uses in assessing rater reliability",
# Table 2: 6 targets rated by 4 judges.
SHROUT_FLEISS = [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]]


def test_icc_on_the_shrout_fleiss_example() -> None:
    # Row sums 24, 12, 26, 16, 30, 19 (N = 24, grand total 127); row means 6, 3, 6.5, 4, 7.5, 4.75.
    # SSB = 4 × Σ mean² − 127² / 24 = 4 × 182.0625 − 672.0417 = 56.2083, MSB = SSB / 5 = 1349/120 ≈ 11.24.
    # Σ y² = 841, SSW = 841 − 728.25 = 112.75, MSW = 112.75 / 18 = 451/72 ≈ 6.26.
    # ICC(1) = (MSB − MSW) / (MSB + 3 MSW) = (4047 − 2255) / (4047 + 6765) = 1792/10812 = 448/2703
    # ≈ 0.166 — the paper's ICC(1,1) = 0.17; and ICC(1,4) = 4 × 0.166 / (1 + 3 × 0.166) ≈ 0.44, as printed.
    table = {e: dict(enumerate(row)) for e, row in enumerate(SHROUT_FLEISS)}
    agreement = aggregate_round(ONE, totals_round(table)).agreement
    assert agreement.icc == pytest.approx(448 / 2703)
    assert agreement.k0 == 4
    assert agreement.icc_average == pytest.approx(4 * 448 / (2703 + 3 * 448))
    assert agreement.icc_average is not None and round(agreement.icc_average, 2) == 0.44
    assert agreement.band == "poor"
    assert "ICC = 0.17（较差）" in agreement.explanation and "约 17%" in agreement.explanation
    # Kendall's W on the complete 6 × 4 block, mid-ranks per judge:
    #   judge 1 (9,6,8,7,10,6): 5, 1.5, 4, 3, 6, 1.5       judge 2 (2,1,4,1,5,2): 3.5, 1.5, 5, 1.5, 6, 3.5
    #   judge 3 (5,3,6,2,6,4):  4, 2, 5.5, 1, 5.5, 3       judge 4 (8,2,8,6,9,7): 4.5, 1, 4.5, 2, 6, 3
    # Rank sums 17, 6, 19, 7.5, 23.5, 11 around m(n+1)/2 = 14: S = 9 + 64 + 25 + 42.25 + 90.25 + 9 = 239.5.
    # Ties: one pair for judges 1, 3, 4 and two for judge 2 → Σ(t³ − t) = 5 × 6 = 30.
    # W = 12 × 239.5 / (4² × (6³ − 6) − 4 × 30) = 2874 / 3240 ≈ 0.887.
    assert agreement.kendall_w == pytest.approx(2874 / 3240)
    assert (agreement.w_entries, agreement.w_judges) == (6, 4)


def test_icc_with_unequal_group_sizes_by_hand() -> None:
    # Entries scored by 2, 3 and 1 judges: [2, 4], [5, 7, 9], [6]. N = 6, a = 3, grand mean 5.5.
    # SSB = 2(3 − 5.5)² + 3(7 − 5.5)² + (6 − 5.5)² = 19.5, MSB = 9.75; SSW = 2 + 8 + 0 = 10, MSW = 10/3.
    # k0 = (6 − (4 + 9 + 1)/6) / 2 = 11/6. ICC = (39/4 − 10/3) / (39/4 + (5/6)(10/3)) = (77/12)/(451/36) = 21/41.
    icc, k0 = icc_oneway([[2, 4], [5, 7, 9], [6]])  # type: ignore[misc]
    assert icc == pytest.approx(21 / 41) and k0 == pytest.approx(11 / 6)
    assert icc_band(21 / 41) == "moderate"
    assert [icc_band(x) for x in (-0.2, 0.49, 0.5, 0.74, 0.75, 0.89, 0.9, 1.0)] == [
        "poor", "poor", "moderate", "moderate", "good", "good", "excellent", "excellent"]


def test_agreement_is_none_without_enough_data() -> None:
    agreement = aggregate_round(ONE, totals_round({1: {1: 50}, 2: {2: 60}})).agreement
    assert agreement.icc is None and agreement.band is None and agreement.kendall_w is None
    assert "无法计算" in agreement.explanation
    assert icc_oneway([[70, 70], [70]]) is None  # no variance: undefined, not perfect


def test_kendall_w_block_is_the_largest_group_of_entries_with_the_same_judges() -> None:
    # Judges 1–3 score entries 1–4 (entry 4 also by judge 4); entries 5 and 6 have other judges.
    table = {1: {1: 90, 2: 88, 3: 85}, 2: {1: 80, 2: 70, 3: 75}, 3: {1: 60, 2: 65, 3: 50},
             4: {1: 70, 2: 72, 3: 60, 4: 99}, 5: {4: 50, 5: 60}, 6: {5: 70, 6: 80}}
    agreement = aggregate_round(ONE, totals_round(table)).agreement
    assert (agreement.w_entries, agreement.w_judges) == (4, 3)
    # Judges' orders: 1: 1 > 2 > 4 > 3, 2: 1 > 4 > 2 > 3, 3: 1 > 2 > 4 > 3 → rank sums 12, 8, 3, 7.
    # S = 4.5² + 0.5² + 4.5² + 0.5² = 41, W = 12 × 41 / (9 × 60) = 492 / 540.
    assert agreement.kendall_w == pytest.approx(492 / 540)


def test_live_result_is_the_rounds_own_method() -> None:
    assert live_result([]) == (None, None, None)
    assert live_result([88.0]) == (None, None, 88.0)
    assert live_result([80.0, 90.0]) == (None, None, 85.0)
    # trimmed drops the extremes from 5 judges up, as the published round score does
    assert live_result([80.0, 90.0, 86.0]) == (None, None, pytest.approx(256 / 3))
    high, low, mean = live_result([91.5, 88.0, 90.0, 95.0, 70.0])
    assert (high, low) == (95.0, 70.0) and mean == pytest.approx(269.5 / 3)
    assert live_result([90.0, 90.0, 80.0, 80.0, 85.0]) == (90.0, 80.0, pytest.approx(255 / 3))
    assert live_result([80.0, 90.0, 86.0], "median") == (None, None, 86.0)
    assert live_result([80.0, 90.0, 86.0, 70.0, 99.0], "mean") == (None, None, pytest.approx(425 / 5))


@pytest.mark.parametrize(("criteria", "message"), [
    ([], "评分标准为空"),
    ([Criterion(1, "创新", 10, 50), Criterion(1, "表现", 10, 50)], "编号重复"),
    ([Criterion(1, "创新", 0, 100)], "满分须大于 0"),
    ([Criterion(1, "创新", -5, 100)], "满分须大于 0"),
    ([Criterion(1, "创新", 10, 100), Criterion(2, "表现", 10, 0)], "权重须大于 0"),
    ([Criterion(1, "创新", 10, 60), Criterion(2, "表现", 10, 30)], "权重之和须为 100，现为 90（创新 60 + 表现 30）"),
    ([Criterion(1, "创新", math.nan, 100)], "满分须大于 0"),
], ids=["empty", "duplicate-id", "zero-maximum", "negative-maximum", "zero-weight", "weights-90", "nan-maximum"])
def test_check_rubric_refuses(criteria: list[Criterion], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        check_rubric(criteria)
    with pytest.raises(ValueError, match=re.escape(message)):
        aggregate_round(criteria, [])


def test_check_rubric_accepts_weights_summing_to_100_in_floats() -> None:
    check_rubric([Criterion(i, f"c{i}", 10, 100 / 3) for i in range(3)])


@pytest.mark.parametrize(("scores", "message"), [
    ([Score(1, 1, {})], "缺少"),
    ([Score(1, 1, {1: 50, 2: 3})], "多出 \\[2\\]"),
    ([Score(1, 1, {1: 100.5})], "0 到 100 之间"),
    ([Score(1, 1, {1: -1})], "0 到 100 之间"),
    ([Score(1, 1, {1: math.nan})], "0 到 100 之间"),
    ([Score(1, 1, {1: 50}), Score(1, 1, {1: 60})], "两份评分"),
], ids=["missing", "unknown", "above-maximum", "negative", "nan", "twice"])
def test_bad_scores_are_refused(scores: list[Score], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        aggregate_round(ONE, scores)


def test_unknown_method_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown aggregation method"):
        aggregate_round(ONE, [], method="max")  # type: ignore[arg-type]


def test_empty_round() -> None:
    result = aggregate_round(ONE, [], entry_ids=[3, 1])
    assert [(e.entry_id, e.rank) for e in result.entries] == [(1, None), (3, None)]
    assert result.judges == () and result.round_mean is None and result.agreement.icc is None


# --- reference implementations -------------------------------------------------------------

def ref_total(criteria: list[Criterion], values: dict[int, float]) -> float:
    return float(sum(Fraction(values[c.id]) / Fraction(c.maximum) * Fraction(c.weight) for c in criteria))


def ref_aggregate(values: list[float], method: str) -> float:
    ordered = sorted(Fraction(v) for v in values)
    if method == "trimmed" and len(ordered) >= 5:
        ordered = ordered[1:-1]
    if method == "median":
        middle = len(ordered) // 2
        return float(ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2)
    return float(sum(ordered) / len(ordered))


def ref_competition_ranks(keys: dict[int, tuple[float, ...]]) -> dict[int, int]:
    return {e: 1 + sum(other < key for other in keys.values()) for e, key in keys.items()}


def ref_icc(groups: list[list[float]]) -> float | None:
    exact = [[Fraction(y) for y in g] for g in groups if g]
    a, n = len(exact), sum(len(g) for g in exact)
    if a < 2 or n == a:
        return None
    grand = sum(sum(g) for g in exact) / n
    ssb = sum(sum(g) ** 2 / len(g) for g in exact) - n * grand**2
    ssw = sum(y * y for g in exact for y in g) - sum(sum(g) ** 2 / len(g) for g in exact)
    msb, msw = ssb / (a - 1), ssw / (n - a)
    k0 = (n - Fraction(sum(len(g) ** 2 for g in exact), n)) / (a - 1)
    if msb + (k0 - 1) * msw == 0:
        return None
    return float((msb - msw) / (msb + (k0 - 1) * msw))


def ref_kendall_w(ratings: list[list[float]]) -> float | None:
    m, n = len(ratings), len(ratings[0])
    rank_sums = [Fraction(0)] * n
    ties = 0
    for row in ratings:
        for i, x in enumerate(row):
            below = sum(y < x for y in row)
            equal = sum(y == x for y in row)
            rank_sums[i] += below + Fraction(equal + 1, 2)
        ties += sum(t**3 - t for t in Counter(row).values())
    centre = Fraction(m * (n + 1), 2)
    s = sum((r - centre) ** 2 for r in rank_sums)
    denominator = m * m * (n**3 - n) - m * ties
    return None if denominator == 0 else float(12 * s / denominator)


# --- strategies ----------------------------------------------------------------------------

MAXIMA = (5.0, 10.0, 20.0, 25.0, 30.0, 40.0, 100.0)


@st.composite
def rubrics(draw: st.DrawFn, max_criteria: int = 4) -> list[Criterion]:
    n = draw(st.integers(1, max_criteria))
    ids = draw(st.lists(st.integers(1, 50), min_size=n, max_size=n, unique=True))
    cuts = sorted(draw(st.lists(st.integers(1, 99), min_size=n - 1, max_size=n - 1, unique=True)))
    weights = [b - a for a, b in itertools.pairwise([0, *cuts, 100])]
    return [Criterion(i, f"指标{i}", draw(st.sampled_from(MAXIMA)), float(w)) for i, w in zip(ids, weights, strict=True)]


def marks(draw: Callable[[st.SearchStrategy[int]], int], criteria: list[Criterion], top: float = 1.0) -> dict[int, float]:
    """Marks on a 0.5 step between 0 and top × maximum."""
    return {c.id: draw(st.integers(0, int(2 * c.maximum * top))) / 2 for c in criteria}


@st.composite
def rounds(draw: st.DrawFn) -> tuple[list[Criterion], list[Score]]:
    criteria = draw(rubrics())
    n_entries, n_judges = draw(st.integers(1, 8)), draw(st.integers(1, 6))
    pairs = [(e, j) for e in range(1, n_entries + 1) for j in range(1, n_judges + 1)]
    chosen = draw(st.lists(st.sampled_from(pairs), unique=True, min_size=1, max_size=len(pairs)))
    return criteria, [Score(e, j, marks(draw, criteria)) for e, j in chosen]


values_lists = st.lists(st.integers(0, 200).map(lambda x: x / 2), min_size=1, max_size=12)
methods = st.sampled_from(get_args(Method))


# --- properties ----------------------------------------------------------------------------

@SETTINGS
@given(st.data())
def test_weighted_total_matches_reference(data: st.DataObject) -> None:
    criteria = data.draw(rubrics(max_criteria=6))
    values = marks(data.draw, criteria)
    total = weighted_total(criteria, values)
    assert total == pytest.approx(ref_total(criteria, values), abs=1e-9)
    assert 0 <= total <= 100


@SETTINGS
@given(values_lists, methods)
def test_aggregate_values_match_reference(values: list[float], method: Method) -> None:
    assert aggregate_values(values, method) == pytest.approx(ref_aggregate(values, method), abs=1e-9)


@SETTINGS
@given(values_lists)
def test_trimmed_mean_lies_between_min_and_max(values: list[float]) -> None:
    trimmed = aggregate_values(values, "trimmed")
    assert min(values) <= trimmed <= max(values)
    if len(values) >= 5:
        inner = sorted(values)[1:-1]
        assert min(inner) <= trimmed <= max(inner)


@SETTINGS
@given(values_lists)
def test_live_result_matches_reference(totals: list[float]) -> None:
    high, low, mean = live_result(totals)
    ordered = sorted(totals)
    assert mean == aggregate_values(totals, "trimmed")  # the screen shows what the round publishes
    if len(totals) >= 5:
        assert (high, low) == (ordered[-1], ordered[0])
        assert mean == pytest.approx(statistics.fmean(ordered[1:-1]), abs=1e-9)
    else:
        assert (high, low) == (None, None)
        assert mean == pytest.approx(statistics.fmean(totals), abs=1e-9)


@SETTINGS
@given(rounds(), methods, st.booleans(), st.integers(1, 5), st.sampled_from([5.0, 10.0, 20.0]))
def test_round_matches_reference(case: tuple[list[Criterion], list[Score]], method: Method, normalise: bool, min_scores: int, threshold: float) -> None:
    criteria, scores = case
    result = aggregate_round(criteria, scores, method=method, normalise=normalise, min_scores=min_scores,
                             spread_threshold=threshold, flat_sd=3.0, entry_ids=[99])
    totals: dict[int, dict[int, float]] = {}
    for s in scores:
        totals.setdefault(s.entry_id, {})[s.judge_id] = ref_total(criteria, dict(s.values))
    per_judge: dict[int, dict[int, float]] = {}
    for e, row in totals.items():
        for j, t in row.items():
            per_judge.setdefault(j, {})[e] = t

    # Judges: mean, population SD, bias against the others, calibration, flatness.
    everything = [t for row in totals.values() for t in row.values()]
    big_m, big_s = statistics.fmean(everything), statistics.pstdev(everything)
    assert result.round_mean == pytest.approx(big_m, abs=1e-9) and result.round_sd == pytest.approx(big_s, abs=1e-9)
    judges = by_judge(result)
    assert sorted(judges) == [j.judge_id for j in result.judges] == sorted(per_judge)
    z: dict[tuple[int, int], float] = {}
    for j, own in per_judge.items():
        stats = judges[j]
        mean, sd = statistics.fmean(own.values()), statistics.pstdev(own.values())
        assert stats.n == len(own)
        assert stats.mean == pytest.approx(mean, abs=1e-9) and stats.sd == pytest.approx(sd, abs=1e-9)
        calibrated = len(own) >= min_scores and len(set(own.values())) > 1
        assert stats.calibrated == calibrated
        assert stats.flat == (len(own) >= 3 and sd < 3.0)
        gaps = [t - statistics.fmean(o for k, o in totals[e].items() if k != j) for e, t in own.items() if len(totals[e]) > 1]
        assert stats.bias == (pytest.approx(statistics.fmean(gaps), abs=1e-9) if gaps else None)
        for e, t in own.items():
            z[e, j] = big_m + big_s * (t - mean) / sd if calibrated else t

    # Entries: totals, aggregates, normalised scores, per-criterion aggregates, spread.
    entries = by_entry(result)
    assert sorted(entries) == sorted([*totals, 99])
    assert entries[99].rank is None and entries[99].n_judges == 0
    for e, row in totals.items():
        entry = entries[e]
        assert entry.n_judges == len(row)
        assert list(entry.totals) == sorted(row)
        assert entry.totals == {j: pytest.approx(t, abs=1e-9) for j, t in row.items()}
        assert entry.aggregated == pytest.approx(ref_aggregate(list(row.values()), method), abs=1e-9)
        if normalise:
            assert entry.normalised == pytest.approx(ref_aggregate([z[e, j] for j in row], method), abs=1e-6)
            assert entry.ranking_score == entry.normalised
        else:
            assert entry.normalised is None and entry.normalised_totals == {}
            assert entry.ranking_score == entry.aggregated
        assert list(entry.criterion_scores) == [c.id for c in criteria]
        for c in criteria:
            raw = [s.values[c.id] for s in scores if s.entry_id == e]
            assert entry.criterion_scores[c.id] == pytest.approx(ref_aggregate(raw, method), abs=1e-9)
        assert entry.spread == pytest.approx(max(row.values()) - min(row.values()), abs=1e-9)
        assert entry.flagged == (entry.spread > threshold)

    # Ranks: a competition ranking of (score desc, criteria in declared order desc, spread asc),
    # brute force; the list is in rank order.
    keys = {e: (-round(r.ranking_score, 9), *(-round(r.criterion_scores[c.id], 9) for c in criteria), round(r.spread, 9))
            for e, r in entries.items() if r.ranking_score is not None}
    assert {e: entries[e].rank for e in keys} == ref_competition_ranks(keys)
    ranked = [r.rank for r in result.entries if r.rank is not None]
    assert ranked == sorted(ranked) and ranked[0] == 1

    # Agreement.
    icc = ref_icc([list(row.values()) for row in totals.values()])
    assert result.agreement.icc == (None if icc is None else pytest.approx(icc, abs=1e-9))
    if result.agreement.kendall_w is not None:
        assert result.agreement.w_entries >= 3 and result.agreement.w_judges >= 2


@SETTINGS
@given(rounds(), methods, st.booleans(), st.randoms(use_true_random=False))
def test_result_does_not_depend_on_the_order_of_scores(case: tuple[list[Criterion], list[Score]], method: Method, normalise: bool, rnd: random.Random) -> None:
    criteria, scores = case
    shuffled = list(scores)
    rnd.shuffle(shuffled)
    assert aggregate_round(criteria, shuffled, method=method, normalise=normalise, min_scores=2) == \
        aggregate_round(criteria, scores, method=method, normalise=normalise, min_scores=2)


@SETTINGS
@given(st.data(), methods)
def test_shifting_one_calibrated_judge_keeps_the_normalised_ranking(data: st.DataObject, method: Method) -> None:
    # A complete round where every judge is calibrated: adding a constant to one judge's
    # totals changes neither their z-scores nor anyone else's, and M + S·z is increasing,
    # so the order of entries by normalised score stays.
    criteria = data.draw(rubrics())
    n_entries, n_judges = data.draw(st.integers(3, 8)), data.draw(st.integers(2, 5))
    table = {(e, j): marks(data.draw, criteria, top=0.5) for e in range(n_entries) for j in range(n_judges)}
    shifted_judge = data.draw(st.integers(0, n_judges - 1))
    shift = {c.id: data.draw(st.integers(0, int(c.maximum))) / 2 for c in criteria}
    moved = {(e, j): ({k: v + shift[k] for k, v in values.items()} if j == shifted_judge else values)
             for (e, j), values in table.items()}
    before = aggregate_round(criteria, [Score(e, j, v) for (e, j), v in table.items()], method=method, normalise=True, min_scores=3)
    after = aggregate_round(criteria, [Score(e, j, v) for (e, j), v in moved.items()], method=method, normalise=True, min_scores=3)
    assume(all(j.calibrated for j in before.judges))
    assert all(j.calibrated for j in after.judges)
    old, new = scored(before), scored(after)
    for a, b in itertools.permutations(old, 2):
        if old[a][0] - old[b][0] > 1e-6:
            assert new[a][0] > new[b][0]
            assert old[a][1] < old[b][1] and new[a][1] < new[b][1]


@SETTINGS
@given(st.lists(st.lists(st.integers(0, 200).map(lambda x: x / 2), min_size=1, max_size=10), min_size=1, max_size=10))
def test_icc_matches_exact_reference(groups: list[list[float]]) -> None:
    found = icc_oneway(groups)
    expected = ref_icc(groups)
    if expected is None or found is None:
        assert found is None and (expected is None or len({y for g in groups for y in g}) == 1)
    else:
        assert found[0] == pytest.approx(expected, abs=1e-9)
        assert found[0] <= 1 + 1e-12


@SETTINGS
@given(st.integers(2, 6).flatmap(lambda n: st.lists(
    st.lists(st.integers(0, 8).map(float), min_size=n, max_size=n), min_size=2, max_size=6)))
def test_kendall_w_matches_reference_with_ties(ratings: list[list[float]]) -> None:
    found, expected = kendall_w(ratings), ref_kendall_w(ratings)
    assert found == (None if expected is None else pytest.approx(expected, abs=1e-12))
    if found is not None:
        assert -1e-12 <= found <= 1 + 1e-12


@SETTINGS
@given(st.integers(3, 7), st.integers(2, 6), st.randoms(use_true_random=False))
def test_kendall_w_without_ties_agrees_with_mean_spearman(n: int, m: int, rnd: random.Random) -> None:
    # Without ties, the mean Spearman correlation over all pairs of judges is (mW − 1)/(m − 1).
    ratings = [[float(x) for x in rnd.sample(range(100), n)] for _ in range(m)]

    def ranks(row: list[float]) -> list[int]:
        return [sorted(row).index(x) + 1 for x in row]

    def spearman(a: list[float], b: list[float]) -> float:
        d2 = sum((x - y) ** 2 for x, y in zip(ranks(a), ranks(b), strict=True))
        return 1 - 6 * d2 / (n * (n * n - 1))

    mean_rho = statistics.fmean(spearman(a, b) for a, b in itertools.combinations(ratings, 2))
    w = kendall_w(ratings)
    assert w is not None and (m * w - 1) / (m - 1) == pytest.approx(mean_rho, abs=1e-9)


@SETTINGS
@given(st.data())
def test_kendall_w_of_a_complete_round_uses_every_entry_and_judge(data: st.DataObject) -> None:
    n_entries, n_judges = data.draw(st.integers(3, 7)), data.draw(st.integers(2, 5))
    table = {e: {j: data.draw(st.integers(0, 200)) / 2 for j in range(n_judges)} for e in range(n_entries)}
    agreement = aggregate_round(ONE, totals_round(table)).agreement
    expected = ref_kendall_w([[table[e][j] for e in range(n_entries)] for j in range(n_judges)])
    if expected is None:
        assert agreement.kendall_w is None
    else:
        assert agreement.kendall_w == pytest.approx(expected, abs=1e-12)
        assert (agreement.w_entries, agreement.w_judges) == (n_entries, n_judges)
