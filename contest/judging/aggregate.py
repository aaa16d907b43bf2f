"""From the judges' raw marks to a round's results: weighted totals, aggregates,
normalised scores, ranks, per-judge statistics and the panel's agreement.

Pure Python (no Flask, no database, no numpy): the service loads the submitted scores,
calls `aggregate_round` and stores or shows what it returns. Only raw per-criterion marks
are inputs; everything here is derived, so changing the method of a round never loses
information. The same input always gives the same output, whatever the order of the
scores: sums use `math.fsum` (exactly rounded, so independent of order) and every mapping
is keyed in ascending id order.

Formulas
--------
Weighted total of one judge's score on one entry, on a 0–100 scale::

    total = Σ_c value_c / maximum_c × weight_c        (weights sum to 100)

It is rounded to 9 decimal places, far finer than any mark a judge can give, so that
the same marks reached through different criteria give exactly the same total (float
noise must never separate two entries or make a constant judge look "spread").

Aggregate of an entry's n totals (and, with the same method, of each criterion's n raw
values):

- ``mean``: Σ x / n.
- ``trimmed``: with n ≥ 5 judges, one highest and one lowest value are dropped (one copy
  each, even if several judges gave the same) and the remaining n − 2 averaged; with
  fewer than 5 judges it is the plain mean, since dropping two of four or fewer marks
  would throw away half the panel.
- ``median``: the middle value, or the mean of the two middle values when n is even.

With ``trimmed`` or ``median`` the per-criterion aggregates are taken criterion by
criterion, so their weighted sum need not equal the aggregated total; they only serve to
break ties (and to show organisers where an entry was strong).

Spread of an entry = max − min of its judges' totals (0 with one judge; rounded to 9
decimal places like the totals). An entry whose spread exceeds ``spread_threshold`` is flagged as a candidate for 复评.

Per-judge statistics over the judge's n totals in the round: mean, and the population
standard deviation ``sd = √(Σ (t − mean)² / n)`` — the divisor n makes a judge's z-scores
have exactly mean 0 and SD 1, which is what normalisation relies on. An SD below 1e-9 is
float noise and reported as 0. ``bias`` = mean, over the judge's entries that at least
one other judge scored, of (the judge's total − the mean of the other judges' totals on
that entry); ``None`` when the judge never shares an entry. ``flat`` = the judge has at
least 3 scores and ``sd < flat_sd`` (a judge who barely separates entries). ``calibrated``
= at least ``min_scores`` scores and a non-zero SD.

Normalisation (``normalise=True``): each calibrated judge's totals are turned into
z-scores with the judge's own mean and SD, ``z = (t − mean_j) / sd_j``, then mapped back
onto the familiar 0–100 scale with the round's overall mean M and population SD S of all
totals: ``t' = M + S × z``. This removes a judge's leniency (mean) and stretch (SD) while
keeping numbers organisers can read. The result is not clamped: a very strong entry
scored by a harsh, narrow judge can exceed 100 (or go below 0); that is expected of a
standardised score and it is only used to compare entries of the same round.
A judge who is not calibrated (fewer than ``min_scores`` scores, or all totals equal) has
no statistics of their own worth trusting, so their totals are standardised with the
round's M and S instead: ``z = (t − M) / S``, mapped back ``M + S × z = t``. In words,
such a judge's totals are taken at face value on the round's common scale — neither
stretched by an SD estimated from two or three marks nor divided by zero. The entry's
normalised score is the chosen aggregate of its judges' normalised totals.

Ranking: entries with at least one score are ordered by the score used for ranking (the
normalised score when normalising, else the aggregated raw total), higher first; ties by
the aggregated per-criterion values in the rubric's declared order, higher wins; then by
the smaller spread. Values are compared after rounding to 9 decimal places so float noise
from different summation orders cannot decide a rank. Entries still tied share the rank
(competition ranking: 1, 2, 2, 4). Entries without scores get no rank.

Agreement: ICC(1), the one-way random-effects intraclass correlation for a single
judge's total, suits a round where each entry is scored by a different set of judges
(judges are then not a crossed factor). With a entries, n_i totals on entry i, N = Σ n_i:

    MSB = Σ n_i (ȳ_i − ȳ)² / (a − 1)            between entries
    MSW = Σ_i Σ_j (y_ij − ȳ_i)² / (N − a)       within entries (between judges)
    k0  = (N − Σ n_i² / N) / (a − 1)            the "average" group size for unequal n_i
    ICC(1) = (MSB − MSW) / (MSB + (k0 − 1) × MSW)

It estimates the share of the variance of a single judge's total that comes from real
differences between entries. ``icc_average`` = k0·ICC / (1 + (k0 − 1)·ICC) (Spearman–Brown)
is the reliability of the mean of k0 judges, closer to what the ranking uses. Bands follow
Koo & Li (2016): poor < 0.5 ≤ moderate < 0.75 ≤ good < 0.9 ≤ excellent.

Kendall's W (coefficient of concordance) needs a complete block: here, among the blocks
of at least 3 entries and 2 judges, the largest (by entries × judges) made of one entry's
exact set of judges and every entry whose judges include all of them (only those judges'
totals are used). The minimum size is checked before the largest is picked, so W is
reported whenever such a block exists. Each judge's totals over the block are ranked (ties get their mid-rank);
with R_i the rank sum of entry i, m judges, n entries and t the sizes of tie groups::

    S = Σ (R_i − m(n + 1)/2)²,    W = 12 S / (m²(n³ − n) − m Σ (t³ − t))

W = 1 when the judges order the block identically, 0 when there is no agreement at all.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

Method = Literal["mean", "trimmed", "median"]
METHODS: tuple[str, ...] = ("mean", "trimmed", "median")
#: The round's trimmed mean drops the highest and lowest total from this many judges up.
TRIM_MIN_JUDGES = 5
#: Kendall's W is only reported on a complete block at least this large.
W_MIN_ENTRIES = 3
W_MIN_JUDGES = 2
#: Totals and ranking keys are rounded to this many decimal places (see module docstring).
PLACES = 9
_ZERO_SD = 1e-9
_WEIGHT_SUM = 100.0
_WEIGHT_TOLERANCE = 1e-6

BAND_LABELS: dict[str, str] = {"poor": "较差", "moderate": "中等", "good": "良好", "excellent": "优秀"}


@dataclass(frozen=True, slots=True)
class Criterion:
    """One line of the rubric. A rubric is a sequence of them in declared order."""

    id: int
    name: str
    maximum: float
    weight: float


@dataclass(frozen=True, slots=True)
class Score:
    """One judge's raw marks for one entry: {criterion id: value in [0, maximum]}."""

    entry_id: int
    judge_id: int
    values: Mapping[int, float]


