"""judging.assign: worked examples, then random rounds checked against independent
references: a max-flow with lower bounds says whether even loads are possible at all, and
a plain min-cost flow on the full graph gives the least churn."""

from __future__ import annotations

import itertools
import random
from collections import Counter, defaultdict, deque
from collections.abc import Collection, Hashable, Sequence
from dataclasses import dataclass

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from contest.judging import assign
from contest.judging.assign import Pair, Plan, Shortfall, judge_groups, plan_assignment

SETTINGS = settings(max_examples=60, deadline=None)


# --- reading a plan -------------------------------------------------------------------


def panels(plan: Plan) -> dict[int, set[int]]:
    found: dict[int, set[int]] = defaultdict(set)
    for judge, entry in plan.pairs:
        found[entry].add(judge)
    return found


def meetings(plan: Plan) -> Counter[tuple[int, int]]:
    met: Counter[tuple[int, int]] = Counter()
    for members in panels(plan).values():
        met.update(itertools.combinations(sorted(members), 2))
    return met


def spread(loads: dict[int, int]) -> int:
    return max(loads.values()) - min(loads.values())


def check_plan(plan: Plan, entries: Sequence[int], judges: Sequence[int], k: int, conflicts: Collection[Pair],
               fixed: Collection[Pair] = (), current: Collection[Pair] = ()) -> None:
    """What holds for every plan: fixed pairs kept, no conflict, each entry as full as the
    conflicts allow, shortfalls exactly the entries below k, loads and diff consistent."""
    assert set(fixed) <= plan.pairs
    assert not plan.pairs & set(conflicts)
    by_entry = panels(plan)
    shortfalls = {s.entry_id: s for s in plan.shortfalls}
    for entry in entries:
        pinned = {j for j, e in fixed if e == entry}
        free = {j for j in judges if (j, entry) not in conflicts} - pinned
        expected = max(len(pinned), min(k, len(pinned) + len(free)))
        assert len(by_entry.get(entry, ())) == expected
        if expected < k:
            assert shortfalls.pop(entry) == Shortfall(entry, k, expected, len(pinned) + len(free))
    assert not shortfalls
    assert plan.pairs <= {(j, e) for j in judges for e in entries} | set(fixed)
    in_round = set(entries)
    assert plan.loads == {j: sum(1 for p in plan.pairs if p[0] == j and p[1] in in_round) for j in judges}
    assert plan.balanced == (not judges or spread(plan.loads) <= 1)
    assert plan.added == plan.pairs - set(current)
    assert plan.removed == set(current) - plan.pairs


# --- independent references -----------------------------------------------------------


def max_flow(capacity: dict[Hashable, dict[Hashable, int]], source: Hashable, sink: Hashable) -> int:
    """Edmonds-Karp."""
    residual: dict[Hashable, dict[Hashable, int]] = defaultdict(lambda: defaultdict(int))
    for u, targets in capacity.items():
        for v, c in targets.items():
            residual[u][v] += c
            residual[v][u] += 0
    total = 0
    while True:
        previous: dict[Hashable, Hashable] = {source: source}
        queue = deque([source])
        while queue and sink not in previous:
            u = queue.popleft()
            for v, c in residual[u].items():
                if c > 0 and v not in previous:
                    previous[v] = u
                    queue.append(v)
        if sink not in previous:
            return total
        path = []
        v = sink
        while v != source:
            path.append((previous[v], v))
            v = previous[v]
        push = min(residual[u][v] for u, v in path)
        for u, v in path:
            residual[u][v] -= push
            residual[v][u] += push
        total += push


