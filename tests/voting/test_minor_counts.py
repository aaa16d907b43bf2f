"""A selection contest can keep minors' vote counts off every public page (rule
hide_minor_vote_counts): the entry page's vote box, the gallery, the leaderboard, the
vote's JSON answer and the API."""

from __future__ import annotations

from datetime import date

import pytest

from contest.accounts.actors import SYSTEM
from contest.contests import service as contests
from contest.extensions import db
from contest.voting import service as voting


@pytest.fixture
def nominees(make_contest, make_entry, make_user, clock):  # type: ignore[no-untyped-def]
    contest = make_contest(kind="selection", stage="voting", categories=())
    minor = make_entry(contest, title="未成年选手", nominee="小张")
    adult = make_entry(contest, title="成年选手", nominee="老李")
    minor.nominee.birth_date = date(2007, 1, 1)   # 16 in May 2023
    adult.nominee.birth_date = date(2001, 1, 1)   # 22
    db.session.commit()
    for entry, votes in ((minor, 7), (adult, 3)):
        for _ in range(votes):
            voting.record_vote(db.session, voter=make_user(), entry_id=entry.id, now=clock.now())
    db.session.commit()
    return contest, minor, adult


def test_minor_counts_are_hidden_everywhere_while_the_rule_is_on(client, nominees) -> None:  # type: ignore[no-untyped-def]
    contest, minor, adult = nominees
    minor_page = client.get(f"/c/{contest.slug}/entries/{minor.id}").get_data(as_text=True)
    adult_page = client.get(f"/c/{contest.slug}/entries/{adult.id}").get_data(as_text=True)
    assert "3</strong>" in adult_page
    assert "7</strong>" not in minor_page
    board = client.get(f"/c/{contest.slug}/leaderboard").get_data(as_text=True)
    # The minor is on no board (a place above the adult's 3 would bound the count); the
    # adult ranks first among the public counts, and the page says why one is missing.
    assert "<strong>7</strong>" not in board and "<strong>3</strong>" in board and "未成年选手" not in board
    assert "未满 18 周岁选手的票数和名次不公开" in board
    api = client.get(f"/api/v1/contests/{contest.slug}/leaderboard").get_json()
    assert [(row["rank"], row["entry_id"], row["votes"]) for row in api["items"]] == [(1, adult.id, 3)]
    assert api["private_left_out"] is True


def test_minor_counts_show_when_the_rule_is_off(client, nominees, clock) -> None:  # type: ignore[no-untyped-def]
    contest, minor, _adult = nominees
    contests.set_rules(db.session, actor=SYSTEM, contest=contest, values={"hide_minor_vote_counts": False}, now=clock.now())
    db.session.commit()
    board = client.get(f"/c/{contest.slug}/leaderboard").get_data(as_text=True)
    assert "<strong>7</strong>" in board and "未满 18 周岁选手的票数和名次不公开" not in board
