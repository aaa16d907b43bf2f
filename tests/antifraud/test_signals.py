"""Risk scores: each named signal, the thresholds, the sliding windows, both stores."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from contest.accounts.models import SmsCode
from contest.antifraud import service as antifraud
from contest.antifraud import signals as sig
from contest.antifraud.models import FraudObservation, RegistrationBurst
from contest.antifraud.service import VoteSignals
from contest.extensions import db
from contest.voting import housekeeping
from contest.voting import service as voting
from tests.api.conftest import PREFIX
from tests.conftest import PASSWORD, login

MOBILE_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 16_4 like Mac OS X) AppleWebKit/605.1.15 "
             "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.37")


@pytest.fixture
def ballot(make_contest, make_entry):
    contest = make_contest(kind="media", stage="voting")
    return contest, make_entry(contest), make_entry(contest)


@pytest.fixture
def voter(make_user):
    return make_user()


@pytest.fixture
def honest(ballot, voter, clock):
    """The signals of an unremarkable request; tests change one fact at a time."""
    _contest, entry, _other = ballot

    def make(**changes):
        now = clock.now()
        values = dict(voter_id=voter.id, account_created_at=now - timedelta(days=30), contest_id=entry.contest_id,
                      entry_id=entry.id, ip="203.0.113.10", device_id="device-honest", user_agent=MOBILE_UA,
                      viewed_at=now - timedelta(seconds=20))
        values.update(changes)
        return VoteSignals(**values)
    return make


def assess(store, signals, clock):
    return antifraud.assess_vote(db.session, store, signals, clock.now())


def record(store, signals, at):
    """A vote's observation as a vote stores it: its row with the vote (voting.writer
    inserts these values), then, after the commit, its windows on the vote's pipeline."""
    observation = FraudObservation(**antifraud.observation_of(signals, at))
    db.session.add(observation)
    db.session.commit()
    if store is not None:
        pipe = store.pipeline(transaction=False)
        antifraud.queue_windows(pipe, signals, at, observation.id)
        pipe.execute()


def test_an_honest_vote_is_accepted(app, store, honest, clock):
    verdict = assess(store, honest(), clock)
    assert (verdict.action, verdict.score, verdict.reasons) == ("accept", 0, ())
    assert verdict.details["source"] == ("redis" if store else "database")


@pytest.mark.parametrize("score, action", [(0, "accept"), (29, "accept"), (30, "captcha"), (69, "captcha"),
                                           (70, "hold"), (150, "hold")])
def test_thresholds(score, action):
    assert antifraud.decide(score) == action
    assert (antifraud.CAPTCHA_AT, antifraud.HOLD_AT) == (30, 70)


def test_votes_per_ip_in_sliding_windows(app, store, honest, clock, make_user):
    others = [make_user()] * 15  # who voted does not matter to the address windows
    for voter in others[:5]:
        record(store, honest(voter_id=voter.id, device_id=""), clock.now() - timedelta(minutes=3))
    verdict = assess(store, honest(), clock)
    assert verdict.reasons == (sig.IP_VELOCITY,) and verdict.score == 15 and verdict.action == "accept"
    assert verdict.details[sig.IP_VELOCITY] == {"points": 15, "10m": 5, "1h": 5}
    for voter in others[5:]:
        record(store, honest(voter_id=voter.id, device_id=""), clock.now() - timedelta(minutes=1))
    verdict = assess(store, honest(), clock)
    assert verdict.score == 35 and verdict.action == "captcha"
    # another contest's votes do not count here
    assert assess(store, honest(contest_id=honest().contest_id + 1000), clock).reasons == ()
    # ten minutes on, the short window has forgotten them; the hour still counts 15 (< 20)
    clock.advance(minutes=11)
    assert assess(store, honest(), clock).reasons == ()
    clock.advance(hours=2)
    assert assess(store, honest(), clock).reasons == ()


def test_votes_per_ip_over_the_hour(app, store, honest, clock, make_user):
    voter = make_user()
    for minutes in range(20):  # 20 votes spread over the hour, never 5 within ten minutes
        record(store, honest(voter_id=voter.id, device_id=""), clock.now() - timedelta(minutes=58 - 3 * minutes))
    clock.advance(minutes=1)
    verdict = assess(store, honest(), clock)
    assert verdict.details[sig.IP_VELOCITY]["1h"] == 20 and verdict.details[sig.IP_VELOCITY]["points"] == 15


