"""The database goes away: every request is a 503 with Retry-After, logged once per burst.

The PostgreSQL test runs a server of its own (initdb and pg_ctl into a temporary
directory, on a free port), builds the schema with the migrations, stops that server with
requests still coming, and starts it again: never the machine's shared PostgreSQL. The
SQLite test moves the database's directory away. What an outage must look like:

- the API answers 503 `unavailable` in the JSON error shape, a page the site's error page,
  both with Retry-After, for visitors and signed-in citizens alike;
- the log has one warning when the outage starts and one when it ends, no traceback,
  however many requests were refused in between;
- once the database is back, the same app serves again.
"""

from __future__ import annotations

import glob
import logging
import os
import pwd
import shutil
import socket
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import create_engine
from sqlalchemy import exc as sa_exc

from contest import create_app
from contest.accounts import service as accounts
from contest.clock import FixedClock
from contest.config import Settings
from contest.errors import DATABASE_RETRY_AFTER, OutageLog, database_unavailable
from contest.extensions import db
from tests.conftest import PASSWORD, START, TEST_DATABASE_URL, IsolatedClient, login

UNAVAILABLE = "服务暂时不可用，请稍后再试。"
BURST = 50


class PrivatePostgres:
    """A PostgreSQL server of this test's own on a free port, without durability (fsync
    off): started, stopped and started again at will, removed afterwards."""

    def __init__(self) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        assert found, "PostgreSQL's server programs are needed (Debian package postgresql)"
        self.bin = Path(found[-1]).parent
        self.root = Path(tempfile.mkdtemp(prefix="contest-pg-"))
        self.data = self.root / "data"
        # initdb refuses to run as root: the server then runs as the postgres account.
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            account = pwd.getpwnam("postgres")
            os.chown(self.root, account.pw_uid, account.pw_gid)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8",
                  "--locale=C.UTF-8")
        self.start()

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, program: str, *args: str) -> None:
        subprocess.run([*self.as_user, str(self.bin / program), *args], check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -F -c shared_buffers=16MB -c max_connections=40"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "server.log"), "-w", "-t", "60",
                  "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def remove(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres()
    try:
        yield server
    finally:
        server.remove()


def make_app(tmp_path: Path, database_url: str) -> Flask:
    """An app on that database, its schema built by the migrations. Called from fixtures:
    the migrations configure logging (alembic.ini) and would unhook a test's caplog."""
    app = create_app(Settings(env="testing", instance_path=str(tmp_path / "instance"), secret_key="k" * 40,
                              database_url=database_url, media_root=str(tmp_path / "media"),
                              extra={"clock": FixedClock(START)}))
    app.test_client_class = IsolatedClient
    with app.app_context():
        upgrade()
        accounts.create_user(db.session, phone="13700000001", password=PASSWORD, roles=["citizen"], now=START)
        db.session.commit()
        db.session.remove()
    return app


def outage_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """What an operator would see: warnings and worse, the access log aside."""
    return [r for r in caplog.records if r.levelno >= logging.WARNING]


def assert_unavailable(response: Any, *, api: bool) -> None:
    assert response.status_code == 503, response.get_data(as_text=True)[:300]
    assert response.headers["Retry-After"] == str(DATABASE_RETRY_AFTER)
    if api:
        assert response.get_json() == {"error": {"code": "unavailable", "message": UNAVAILABLE}}
    else:
        html = response.get_data(as_text=True)
        assert response.mimetype == "text/html"
        assert "<h1>服务暂时不可用</h1>" in html and UNAVAILABLE in html
        assert 'class="site-header"' in html
        assert "Traceback" not in html


def browse(app: Flask) -> tuple[Any, Any]:
    """A visitor and a signed-in citizen, served while the database is up."""
    visitor, citizen = app.test_client(), app.test_client()
    with app.app_context():
        login(citizen, accounts.find_user_by_phone(db.session, "13700000001"))
    for client in (visitor, citizen):
        assert client.get("/").status_code == 200
        assert client.get("/api/v1/contests").status_code == 200
    return visitor, citizen


def refuse_a_burst(visitor: Any, citizen: Any, caplog: pytest.LogCaptureFixture) -> None:
    """BURST requests, pages and API calls, all 503, and one warning in the log. (The
    anonymous visitor asks for pages the shared page cache does not hold: a page it holds
    is served from it without the database, as nginx's micro-cache would serve it.)"""
    caplog.clear()
    for i in range(BURST):
        client = (visitor, citizen)[i % 2]
        if i % 3 == 0:
            assert_unavailable(client.get(f"/api/v1/contests?n={i}"), api=True)
        elif i % 3 == 1:
            assert_unavailable(client.get(f"/?n={i}"), api=False)
        else:
            assert_unavailable(client.get("/c/no-such-contest/entries", headers={"Accept": "application/json"}), api=True)
    records = outage_records(caplog)
    assert len(records) == 1, [(r.name, r.getMessage()) for r in records]
    assert records[0].name == "contest.errors"
    assert records[0].getMessage().startswith("database unavailable, answering 503 until it is back")
    assert records[0].exc_info is None and "Traceback" not in caplog.text
    health = visitor.get("/healthz")
    assert health.status_code == 503 and health.get_json()["database"] == "down"


def assert_back(visitor: Any, citizen: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.clear()
    assert visitor.get("/api/v1/contests").status_code == 200
    assert visitor.get("/").status_code == 200
    page = citizen.get("/")
    assert page.status_code == 200 and "退出" in page.get_data(as_text=True)  # still signed in
    records = outage_records(caplog)
    assert len(records) == 1, [(r.name, r.getMessage()) for r in records]
    assert records[0].getMessage().startswith("database available again after")
    assert f"{BURST} requests were answered 503" in records[0].getMessage()


@pytest.fixture
def postgresql_app(private_postgres: PrivatePostgres, tmp_path: Path) -> Iterator[Flask]:
    app = make_app(tmp_path, private_postgres.url)
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def sqlite_app(tmp_path: Path) -> Iterator[Flask]:
    (tmp_path / "data").mkdir()
    app = make_app(tmp_path, f"sqlite:///{tmp_path / 'data' / 'contest.sqlite3'}")
    yield app
    with app.app_context():
        db.engine.dispose()


def test_postgresql_going_away_is_a_503_logged_once(postgresql_app, private_postgres, caplog):
    app = postgresql_app
    visitor, citizen = browse(app)

    private_postgres.stop()
    refuse_a_burst(visitor, citizen, caplog)

    private_postgres.start()
    assert_back(visitor, citizen, caplog)


def test_a_vote_while_postgresql_is_away_is_a_503_and_the_limiter_keeps_its_storage(postgresql_app, private_postgres):
    """The vote route's per-voter limit reads the voter's token from the database: that
    failing is the database's outage (503), not the limiter's storage failing (which would
    move the worker to per-worker memory limits, then fail on the dead session: a 500)."""
    app = postgresql_app
    api = app.test_client()
    issued = api.post("/api/v1/auth/token", json={"phone": "13700000001", "password": PASSWORD})
    assert issued.status_code == 201, issued.get_json()
    token = issued.get_json()["token"]
    private_postgres.stop()
    for _ in range(3):
        answer = api.post("/api/v1/entries/1/votes", json={}, headers={"Authorization": f"Bearer {token}"})
        assert_unavailable(answer, api=True)
    from contest.extensions import limiter
    assert limiter._storage_dead is False  # the limiter's own storage never failed
    private_postgres.start()


def test_sqlite_file_out_of_reach_is_a_503_logged_once(sqlite_app, tmp_path, caplog):
    app, folder = sqlite_app, tmp_path / "data"
    visitor, citizen = browse(app)

    # The volume holding the database goes away; connections opened before it went keep
    # their file open, so they are closed as a restarted worker would have none.
    folder.rename(tmp_path / "gone")
    with app.app_context():
        db.engine.dispose()
    refuse_a_burst(visitor, citizen, caplog)

    (tmp_path / "gone").rename(folder)
    assert_back(visitor, citizen, caplog)


# --- what counts as an outage ---------------------------------------------------------

def sqlite_error(tmp_path: Path, statement: str, *, lock: bool = False) -> BaseException:
    path = tmp_path / "errors.sqlite3"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE IF NOT EXISTS t (x INTEGER PRIMARY KEY)")
    if lock:
        holder.execute("BEGIN EXCLUSIVE")
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 0})
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA busy_timeout=0")
            conn.exec_driver_sql(statement)
    except sa_exc.SQLAlchemyError as exc:
        return exc
    finally:
        engine.dispose()
        holder.close()
    raise AssertionError(f"{statement} did not fail")


