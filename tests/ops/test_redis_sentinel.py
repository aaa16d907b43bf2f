"""The platform follows a Redis Sentinel failover through one redis+sentinel:// REDIS_URL
(docs/DEPLOY.md, "Redis").

The test runs a Sentinel set of its own on free ports in a temporary directory: a master,
a replica and three sentinels (`redis-server --sentinel`), with a password on the Redis
servers and another on the sentinels; never the machine's shared Redis. The app is built
on the suite's database with REDIS_URL=redis+sentinel://:<password>@<s1>,<s2>,<s3>/contest/3
?sentinel_password=<…>, so its client, flask-limiter and the job runner all read that one
URL. Voters vote through the web route (the limiter in front, JSON answers) from threads
while the set fails over twice, and a job consumer runs beside them:

1. `SENTINEL FAILOVER`: the replica is promoted; the old master goes on taking writes
   from the connections it still has until the sentinels turn it into a replica (10 to
   20 s later) and cut them. The app's client and the job runner must leave it within
   seconds, while it is still a master (redis_client.FollowingPool).
2. SIGKILL of the new master: the sentinels promote the other server.

After each, what must hold:
- no vote is answered with anything but 201, and every acknowledged vote is in the
  database exactly once with its receipt, and nothing else is;
- the live board in Redis (on the current master) agrees with the database's counts by
  itself: after the crash the app saw Redis fail and invalidates the board; after the
  planned switch the app saw the master change (votes counted on the old master in the
  moment before the app left it are lost with it) and invalidates every board;
- a voter at the daily quota is still refused (the quota is the database's);
- the limiter counts on the new master again, and a voter who reached the per-account
  limit just before the switch is still refused: the promoted server has the replicated
  window;
- a job enqueued after the switch is run by the consumer that was started before it.
"""

from __future__ import annotations

import itertools
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis as redis_lib
from flask import Flask
from flask.testing import FlaskClient
from huey.signals import SIGNAL_COMPLETE
from limits.storage import RedisSentinelStorage, RedisStorage
from redis.sentinel import SentinelConnectionPool
from sqlalchemy import func, select

from contest import create_app
from contest.accounts import service as accounts
from contest.accounts import units
from contest.accounts.actors import SYSTEM
from contest.clock import FixedClock
from contest.config import ConfigError, Settings
from contest.contests import service as contests
from contest.contests.models import Entry
from contest.extensions import db, limiter
from contest.jobs import jobs_of
from contest.voting.models import Vote
from tests.conftest import (
    PASSWORD,
    START,
    TEST_DATABASE_URL,
    IsolatedClient,
    _empty_tables,
    csrf_token,
    free_ports,
    sign_in_id,
    windows_around,
)

pytestmark = [
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs the redis-server program (Debian package redis-server)"),
    # Its own Redis, master, replica and sentinels, and the run's database: in the PostgreSQL
    # pass, as in production (the SQLite pass would repeat the same minute of failovers).
    pytest.mark.skipif(not TEST_DATABASE_URL, reason="runs in the PostgreSQL pass (production's database)"),
]

MASTER = "contest"
DB = 3
REDIS_PASSWORD = "p@ss/word:1"  # characters a URL must percent-encode
SENTINEL_PASSWORD = "sentinel&secret"
VOTERS = 8
ENTRIES = 16
PACE = 3.2  # seconds between one voter's votes: under the vote route's 20 a minute per account
AGENT = "Mozilla/5.0 (Linux; Android 14; HONOR) Mobile Safari/537.36"
HEAL_WITHIN = 20.0  # seconds: the client's 5 s pause, the limiter's back-off, a slow machine


def _wait_for(what: str, condition: Callable[[], bool], timeout: float, state: Callable[[], str] = lambda: "") -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if condition():
                return
        except redis_lib.RedisError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what} {state()}")
        time.sleep(0.1)


