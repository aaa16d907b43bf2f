"""Redis down: votes are still checked, accepted and counted from the database, rate
limits still hold (in-process fallback), and the boards heal once Redis is back."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis as redis_lib
from flask import Flask
from sqlalchemy import func, select

from contest import create_app
from contest.accounts import service as accounts
from contest.accounts import units
from contest.accounts.actors import SYSTEM
from contest.clock import FixedClock
from contest.contests import service as contests
from contest.contests.models import Entry
from contest.extensions import db, limiter
from contest.redis_client import connect
from contest.voting import live
from contest.voting.models import Vote
from tests.conftest import (
    CSRF_RE,
    PASSWORD,
    START,
    TEST_REDIS_URL,
    IsolatedClient,
    _empty_tables,
    _settings,
    login,
    windows_around,
)
from tests.site.isolation import committed

CLOSED_PORT = "redis://127.0.0.1:1/0"


@pytest.fixture
def down_app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """The app with its Redis (cache, limiter storage, captcha, live boards) unreachable."""
    clock = FixedClock(START)
    settings = dataclasses.replace(_settings(database_url, tmp_path, clock), redis_url=CLOSED_PORT)
    app = create_app(settings)
    app.test_client_class = IsolatedClient
    with app.app_context():
        yield app
        db.session.remove()
        _empty_tables()
        # the limiter is one object for every app: leave it healthy for the next test
        limiter._storage_dead = False  # noqa: SLF001


@pytest.fixture
def ballot(down_app: Flask):
    clock = down_app.extensions["clock"]
    now = clock.now()
    contest = contests.create_contest(db.session, actor=SYSTEM, now=now, changes=contests.ContestChanges(
        unit_id=units.ensure_unit(db.session, name="济南市教育局", now=now).id,
        slug="down-vote", kind="media", title="Redis 停机时的投票", windows=windows_around(now, "voting")))
    category = contests.add_category(db.session, actor=SYSTEM, contest=contest, kind="category", name="摄影", now=now)
    entries = [Entry(contest_id=contest.id, title=f"作品{i}", status="approved", category_id=category.id,
                     created_at=now, updated_at=now, submitted_at=now, published_at=now) for i in range(3)]
    db.session.add_all(entries)
    voters = [accounts.create_user(db.session, phone=f"1360000{i:04d}", password=PASSWORD, roles=["citizen"], now=now)
              for i in range(3)]
    db.session.commit()
    clock.advance(hours=3)  # accounts a few hours old: anti-fraud sees nothing unusual
    return contest, entries, voters


def vote(client, clock, contest, entry):
    html = client.get(f"/c/{contest.slug}/entries/{entry.id}").get_data(as_text=True)
    token = CSRF_RE.search(html).group(1)
    view = re.search(r'name="vt" value="([^"]*)"', html).group(1)
    clock.advance(seconds=10)
    return client.post(f"/c/{contest.slug}/entries/{entry.id}/vote", data={"csrf_token": token, "vt": view})


def test_voting_goes_on_and_heals_when_redis_is_back(down_app, ballot):
    contest, entries, voters = ballot
    clock = down_app.extensions["clock"]
    assert isinstance(down_app.extensions["redis"], redis_lib.Redis)
    clients = [down_app.test_client() for _ in voters]
    for client, voter in zip(clients, voters, strict=True):
        login(client, voter)
    for client in clients:
        assert vote(client, clock, contest, entries[0]).status_code == 302
    assert vote(clients[0], clock, contest, entries[1]).status_code == 302
    # quotas are still checked (in the database)
    again = vote(clients[0], clock, contest, entries[0])
    assert again.status_code == 409 and "今天已经为这件作品投过票了" in again.get_data(as_text=True)
    assert committed(select(func.count()).select_from(Vote)) == 4

    # counted from the database on every page
    page = clients[1].get(f"/c/{contest.slug}/entries/{entries[0].id}").get_data(as_text=True)
    assert f'data-vote-count="{entries[0].id}">3<' in page
    board = clients[1].get(f"/c/{contest.slug}/leaderboard").get_data(as_text=True)
    assert re.findall(r"<strong>(\d+)</strong>", board) == ["3", "1"]
    assert live.leaderboard(db.session, down_app.extensions["redis"], contest) == [(entries[0].id, 3), (entries[1].id, 1)]

    if not TEST_REDIS_URL:
        return
    # Redis comes back (already holding a board that missed the votes above)
    real = connect(TEST_REDIS_URL)
    # the same process once the pause after the failures is over: it still knows which
    # boards missed an update while Redis was down
    for contest_id in down_app.extensions["redis"].health.take_dirty():
        real.health.mark_dirty(contest_id)
    prefix = f"lb:{{{contest.id}}}:"
    real.zadd(prefix + "all", {str(entries[2].id): 7})
    real.sadd(prefix + "boards", prefix + "all")
    real.set(prefix + "ready", "1", ex=600)
    down_app.extensions["redis"] = real
    try:
        assert live.leaderboard(db.session, real, contest) == [(entries[0].id, 3), (entries[1].id, 1)]
        assert {int(k): int(v) for k, v in real.zrange(prefix + "all", 0, -1, withscores=True)} == {
            entries[0].id: 3, entries[1].id: 1}
        # and follows new votes from now on
        assert vote(clients[1], clock, contest, entries[2]).status_code == 302
        assert real.zscore(prefix + "all", str(entries[2].id)) == 1
    finally:
        real.flushdb()


def test_rate_limits_still_hold_without_redis(down_app, ballot):
    contest, entries, voters = ballot
    client = down_app.test_client()
    login(client, voters[0])
    html = client.get(f"/c/{contest.slug}/entries/{entries[0].id}").get_data(as_text=True)
    token = CSRF_RE.search(html).group(1)
    url = f"/c/{contest.slug}/entries/{entries[0].id}/vote"
    statuses = [client.post(url, data={"csrf_token": token}).status_code for _ in range(21)]
    assert statuses[0] == 302 and statuses[-1] == 429 and statuses.count(429) == 1
    response = client.post(url, data={"csrf_token": token})
    assert response.status_code == 429 and int(response.headers["Retry-After"]) > 0
    assert "投票太频繁" in response.get_data(as_text=True)
    assert committed(select(func.count()).select_from(Vote)) == 1
