"""Judging: aggregating a round (weighted totals, trimmed means, per-judge normalisation,
ranks, ICC and Kendall's W) against a trivial baseline measured in the same run.

    python -m bench.judging [--entries 2000] [--judges 7] [--criteria 6] [--repeat 15]

The round is random but seeded: panels of `--judges` judges (10 panels), each entry
scored by every judge of its panel, judges with their own leniency and stretch, marks on a
0.5 step. The baseline sums as many floats as there are raw marks in a plain Python loop,
so the ratio says how many "float additions" one aggregation costs.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable

from contest.judging.aggregate import Criterion, Score, aggregate_round
from contest.judging.assign import plan_assignment

PANELS = 10


def build_round(n_entries: int, n_judges: int, n_criteria: int, seed: int = 2023) -> tuple[list[Criterion], list[Score]]:
    """A seeded random round: rubric weights summing to 100, one panel per entry."""
    rng = random.Random(seed)
    weights = [100 // n_criteria] * n_criteria
    weights[0] += 100 - sum(weights)
    criteria = [Criterion(id=10 + i, name=f"指标{i + 1}", maximum=float(rng.choice((10, 20, 25, 30))), weight=float(w))
                for i, w in enumerate(weights)]
    judges = {(p, k): p * 100 + k for p in range(PANELS) for k in range(n_judges)}
    leniency = {j: rng.uniform(-0.1, 0.1) for j in judges.values()}
    stretch = {j: rng.uniform(0.6, 1.2) for j in judges.values()}
    scores = []
    for entry in range(1, n_entries + 1):
        quality = rng.uniform(0.3, 0.9)
        panel = entry % PANELS
        for k in range(n_judges):
            j = judges[(panel, k)]
            values = {}
            for c in criteria:
                share = 0.6 + (quality - 0.6) * stretch[j] + leniency[j] + rng.gauss(0, 0.08)
                values[c.id] = round(min(max(share, 0.0), 1.0) * c.maximum * 2) / 2
            scores.append(Score(entry_id=entry, judge_id=j, values=values))
    return criteria, scores


def assignment_instance(n_entries: int, n_judges: int = 20, schools: int = 40, seed: int = 7) -> tuple[list[int], list[int], set[tuple[int, int]]]:
    """Entries from `schools` schools; half the judges teach at one of them (a conflict with
    that school's entries)."""
    rng = random.Random(seed)
    school_of = {e: rng.randrange(schools) for e in range(1, n_entries + 1)}
    judges = list(range(1, n_judges + 1))
    affiliation = {j: rng.randrange(schools) for j in judges[: n_judges // 2]}
    conflicts = {(j, e) for j, s in affiliation.items() for e, school in school_of.items() if school == s}
    return list(school_of), judges, conflicts


def timed(fn: Callable[[], object], repeat: int) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU milliseconds of each call. On a shared machine the CPU time of
    the process is the steadier figure: it leaves out the time spent waiting for a core."""
    fn()  # warm-up
    wall, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=2000)
    parser.add_argument("--judges", type=int, default=7)
    parser.add_argument("--criteria", type=int, default=6)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    criteria, scores = build_round(args.entries, args.judges, args.criteria)
    marks = [float(v) for s in scores for v in s.values.values()]

    def baseline() -> float:
        total = 0.0
        for v in marks:
            total += v
        return total

    def aggregate() -> object:
        return aggregate_round(criteria, scores, method="trimmed", normalise=True, min_scores=5)

    result = aggregate_round(criteria, scores, method="trimmed", normalise=True, min_scores=5)
    a = result.agreement
    w = "none" if a.kendall_w is None else f"{a.kendall_w:.3f} on {a.w_entries} entries × {a.w_judges} judges"
    print(f"{args.entries} entries × {args.judges} judges × {args.criteria} criteria = {len(marks)} marks, "
          f"{args.repeat} repetitions; ICC(1) = {a.icc:.3f} (k0 = {a.k0:.1f}), Kendall's W = {w}")
    entries, judges, conflicts = assignment_instance(args.entries)
    plan = plan_assignment(entries, judges, 7, conflicts)
    print(f"assignment: {len(entries)} entries × {len(judges)} judges, k = 7, {len(conflicts)} school conflicts → "
          f"balanced {plan.balanced}, connected {plan.connected}, shortfalls {len(plan.shortfalls)}")
    added = judges + [max(judges) + 1]
    runs = {
        f"baseline: sum {len(marks)} floats in a loop": timed(baseline, args.repeat),
        "aggregate_round(trimmed, normalise=True)": timed(aggregate, args.repeat),
        "aggregate_round(mean, normalise=False)": timed(lambda: aggregate_round(criteria, scores), args.repeat),
        "plan_assignment (new round)": timed(lambda: plan_assignment(entries, judges, 7, conflicts), max(3, args.repeat // 3)),
        "plan_assignment (a judge joins)": timed(
            lambda: plan_assignment(entries, added, 7, conflicts, current=plan.pairs), max(3, args.repeat // 3)),
    }
    base_median = statistics.median(next(iter(runs.values()))[0])
    print(f"  {'':44s} {'median':>10s} {'min':>10s} {'CPU median':>11s}  ratio (wall medians)")
    for label, (wall, cpu) in runs.items():
        median = statistics.median(wall)
        print(f"  {label:44s} {median:7.2f} ms {min(wall):7.2f} ms {statistics.median(cpu):8.2f} ms"
              f"  ×{median / base_median:6.1f}")


if __name__ == "__main__":
    main()
