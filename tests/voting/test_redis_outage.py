"""Redis dies in the middle of a voting run and comes back, behind a real server.

gunicorn (two workers) runs against a redis-server of this test's own on a free port —
never the machine's shared Redis. Voting starts, that Redis is killed with requests in
flight, voting goes on, then Redis starts again, empty, on the same port while votes keep
coming. What must hold throughout:

- no accepted vote is lost: every 201 has its vote row with its receipt and ledger event,
  and there is no vote nobody was told about;
- votes are accepted while Redis is down (checked and counted in PostgreSQL);
- limits hold while Redis is down: the daily quota (PostgreSQL) and the per-account rate
  limit (flask-limiter's in-memory fallback, per worker);
- once Redis is back, the live board in Redis and the API leaderboard heal to the
  database's counts and follow new votes again.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import redis as redis_lib
from sqlalchemy import func, select

from contest.extensions import db
from contest.voting import ledger
from contest.voting.models import LedgerEvent, Vote
from tests.conftest import TEST_DATABASE_URL, TEST_REDIS_URL
from tests.voting.test_server_concurrency import (
    REAL_SERVER_REASON,
    Answer,
    Ballot,
    GunicornServer,
    Voter,
    board,
    post_vote,
    redis_board,
    seed_ballot,
    stored_counts,
)

pytestmark = [
    pytest.mark.skipif(not (TEST_DATABASE_URL.startswith("postgresql") and TEST_REDIS_URL), reason=REAL_SERVER_REASON),
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs the redis-server program (Debian package redis-server)"),
]

N_VOTERS = 90
N_ENTRIES = 6
HEAL_WITHIN = 30.0  # seconds: live.DOWN_PAUSE and the limiter's back-off, with room for a slow machine


class PrivateRedis:
    """A redis-server of this test's own, without persistence, that can be killed and
    started again on the same port."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.process: subprocess.Popen[bytes] | None = None
        for _attempt in range(5):
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                self.port = s.getsockname()[1]
            if self.start():
                return
        raise AssertionError("could not start a private redis-server")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> bool:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.tmp)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis_lib.Redis(port=self.port, socket_timeout=1, socket_connect_timeout=1)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                return bool(client.ping())
            except redis_lib.RedisError:
                time.sleep(0.05)
        self.kill()
        return False

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def client(self) -> redis_lib.Redis[Any]:
        return redis_lib.Redis(port=self.port, socket_timeout=2)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    running = PrivateRedis(tmp_path)
    yield running
    running.kill()


@pytest.fixture
def server(app: Any, tmp_path: Path, private_redis: PrivateRedis) -> Iterator[GunicornServer]:
    running = GunicornServer(tmp_path, redis_url=private_redis.url)
    yield running
    running.stop()


Job = tuple[Voter, int, str]  # voter, entry id, Idempotency-Key


def run_votes(server: GunicornServer, jobs: list[Job], *,
              when: tuple[int, Callable[[], object]] | None = None) -> list[tuple[Job, Answer]]:
    """Send the votes from 12 threads; `when` = (n, action) runs the action once n answers
    have come back, with the rest still being sent."""
    results: list[tuple[Job, Answer]] = []
    lock = threading.Lock()
    fired = threading.Event()

    def one(job: Job) -> None:
        answer = post_vote(server, job[0], job[1], key=job[2])
        with lock:
            results.append((job, answer))
            due = when is not None and len(results) >= when[0] and not fired.is_set()
            if due:
                fired.set()
        if due:
            when[1]()

    with ThreadPoolExecutor(12) as pool:
        for future in [pool.submit(one, job) for job in jobs]:
            future.result()
    return results


def no_server_errors(server: GunicornServer, results: list[tuple[Job, Answer]]) -> list[Answer]:
    """The answers; a request caught in flight while the workers switch to in-memory limits
    is checked against them, never answered with a 500 (extensions.FailoverLimiter)."""
    answers = []
    for _job, answer in results:
        assert answer.status != 500, server.error_of(answer.request_id) or server.log()
        answers.append(answer)
    return answers


def codes(answers: list[Answer]) -> Counter[str]:
    return Counter("201" if status == 201 else f"{status} {body['error']['code']}" for status, body, _id in answers)


