"""Votes under load: the vote API through gunicorn, PostgreSQL and Redis, measured with
wrk against a bare endpoint of the same app, in the same run and the same server.

    python -m bench.votes [--voters 20000] [--entries 40] [--rounds 3] [--duration 10]
                          [--connections 32] [--workers <CPUs + 1>] [--threads 4]

What it does, writing nothing inside the repository:

1. drops and creates its own database (--database-url, default contest_bench on the
   local PostgreSQL), migrates it, and seeds one media contest in its voting stage
   (captcha mode "risk", 5 votes a day, 1 per entry, accounts at least 24 h old) with
   approved entries and many verified voters, each with an API bearer token. Accounts
   are bulk-inserted with one password hash shared by all: hashing 20,000 passwords with
   argon2 would take minutes and measures nothing the vote path does;
2. starts a private redis-server on a free port (or uses --redis-url, which is flushed)
   and gunicorn with the production settings (CONTEST_ENV=production, a SECRET_KEY from
   the environment or a fresh random one, PROXY_COUNT=1);
3. runs wrk on loopback, alternating rounds of GET /api/v1/ping (a constant, no database
   or Redis: the ceiling) and POST /api/v1/entries/{id}/votes (bench/votes.lua), after a
   short warm-up of each;
4. checks what the database holds against what wrk was told (every 201 has its vote row
   and ledger event; the live board in Redis counts every vote) and prints the table.

Every vote passes every check: bearer token, the per-address and per-account rate limits
(flask-limiter, Redis storage), the idempotency key, anti-fraud scoring (Redis windows per
address, /24, device and entry; account age; user agent; registration bursts), window,
eligibility and quotas in PostgreSQL, the ledger event with its digest, the fraud
observation, the live board update in Redis and the /metrics counters. Sealing is the job
runner's, not the vote path's: no worker runs here, and the events stay unsealed.

Why X-Forwarded-For: in production nginx sets it and PROXY_COUNT=1 makes the app trust
exactly that one hop. Without it every request would come from 127.0.0.1, and the
per-address limit (30 votes a minute) and the address and /24 velocity signals would
rightly refuse or challenge nearly all of them. So each voter has its own address, four
voters to a /24 (a /24 never reaches the subnet velocity tier within the run), as if they
voted from their phones through nginx.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import secrets
import shutil
import statistics
import subprocess
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flask_migrate import upgrade
from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.engine import make_url

from bench import minimal_vote
from bench.services import ROOT, free_port, gunicorn_command, start_redis, stop, wait_until
from contest import create_app
from contest.accounts import units
from contest.accounts.actors import SYSTEM
from contest.accounts.models import SmsCode, User, UserRole
from contest.accounts.service import hash_password
from contest.antifraud import service as antifraud
from contest.api.models import ApiToken
from contest.config import Settings
from contest.contests import service as contests
from contest.contests.models import STAGES, Entry
from contest.extensions import db
from contest.voting import ledger, live
from contest.voting.models import LedgerEvent, Vote

LUA = Path(__file__).with_name("votes.lua")
DEFAULT_DATABASE = "postgresql+psycopg://postgres@127.0.0.1/contest_bench"
SLUG = "bench-votes"
VOTERS_PER_SUBNET = 4
VOTES_PER_DAY = 5
MIN_ACCOUNT_AGE_HOURS = 24
TOKEN_TTL = timedelta(days=30)


# --- preparing the database --------------------------------------------------------------

def recreate_database(url: str) -> None:
    target = make_url(url)
    if not target.drivername.startswith("postgresql"):
        raise SystemExit("--database-url must be a postgresql+psycopg:// URL")
    name = target.database
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def voter_address(v: int) -> str:
    subnet = v // VOTERS_PER_SUBNET
    return f"10.{subnet // 256 % 256}.{subnet % 256}.{10 + v % VOTERS_PER_SUBNET}"


@dataclass
class Seeded:
    contest_id: int
    entry_ids: list[int]
    voters: list[tuple[str, str, str]]  # token, address, device id


@dataclass(frozen=True)
class Voter:
    """A seeded voter: account id and phone, API bearer token, address and device cookie."""

    user_id: int
    phone: str
    token: str
    address: str
    device: str


def seed(n_voters: int, n_entries: int, now: datetime, redis: Any = None) -> Seeded:
    """One contest in its voting stage, approved entries, verified voters with tokens."""
    contest_id, entry_ids = seed_contest(SLUG, n_entries, now, votes_per_day=VOTES_PER_DAY)
    voters = seed_voters(n_voters, now, redis)
    return Seeded(contest_id, entry_ids, [(v.token, v.address, v.device) for v in voters])


def seed_contest(slug: str, n_entries: int, now: datetime, *, votes_per_day: int = VOTES_PER_DAY,
                 stage: str = "voting", captcha_mode: str = "risk") -> tuple[int, list[int]]:
    """A 全民美拍 contest a day into `stage` and its approved entries: (contest id, entry ids)."""
    index = STAGES.index(stage)
    # windows laid end to end with "now" a day into the stage, which has 6 days to go (live
    # counts are shown: the last 24 h before the close hide them)
    windows: dict[str, tuple[datetime | None, datetime | None]] = {
        s: (now + timedelta(days=7 * (i - index) - 1), now + timedelta(days=7 * (i - index) + 6))
        for i, s in enumerate(STAGES)}
    contest = contests.create_contest(db.session, actor=SYSTEM, now=now, changes=contests.ContestChanges(
        unit_id=units.ensure_unit(db.session, name="济南市教育局", now=now).id,
        slug=slug, kind="media", title="全民美拍 压力测试", theme="技能：让生活更美好", windows=windows,
        rules={"votes_per_day": votes_per_day, "votes_per_entry_per_day": 1, "captcha_mode": captcha_mode,
               "verified_only": True, "min_account_age_hours": MIN_ACCOUNT_AGE_HOURS},
    ))
    categories = [contests.add_category(db.session, actor=SYSTEM, contest=contest, kind="category", name=name, now=now)
                  for name in ("摄影作品", "短视频")]
    entries = [Entry(contest_id=contest.id, title=f"作品{i}", description="介绍", status="approved",
                     category_id=categories[i % 2].id, created_at=now, updated_at=now, submitted_at=now,
                     published_at=now - timedelta(minutes=i)) for i in range(n_entries)]
    db.session.add_all(entries)
    db.session.commit()
    return contest.id, [e.id for e in entries]


def seed_voters(n_voters: int, now: datetime, redis: Any = None, *, password: str | None = None,
                address: Callable[[int], str] = voter_address) -> list[Voter]:
    """Verified citizens with API tokens, bulk-inserted into an empty user table (ids 1…n),
    all with one password (`password`, or a random one)."""
    # Accounts registered over the last four weeks (a few minutes apart, as in a real
    # sign-up curve, so the registration-burst signal has real rows to scan and stays quiet).
    password_hash = hash_password(password or secrets.token_urlsafe(12))
    first = now - timedelta(days=30)
    spacing = timedelta(days=27) / max(n_voters, 1)
    users, roles, codes, tokens = [], [], [], []
    voters: list[Voter] = []
    for i in range(n_voters):
        uid = i + 1
        created = first + spacing * i
        phone = f"139{uid:08d}"
        session_token = secrets.token_hex(16)
        users.append({"id": uid, "phone": phone, "password_hash": password_hash, "display_name": "",
                      "is_active_account": True, "phone_verified_at": created, "created_at": created,
                      "session_token": session_token})
        roles.append({"user_id": uid, "role": "citizen", "granted_at": created})
        where = address(i)
        codes.append({"phone": phone, "purpose": "register", "code_hash": "0" * 64, "created_at": created - timedelta(minutes=1),
                      "expires_at": created + timedelta(minutes=4), "attempts": 1, "used_at": created,
                      "requested_ip": where})
        token = secrets.token_urlsafe(32)
        # what contest.api.tokens stores: digests of the token and of the session token
        tokens.append({"user_id": uid, "token_hash": hashlib.sha256(token.encode()).hexdigest(),
                       "session_stamp": hashlib.sha256(session_token.encode()).hexdigest(),
                       "created_at": now - timedelta(hours=1), "expires_at": now + TOKEN_TTL})
        voters.append(Voter(uid, phone, token, where, secrets.token_hex(8)))
    for model, rows in ((User, users), (UserRole, roles), (SmsCode, codes), (ApiToken, tokens)):
        for start in range(0, len(rows), 5000):
            db.session.execute(insert(model), rows[start:start + 5000])
    db.session.execute(text("SELECT setval(pg_get_serial_sequence('user_account', 'id'), :n)"), {"n": n_voters})
    db.session.commit()
    # Each voter signed in for its token, and signing in settles the account's
    # registration-burst count (contest.antifraud.service.settle_registration).
    for n, user in enumerate(db.session.scalars(select(User).order_by(User.id)), 1):
        antifraud.settle_registration(db.session, redis, user, now)
        if n % 2000 == 0:
            db.session.commit()
    db.session.commit()
    db.session.execute(text("ANALYZE"))
    return voters


# --- the server ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Server:
    workers: int
    threads: int

    def command(self, port: int, app: str = "wsgi:app") -> list[str]:
        # gunicorn as deployed (bench.services.gunicorn_command), with the workers measured here
        return gunicorn_command(port, "--workers", str(self.workers), "--threads", str(self.threads), app=app)


# --- where the CPU goes -------------------------------------------------------------------

TICK = os.sysconf("SC_CLK_TCK")


def _cpu_of(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return found


def _postgres_pids(database: str) -> list[int]:
    """The backends serving the bench database, and the WAL writer every commit waits on."""
    pids = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            title = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if title.startswith("postgres: ") and (f" {database} " in title or "walwriter" in title):
            pids.append(int(proc.name))
    return pids


def _machine_busy() -> float:
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / TICK  # all but idle and iowait


@dataclass
class CpuMeter:
    """CPU seconds used by each part of the set-up while wrk runs (from /proc)."""

    server: int  # the gunicorn master
    redis: int | None
    database: str

    def sample(self) -> dict[str, float]:
        server = _cpu_of(self.server) + sum(_cpu_of(p) for p in _children(self.server))
        return {
            "gunicorn": server,
            "postgres": sum(_cpu_of(p) for p in _postgres_pids(self.database)),
            "redis": _cpu_of(self.redis) if self.redis else 0.0,
            "wrk": _wrk_cpu(),
            "machine": _machine_busy(),
        }


def _wrk_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # wrk is the only child reaped meanwhile
    return usage.ru_utime + usage.ru_stime


# --- measuring ---------------------------------------------------------------------------

@dataclass
class Run:
    kind: str
    seconds: float
    requests: int
    p50_ms: float
    p99_ms: float
    socket_errors: int
    statuses: Counter[str] = field(default_factory=Counter)
    sent: int = 0  # requests made by the busiest wrk thread
    cpu: dict[str, float] = field(default_factory=dict)  # cores used by each part (CPU s per s)

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    @property
    def ok(self) -> int:
        return self.statuses.get("201" if self.kind in ("vote", "minimal") else "200", 0)

    @property
    def ok_per_second(self) -> float:
        return self.ok / self.seconds


def run_wrk(url: str, kind: str, voters_file: Path, offset: int, *, seconds: int, connections: int,
            threads: int, meter: CpuMeter) -> Run:
    command = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--timeout", "10s",
               "-s", str(LUA), url, "--", kind, str(voters_file), str(offset), str(threads)]
    before, started = meter.sample(), time.monotonic()
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    after, elapsed = meter.sample(), time.monotonic() - started
    line = next((ln for ln in out.splitlines() if ln.startswith("BENCH-RESULT ")), None)
    if line is None:
        raise SystemExit("wrk printed no result:\n" + out)
    got = json.loads(line.removeprefix("BENCH-RESULT "))
    return Run(kind, got["duration_us"] / 1e6, got["requests"], got["p50_us"] / 1000, got["p99_us"] / 1000,
               got["socket_errors"], Counter(got["statuses"]), got["max_sent_per_thread"],
               {part: (after[part] - before[part]) / elapsed for part in after})


def fetch_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - our own loopback server
        return json.load(response)


# --- the run -----------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--voters", type=int, default=20_000)
    parser.add_argument("--entries", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10, help="seconds per round")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of warm-up per endpoint")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--wrk-threads", type=int, default=2)
    # One worker process per core (Python runs one thread at a time per process), and
    # threads to overlap each request's waits on PostgreSQL and Redis.
    parser.add_argument("--workers", type=int, default=(os.cpu_count() or 2) + 1,
                        help="gunicorn worker processes (default: one more than the cores)")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE, help="dropped and created")
    parser.add_argument("--redis-url", default="", help="flushed; default: a private redis-server on a free port")
    parser.add_argument("--log-level", default="INFO", help="the app's LOG_LEVEL (INFO logs every request)")
    args = parser.parse_args()
    for tool in ("wrk", "redis-server"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is needed: apt-get install -y {'wrk' if tool == 'wrk' else 'redis-server'}")
    if args.entries < VOTES_PER_DAY:
        raise SystemExit(f"--entries must be at least {VOTES_PER_DAY} (a voter's votes go to distinct entries)")

    with tempfile.TemporaryDirectory(prefix="contest-bench-") as tmp_name:
        tmp = Path(tmp_name)
        redis_process = None
        if args.redis_url:
            redis_url = args.redis_url
        else:
            redis_process, redis_url = start_redis(tmp)
        try:
            bench(args, tmp, redis_url, redis_process.pid if redis_process else None)
        finally:
            if redis_process is not None:
                stop(redis_process)


def bench(args: argparse.Namespace, tmp: Path, redis_url: str, redis_pid: int | None) -> None:
    secret_key = os.environ.get("SECRET_KEY") or secrets.token_urlsafe(48)
    env = {
        **os.environ, "CONTEST_ENV": "production", "SECRET_KEY": secret_key, "DATABASE_URL": args.database_url,
        "REDIS_URL": redis_url, "PROXY_COUNT": "1", "INSTANCE_PATH": str(tmp / "instance"),
        "MEDIA_ROOT": str(tmp / "media"), "LOG_LEVEL": args.log_level.upper(), "PYTHONDONTWRITEBYTECODE": "1",
        "PUBLIC_BASE_URL": "https://vote.example.cn", "TRUSTED_HOSTS": "127.0.0.1",
    }
    settings = Settings(env="production", instance_path=env["INSTANCE_PATH"], secret_key=secret_key,
                        database_url=args.database_url, redis_url=redis_url, media_root=env["MEDIA_ROOT"],
                        proxy_count=1, log_level="WARNING", public_base_url=env["PUBLIC_BASE_URL"])

    started = time.perf_counter()
    recreate_database(args.database_url)
    app = create_app(settings)
    app.extensions["redis"].flushdb()
    with app.app_context():
        upgrade()
        seeded = seed(args.voters, args.entries, datetime.now(UTC), app.extensions["redis"])
        db.session.remove()
        db.engine.dispose()
    print(f"seeded {args.voters:,} voters with tokens and {args.entries} entries in "
          f"{time.perf_counter() - started:.1f} s", flush=True)
    voters_file = tmp / "voters.txt"
    with voters_file.open("w") as fh:
        for entry_id in seeded.entry_ids:
            fh.write(f"e {entry_id}\n")
        for token, address, device in seeded.voters:
            fh.write(f"v {token} {address} {device}\n")

    engine = create_engine(args.database_url)
    with engine.begin() as conn:
        conn.execute(text(minimal_vote.TABLE))
    engine.dispose()
    port, minimal_port = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    server = Server(args.workers, args.threads)
    with (tmp / "gunicorn.log").open("wb") as log, (tmp / "minimal.log").open("wb") as minimal_log:
        process = subprocess.Popen(server.command(port), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        minimal = subprocess.Popen(server.command(minimal_port, "bench.minimal_vote:app"), cwd=ROOT, env=env,
                                   stdout=minimal_log, stderr=subprocess.STDOUT)
        meter = CpuMeter(process.pid, redis_pid, make_url(args.database_url).database or "")
        minimal_meter = CpuMeter(minimal.pid, redis_pid, make_url(args.database_url).database or "")
        try:
            wait_until(lambda: fetch_json(f"http://127.0.0.1:{minimal_port}/healthz")["redis"] == "up",
                       "the minimal vote app", process=minimal)
            runs, accepted_total, board = load(args, base, voters_file, process, meter,
                                               Minimal(f"http://127.0.0.1:{minimal_port}", minimal_meter))
        finally:
            stop(process)
            stop(minimal)
    check_and_report(args, app, tmp, seeded, server, runs, accepted_total, board)


@dataclass(frozen=True)
class Minimal:
    """The minimal durable vote's server (bench/minimal_vote.py) and its CPU meter."""

    base: str
    meter: CpuMeter


