"""Faults under load: the deployed stack, one fault at a time, with voters voting through it.

    python -m bench.faults [--voters 200] [--seconds-per-scenario 40] [--only NAME[,NAME]]
                           [--quick] [--media-mb 20] [--slow-connections 200] [--keep]

It starts everything it uses, on free ports, and stops it all at the end (also on an error
or Ctrl-C); it never touches the machine's PostgreSQL (5432) or Redis (6379):

- a PostgreSQL cluster of its own (initdb / pg_ctl as the postgres account) and a
  redis-server of its own;
- MEDIA_ROOT on a tmpfs of --media-mb (mounted here, unmounted at the end);
- two instances, `gunicorn wsgi:app` with the project's gunicorn.conf.py as docs/DEPLOY.md
  runs them (only the port is ours), with the production settings;
- nginx with deploy/nginx/contest.conf filled in with those ports (TLS with a throw-away
  certificate), in the foreground, and the job runner (`flask jobs worker`).

It seeds one 全民美拍 contest in its voting stage per scenario, a contest open for
submissions, and the voters (each with its own account, bearer token, device cookie and
address: every voter connects to nginx from an address of its own in 127.0.0.0/8, so
nginx's $remote_addr, and so the per-address limits, are as real as nginx makes them).

Each scenario runs the voters against its own contest: every voter votes every 4 s (15 a
minute, under the API's 20 per account) for --seconds-per-scenario, POST
/api/v1/entries/{id}/votes through nginx, two attempts more than the contest's daily
quota. A vote answered 5xx or not at all is sent again after a second with the same
Idempotency-Key, three times at most, as the API asks of its clients. Meanwhile, one fault:

  baseline       nothing (the reference)
  redis-kill     SIGKILL redis-server, start an empty one on the same port a few seconds later
  pg-restart     pg_ctl restart -m fast
  pg-stop        pg_ctl stop -m fast, start again some seconds later
  worker-kill    SIGKILL one gunicorn worker of each instance, a few seconds apart
  instance-kill  SIGKILL one instance's master (its workers follow), start it again 5 s later
  jobs-kill      SIGKILL the job runner (the ledger's sealer), start it again 3 s later
  disk-full      an upload through nginx while MEDIA_ROOT is full, then again once it is not
  slow-clients   --slow-connections connections to nginx that send their headers or their
                 body a few bytes at a time

Then, with the voters stopped and every service back, it checks the scenario's contest:
every acknowledged vote (201 with its vote id and receipt) is in the database exactly
once, no voter is above the daily quota, the live board in Redis equals the database's
counts (after one leaderboard read, which rebuilds a board that is not ready), the ledger
is sealed by the job runner, and `flask votes verify` says OK. It counts answers by
status, the seconds in which any answer was 5xx, and the votes per second, and prints one
Markdown table (docs/RELIABILITY.md).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.client
import io
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import func, select

from bench.nginx import SERVER_NAME, Site
from bench.services import ROOT, PrivatePostgres, free_port, gunicorn_command, start_redis, stop, wait_until
from bench.votes import Voter, recreate_database, seed_contest, seed_voters
from contest import create_app
from contest.config import Settings
from contest.contests.models import Entry
from contest.extensions import db
from contest.voting.models import LedgerEvent, Vote, VoteQuota

SCENARIOS = ("baseline", "redis-kill", "pg-restart", "pg-stop", "worker-kill", "instance-kill", "jobs-kill",
             "disk-full", "slow-clients")
PACE = 4.0  # seconds between two votes of a voter
RETRIES = 3  # a vote answered 5xx or not at all is sent again this many times (same key)
REQUEST_TIMEOUT = 15.0  # a client gives up on an answer after this long
UPLOAD_TIMEOUT = 240.0  # … on a submission's answer: nginx's proxy_read_timeout for it
SEAL_WAIT = 75.0  # the job runner seals every 2 s, in turns that start on the minute
USER_AGENT = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 MicroMessenger/8.0.47"
PASSWORD = "bench-" + secrets.token_urlsafe(9)
TLS = ssl.create_default_context()
TLS.check_hostname = False
TLS.verify_mode = ssl.CERT_NONE  # the bench's own throw-away certificate


def voter_source(v: int) -> str:
    """Voter v's own address on loopback, a /24 of its own (no subnet signal between voters)."""
    return f"127.{1 + v // 250}.{v % 250}.10"


def slow_source(n: int) -> str:
    return f"127.250.{n // 250}.{10 + n % 200}"


# --- talking to nginx ---------------------------------------------------------------------

class SiteConnection(http.client.HTTPSConnection):
    """HTTPS to nginx on loopback, from a given source address, with the site's name in SNI
    and Host (nginx rejects a TLS handshake for any other name)."""

    def __init__(self, port: int, source: str, timeout: float = REQUEST_TIMEOUT) -> None:
        super().__init__(SERVER_NAME, port, timeout=timeout, context=TLS)
        self.source = source

    def connect(self) -> None:
        sock = socket.create_connection(("127.0.0.1", self.port), self.timeout, (self.source, 0))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = TLS.wrap_socket(sock, server_hostname=self.host)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")


