"""Votes through a real server: gunicorn with two worker processes, PostgreSQL and Redis.

The in-process tests prove the rules one request at a time and with threads sharing one
process; here 200 voters vote at the same moment over HTTP into two processes, each with
its own connection pool and its own view of Redis, and every count must still be exact.

The server is the production set-up (CONTEST_ENV=production, PROXY_COUNT=1 behind a
pretend nginx): each voter sends its own X-Forwarded-For, as nginx would, otherwise all
200 would come from 127.0.0.1 and the per-address limit and anti-fraud would rightly
stop them. The server runs on the real clock, so the contest's voting window is laid
around the real now (the test app's FixedClock is only used for seeding).

The helpers here are shared with test_redis_outage.py.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import redis as redis_lib
from sqlalchemy import func, select

from contest import PROJECT_ROOT
from contest.accounts import service as accounts
from contest.accounts import units
from contest.accounts.actors import SYSTEM
from contest.accounts.models import User, UserRole
from contest.api.models import ApiToken
from contest.contests import service as contests
from contest.contests.models import Contest, Entry
from contest.extensions import db
from contest.voting.models import LedgerEvent, Vote
from tests.conftest import PASSWORD, START, TEST_DATABASE_URL, TEST_REDIS_URL, windows_around

REAL_SERVER_REASON = "a real gunicorn server needs PostgreSQL and Redis (set TEST_DATABASE_URL=postgresql+psycopg://… and TEST_REDIS_URL)"
pytestmark = pytest.mark.skipif(not (TEST_DATABASE_URL.startswith("postgresql") and TEST_REDIS_URL), reason=REAL_SERVER_REASON)

USER_AGENT = "ContestApp/2.3 (Android 14; HONOR)"
LISTENING_RE = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")


# --- the server ---------------------------------------------------------------------------

class Answer(NamedTuple):
    status: int
    body: Any
    request_id: str  # the server logs under it


class GunicornServer:
    """`gunicorn wsgi:app` as deployed, on a port the kernel picks, logging to a file."""

    def __init__(self, tmp: Path, *, redis_url: str, workers: int = 2, threads: int = 4) -> None:
        self.log_path = tmp / "gunicorn.log"
        env = {key: value for key, value in os.environ.items() if key not in ("CAPTCHA_FIXED_ANSWER", "FLASK_APP")}
        env.update(
            CONTEST_ENV="production", SECRET_KEY=secrets.token_urlsafe(48), DATABASE_URL=TEST_DATABASE_URL,
            REDIS_URL=redis_url, PROXY_COUNT="1", INSTANCE_PATH=str(tmp / "instance"), MEDIA_ROOT=str(tmp / "media"),
            PUBLIC_BASE_URL="https://vote.example.cn", TRUSTED_HOSTS="127.0.0.1",
            LOG_LEVEL="WARNING", RATELIMIT_ENABLED="1", PYTHONDONTWRITEBYTECODE="1",
        )
        # --no-control-socket: gunicorn's control socket has one default path per user,
        # which servers of parallel test runs would take from each other.
        command = [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--threads", str(threads),
                   "--bind", "127.0.0.1:0", "--no-control-socket", "--graceful-timeout", "5", "wsgi:app"]
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        try:
            self.port = self._wait_for_port()
            self._wait_until_healthy()
        except BaseException:
            self.stop()
            raise

    def _wait_for_port(self, timeout: float = 30.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = LISTENING_RE.search(self.log_path.read_text(errors="replace"))
            if match:
                return int(match.group(1))
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"gunicorn did not start:\n{self.log()}")

    def _wait_until_healthy(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.request("GET", "/healthz")[0] == 200:
                    return
            except OSError:
                pass
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"gunicorn never answered /healthz:\n{self.log()}")

    def request(self, method: str, path: str, *, headers: dict[str, str] | None = None,
                body: bytes | None = None) -> Answer:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.request(method, path, body=body, headers={"User-Agent": USER_AGENT, **(headers or {})})
            response = conn.getresponse()
            raw = response.read()
        finally:
            conn.close()
        return Answer(response.status, json.loads(raw) if raw else None, response.getheader("X-Request-ID", ""))

    def error_of(self, request_id: str) -> str:
        """The traceback the server logged for one request ("" if none)."""
        text = self.log_path.read_text(errors="replace")
        start = text.find(f"ERROR [{request_id}]")
        if not request_id or start < 0:
            return ""
        end = re.compile(r"^\d{4}-\d\d-\d\d \d", re.MULTILINE).search(text, text.index("\n", start) + 1)
        return text[start:end.start() if end else len(text)]

    def log(self) -> str:
        """The server's log from its first error (or its end), for failure messages."""
        text = self.log_path.read_text(errors="replace")
        first = min((i for i in (text.find("Traceback"), text.find(" ERROR ")) if i >= 0), default=max(0, len(text) - 3000))
        return text[max(0, first - 500):first + 5000]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


# --- the ballot -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Voter:
    id: int
    token: str
    address: str  # what nginx would put in X-Forwarded-For; one /24 per voter


@dataclass(frozen=True)
class Ballot:
    contest: Contest
    entries: list[Entry]
    voters: list[Voter]