@dataclass(frozen=True, slots=True)
class EntryResult:
    """What the round says about one entry.

    totals: judge id → weighted total (0–100). normalised_totals: judge id → that total
    after normalisation (empty unless normalising). aggregated: the chosen aggregate of
    the raw totals. normalised: the aggregate of the normalised totals (None unless
    normalising). ranking_score: the one of the two the rank is based on.
    criterion_scores: criterion id → aggregate of that criterion's raw values, in
    declared order. spread: max − min of the totals. flagged: spread > spread_threshold.
    Score fields are None and rank is None for an entry nobody scored.
    """

    entry_id: int
    n_judges: int
    totals: Mapping[int, float]
    normalised_totals: Mapping[int, float]
    aggregated: float | None
    normalised: float | None
    ranking_score: float | None
    criterion_scores: Mapping[int, float]
    spread: float
    flagged: bool
    rank: int | None


@dataclass(frozen=True, slots=True)
class JudgeStats:
    """One judge's behaviour in the round (see the module docstring for the formulas)."""

    judge_id: int
    n: int
    mean: float
    sd: float
    bias: float | None
    calibrated: bool
    flat: bool


@dataclass(frozen=True, slots=True)
class Agreement:
    """How far the judges agree on the raw totals (before any normalisation, which would hide
    the very differences between judges measured here). icc: ICC(1) for a single judge; k0:
    the average number of judges per entry it was computed with; icc_average: the
    reliability of the mean of k0 judges; band: poor / moderate / good / excellent;
    explanation: a sentence for organisers (Chinese); kendall_w over a complete block of
    w_entries × w_judges, or None (then both counts are 0)."""

    icc: float | None
    k0: float | None
    icc_average: float | None
    band: str | None
    explanation: str
    kendall_w: float | None
    w_entries: int
    w_judges: int


