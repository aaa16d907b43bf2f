"""Fixtures in the spirit of Flask's tutorial: app, client, runner, and factories.

The same tests run on the embedded default (SQLite, no Redis) and, when
TEST_DATABASE_URL / TEST_REDIS_URL are set, on PostgreSQL and Redis.
"""

from __future__ import annotations

import itertools
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import create_engine, event, select, text
from sqlalchemy.engine import make_url
from werkzeug.serving import make_server

from contest import create_app
from contest.accounts import service as accounts
from contest.accounts.actors import SYSTEM
from contest.accounts.models import OrganisingUnit, UnitMembership, User
from contest.clock import LOCAL_TZ, FixedClock
from contest.config import Settings
from contest.contests import service as contests
from contest.contests.models import STAGES, Contest, Entry, NomineeProfile, School
from contest.db import Base
from contest.extensions import db, limiter
from tests.video_entries import make_source_clips

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "")
ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "Passw0rd2023"
# A fixed moment inside the 2023 Activity Week, Asia/Shanghai.
START = datetime(2023, 5, 16, 10, 0, tzinfo=LOCAL_TZ)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database built by the migrations once per run."""
    if TEST_DATABASE_URL:
        engine = create_engine(TEST_DATABASE_URL)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        url = TEST_DATABASE_URL
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
    app = create_app(_settings(url, tmp_path_factory.mktemp("migrate"), FixedClock(START)))
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return url


def _settings(url: str, tmp: Path, clock: FixedClock, **extra: Any) -> Settings:
    return Settings(
        env="testing", instance_path=str(tmp / "instance"), secret_key="test-secret-key-" + "x" * 24,
        database_url=url, redis_url=TEST_REDIS_URL, media_root=str(tmp / "media"), extra={"clock": clock, **extra},
    )


_hashes: dict[str, str] = {}


@pytest.fixture(autouse=True)
def hash_each_password_once(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 is slow on purpose, and most tests make accounts with the same password: hash
    each password once per run (logging in still verifies for real). The accounts tests
    keep the real, salted hashing they examine."""
    if "tests/accounts/" in str(request.node.path).replace("\\", "/"):
        return
    real = accounts.hash_password

    def cached(password: str) -> str:
        if password not in _hashes:
            _hashes[password] = real(password)
        return _hashes[password]

    monkeypatch.setattr(accounts, "hash_password", cached)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def app(database_url: str, tmp_path: Path, clock: FixedClock) -> Iterator[Flask]:
    app = create_app(_settings(database_url, tmp_path, clock))
    with app.app_context():
        yield app
        db.session.remove()
        _empty_tables()
        if app.extensions["redis"] is not None:
            app.extensions["redis"].flushdb()
        limiter.reset()
        # Each test's app has its own engine: close its pool, or PostgreSQL runs out of
        # connections over a long run.
        db.engine.dispose()


def _empty_tables() -> None:
    tables = Base.metadata.sorted_tables
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(tables):
                conn.execute(table.delete())


class IsolatedClient(FlaskClient):
    """Each request in its own app context, as on a real server.

    The `app` fixture keeps a context pushed for the test's own database work, and Flask
    3.1 would otherwise reuse it for every request: requests would share `g` (where
    flask-login caches the signed-in user) and the test's session (so pending work would
    look stored).
    """

    def open(self, *args: Any, **kwargs: Any):  # type: ignore[no-untyped-def, override]
        with self.application.app_context():
            return super().open(*args, **kwargs)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    app.test_client_class = IsolatedClient
    return app.test_client()


@pytest.fixture
def runner(app: Flask):  # type: ignore[no-untyped-def]
    return app.test_cli_runner()


CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(client: FlaskClient, url: str) -> str:
    """The CSRF token of the form on the page at url."""
    page = client.get(url)
    match = CSRF_RE.search(page.get_data(as_text=True))
    assert match, f"no csrf token on {url} ({page.status_code})"
    return match.group(1)


def submit(client: FlaskClient, page_url: str, data: dict[str, Any], action: str | None = None, **kwargs: Any):  # type: ignore[no-untyped-def]
    """Post a form the way a browser does: take the token from the page, then send."""
    token = csrf_token(client, page_url)
    return client.post(action or page_url, data={"csrf_token": token, **data}, **kwargs)