def even_loads_possible(entries: Sequence[int], judges: Sequence[int], k: int, conflicts: Collection[Pair],
                        fixed: Collection[Pair] = ()) -> bool:
    """Is there an assignment with every entry as full as possible and max - min <= 1?
    Entries with the same free judges and the same need are one node (an entry takes each
    judge at most once, so a group of n takes a judge at most n times); lower bounds on
    the loads are handled the textbook way (a circulation with demands)."""
    if not judges:
        return True
    fixed_load = Counter(j for j, e in fixed if e in set(entries) and j in set(judges))
    groups: Counter[tuple[frozenset[int], int]] = Counter()
    total = sum(fixed_load.values())
    for entry in entries:
        pinned = {j for j, e in fixed if e == entry}
        free = frozenset(j for j in judges if (j, entry) not in conflicts) - pinned
        need = min(max(0, k - len(pinned)), len(free))
        total += need
        if need:
            groups[(free, need)] += 1
    low, high = total // len(judges), -(-total // len(judges))
    capacity: dict[Hashable, dict[Hashable, int]] = defaultdict(dict)
    excess: Counter[Hashable] = Counter()

    def edge(u: Hashable, v: Hashable, lower: int, upper: int) -> None:
        capacity[u][v] = capacity[u].get(v, 0) + upper - lower
        excess[v] += lower
        excess[u] -= lower

    for (free, need), n in groups.items():
        edge("s", (free, need), n * need, n * need)
        for judge in free:
            edge((free, need), judge, 0, n)
    for judge in judges:
        if fixed_load[judge] > high:
            return False
        edge(judge, "t", max(0, low - fixed_load[judge]), high - fixed_load[judge])
    edge("t", "s", 0, 10**9)
    for node, amount in excess.items():
        if amount > 0:
            capacity["S*"][node] = amount
        elif amount < 0:
            capacity[node]["T*"] = -amount
    return max_flow(capacity, "S*", "T*") == sum(a for a in excess.values() if a > 0)