def load(args: argparse.Namespace, base: str, voters_file: Path, process: subprocess.Popen[bytes],
         meter: CpuMeter, minimal: Minimal) -> tuple[list[Run], int, Any]:
    """Warm up, then alternate rounds of the bare endpoint, of votes and of minimal votes."""
    wait_until(lambda: fetch_json(base + "/healthz")["redis"] == "up", "gunicorn", process=process)
    # one leaderboard read builds the live board, so every vote below is counted in Redis
    fetch_json(f"{base}/api/v1/contests/{SLUG}/leaderboard")

    offset = 0
    capacity = VOTES_PER_DAY * args.voters
    runs: list[Run] = []

    def measure(kind: str, seconds: int) -> Run:
        nonlocal offset
        if kind == "minimal":  # the same requests (vote mode of the script) to the minimal app
            run = run_wrk(minimal.base, "vote", voters_file, 0, seconds=seconds, connections=args.connections,
                          threads=args.wrk_threads, meter=minimal.meter)
            return Run("minimal", run.seconds, run.requests, run.p50_ms, run.p99_ms, run.socket_errors, run.statuses,
                       run.sent, run.cpu)
        run = run_wrk(base, kind, voters_file, offset, seconds=seconds, connections=args.connections,
                      threads=args.wrk_threads, meter=meter)
        if kind == "vote":
            offset += run.sent * args.wrk_threads
            if offset > capacity:
                print(f"warning: {offset:,} vote requests exceed the voters' quota ({capacity:,}): raise --voters",
                      flush=True)
        return run

    measure("ping", args.warmup)
    measure("minimal", args.warmup)
    warm = measure("vote", args.warmup)
    print(f"warm-up: {warm.ok} votes accepted", flush=True)
    accepted_total = warm.ok
    for n in range(args.rounds):
        for kind in ("ping", "minimal", "vote"):
            run = measure(kind, args.duration)
            runs.append(run)
            if kind == "vote":
                accepted_total += run.ok
            print(f"round {n + 1} {kind:7s}: {run.per_second:8.0f} req/s, {run.ok_per_second:8.0f} ok/s, "
                  f"p50 {run.p50_ms:6.1f} ms, p99 {run.p99_ms:6.1f} ms, {dict(run.statuses)}", flush=True)
    time.sleep(3)  # let the last board updates land
    return runs, accepted_total, fetch_json(f"{base}/api/v1/contests/{SLUG}/leaderboard?limit=50")