class SentinelSet:
    """Two redis-servers (a master and its replica) and three sentinels watching them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.servers: dict[int, subprocess.Popen[bytes]] = {}
        self.sentinel_processes: list[subprocess.Popen[bytes]] = []
        self.logs: list[Any] = []
        self.sentinel_ports: list[int] = []

    def start(self) -> None:
        master, replica, *self.sentinel_ports = free_ports(5)
        self._server(master)
        self._server(replica, "--replicaof", "127.0.0.1", str(master))
        for port in self.sentinel_ports:
            folder = self.root / f"sentinel-{port}"
            folder.mkdir()
            # Sentinel rewrites its file as it learns the set: one file each, writable.
            (folder / "sentinel.conf").write_text(
                f"port {port}\nbind 127.0.0.1\ndir {folder}\nrequirepass \"{SENTINEL_PASSWORD}\"\n"
                f"sentinel monitor {MASTER} 127.0.0.1 {master} 2\n"
                f"sentinel auth-pass {MASTER} {REDIS_PASSWORD}\n"
                f"sentinel down-after-milliseconds {MASTER} 1000\n"
                f"sentinel failover-timeout {MASTER} 10000\n")
            self.logs.append((folder / "log").open("wb"))
            self.sentinel_processes.append(subprocess.Popen(
                ["redis-server", str(folder / "sentinel.conf"), "--sentinel"], stdout=self.logs[-1], stderr=subprocess.STDOUT))

    def _server(self, port: int, *extra: str) -> None:
        folder = self.root / f"redis-{port}"
        folder.mkdir()
        self.logs.append((folder / "log").open("wb"))
        self.servers[port] = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(folder), "--requirepass", REDIS_PASSWORD, "--masterauth", REDIS_PASSWORD, *extra],
            stdout=self.logs[-1], stderr=subprocess.STDOUT)

    @property
    def url(self) -> str:
        members = ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)
        return (f"redis+sentinel://:{REDIS_PASSWORD.replace('@', '%40').replace('/', '%2F')}@{members}/{MASTER}/{DB}"
                f"?sentinel_password={SENTINEL_PASSWORD.replace('&', '%26')}")

    def sentinel(self, port: int) -> redis_lib.Redis[Any]:
        return redis_lib.Redis(port=port, password=SENTINEL_PASSWORD, socket_timeout=1, decode_responses=True)

    def server(self, port: int) -> redis_lib.Redis[Any]:
        return redis_lib.Redis(port=port, password=REDIS_PASSWORD, db=DB, socket_timeout=2, decode_responses=True)

    def agreed_master(self) -> int | None:
        """The master's port if every sentinel names the same one (not so during a switch)."""
        named = {int(self.sentinel(port).sentinel_get_master_addr_by_name(MASTER)[1]) for port in self.sentinel_ports}
        return named.pop() if len(named) == 1 else None

    def master_port(self) -> int:
        port = self.agreed_master()
        assert port is not None, "the sentinels disagree on the master"
        return port

    def master(self) -> redis_lib.Redis[Any]:
        return self.server(self.master_port())

    def replica_port(self) -> int:
        (port,) = set(self.servers) - {self.master_port()}
        return port

    def settled(self) -> bool:
        """Every sentinel names one master, and sees the others and a replica in sync, up
        and not suspected down."""
        master = self.agreed_master()
        if master is None:
            return False
        for port in self.sentinel_ports:
            state = self.sentinel(port).sentinel_master(MASTER)
            replicas = self.sentinel(port).sentinel_slaves(MASTER)
            if state["num-other-sentinels"] < 2 or not any(
                    r["port"] != master and not r["is_sdown"] and r["master-link-status"] == "ok" for r in replicas):
                return False
        alive = [p for p, process in self.servers.items() if process.poll() is None and p != master]
        return any(self.server(p).info("replication").get("master_link_status") == "up" for p in alive)

    def kill(self, port: int) -> None:
        process = self.servers[port]
        process.send_signal(signal.SIGKILL)
        process.wait(10)

    def stop(self) -> None:
        for process in [*self.sentinel_processes, *self.servers.values()]:
            if process.poll() is None:
                process.kill()
                process.wait(10)
        for log in self.logs:
            log.close()


@pytest.fixture
def sentinels() -> Iterator[SentinelSet]:
    root = Path(tempfile.mkdtemp(prefix="contest-sentinel-"))
    running = SentinelSet(root)
    try:
        running.start()
        _wait_for("the sentinels to know the replica and each other", running.settled, 20)
        yield running
    finally:
        running.stop()
        shutil.rmtree(root, ignore_errors=True)


