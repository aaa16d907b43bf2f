"""Who scores what: panels of k conflict-free judges, even loads, judges that can be compared.

Plain Python, no database: the judging service reads the round (entries, the panel, the
conflicts, the scores already given, the current assignment), calls `plan_assignment`,
and applies the returned diff (`Plan.added`, `Plan.removed`).

What a plan guarantees, in this order of priority
-------------------------------------------------
1. No judge meets an entry they have a conflict with (回避), and every fixed pair (a score
   already exists, draft or submitted, or an organiser pinned it) stays. A fixed pair of a
   judge who has left the panel still counts towards the entry's k, not towards any load.
2. Every entry gets exactly k judges, or, when fewer than k judges are free of a conflict
   with it, all of them, and a `Shortfall` says so in plain words.
3. Loads (entries per active judge, fixed ones included) are as even as the conflicts and
   fixed pairs allow: max - min <= 1 whenever any assignment satisfying 1-2 achieves it.
4. Among those, as many pairs of the current assignment as possible are kept (least churn).
5. Meetings are spread, without touching 1-4, so that no two judges sit together all the
   time and every two judges meet when there are enough panels for it.
6. The judge graph (judges linked when they share an entry) is made connected, so every
   judge's scale can be compared with every other's. This keeps 1-3 but may give up a few
   current pairs: scores that cannot be compared are worth less than an unchanged list.

How, and why this way
---------------------
Panel sizes first. Judges have no upper capacity, so entries never compete for them: the
most slots that can be filled is, per entry, min(k - fixed, judges without a conflict).
No flow is needed to know it, and no later step changes it.

Balance and churn are one minimum-cost flow problem (source -> entry -> judge -> sink),
solved exactly. The cost of a judge carrying L entries is W * L**2, and every kept current
pair earns -1, with W larger than half the number of current pairs, so that evenness
always outweighs churn. Minimising the sum of squared loads is the right measure of
evenness: the load vectors of such assignments form an M-convex set, on which a vector of
least square-sum is also "decreasingly minimal" (Frank and Murota, discrete decreasing
minimisation): it has the smallest maximum and the largest minimum at the same time, so
max - min <= 1 is reached whenever it is reachable at all.

The flow is first built greedily (current pairs first, then the least-loaded judges, the
most constrained entries first), then improved by cancelling negative cycles until there
are none, which is the classical optimality condition. The residual graph is huge
(entries x judges) but every cycle in it goes judge -> entry -> judge, so it is searched
on the judges alone: an edge a -> b means "a hands one of its entries to b, who is free
to take it", weighted by the churn it causes (-1, 0 or +1), plus a node for the loads.
For each ordered pair of judges the candidate entries are kept in buckets by churn class
and updated on every move, so a Bellman-Ford pass costs O(judges^2), whatever the number
of entries. A cycle is pushed again and again while it still pays, which makes adding or
losing a judge a few dozen passes rather than one per moved entry.

Spreading is a local search on load- and churn-neutral swaps (judge a leaves entry e for
entry f, judge b does the reverse) that lower the sum of squared meeting counts: its total
is fixed, so its square-sum is least when meetings are even, and pairs that never meet or
always meet are exactly what it punishes. The random choices come from `seed`, so a plan
is reproducible.

Connectivity is repaired last, if needed: for two groups of judges that share no entry, a
judge of one group takes an entry from a judge of the other, and the load is handed back
along the cheapest chain of hand-overs (least churn), to the judge who gave it or to one
who had one entry fewer (the two swap loads; evenness is unchanged). Each repair merges
two groups or is undone. Whether some even assignment is connected at all is a hard
question in general, so this is a targeted search, not a proof: `Plan.connected` reports
the outcome. Some splits cannot be avoided: with k = 1 no two judges ever meet, too few
entries cannot link many judges, and conflicts can force it (two schools whose judges may
only score each other's entries).

For 2,000 entries, 20 judges and k = 7 a plan takes about half a second.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

Pair = tuple[int, int]
"""(judge_id, entry_id)."""

# Entries a judge may take from another are bucketed by the churn the move costs:
# a current pair lost and none gained (+1), neither or both (0), one gained (-1).
_GAIN, _EVEN, _LOSS = 0, 1, 2
_CLASSES = (_GAIN, _EVEN, _LOSS)
# Attempts of the spreading search: per movable pair, at least, at most; and how many
# attempts in a row may fail to improve before it stops. Small rounds get relatively more,
# as their meetings are scarce and every one counts.
_SPREAD_TRIES_PER_PAIR = 12
_SPREAD_MIN_TRIES = 20_000
_SPREAD_MAX_TRIES = 60_000
_SPREAD_PATIENCE = 5_000
# Candidate hand-overs tried when joining two groups of judges, and chains back per hand-over.
_JOIN_MAX_TRIES = 200
_JOIN_CHAINS = 4


@dataclass(frozen=True)
class Shortfall:
    """An entry that cannot get its k judges: too few judges are free of a conflict."""

    entry_id: int
    needed: int
    assigned: int
    eligible: int

    @property
    def missing(self) -> int:
        """How many judges the entry is short of."""
        return self.needed - self.assigned

    @property
    def message(self) -> str:
        """The shortfall in words for organisers."""
        if self.eligible == 0:
            return f"作品 #{self.entry_id} 没有无回避的评委，每件需要 {self.needed} 位，还差 {self.missing} 位。"
        return (f"作品 #{self.entry_id} 只有 {self.eligible} 位无回避评委，"
                f"少于每件 {self.needed} 位的要求，还差 {self.missing} 位。")


@dataclass(frozen=True)
class Plan:
    """An assignment and what it achieves; `added`/`removed` are the diff from `current`."""

    pairs: frozenset[Pair]
    loads: dict[int, int]
    shortfalls: tuple[Shortfall, ...]
    balanced: bool
    connected: bool
    added: frozenset[Pair]
    removed: frozenset[Pair]

    def panel(self, entry_id: int) -> tuple[int, ...]:
        """The judges of one entry, in id order."""
        return tuple(sorted(j for j, e in self.pairs if e == entry_id))

    @property
    def messages(self) -> tuple[str, ...]:
        """Everything an organiser should know about this plan, in words."""
        lines = [s.message for s in self.shortfalls]
        if not self.balanced:
            lines.append(f"受回避关系或已固定的分配所限，评委工作量无法做到相差不超过 1 件："
                         f"最多 {max(self.loads.values())} 件，最少 {min(self.loads.values())} 件。")
        if not self.connected:
            lines.append("受回避关系或作品数量所限，部分评委与其他评委没有共同评审的作品，他们之间的评分尺度无法横向比较。")
        return tuple(lines)


def judge_groups(pairs: Iterable[Pair]) -> int:
    """How many groups of judges the pairs make, judges being linked when they share an entry."""
    parent: dict[int, int] = {}

    def root(j: int) -> int:
        while parent[j] != j:
            parent[j] = parent[parent[j]]
            j = parent[j]
        return j

    first_judge: dict[int, int] = {}
    for judge, entry in pairs:
        parent.setdefault(judge, judge)
        other = first_judge.setdefault(entry, judge)
        parent[root(judge)] = root(other)
    return sum(1 for j in parent if root(j) == j)


def plan_assignment(
    entries: Sequence[int],
    judges: Sequence[int],
    k: int,
    conflicts: Collection[Pair],
    fixed: Collection[Pair] = (),
    seed: int = 0,
    current: Collection[Pair] = (),
) -> Plan:
    """Assign k conflict-free judges to every entry, evenly, keeping fixed and current pairs.

    `conflicts` are (judge_id, entry_id) pairs that must not meet (回避, or removed by an
    organiser); `fixed` pairs must stay (scored, or pinned by an organiser), even for a judge
    no longer in `judges`; `current` is the assignment in force, kept as far as possible.
    Pairs in `conflicts` naming unknown judges or entries are ignored; such pairs in
    `current` are removed. A fixed pair on an entry outside `entries` is left alone: it
    stays in `pairs` but counts for nothing. A pair both fixed and forbidden is a
    contradiction the caller must resolve: ValueError.
    """
    entry_ids = list(entries)
    judge_ids = list(judges)
    _require_unique(entry_ids, "entries")
    _require_unique(judge_ids, "judges")
    if k < 0:
        raise ValueError(f"k must not be negative, got {k}")
    fixed_pairs = frozenset(fixed)
    conflict_pairs = frozenset(conflicts)
    clash = sorted(fixed_pairs & conflict_pairs)
    if clash:
        raise ValueError(f"pairs are both fixed and forbidden by a conflict: {clash[:5]}")

    solver = _Solver(entry_ids, judge_ids, k, conflict_pairs, fixed_pairs, frozenset(current), seed)
    solver.construct()
    solver.balance()
    solver.spread()
    solver.connect()
    return solver.plan()


def _require_unique(ids: list[int], name: str) -> None:
    twice = sorted(i for i, n in Counter(ids).items() if n > 1)
    if twice:
        raise ValueError(f"{name} lists ids more than once: {twice[:5]}")


class _Solver:
    """The working state of one plan. Judges and entries are indices; only the active
    judges can be moved, and only on pairs that are not fixed."""

    def __init__(self, entry_ids: list[int], judge_ids: list[int], k: int, conflicts: frozenset[Pair],
                 fixed: frozenset[Pair], current: frozenset[Pair], seed: int) -> None:
        self.entry_ids = entry_ids
        self.judge_ids = judge_ids
        self.k = k
        self.fixed = fixed
        self.current = current
        self.rng = random.Random(seed)  # nosec B311
        self.n_judges = n_judges = len(judge_ids)
        n_entries = len(entry_ids)
        judge_index = {j: i for i, j in enumerate(judge_ids)}
        entry_index = {e: i for i, e in enumerate(entry_ids)}

        # Fixed pairs: of active judges (they count in loads), of departed judges (they do not).
        self.fixed_active: list[set[int]] = [set() for _ in range(n_entries)]
        self.fixed_gone: list[set[int]] = [set() for _ in range(n_entries)]
        for judge, entry in fixed:
            e = entry_index.get(entry, -1)
            if e < 0:
                continue
            if judge in judge_index:
                self.fixed_active[e].add(judge_index[judge])
            else:
                self.fixed_gone[e].add(judge)
        blocked: list[set[int]] = [set() for _ in range(n_entries)]
        for judge, entry in conflicts:
            if judge in judge_index and entry in entry_index:
                blocked[entry_index[entry]].add(judge_index[judge])
        everyone = frozenset(range(n_judges))
        # Who may still be added to each entry, and how many the entry gets: all it needs,
        # or every eligible judge when there are too few.
        self.eligible = [everyone - blocked[e] - self.fixed_active[e] for e in range(n_entries)]
        self.size = [min(max(0, k - len(self.fixed_active[e]) - len(self.fixed_gone[e])), len(self.eligible[e]))
                     for e in range(n_entries)]
        self.cur: list[set[int]] = [set() for _ in range(n_entries)]
        for judge, entry in current:
            if judge in judge_index and entry in entry_index:
                j, e = judge_index[judge], entry_index[entry]
                if j in self.eligible[e]:
                    self.cur[e].add(j)
        self.load = [0] * n_judges
        for members in self.fixed_active:
            for j in members:
                self.load[j] += 1
        self.assigned: list[set[int]] = [set() for _ in range(n_entries)]
        self.unassigned: list[set[int]] = [set() for _ in range(n_entries)]
        self.panel: list[set[int]] = [set() for _ in range(n_entries)]
        # bucket[a][b][c]: entries a holds (not fixed) that b may take, moving at churn class c.
        self.bucket: list[list[list[set[int]]]] = [[[set(), set(), set()] for _ in range(n_judges)]
                                                   for _ in range(n_judges)]
        # Evenness outweighs any churn: a square-sum changes by 2 at least.
        self.weight = sum(len(c) for c in self.cur) + 1
        self._pred: list[tuple[int, int] | None] = []

    # -- construction ---------------------------------------------------------------

    def construct(self) -> None:
        """A good start: current pairs first, then the least-loaded judges (random ties),
        the entries with the fewest spare judges first."""
        rng, load = self.rng, self.load
        order = sorted(range(len(self.entry_ids)), key=lambda e: (len(self.eligible[e]) - self.size[e], rng.random()))
        for e in order:
            want = self.size[e]
            chosen = sorted(self.cur[e], key=lambda j: (load[j], rng.random()))[:want]
            if len(chosen) < want:
                others = sorted(self.eligible[e] - self.cur[e], key=lambda j: (load[j], rng.random()))
                chosen += others[:want - len(chosen)]
            for j in chosen:
                load[j] += 1
            self.assigned[e] = set(chosen)
        for e, assigned in enumerate(self.assigned):
            self.unassigned[e] = set(self.eligible[e] - assigned)
            self.panel[e] = self.fixed_active[e] | assigned
            if not self.unassigned[e]:
                continue
            cur = self.cur[e]
            for a in assigned:
                row = self.bucket[a]
                held = a in cur
                for b in self.unassigned[e]:
                    row[b][held - (b in cur) + 1].add(e)

    def _move(self, e: int, a: int, b: int) -> None:
        """Judge a hands entry e to judge b; the buckets of e follow."""
        cur, assigned, unassigned, bucket = self.cur[e], self.assigned[e], self.unassigned[e], self.bucket
        a_held, b_held = a in cur, b in cur
        for x in assigned:
            bucket[x][b][(x in cur) - b_held + 1].discard(e)
        row = bucket[a]
        for y in unassigned:
            if y != b:
                row[y][a_held - (y in cur) + 1].discard(e)
        assigned.remove(a)
        assigned.add(b)
        unassigned.remove(b)
        unassigned.add(a)
        panel = self.panel[e]
        panel.remove(a)
        panel.add(b)
        for x in assigned:
            bucket[x][a][(x in cur) - a_held + 1].add(e)
        row = bucket[b]
        for y in unassigned:
            if y != a:
                row[y][b_held - (y in cur) + 1].add(e)
        self.load[a] -= 1
        self.load[b] += 1

    def _pick(self, a: int, b: int, avoid: int = -1) -> tuple[int, int] | None:
        """The cheapest entry a can hand to b (churn class, entry), other than `avoid`."""
        for c in _CLASSES:
            for e in self.bucket[a][b][c]:
                if e != avoid:
                    return c, e
        return None

    # -- balance and churn: cycle cancelling --------------------------------------------

    def balance(self) -> None:
        """Cancel negative cycles until none is left: the exact optimum of evenness, then churn."""
        n = self.n_judges
        if n < 2:
            return
        total = sum(self.load)
        low, high = total // n, -(-total // n)
        while True:
            cycle = self._negative_cycle()
            if cycle is None or not self._cancel(cycle, low, high):
                return

    def _negative_cycle(self) -> list[int] | None:
        """Bellman-Ford over the judges plus a load node (index n); a negative cycle or None."""
        n, load, weight = self.n_judges, self.load, self.weight
        hub = n
        edges: list[tuple[int, int, int]] = []
        for a in range(n):
            row = self.bucket[a]
            for b in range(n):
                gain, even, loss = row[b]
                if gain:
                    edges.append((a, b, -1))
                elif even:
                    edges.append((a, b, 0))
                elif loss:
                    edges.append((a, b, 1))
            edges.append((hub, a, -weight * (2 * load[a] - 1)))  # a carries one entry fewer
            edges.append((a, hub, weight * (2 * load[a] + 1)))   # a carries one entry more
        dist = [0] * (n + 1)
        pred = [-1] * (n + 1)
        last = -1
        for _ in range(n + 1):
            last = -1
            for u, v, w in edges:
                d = dist[u] + w
                if d < dist[v]:
                    dist[v] = d
                    pred[v] = u
                    last = v
            if last < 0:
                return None
        for _ in range(n + 1):
            last = pred[last]
        cycle = [last]
        node = pred[last]
        while node != last:
            cycle.append(node)
            node = pred[node]
        cycle.reverse()
        return cycle

    def _cancel(self, cycle: list[int], low: int, high: int) -> bool:
        """Push the cycle while it pays; False when it did not pay at all."""
        hub, load, weight = self.n_judges, self.load, self.weight
        steps = list(zip(cycle, cycle[1:] + cycle[:1], strict=True))
        loser = gainer = -1
        for u, v in steps:
            if u == hub:
                loser = v
            if v == hub:
                gainer = u
        pushes = 0
        while True:
            cost = 0
            moves: list[tuple[int, int, int]] = []
            for u, v in steps:
                if u == hub:
                    cost -= weight * (2 * load[v] - 1)
                elif v == hub:
                    cost += weight * (2 * load[u] + 1)
                else:
                    picked = self._pick(u, v)
                    if picked is None:
                        return pushes > 0
                    c, e = picked
                    cost += c - 1
                    moves.append((e, u, v))
            if cost >= 0:
                return pushes > 0
            # Stop a load-moving cycle at the average: beyond it, it would only overshoot.
            if pushes and loser >= 0 and (load[loser] <= high or load[gainer] >= low):
                return True
            # Chosen before any is made: along a simple cycle they stay valid and add up.
            for e, u, v in moves:
                self._move(e, u, v)
            pushes += 1

    # -- spreading meetings -----------------------------------------------------------

    def spread(self) -> None:
        """Swap judges between entries while it evens out how often judges meet."""
        n = self.n_judges
        if n < 3:
            return
        meet = [[0] * n for _ in range(n)]
        for members in self.panel:
            listed = list(members)
            for i, a in enumerate(listed):
                row = meet[a]
                for b in listed[i + 1:]:
                    row[b] += 1
                    meet[b][a] += 1
        slot_entry: list[int] = []
        slot_judge: list[int] = []
        for e, assigned in enumerate(self.assigned):
            if self.unassigned[e] and len(self.panel[e]) > 1:
                for j in assigned:
                    slot_entry.append(e)
                    slot_judge.append(j)
        slots = len(slot_entry)
        if slots < 2:
            return
        rand = self.rng.random
        tries = min(max(_SPREAD_TRIES_PER_PAIR * slots, _SPREAD_MIN_TRIES), _SPREAD_MAX_TRIES)
        patience = max(_SPREAD_PATIENCE, slots)
        failures = 0
        for _ in range(tries):
            if failures > patience:
                break
            failures += 1
            i, j = int(rand() * slots), int(rand() * slots)
            e, a, f, b = slot_entry[i], slot_judge[i], slot_entry[j], slot_judge[j]
            if e == f or a == b or b not in self.unassigned[e] or a not in self.unassigned[f]:
                continue
            ce, cf = self.cur[e], self.cur[f]
            if (a in ce) + (b in cf) != (b in ce) + (a in cf):
                continue  # would cost current pairs
            pe, pf = self.panel[e], self.panel[f]
            leaving = [x for x in pe if x != a and x not in pf]   # a leaves them, b joins them
            joining = [y for y in pf if y != b and y not in pe]   # b leaves them, a joins them
            ma, mb = meet[a], meet[b]
            change = sum(mb[x] - ma[x] + 1 for x in leaving) + sum(ma[y] - mb[y] + 1 for y in joining)
            if change > 0:
                continue
            if change < 0:
                failures = 0
            # Sideways moves (no change) are taken too: they let the search leave a plateau.
            for x in leaving:
                ma[x] -= 1
                meet[x][a] -= 1
                mb[x] += 1
                meet[x][b] += 1
            for y in joining:
                mb[y] -= 1
                meet[y][b] -= 1
                ma[y] += 1
                meet[y][a] += 1
            self._move(e, a, b)
            self._move(f, b, a)
            slot_judge[i], slot_judge[j] = b, a

    # -- connectivity -------------------------------------------------------------------

    def _groups(self) -> dict[int, int]:
        """Judge index (departed judges after the active ones) -> its group's root."""
        n = self.n_judges
        parent: dict[int, int] = {}
        departed: dict[int, int] = {}

        def root(j: int) -> int:
            while parent[j] != j:
                parent[j] = parent[parent[j]]
                j = parent[j]
            return j

        for e, members in enumerate(self.panel):
            nodes = list(members) + [n + departed.setdefault(j, len(departed)) for j in self.fixed_gone[e]]
            for j in nodes:
                parent.setdefault(j, j)
            for j in nodes[1:]:
                parent[root(j)] = root(nodes[0])
        return {j: root(j) for j in parent}

    def connect(self) -> None:
        """Join groups of judges that share no entry, by hand-overs that keep the loads as even."""
        for _ in range(self.n_judges):
            groups = self._groups()
            if len(set(groups.values())) <= 1 or not self._join(groups):
                return

    def _join(self, groups: dict[int, int]) -> bool:
        n = self.n_judges
        count = len(set(groups.values()))
        tries = 0
        for a in range(n):
            for b in range(n):
                if a == b or a not in groups or b not in groups or groups[a] == groups[b]:
                    continue
                for c in _CLASSES:
                    for e in list(self.bucket[a][b][c])[:3]:
                        if len(self.panel[e]) + len(self.fixed_gone[e]) < 2:
                            continue  # e would leave a's group with b alone on it
                        tries += 1
                        if tries > _JOIN_MAX_TRIES:
                            return False
                        if self._try_join(e, a, b, count):
                            return True
        return False

    def _try_join(self, e: int, a: int, b: int, count: int) -> bool:
        """b takes e from a, then hands one entry on along the cheapest chain to a, or to a
        judge c with one entry fewer than a had (a and c swap loads, the square-sum stays);
        kept only if the number of groups drops."""
        before = self.load[a]
        self._move(e, a, b)
        tries = 0
        for _cost, c in self._chains(b, avoid=e):
            evens_out = c == a or self.load[c] + (0 if c == b else 1) == before
            if not evens_out:
                continue
            tries += 1
            if tries > _JOIN_CHAINS:
                break
            path = self._chain_to(b, c, avoid=e)
            for move in path:
                self._move(*move)
            if len(set(self._groups().values())) < count:
                return True
            for entry, u, v in reversed(path):
                self._move(entry, v, u)
        self._move(e, b, a)
        return False

    def _chains(self, source: int, avoid: int) -> list[tuple[int, int]]:
        """Dijkstra on churn class from `source`: (cost, judge) for every judge reachable by
        hand-overs, cheapest first; the paths are kept for `_chain_to`."""
        n = self.n_judges
        inf = 1 << 30
        dist = [inf] * n
        pred: list[tuple[int, int] | None] = [None] * n
        done = [False] * n
        dist[source] = 0
        while True:
            u = min(((d, v) for v, d in enumerate(dist) if not done[v]), default=(inf, -1))[1]
            if u < 0 or dist[u] == inf:
                break
            done[u] = True
            for v in range(n):
                if not done[v] and v != u:
                    picked = self._pick(u, v, avoid)
                    if picked is not None and dist[u] + picked[0] < dist[v]:
                        dist[v] = dist[u] + picked[0]
                        pred[v] = (u, picked[1])
        self._pred = pred
        return sorted((d, v) for v, d in enumerate(dist) if d < inf)

    def _chain_to(self, source: int, target: int, avoid: int) -> list[tuple[int, int, int]]:
        """The moves of the cheapest chain found by the last `_chains(source)`. The entries
        were picked before any move; along a simple path they all stay valid."""
        path: list[tuple[int, int, int]] = []
        node = target
        while node != source:
            step = self._pred[node]
            assert step is not None
            path.append((step[1], step[0], node))
            node = step[0]
        path.reverse()
        return path

    # -- result -------------------------------------------------------------------------

    def plan(self) -> Plan:
        pairs = set(self.fixed)
        for e, assigned in enumerate(self.assigned):
            entry = self.entry_ids[e]
            pairs.update((self.judge_ids[j], entry) for j in assigned)
        shortfalls = []
        for e, entry in enumerate(self.entry_ids):
            have = len(self.panel[e]) + len(self.fixed_gone[e])
            if have < self.k:
                free = len(self.fixed_active[e]) + len(self.fixed_gone[e]) + len(self.eligible[e])
                shortfalls.append(Shortfall(entry_id=entry, needed=self.k, assigned=have, eligible=free))
        loads = dict(zip(self.judge_ids, self.load, strict=True))
        frozen = frozenset(pairs)
        return Plan(
            pairs=frozen,
            loads=loads,
            shortfalls=tuple(shortfalls),
            balanced=not loads or max(loads.values()) - min(loads.values()) <= 1,
            connected=len(set(self._groups().values())) <= 1,
            added=frozen - self.current,
            removed=self.current - frozen,
        )