def test_locked_and_unreachable_sqlite_are_outages_a_missing_table_is_not(tmp_path):
    assert database_unavailable(sqlite_error(tmp_path, "INSERT INTO t VALUES (1)", lock=True))
    assert database_unavailable(sqlite_error(tmp_path, "SELECT * FROM no_such_table")) is False
    assert database_unavailable(sqlite_error(tmp_path, "SELEC 1")) is False
    assert database_unavailable(sqlite_error(tmp_path, "INSERT INTO t VALUES (NULL), ('x')")) is False
    try:
        create_engine(f"sqlite:///{tmp_path / 'missing-folder' / 'x.sqlite3'}").connect()
    except sa_exc.OperationalError as exc:
        assert database_unavailable(exc)
    else:
        raise AssertionError("connecting did not fail")
    with pytest.raises(sqlite3.OperationalError) as raw:
        sqlite3.connect(tmp_path / "missing-folder" / "x.sqlite3")
    assert database_unavailable(raw.value)


def test_refused_postgresql_connections_are_outages_statement_errors_are_not(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    try:
        create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{closed_port}/none").connect()
    except sa_exc.OperationalError as exc:
        assert database_unavailable(exc)
    else:
        raise AssertionError("connecting did not fail")
    with pytest.raises(psycopg.OperationalError) as raw:
        psycopg.connect(f"host=127.0.0.1 port={closed_port} user=postgres connect_timeout=2")
    assert database_unavailable(raw.value)
    if TEST_DATABASE_URL.startswith("postgresql"):
        engine = create_engine(TEST_DATABASE_URL)
        try:
            # a programming error, a bad value, a limit (54000) and a cancelled statement
            # (57014): the last two are psycopg OperationalErrors that are no outage
            for statements in (["SELECT * FROM no_such_table"], ["SELEC 1"], ["SELECT 1/0"], ["SELECT 2147483648::int4"],
                               ["SELECT chr(0)"], ["SET statement_timeout = 10", "SELECT pg_sleep(1)"]):
                with pytest.raises(sa_exc.DBAPIError) as caught, engine.connect() as conn:
                    for statement in statements:
                        conn.exec_driver_sql(statement)
                assert database_unavailable(caught.value) is False, statements
        finally:
            engine.dispose()
    assert database_unavailable(RuntimeError("unable to open database file")) is False
    assert database_unavailable(sa_exc.IntegrityError("INSERT", {}, sqlite3.IntegrityError("UNIQUE"))) is False


def test_a_long_outage_is_logged_once_a_minute_with_a_count(caplog):
    now = [0.0]
    log = OutageLog(logging.getLogger("contest.errors"), every=60, monotonic=lambda: now[0])
    error = sqlite3.OperationalError("unable to open database file")
    with caplog.at_level(logging.WARNING, logger="contest.errors"):
        for _second in range(150):
            log.refused(error)
            log.refused(error)
            now[0] += 1
        log.answered()
        log.answered()
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 4, lines
    assert lines[0] == "database unavailable, answering 503 until it is back: OperationalError: unable to open database file"
    assert lines[1].startswith("database still unavailable after 60 s: 120 requests answered 503 since the last line")
    assert lines[2].startswith("database still unavailable after 120 s: 120 requests answered 503 since the last line")
    assert lines[3] == "database available again after 150 s; 300 requests were answered 503"
    assert all(r.exc_info is None for r in caplog.records)