# --- the voters ----------------------------------------------------------------------------

@dataclass
class Voter:
    id: int
    number: int
    client: FlaskClient
    token: str = ""
    todo: list[int] = field(default_factory=list)
    sent: itertools.count[int] = field(default_factory=itertools.count)

    def address(self) -> str:
        # A network of its own for every vote: the anti-fraud windows stay quiet, and the
        # per-address limit never fires; the per-account limit is the one watched here.
        return f"10.{self.number}.{next(self.sent) % 250}.9"


@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    acknowledged: dict[tuple[int, int], tuple[int, str]] = field(default_factory=dict)
    statuses: Counter[int] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    def count(self) -> int:
        with self.lock:
            return len(self.acknowledged)


def post_vote(voter: Voter, slug: str, entry_id: int, address: str | None = None) -> Any:
    return voter.client.post(f"/c/{slug}/entries/{entry_id}/vote", data={"csrf_token": voter.token},
                             headers={"Accept": "application/json", "User-Agent": AGENT},
                             environ_base={"REMOTE_ADDR": address or voter.address()})


def keep_voting(voter: Voter, slug: str, tally: Tally, stop: threading.Event) -> None:
    try:
        while voter.todo and not stop.is_set():
            entry_id = voter.todo.pop(0)
            response = post_vote(voter, slug, entry_id)
            body = response.get_json(silent=True)
            with tally.lock:
                tally.statuses[response.status_code] += 1
                if response.status_code == 201:
                    tally.acknowledged[(voter.id, entry_id)] = (body["vote_id"], body["receipt"])
                else:
                    tally.problems.append(f"voter {voter.id}, entry {entry_id}: {response.status_code} {body}")
            stop.wait(PACE)
    except Exception as exc:  # reported by the test
        with tally.lock:
            tally.problems.append(f"voter {voter.id}: {exc!r}")


def voting_run(voters: list[Voter], slug: str, tally: Tally) -> Callable[[], None]:
    """Start every voter in a thread; the returned function stops and joins them."""
    stop = threading.Event()
    threads = [threading.Thread(target=keep_voting, args=(v, slug, tally, stop), daemon=True) for v in voters]
    for thread in threads:
        thread.start()

    def finish() -> None:
        stop.set()
        for thread in threads:
            thread.join(30)
        assert not any(t.is_alive() for t in threads), "a voter is stuck"
    return finish


# --- the season ----------------------------------------------------------------------------

def _season(app: Flask, clock: FixedClock) -> tuple[dict[str, int], list[int], list[int], list[Any]]:
    """Two media contests in their voting stage: the main one, and a small one whose
    daily quota is two votes; their entries, and the voters' accounts."""
    now = clock.now()
    ids: dict[str, int] = {}
    entry_lists: list[list[int]] = []
    for slug, votes_per_day, count in (("sentinel", ENTRIES, ENTRIES), ("quota", 2, 3)):
        contest = contests.create_contest(db.session, actor=SYSTEM, now=now, changes=contests.ContestChanges(
            unit_id=units.ensure_unit(db.session, name="济南市教育局", now=now).id,
            slug=slug, kind="media", title=f"哨兵切换测试 {slug}", theme="技能：让生活更美好", summary="测试用的活动",
            rules_text="规则", windows=windows_around(now, "voting"),
            rules={"captcha_mode": "never", "votes_per_day": votes_per_day}))
        entries = [Entry(contest_id=contest.id, title=f"作品{n}", description="作品介绍", status="approved",
                         created_at=now, updated_at=now, submitted_at=now, published_at=now - timedelta(minutes=n + 1))
                   for n in range(count)]
        db.session.add_all(entries)
        db.session.flush()
        ids[slug] = contest.id
        entry_lists.append([e.id for e in entries])
    users = []
    for n in range(VOTERS + 3):
        user = accounts.create_user(db.session, phone=f"1395550{n:04d}", password=PASSWORD, roles=["citizen"], now=now)
        user.created_at = now - timedelta(days=90)  # no new-account risk points
        users.append(user)
    db.session.commit()
    return ids, entry_lists[0], entry_lists[1], users


