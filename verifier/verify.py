#!/usr/bin/env python3
"""Check the contest platform's vote ledger from its public API, trusting nobody.

Written from docs/LEDGER.md alone, with the Python standard library only (3.9 or later):
copy this file anywhere and run it.

    python verify.py https://example.org                     # every block: hash, chain, root from its leaves
    python verify.py https://example.org --receipt K2ABGX5ST4M5
    python verify.py https://example.org --from 3 --to 40    # the ledger only grew
    python verify.py https://example.org --head 3:<hash>     # a head you saved earlier
    python verify.py --bundle results.json                   # recompute published results
    python verify.py --bundle results.json --events events.jsonl   # ... and re-derive the counts vote by vote
    python verify.py https://example.org --bundle https://example.org/c/<slug>/results/bundle.json
                                                             # ... and find their head in the ledger

It prints one line per check and exits 0 when every check holds, 1 when one fails, 2 when
the server cannot be read.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import urllib.error
import urllib.parse
import urllib.request
from fractions import Fraction
from typing import Any

GENESIS = "0" * 64


class Unreadable(Exception):
    """The server did not answer as the API documents."""


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def canonical(value: Any) -> bytes:
    """LEDGER.md §1: sorted keys, no whitespace, ASCII with \\uXXXX escapes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


class Api:
    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/") + "/api/v1"

    def get(self, path: str) -> Any:
        """The JSON answer, or None on a 404."""
        try:
            with urllib.request.urlopen(self.base + path, timeout=30) as response:
                return json.load(response)
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return None
            raise Unreadable(f"GET {path}: HTTP {error.code}") from error
        except (urllib.error.URLError, ValueError) as error:
            raise Unreadable(f"GET {path}: {error}") from error


class Report:
    def __init__(self) -> None:
        self.failures = 0

    def check(self, holds: bool, what: str) -> bool:
        print(("ok    " if holds else "FAIL  ") + what)
        if not holds:
            self.failures += 1
        return holds


# --- LEDGER.md §3, §5, §6 ---------------------------------------------------------------