@dataclass(frozen=True, slots=True)
class RoundResult:
    """entries: ranked entries in rank order (ties by entry id), then unscored entries by
    id. judges: by judge id. round_mean / round_sd: mean and population SD of all totals
    of the round (the scale normalised scores are mapped onto), None without scores."""

    method: str
    normalise: bool
    entries: tuple[EntryResult, ...]
    judges: tuple[JudgeStats, ...]
    agreement: Agreement
    round_mean: float | None
    round_sd: float | None


def check_rubric(criteria: Sequence[Criterion]) -> None:
    """Raise ValueError unless the rubric is usable: not empty, distinct ids, every maximum
    and weight positive and finite, weights summing to 100."""
    if not criteria:
        raise ValueError("评分标准为空：至少需要一项评分指标。")
    seen: set[int] = set()
    for c in criteria:
        if c.id in seen:
            raise ValueError(f"评分指标编号重复：{c.id}（{c.name}）。")
        seen.add(c.id)
        if not (math.isfinite(c.maximum) and c.maximum > 0):
            raise ValueError(f"评分指标“{c.name}”的满分须大于 0，现为 {c.maximum}。")
        if not (math.isfinite(c.weight) and c.weight > 0):
            raise ValueError(f"评分指标“{c.name}”的权重须大于 0，现为 {c.weight}。")
    total = math.fsum(c.weight for c in criteria)
    if abs(total - _WEIGHT_SUM) > _WEIGHT_TOLERANCE:
        parts = " + ".join(f"{c.name} {c.weight:g}" for c in criteria)
        raise ValueError(f"评分指标的权重之和须为 100，现为 {total:g}（{parts}）。")


def weighted_total(criteria: Sequence[Criterion], values: Mapping[int, float]) -> float:
    """Σ value / maximum × weight over the rubric, rounded to PLACES decimals (0–100).
    Raises ValueError when a criterion is missing or unknown or a value is out of range."""
    if values.keys() != {c.id for c in criteria}:
        missing = [c.name for c in criteria if c.id not in values]
        known = {c.id for c in criteria}
        extra = sorted(k for k in values if k not in known)
        raise ValueError(f"评分与评分标准不符：缺少 {missing or '无'}，多出 {extra or '无'}。")
    return _total([(c.id, c.maximum, c.weight, c.name) for c in criteria], values)


def _total(rubric: list[tuple[int, float, float, str]], values: Mapping[int, float]) -> float:
    parts = []
    for cid, maximum, weight, name in rubric:
        value = values[cid]
        if not 0.0 <= value <= maximum:  # also refuses NaN
            raise ValueError(f"“{name}”的分数须在 0 到 {maximum:g} 之间，现为 {value}。")
        parts.append(value / maximum * weight)
    return round(math.fsum(parts), PLACES)


def aggregate_values(values: Sequence[float], method: str) -> float:
    """Mean, trimmed mean (one highest and one lowest dropped from 5 values up, plain mean
    below) or median of a non-empty sequence."""
    n = len(values)
    if n == 0:
        raise ValueError("no values to aggregate")
    if method == "mean" or (method == "trimmed" and n < TRIM_MIN_JUDGES):
        return math.fsum(values) / n
    if method == "trimmed":
        # fsum is exact, so subtracting the extremes inside it loses nothing.
        return math.fsum([*values, -max(values), -min(values)]) / (n - 2)
    if method == "median":
        ordered = sorted(values)
        mid = n // 2
        return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2
    raise ValueError(f"unknown aggregation method {method!r}; expected one of {', '.join(METHODS)}")


def live_result(totals: Sequence[float], method: str = "trimmed") -> tuple[float | None, float | None, float | None]:
    """The big screen's figures for one entry, by the round's own method, so the screen
    shows the very score the results will publish: (dropped highest, dropped lowest,
    score). The highest and lowest totals are shown as dropped only when the method drops
    them (``trimmed`` from TRIM_MIN_JUDGES judges up: a single copy each, even when several
    judges gave the same total); with no totals the result is (None, None, None)."""
    if not totals:
        return None, None, None
    score = aggregate_values(totals, method)
    if method == "trimmed" and len(totals) >= TRIM_MIN_JUDGES:
        return max(totals), min(totals), score
    return None, None, score


