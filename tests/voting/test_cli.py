"""flask votes recount | verify | seal, flask contests rules."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from contest.accounts.models import AuditEvent
from contest.contests import service as contests
from contest.contests.models import Contest
from contest.extensions import db
from contest.voting import ledger, live
from contest.voting import service as voting
from tests.conftest import redis_client
from tests.site.isolation import committed


@pytest.fixture
def ballot(make_contest, make_entry):
    contest = make_contest(kind="media", stage="voting", slug="meipai")
    return contest, [make_entry(contest, category_id=contest.categories[0].id) for _ in range(3)]


@pytest.fixture
def voted(app, ballot, make_user, clock):
    """Three voters, three votes each, sealed into one block."""
    contest, entries = ballot
    for voter in [make_user() for _ in range(3)]:
        for entry in entries:
            voting.record_vote(db.session, voter=voter, entry_id=entry.id, now=clock.now())
            db.session.commit()
    clock.advance(seconds=5)
    ledger.seal_pending(db.session, now=clock.now())
    db.session.commit()
    return contest, entries


# --- votes verify --------------------------------------------------------------------------

def test_verify_passes_on_an_untouched_ledger(runner, voted):
    result = runner.invoke(args=["votes", "verify"])
    assert result.exit_code == 0, result.output
    assert "events checked" in result.output
    assert "OK: 1 blocks, 9 events; head #1 " in result.output


def test_verify_names_a_changed_vote_row(runner, voted):
    _contest, entries = voted
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE vote SET entry_id = :e WHERE id = 4"), {"e": entries[2].id})
    result = runner.invoke(args=["votes", "verify"])
    assert result.exit_code == 1
    assert "BROKEN" in result.output and "vote 4" in result.output and "digest does not match" in result.output


def test_verify_names_a_changed_block(runner, voted):
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE ledger_block SET event_count = 8 WHERE id = 1"))
    result = runner.invoke(args=["votes", "verify"])
    assert result.exit_code == 1 and "block 1" in result.output


# --- votes seal ----------------------------------------------------------------------------

def test_seal_once_then_nothing_left(runner, ballot, make_user, clock):
    _contest, entries = ballot
    voting.record_vote(db.session, voter=make_user(), entry_id=entries[0].id, now=clock.now())
    db.session.commit()
    clock.advance(seconds=5)
    result = runner.invoke(args=["votes", "seal"])
    assert result.exit_code == 0 and "sealed block #1: 1 events" in result.output
    assert runner.invoke(args=["votes", "seal"]).output.strip() == "nothing to seal"


def test_seal_keeps_no_daemon_option(runner):
    # Sealing every 2 s is the job runner's (flask jobs worker); the command seals once.
    result = runner.invoke(args=["votes", "seal", "--every", "0.1"])
    assert result.exit_code == 2 and "No such option" in result.output


# --- votes recount -------------------------------------------------------------------------

def test_recount_rebuilds_the_boards_after_a_flush(app, runner, voted):
    contest, entries = voted
    redis = redis_client(app)
    result = runner.invoke(args=["votes", "recount", contest.slug])
    assert result.exit_code == 0, result.output
    assert f"contest {contest.id}: 9 valid votes" in result.output
    if redis is None:
        assert "未配置 Redis" in result.output
        return
    redis.flushdb()
    assert not redis.exists(f"lb:{{{contest.id}}}:all")
    result = runner.invoke(args=["votes", "recount"])
    assert result.exit_code == 0 and "boards rebuilt" in result.output
    assert redis.exists(f"lb:{{{contest.id}}}:ready")
    assert {int(k): int(v) for k, v in redis.zrange(f"lb:{{{contest.id}}}:all", 0, -1, withscores=True)} == {
        e.id: 3 for e in entries}
    assert live.leaderboard(db.session, redis, contest, limit=1) == [(entries[0].id, 3)]


def test_recount_of_an_unknown_contest(runner):
    result = runner.invoke(args=["votes", "recount", "no-such-contest"])
    assert result.exit_code == 1 and "没有找到这项活动" in result.output


# --- contests rules ------------------------------------------------------------------------

def rules_of(slug):
    db.session.expire_all()
    return contests.rules_of(db.session.scalar(select(Contest).where(Contest.slug == slug)))


def test_rules_are_set_validated_and_audited(runner, ballot):
    result = runner.invoke(args=["contests", "rules", "meipai", "--set", "votes_per_day=3", "--set", "captcha_mode=always",
                                 "--set", "counts_public=否"])
    assert result.exit_code == 0, result.output
    assert "votes_per_day: 5 → 3" in result.output
    assert "captcha_mode: 'risk' → 'always'" in result.output
    assert "counts_public: True → False" in result.output
    rules = rules_of("meipai")
    assert (rules.votes_per_day, rules.captcha_mode, rules.counts_public) == (3, "always", False)
    audit = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "contest.rules"))
    assert audit.actor_id is None
    assert audit.before == {"votes_per_day": 5, "captcha_mode": "risk", "counts_public": True}
    assert audit.after == {"votes_per_day": 3, "captcha_mode": "always", "counts_public": False}
    # the same values again: nothing changes, nothing audited
    again = runner.invoke(args=["contests", "rules", "meipai", "--set", "votes_per_day=3"])
    assert again.exit_code == 0 and "没有变化" in again.output
    assert committed(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "contest.rules")) == 1


def test_rules_listed_without_set(runner, ballot):
    result = runner.invoke(args=["contests", "rules", "meipai"])
    assert result.exit_code == 0 and "votes_per_day = 5" in result.output


@pytest.mark.parametrize(("assignment", "message"), [
    ("no_such_rule=1", "未知规则：no_such_rule"),
    ("votes_per_day=many", "规则“每人每天可投票数”应为整数。"),
    ("votes_per_day=1000", "规则“每人每天可投票数”应在 0 到 100 之间。"),
    ("captcha_mode=sometimes", "规则“验证码模式”只能是：always、risk、never"),
    ("verified_only=maybe", "规则“仅限手机验证用户投票”应为是或否。"),
    ("school_quota_small=3", "规则“school_quota_small”不适用于全民美拍。"),
    ("votes_per_day", "格式应为 key=value：votes_per_day"),
])
def test_bad_rules_are_refused_and_nothing_changes(runner, ballot, assignment, message):
    result = runner.invoke(args=["contests", "rules", "meipai", "--set", "votes_per_day=2", "--set", assignment])
    assert result.exit_code == 1
    assert message in result.output
    assert rules_of("meipai").votes_per_day == 5
    assert committed(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "contest.rules")) == 0


def test_rules_of_an_unknown_contest(runner):
    result = runner.invoke(args=["contests", "rules", "nope", "--set", "votes_per_day=2"])
    assert result.exit_code == 1 and "没有找到这项活动" in result.output
