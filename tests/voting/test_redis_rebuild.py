"""flask redis rebuild: everything Redis holds for votes comes back from the database."""

from __future__ import annotations

from datetime import timedelta

import pytest

from contest.antifraud import service as antifraud
from contest.antifraud import signals as sig
from contest.extensions import db
from contest.voting import live
from contest.voting import service as voting
from tests.conftest import TEST_REDIS_URL, redis_client


@pytest.fixture
def ballot(make_contest, make_entry):
    contest = make_contest(kind="media", stage="voting", slug="rebuild")
    return contest, [make_entry(contest) for _ in range(2)]


def _vote(redis, voter, entry, clock, ip):
    """A vote through the production use case, committed, so its after-commit work runs."""
    ballot = voting.Ballot(voter=voter, entry_id=entry.id, ip=ip, device_id="", user_agent="Mozilla/5.0 (iPhone)",
                           stamp=voting.ViewStamp(entry.contest_id, entry.id, clock.now() - timedelta(seconds=30)))
    result = voting.cast_vote(db.session, redis, ballot, clock.now())
    db.session.commit()
    return result


def _signals(entry, voter, clock, ip):
    return antifraud.VoteSignals(voter_id=voter.id, account_created_at=voter.created_at, contest_id=entry.contest_id,
                                 entry_id=entry.id, ip=ip, viewed_at=clock.now() - timedelta(seconds=30))


@pytest.mark.skipif(not TEST_REDIS_URL, reason="needs TEST_REDIS_URL")
def test_boards_and_windows_come_back_after_a_flush(app, runner, ballot, make_user, clock):
    contest, entries = ballot
    redis = redis_client(app)
    voters = [make_user() for _ in range(3)]
    for voter in voters:
        _vote(redis, voter, entries[0], clock, "203.0.113.7")
    _vote(redis, voters[0], entries[1], clock, "203.0.113.7")
    probe = _signals(entries[1], voters[1], clock, "203.0.113.7")
    assert sig.read_redis(redis, probe, clock.now()).ip_short == 4
    assert live.leaderboard(db.session, redis, contest) == [(entries[0].id, 3), (entries[1].id, 1)]

    redis.flushdb()
    assert sig.read_redis(redis, probe, clock.now()).ip_short == 0  # the windows forgot

    result = runner.invoke(args=["redis", "rebuild"])
    assert result.exit_code == 0, result.output
    assert "1 项活动" in result.output and "共 4 张有效票" in result.output and "最近一天的 4 次投票" in result.output
    prefix = f"lb:{{{contest.id}}}:"
    assert redis.exists(prefix + "ready")
    assert {int(k): int(v) for k, v in redis.zrange(prefix + "all", 0, -1, withscores=True)} == {
        entries[0].id: 3, entries[1].id: 1}
    assert sig.read_redis(redis, probe, clock.now()).ip_short == 4

    again = runner.invoke(args=["redis", "rebuild"])  # idempotent
    assert again.exit_code == 0
    assert sig.read_redis(redis, probe, clock.now()).ip_short == 4


def test_without_redis_there_is_nothing_to_rebuild(app, runner):
    if redis_client(app) is not None:
        pytest.skip("the embedded default only")
    result = runner.invoke(args=["redis", "rebuild"])
    assert result.exit_code == 1 and "未配置 Redis" in result.output
