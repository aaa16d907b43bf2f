"""Minors' vote counts cannot be worked out from anything published.

A season is built where the earlier presentation gave each hidden count away: one minor
holds the top count (a visible count and its vote score = votes ÷ top × 100 fixed the top),
one sits between two adults whose counts differ by 2 (ranks by votes among all entries
placed it there), one ties an adult (a shared rank), and the per-day chart and the
transparency totals summed every entry. An attacker then reads every public page and the
API — results and their daily chart, entry pages, web and API leaderboards, the gallery,
the transparency page — and tries each derivation: the ratio, the rank sandwich (with
ranks read from vote scores too), totals less visible counts, per-day sums. The test fails
if any of them pins a hidden count. (There are no public exports: exports are for
organisers only, and tests/results/test_admin_results.py keeps them there.)
"""

from __future__ import annotations

import re
from datetime import date
from fractions import Fraction
from typing import Any

import pytest
from flask.testing import FlaskClient

from contest.accounts.actors import SYSTEM
from contest.contests import service as contests
from contest.extensions import db
from contest.results import service as results
from contest.voting import ledger
from contest.voting import service as voting
from tests.results.test_public_views import cell, finalise_round, html_of

# title: (birth date, valid votes, expert score)
ADULTS = {"焊花里的青春": (date(2001, 4, 2), 10, 80), "数控追梦人": (date(2003, 1, 1), 8, 85),
          "汽修小能手": (date(2002, 5, 5), 6, 75)}
MINORS = {"护理之星": (date(2009, 1, 9), 12, 70),  # the top count
          "电商新秀": (date(2009, 3, 3), 9, 72),  # between 10 and 8
          "烹饪少年": (date(2010, 7, 7), 6, 78)}  # ties 6


def build(make_contest: Any, make_entry: Any, make_school: Any, make_user: Any, clock: Any, scoring: str,
          *, hide: bool = True) -> Any:
    contest = make_contest(kind="selection", stage="voting", categories=())
    contests.set_rules(db.session, actor=SYSTEM, contest=contest, values={"hide_minor_vote_counts": hide}, now=clock.now())
    formula, _fingerprint = results.formula_of(db.session, contest)
    results.set_formula(db.session, actor=SYSTEM, contest=contest, formula={**formula, "vote_scoring": scoring},
                        now=clock.now(), reason="按票数名次折算投票分", override=True)
    school = make_school("济南旅游学校")
    entries = {}
    for title, (born, _votes, _score) in {**ADULTS, **MINORS}.items():
        entry = make_entry(contest, title=title, school=school, nominee=f"{title}选手")
        entry.nominee.birth_date = born
        entries[title] = entry
    db.session.commit()
    start = clock.now()
    for title, (_born, votes, _score) in {**ADULTS, **MINORS}.items():
        clock.set(start)
        for n in range(votes):  # over two days, so the chart has two bars
            if n == votes // 2:
                clock.advance(hours=24)
            voting.record_vote(db.session, voter=make_user(), entry_id=entries[title].id, now=clock.now())
    db.session.commit()
    clock.set(contest.voting_ends_at)
    clock.advance(hours=1)
    ledger.seal_pending(db.session, now=clock.now())
    organisers = (make_user("organiser"), make_user("organiser"))
    finalise_round(contest, organisers[0], make_user("judge"),
                   {entries[t]: s for t, (_b, _v, s) in {**ADULTS, **MINORS}.items()}, clock.now())
    publication = results.request_publication(db.session, actor=organisers[0], contest=contest, now=clock.now())
    results.confirm_publication(db.session, actor=organisers[1], publication=publication, now=clock.now())
    db.session.commit()
    return contest, entries


def near(value: Fraction) -> set[int]:
    """The whole number a derived value stands for (scores are shown to two decimals), if any."""
    whole = round(value)
    return {int(whole)} if abs(value - whole) < Fraction(1, 20) else set()


def number(text: str) -> Fraction | None:
    return Fraction(text) if re.fullmatch(r"\d+(\.\d+)?", text) else None


def published_rows(client: FlaskClient, slug: str) -> dict[str, dict[str, str]]:
    html = html_of(client, f"/c/{slug}/results")
    ranking = html[html.index('id="ranking-title"'):]
    rows = {}
    for title in {**ADULTS, **MINORS}:
        row = re.search(r"<tr[^>]*>(?:(?!</tr>).)*?>" + re.escape(title) + r"</a>.*?</tr>", ranking, re.S)
        assert row, title
        rows[title] = {label: cell(row.group(0), label) for label in ("名次", "有效票数", "投票分", "专家评审", "总分")}
    return rows


def pinned_by_sandwich(visible: dict[str, int], ranks: dict[str, Fraction]) -> set[int]:
    """Counts pinned by ranks among all entries: an adult ranked r has r − 1 entries above it;
    the hidden ones between two adults whose counts leave exactly that many integers between
    them (or a hidden one sharing an adult's rank) are known exactly."""
    pinned: set[int] = set()
    ordered = sorted(visible, key=lambda t: -visible[t])
    for higher, lower in zip(ordered, ordered[1:], strict=False):
        r_hi, r_lo = ranks.get(higher), ranks.get(lower)
        if r_hi is None or r_lo is None or r_hi.denominator != 1 or r_lo.denominator != 1:
            continue
        hidden_between = int(r_lo - r_hi) - 1  # entries strictly between (ties share a rank)
        gap = visible[higher] - visible[lower] - 1
        if hidden_between > 0 and gap == hidden_between:
            pinned |= set(range(visible[lower] + 1, visible[higher]))
        if hidden_between > 0 and gap == 0:  # same count, ranks apart: hidden ones tie them
            pinned.add(visible[lower])
    return pinned