def _signed_in(app: Flask, user: Any, number: int) -> Voter:
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = sign_in_id(user)
    voter = Voter(id=user.id, number=number, client=client)
    voter.token = csrf_token(client, "/")
    return voter


def stored_votes(contest_id: int) -> dict[tuple[int, int], tuple[int, str]]:
    with db.engine.connect() as conn:
        rows = conn.execute(select(Vote.voter_id, Vote.entry_id, Vote.id, Vote.receipt)
                            .where(Vote.contest_id == contest_id)).all()
    stored = {(voter_id, entry_id): (vote_id, receipt) for voter_id, entry_id, vote_id, receipt in rows}
    assert len(stored) == len(rows), "a voter has two votes for one entry"
    return stored


def stored_counts(contest_id: int) -> dict[int, int]:
    with db.engine.connect() as conn:
        rows = conn.execute(select(Vote.entry_id, func.count()).where(Vote.contest_id == contest_id, Vote.status == "valid")
                            .group_by(Vote.entry_id))
        return {entry_id: n for entry_id, n in rows}


def redis_board(master: redis_lib.Redis[Any], contest_id: int) -> dict[int, int] | None:
    prefix = f"lb:{{{contest_id}}}:"
    if not master.exists(prefix + "ready"):
        return None
    return {int(member): int(score) for member, score in master.zrange(prefix + "all", 0, -1, withscores=True) if score}


def limiter_hits(master: redis_lib.Redis[Any], marker: str) -> int:
    """Hits in the moving windows whose key names `marker` (an address or a voter key)."""
    return sum(master.llen(key) for key in master.scan_iter(f"*contest-rl*{marker}*"))


# --- the test ------------------------------------------------------------------------------

def test_a_sentinel_url_is_checked_at_start_up(tmp_path):
    def settings(url: str) -> Settings:
        return Settings(env="testing", instance_path=str(tmp_path), secret_key="k" * 40, redis_url=url,
                        database_url=f"sqlite:///{tmp_path / 'db.sqlite3'}", media_root=str(tmp_path / "media"))

    good = "redis+sentinel://:s%40cret@10.0.0.1:26379,10.0.0.2:26379,[fd00::3]:26379/contest/2?sentinel_password=x"
    assert settings(good).with_defaults().redis_url == good
    for bad, says in [
        ("redis+sentinel://10.0.0.1/contest", "each sentinel must be host:port (found '10.0.0.1')"),
        ("redis+sentinel://:s3cret@10.0.0.1:26379", "the master's name"),
        ("redis+sentinel://10.0.0.1:26379/contest/two", "only a database number"),
        ("redis+sentinel://10.0.0.1:26379/contest?password=s3cret", "unknown option 'password'"),
        ("sentinel://10.0.0.1:26379/contest", "must start with redis://, rediss://, unix:// or redis+sentinel://"),
    ]:
        with pytest.raises(ConfigError, match="REDIS_URL") as refused:
            settings(bad).with_defaults()
        assert says in str(refused.value) and "s3cret" not in str(refused.value)


def test_a_unix_socket_url_serves_the_limiter_too(tmp_path):
    # the limits library knows a socket as redis+unix://; given unix:// it refused to start
    app = create_app(Settings(env="testing", instance_path=str(tmp_path), secret_key="k" * 40,
                              redis_url=f"unix://{tmp_path / 'redis.sock'}?db=2",
                              database_url=f"sqlite:///{tmp_path / 'db.sqlite3'}", media_root=str(tmp_path / "media")))
    with app.app_context():
        assert type(limiter.storage) is RedisStorage
        assert limiter.storage.storage.connection_pool.connection_kwargs["path"] == str(tmp_path / "redis.sock")
        db.engine.dispose()