def seed_ballot(n_voters: int, n_entries: int, *, slug: str) -> Ballot:
    """A contest voting now (real time), approved entries, verified voters with API tokens.

    Tokens are stored the way contest.api.tokens stores them (digests only); issuing 200
    through POST /auth/token would cost 200 password checks and trip its own rate limit.
    """
    real_now = datetime.now(UTC)
    contest = contests.create_contest(db.session, actor=SYSTEM, now=START, changes=contests.ContestChanges(
        unit_id=units.ensure_unit(db.session, name="济南市教育局", now=START).id,
        slug=slug, kind="media", title="服务器并发测试", windows=windows_around(real_now, "voting"),
        rules={"captcha_mode": "risk", "votes_per_day": 5, "votes_per_entry_per_day": 1}))
    category = contests.add_category(db.session, actor=SYSTEM, contest=contest, kind="category", name="摄影", now=START)
    entries = [Entry(contest_id=contest.id, title=f"作品{i}", status="approved", category_id=category.id,
                     created_at=START, updated_at=START, submitted_at=START, published_at=START) for i in range(n_entries)]
    password_hash = accounts.hash_password(PASSWORD)  # hashed once per run (tests/conftest.py)
    users = [User(phone=f"1350{i:07d}", password_hash=password_hash, phone_verified_at=START, created_at=START,
                  session_token=secrets.token_hex(16), is_active_account=True,
                  roles=[UserRole(role="citizen", granted_at=START)]) for i in range(n_voters)]
    db.session.add_all([*entries, *users])
    db.session.flush()
    voters = []
    for i, user in enumerate(users):
        token = secrets.token_urlsafe(32)
        db.session.add(ApiToken(user_id=user.id, token_hash=hashlib.sha256(token.encode()).hexdigest(),
                                session_stamp=hashlib.sha256(user.session_token.encode()).hexdigest(),
                                created_at=real_now - timedelta(hours=1), expires_at=real_now + timedelta(days=1)))
        voters.append(Voter(user.id, token, f"10.{77 + i // 250}.{i % 250}.8"))
    db.session.commit()
    return Ballot(contest, entries, voters)


def post_vote(server: GunicornServer, voter: Voter, entry_id: int, *, key: str | None = None,
              address: str | None = None) -> Answer:
    headers = {"Authorization": f"Bearer {voter.token}", "X-Forwarded-For": address or voter.address,
               "Content-Type": "application/json", "X-Device-Id": f"device-{voter.id}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return server.request("POST", f"/api/v1/entries/{entry_id}/votes", headers=headers, body=b"{}")


def board(server: GunicornServer, ballot: Ballot) -> dict[int, int]:
    """Entry id → votes, as the API leaderboard shows them."""
    status, body, _id = server.request("GET", f"/api/v1/contests/{ballot.contest.slug}/leaderboard?limit=50")
    assert status == 200, body
    return {item["entry_id"]: item["votes"] for item in body["items"]}


def redis_board(client: redis_lib.Redis[Any], contest_id: int) -> dict[int, int] | None:
    """The live board in Redis, or None while it is not complete."""
    prefix = f"lb:{{{contest_id}}}:"
    if not client.exists(prefix + "ready"):
        return None
    return {int(member): int(score) for member, score in client.zrange(prefix + "all", 0, -1, withscores=True) if score}


def stored_counts(contest_id: int) -> dict[int, int]:
    """Valid votes per entry, as committed (read on a connection of its own)."""
    with db.engine.connect() as conn:
        rows = conn.execute(select(Vote.entry_id, func.count()).where(Vote.contest_id == contest_id, Vote.status == "valid")
                            .group_by(Vote.entry_id))
        return {entry_id: n for entry_id, n in rows}


@pytest.fixture
def server(app: Any, tmp_path: Path) -> Iterator[GunicornServer]:
    """The server on the test database and Redis DB; stopped before `app` empties both."""
    running = GunicornServer(tmp_path, redis_url=TEST_REDIS_URL)
    yield running
    running.stop()


# --- the test ---------------------------------------------------------------------------------

N_VOTERS = 200


def test_200_voters_at_once_through_two_gunicorn_workers(server):
    assert server.request("GET", "/api/v1/ping")[:2] == (200, {"ok": True})
    ballot = seed_ballot(N_VOTERS, 1, slug="server-burst")
    entry_id = ballot.entries[0].id  # read here: threads have no app context to load it in
    assert board(server, ballot) == {}  # this read builds the live board, which then follows every vote

    start = threading.Barrier(N_VOTERS)
    answers: list[Answer | BaseException] = [RuntimeError("not sent")] * N_VOTERS

    def vote(i: int) -> None:
        start.wait(timeout=30)
        try:
            answers[i] = post_vote(server, ballot.voters[i], entry_id, key=f"burst-{i}")
        except BaseException as exc:  # noqa: BLE001 - reported below with the others
            answers[i] = exc

    threads = [threading.Thread(target=vote, args=(i,)) for i in range(N_VOTERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a vote never finished"

    failures = [a for a in answers if isinstance(a, BaseException) or a[0] != 201]
    assert not failures, f"{len(failures)} votes not accepted, e.g. {failures[:3]}\n{server.log()}"
    bodies = [a[1] for a in answers if not isinstance(a, BaseException)]
    assert len({b["receipt"] for b in bodies}) == N_VOTERS
    assert {b["votes_left_today"] for b in bodies} == {4}

    with db.engine.connect() as conn:
        stored = {vote_id: (receipt, voter_id) for vote_id, receipt, voter_id in conn.execute(
            select(Vote.id, Vote.receipt, Vote.voter_id).where(Vote.entry_id == entry_id, Vote.status == "valid"))}
        events = conn.execute(select(func.count()).select_from(LedgerEvent).where(LedgerEvent.kind == "cast")).scalar()
    assert len(stored) == N_VOTERS and events == N_VOTERS
    assert {b["vote_id"]: b["receipt"] for b in bodies} == {vote_id: receipt for vote_id, (receipt, _v) in stored.items()}
    assert {voter_id for _r, voter_id in stored.values()} == {v.id for v in ballot.voters}

    live = redis_lib.Redis.from_url(TEST_REDIS_URL)
    assert redis_board(live, ballot.contest.id) == {entry_id: N_VOTERS}
    assert board(server, ballot) == {entry_id: N_VOTERS}