def test_votes_per_subnet(app, store, honest, ballot, clock, make_user):
    voter, other_entry = make_user(), ballot[2]
    for n in range(20):
        record(store, honest(voter_id=voter.id, entry_id=other_entry.id, ip=f"198.51.100.{n + 1}", device_id=""),
               clock.now() - timedelta(minutes=2))
    verdict = assess(store, honest(ip="198.51.100.200"), clock)
    assert verdict.reasons == (sig.SUBNET_VELOCITY,) and verdict.score == 15
    assert assess(store, honest(ip="198.51.101.200"), clock).reasons == ()


def test_ipv6_is_grouped_by_its_slash_64(app, store, honest, ballot, clock, make_user):
    voter, other_entry = make_user(), ballot[2]
    for n in range(20):
        record(store, honest(voter_id=voter.id, entry_id=other_entry.id, ip=f"2001:db8:1:2::{n + 1:x}", device_id=""),
               clock.now())
    assert sig.SUBNET_VELOCITY in assess(store, honest(ip="2001:db8:1:2:ffff::1"), clock).reasons
    assert sig.SUBNET_VELOCITY not in assess(store, honest(ip="2001:db8:1:3::1"), clock).reasons


def test_subnet_of():
    assert antifraud.subnet_of("203.0.113.77") == "203.0.113.0/24"
    assert antifraud.subnet_of("2001:db8:1:2:3:4:5:6") == "2001:db8:1:2::/64"
    assert antifraud.subnet_of("::ffff:203.0.113.77") == "203.0.113.0/24"
    assert antifraud.subnet_of("not an address") == ""


def test_one_device_cookie_on_several_accounts(app, store, honest, clock, make_user):
    others = [make_user() for _ in range(3)]
    record(store, honest(), clock.now() - timedelta(hours=1))  # the voter's own earlier vote does not count
    record(store, honest(voter_id=others[0].id, ip="192.0.2.1"), clock.now() - timedelta(hours=5))
    verdict = assess(store, honest(), clock)
    assert verdict.reasons == (sig.SHARED_DEVICE,) and verdict.score == 20
    for other in others[1:]:
        record(store, honest(voter_id=other.id, ip="192.0.2.1"), clock.now() - timedelta(hours=2))
    verdict = assess(store, honest(), clock)
    assert verdict.details[sig.SHARED_DEVICE] == {"points": 45, "other_accounts_24h": 3}
    assert verdict.action == "captcha"
    clock.advance(hours=23)  # the window is 24 hours
    assert assess(store, honest(), clock).reasons == ()
    assert assess(store, honest(device_id=""), clock).reasons == ()


@pytest.mark.parametrize("age, points", [(timedelta(minutes=30), 25), (timedelta(hours=5), 10), (timedelta(days=2), 0)])
def test_new_accounts(app, store, honest, clock, age, points):
    verdict = assess(store, honest(account_created_at=clock.now() - age), clock)
    assert verdict.score == points
    assert verdict.reasons == ((sig.NEW_ACCOUNT,) if points else ())


@pytest.mark.parametrize("agent, reason, points", [
    ("", sig.EMPTY_USER_AGENT, 30),
    ("   ", sig.EMPTY_USER_AGENT, 30),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36",
     sig.HEADLESS_USER_AGENT, 45),
    ("Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 (KHTML, like Gecko) PhantomJS/2.1.1 Safari/538.1",
     sig.HEADLESS_USER_AGENT, 45),
    ("python-requests/2.31.0", sig.HEADLESS_USER_AGENT, 45),
    ("curl/8.4.0", sig.HEADLESS_USER_AGENT, 45),
    (MOBILE_UA, None, 0),
])
def test_empty_or_headless_user_agents(app, store, honest, clock, agent, reason, points):
    verdict = assess(store, honest(user_agent=agent), clock)
    assert verdict.score == points and verdict.reasons == ((reason,) if reason else ())
    assert verdict.action == ("captcha" if points else "accept")