def icc_oneway(groups: Sequence[Sequence[float]]) -> tuple[float, float] | None:
    """(ICC(1), k0) of the one-way random-effects model for groups of unequal size (one
    group per entry: its judges' totals). None when undefined: fewer than 2 non-empty
    groups, no group with 2 values, or no variance at all."""
    groups = [g for g in groups if g]
    a = len(groups)
    big_n = sum(len(g) for g in groups)
    if a < 2 or big_n - a < 1:
        return None
    if max(max(g) for g in groups) == min(min(g) for g in groups):
        return None  # no variance at all: agreement is undefined, not perfect
    grand = math.fsum(math.fsum(g) for g in groups) / big_n
    ssb_parts: list[float] = []
    ssw_parts: list[float] = []
    for g in groups:
        mean = math.fsum(g) / len(g)
        ssb_parts.append(len(g) * (mean - grand) ** 2)
        ssw_parts.extend((y - mean) ** 2 for y in g)
    msb = math.fsum(ssb_parts) / (a - 1)
    msw = math.fsum(ssw_parts) / (big_n - a)
    k0 = (big_n - sum(len(g) ** 2 for g in groups) / big_n) / (a - 1)
    denominator = msb + (k0 - 1) * msw
    if denominator <= 0:
        return None
    return (msb - msw) / denominator, k0


def icc_band(icc: float) -> str:
    """poor < 0.5 ≤ moderate < 0.75 ≤ good < 0.9 ≤ excellent (Koo & Li, 2016)."""
    if icc < 0.5:
        return "poor"
    if icc < 0.75:
        return "moderate"
    if icc < 0.9:
        return "good"
    return "excellent"