def test_voting_follows_two_sentinel_failovers(sentinels: SentinelSet, database_url: str, tmp_path: Path) -> None:
    clock = FixedClock(START)
    app = create_app(Settings(env="testing", instance_path=str(tmp_path / "instance"), secret_key="k" * 40,
                              database_url=database_url, redis_url=sentinels.url, media_root=str(tmp_path / "media"),
                              extra={"clock": clock}))
    app.test_client_class = IsolatedClient
    huey = jobs_of(app)
    tasks = app.extensions["job_tasks"]
    # All three users of REDIS_URL went through the Sentinel set.
    assert isinstance(app.extensions["redis"].connection_pool, SentinelConnectionPool)
    assert isinstance(huey.storage.pool, SentinelConnectionPool)
    with app.app_context():
        assert isinstance(limiter.storage, RedisSentinelStorage)

    completed: set[str] = set()
    huey.signal(SIGNAL_COMPLETE)(lambda _signal, task, *_args: completed.add(task.id))
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    consumer = huey.create_consumer(workers=1, worker_type="thread", periodic=False)
    consumer.start()
    for signum, handler in saved.items():  # the consumer's handlers are for its own process
        signal.signal(signum, handler)
    context = app.app_context()
    context.push()  # for the test's own reads; every request has a context of its own (IsolatedClient)
    try:
        ids, entry_ids, quota_entries, users = _season(app, clock)
        voters = [_signed_in(app, user, n + 1) for n, user in enumerate(users[:VOTERS])]
        quota_voter, hasty, hasty_again = (_signed_in(app, user, 200 + n) for n, user in enumerate(users[VOTERS:]))
        db.session.remove()
        for n, voter in enumerate(voters):
            voter.todo = entry_ids[n:] + entry_ids[:n]
        contest_id = ids["sentinel"]
        tally = Tally()
        probes = itertools.count(1)

        def reach_rate_limit(voter: Voter) -> None:
            """One vote, then the same again until the per-account limit (20 a minute) refuses."""
            responses = [post_vote(voter, "sentinel", entry_ids[0], address=f"10.240.{voter.number}.1") for _ in range(21)]
            answers = Counter(response.status_code for response in responses)
            assert answers == {201: 1, 409: 19, 429: 1}, answers
            body = responses[0].get_json()
            tally.acknowledged[(voter.id, entry_ids[0])] = (body["vote_id"], body["receipt"])

        def still_rate_limited(voter: Voter) -> None:
            response = post_vote(voter, "sentinel", entry_ids[0], address=f"10.240.{voter.number}.1")
            assert response.status_code == 429, response.get_json()
            assert response.get_json()["error"]["code"] == "rate_limited"
            assert limiter_hits(sentinels.master(), f"voter:{voter.id}/") >= 20

        def limiter_on_master() -> bool:
            """A limited page counts on the current master (not in the in-memory fallback)."""
            address = f"10.250.{next(probes) % 250}.7"
            assert app.test_client().get("/receipts/NOSUCHCODE", environ_base={"REMOTE_ADDR": address}).status_code == 404
            return limiter_hits(sentinels.master(), f"/{address}/") == 1

        def board_heals() -> None:
            def healed() -> bool:
                # a read is what rebuilds a board that is missing or was invalidated
                assert app.test_client().get("/api/v1/contests/sentinel/leaderboard?limit=50").status_code == 200
                return redis_board(sentinels.master(), contest_id) == stored_counts(contest_id)
            _wait_for("the live board to agree with the database", healed, HEAL_WITHIN,
                      lambda: f"(database {stored_counts(contest_id)}, Redis {redis_board(sentinels.master(), contest_id)})")

        def votes_are_exact() -> None:
            assert tally.problems == [], "\n".join(tally.problems[:5])
            assert set(tally.statuses) == {201}, tally.statuses
            assert stored_votes(contest_id) == tally.acknowledged

        def quota_holds() -> None:
            response = post_vote(quota_voter, "quota", quota_entries[2])
            assert response.status_code == 429 and response.get_json()["error"]["code"] == "daily_quota", response.get_json()

        def a_job_runs() -> None:
            """The hourly prune, queued now, is run by the consumer (Huey keeps no result of
            a periodic task: its completion signal says it ran)."""
            queued = tasks.prune_votes()
            _wait_for("the consumer to run a queued job", lambda: queued.id in completed, HEAL_WITHIN)

        # Before: the board is built, a voter reaches the quota, another the rate limit,
        # and the consumer runs a job.
        board_heals()
        assert [post_vote(quota_voter, "quota", e).status_code for e in quota_entries[:2]] == [201, 201]
        quota_holds()
        reach_rate_limit(hasty)
        a_job_runs()

        # 1. A planned switch, with votes coming in.
        first_master = sentinels.master_port()
        finish = voting_run(voters, "sentinel", tally)
        _wait_for("votes before the switch", lambda: tally.count() >= VOTERS, 15)
        assert sentinels.sentinel(sentinels.sentinel_ports[0]).execute_command("SENTINEL", "FAILOVER", MASTER) in (True, "OK")
        _wait_for("the replica's promotion", lambda: sentinels.agreed_master() not in (first_master, None), 15)
        promoted = ("127.0.0.1", sentinels.master_port())
        # The app's client and the job runner leave the old master within a second or two
        # (redis_client.FollowingPool), while it still takes writes as a master.
        _wait_for("the app to follow the promotion", lambda: app.extensions["redis"].connection_pool.master_address
                  == promoted and huey.storage.pool.master_address == promoted, 5)
        assert sentinels.server(first_master).info("replication")["role"] == "master"
        _wait_for("the old master to become a replica", sentinels.settled, 40)
        time.sleep(2 * PACE)  # votes after the old master cut its clients
        finish()
        assert sentinels.server(first_master).info("replication")["role"] == "slave"
        votes_are_exact()
        # What the old master took after the promotion is lost with it: the app saw the
        # master change and had every board rebuilt from the database, with no operator.
        board_heals()
        # A master change the app's pool notices has every board rebuilt from the database
        # (redis_client.FollowingPool → RedisHealth.master_changed → live.invalidate_every_board):
        # a board the former master left out of step is put right at the next read.
        sentinels.master().zincrby(f"lb:{{{contest_id}}}:all", 5, str(entry_ids[0]))
        assert redis_board(sentinels.master(), contest_id) != stored_counts(contest_id)
        pool = app.extensions["redis"].connection_pool
        pool.proxy.master_address = ("127.0.0.1", 1)  # as if it had known another master
        pool.get_master_address()
        board_heals()
        quota_holds()
        _wait_for("the limiter to count on the new master", limiter_on_master, HEAL_WITHIN)
        still_rate_limited(hasty)
        a_job_runs()
        after_first = tally.count()

        # 2. The master dies: the sentinels promote the other server.
        reach_rate_limit(hasty_again)
        second_master = sentinels.master_port()
        finish = voting_run(voters, "sentinel", tally)
        _wait_for("votes before the crash", lambda: tally.count() >= after_first + VOTERS // 2, 15)
        sentinels.kill(second_master)
        _wait_for("the promotion", lambda: sentinels.agreed_master() == first_master, 20)
        time.sleep(2 * PACE)  # votes while the client pauses, then on the promoted master
        finish()
        votes_are_exact()
        assert tally.count() > after_first + VOTERS
        board_heals()
        quota_holds()
        _wait_for("the limiter to count on the promoted master", limiter_on_master, HEAL_WITHIN)
        still_rate_limited(hasty_again)
        a_job_runs()

        # A later app on a plain redis:// URL gets none of the Sentinel app's options.
        plain = create_app(Settings(env="testing", instance_path=str(tmp_path / "plain"), secret_key="p" * 40,
                                    database_url=database_url, media_root=str(tmp_path / "plain-media"),
                                    redis_url=f"redis://:{REDIS_PASSWORD.replace('@', '%40').replace('/', '%2F')}"
                                              f"@127.0.0.1:{first_master}/{DB}"))
        assert plain.test_client().get("/receipts/NOSUCHCODE", environ_base={"REMOTE_ADDR": "10.251.0.7"}).status_code == 404
        assert limiter_hits(sentinels.master(), "/10.251.0.7/") == 1
        with plain.app_context():
            db.engine.dispose()
    finally:
        consumer.stop(graceful=True)
        db.session.remove()
        _empty_tables()
        db.engine.dispose()
        context.pop()
