"""The platform follows a PostgreSQL failover through a multi-host DATABASE_URL
(docs/DEPLOY.md, "PostgreSQL failover").

The test runs a replicated pair of its own: a primary (initdb and pg_ctl into a temporary
directory, on a free port) with synchronous replication, and a standby made from it with
pg_basebackup -R on another free port; never the machine's shared PostgreSQL. The app is
built on `postgresql+psycopg://postgres@/contest?host=<primary>&host=<standby>&
target_session_attrs=read-write`. Voters vote through the API in threads, each vote under
an Idempotency-Key and tried again after a 503, and a visitor reads pages, while the
primary is killed (`pg_ctl stop -m immediate`) and the standby promoted. What must hold:

- no request is answered 500: during the switch the API answers 503 `unavailable`, pages
  the site's error page, both with Retry-After;
- every vote acknowledged (201), before the switch and after it, is in the promoted
  database exactly once, with its ledger event, and nothing else is;
- the same app, never restarted, writes to the promoted server once it is promoted, and
  the sealing round seals there;
- `flask votes verify` passes on the promoted database, across blocks sealed before and
  after the switch.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask import Flask, Response, request
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from contest import create_app
from contest.accounts import service as accounts
from contest.accounts import units
from contest.accounts.actors import SYSTEM
from contest.clock import FixedClock
from contest.config import Settings
from contest.contests import service as contests
from contest.contests.models import Entry
from contest.errors import DATABASE_RETRY_AFTER, database_unavailable
from contest.extensions import db
from contest.voting.ledger import SEAL_GRACE
from tests.conftest import PASSWORD, START, IsolatedClient, free_ports, windows_around

# Its own primary and standby: the same in either pass, so it runs in one (scripts/test.sh).
pytestmark = pytest.mark.own_services

VOTERS = 6
ENTRIES = 16  # each voter votes once for each entry
AFTER_PROMOTION = 3  # the last votes of each voter wait for the promotion
PAUSE = 0.03  # seconds between a voter's votes, and between tries after a 503
DATABASE = "contest"
UNAVAILABLE = "服务暂时不可用，请稍后再试。"
AGENT = "ContestApp/2.3 (Android 14)"


class Cluster:
    """One PostgreSQL server of the pair: its data directory under the pair's root, its
    port, and the settings it starts with (on pg_ctl's command line)."""

    def __init__(self, bin_dir: Path, root: Path, name: str, port: int, settings: dict[str, str]) -> None:
        self.bin = bin_dir
        self.root = root
        self.name = name
        self.data = root / name
        self.port = port
        self.settings = settings
        # initdb refuses to run as root: the servers then run as the postgres account.
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    @property
    def log(self) -> Path:
        return self.root / f"{self.name}.log"

    def run(self, program: str, *args: str) -> str:
        done = subprocess.run([*self.as_user, str(self.bin / program), *args], capture_output=True, text=True,
                              timeout=120, check=False)
        if done.returncode != 0:
            tail = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise AssertionError(f"{program} {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}\n"
                                 f"--- {self.log.name}:\n{tail}")
        return done.stdout

    def start(self) -> None:
        options = " ".join([f"-p {self.port}", f"-k {self.root}", "-c listen_addresses=127.0.0.1",
                            *(f"-c {name}={value}" for name, value in self.settings.items())])
        self.run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.log), "-w", "-t", "60", "start")

    def stop(self) -> None:
        """Kill the server as a crash would: no shutdown checkpoint, clients cut off."""
        self.run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    @property
    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def query(self, sql: str, dbname: str = "postgres") -> list[tuple[Any, ...]]:
        with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname=dbname, autocommit=True,
                             connect_timeout=5) as conn:
            cursor = conn.execute(sql)
            return cursor.fetchall() if cursor.description else []


@dataclass
class Pair:
    primary: Cluster
    standby: Cluster

    @property
    def url(self) -> str:
        """The multi-host form the app is given: the primary first, then the standby."""
        return (f"postgresql+psycopg://postgres@/{DATABASE}?host=127.0.0.1:{self.primary.port}"
                f"&host=127.0.0.1:{self.standby.port}&target_session_attrs=read-write&connect_timeout=2")

    def standby_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.standby.port}/{DATABASE}"