@pytest.mark.parametrize("scoring", ["max", "rank"])
def test_no_published_figure_gives_a_minors_count_away(client: FlaskClient, make_contest: Any, make_entry: Any,
                                                        make_school: Any, make_user: Any, clock: Any, scoring: str) -> None:
    contest, entries = build(make_contest, make_entry, make_school, make_user, clock, scoring)
    hidden = {votes for _b, votes, _s in MINORS.values()}
    found: dict[str, set[int]] = {}
    rows = published_rows(client, contest.slug)
    visible = {t: int(r["有效票数"]) for t, r in rows.items() if r["有效票数"].isdigit()}
    assert set(visible) == set(ADULTS)  # the minors' counts themselves are not shown

    # 1. The ratio: each visible (count, vote score) fixes the scale; a minor's vote score,
    #    shown or recovered from total − expert share, then gives its count.
    scales = {Fraction(100 * visible[t]) / s for t in visible if (s := number(rows[t]["投票分"]))}
    derived_scores = []
    for t in MINORS:
        score, expert, total = (number(rows[t][k]) for k in ("投票分", "专家评审", "总分"))
        if score is None and expert is not None and total is not None:
            score = (total - Fraction(70, 100) * expert) / Fraction(30, 100)
        if score is not None:
            derived_scores.append(score)
    found["ratio"] = {n for s in derived_scores for scale in scales for n in near(s * scale / 100)}
    found["scale"] = {n for scale in scales for n in near(scale)}

    # 2. Ranks by votes, read from the vote scores (rank scoring: s = 100 (n − r) / (n − 1)
    #    with n every entry) and from the leaderboards, with their ties.
    n = len(entries)
    if scoring == "rank":
        score_ranks = {t: Fraction(min(near(n - number(rows[t]["投票分"]) * (n - 1) / 100) or {0}))  # type: ignore[operator]
                       for t in visible}
        found["rank from vote score"] = pinned_by_sandwich(visible, score_ranks)
    board = html_of(client, f"/c/{contest.slug}/leaderboard")
    api = client.get(f"/api/v1/contests/{contest.slug}/leaderboard").get_json()
    for title in MINORS:
        assert title not in board and entries[title].id not in {r["entry_id"] for r in api["items"]}
    board_ranks = {r["title"]: Fraction(r["rank"]) for r in api["items"]}
    found["board ranks"] = pinned_by_sandwich(visible, board_ranks)

    # 3. Totals and the daily chart less the visible counts.
    page = html_of(client, f"/c/{contest.slug}/results")
    days = [int(n) for n in re.findall(r'<tr><th scope="row">[^<]*日</th><td>(\d+)</td></tr>', page)]
    assert len(days) == 2
    # Any difference is the hidden counts' sum (with one minor, its count): there must be none.
    assert sum(days) == sum(visible.values()), "the daily chart sums votes whose counts are private"
    report = html_of(client, f"/c/{contest.slug}/transparency")
    total = re.search(r"<dt>有效票</dt><dd>(\d+)</dd>", report)
    assert total is not None
    assert int(total.group(1)) == sum(visible.values()), "the transparency total includes private counts"

    # 4. Entry pages and the gallery show no minor's count; the gallery cannot sort by votes.
    for title in MINORS:
        entry_page = html_of(client, f"/c/{contest.slug}/entries/{entries[title].id}")
        assert f'data-vote-count="{entries[title].id}"' not in entry_page
        assert "<dt>有效票数</dt><dd>不公开</dd>" in entry_page
    assert client.get(f"/c/{contest.slug}/entries?sort=votes").status_code == 400
    assert client.get(f"/api/v1/contests/{contest.slug}/entries?sort=votes").status_code == 400

    leaks = {how: sorted(values & hidden) for how, values in found.items() if values & hidden}
    assert not leaks, f"hidden counts recovered: {leaks}"
    # The attacks are real: on these numbers each recovers a count when the minors are public.
    assert pinned_by_sandwich({**visible, "电商新秀": 9}, {**board_ranks, "电商新秀": Fraction(2)}) == set()
    assert pinned_by_sandwich(visible, {"焊花里的青春": Fraction(1), "数控追梦人": Fraction(3)}) == {9}


def test_with_the_rule_off_the_same_attacks_do_recover_counts(client: FlaskClient, make_contest: Any, make_entry: Any,
                                                                make_school: Any, make_user: Any, clock: Any) -> None:
    """The counter-test: with every count public the derivations above find what is there
    (so the test above would catch a figure that leaks)."""
    contest, _entries = build(make_contest, make_entry, make_school, make_user, clock, "max", hide=False)
    rows = published_rows(client, contest.slug)
    visible = {t: int(r["有效票数"]) for t, r in rows.items() if r["有效票数"].isdigit()}
    assert visible["护理之星"] == 12
    # The scale read from an adult's ratio is the minor's top count: the attack works on leaky data.
    adult = "焊花里的青春"
    assert near(Fraction(100 * visible[adult]) / Fraction(rows[adult]["投票分"])) == {12}