def check_and_report(args: argparse.Namespace, app: Any, tmp: Path, seeded: Seeded, server: Server, runs: list[Run],
                     accepted_total: int, board: Any) -> None:
    with app.app_context():
        votes = db.session.scalar(select(func.count()).select_from(Vote)) or 0
        valid = db.session.scalar(select(func.count()).select_from(Vote).where(Vote.status == "valid")) or 0
        events = db.session.scalar(select(func.count()).select_from(LedgerEvent)) or 0
        reasons = Counter(r for (rs,) in db.session.execute(select(Vote.reasons)) for r in rs)
        redis = app.extensions["redis"]
        contest = contests.get_contest_by_id(db.session, seeded.contest_id)
        live_total = sum(n for _entry, n in live.leaderboard(db.session, redis, contest, limit=len(seeded.entry_ids)))
        verified = ledger.verify_ledger(db.session)
        db.session.remove()
        db.engine.dispose()
    board_total = sum(item["votes"] or 0 for item in board["items"])
    report(args, server, runs, accepted_total=accepted_total, votes=votes, valid=valid, events=events,
           live_total=live_total, board_total=board_total, reasons=reasons, verified=verified.ok)
    errors = [ln for ln in (tmp / "gunicorn.log").read_text(errors="replace").splitlines()
              if " ERROR " in ln or "Traceback" in ln]
    if errors:
        print(f"\nthe server logged {len(errors)} errors, first: {errors[0]}")