def test_votes_survive_a_redis_outage_and_the_boards_heal(server, private_redis):
    ballot: Ballot = seed_ballot(N_VOTERS + 2, N_ENTRIES, slug="redis-outage")
    contest_id, entry_ids = ballot.contest.id, [e.id for e in ballot.entries]
    voters, quota_voter, hasty_voter = ballot.voters[:N_VOTERS], ballot.voters[-2], ballot.voters[-1]
    assert board(server, ballot) == {}  # builds the live board

    def round_of(n: int) -> list[Job]:
        """Every voter's n-th vote, each to another entry."""
        return [(v, entry_ids[(i + n) % N_ENTRIES], f"v{v.id}-{n}") for i, v in enumerate(voters)]

    accepted: list[dict[str, Any]] = []

    def keep(answers: list[Answer]) -> Counter[str]:
        accepted.extend(body for status, body, _id in answers if status == 201)
        return codes(answers)

    # 1. Redis is killed a third of the way through a round, with votes in flight.
    first = keep(no_server_errors(server, run_votes(server, round_of(0), when=(N_VOTERS // 3, private_redis.kill))))
    assert first == {"201": N_VOTERS}, f"{first}\n{server.log()}"
    assert private_redis.process is not None and private_redis.process.poll() is not None

    # 2. Redis stays down: voting goes on …
    second = keep([answer for _job, answer in run_votes(server, round_of(1))])
    assert second == {"201": N_VOTERS}, f"{second}\n{server.log()}"
    status, health, _id = server.request("GET", "/healthz")
    assert (status, health["redis"]) == (200, "down")

    # … the daily quota holds (5 votes, then refused; from a new network each time, or
    # anti-fraud would ask for a captcha before the quota is reached) …
    quota = keep([post_vote(server, quota_voter, entry_id, address=f"10.250.{n}.8") for n, entry_id in enumerate(entry_ids)])
    assert quota == {"201": 5, "429 daily_quota": 1}, quota

    # … and so does the per-account rate limit (20 a minute), kept in each worker's
    # memory now: of 50 requests at least 25 reach one of the two workers.
    hasty = keep([post_vote(server, hasty_voter, entry_ids[0]) for _ in range(50)])
    assert hasty["201"] == 1 and hasty["409 already_voted"] >= 1 and hasty["429 rate_limited"] >= 5, hasty
    assert set(hasty) == {"201", "409 already_voted", "429 rate_limited"}, hasty

    # 3. Redis starts again, empty, on the same port, a third of the way through a round.
    third = keep(no_server_errors(server, run_votes(server, round_of(2), when=(N_VOTERS // 3, private_redis.start))))
    assert third == {"201": N_VOTERS}, f"{third}\n{server.log()}"
    assert private_redis.process is not None and private_redis.process.poll() is None

    # No accepted vote is lost, and no vote is stored that nobody was told about.
    with db.engine.connect() as conn:
        stored = dict(conn.execute(select(Vote.id, Vote.receipt).where(Vote.contest_id == contest_id)).all())
        cast = conn.execute(select(func.count()).select_from(LedgerEvent).where(LedgerEvent.kind == "cast")).scalar()
        most = conn.execute(select(func.count()).select_from(Vote).group_by(Vote.voter_id, Vote.day)
                            .order_by(func.count().desc()).limit(1)).scalar()
    assert {body["vote_id"]: body["receipt"] for body in accepted} == stored
    assert cast == len(stored) == 3 * N_VOTERS + 5 + 1
    assert most == 5
    assert ledger.verify_ledger(db.session).ok

    # 4. The boards heal: the live board in Redis and the API leaderboard come back to the
    # database's counts (whichever worker answers), then follow new votes again.
    live = private_redis.client()

    def healed() -> bool:
        expected = stored_counts(contest_id)
        # the API first: a read is what rebuilds a board that is missing or was invalidated
        return board(server, ballot) == expected and redis_board(live, contest_id) == expected

    def state() -> str:
        return (f"database {stored_counts(contest_id)}, Redis {redis_board(live, contest_id)}, "
                f"API {board(server, ballot)}, keys {sorted(live.keys())}\n{server.log()}")

    wait_for(healed, lambda: "the boards did not heal: " + state())
    assert keep([answer for _job, answer in run_votes(server, round_of(3)[:30])]) == {"201": 30}
    wait_for(healed, lambda: "the boards do not follow new votes: " + state())
    assert sum(stored_counts(contest_id).values()) == 3 * N_VOTERS + 30 + 5 + 1


def wait_for(condition: Callable[[], bool], message: Callable[[], str], timeout: float = HEAL_WITHIN) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, message()
        time.sleep(0.25)