@pytest.mark.parametrize("seconds, fires", [(0.5, True), (1.9, True), (-30, True), (2.5, False), (None, False)])
def test_time_between_viewing_and_voting(app, store, honest, clock, seconds, fires):
    viewed_at = None if seconds is None else clock.now() - timedelta(seconds=seconds)
    verdict = assess(store, honest(viewed_at=viewed_at), clock)
    assert verdict.reasons == ((sig.TOO_FAST,) if fires else ())
    assert verdict.score == (30 if fires else 0)


def test_burst_on_an_entry_against_its_own_baseline(app, store, honest, ballot, clock, make_user):
    _contest, entry, quiet = ballot
    voter = make_user()
    now = clock.now()
    for n in range(20):  # 20 votes in the last five minutes on an entry that had none
        record(store, honest(voter_id=voter.id, ip=f"192.0.2.{n}", device_id=""), now - timedelta(seconds=10 * n + 5))
    verdict = assess(store, honest(), clock)
    assert verdict.reasons == (sig.ENTRY_BURST,) and verdict.score == 25
    assert verdict.details[sig.ENTRY_BURST]["5m"] == 20
    assert assess(store, honest(entry_id=quiet.id), clock).reasons == ()
    # with a busy last two hours (6 votes every five minutes), 20 in five minutes is no burst
    for slot in range(23):
        for k in range(6):
            record(store, honest(voter_id=voter.id, ip=f"192.0.2.{k}", device_id=""),
                   now - timedelta(minutes=5 * slot + 6, seconds=k))
    assert sig.ENTRY_BURST not in assess(store, honest(), clock).reasons
    # and once it is over, the window forgets it
    clock.advance(minutes=6)
    assert sig.ENTRY_BURST not in assess(store, honest(), clock).reasons


def _register(make_user, clock, ip, minutes_ago=0):
    user = make_user()
    registered = clock.now()
    db.session.add(SmsCode(phone=user.phone, purpose="register", code_hash="x" * 64, requested_ip=ip,
                           created_at=registered - timedelta(minutes=2 + minutes_ago),
                           expires_at=registered + timedelta(minutes=3), used_at=registered))
    db.session.commit()
    return user


def test_accounts_registered_in_bursts(app, store, honest, clock, make_user):
    farm = [_register(make_user, clock, f"10.20.30.{n}") for n in range(6)]
    elsewhere = _register(make_user, clock, "10.20.31.9")
    registered = clock.now()
    clock.advance(days=2)
    verdict = assess(store, honest(voter_id=farm[0].id, account_created_at=registered), clock)
    assert verdict.reasons == (sig.REGISTRATION_BURST,) and verdict.score == 20
    assert verdict.details[sig.REGISTRATION_BURST]["accounts"] == 6
    assert assess(store, honest(voter_id=elsewhere.id, account_created_at=registered), clock).reasons == ()
    # settled long ago: remembered, not counted again
    memo = db.session.get(RegistrationBurst, farm[0].id)
    assert memo is not None and (memo.accounts, memo.subnet) == (6, "10.20.30.0/24")
    # an account made without an SMS code (by an operator) has no registration address
    assert assess(store, honest(), clock).reasons == ()


def test_signals_add_up_to_a_hold(app, store, honest, clock):
    verdict = assess(store, honest(user_agent="HeadlessChrome/120", viewed_at=clock.now()), clock)
    assert verdict.reasons == (sig.HEADLESS_USER_AGENT, sig.TOO_FAST)
    assert (verdict.score, verdict.action) == (75, "hold")


def test_a_held_vote_keeps_its_reasons(app, store, ballot, voter, clock):
    _contest, entry, _other = ballot
    # the voter's account is new, the request has no user agent, the page was seen just now
    seen = voting.ViewStamp(entry.contest_id, entry.id, clock.now())
    result = voting.cast_vote(db.session, store, voting.Ballot(voter=voter, entry_id=entry.id, ip="203.0.113.10",
                                                               device_id="device-honest", stamp=seen), clock.now())
    db.session.commit()
    assert result.vote.status == "held"
    assert result.vote.risk_score == 85
    assert result.vote.reasons == [sig.NEW_ACCOUNT, sig.EMPTY_USER_AGENT, sig.TOO_FAST]
    # cast_vote records the observation itself, held votes too
    assert db.session.scalar(select(func.count()).select_from(FraudObservation)) == 1