def least_cost(entries: Sequence[int], judges: Sequence[int], k: int, conflicts: Collection[Pair],
               fixed: Collection[Pair], current: Collection[Pair]) -> tuple[int, int]:
    """(least sum of squared loads, then most current pairs kept) by successive shortest
    paths on the full flow graph: source -> entry -> judge -> sink, the i-th unit on a judge
    costing W * (2i + 1), a kept current pair -1."""
    weight = len(current) + 1
    graph: dict[Hashable, list[int]] = defaultdict(list)
    head: list[Hashable] = []
    cap: list[int] = []
    cost: list[int] = []

    def edge(u: Hashable, v: Hashable, c: int, w: int) -> None:
        for a, b, cc, ww in ((u, v, c, w), (v, u, 0, -w)):
            graph[a].append(len(head))
            head.append(b)
            cap.append(cc)
            cost.append(ww)

    fixed_load = Counter(j for j, e in fixed if e in set(entries) and j in set(judges))
    units = 0
    for entry in entries:
        pinned = {j for j, e in fixed if e == entry}
        free = [j for j in judges if (j, entry) not in conflicts and j not in pinned]
        need = min(max(0, k - len(pinned)), len(free))
        units += need
        edge("s", ("e", entry), need, 0)
        for judge in free:
            edge(("e", entry), ("j", judge), 1, -1 if (judge, entry) in current else 0)
    for judge in judges:
        for i in range(fixed_load[judge], fixed_load[judge] + len(entries)):
            edge(("j", judge), "t", 1, weight * (2 * i + 1))
    total = 0
    for _ in range(units):
        dist: dict[Hashable, int] = {"s": 0}
        via: dict[Hashable, int] = {}
        changed = True
        while changed:
            changed = False
            for u in list(dist):
                for i in graph[u]:
                    if cap[i] > 0 and dist[u] + cost[i] < dist.get(head[i], 1 << 60):
                        dist[head[i]] = dist[u] + cost[i]
                        via[head[i]] = i
                        changed = True
        node: Hashable = "t"
        while node != "s":
            i = via[node]
            cap[i] -= 1
            cap[i ^ 1] += 1
            node = head[i ^ 1]
        total += dist["t"]
    squares = sum(n * n for n in fixed_load.values())
    # total = W * (sum of squares - fixed part) - kept, with 0 <= kept < W.
    extra = -(-total // weight)
    return squares + extra, weight * extra - total


def plan_cost(plan: Plan, fixed: Collection[Pair], current: Collection[Pair]) -> tuple[int, int]:
    return sum(n * n for n in plan.loads.values()), len((plan.pairs & set(current)) - set(fixed))


# --- worked examples ------------------------------------------------------------------

ENTRIES = list(range(101, 141))      # 40 entries
JUDGES = list(range(1, 9))           # 8 judges


def test_every_entry_gets_exactly_k_judges_without_a_conflict() -> None:
    conflicts = {(1, e) for e in range(101, 111)} | {(2, 120), (3, 120), (4, 120)}
    plan = plan_assignment(ENTRIES, JUDGES, 3, conflicts)
    check_plan(plan, ENTRIES, JUDGES, 3, conflicts)
    assert all(len(members) == 3 for members in panels(plan).values())
    assert plan.shortfalls == ()
    assert plan.loads == dict.fromkeys(JUDGES, 15)
    assert plan.balanced and plan.connected
    assert plan.messages == ()
    assert plan.panel(120) == tuple(sorted(panels(plan)[120]))


def test_a_shortfall_names_the_entry_how_many_are_missing_and_why() -> None:
    judges = list(range(1, 21))
    conflicts = {(j, 12) for j in range(1, 18)}           # only judges 18, 19, 20 may score #12
    plan = plan_assignment([11, 12, 13], judges, 5, conflicts)
    check_plan(plan, [11, 12, 13], judges, 5, conflicts)
    assert plan.shortfalls == (Shortfall(entry_id=12, needed=5, assigned=3, eligible=3),)
    assert plan.panel(12) == (18, 19, 20)
    short = plan.shortfalls[0]
    assert short.missing == 2
    assert short.message == "作品 #12 只有 3 位无回避评委，少于每件 5 位的要求，还差 2 位。"
    assert short.message in plan.messages


def test_an_entry_nobody_may_score_is_reported_too() -> None:
    plan = plan_assignment([7], [1, 2], 2, {(1, 7), (2, 7)})
    assert plan.pairs == frozenset()
    assert plan.shortfalls[0].message == "作品 #7 没有无回避的评委，每件需要 2 位，还差 2 位。"


def test_k_above_the_panel_size_gives_every_entry_the_whole_panel() -> None:
    plan = plan_assignment([1, 2, 3], [10, 11], 3, ())
    assert all(s == Shortfall(e, 3, 2, 2) for s, e in zip(plan.shortfalls, [1, 2, 3], strict=True))
    assert plan.loads == {10: 3, 11: 3}


def test_fixed_pairs_stay_and_count_towards_k() -> None:
    fixed = {(1, 101), (2, 101), (5, 130), (6, 130), (7, 130), (8, 130)}   # entry 130: more than k already
    plan = plan_assignment(ENTRIES, JUDGES, 3, (), fixed=fixed)
    check_plan(plan, ENTRIES, JUDGES, 3, (), fixed)
    assert {1, 2} < panels(plan)[101] and len(panels(plan)[101]) == 3
    assert panels(plan)[130] == {5, 6, 7, 8}
    assert plan.balanced


def test_a_fixed_pair_of_a_departed_judge_counts_for_the_entry_not_for_loads() -> None:
    plan = plan_assignment(ENTRIES, JUDGES, 3, (), fixed={(99, 101)})
    assert 99 in panels(plan)[101] and len(panels(plan)[101]) == 3
    assert 99 not in plan.loads
    assert sum(plan.loads.values()) == 40 * 3 - 1
    assert plan.balanced


def test_a_judge_dropping_out_hands_over_unscored_entries_and_keeps_scored_ones() -> None:
    before = plan_assignment(ENTRIES, JUDGES, 3, (), seed=1)
    leaving = 8
    theirs = sorted(e for j, e in before.pairs if j == leaving)
    scored = {(leaving, theirs[0]), (leaving, theirs[1])} | set(sorted(p for p in before.pairs if p[0] == 3)[:4])
    after = plan_assignment(ENTRIES, JUDGES[:-1], 3, (), fixed=scored, current=before.pairs, seed=1)
    check_plan(after, ENTRIES, JUDGES[:-1], 3, (), scored, before.pairs)
    assert scored <= after.pairs
    # Only the leaving judge's unscored entries move, each to one other judge.
    assert after.removed == {(leaving, e) for e in theirs[2:]}
    assert len(after.added) == len(after.removed) == 13
    assert {e for _j, e in after.added} == set(theirs[2:])
    assert leaving not in after.loads and leaving not in {j for j, _e in after.added}
    assert after.balanced and sorted(set(after.loads.values())) == [16, 17]   # 118 over 7
    assert after.connected


def test_adding_a_judge_rebalances_with_the_least_churn() -> None:
    before = plan_assignment(ENTRIES, JUDGES, 3, (), seed=2)
    after = plan_assignment(ENTRIES, [*JUDGES, 9], 3, (), current=before.pairs, seed=2)
    check_plan(after, ENTRIES, [*JUDGES, 9], 3, (), (), before.pairs)
    # 120 over 9 judges is 13 or 14 each; each entry the newcomer takes is one move, so
    # the least churn gives them 13, and nothing else changes.
    assert after.loads[9] == 13
    assert len(after.added) == len(after.removed) == 13
    assert {j for j, _e in after.added} == {9}
    assert after.balanced and after.connected


def test_pinned_and_forbidden_pairs_by_hand_are_honoured() -> None:
    before = plan_assignment(ENTRIES, JUDGES, 3, ())
    taken_off = sorted(p for p in before.pairs if p[0] == 1)[0]          # the organiser removed it
    put_on = next((4, e) for e in ENTRIES if (4, e) not in before.pairs)  # the organiser pinned it
    after = plan_assignment(ENTRIES, JUDGES, 3, {taken_off}, fixed={put_on}, current=before.pairs | {put_on})
    check_plan(after, ENTRIES, JUDGES, 3, {taken_off}, {put_on}, before.pairs | {put_on})
    assert put_on in after.pairs and taken_off in after.removed and taken_off not in after.pairs
    assert after.balanced
    # Two changes forced (taken_off replaced, one judge making room for put_on), and
    # evening out the loads again costs at most one more hand-over.
    assert len(after.removed) <= 3


def test_a_valid_current_assignment_is_kept_as_it_is() -> None:
    before = plan_assignment(ENTRIES, JUDGES, 3, {(1, 101)}, seed=5)
    again = plan_assignment(ENTRIES, JUDGES, 3, {(1, 101)}, current=before.pairs, seed=6)
    assert again.pairs == before.pairs
    assert again.added == again.removed == frozenset()


def test_current_pairs_of_departed_or_conflicted_judges_and_unknown_entries_are_removed() -> None:
    current = {(1, 101), (2, 101), (9, 101), (3, 999)}
    plan = plan_assignment([101], [1, 2, 3], 2, {(2, 101)}, current=current)
    assert plan.pairs == {(1, 101), (3, 101)}
    assert plan.removed == {(2, 101), (9, 101), (3, 999)}
    assert plan.added == {(3, 101)}


def test_a_fixed_pair_outside_the_round_is_left_alone() -> None:
    plan = plan_assignment([101, 102], [1, 2], 1, (), fixed={(1, 999)}, current={(1, 999)})
    assert (1, 999) in plan.pairs and (1, 999) not in plan.removed
    assert plan.loads == {1: 1, 2: 1}


def test_meetings_are_spread_every_two_judges_meet_and_none_always_sit_together() -> None:
    judges = list(range(1, 13))
    entries = list(range(1, 61))
    plan = plan_assignment(entries, judges, 3, ())
    met = meetings(plan)
    # 60 panels of 3 make 180 meetings for 66 pairs of judges: 2 or 3 each when even.
    assert all(2 <= met[pair] <= 3 for pair in itertools.combinations(judges, 2))
    assert all(met[(a, b)] < min(plan.loads[a], plan.loads[b]) for a, b in itertools.combinations(judges, 2))


def test_a_split_assignment_is_joined_with_one_swap() -> None:
    # Judges 1 and 2 score entries 10-13, judges 3 and 4 entries 20-23: two groups that
    # cannot be compared. One swap joins them; loads stay as they are.
    entries = [10, 11, 12, 13, 20, 21, 22, 23]
    current = {(j, e) for j in (1, 2) for e in entries[:4]} | {(j, e) for j in (3, 4) for e in entries[4:]}
    assert judge_groups(current) == 2
    plan = plan_assignment(entries, [1, 2, 3, 4], 2, (), current=current)
    assert plan.connected and judge_groups(plan.pairs) == 1
    assert plan.loads == dict.fromkeys([1, 2, 3, 4], 4)
    assert len(plan.added) == len(plan.removed) == 2


def test_when_conflicts_split_the_panel_for_good_it_is_said() -> None:
    # Judges 1, 2 are from school A, judges 3, 4 from school B; each school's entries may
    # only be scored by the other school's judges.
    school_a, school_b = [10, 11, 12], [20, 21, 22]
    conflicts = {(j, e) for j in (1, 2) for e in school_a} | {(j, e) for j in (3, 4) for e in school_b}
    plan = plan_assignment(school_a + school_b, [1, 2, 3, 4], 2, conflicts)
    check_plan(plan, school_a + school_b, [1, 2, 3, 4], 2, conflicts)
    assert not plan.connected and judge_groups(plan.pairs) == 2
    assert any("无法横向比较" in line for line in plan.messages)


def test_when_conflicts_prevent_even_loads_the_loads_are_the_most_even_possible() -> None:
    # Judge 1 may score only 2 of the 10 entries; the 18 other slots go to judges 2-4.
    entries = list(range(1, 11))
    conflicts = {(1, e) for e in entries[2:]}
    plan = plan_assignment(entries, [1, 2, 3, 4], 2, conflicts)
    check_plan(plan, entries, [1, 2, 3, 4], 2, conflicts)
    assert plan.loads == {1: 2, 2: 6, 3: 6, 4: 6}
    assert not plan.balanced
    assert "最多 6 件，最少 2 件" in plan.messages[-1]


def test_no_judges_and_k_zero() -> None:
    assert plan_assignment([1, 2], [], 2, ()).shortfalls == (Shortfall(1, 2, 0, 0), Shortfall(2, 2, 0, 0))
    plan = plan_assignment([1, 2], [5], 0, (), current={(5, 1)})
    assert plan.pairs == frozenset() and plan.removed == {(5, 1)} and plan.shortfalls == ()


def test_the_seed_makes_plans_reproducible() -> None:
    one = plan_assignment(ENTRIES, JUDGES, 3, {(2, 105)}, seed=7)
    assert plan_assignment(ENTRIES, JUDGES, 3, {(2, 105)}, seed=7) == one
    others = {plan_assignment(ENTRIES, JUDGES, 3, {(2, 105)}, seed=s).pairs for s in range(5)}
    assert len(others) > 1


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"conflicts": {(1, 101)}, "fixed": {(1, 101)}}, "both fixed and forbidden"),
    ({"judges": [1, 2, 1]}, "judges lists ids more than once: [1]"),
    ({"entries": [101, 101]}, "entries lists ids more than once: [101]"),
    ({"k": -1}, "k must not be negative"),
])
def test_contradictory_input_is_refused(kwargs: dict, message: str) -> None:
    arguments = {"entries": [101, 102], "judges": [1, 2], "k": 1, "conflicts": set()} | kwargs
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        plan_assignment(**arguments)