_phones = itertools.count(1)


@pytest.fixture
def make_user(app: Flask, clock: FixedClock) -> Callable[..., User]:
    """An account with these global roles. An "organiser" is also made an organiser of the
    unit that make_contest's contests belong to (`unit=` names another; `unit_role=` gives
    another role there), as the back office gives powers by unit."""
    def make(*roles: str, phone: str | None = None, password: str = PASSWORD, name: str = "",
             unit: OrganisingUnit | None = None, unit_role: str = "organiser") -> User:
        phone = phone or f"137{next(_phones):08d}"
        user = accounts.create_user(db.session, phone=phone, password=password, roles=list(roles) or ["citizen"],
                                    now=clock.now(), display_name=name)
        if "organiser" in roles or unit is not None:
            user.memberships.append(UnitMembership(unit=unit or fixture_unit(clock), role=unit_role, granted_at=clock.now()))
        db.session.commit()
        return user
    return make


def scratch_database(tmp_path: Path, schema: str) -> Iterator[str]:
    """The URL of an empty database of a test's own, for migrating down and up: a SQLite
    file, or a PostgreSQL schema of that name (dropped afterwards)."""
    if not TEST_DATABASE_URL:
        yield f"sqlite:///{tmp_path / (schema + '.sqlite3')}"
        return
    engine = create_engine(TEST_DATABASE_URL)
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield make_url(TEST_DATABASE_URL).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False)
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        engine.dispose()


TEST_UNIT = "测试主办单位"


def fixture_unit(clock: FixedClock | None = None, name: str = TEST_UNIT, level: str = "city", district: str = "") -> OrganisingUnit:
    """The organising unit of that name, made on first use (committed by the caller)."""
    unit = db.session.scalar(select(OrganisingUnit).where(OrganisingUnit.name == name))
    if unit is None:  # as an operator would make it, without the audit row tests would trip over
        unit = OrganisingUnit(name=name, level=level, district=district,
                              created_at=clock.now() if clock is not None else datetime.now(UTC))
        db.session.add(unit)
        db.session.flush()
    return unit


@pytest.fixture
def make_unit(app: Flask, clock: FixedClock) -> Callable[..., OrganisingUnit]:
    def make(name: str, level: str = "district", district: str = "历下区") -> OrganisingUnit:
        unit = fixture_unit(clock, name, level, district if level == "district" else "")
        db.session.commit()
        return unit
    return make