def inclusion_holds(digest: str, index: int, size: int, path: list[str], root: str) -> bool:
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, sha(b"\x00" + bytes.fromhex(digest))
    for p in (bytes.fromhex(h) for h in path):
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = sha(b"\x01" + p + r)
            while fn & 1 == 0 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = sha(b"\x01" + r + p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r.hex() == root


def consistency_holds(m: int, n: int, old_root: str, new_root: str, proof: list[str]) -> bool:
    if not 0 < m <= n:
        return False
    if m == n:
        return not proof and old_root == new_root
    steps = [bytes.fromhex(h) for h in proof]
    if m & (m - 1) == 0:
        steps.insert(0, bytes.fromhex(old_root))
    if not steps:
        return False
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = steps[0]
    for c in steps[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = sha(b"\x01" + c + fr), sha(b"\x01" + c + sr)
            while fn & 1 == 0 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = sha(b"\x01" + sr + c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr.hex() == old_root and sr.hex() == new_root


class Frontier:
    """The RFC 6962 tree over leaves appended one by one (LEDGER.md §3), kept as its
    perfect subtrees' heads, largest first: memory grows with log2 of the leaves."""

    def __init__(self) -> None:
        self.size = 0
        self.heads: list[tuple[int, bytes]] = []  # (leaves under it, its hash)

    def add(self, digest: str) -> None:
        node = (1, sha(b"\x00" + bytes.fromhex(digest)))
        while self.heads and self.heads[-1][0] == node[0]:
            left = self.heads.pop()
            node = (left[0] * 2, sha(b"\x01" + left[1] + node[1]))
        self.heads.append(node)
        self.size += 1

    def root(self) -> str:
        value = self.heads[-1][1]
        for _size, left in reversed(self.heads[:-1]):
            value = sha(b"\x01" + left + value)
        return value.hex()


def version_1_root(digests: list[str]) -> str:
    """A version-1 block's root over its own events: no prefixes, an odd level's last node
    paired with itself."""
    level = [bytes.fromhex(d) for d in digests]
    while len(level) > 1:
        if len(level) % 2:
            level.append(level[-1])
        level = [sha(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
    return level[0].hex()


# --- LEDGER.md §4 ---------------------------------------------------------------------------

def block_fields(block: dict[str, Any]) -> dict[str, Any]:
    """What the block's hash covers, rebuilt from its published fields by its version."""
    fields = {"height": block["height"], "prev": block["prev_hash"], "root": block["merkle_root"],
              "first": block["first_event_id"], "last": block["last_event_id"], "count": block["event_count"],
              "sealed_at": block["hashed"].get("sealed_at")}
    if block["version"] == 2:
        fields.update(version=2, tree_size=block["tree_size"])
    return fields


def check_block(report: Report, block: dict[str, Any], previous_hash: str | None) -> bool:
    height = block["height"]
    ok = report.check(block["version"] in (1, 2), f"block {height}: version {block['version']} is known")
    rebuilt = block_fields(block)
    ok &= report.check(rebuilt == block["hashed"], f"block {height}: its published fields are the ones hashed")
    ok &= report.check(sha(canonical(rebuilt)).hex() == block["hash"], f"block {height}: hash recomputes")
    if previous_hash is not None:
        ok &= report.check(block["prev_hash"] == previous_hash, f"block {height}: chains to block {height - 1}")
    return ok


def check_chain(report: Report, api: Api, upto: int | None, leaves: bool = True) -> dict[int, dict[str, Any]]:
    """Every block from 1 to the head (or to `upto`): its hash, its chain and, with
    `leaves`, its root recomputed from its events' digests (LEDGER.md §3)."""
    blocks: dict[int, dict[str, Any]] = {}
    head = api.get("/ledger/head")
    last = head["height"] if head is not None else 0
    if upto is not None:
        last = min(last, upto)
    previous: str | None = GENESIS
    tree = Frontier()
    for height in range(1, last + 1):
        block = api.get(f"/ledger/blocks/{height}")
        if block is None:
            report.check(False, f"block {height}: missing from the ledger (its head is block {last})")
            previous = None  # the next block cannot chain to a missing one
            continue
        check_block(report, block, previous)
        blocks[height] = block
        previous = block["hash"]
        if leaves:
            check_leaves(report, api, block, tree)
    if head is not None and last == head["height"] and last in blocks:
        report.check(blocks[last]["hash"] == head["hash"], f"block {last} is the head the ledger names")
    report.check(bool(blocks), f"the ledger has {len(blocks)} sealed blocks")
    return blocks


def check_leaves(report: Report, api: Api, block: dict[str, Any], tree: Frontier) -> None:
    """Recompute a block's Merkle root from its leaves, carrying the tree of every leaf so
    far in `tree` (a version-2 root covers every event sealed up to its block)."""
    height = block["height"]
    found = api.get(f"/ledger/blocks/{height}/leaves")
    if not report.check(found is not None and found["first_leaf"] == tree.size
                        and len(found["leaves"]) == block["event_count"],
                        f"block {height}: its {block['event_count']} leaves follow leaf {tree.size - 1}"):
        return
    assert found is not None
    for digest in found["leaves"]:
        tree.add(digest)
    root = tree.root() if block["version"] == 2 else version_1_root(found["leaves"])
    report.check(root == block["merkle_root"] and (block["version"] == 1 or block["tree_size"] == tree.size),
                 f"block {height}: Merkle root recomputes from its leaves")


# --- receipts (LEDGER.md §2, §5) -------------------------------------------------------------

def check_receipt(report: Report, code: str, receipt: dict[str, Any] | None) -> None:
    if not report.check(receipt is not None, f"receipt {code}: found"):
        return
    assert receipt is not None
    for number, event in enumerate(receipt["events"], 1):
        where = f"receipt {code}, event {number} ({event['kind']})"
        fields = event["fields"]
        if fields is None:
            print(f"note  {where}: format {event['format']} covers an internal id; only the platform can recompute it")
        else:
            report.check(sha(canonical(fields)).hex() == event["digest"], f"{where}: digest recomputes from its fields")
            mine = (fields["receipt"] == receipt["receipt"] if fields["format"] == 3
                    else fields["receipt_sha256"] == sha(receipt["receipt"].encode("ascii")).hex())
            report.check(mine and fields["entry"] == receipt["entry"]["id"]
                         and fields["contest"] == receipt["contest"]["id"] and fields["kind"] == event["kind"],
                         f"{where}: the digest covers this receipt, entry and contest")
        block = event["block"]
        if block is None:
            print(f"note  {where}: not sealed yet")
            continue
        check_block(report, block, None)
        if block["version"] == 1:
            current = event["digest"]
            for step in event["proof"]:
                pair = step["hash"] + current if step["side"] == "left" else current + step["hash"]
                current = sha(bytes.fromhex(pair)).hex()
            report.check(current == block["merkle_root"], f"{where}: version-1 proof leads to block {block['height']}")
        else:
            report.check(event["tree_size"] == block["tree_size"], f"{where}: tree size is its block's")
            report.check(inclusion_holds(event["digest"], event["leaf_index"], event["tree_size"], event["audit_path"],
                                         block["merkle_root"]),
                         f"{where}: leaf {event['leaf_index']} of {event['tree_size']} in block {block['height']}")


def check_consistency(report: Report, api: Api, first: int, second: int, saved: dict[int, str]) -> None:
    where = f"heads {first} → {second}"
    answer = api.get(f"/ledger/consistency?from={first}&to={second}")
    if not report.check(answer is not None, f"{where}: the server gives a consistency proof"):
        return
    assert answer is not None
    ok = check_block(report, answer["first"], None) and check_block(report, answer["second"], None)
    for height, block in ((first, answer["first"]), (second, answer["second"])):
        if height in saved:
            report.check(block["hash"] == saved[height], f"{where}: block {height} is the head saved earlier")
    a, b = answer["first"], answer["second"]
    report.check(ok and consistency_holds(a["tree_size"], b["tree_size"], a["merkle_root"], b["merkle_root"],
                                          answer["proof"]),
                 f"{where}: tree of {b['tree_size']} extends tree of {a['tree_size']}")


# --- recomputing published results from their bundle (LEDGER.md §10) ---------------------------

PLACES = 9  # §10.3: judges' totals and spreads are rounded to 9 decimals
TRIM_MIN = 5  # §10.3: "trimmed" drops the extremes from 5 marks up
ZERO_SD = 1e-9
WITHHELD_MARGIN = Fraction(1, 200)  # a withheld entry's total is given to two decimals


def exact(value: Any) -> Fraction:
    """A number as the decimal it is written as (§10.4): 0.1 is 1/10, not the double near it."""
    if isinstance(value, int):
        return Fraction(value)
    return Fraction(repr(float(value)))


def four(value: Any) -> float | None:
    """A figure as the bundle's rows give it: a float rounded to 4 decimals (§10.2)."""
    return None if value is None else round(float(value), 4)


def aggregate(values: list[float], method: str) -> float:
    n = len(values)
    if method == "mean" or (method == "trimmed" and n < TRIM_MIN):
        return math.fsum(values) / n
    if method == "trimmed":
        return math.fsum([*values, -max(values), -min(values)]) / (n - 2)
    ordered = sorted(values)
    return ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2


def mean_sd(values: list[float]) -> tuple[float, float]:
    mean = math.fsum(values) / len(values)
    sd = math.sqrt(math.fsum([(v - mean) ** 2 for v in values]) / len(values))
    return mean, (sd if sd >= ZERO_SD else 0.0)


def round_results(rnd: dict[str, Any]) -> dict[int, tuple[float, tuple[float, ...]]] | None:
    """Each entry's round score and tie-break keys from the judges' marks (§10.3), or None
    when they cannot be recomputed (normalised against marks the bundle withholds)."""
    if rnd["normalise"] and rnd.get("withheld_marks"):
        return None
    criteria = rnd["criteria"]
    per_entry: dict[int, list[tuple[str, float, dict[str, float]]]] = {}
    per_judge: dict[str, list[float]] = {}
    for mark in rnd["marks"]:
        total = round(math.fsum([mark["values"][c["key"]] / c["maximum"] * c["weight"] for c in criteria]), PLACES)
        per_entry.setdefault(mark["entry_id"], []).append((mark["judge"], total, mark["values"]))
        per_judge.setdefault(mark["judge"], []).append(total)
    scale: dict[str, tuple[float, float]] = {}
    if rnd["normalise"] and per_entry:
        everyone = mean_sd([t for totals in per_judge.values() for t in totals])
        for judge, totals in per_judge.items():
            mean, sd = mean_sd(totals)
            if len(totals) >= rnd["min_scores"] and sd > 0:
                scale[judge] = (mean, sd)
    out = {}
    for entry_id, marks in per_entry.items():
        totals = [t for _, t, _ in marks]
        score = aggregate(totals, rnd["aggregation"])
        if rnd["normalise"]:
            score = aggregate([t if j not in scale else everyone[0] + everyone[1] * (t - scale[j][0]) / scale[j][1]
                               for j, t, _ in marks], rnd["aggregation"])
        by_criterion = tuple(aggregate([m[2][c["key"]] for m in marks], rnd["aggregation"]) for c in criteria)
        out[entry_id] = (score, by_criterion + (-round(max(totals) - min(totals), PLACES),))
    return out


class Item:
    """One entry as the verifier sees it. key: the ranking key when every part is known,
    None when only the total is (a withheld entry, or tie-breaks that cannot be recomputed)."""

    def __init__(self, row: dict[str, Any], votes: int | None) -> None:
        self.row, self.entry_id, self.votes = row, row["entry_id"], votes
        self.withheld = votes is None
        self.scores: dict[str, Fraction | None] = {}
        self.floats: dict[str, float | None] = {}
        self.ties: tuple[Any, ...] | None = ()
        self.vote_score: Fraction | None = None
        self.final: Fraction | None = None
        self.key: tuple[Any, ...] | None = None
        self.rank: int | None = None
        self.awards: list[str] = []


def tier_counts(tiers: list[dict[str, Any]], competing: int) -> list[int]:
    """§10.5: a count as given; a percentage of the competing entries rounded half up, at least 1."""
    counts = []
    for tier in tiers:
        if "count" in tier:
            counts.append(int(tier["count"]))
        else:
            places = math.floor(exact(tier["percent"]) * competing / 100 + Fraction(1, 2))
            counts.append(max(1, places) if competing > 0 else 0)
    return counts


def tiered(ranks: dict[int, int], tiers: list[dict[str, Any]], competing: int) -> dict[int, str]:
    bounds, running = [], 0
    for n in tier_counts(tiers, competing):
        running += n
        bounds.append(running)
    awards = {}
    for entry_id, place in ranks.items():
        for index, bound in enumerate(bounds):
            if place <= bound:
                awards[entry_id] = tiers[index]["name"]
                break
    return awards


def beats(a: Item, b: Item) -> bool:
    """Whether a ranks above b. With a key unknown, the totals decide when they are apart
    by more than the rounding of a withheld total; closer than that, the order is taken as
    published (the keys that would decide it are withheld)."""
    if a.key is not None and b.key is not None:
        return a.key > b.key
    assert a.final is not None and b.final is not None
    margin = WITHHELD_MARGIN if a.withheld or b.withheld else Fraction(0)
    if abs(a.final - b.final) > margin:
        return a.final > b.final
    big = 10**9
    return (a.row.get("rank") or big) < (b.row.get("rank") or big)


def rank(items: list[Item]) -> None:
    """Competition ranks (1, 2, 2, 4) of the entries with a total: 1 + how many rank above."""
    scored = [i for i in items if i.final is not None]
    for item in scored:
        item.rank = 1 + sum(1 for other in scored if other is not item and beats(other, item))


def vote_scores(rules: dict[str, Any], items: list[Item]) -> bool:
    """§10.6 (最美职校生): each public entry's vote score on the scale of the public counts.
    False when the scale would need withheld counts (no public count above zero)."""
    public = [i.votes for i in items if i.votes is not None]
    if any(public):
        scale = public
    elif any(i.withheld for i in items):
        return False
    else:
        scale = public
    top = max(scale, default=0)
    for item in items:
        if item.votes is None:
            continue
        if rules["vote_scoring"] == "max":
            item.vote_score = Fraction(100 * min(item.votes, top), top) if top else Fraction(0)
            continue
        n, place = len(scale), 1 + sum(1 for c in scale if c > item.votes)
        item.vote_score = (Fraction(100 if place == 1 else 0) if n <= 1
                           else max(Fraction(0), Fraction(100 * (n - place), n - 1)))
    return True


def selection(rules: dict[str, Any], items: list[Item], notes: list[str]) -> None:
    if not vote_scores(rules, items):
        notes.append("no public count above zero: vote scores taken as published")
        for item in items:
            if item.votes is not None and item.row.get("vote_score") is not None:
                item.vote_score = exact(item.row["vote_score"])
    vote_weight, expert_weight = exact(rules["vote_weight"]), exact(rules["expert_weight"])
    for item in items:
        if item.withheld:
            published = item.row.get("final_score")
            item.final = None if published is None else exact(published)
            continue
        expert = item.scores.get(rules["expert_round"])
        if expert is None and expert_weight > 0:
            continue
        item.final = (vote_weight * (item.vote_score or 0) + expert_weight * (expert or 0)) / 100
        if item.ties is not None:
            item.key = (item.final, expert if expert is not None else Fraction(-1), item.ties, item.votes)
    rank(items)
    won = tiered({i.entry_id: i.rank for i in items if i.rank is not None}, rules["awards"],
                 sum(1 for i in items if i.final is not None))
    for item in items:
        item.awards = [won[item.entry_id]] if item.entry_id in won else []


def media(rules: dict[str, Any], items: list[Item], notes: list[str]) -> None:
    for item in items:
        item.final = item.scores.get(rules["jury_round"])
        if item.final is not None and item.ties is not None:
            item.key = (item.final, item.ties, item.votes)
    rank(items)
    jury = tiered({i.entry_id: i.rank for i in items if i.rank is not None}, [rules["jury_award"]],
                  sum(1 for i in items if i.final is not None))
    eligible = [i for i in items if i.votes and not (rules["exclusive"] and i.entry_id in jury)]
    popular = tiered({i.entry_id: 1 + sum(1 for o in eligible if (o.votes or 0) > (i.votes or 0)) for i in eligible},
                     [rules["popular_award"]], len(items))
    for item in items:
        item.awards = [a for a in (jury.get(item.entry_id), popular.get(item.entry_id)) if a is not None]


def innovation(rules: dict[str, Any], items: list[Item], notes: list[str]) -> None:
    for item in items:
        item.final = item.scores.get(rules["final_round"])
        if item.final is not None and item.ties is not None:
            item.key = (item.final, item.ties)
    rank(items)
    won = tiered({i.entry_id: i.rank for i in items if i.rank is not None}, rules["tiers"],
                 sum(1 for i in items if i.final is not None))
    for item in items:
        item.awards = [won[item.entry_id]] if item.entry_id in won else []


KINDS = {"selection": (selection, ("expert_round",)), "media": (media, ("jury_round",)),
         "innovation": (innovation, ("final_round",))}


def group_of(kind: str, rules: dict[str, Any], row: dict[str, Any]) -> tuple[str, ...]:
    if kind == "innovation":
        return ((row["category"],) if rules["per_track"] else ()) + ((row["group"],) if rules["per_group"] else ())
    return (row["category"],) if rules["per_category"] else ()


def differences(item: Item, round_keys: list[str]) -> list[str]:
    """What the recomputation gives that the published row does not."""
    row, found = item.row, []
    if row.get("rank") != item.rank:
        found.append(f"rank published {row.get('rank')}, recomputes as {item.rank}")
    if list(row.get("awards") or []) != item.awards:
        found.append(f"awards published {row.get('awards')}, recompute as {item.awards}")
    if item.withheld:
        return found
    if row.get("valid_votes") != item.votes:
        found.append(f"valid votes in the row {row.get('valid_votes')}, in the counted votes {item.votes}")
    for key in round_keys:
        published = (row.get("round_scores") or {}).get(key)
        if key in item.floats and four(item.floats[key]) != published:
            found.append(f"round {key} score published {published}, the judges' marks give {four(item.floats[key])}")
    if four(item.vote_score) != row.get("vote_score"):
        found.append(f"vote score published {row.get('vote_score')}, recomputes as {four(item.vote_score)}")
    if four(item.final) != row.get("final_score"):
        found.append(f"final score published {row.get('final_score')}, recomputes as {four(item.final)}")
    return found


def check_bundle(report: Report, bundle: dict[str, Any]) -> None:
    """Recompute the publication's results from its bundle and name every difference."""
    kind = bundle["contest"]["kind"]
    where = f"results v{bundle['publication']['version']}"
    formula = bundle["formula"]
    if not report.check(formula["canonical"] is not None and kind in KINDS
                        and bundle.get("bundle_format") in (1, 2),
                        f"{where}: bundle format {bundle.get('bundle_format')}, a known kind and formula"):
        return
    report.check(hashlib.sha256(formula["canonical"].encode("utf-8")).hexdigest() == formula["fingerprint"],
                 f"{where}: formula fingerprint {formula['fingerprint'][:16]} recomputes")
    canon = json.loads(formula["canonical"])
    report.check(canon.get("format") == 1 and canon.get("kind") == kind, f"{where}: the formula is format 1 for {kind}")
    rules = canon["formula"]
    compute, round_fields = KINDS[kind]
    round_keys = [rules[f] for f in round_fields if rules.get(f)]
    notes: list[str] = []
    votes = {v["entry_id"]: v["valid_votes"] for v in bundle["votes"]}
    withheld = set(bundle["withheld"])
    rows = bundle["rows"]
    report.check({r["entry_id"] for r in rows} == set(votes) | withheld and not set(votes) & withheld,
                 f"{where}: every entry has its counted votes or is listed as withheld ({len(withheld)})")
    report.check(not any("valid_votes" in r or "round_scores" in r for r in rows if r["entry_id"] in withheld),
                 f"{where}: no withheld entry's count or scores in the bundle")
    items = {r["entry_id"]: Item(r, votes.get(r["entry_id"])) for r in rows}
    rounds = {r["key"]: r for r in bundle["rounds"]}
    for key in round_keys:
        rnd = rounds.get(key)
        recomputed = round_results(rnd) if rnd is not None else None
        for item in items.values():
            if item.withheld:
                continue
            if recomputed is None:
                published = (item.row.get("round_scores") or {}).get(key)
                item.scores[key] = None if published is None else exact(published)
                item.ties = None
                continue
            score, ties = recomputed.get(item.entry_id, (None, ()))
            item.floats[key] = score
            item.scores[key] = None if score is None else exact(score)
            if item.ties is not None and score is not None:
                item.ties = item.ties + ties
        if recomputed is None:
            notes.append(f"round {key}: scores taken as published (normalised against withheld marks, or missing)")
    groups: dict[tuple[str, ...], list[Item]] = {}
    for item in items.values():
        groups.setdefault(group_of(kind, rules, item.row), []).append(item)
    for members in groups.values():
        compute(rules, members, notes)
    wrong = 0
    for item in items.values():
        for text in differences(item, round_keys):
            wrong += 1
            report.check(False, f"{where}: entry #{item.entry_id} {item.row.get('title', '')}: {text}")
    for note in dict.fromkeys(notes):
        print(f"note  {where}: {note}")
    if withheld:
        print(f"note  {where}: {len(withheld)} withheld entries: rank and award checked against their published totals")
    report.check(not wrong, f"{where}: {len(items)} entries' ranks, scores and awards recompute as published")


def event_key(line: dict[str, Any]) -> tuple[str, int, str, str | None]:
    """(the vote: its receipt's SHA-256, entry, status left, voter pseudonym) of one
    published event (LEDGER.md §2, §10.1)."""
    fields = line["fields"]
    if fields is None:  # formats 1 and 2: the platform gives these beside the digest
        return line["receipt_sha256"], line["entry"], line["vote_status"], None
    vote = fields["receipt_sha256"] if fields["format"] >= 4 else sha(fields["receipt"].encode("ascii")).hex()
    return vote, fields["entry"], fields["vote_status"], fields.get("voter")


class LedgerLeaves:
    """The ledger's leaves, read block by block from the platform as events ask for them."""

    def __init__(self, api: Api) -> None:
        self.api, self.height, self.first = api, 0, 0
        self.leaves: list[str] = []

    def at(self, leaf: int) -> str | None:
        while leaf >= self.first + len(self.leaves):
            found = self.api.get(f"/ledger/blocks/{self.height + 1}/leaves")
            if found is None:
                return None
            self.height, self.first, self.leaves = found["height"], found["first_leaf"], found["leaves"]
        return self.leaves[leaf - self.first] if leaf >= self.first else None


def check_events(report: Report, bundle: dict[str, Any], lines: Any, api: Api | None) -> None:
    """Re-derive every entry's counted votes from the publication's events (LEDGER.md
    §10.1): each digest recomputes from its fields, each event is the ledger's leaf at its
    index (with the platform's address), and a vote counts when its last event leaves it
    valid."""
    where = f"results v{bundle['publication']['version']}: events"
    contest, withheld = bundle["contest"].get("id"), set(bundle["withheld"])
    votes: dict[str, tuple[int, str]] = {}  # vote → (entry, status its last event leaves)
    voters: set[str] = set()
    per_day: dict[tuple[str, str], int] = {}  # (pseudonym, day) → votes cast
    leaves = LedgerLeaves(api) if api is not None else None
    count, previous, bad, old = 0, -1, 0, 0
    for line in lines:
        count += 1
        leaf, fields = line["leaf"], line["fields"]
        problems = []
        if leaf <= previous:
            problems.append(f"leaf {leaf} comes after leaf {previous} (events out of order)")
        previous = leaf
        if fields is None:
            old += 1
        else:
            if sha(canonical(fields)).hex() != line["digest"]:
                problems.append("its digest does not recompute from its fields")
            if fields["contest"] != contest or fields["format"] != line["format"]:
                problems.append("it is not this contest's, or not of its stated format")
        vote, entry, status, voter = event_key(line)
        if entry in withheld:
            problems.append(f"it is a vote on withheld entry #{entry}")
        if vote in votes and votes[vote][0] != entry:
            problems.append(f"its vote was on entry #{votes[vote][0]} before")
        if leaves is not None and leaves.at(leaf) != line["digest"]:
            problems.append(f"the ledger's leaf {leaf} is another digest")
        for problem in problems:
            bad += 1
            if bad <= 20:
                report.check(False, f"{where}: event at leaf {leaf}: {problem}")
        if voter and vote not in votes:
            voters.add(voter)
            per_day[(voter, fields["day"])] = per_day.get((voter, fields["day"]), 0) + 1
        votes[vote] = (entry, status)
    if bad > 20:
        print(f"note  {where}: {bad - 20} more problems not listed")
    stated = (bundle.get("events") or {}).get("count")
    report.check(count == stated, f"{where}: {count} events, as the bundle states ({stated})")
    report.check(not bad, f"{where}: every digest recomputes" + (
        " and is the ledger's leaf at its index" if leaves is not None else ""))
    if leaves is None:
        print(f"note  {where}: give the platform's address to find each event among the ledger's leaves")
    if old:
        print(f"note  {where}: {old} events of formats 1 and 2 cover an account id: counted, not recomputed")
    counted: dict[int, int] = {}
    for entry, status in votes.values():
        if status == "valid":
            counted[entry] = counted.get(entry, 0) + 1
    wrong = 0
    for row in bundle["votes"]:
        derived = counted.get(row["entry_id"], 0)
        if derived != row["valid_votes"]:
            wrong += 1
            report.check(False, f"{where}: entry #{row['entry_id']}: {row['valid_votes']} counted votes published, "
                                f"its events give {derived}")
    report.check(not wrong, f"{where}: {len(votes)} votes by {len(voters)} pseudonymous voters re-derive "
                            f"every entry's counted votes")
    if per_day:
        (voter, day), most = max(per_day.items(), key=lambda item: item[1])
        print(f"note  {where}: the most votes one pseudonymous voter cast on one day: {most} ({voter[:8]}…, {day})")


def read_lines(source: str) -> Any:
    """The JSON lines of a file or an http(s) address, one object at a time."""
    try:
        if source.startswith(("http://", "https://")):
            with urllib.request.urlopen(source, timeout=300) as response:  # noqa: S310 (an address the user gives)
                for raw in response:
                    if raw.strip():
                        yield json.loads(raw)
            return
        with open(source, encoding="utf-8") as handle:
            for raw in handle:
                if raw.strip():
                    yield json.loads(raw)
    except (OSError, urllib.error.URLError, ValueError) as error:
        raise Unreadable(f"events {source}: {error}") from error


def events_source(args: argparse.Namespace, bundle: dict[str, Any]) -> str | None:
    """Where the bundle's events are: --events, else beside a downloaded bundle's address
    or the platform's."""
    href = (bundle.get("events") or {}).get("href")
    if args.events:
        return args.events
    if href and args.bundle.startswith(("http://", "https://")):
        return urllib.parse.urljoin(args.bundle, href)
    if href and args.base_url:
        return args.base_url.rstrip("/") + href
    return None


def read_bundle(source: str) -> dict[str, Any]:
    """The bundle from a file or an http(s) address."""
    try:
        if source.startswith(("http://", "https://")):
            with urllib.request.urlopen(source, timeout=60) as response:  # noqa: S310 (an address the user gives)
                return json.load(response)
        with open(source, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, urllib.error.URLError, ValueError) as error:
        raise Unreadable(f"bundle {source}: {error}") from error


def check_platform(report: Report, api: Api, args: argparse.Namespace, saved: dict[int, str]) -> None:
    blocks = check_chain(report, api, args.upto, leaves=not args.no_leaves)
    for height, value in saved.items():
        report.check(height in blocks and blocks[height]["hash"] == value, f"saved head {height} is in the ledger")
    for code in args.receipt:
        check_receipt(report, code, api.get(f"/receipts/{code}"))
    if args.first is not None and args.second is not None:
        check_consistency(report, api, args.first, args.second, saved)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("base_url", nargs="?", help="the platform's address, e.g. https://example.org")
    parser.add_argument("--receipt", action="append", default=[], help="a receipt code to check (repeatable)")
    parser.add_argument("--from", dest="first", type=int, help="an earlier head's height")
    parser.add_argument("--to", dest="second", type=int, help="a later head's height")
    parser.add_argument("--head", action="append", default=[], metavar="HEIGHT:HASH",
                        help="a head saved earlier, which must still be in the ledger (repeatable)")
    parser.add_argument("--upto", type=int, help="check the chain only up to this height")
    parser.add_argument("--bundle", metavar="FILE_OR_URL", help="a results bundle to recompute (LEDGER.md §10)")
    parser.add_argument("--events", metavar="FILE_OR_URL",
                        help="the bundle's events (JSON lines; default: from the platform, where the bundle says)")
    parser.add_argument("--no-leaves", action="store_true",
                        help="do not recompute each block's root from its leaves (for very large ledgers)")
    args = parser.parse_args(argv)
    if args.base_url is None and args.bundle is None:
        parser.error("give the platform's address, a --bundle, or both")
    report = Report()
    saved = {int(h): v for h, v in (item.split(":", 1) for item in args.head)}
    try:
        if args.bundle is not None:
            bundle = read_bundle(args.bundle)
            check_bundle(report, bundle)
            source = events_source(args, bundle) if bundle.get("bundle_format", 1) >= 2 else None
            if source is not None:
                check_events(report, bundle, read_lines(source), Api(args.base_url) if args.base_url else None)
            else:
                print("note  the bundle's counts are not re-derived from events (give --events FILE or the "
                      "platform's address)")
            head = bundle.get("ledger_head") or {}
            if args.base_url is None and head.get("height"):
                print(f"note  results counted up to block {head['height']} {head.get('hash')}: give the platform's "
                      "address to find it in the ledger")
            elif head.get("height"):
                saved[int(head["height"])] = head["hash"]
        if args.base_url is not None:
            check_platform(report, Api(args.base_url), args, saved)
    except Unreadable as error:
        print(f"error {error}")
        return 2
    print(f"{'OK' if not report.failures else 'FAILED'}: {report.failures} failed checks")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