# --- random rounds --------------------------------------------------------------------


@dataclass(frozen=True)
class SchoolRound:
    entries: list[int]
    judges: list[int]
    k: int
    conflicts: frozenset[Pair]
    seed: int


@st.composite
def school_rounds(draw: st.DrawFn, *, like_the_issue: bool = False) -> SchoolRound:
    """Entries from random schools; a judge is from a school (and may not score its
    entries) or independent. `like_the_issue`: rounds shaped like real ones (the issue's
    example is 120 entries, 15 judges, k = 5): 30-120 entries from 3-10 schools, at least
    half of the judges independent experts, two judges to spare beyond k."""
    if like_the_issue:
        k = draw(st.integers(2, 5))
        schools = draw(st.integers(3, 10))
        entry_schools = draw(st.lists(st.integers(0, schools - 1), min_size=30, max_size=120))
        n_judges = draw(st.integers(k + 2, 15))
        affiliated = draw(st.lists(st.integers(0, schools - 1), max_size=n_judges // 2))
        judge_schools: list[int | None] = [*affiliated, *[None] * (n_judges - len(affiliated))]
    else:
        k = draw(st.integers(1, 5))
        schools = draw(st.integers(2, 8))
        entry_schools = draw(st.lists(st.integers(0, schools - 1), min_size=5, max_size=120))
        judge_schools = draw(st.lists(st.none() | st.integers(0, schools - 1), min_size=k + 1, max_size=15))
    entries = [1000 + i for i in range(len(entry_schools))]
    judges = [1 + i for i in range(len(judge_schools))]
    conflicts = frozenset((j, e) for j, js in zip(judges, judge_schools, strict=True)
                          for e, es in zip(entries, entry_schools, strict=True) if js == es)
    return SchoolRound(entries, judges, k, conflicts, draw(st.integers(0, 2**16)))


def k_reachable(r: SchoolRound) -> bool:
    return all(sum((j, e) not in r.conflicts for j in r.judges) >= r.k for e in r.entries)


@SETTINGS
@given(school_rounds(like_the_issue=True))
def test_feasible_random_rounds_get_exact_conflict_free_balanced_connected_panels(r: SchoolRound) -> None:
    assume(k_reachable(r) and even_loads_possible(r.entries, r.judges, r.k, r.conflicts))
    plan = plan_assignment(r.entries, r.judges, r.k, r.conflicts, seed=r.seed)
    check_plan(plan, r.entries, r.judges, r.k, r.conflicts)
    assert all(len(members) == r.k for members in panels(plan).values()) and len(panels(plan)) == len(r.entries)
    assert plan.shortfalls == ()
    assert spread(plan.loads) <= 1 and plan.balanced
    assert plan.connected and judge_groups(plan.pairs) == 1
    # Planning again from this assignment changes nothing.
    again = plan_assignment(r.entries, r.judges, r.k, r.conflicts, seed=r.seed + 1, current=plan.pairs)
    assert again.added == again.removed == frozenset()


@SETTINGS
@given(school_rounds())
def test_loads_are_even_exactly_when_some_assignment_makes_them_even(r: SchoolRound) -> None:
    plan = plan_assignment(r.entries, r.judges, r.k, r.conflicts, seed=r.seed)
    check_plan(plan, r.entries, r.judges, r.k, r.conflicts)
    assert plan.balanced == even_loads_possible(r.entries, r.judges, r.k, r.conflicts)


@SETTINGS
@given(school_rounds(), st.data())
def test_a_judge_leaving_mid_round_keeps_scores_and_the_round_exact(r: SchoolRound, data: st.DataObject) -> None:
    assume(k_reachable(r) and len(r.judges) > r.k + 1)
    before = plan_assignment(r.entries, r.judges, r.k, r.conflicts, seed=r.seed)
    leaving = data.draw(st.sampled_from(r.judges))
    share = data.draw(st.floats(0, 1))
    chooser = random.Random(r.seed)
    scored = {p for p in sorted(before.pairs) if chooser.random() < share}
    judges = [j for j in r.judges if j != leaving]
    after = plan_assignment(r.entries, judges, r.k, r.conflicts, fixed=scored, current=before.pairs, seed=r.seed)
    check_plan(after, r.entries, judges, r.k, r.conflicts, scored, before.pairs)
    assert {p for p in before.pairs if p[0] == leaving and p not in scored} <= after.removed
    assert not any(j == leaving for j, _e in after.added)
    assert after.balanced == even_loads_possible(r.entries, judges, r.k, r.conflicts, scored)


@st.composite
def small_rounds(draw: st.DrawFn) -> tuple[list[int], list[int], int, set[Pair], set[Pair], set[Pair], int]:
    """Anything goes: random conflicts, fixed pairs (some of judges who left), a current
    assignment with stale pairs."""
    entries = list(range(100, 100 + draw(st.integers(1, 8))))
    everyone = list(range(1, 1 + draw(st.integers(1, 6))))
    judges = sorted(draw(st.sets(st.sampled_from(everyone))))
    pairs = [(j, e) for j in everyone for e in entries]
    conflicts = draw(st.sets(st.sampled_from(pairs)))
    fixed = draw(st.sets(st.sampled_from(pairs))) - conflicts if draw(st.booleans()) else set()
    current = draw(st.sets(st.sampled_from(pairs)))
    return entries, judges, draw(st.integers(0, 4)), conflicts, fixed, current, draw(st.integers(0, 99))


@settings(max_examples=100, deadline=None)
@given(small_rounds())
def test_small_rounds_reach_the_exact_optimum_of_evenness_then_churn(case: tuple) -> None:
    """Priorities 3 and 4 of the module's contract exactly; priority 6 (a connected judge
    graph) may then give up current pairs, never evenness, and only where the plan's
    judges fell into separate groups before it."""
    entries, judges, k, conflicts, fixed, current, seed = case
    plan = plan_assignment(entries, judges, k, conflicts, fixed=fixed, current=current, seed=seed)
    check_plan(plan, entries, judges, k, conflicts, fixed, current)
    least = least_cost(entries, judges, k, conflicts, fixed, current)
    # the same steps as plan_assignment (the same seed), stopped before the connectivity repair
    solver = assign._Solver(entries, judges, k, frozenset(conflicts), frozenset(fixed), frozenset(current), seed)
    solver.construct()
    solver.balance()
    solver.spread()
    before = solver.plan()
    assert plan_cost(before, fixed, current) == least
    cost = plan_cost(plan, fixed, current)
    if judge_groups(before.pairs) <= 1:
        assert cost == least
    else:
        assert cost[0] == least[0] and cost[1] <= least[1]
    assert plan.balanced == even_loads_possible(entries, judges, k, conflicts, fixed)