def _midranks(values: Sequence[float]) -> tuple[list[float], int]:
    """Ranks 1..n (ties share their mid-rank) and Σ (t³ − t) over the tie groups."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    ties = 0
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        rank = (i + j) / 2 + 1
        for k in range(i, j + 1):
            ranks[order[k]] = rank
        t = j - i + 1
        ties += t**3 - t
        i = j + 1
    return ranks, ties


def kendall_w(ratings: Sequence[Sequence[float]]) -> float | None:
    """Kendall's W with the tie correction; ratings[j][i] is judge j's total for entry i
    (a complete block). None with fewer than 2 judges or 2 entries, or when every judge
    gave every entry the same total."""
    m = len(ratings)
    if m < 2:
        return None
    n = len(ratings[0])
    if any(len(r) != n for r in ratings):
        raise ValueError("Kendall's W needs a complete block: every judge rates every entry")
    if n < 2:
        return None
    rank_sums = [0.0] * n
    ties = 0
    for row in ratings:
        ranks, t = _midranks(row)
        ties += t
        for i, r in enumerate(ranks):
            rank_sums[i] += r
    centre = m * (n + 1) / 2
    s = math.fsum((r - centre) ** 2 for r in rank_sums)
    denominator = m * m * (n**3 - n) - m * ties
    if denominator <= 0:
        return None
    return 12 * s / denominator


def _complete_block(judge_sets: dict[int, frozenset[int]]) -> tuple[list[int], list[int]]:
    """(entry ids, judge ids) of the complete block used for Kendall's W, or two empty
    lists. Each entry's exact set of judges (of at least W_MIN_JUDGES) is a candidate
    block, joined by every entry whose judges include that set; candidates with fewer
    than W_MIN_ENTRIES entries are left out first, so a small block with many judges
    never hides a qualifying one. Of the rest, the one with most cells wins (then more
    entries, then the smallest judge ids)."""
    candidates: dict[frozenset[int], list[int]] = {}
    for judges in set(judge_sets.values()):
        if len(judges) < W_MIN_JUDGES:
            continue
        entries = sorted(e for e, js in judge_sets.items() if judges <= js)
        if len(entries) >= W_MIN_ENTRIES:
            candidates[judges] = entries
    if not candidates:
        return [], []
    best = min(candidates, key=lambda js: (-len(candidates[js]) * len(js), -len(candidates[js]), sorted(js)))
    return candidates[best], sorted(best)


def _explain(icc: float | None, k0: float | None, icc_average: float | None, band: str | None,
             w: float | None, w_entries: int, w_judges: int) -> str:
    """A plain Chinese sentence telling organisers what the agreement figures mean."""
    if icc is None or k0 is None or band is None:
        return "评分数据不足，无法计算评委一致性：至少需要两件作品有评分，并且至少有一件作品由两位及以上评委评分。"
    if icc < 0:
        text = (f"评委一致性 ICC = {icc:.2f}（{BAND_LABELS[band]}）：同一作品的几位评委之间的分差，比不同作品之间的差距还大，"
                "单个评委的打分几乎分不出作品的高下。建议复评分差大的作品，或在评审前统一评分尺度。")
    else:
        share = round(icc * 100)
        text = (f"评委一致性 ICC = {icc:.2f}（{BAND_LABELS[band]}）：单个评委给出的总分中，约 {share}% 的差异来自作品本身水平的高低，"
                f"其余约 {100 - share}% 来自评委尺度不同和偶然因素。")
        if icc_average is not None:
            text += f"每件作品平均约有 {k0:.1f} 位评委评分，取平均后的得分可信度约为 {icc_average:.2f}。"
        text += {
            "poor": "评委之间分歧较大，名次明显受“由哪几位评委评分”影响，建议复评分差大的作品或增加每件作品的评委人数。",
            "moderate": "排名大体可信，但名次相近的作品之间的差别可能只是评委尺度不同，建议复核标记为需复评的作品。",
            "good": "评委意见较为一致，排名可信。",
            "excellent": "评委意见高度一致，排名非常可信。",
        }[band]
    if w is not None:
        text += (f"在 {w_judges} 位评委都评过的 {w_entries} 件作品上，肯德尔和谐系数 W = {w:.2f}"
                 "（1 表示这些评委排出的名次完全一致，0 表示毫无一致）。")
    return text


def _agreement(per_entry: dict[int, list[tuple[int, float]]]) -> Agreement:
    icc_k0 = icc_oneway([[t for _, t in marks] for marks in per_entry.values()])
    icc = k0 = icc_average = None
    band = None
    if icc_k0 is not None:
        icc, k0 = icc_k0
        band = icc_band(icc)
        denominator = 1 + (k0 - 1) * icc
        icc_average = k0 * icc / denominator if denominator > 0 else None
    block_entries, block_judges = _complete_block(
        {e: frozenset(j for j, _ in marks) for e, marks in per_entry.items()})
    w = None
    if block_entries:
        totals = {e: dict(per_entry[e]) for e in block_entries}
        w = kendall_w([[totals[e][j] for e in block_entries] for j in block_judges])
    w_entries, w_judges = (len(block_entries), len(block_judges)) if w is not None else (0, 0)
    return Agreement(icc=icc, k0=k0, icc_average=icc_average, band=band,
                     explanation=_explain(icc, k0, icc_average, band, w, w_entries, w_judges),
                     kendall_w=w, w_entries=w_entries, w_judges=w_judges)


def _mean_sd(values: Sequence[float]) -> tuple[float, float]:
    """Mean and population SD; an SD below 1e-9 is float noise and returned as 0."""
    n = len(values)
    mean = math.fsum(values) / n
    sd = math.sqrt(math.fsum([(v - mean) ** 2 for v in values]) / n)
    return mean, (sd if sd >= _ZERO_SD else 0.0)


def aggregate_round(
    criteria: Sequence[Criterion],
    scores: Iterable[Score],
    method: Method = "mean",
    normalise: bool = False,
    min_scores: int = 5,
    spread_threshold: float = 20.0,
    flat_sd: float = 3.0,
    *,
    entry_ids: Iterable[int] = (),
) -> RoundResult:
    """Derive a round's results from its raw scores (formulas in the module docstring).

    entry_ids: entries taking part in the round; those nobody scored are returned with
    n_judges=0 and no rank (entries that have scores are always included). Raises
    ValueError for a bad rubric, an unknown method, a score whose criteria do not match
    the rubric or whose value is outside [0, maximum], or two scores by the same judge on
    the same entry."""
    check_rubric(criteria)
    if method not in METHODS:
        raise ValueError(f"unknown aggregation method {method!r}; expected one of {', '.join(METHODS)}")
    rubric = [(c.id, c.maximum, c.weight, c.name) for c in criteria]
    ids = {c.id for c in criteria}

    # entry id → [(judge id, total, values)], judge id → [(entry id, total)]
    per_entry: dict[int, list[tuple[int, float, Mapping[int, float]]]] = {}
    per_judge: dict[int, list[tuple[int, float]]] = {}
    seen: set[tuple[int, int]] = set()
    for score in scores:
        if score.values.keys() != ids:
            weighted_total(criteria, score.values)  # raises with the names at fault
        if (score.entry_id, score.judge_id) in seen:
            raise ValueError(f"评委 {score.judge_id} 对作品 {score.entry_id} 有两份评分。")
        seen.add((score.entry_id, score.judge_id))
        total = _total(rubric, score.values)
        per_entry.setdefault(score.entry_id, []).append((score.judge_id, total, score.values))
        per_judge.setdefault(score.judge_id, []).append((score.entry_id, total))
    for marks in per_entry.values():
        marks.sort(key=lambda m: m[0])

    all_totals = [t for marks in per_entry.values() for _, t, _ in marks]
    round_mean = round_sd = None
    if all_totals:
        round_mean, round_sd = _mean_sd(all_totals)

    judges, scale = _judge_stats(per_entry, per_judge, min_scores, flat_sd)

    # (ranking key, EntryResult fields but the rank): entries are built once their rank is known.
    rows: list[tuple[tuple[float, ...], int, int, dict[int, float], dict[int, float], float, float | None,
                     float, dict[int, float], float, bool]] = []
    for entry_id, marks in per_entry.items():
        totals = {j: t for j, t, _ in marks}
        values = list(totals.values())
        aggregated = aggregate_values(values, method)
        normalised_totals: dict[int, float] = {}
        normalised = None
        if normalise:
            assert round_mean is not None and round_sd is not None
            for j, t in totals.items():
                mean_sd = scale.get(j)
                normalised_totals[j] = t if mean_sd is None else round_mean + round_sd * (t - mean_sd[0]) / mean_sd[1]
            normalised = aggregate_values(list(normalised_totals.values()), method)
        ranking_score = aggregated if normalised is None else normalised
        criterion_scores = {cid: aggregate_values([m[2][cid] for m in marks], method) for cid, *_ in rubric}
        spread = round(max(values) - min(values), PLACES)
        key = (
            -round(ranking_score, PLACES),
            *(-round(v, PLACES) for v in criterion_scores.values()),
            spread,
        )
        rows.append((key, entry_id, len(marks), totals, normalised_totals, aggregated, normalised, ranking_score,
                     criterion_scores, spread, spread > spread_threshold))

    rows.sort(key=lambda row: (row[0], row[1]))
    ranked: list[EntryResult] = []
    previous_key: tuple[float, ...] | None = None
    rank = 0
    for position, row in enumerate(rows, start=1):
        if row[0] != previous_key:  # competition ranking: a tie keeps the rank, the next skips
            rank, previous_key = position, row[0]
        ranked.append(EntryResult(*row[1:], rank=rank))
    unscored = sorted(set(entry_ids) - per_entry.keys())
    ranked.extend(EntryResult(
        entry_id=e, n_judges=0, totals={}, normalised_totals={}, aggregated=None, normalised=None,
        ranking_score=None, criterion_scores={}, spread=0.0, flagged=False, rank=None) for e in unscored)

    return RoundResult(
        method=method, normalise=normalise, entries=tuple(ranked), judges=judges,
        agreement=_agreement({e: [(j, t) for j, t, _ in marks] for e, marks in per_entry.items()}),
        round_mean=round_mean, round_sd=round_sd,
    )


def _judge_stats(
    per_entry: dict[int, list[tuple[int, float, Mapping[int, float]]]],
    per_judge: dict[int, list[tuple[int, float]]],
    min_scores: int,
    flat_sd: float,
) -> tuple[tuple[JudgeStats, ...], dict[int, tuple[float, float]]]:
    """JudgeStats by judge id, and the (mean, sd) of the calibrated judges."""
    entry_sums = {e: (math.fsum(t for _, t, _ in marks), len(marks)) for e, marks in per_entry.items()}
    stats = []
    scale: dict[int, tuple[float, float]] = {}
    for judge_id in sorted(per_judge):
        marks = per_judge[judge_id]
        totals = [t for _, t in marks]
        mean, sd = _mean_sd(totals)
        gaps = []
        for entry_id, t in marks:
            entry_sum, n = entry_sums[entry_id]
            if n > 1:
                gaps.append(t - (entry_sum - t) / (n - 1))
        calibrated = len(totals) >= min_scores and sd > 0
        if calibrated:
            scale[judge_id] = (mean, sd)
        stats.append(JudgeStats(
            judge_id=judge_id, n=len(totals), mean=mean, sd=sd,
            bias=math.fsum(gaps) / len(gaps) if gaps else None,
            calibrated=calibrated, flat=len(totals) >= 3 and sd < flat_sd,
        ))
    return tuple(stats), scale