def _wait_for(what: str, condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def pair() -> Iterator[Pair]:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    assert found, "PostgreSQL's server programs are needed (Debian package postgresql)"
    bin_dir = Path(found[-1]).parent
    root = Path(tempfile.mkdtemp(prefix="contest-failover-"))
    if os.geteuid() == 0:
        account = pwd.getpwnam("postgres")
        os.chown(root, account.pw_uid, account.pw_gid)
    primary_port, standby_port = free_ports(2)
    # fsync off: the servers are killed, never the machine, so what they wrote is kept.
    common = {"fsync": "off", "shared_buffers": "16MB", "max_connections": "60"}
    primary = Cluster(bin_dir, root, "primary", primary_port, {**common, "wal_level": "replica", "max_wal_senders": "4"})
    standby = Cluster(bin_dir, root, "standby", standby_port, {**common, "hot_standby": "on"})
    try:
        primary.run("initdb", "-D", str(primary.data), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8",
                    "--locale=C.UTF-8")
        with (primary.data / "pg_hba.conf").open("a") as hba:
            hba.write("host replication postgres 127.0.0.1/32 trust\n")
        primary.start()
        primary.query(f"CREATE DATABASE {DATABASE}")
        primary.run("pg_basebackup", "-D", str(standby.data), "-h", "127.0.0.1", "-p", str(primary.port), "-U",
                    "postgres", "-R", "-X", "stream", "-c", "fast", "--no-sync")
        standby.start()
        # From now on a commit is acknowledged once the standby has it: no acknowledged
        # vote is lost. Set after the base backup, so that the standby does not inherit
        # it: promoted with it, it would wait on every commit for a standby of its own.
        primary.query("ALTER SYSTEM SET synchronous_standby_names = '*'")
        primary.query("SELECT pg_reload_conf()")
        _wait_for("the standby to stream synchronously", lambda: primary.query(
            "SELECT sync_state FROM pg_stat_replication") == [("sync",)], 30)
        yield Pair(primary, standby)
    finally:
        for cluster in (standby, primary):
            if cluster.running:
                try:
                    cluster.stop()
                except AssertionError:
                    pass
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class Voter:
    id: int
    phone: str
    address: str
    token: str = ""


@dataclass
class Tally:
    """What the clients saw, from every thread."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    # (voter id, entry id) -> (vote id, receipt, when it was acknowledged)
    acknowledged: dict[tuple[int, int], tuple[int, str, float]] = field(default_factory=dict)
    vote_statuses: Counter[int] = field(default_factory=Counter)
    page_statuses: Counter[int] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    def acknowledgements(self) -> int:
        with self.lock:
            return len(self.acknowledged)

    def refusals(self) -> int:
        with self.lock:
            return self.vote_statuses[503]

    def problem(self, text_: str) -> None:
        with self.lock:
            self.problems.append(text_)


def _unavailable_problem(response: Any, *, api: bool) -> str:
    """What is wrong with a 503 (empty when it is the documented answer)."""
    if response.headers.get("Retry-After") != str(DATABASE_RETRY_AFTER):
        return f"503 without Retry-After: {response.headers}"
    if api:
        body = response.get_json(silent=True)
        if body != {"error": {"code": "unavailable", "message": UNAVAILABLE}}:
            return f"503 with an unexpected body: {body}"
    else:
        html = response.get_data(as_text=True)
        if response.mimetype != "text/html" or UNAVAILABLE not in html or "Traceback" in html:
            return f"503 with an unexpected page: {html[:300]}"
    return ""


def _vote_everywhere(client: FlaskClient, voter: Voter, entry_ids: list[int], tally: Tally, promoted: threading.Event,
                     stop: threading.Event) -> None:
    """Vote for each entry once, a moment apart, the last AFTER_PROMOTION votes only once
    the standby is promoted; after a 503 try again under the same Idempotency-Key, as the
    API's clients are told to, so that a vote whose answer was lost is not cast twice."""
    try:
        for n, entry_id in enumerate(entry_ids):
            if n == len(entry_ids) - AFTER_PROMOTION and not (promoted.wait(30) and not stop.is_set()):
                tally.problem(f"voter {voter.id}: the standby was never promoted")
                return
            while not stop.is_set():
                response = client.post(
                    f"/api/v1/entries/{entry_id}/votes", json={}, environ_base={"REMOTE_ADDR": voter.address},
                    headers={"Authorization": f"Bearer {voter.token}", "Idempotency-Key": f"failover-{voter.id}-{entry_id}",
                             "X-Device-Id": f"device-{voter.id}", "User-Agent": AGENT})
                with tally.lock:
                    tally.vote_statuses[response.status_code] += 1
                if response.status_code == 201:
                    body = response.get_json()
                    with tally.lock:
                        tally.acknowledged[(voter.id, entry_id)] = (body["vote_id"], body["receipt"], time.monotonic())
                    time.sleep(PAUSE)
                    break
                problem = _unavailable_problem(response, api=True) if response.status_code == 503 else (
                    f"{response.status_code} {response.get_data(as_text=True)[:300]}")
                if problem:
                    tally.problem(f"voter {voter.id}, entry {entry_id}: {problem}")
                    return
                time.sleep(PAUSE)
    except Exception:  # a propagated error is a failure too, reported by the test
        tally.problem(traceback.format_exc())


def _browse(client: FlaskClient, slug: str, tally: Tally, done: threading.Event) -> None:
    """A visitor reading pages and the API's leaderboard throughout."""
    reads = [("/", False), (f"/c/{slug}", False), (f"/c/{slug}/leaderboard", False),
             (f"/api/v1/contests/{slug}/leaderboard", True)]
    try:
        while not done.is_set():
            for url, api in reads:
                response = client.get(url, environ_base={"REMOTE_ADDR": "10.200.0.1"})
                with tally.lock:
                    tally.page_statuses[response.status_code] += 1
                if response.status_code == 503:
                    problem = _unavailable_problem(response, api=api)
                    if problem:
                        tally.problem(f"{url}: {problem}")
                elif response.status_code != 200:
                    tally.problem(f"{url}: {response.status_code} {response.get_data(as_text=True)[:300]}")
            time.sleep(0.05)
    except Exception:
        tally.problem(traceback.format_exc())


def _read_held_page(client: FlaskClient, url: str, into: dict[str, Any]) -> None:
    try:
        response = client.get(url, headers={"X-Hold-Until-Failover": "1"}, environ_base={"REMOTE_ADDR": "10.201.0.1"})
        into["status"] = response.status_code
    except Exception:
        into["error"] = traceback.format_exc()


def _season(app: Flask, clock: FixedClock) -> tuple[str, list[int], list[Voter]]:
    """A media contest in its voting stage, its entries, and voters of some standing."""
    now = clock.now()
    windows: dict[str, tuple[datetime | None, datetime | None]] = dict(windows_around(now, "voting"))
    with app.app_context():
        upgrade()
        contest = contests.create_contest(db.session, actor=SYSTEM, now=now, changes=contests.ContestChanges(
            unit_id=units.ensure_unit(db.session, name="济南市教育局", now=now).id,
            slug="failover", kind="media", title="故障切换测试", theme="技能：让生活更美好", summary="测试用的活动",
            rules_text="规则", windows=windows,
            rules={"captcha_mode": "never", "votes_per_day": ENTRIES}))
        entries = [Entry(contest_id=contest.id, title=f"作品{n}", description="作品介绍", status="approved",
                         created_at=now, updated_at=now, submitted_at=now, published_at=now - timedelta(minutes=n + 1))
                   for n in range(ENTRIES)]
        db.session.add_all(entries)
        voters = []
        for n in range(VOTERS):
            user = accounts.create_user(db.session, phone=f"1370000{n:04d}", password=PASSWORD, roles=["citizen"], now=now)
            user.created_at = now - timedelta(days=90)  # no new-account risk points
            db.session.flush()
            # each voter from its own network, as on phones: no shared-address signals
            voters.append(Voter(id=user.id, phone=user.phone, address=f"10.{n + 1}.0.{n + 1}"))
        db.session.commit()
        entry_ids = [e.id for e in entries]
        db.session.remove()
    return "failover", entry_ids, voters


def test_production_settings_accept_a_multi_host_url(tmp_path):
    url = ("postgresql+psycopg://contest:secret@/contest?host=pg-a:5432&host=pg-b:5432"
           "&target_session_attrs=read-write&connect_timeout=2")
    settings = Settings(env="production", instance_path=str(tmp_path), secret_key="s" * 32, database_url=url,
                        # a closed port: building the app connects to nothing
                        redis_url="redis://127.0.0.1:1/0", public_base_url="https://vote.example.cn").with_defaults()
    assert settings.database_url == url
    app = create_app(settings)
    with app.app_context():
        engine_url = db.engine.url
        args = db.engine.dialect.create_connect_args(engine_url)[1]
        assert app.config["SQLALCHEMY_ENGINE_OPTIONS"]["pool_pre_ping"] is True
        db.engine.dispose()
    # SQLAlchemy hands libpq both hosts, in order, and the attribute that skips a standby
    assert (args["host"], args["port"], args["target_session_attrs"]) == ("pg-a,pg-b", "5432,5432", "read-write")


def test_votes_survive_a_failover_to_the_synchronous_standby(pair, tmp_path):
    clock = FixedClock(START)
    # Rate limits off: every client here retries through the switch from one process,
    # which the per-address limits (tested elsewhere) would rightly refuse.
    app = create_app(Settings(env="testing", instance_path=str(tmp_path / "instance"), secret_key="k" * 40,
                              database_url=pair.url, redis_url="", media_root=str(tmp_path / "media"),
                              ratelimit_enabled=False, extra={"clock": clock}))
    app.test_client_class = IsolatedClient
    tasks = app.extensions["job_tasks"]
    # One page is held after it has been read and rendered, its transaction still open,
    # until the primary is gone: the request in flight at the moment of the crash.
    held, released = threading.Event(), threading.Event()

    @app.after_request
    def hold_until_the_primary_is_gone(response: Response) -> Response:
        if request.headers.get("X-Hold-Until-Failover"):
            held.set()
            released.wait(30)
        return response

    tally, promoted, stop = Tally(), threading.Event(), threading.Event()
    threads: list[threading.Thread] = []
    try:
        slug, entry_ids, voters = _season(app, clock)
        for voter in voters:
            response = app.test_client().post("/api/v1/auth/token", json={"phone": voter.phone, "password": PASSWORD},
                                              environ_base={"REMOTE_ADDR": voter.address})
            assert response.status_code == 201, response.get_json()
            voter.token = response.get_json()["token"]
        voting = [threading.Thread(target=_vote_everywhere, args=(app.test_client(), v, entry_ids, tally, promoted, stop),
                                   daemon=True) for v in voters]
        threads = [*voting, threading.Thread(target=_browse, args=(app.test_client(), slug, tally, stop), daemon=True)]
        for thread in threads:
            thread.start()

        # Before: votes acknowledged by the primary, and a block sealed there.
        _wait_for("votes before the switch", lambda: tally.acknowledgements() >= 2 * VOTERS or bool(tally.problems), 20)
        clock.advance(seconds=SEAL_GRACE.total_seconds() + 1)
        assert tasks.seal_once() is not None
        in_flight: dict[str, Any] = {}
        holder = threading.Thread(target=_read_held_page, args=(app.test_client(), f"/c/{slug}", in_flight), daemon=True)
        holder.start()
        assert held.wait(20), in_flight

        # The primary dies with requests in flight. Until the standby is promoted no
        # server takes writes: the pooled connections are dropped, new ones are refused,
        # and requests are answered 503.
        pair.primary.stop()
        stopped_at = time.monotonic()
        released.set()
        holder.join(30)
        # what the held page had read stands: its transaction ended with the server
        assert in_flight.get("status") == 200, in_flight
        with pytest.raises(sa_exc.OperationalError) as sealing_failed:
            tasks.seal_once()  # the sealing round fails cleanly; its turn tries again 2 s later
        assert database_unavailable(sealing_failed.value)
        # libpq tried both: the primary refused, the standby was passed over as read-only
        assert "Connection refused" in str(sealing_failed.value) and "read-only" in str(sealing_failed.value)
        _wait_for("503s during the switch", lambda: (tally.refusals() >= VOTERS and time.monotonic() > stopped_at + 1)
                  or bool(tally.problems), 15)

        pair.standby.run("pg_ctl", "-D", str(pair.standby.data), "-w", "-t", "60", "promote")
        promoted_at = time.monotonic()
        promoted.set()
        for thread in voting:
            thread.join(60)
        stop.set()
        for thread in threads:
            thread.join(30)
        assert not any(t.is_alive() for t in threads), "a client is stuck"

        assert tally.problems == [], "\n".join(tally.problems[:5])
        assert set(tally.vote_statuses) == {201, 503}, tally.vote_statuses
        assert set(tally.page_statuses) <= {200, 503} and tally.page_statuses[200] > 0, tally.page_statuses
        expected = {(v.id, e) for v in voters for e in entry_ids}
        assert set(tally.acknowledged) == expected
        assert sum(at < stopped_at for _vote, _receipt, at in tally.acknowledged.values()) >= 2 * VOTERS
        # every voter's last votes went through the same app once the standby was promoted
        assert sum(at > promoted_at for _vote, _receipt, at in tally.acknowledged.values()) >= VOTERS * AFTER_PROMOTION

        # The same app now reads and writes on the promoted server, and seals there.
        with app.app_context():
            port, in_recovery = db.session.execute(text("SELECT inet_server_port(), pg_is_in_recovery()")).one()
            db.session.remove()
        assert (port, in_recovery) == (pair.standby.port, False)
        assert app.test_client().get("/healthz").status_code == 200
        clock.advance(seconds=SEAL_GRACE.total_seconds() + 1)
        assert tasks.seal_once() is not None

        # Exactly the acknowledged votes are on the promoted server, each with one cast
        # event, sealed.
        stored = pair.standby.query(
            "SELECT v.voter_id, v.entry_id, v.id, v.receipt, count(e.id) FILTER (WHERE e.kind = 'cast'), "
            "count(e.block_id) FROM vote v LEFT JOIN ledger_event e ON e.vote_id = v.id "
            "GROUP BY v.id ORDER BY v.id", DATABASE)
        assert len(stored) == len(expected)
        assert {(voter_id, entry_id): (vote_id, receipt) for voter_id, entry_id, vote_id, receipt, _c, _s in stored} == {
            key: (vote_id, receipt) for key, (vote_id, receipt, _at) in tally.acknowledged.items()}
        assert all(casts == 1 and sealed == 1 for *_row, casts, sealed in stored)
    finally:
        stop.set()
        promoted.set()
        released.set()
        for thread in threads:
            thread.join(10)
        with app.app_context():
            db.engine.dispose()

    # The ledger on the promoted server, read by an app of its own, verifies end to end.
    verifier = create_app(Settings(env="testing", instance_path=str(tmp_path / "verify"), secret_key="v" * 40,
                                   database_url=pair.standby_url(), redis_url="", media_root=str(tmp_path / "vmedia")))
    try:
        result = verifier.test_cli_runner().invoke(args=["votes", "verify"])
    finally:
        with verifier.app_context():
            db.engine.dispose()
    assert result.exit_code == 0, result.output
    blocks = pair.standby.query("SELECT count(*) FROM ledger_block", DATABASE)[0][0]
    assert blocks >= 2
    assert f"OK: {blocks} blocks, {len(expected)} events" in result.output