def report(args: argparse.Namespace, server: Server, runs: list[Run], **checks: Any) -> None:
    pings = [r for r in runs if r.kind == "ping"]
    votes = [r for r in runs if r.kind == "vote"]
    minimal = [r for r in runs if r.kind == "minimal"]
    med = statistics.median
    bare = med(r.per_second for r in pings)
    accepted = med(r.ok_per_second for r in votes)
    refused: Counter[str] = Counter()
    for r in votes:
        refused.update({k: n for k, n in r.statuses.items() if k != "201"})
    print()
    print(f"gunicorn {server.workers} workers × {server.threads} threads, wrk {args.wrk_threads} threads × "
          f"{args.connections} connections, {args.rounds} rounds × {args.duration} s (medians), "
          f"{args.voters:,} voters, {args.entries} entries, {os.cpu_count()} CPUs")
    print()
    print("| endpoint | requests/s | accepted/s | p50 | p99 |")
    print("|---|---|---|---|---|")
    print(f"| GET /api/v1/ping (bare) | {bare:,.0f} | {med(r.ok_per_second for r in pings):,.0f} | "
          f"{med(r.p50_ms for r in pings):.1f} ms | {med(r.p99_ms for r in pings):.1f} ms |")
    print(f"| POST /api/v1/entries/{{id}}/votes | {med(r.per_second for r in votes):,.0f} | {accepted:,.0f} | "
          f"{med(r.p50_ms for r in votes):.1f} ms | {med(r.p99_ms for r in votes):.1f} ms |")
    print(f"| POST …/votes, minimal durable vote (bench/minimal_vote.py) | {med(r.per_second for r in minimal):,.0f} | "
          f"{med(r.ok_per_second for r in minimal):,.0f} | {med(r.p50_ms for r in minimal):.1f} ms | "
          f"{med(r.p99_ms for r in minimal):.1f} ms |")
    print()
    print(f"accepted votes/s ÷ bare req/s = {accepted / bare:.3f}; "
          f"÷ minimal durable votes/s = {accepted / med(r.ok_per_second for r in minimal):.3f}")
    print()
    parts = ("gunicorn", "postgres", "redis", "wrk", "machine")
    print("| CPU, cores busy (of " + str(os.cpu_count()) + ") | " + " | ".join(parts) + " | others |")
    print("|---|" + "---|" * (len(parts) + 1))
    for label, group in (("ping", pings), ("minimal", minimal), ("votes", votes)):
        used = {part: med(r.cpu[part] for r in group) for part in parts}
        others = max(0.0, used["machine"] - sum(used[p] for p in parts[:-1]))
        print(f"| {label} | " + " | ".join(f"{used[p]:.2f}" for p in parts) + f" | {others:.2f} |")
    per_vote = {part: med(r.cpu[part] / max(r.ok_per_second, 1e-9) * 1000 for r in votes) for part in ("gunicorn", "postgres", "redis")}
    per_ping = med(r.cpu["gunicorn"] / max(r.ok_per_second, 1e-9) * 1000 for r in pings)
    print(f"CPU per accepted vote: gunicorn {per_vote['gunicorn']:.1f} ms, PostgreSQL {per_vote['postgres']:.1f} ms, "
          f"Redis {per_vote['redis']:.2f} ms; per bare request: gunicorn {per_ping:.2f} ms")
    print(f"non-201 vote answers: {dict(refused) or 'none'}; socket errors: {sum(r.socket_errors for r in votes)}")
    print(f"risk reasons on stored votes: {dict(checks['reasons']) or 'none'}")
    print(f"201s counted by wrk (warm-up included): {checks['accepted_total']:,}; vote rows: {checks['votes']:,} "
          f"({checks['valid']:,} valid); ledger events: {checks['events']:,}; live board total: "
          f"{checks['live_total']:,} (API leaderboard: {checks['board_total']:,}); ledger verifies: {checks['verified']}")
    # wrk stops counting when its time is up; the requests then in flight (at most one per
    # connection and run) are still answered and stored, but never counted as 201s.
    in_flight = checks["votes"] - checks["accepted_total"]
    bound = args.connections * (len(votes) + 1)
    print(f"stored but answered after wrk stopped: {in_flight} (at most {bound}): "
          + ("consistent" if 0 <= in_flight <= bound else "MISMATCH"))


if __name__ == "__main__":
    main()