class Browser:
    """One client with its cookies, over one kept-alive connection (reopened when needed)."""

    def __init__(self, port: int, source: str, timeout: float = REQUEST_TIMEOUT) -> None:
        self.port, self.source, self.timeout = port, source, timeout
        self.cookies: dict[str, str] = {}
        self.conn: SiteConnection | None = None

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> Reply:
        sent = {"User-Agent": USER_AGENT, **(headers or {})}
        if method == "POST" and "Authorization" not in sent:
            # a browser's form post: Flask-WTF checks the referrer of HTTPS requests
            sent.setdefault("Referer", f"https://{SERVER_NAME}{path}")
            sent.setdefault("Origin", f"https://{SERVER_NAME}")
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if self.conn is None:
            self.conn = SiteConnection(self.port, self.source, self.timeout)
        try:
            self.conn.request(method, path, body=body, headers=sent)
            response = self.conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name.strip()] = rest.split(";", 1)[0]
        if response.will_close:
            self.close()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, data)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def direct_health(port: int) -> dict[str, Any] | None:
    """An instance's /healthz asked directly (its own port), or None."""
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=3)
        conn.request("GET", "/healthz")
        response = conn.getresponse()
        body = json.loads(response.read() or b"null")
        conn.close()
        return body if isinstance(body, dict) else None
    except (OSError, http.client.HTTPException, ValueError):
        return None


def redis_up(port: int) -> bool:
    """Whether the instance on `port` answers its health check and reaches Redis."""
    return (direct_health(port) or {}).get("redis") == "up"


# --- the stack ----------------------------------------------------------------------------

def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found += [int(c) for c in (task / "children").read_text().split()]
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@dataclass
class Instance:
    name: str
    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self, env: dict[str, str], code: Path) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(gunicorn_command(self.port), cwd=code, env=env, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        wait_until(lambda: (direct_health(self.port) or {}).get("status") == "ok", f"gunicorn {self.name}",
                   timeout=60, process=self.process)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def workers(self) -> list[int]:
        return _children(self.process.pid) if self.running and self.process else []

    def kill_master(self) -> list[int]:
        """SIGKILL the master; its workers notice their parent is gone and exit (they are
        killed too if they take more than 10 s). Returns the workers' pids."""
        assert self.process is not None
        workers = self.workers()
        self.process.kill()
        self.process.wait()
        deadline = time.monotonic() + 10
        while any(_alive(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        for w in workers:
            with contextlib.suppress(OSError):
                os.kill(w, signal.SIGKILL)
        return workers

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process, timeout=20)
            for w in _children(self.process.pid):
                with contextlib.suppress(OSError):
                    os.kill(w, signal.SIGKILL)


class Stack:
    """Everything the bench runs; close() stops whatever was started, in reverse order."""

    def __init__(self, tmp: Path, args: argparse.Namespace) -> None:
        self.tmp = tmp
        self.args = args
        self.closers: list[tuple[str, Callable[[], None]]] = []
        self.pg = PrivatePostgres(tmp / "pg")
        self.closers.append(("postgres", self.pg.remove))
        self.redis_port = free_port()
        self.redis: subprocess.Popen[bytes] | None = None
        self.media = tmp / "media"
        self.instances = [Instance(f"app-{n}", free_port(), tmp / f"app-{n}.log") for n in (1, 2)]
        self.jobs: subprocess.Popen[bytes] | None = None
        self.jobs_log = tmp / "jobs.log"
        # the instances, the job runner and the flask commands run a copy of the project made
        # at the start, so a restart in the middle of the run runs the same code as the rest
        self.code = tmp / "code"
        self.site = Site(tmp / "nginx", free_port(), free_port(), tuple(f"127.0.0.1:{i.port}" for i in self.instances),
                         static_root=self.code / "static")
        self.nginx: subprocess.Popen[bytes] | None = None
        self.env: dict[str, str] = {}
        self.app: Flask | None = None

    # starting

    def start(self) -> None:
        shutil.copytree(ROOT, self.code, symlinks=True, ignore=shutil.ignore_patterns(
            ".git", ".venv", "instance", "__pycache__", "*.pyc", "node_modules", "tests", "docs", ".ruff_cache",
            ".mypy_cache", ".pytest_cache"))
        self.pg.start()
        self.start_redis()
        self.closers.append(("redis", self.stop_redis))
        self.media.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.args.media_mb}m,mode=0700", "tmpfs", str(self.media)],
                       check=True, capture_output=True)
        self.closers.append(("media tmpfs", self._unmount))
        database_url = self.pg.url("contest")
        secret_key = secrets.token_urlsafe(48)
        self.env = {
            **os.environ, "CONTEST_ENV": "production", "SECRET_KEY": secret_key, "DATABASE_URL": database_url,
            "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0", "MEDIA_ROOT": str(self.media),
            "INSTANCE_PATH": str(self.tmp / "instance"), "PROXY_COUNT": "1",
            "PUBLIC_BASE_URL": f"https://{SERVER_NAME}", "TRUSTED_HOSTS": "127.0.0.1", "LOG_LEVEL": "WARNING",
            "MALLOC_MMAP_THRESHOLD_": "131072", "PYTHONDONTWRITEBYTECODE": "1", "FLASK_APP": "wsgi",
        }
        recreate_database(database_url)
        settings = Settings(env="production", instance_path=self.env["INSTANCE_PATH"], secret_key=secret_key,
                            database_url=database_url, redis_url=self.env["REDIS_URL"], media_root=str(self.media),
                            proxy_count=1, log_level="WARNING", public_base_url=self.env["PUBLIC_BASE_URL"])
        self.app = create_app(settings)
        self.closers.append(("app engine", self._dispose))
        for instance in self.instances:
            self.closers.append((instance.name, instance.stop))
        self.closers.append(("job runner", self.stop_jobs))
        self.closers.append(("nginx", self.stop_nginx))

    def serve(self) -> None:
        """The instances, the job runner and nginx (after seeding)."""
        for instance in self.instances:
            instance.start(self.env, self.code)
        self.start_jobs()
        self.site.write()
        checked = self.site.test()
        if checked.returncode != 0:
            raise SystemExit("nginx -t refused the configuration:\n" + checked.stderr)
        with (self.tmp / "nginx.out").open("ab") as log:
            self.nginx = subprocess.Popen(self.site.command(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

        def answers() -> bool:
            browser = Browser(self.site.https_port, "127.0.0.1")
            try:
                return browser.request("GET", "/healthz").status == 200
            finally:
                browser.close()

        wait_until(answers, "nginx", process=self.nginx)

    def _unmount(self) -> None:
        subprocess.run(["umount", "-l", str(self.media)], check=False, capture_output=True)

    def _dispose(self) -> None:
        if self.app is not None:
            with self.app.app_context():
                db.session.remove()
                db.engine.dispose()

    def start_redis(self) -> None:
        self.redis, _url = start_redis(self.tmp, self.redis_port)

    def stop_redis(self) -> None:
        if self.redis is not None:
            stop(self.redis)

    def start_jobs(self) -> None:
        with self.jobs_log.open("ab") as log:
            self.jobs = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "jobs", "worker", "--workers", "4"],
                                         cwd=self.code, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def stop_jobs(self) -> None:
        if self.jobs is not None:
            stop(self.jobs, timeout=20, sig=signal.SIGINT)

    def stop_nginx(self) -> None:
        if self.nginx is not None:
            stop(self.nginx, sig=signal.SIGQUIT)

    def close(self) -> None:
        for what, closer in reversed(self.closers):
            try:
                closer()
            except Exception as exc:  # noqa: BLE001 - stop the rest whatever one of them does
                print(f"stopping {what}: {exc}", file=sys.stderr)

    # health between scenarios

    def heal(self) -> list[str]:
        """Start again whatever a scenario left stopped; what had to be started."""
        started = []
        if not self.pg.running:
            self.pg.start()
            started.append("postgres")
        if self.redis is None or self.redis.poll() is not None:
            self.start_redis()
            started.append("redis")
        for instance in self.instances:
            if not instance.running:
                instance.start(self.env, self.code)
                started.append(instance.name)
        if self.jobs is None or self.jobs.poll() is not None:
            self.start_jobs()
            started.append("job runner")
        for instance in self.instances:
            wait_until(functools.partial(redis_up, instance.port), f"{instance.name} healthy", timeout=30)
        return started

    def flask(self, *command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *command], cwd=self.code, env=self.env,
                              capture_output=True, text=True, timeout=300, check=False)

    def log_tail(self, path: Path, offset: int) -> str:
        with path.open("rb") as fh:
            fh.seek(offset)
            return fh.read().decode(errors="replace")