def test_every_vote_is_observed_in_the_database(app, store, honest, clock):
    record(store, honest(), clock.now())
    obs = db.session.scalars(select(FraudObservation)).one()
    assert (obs.ip, obs.subnet, obs.device_id) == ("203.0.113.10", "203.0.113.0/24", "device-honest")


def test_redis_down_counts_from_the_database(app, store, honest, clock, make_user, dead_redis):
    for _ in range(5):
        record(store, honest(device_id=""), clock.now())
    record(None, honest(device_id=""), clock.now())  # while Redis is down: in the table only
    verdict = assess(dead_redis, honest(), clock)
    assert verdict.details["source"] == "database"
    assert verdict.details[sig.IP_VELOCITY]["10m"] == 6


def test_redis_windows_are_rebuilt_from_the_database(app, store, honest, clock):
    if store is None:
        pytest.skip("Redis only")
    for _ in range(5):
        record(store, honest(device_id=""), clock.now() - timedelta(minutes=1))
    assert assess(store, honest(), clock).details[sig.IP_VELOCITY]["10m"] == 5
    store.flushdb()
    assert assess(store, honest(), clock).reasons == ()
    assert antifraud.rebuild_windows(db.session, store, clock.now()) == 5
    assert antifraud.rebuild_windows(db.session, store, clock.now()) == 5  # idempotent
    assert assess(store, honest(), clock).details[sig.IP_VELOCITY]["10m"] == 5


def test_old_observations_are_pruned(app, honest, clock):
    record(None, honest(), clock.now() - timedelta(days=8))
    record(None, honest(), clock.now() - timedelta(hours=1))
    assert housekeeping.prune(db.session, clock.now()).observations == 1
    assert db.session.scalar(select(func.count()).select_from(FraudObservation)) == 1


def test_observations_are_kept_a_week_and_pruned_in_batches(app, honest, clock):
    now = clock.now()
    for age in (timedelta(days=9), timedelta(days=8), timedelta(days=7, minutes=1), timedelta(days=6, hours=23)):
        record(None, honest(), now - age)
    assert antifraud.prune_observations(db.session, now, batch=1) == 3  # one row per batch: the loop runs
    assert list(db.session.scalars(select(FraudObservation.at))) == [now - timedelta(days=6, hours=23)]
    assert antifraud.prune_observations(db.session, now) == 0


def test_assessment_takes_a_bounded_number_of_queries(app, store, honest, clock, count_queries):
    assess(store, honest(), clock)  # first time: the registration memo is written
    with count_queries() as statements:
        assess(store, honest(), clock)
    # the windows and the registration memo: two statements, or one Redis pipeline and none
    assert len(statements) == (2 if store is None else 0)


def test_signing_in_settles_the_registration_burst(app, client, store, clock, make_user, count_queries):
    farm = [_register(make_user, clock, f"10.20.40.{n}") for n in range(5)]
    fresh = _register(make_user, clock, "10.20.41.1")
    # within the ten minutes after registering, the count may still grow: nothing is kept
    token = client.post(PREFIX + "/auth/token", json={"phone": fresh.phone, "password": PASSWORD})
    assert token.status_code == 201 and db.session.get(RegistrationBurst, fresh.id) is None
    clock.advance(minutes=11)
    # an app's sign-in (a token) and a browser's sign-in both settle it
    assert client.post(PREFIX + "/auth/token", json={"phone": farm[0].phone, "password": PASSWORD}).status_code == 201
    login(client, farm[1])
    for user in farm[:2]:
        memo = db.session.get(RegistrationBurst, user.id)
        assert memo is not None and (memo.accounts, memo.subnet) == (5, "10.20.40.0/24")
        if store is not None:
            assert store.get(sig.registration_key(user.id)) == b"5"
    # the vote's assessment then reads it with the windows: no query with Redis
    signals = VoteSignals(voter_id=farm[0].id, account_created_at=farm[0].created_at, contest_id=1, entry_id=1,
                          ip="198.51.100.7", user_agent="Mozilla/5.0")
    with count_queries() as statements:
        verdict = antifraud.assess_vote(db.session, store, signals, clock.now())
    assert verdict.details[sig.REGISTRATION_BURST] == {"points": 20, "accounts": 5}
    assert len(statements) == (2 if store is None else 0)