def login(client: FlaskClient, user: User, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    response = submit(client, "/account/login", {"phone": user.phone, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return response


def sign_in_id(user: User) -> str:
    """A new sign-in for the user, committed; returns the id flask-login keeps for it in
    the session (`session["_user_id"]`), for tests that sign in without the login form."""
    from flask import current_app

    token = accounts.open_login_session(db.session, user=user, now=current_app.extensions["clock"].now())
    db.session.commit()
    return token


@pytest.fixture
def make_school(app: Flask, clock: FixedClock) -> Callable[..., School]:
    counter = itertools.count(1)

    def make(name: str | None = None, district: str = "历下区", enrolment: int = 1500, level: str = "中职") -> School:
        school = contests.save_school(db.session, actor=SYSTEM, school=None, name=name or f"济南测试职业学校{next(counter)}",
                                      district=district, level=level, enrolment=enrolment, now=clock.now())
        db.session.commit()
        return school
    return make


def windows_around(now: datetime, current: str) -> dict[str, tuple[datetime, datetime]]:
    """Stage windows laid out one after another so that `current` contains now."""
    index = STAGES.index(current) if current in STAGES else (-1 if current == "closed" else len(STAGES))
    windows = {}
    for i, stage in enumerate(STAGES):
        start = now + timedelta(days=3 * (i - index) - 1)
        if current == "closed":
            start = now - timedelta(days=3 * (len(STAGES) - i) + 1)
        elif current == "upcoming":
            start = now + timedelta(days=3 * i + 1)
        windows[stage] = (start, start + timedelta(days=3))
    return windows


@pytest.fixture
def make_contest(app: Flask, clock: FixedClock) -> Callable[..., Contest]:
    counter = itertools.count(1)

    def make(kind: str = "media", stage: str = "voting", slug: str | None = None, title: str | None = None,
             categories: tuple[str, ...] = ("摄影作品", "短视频"), **changes: Any) -> Contest:
        n = next(counter)
        changes.setdefault("unit_id", fixture_unit(clock).id)
        contest = contests.create_contest(db.session, actor=SYSTEM, now=clock.now(), changes=contests.ContestChanges(
            slug=slug or f"test-contest-{n}", kind=kind, title=title or f"测试活动{n}", theme="技能：让生活更美好",
            summary="测试用的活动", rules_text="第一段规则\n\n第二段规则", windows=windows_around(clock.now(), stage), **changes,
        ))
        for name in categories:
            contests.add_category(db.session, actor=SYSTEM, contest=contest, kind="category", name=name, now=clock.now())
        db.session.commit()
        return contest
    return make


@pytest.fixture
def make_entry(app: Flask, clock: FixedClock) -> Callable[..., Entry]:
    counter = itertools.count(1)

    def make(contest: Contest, *, status: str = "approved", title: str | None = None, school: School | None = None,
             category_id: int | None = None, nominee: str | None = None, published_offset: int = 0) -> Entry:
        n = next(counter)
        now = clock.now()
        entry = Entry(contest_id=contest.id, title=title or f"作品{n}", description="作品介绍", status=status,
                      school_id=school.id if school else None, category_id=category_id, created_at=now, updated_at=now,
                      submitted_at=now, published_at=now + timedelta(minutes=published_offset or n) if status == "approved" else None)
        if nominee:
            # As the nomination form's defaults leave it: 公开照片 chosen, the story shown.
            entry.nominee = NomineeProfile(name=nominee, gender="female", story="故事", major="护理", grade="二年级",
                                           guardian_consent=True,
                                           public_fields={"photo": True, "major": True, "story": True})
        db.session.add(entry)
        db.session.commit()
        return entry
    return make


@pytest.fixture
def count_queries(app: Flask) -> Callable[[], Any]:
    """A context manager that counts the SQL statements run inside it."""
    from contextlib import contextmanager

    @contextmanager
    def counting() -> Iterator[list[str]]:
        statements: list[str] = []

        def before(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
            statements.append(statement)

        event.listen(db.engine, "before_cursor_execute", before)
        try:
            yield statements
        finally:
            event.remove(db.engine, "before_cursor_execute", before)
    return counting


@pytest.fixture(scope="session")
def source_clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Clips a phone might send (tests.video_entries.make_source_clips), made once per run."""
    return make_source_clips(tmp_path_factory.mktemp("source-clips"))


def redis_client(app: Flask) -> redis.Redis[Any] | None:
    return app.extensions["redis"]


@pytest.fixture
def worker(app: Flask, tmp_path: Path):  # type: ignore[no-untyped-def]
    """`flask jobs worker` in a process of its own, on the test's database, media and job
    queue (the app's jobs.sqlite3, or on PostgreSQL + Redis its queue in Redis)."""
    settings = app.extensions["settings"]
    env = {**os.environ, "FLASK_APP": "wsgi", "DATABASE_URL": settings.database_url,
           "SECRET_KEY": settings.secret_key, "MEDIA_ROOT": settings.media_root,
           "INSTANCE_PATH": settings.instance_path, "CONTEST_ENV": "development", "PYTHONUNBUFFERED": "1"}
    env.pop("REDIS_URL", None)
    if TEST_REDIS_URL:
        env["REDIS_URL"] = TEST_REDIS_URL
    log_path = tmp_path / "worker.log"
    log = log_path.open("w+")
    process = subprocess.Popen([sys.executable, "-m", "flask", "jobs", "worker"], cwd=ROOT, env=env,
                               stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while "job runner:" not in log_path.read_text() and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.1)
        assert "job runner:" in log_path.read_text(), log_path.read_text()[-2000:]
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def free_ports(count: int) -> list[int]:
    """`count` distinct local ports free a moment ago (for servers a test starts itself)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """The test app on a free local port, in a background thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