def log_sizes(stack: Stack) -> dict[Path, int]:
    paths = [i.log for i in stack.instances] + [stack.jobs_log, stack.site.prefix / "error.log"]
    return {p: (p.stat().st_size if p.exists() else 0) for p in paths}


# --- seeding ------------------------------------------------------------------------------

@dataclass
class Plan:
    scenario: str
    slug: str
    contest_id: int
    entry_ids: list[int]
    votes_per_day: int
    attempts: int


def seed_all(stack: Stack, scenarios: list[str], n_voters: int, seconds: float) -> tuple[dict[str, Plan], list[Voter], Plan]:
    """A voting contest per scenario, one open for submissions, the voters and the uploader."""
    attempts = max(3, int(seconds // PACE))
    votes_per_day = min(10, max(1, attempts - 2))
    assert stack.app is not None
    now = datetime.now(UTC)
    with stack.app.app_context():
        upgrade()
        plans = {}
        for name in scenarios:
            # captcha_mode "never": every vote is scored, but one the scoring would challenge
            # (these voters vote fast, on few entries: a burst) is taken rather than asked for
            # a captcha the bench cannot read; the riskiest are still held
            contest_id, entry_ids = seed_contest(f"faults-{name}", max(attempts, 4), now, votes_per_day=votes_per_day,
                                                 captcha_mode="never")
            plans[name] = Plan(name, f"faults-{name}", contest_id, entry_ids, votes_per_day, attempts)
        contest_id, entry_ids = seed_contest("faults-uploads", 0, now, stage="submission")
        uploads = Plan("uploads", "faults-uploads", contest_id, entry_ids, 0, 0)
        # one voter more than asked: the last one only uploads
        voters = seed_voters(n_voters + 1, now, stack.app.extensions["redis"], password=PASSWORD, address=voter_source)
        db.session.remove()
    return plans, voters, uploads


# --- the voters ---------------------------------------------------------------------------

@dataclass
class Ack:
    voter: int  # user id
    key: str
    vote_id: int
    receipt: str


@dataclass
class Tally:
    """What the voters saw in one scenario (times in seconds since it started)."""

    # answered at (s), status (0: no answer), error code, seconds the answer took
    answers: list[tuple[float, int, str, float]] = field(default_factory=list)
    acks: dict[str, Ack] = field(default_factory=dict)  # Idempotency-Key → ack
    replays: int = 0
    errors: Counter[str] = field(default_factory=Counter)  # no answer: why
    lock: threading.Lock = field(default_factory=threading.Lock)


class Voting:
    """Every voter in a thread of its own: its votes for the plan's contest, paced."""

    def __init__(self, port: int, voters: list[Voter], plan: Plan, stopping: threading.Event) -> None:
        self.port, self.voters, self.plan, self.stopping = port, voters, plan, stopping
        self.tally = Tally()
        self.t0 = 0.0
        self.threads: list[threading.Thread] = []

    def start(self, t0: float) -> None:
        self.t0 = t0
        self.threads = [threading.Thread(target=self._vote, args=(n, voter), daemon=True)
                        for n, voter in enumerate(self.voters)]
        for thread in self.threads:
            thread.start()

    def join(self) -> None:
        for thread in self.threads:
            thread.join()

    @property
    def seconds(self) -> float:
        return self.plan.attempts * PACE

    def _vote(self, n: int, voter: Voter) -> None:
        browser = Browser(self.port, voter_source(n))
        offset = PACE * n / len(self.voters)  # spread evenly over a pace
        entries = self.plan.entry_ids
        try:
            for k in range(self.plan.attempts):
                delay = self.t0 + offset + k * PACE - time.monotonic()
                if self.stopping.wait(max(0.0, delay)):
                    return
                key = f"{self.plan.scenario}-{voter.user_id}-{k}"
                headers = {"Authorization": f"Bearer {voter.token}", "X-Device-Id": voter.device,
                           "Idempotency-Key": key, "Content-Type": "application/json"}
                path = f"/api/v1/entries/{entries[(n + k) % len(entries)]}/votes"
                for attempt in range(RETRIES + 1):
                    status, code = self._send(browser, path, headers, voter, key)
                    if status == 201 or (status and status < 500):
                        break
                    if attempt < RETRIES and self.stopping.wait(1.0):
                        return
        finally:
            browser.close()

    def _send(self, browser: Browser, path: str, headers: dict[str, str], voter: Voter, key: str) -> tuple[int, str]:
        sent = time.monotonic()
        try:
            reply = browser.request("POST", path, b"{}", headers)
        except (OSError, http.client.HTTPException) as exc:
            with self.tally.lock:
                self.tally.answers.append((time.monotonic() - self.t0, 0, "", time.monotonic() - sent))
                self.tally.errors[type(exc).__name__] += 1
            return 0, ""
        code = ""
        body: Any = None
        with contextlib.suppress(ValueError):
            body = reply.json()
        if reply.status != 201 and isinstance(body, dict):
            code = str((body.get("error") or {}).get("code", ""))
        with self.tally.lock:
            self.tally.answers.append((time.monotonic() - self.t0, reply.status, code, time.monotonic() - sent))
            if reply.status == 201 and isinstance(body, dict):
                self.tally.acks[key] = Ack(voter.user_id, key, int(body["vote_id"]), str(body["receipt"]))
                self.tally.replays += reply.headers.get("idempotent-replayed") == "true"
        return reply.status, code


# --- slow clients -------------------------------------------------------------------------

class SlowClients:
    """Connections to nginx that never finish a request, a third of each kind: headers sent a
    line every 5 s; a 100 KB body announced and sent 10 bytes every 5 s; half a request line
    and then nothing. A connection nginx closes is opened again, so `count` stay open."""

    KINDS = ("headers", "body", "silent")

    def __init__(self, port: int, count: int) -> None:
        self.port, self.count = port, count
        self.stopping = threading.Event()
        self.opened = 0
        self.closed: Counter[str] = Counter()  # by nginx, per kind
        self.longest: dict[str, float] = {}  # longest a connection of each kind stayed open
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join()

    def summary(self) -> str:
        kinds = ", ".join(f"{kind}: {self.closed[kind]} closed by nginx, longest open {self.longest.get(kind, 0):.0f} s"
                          for kind in self.KINDS)
        return f"{self.count} slow connections ({self.opened} opened; {kinds})"

    def _open(self, n: int) -> tuple[ssl.SSLSocket, float, str] | None:
        kind = self.KINDS[n % 3]
        try:
            raw = socket.create_connection(("127.0.0.1", self.port), 5, (slow_source(n), 0))
            sock = TLS.wrap_socket(raw, server_hostname=SERVER_NAME)
            if kind == "body":
                sock.sendall(f"POST /api/v1/entries/1/votes HTTP/1.1\r\nHost: {SERVER_NAME}\r\nUser-Agent: {USER_AGENT}\r\n"
                             "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n".encode())
            elif kind == "headers":
                sock.sendall(f"GET / HTTP/1.1\r\nHost: {SERVER_NAME}\r\n".encode())
            else:
                sock.sendall(b"GET /api/v1/pi")
        except OSError:
            return None
        self.opened += 1
        return sock, time.monotonic(), kind

    @staticmethod
    def _gone(sock: ssl.SSLSocket) -> bool:
        """Whether nginx closed the connection (or answered, which it does only to close it)."""
        sock.setblocking(False)
        try:
            return sock.recv(1024) == b"" or True
        except (ssl.SSLWantReadError, BlockingIOError, InterruptedError):
            return False
        except OSError:
            return True
        finally:
            with contextlib.suppress(OSError):
                sock.setblocking(True)

    def _run(self) -> None:
        conns: dict[int, tuple[ssl.SSLSocket, float, str]] = {}
        try:
            while not self.stopping.is_set():
                for n in range(self.count):
                    if n not in conns and not self.stopping.is_set():
                        opened = self._open(n)
                        if opened is not None:
                            conns[n] = opened
                for n, (sock, since, kind) in list(conns.items()):
                    gone = self._gone(sock)
                    if not gone and kind != "silent":
                        try:
                            sock.sendall(b"0123456789" if kind == "body" else
                                         f"X-Slow-{random.randrange(10**6)}: 1\r\n".encode())
                        except OSError:
                            gone = True
                    self.longest[kind] = max(self.longest.get(kind, 0.0), time.monotonic() - since)
                    if gone:
                        self.closed[kind] += 1
                        sock.close()
                        del conns[n]
                self.stopping.wait(5.0)
        finally:
            for sock, _since, _kind in conns.values():
                sock.close()


# --- uploads ------------------------------------------------------------------------------

def noisy_jpeg(width: int = 1920, height: int = 1080) -> bytes:
    """A photo that compresses badly (about 2 MB), at the contest's minimum resolution."""
    from PIL import Image

    rng = random.Random(7)
    image = Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def multipart(fields: list[tuple[str, str]], files: list[tuple[str, str, str, bytes]]) -> tuple[bytes, str]:
    boundary = "----bench" + secrets.token_hex(8)
    out = io.BytesIO()
    for name, value in fields:
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, filename, mimetype, data in files:
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                  f"Content-Type: {mimetype}\r\n\r\n".encode())
        out.write(data + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', page)
    if not found:
        raise RuntimeError("no csrf_token on the page")
    return found.group(1)


def upload_while_full(stack: Stack, uploader: Voter, plan: Plan, source: str) -> list[str]:
    """Sign in through the login form, fill MEDIA_ROOT, submit a photo entry (expect 503 and
    nothing left behind), free the disk, submit again (expect the redirect of a success)."""
    notes = []
    browser = Browser(stack.site.https_port, source, timeout=UPLOAD_TIMEOUT)
    try:
        page = browser.request("GET", "/account/login")
        form = urllib.parse.urlencode({"csrf_token": _csrf(page.text), "phone": uploader.phone, "password": PASSWORD})
        signed_in = browser.request("POST", "/account/login", form.encode(),
                                    {"Content-Type": "application/x-www-form-urlencoded"})
        if signed_in.status != 302:
            message = re.search(r'class="[^"]*(?:error|flash)[^"]*"[^>]*>([^<]+)', signed_in.text)
            return [f"sign-in answered {signed_in.status}" + (f" ({message.group(1).strip()})" if message else "")]
        page = browser.request("GET", f"/c/{plan.slug}/submit")
        category = re.search(r'<option value="(\d+)"', page.text)
        fields = [("csrf_token", _csrf(page.text)), ("kind", "photo"), ("title", "泉城晨光"), ("description", "")]
        if category:
            fields.append(("category", category.group(1)))
        photo = noisy_jpeg()
        body, content_type = multipart(fields, [("photos", "morning.jpg", "image/jpeg", photo)])
        headers = {"Content-Type": content_type}

        free = os.statvfs(stack.media)
        filler = stack.media / "filler.bin"
        room = free.f_bavail * free.f_frsize - 256 * 1024  # leave less than the photo needs
        with filler.open("wb") as fh:
            while room > 0:
                chunk = min(room, 1 << 20)
                fh.write(b"\0" * chunk)
                room -= chunk
        full = browser.request("POST", f"/c/{plan.slug}/submit", body, headers)
        leftovers = [p.name for p in stack.media.rglob("*") if p.is_file() and p.name != "filler.bin"]
        notes.append(f"upload on a full disk: {full.status}"
                     + (f" Retry-After {full.headers.get('retry-after')}" if full.status == 503 else "")
                     + (f", {len(leftovers)} files left" if leftovers else ", nothing left behind"))
        filler.unlink()
        again = browser.request("POST", f"/c/{plan.slug}/submit", body, headers)
        notes.append(f"after freeing it: {again.status}" + (" (entry saved)" if again.status == 302 else ""))
        assert stack.app is not None
        with stack.app.app_context():
            entries = db.session.scalar(select(func.count()).select_from(Entry).where(Entry.contest_id == plan.contest_id))
            db.session.remove()
        notes.append(f"{photo.__len__() // 1024} KB photo, {entries} entry stored")
    except (OSError, http.client.HTTPException, RuntimeError) as exc:
        notes.append(f"upload failed: {exc!r}")
    finally:
        browser.close()
        with contextlib.suppress(OSError):
            (stack.media / "filler.bin").unlink()
    return notes


# --- the scenarios ------------------------------------------------------------------------

@dataclass
class Clock:
    t0: float
    stopping: threading.Event

    def at(self, seconds: float) -> None:
        if self.stopping.wait(max(0.0, self.t0 + seconds - time.monotonic())):
            raise KeyboardInterrupt

    def now(self) -> float:
        return time.monotonic() - self.t0


Fault = Callable[[Stack, Clock, float, list[str]], None]


def fault_none(stack: Stack, clock: Clock, seconds: float, notes: list[str]) -> None:
    return None


def fault_redis_kill(stack: Stack, clock: Clock, seconds: float, notes: list[str]) -> None:
    clock.at(seconds * 0.25)
    assert stack.redis is not None
    stack.redis.kill()
    stack.redis.wait()
    down = min(6.0, seconds * 0.3)
    clock.at(seconds * 0.25 + down)
    stack.start_redis()
    notes.append(f"Redis down {down:.0f} s, back empty")


def fault_pg_restart(stack: Stack, clock: Clock, seconds: float, notes: list[str]) -> None:
    clock.at(seconds * 0.25)
    started = time.monotonic()
    stack.pg.restart("fast")
    notes.append(f"restart took {time.monotonic() - started:.1f} s")


def fault_pg_stop(stack: Stack, clock: Clock, seconds: float, notes: list[str]) -> None:
    clock.at(seconds * 0.25)
    stack.pg.stop("fast")
    down = min(10.0, seconds * 0.3)
    clock.at(seconds * 0.25 + down)
    stack.pg.start()
    notes.append(f"PostgreSQL down {down:.0f} s")


def fault_worker_kill(stack: Stack, clock: Clock, seconds: float, notes: list[str]) -> None:
    for n, instance in enumerate(stack.instances):
        clock.at(seconds * (0.25 + 0.25 * n))
        workers = instance.workers()
        if workers:
            os.kill(workers[0], signal.SIGKILL)
    notes.append("one worker of each instance killed")


def fault_instance_kill(stack: Stack, clock: Clock, seconds: float, notes: list[str]) -> None:
    clock.at(seconds * 0.25)
    instance = stack.instances[0]
    instance.kill_master()
    clock.at(seconds * 0.25 + 5)
    started = time.monotonic()
    instance.start(stack.env, stack.code)
    notes.append(f"{instance.name} down 5 s, back in {time.monotonic() - started + 5:.0f} s")


def fault_jobs_kill(stack: Stack, clock: Clock, seconds: float, notes: list[str]) -> None:
    clock.at(seconds * 0.25)
    assert stack.jobs is not None
    stack.jobs.kill()
    stack.jobs.wait()
    clock.at(seconds * 0.25 + 3)
    stack.start_jobs()
    notes.append("job runner killed, started 3 s later")


def fault_slow_clients(stack: Stack, clock: Clock, seconds: float, notes: list[str]) -> None:
    clock.at(seconds * 0.1)
    slow = SlowClients(stack.site.https_port, stack.args.slow_connections)
    slow.start()
    try:
        clock.at(seconds - 1)
    finally:
        slow.stop()
    notes.append(slow.summary())


# --- checking -----------------------------------------------------------------------------

@dataclass
class Row:
    scenario: str
    acked: int = 0
    per_second: float = 0.0  # answers (any status) per second while the voters voted
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    lost: int = 0
    overruns: int = 0
    verify: str = ""
    bad_seconds: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)

    def markdown(self) -> str:
        fives = "/".join(str(self.statuses.get(code, 0)) for code in (500, 502, 503, 504))
        return (f"| {self.scenario} | {self.acked} | {self.lost} | {self.overruns} | {self.verify} | "
                f"{self.bad_seconds} ({fives}) | {self.per_second:.0f}/s, {self.p50_ms:.0f} / {self.p99_ms:.0f} ms | "
                f"{'; '.join(self.notes)} |")


HEADER = ("| scenario | votes acked | lost | quota overruns | verify | 5xx seconds (500/502/503/504) "
          "| answers, p50 / p99 | notes |\n"
          "|---|---|---|---|---|---|---|---|")


def wait_sealed(stack: Stack, timeout: float) -> float | None:
    """Seconds until every ledger event is in a block, or None after `timeout`."""
    assert stack.app is not None
    started = time.monotonic()
    with stack.app.app_context():
        try:
            while time.monotonic() - started < timeout:
                pending = db.session.scalar(select(func.count()).select_from(LedgerEvent).where(LedgerEvent.block_id.is_(None)))
                db.session.rollback()
                if not pending:
                    return time.monotonic() - started
                time.sleep(1.0)
            return None
        finally:
            db.session.remove()


def check(stack: Stack, plan: Plan, tally: Tally, row: Row) -> None:
    assert stack.app is not None
    browser = Browser(stack.site.https_port, "127.0.0.1")
    try:  # one public read: it rebuilds the board if it is not ready, as any visitor's would
        board = browser.request("GET", f"/api/v1/contests/{plan.slug}/leaderboard?limit=50")
        if board.status != 200:
            row.notes.append(f"leaderboard answered {board.status}")
    finally:
        browser.close()
    with stack.app.app_context():
        votes = db.session.execute(select(Vote.id, Vote.receipt, Vote.voter_id, Vote.idempotency_key, Vote.entry_id,
                                          Vote.day, Vote.status).where(Vote.contest_id == plan.contest_id)).all()
        quotas = {(q.voter_id, q.day): q.used for q in db.session.scalars(
            select(VoteQuota).where(VoteQuota.contest_id == plan.contest_id))}
        redis = stack.app.extensions["redis"]
        # the live board (contest/voting/live.py keys) against the database's valid votes
        prefix = f"lb:{{{plan.contest_id}}}:"
        ready = bool(redis.exists(prefix + "ready"))
        live = {int(m): int(s) for m, s in redis.zrange(prefix + "all", 0, -1, withscores=True)} if ready else {}
        db.session.remove()
    by_id = {v.id: v for v in votes}
    lost = [a for a in tally.acks.values() if a.vote_id not in by_id or by_id[a.vote_id].receipt != a.receipt
            or by_id[a.vote_id].voter_id != a.voter]
    row.lost = len(lost)
    if lost:
        row.notes.append("LOST vote ids " + ", ".join(str(a.vote_id) for a in lost[:10]))
    keys = Counter((v.voter_id, v.idempotency_key) for v in votes)
    twice = sum(1 for n in keys.values() if n > 1)
    if twice:
        row.notes.append(f"{twice} keys stored twice")
    per_entry = Counter((v.voter_id, v.entry_id, v.day) for v in votes)
    per_day = Counter((v.voter_id, v.day) for v in votes)
    row.overruns = sum(1 for n in per_day.values() if n > plan.votes_per_day) + sum(1 for n in per_entry.values() if n > 1)
    drifted = sum(1 for k, n in per_day.items() if quotas.get(k) != n)
    if drifted:
        row.notes.append(f"{drifted} quota counters differ from the votes")
    acked_keys = set(tally.acks)
    unacked = [v for v in votes if v.idempotency_key not in acked_keys]
    if unacked:
        row.notes.append(f"{len(unacked)} stored without a 201 reaching the client")
    valid = Counter(v.entry_id for v in votes if v.status == "valid")
    held = sum(1 for v in votes if v.status == "held")
    if held:
        row.notes.append(f"{held} held for review")
    if not ready:
        row.notes.append("live board NOT ready after a read")
    else:
        off = {e for e in set(valid) | set(live) if valid.get(e, 0) != live.get(e, 0)}
        if off:
            row.notes.append(f"live board differs on {len(off)} entries ({sum(live.values())} live vs {sum(valid.values())})")


def run_scenario(stack: Stack, plan: Plan, voters: list[Voter], uploader: tuple[Voter, Plan], seconds: float,
                 stopping: threading.Event) -> Row:
    row = Row(plan.scenario)
    faults: dict[str, Fault] = {
        "baseline": fault_none, "redis-kill": fault_redis_kill, "pg-restart": fault_pg_restart,
        "pg-stop": fault_pg_stop, "worker-kill": fault_worker_kill, "instance-kill": fault_instance_kill,
        "jobs-kill": fault_jobs_kill, "slow-clients": fault_slow_clients,
    }

    def fault_disk_full(stack: Stack, clock: Clock, seconds: float, notes: list[str]) -> None:
        clock.at(seconds * 0.2)
        notes.extend(upload_while_full(stack, uploader[0], uploader[1], voter_source(len(voters))))

    faults["disk-full"] = fault_disk_full
    sizes = log_sizes(stack)
    voting = Voting(stack.site.https_port, voters, plan, stopping)
    t0 = time.monotonic() + 1.0
    voting.start(t0)
    clock = Clock(t0, stopping)
    fault_notes: list[str] = []
    try:
        faults[plan.scenario](stack, clock, voting.seconds, fault_notes)
    finally:
        voting.join()
    tally = voting.tally
    row.acked = len(tally.acks)
    row.per_second = sum(1 for _t, status, _c, _l in tally.answers if status) / voting.seconds
    took = sorted(latency for _t, status, _c, latency in tally.answers if status)
    if took:
        row.p50_ms = took[len(took) // 2] * 1000
        row.p99_ms = took[min(len(took) - 1, int(len(took) * 0.99))] * 1000
    row.statuses = Counter(status for _t, status, _c, _l in tally.answers)
    row.bad_seconds = len({int(t) for t, status, _c, _l in tally.answers if status >= 500})
    row.notes += fault_notes
    restarted = stack.heal()
    if restarted:
        row.notes.append("had to start again: " + ", ".join(restarted))
    sealed = wait_sealed(stack, SEAL_WAIT)
    if sealed is None:
        locked = False
        assert stack.app is not None
        with stack.app.app_context():
            huey = stack.app.extensions["jobs"]
            locked = huey.lock_task("seal-ledger").is_locked()
            if locked:
                huey.flush_locks("seal-ledger")
        row.notes.append(f"LEDGER NOT SEALED {SEAL_WAIT:.0f} s after the votes"
                         + (" (the sealing lock was left in Redis: flushed, then sealed)" if locked else ""))
        if wait_sealed(stack, SEAL_WAIT) is None:
            row.notes.append("still not sealed after flushing the lock")
    elif sealed > 10:
        row.notes.append(f"sealed {sealed:.0f} s after the last vote")
    check(stack, plan, tally, row)
    verified = stack.flask("votes", "verify")
    row.verify = "OK" if verified.returncode == 0 else "FAILED"
    if verified.returncode != 0:
        row.notes.append((verified.stderr or verified.stdout).strip().splitlines()[-1][:200])
    others = Counter(f"{status} {code}".strip() for _t, status, code, _l in tally.answers if status not in (201,))
    refused = {k: n for k, n in others.items() if not k.startswith("5") and k != "0"}
    if refused:
        row.notes.append("refused: " + ", ".join(f"{k} ×{n}" for k, n in sorted(refused.items())))
    if tally.errors:
        row.notes.append("no answer: " + ", ".join(f"{k} ×{n}" for k, n in tally.errors.items()))
    if tally.replays:
        row.notes.append(f"{tally.replays} acks were replays of an earlier answer")
    row.notes += log_findings(stack, sizes)
    row.notes.append(f"load {Path('/proc/loadavg').read_text().split()[0]}")
    return row


NGINX_EVENTS = {
    "no live upstreams": "no live upstreams",
    "prematurely closed": "upstream closed early",
    "Connection refused": "connect refused",
    "Connection reset": "upstream reset",
    "upstream timed out": "upstream timed out",
    "exited on signal": "nginx worker died",
    "worker_connections are not enough": "out of worker_connections",
}


def log_findings(stack: Stack, sizes: dict[Path, int]) -> list[str]:
    notes = []
    unhandled = Counter[str]()
    for instance in stack.instances:
        text = stack.log_tail(instance.log, sizes.get(instance.log, 0))
        # each 500 is logged once as "unhandled error" with its traceback; the exception that
        # reached the handler is the last unindented "Name: message" line of that record
        for record in text.split("contest.errors: unhandled error")[1:]:
            lines = []
            for line in record.splitlines()[1:]:
                if re.match(r"^(\d{4}-\d\d-\d\d |\d+\.\d+\.\d+\.\d+ - |\[\d{4}-)", line):
                    break
                lines.append(line)
            final = [ln for ln in lines if re.match(r"^[A-Za-z_][\w.]*(Error|Exception|Shutdown)\b", ln)]
            unhandled[(final[-1] if final else "?").split(":", 1)[0]] += 1
    if unhandled:
        notes.append("500s logged by the app: " + ", ".join(f"{k} ×{n}" for k, n in unhandled.most_common()))
    error_log = stack.site.prefix / "error.log"
    if error_log.exists():
        text = stack.log_tail(error_log, sizes.get(error_log, 0))
        seen = Counter(label for line in text.splitlines() for key, label in NGINX_EVENTS.items() if key in line)
        if seen:
            notes.append("nginx: " + ", ".join(f"{k} ×{n}" for k, n in seen.items()))
    return notes


# --- the run ------------------------------------------------------------------------------

def needed_tools() -> None:
    missing = [tool for tool in ("nginx", "redis-server", "openssl", "runuser", "mount", "jpegtran", "ffmpeg", "ffprobe")
               if shutil.which(tool) is None and not (tool == "nginx" and Path("/usr/sbin/nginx").exists())]
    if missing:
        raise SystemExit("missing: " + ", ".join(missing) + " (apt-get install -y nginx redis-server openssl ffmpeg "
                         "libjpeg-turbo-progs)")
    if os.geteuid() != 0:
        raise SystemExit("run as root: it mounts a tmpfs and runs PostgreSQL as the postgres account")


@contextlib.contextmanager
def interrupted_as_keyboard() -> Iterator[None]:
    """SIGTERM ends the run like Ctrl-C: everything started is stopped."""
    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt
    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--voters", type=int, default=200)
    parser.add_argument("--seconds-per-scenario", type=float, default=40.0)
    parser.add_argument("--only", default="", help="comma-separated scenarios: " + ", ".join(SCENARIOS))
    parser.add_argument("--quick", action="store_true", help="50 voters, 16 s per scenario")
    parser.add_argument("--media-mb", type=int, default=20, help="size of the tmpfs under MEDIA_ROOT")
    parser.add_argument("--slow-connections", type=int, default=200)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs) and print its path")
    args = parser.parse_args(argv)
    if args.quick:
        args.voters, args.seconds_per_scenario = min(args.voters, 50), min(args.seconds_per_scenario, 16.0)
    scenarios = [s.strip() for s in args.only.split(",") if s.strip()] or list(SCENARIOS)
    unknown = [s for s in scenarios if s not in SCENARIOS]
    if unknown:
        parser.error("unknown scenario: " + ", ".join(unknown))
    needed_tools()

    rows: list[Row] = []
    stopping = threading.Event()
    tmp = Path(tempfile.mkdtemp(prefix="contest-faults-"))
    tmp.chmod(0o711)  # nginx's workers (www-data) reach their folder below it
    started = datetime.now(UTC)
    stack = Stack(tmp, args)
    try:
        with interrupted_as_keyboard():
            stack.start()
            seed_started = time.monotonic()
            plans, voters, uploads = seed_all(stack, scenarios, args.voters, args.seconds_per_scenario)
            print(f"seeded {args.voters} voters and {len(plans)} contests in {time.monotonic() - seed_started:.1f} s",
                  flush=True)
            stack.serve()
            for name in scenarios:
                print(f"--- {name}", flush=True)
                row = run_scenario(stack, plans[name], voters[:-1], (voters[-1], uploads), args.seconds_per_scenario,
                                   stopping)
                rows.append(row)
                print(row.markdown(), flush=True)
    except KeyboardInterrupt:
        print("interrupted: stopping everything", file=sys.stderr)
    finally:
        stopping.set()
        stack.close()
        if args.keep:
            print(f"logs kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print()
    print(f"python -m bench.faults {' '.join(argv if argv is not None else sys.argv[1:])}".rstrip())
    print(f"{started:%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, {args.voters} voters, "
          f"{args.seconds_per_scenario:.0f} s per scenario, two instances (gunicorn.conf.py) behind nginx "
          f"(deploy/nginx/contest.conf)")
    print()
    print(HEADER)
    for row in rows:
        print(row.markdown())
    bad = [r for r in rows if r.lost or r.overruns or r.verify != "OK"]
    return 1 if bad or len(rows) < len(scenarios) else 0


if __name__ == "__main__":
    sys.exit(main())
