"""Only approved entries are on a leaderboard: one withdrawn or rejected leaves the web
and API boards (and the Redis boards behind them) at once, votes and all; approved
again, it is back."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask.testing import FlaskClient

from contest.accounts.models import User
from contest.contests.models import Contest, Entry
from contest.extensions import db
from contest.media import withdrawals
from contest.voting import live
from contest.voting import service as voting
from tests.conftest import csrf_token, login, redis_client

VOTES = {"甲": 3, "乙": 2, "丙": 1}


@pytest.fixture
def board_world(app, make_contest, make_entry, make_user, clock) -> tuple[Contest, dict[str, Entry], User]:  # type: ignore[no-untyped-def]
    contest = make_contest(kind="media", stage="voting")
    photo = contest.categories[0]
    entrant = make_user("citizen", name="投稿人")
    entries = {}
    for title, n in VOTES.items():
        entry = make_entry(contest, title=f"作品{title}", category_id=photo.id)
        entry.submitted_by_id = entrant.id
        db.session.commit()
        for _ in range(n):
            result = voting.record_vote(db.session, voter=make_user(), entry_id=entry.id, now=clock.now())
            db.session.commit()
            live.after_vote_committed(redis_client(app), result)
        entries[title] = entry
    return contest, entries, entrant


def web_board(client: FlaskClient, contest: Contest, category: int | None = None) -> dict[str, int]:
    url = f"/c/{contest.slug}/leaderboard" + (f"?category={category}" if category else "")
    html = client.get(url).get_data(as_text=True)
    found = re.findall(r'/entries/\d+">(作品.)</a>.*?<strong>(\d+)</strong>', html, re.S)
    return {title: int(n) for title, n in found}


def api_board(client: FlaskClient, contest: Contest, category: int | None = None) -> dict[str, int]:
    url = f"/api/v1/contests/{contest.slug}/leaderboard" + (f"?category={category}" if category else "")
    body: dict[str, Any] = client.get(url).get_json()
    assert [item["rank"] for item in body["items"]] == list(range(1, len(body["items"]) + 1))
    return {item["title"]: item["votes"] for item in body["items"]}


def redis_totals(app, contest: Contest) -> dict[int, int] | None:  # type: ignore[no-untyped-def]
    redis = redis_client(app)
    if redis is None:
        return None
    return {int(m): int(s) for m, s in redis.zrange(f"lb:{{{contest.id}}}:all", 0, -1, withscores=True)}


def every_board(client: FlaskClient, contest: Contest) -> list[dict[str, int]]:
    category = contest.categories[0].id
    return [web_board(client, contest), web_board(client, contest, category),
            api_board(client, contest), api_board(client, contest, category)]


def test_withdrawn_rejected_and_approved_again(app, client, board_world, make_user, clock):  # type: ignore[no-untyped-def]
    contest, entries, entrant = board_world
    everyone = {f"作品{t}": n for t, n in VOTES.items()}
    assert every_board(client, contest) == [everyone] * 4  # the Redis boards are built now
    if (built := redis_totals(app, contest)) is not None:
        assert built == {entries[t].id: n for t, n in VOTES.items()}

    # Withdrawn at its entrant's request, approved by an organiser: gone from every board,
    # its votes from every total.
    asked = withdrawals.request_withdrawal(db.session, actor=entrant, entry_id=entries["甲"].id, reason="作者不再参赛",
                                           now=clock.now())
    withdrawals.decide_withdrawal(db.session, app.extensions["sms_sender"], actor=make_user("organiser"),
                                  request_id=asked.id, approve=True, reason="同意撤回", now=clock.now())
    db.session.commit()
    without = {"作品乙": 2, "作品丙": 1}
    assert every_board(client, contest) == [without] * 4
    assert every_board(client, contest) == [without] * 4  # and after the rebuild the first read started
    if (rebuilt := redis_totals(app, contest)) is not None:
        assert rebuilt == {entries["乙"].id: 2, entries["丙"].id: 1}

    # Rejected (however it came to be): likewise.
    entries["乙"].status = "rejected"
    db.session.commit()
    assert every_board(client, contest) == [{"作品丙": 1}] * 4
    if (rebuilt := redis_totals(app, contest)) is not None:
        assert sum(rebuilt.values()) == 1

    # Resubmitted and approved by a moderator: back, with its votes.
    entries["乙"].status = "submitted"
    db.session.commit()
    login(client, make_user("organiser"))
    token = csrf_token(client, "/admin/moderation/")
    response = client.post("/admin/moderation/decide", data={"csrf_token": token, "entry_ids": [str(entries["乙"].id)],
                                                            "decision": "approve", "reason": ""})
    assert response.status_code == 302
    assert every_board(client, contest) == [{"作品乙": 2, "作品丙": 1}] * 4
    if (rebuilt := redis_totals(app, contest)) is not None:
        assert rebuilt == {entries["乙"].id: 2, entries["丙"].id: 1}


def test_the_database_board_counts_approved_entries_only(app, board_world):  # type: ignore[no-untyped-def]
    contest, entries, _entrant = board_world
    entries["甲"].status = "withdrawn"
    db.session.commit()
    assert live.leaderboard(db.session, None, contest) == [(entries["乙"].id, 2), (entries["丙"].id, 1)]
    assert live.leaderboard(db.session, None, contest, category_id=contest.categories[0].id) == [
        (entries["乙"].id, 2), (entries["丙"].id, 1)]
    assert set(live.snapshot(db.session, contest.id).boards["all"]) == {entries["乙"].id, entries["丙"].id}
