"""A contest at full size: build it fast, then time what reads it, with peak memory.

    python -m bench.scale [--entries 50000] [--votes 1000000] [--database-url URL]
                          [--redis-url URL] [--keep] [--only STEP ...]

1. Drops and creates its own database (default contest_scale on the local PostgreSQL; a
   sqlite:/// URL works for small runs), migrates it and builds one 全民美拍 contest in
   its judging stage: `--entries` approved entries, voters (one for every eight votes)
   and `--votes` votes cast over the seven days of its voting window. Entries' popularity
   is skewed (the busiest gets several percent of the votes); about 3 % of votes are held
   when cast, and each evening the desk releases half of that day's held votes, voids a
   third of them and voids about 1.5 % of the day's valid votes. Rows are bulk-inserted,
   but they are the live path's rows: every vote with its cast event (digest by
   `ledger.cast_fields` and `ledger.digest_of`), every void and release with its event,
   the quota rows, the fraud observations, the votes' counts, and blocks of 5,000 events made by
   `ledger.next_block` (the sealing code's own block maker) — except the last 10,000
   events, left unsealed for the sealing step. `flask votes verify` passes on it.
2. Runs each step in a child process of its own (a fresh app, as a CLI command or a
   worker would be) and reports its wall time and the child's peak resident memory
   (VmHWM); the first row is a child that only builds the app, the floor under
   every figure. Pages are asked 5 times after one warm-up through Flask's test client
   (the application: queries and templates, no HTTP server) and the median is shown.

Nothing is written inside the repository.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.engine import make_url

from contest import create_app
from contest.accounts import service as accounts
from contest.accounts import units
from contest.accounts.actors import SYSTEM
from contest.accounts.models import UnitMembership, User, UserRole
from contest.clock import FixedClock, local_midnight
from contest.config import Settings
from contest.contests import service as contests
from contest.contests.models import Contest, Entry
from contest.extensions import db
from contest.voting import ledger
from contest.voting.models import LedgerBlock, LedgerEvent, Vote
from contest.voting.records import local_day
from contest.voting.service import RECEIPT_ALPHABET

DEFAULT_DATABASE = "postgresql+psycopg://postgres@127.0.0.1/contest_scale"
SLUG = "bench-scale"
BLOCK_EVENTS = 5000
PENDING_EVENTS = 10_000
VOTES_PER_VOTER = 8
HELD_SHARE, VOID_SHARE = 0.03, 0.015
CHUNK = 5000
NOW = datetime(2026, 6, 20, 2, 0, tzinfo=UTC)  # 10:00 in Jinan, a day into judging


# --- building the contest -------------------------------------------------------------------

def recreate_database(url: str) -> None:
    target = make_url(url)
    if target.drivername.startswith("sqlite"):
        if target.database and os.path.exists(target.database):
            os.remove(target.database)
        return
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()


def settings_for(url: str, redis_url: str, instance: str) -> Settings:
    return Settings(env="testing", instance_path=instance, database_url=url, redis_url=redis_url,
                    ratelimit_enabled=False, log_level="WARNING", extra={"clock": FixedClock(NOW)})


def seed_contest(n_entries: int) -> tuple[Contest, list[int]]:
    """The contest, voting over the seven days before yesterday, and its entries."""
    windows: dict[str, tuple[datetime | None, datetime | None]] = {"submission": (NOW - timedelta(days=30), NOW - timedelta(days=20)),
               "review": (NOW - timedelta(days=20), NOW - timedelta(days=9)),
               "voting": (local_midnight(local_day(NOW) - timedelta(days=8)), local_midnight(local_day(NOW) - timedelta(days=1))),
               "judging": (local_midnight(local_day(NOW) - timedelta(days=1)), NOW + timedelta(days=10)),
               "publicity": (NOW + timedelta(days=10), NOW + timedelta(days=20))}
    contest = contests.create_contest(db.session, actor=SYSTEM, now=NOW - timedelta(days=40), changes=contests.ContestChanges(
        unit_id=units.ensure_unit(db.session, name="济南市教育局", now=NOW).id,
        slug=SLUG, kind="media", title="全民美拍 规模测试", theme="技能：让生活更美好", windows=windows,
        rules={"votes_per_day": 5, "votes_per_entry_per_day": 1, "captcha_mode": "risk"}))
    categories = [contests.add_category(db.session, actor=SYSTEM, contest=contest, kind="category", name=name,
                                        now=NOW - timedelta(days=40)) for name in ("摄影作品", "短视频")]
    created = NOW - timedelta(days=25)
    rows = [{"contest_id": contest.id, "title": f"作品{i}", "description": "介绍", "status": "approved",
             "category_id": categories[i % 2].id, "created_at": created, "updated_at": created, "submitted_at": created,
             "published_at": created + timedelta(seconds=i)} for i in range(n_entries)]
    for start in range(0, len(rows), CHUNK):
        db.session.execute(insert(Entry), rows[start:start + CHUNK])
    db.session.commit()
    return contest, list(db.session.scalars(select(Entry.id).where(Entry.contest_id == contest.id).order_by(Entry.id)))


def seed_voters(n_voters: int) -> None:
    """Citizens with verified phones (one shared password hash: hashing each would take
    minutes and measures nothing here)."""
    password_hash = accounts.hash_password("scale-bench-2026")
    created = NOW - timedelta(days=60)
    for start in range(0, n_voters, CHUNK):
        ids = range(start + 1, min(n_voters, start + CHUNK) + 1)
        db.session.execute(insert(User), [
            {"id": uid, "phone": f"139{uid:08d}", "password_hash": password_hash, "display_name": "",
             "is_active_account": True, "phone_verified_at": created, "created_at": created,
             "session_token": f"{uid:032x}"} for uid in ids])
        db.session.execute(insert(UserRole), [{"user_id": uid, "role": "citizen", "granted_at": created} for uid in ids])
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("SELECT setval(pg_get_serial_sequence('user_account', 'id'), :n)"), {"n": n_voters})
    db.session.commit()


class Builder:
    """Votes and their events in time order, written in chunks; events sealed into blocks
    as the sealer would, the last PENDING_EVENTS left unsealed."""

    def __init__(self, contest: Contest, entry_ids: list[int], n_votes: int, n_voters: int, *, pending: int,
                 block_events: int = BLOCK_EVENTS) -> None:
        self.block_events = block_events
        self.contest, self.entry_ids, self.n_votes, self.n_voters = contest, entry_ids, n_votes, n_voters
        self.voter_key = contest.voter_key
        self.pending_left = pending
        self.rng = random.Random(19)
        self.votes: list[dict[str, Any]] = []
        self.events: deque[dict[str, Any]] = deque()
        self.event_id = 0
        self.height, self.prev_hash, self.size = 0, ledger.GENESIS, 0
        self.frontier: list[bytes] = []
        self.counts = {"valid": 0, "held": 0, "voided": 0, "events": 0, "blocks": 0}

    def run(self) -> dict[str, int]:
        start, end = self.contest.voting_starts_at, self.contest.voting_ends_at
        assert start is not None and end is not None
        step = (end - start - timedelta(minutes=1)) / self.n_votes
        seen: dict[int, tuple[date, set[int]]] = {}
        review: list[tuple[dict[str, Any], str, str]] = []  # (vote, kind, reason) for the evening
        day = local_day(start)
        for i in range(self.n_votes):
            at = start + step * i + timedelta(microseconds=self.rng.randrange(1_000_000))
            if local_day(at) != day:
                self._review(review, local_midnight(local_day(at)) - timedelta(seconds=1))
                review, day = [], local_day(at)
            voter = (i * 7919) % self.n_voters + 1
            voted_day, voted = seen.get(voter, (day, set()))
            if voted_day != day:
                voted = set()
            index = int(len(self.entry_ids) * self.rng.random() ** 4)
            while index in voted:
                index = (index + 1) % len(self.entry_ids)
            voted.add(index)
            seen[voter] = (day, voted)
            vote, fate = self._cast(i + 1, voter, self.entry_ids[index], at, day)
            if fate:
                review.append((vote, *fate))
        self._review(review, end + timedelta(hours=2))
        self._flush_votes()
        while len(self.events) > self.pending_left:
            self._seal(min(self.block_events, len(self.events) - self.pending_left))
        self._write_events(list(self.events), None)
        self.events.clear()
        return self.counts

    def _cast(self, vote_id: int, voter: int, entry_id: int, at: datetime, day: date) -> tuple[dict[str, Any], tuple[str, str] | None]:
        held = self.rng.random() < HELD_SHARE
        reasons = ["device_many_accounts"] if held else []
        status = "held" if held else "valid"
        receipt = "".join(self.rng.choices(RECEIPT_ALPHABET, k=12))
        subnet = f"10.{voter // 65536 % 256}.{voter // 256 % 256}"
        vote = {"id": vote_id, "contest_id": self.contest.id, "entry_id": entry_id, "voter_id": voter, "day": day,
                "created_at": at, "status": status, "risk_score": 70 if held else self.rng.randrange(30), "reasons": reasons,
                "ip": f"{subnet}.{voter % 256}", "subnet": f"{subnet}.0/24", "device_id": f"{voter:016x}",
                "user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) MicroMessenger/8.0.47",
                "receipt": receipt, "idempotency_key": None, "status_reason": ""}
        detail = "held: " + ",".join(reasons) if held else "valid"
        self._event(vote, "cast", at, detail, status)
        self.votes.append(vote)
        roll = self.rng.random()
        fate = None
        if held and roll < 0.5:
            fate = ("release", "核实无误")
        elif held and roll < 0.8:
            fate = ("void", "同一设备多账号")
        elif not held and roll < VOID_SHARE:
            fate = ("void", "异常集中投票")
        if fate:
            vote["status"] = ledger.STATUS_AFTER[fate[0]]
            vote["status_reason"] = fate[1]
        self.counts[str(vote["status"])] += 1
        if len(self.votes) >= CHUNK:
            self._flush_votes()
        return vote, fate

    def _review(self, review: list[tuple[dict[str, Any], str, str]], at: datetime) -> None:
        """The evening's desk work: the day's releases and voids, each an event."""
        for vote, kind, reason in review:
            self._event(vote, kind, at, reason, ledger.STATUS_AFTER[kind])

    def _event(self, vote: dict[str, Any], kind: str, at: datetime, detail: str, status: str) -> None:
        self.event_id += 1
        fields = ledger.cast_fields(kind=kind, at=at, detail=detail, contest_id=vote["contest_id"], entry_id=vote["entry_id"],
                                    voter_id=vote["voter_id"], day=vote["day"], cast_at=vote["created_at"],
                                    receipt=vote["receipt"], vote_status=status, voter_key=self.voter_key)
        self.events.append({"id": self.event_id, "kind": kind, "vote_id": vote["id"], "contest_id": vote["contest_id"],
                            "at": at, "detail": detail, "vote_status": status, "format": ledger.EVENT_FORMAT,
                            "digest": ledger.digest_of(fields)})
        self.counts["events"] += 1
        if len(self.events) >= self.pending_left + 2 * self.block_events:
            self._seal(self.block_events)

    def _seal(self, n: int) -> None:
        self._flush_votes()
        batch = [self.events.popleft() for _ in range(n)]
        block = ledger.next_block(self.height, self.prev_hash, self.frontier, self.size,
                                  [(e["id"], e["digest"]) for e in batch], batch[-1]["at"] + timedelta(seconds=3))
        self.frontier = [bytes.fromhex(h) for h in json.loads(block["frontier"])]
        self.height, self.prev_hash, self.size = block["id"], block["hash"], block["tree_size"]
        db.session.execute(insert(LedgerBlock), [block])
        self._write_events(batch, block["id"])
        self.counts["blocks"] += 1

    def _write_events(self, batch: list[dict[str, Any]], block_id: int | None) -> None:
        for start in range(0, len(batch), CHUNK):
            db.session.execute(insert(LedgerEvent), [{**e, "block_id": block_id} for e in batch[start:start + CHUNK]])
        db.session.commit()

    def _flush_votes(self) -> None:
        if self.votes:
            db.session.execute(insert(Vote), self.votes)
            self.votes = []


def derived_rows() -> None:
    """The rows the live path writes beside each vote: quotas and fraud observations."""
    for statement in (
        "INSERT INTO vote_quota (contest_id, voter_id, day, used) "
        "SELECT contest_id, voter_id, day, count(*) FROM vote GROUP BY contest_id, voter_id, day",
        "INSERT INTO vote_entry_quota (entry_id, voter_id, day, used) "
        "SELECT entry_id, voter_id, day, count(*) FROM vote GROUP BY entry_id, voter_id, day",
        "INSERT INTO fraud_observation (contest_id, entry_id, voter_id, at, ip, subnet, device_id) "
        "SELECT contest_id, entry_id, voter_id, created_at, ip, subnet, device_id FROM vote ORDER BY id",
        "INSERT INTO vote_count (contest_id, entry_id, status, reason, slot, n) "
        "SELECT contest_id, entry_id, status, CASE WHEN status = 'voided' THEN status_reason ELSE '' END, 0, count(*) "
        "FROM vote GROUP BY contest_id, entry_id, status, CASE WHEN status = 'voided' THEN status_reason ELSE '' END",
    ):
        db.session.execute(text(statement))
    if db.engine.dialect.name == "postgresql":
        for table in ("vote", "ledger_event"):
            db.session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))


def build(app: Flask, n_entries: int, n_votes: int, *, pending: int = PENDING_EVENTS,
          block_events: int = BLOCK_EVENTS) -> dict[str, int]:
    with app.app_context():
        upgrade()
        contest, entry_ids = seed_contest(n_entries)
        n_voters = max(n_votes // VOTES_PER_VOTER, 10)
        seed_voters(n_voters)
        accounts.create_user(db.session, phone="13800000001", password="scale-bench-2026", roles=["organiser"],
                             now=NOW - timedelta(days=50), display_name="组织者")
        db.session.commit()
        counts = Builder(contest, entry_ids, n_votes, n_voters, pending=pending, block_events=block_events).run()
        derived_rows()
        return {**counts, "voters": n_voters, "entries": n_entries}


# --- the steps, each in a child process ------------------------------------------------------

def busiest_entry() -> int:
    return db.session.execute(select(Vote.entry_id, func.count()).group_by(Vote.entry_id)
                              .order_by(func.count().desc()).limit(1)).one()[0]


def _signed_in(app: Flask) -> Any:
    client = app.test_client()
    organiser = db.session.scalar(select(User).where(User.phone == "13800000001"))
    assert organiser is not None
    contest = contests.get_contest(db.session, SLUG, include_unpublished=True)
    assert contest.unit_id is not None
    if not any(m.unit_id == contest.unit_id for m in organiser.memberships):  # the back office gives powers by unit
        organiser.memberships.append(UnitMembership(unit_id=contest.unit_id, role="organiser", granted_at=NOW))
    token = accounts.open_login_session(db.session, user=organiser, now=NOW)
    db.session.commit()
    with client.session_transaction() as session:
        session["_user_id"] = token
    return client


def _page(app: Flask, url: str, *, signed_in: bool = False) -> str:
    """The median of 5 requests after a first one; the note gives the first's time too
    (a public page is shared from Redis once made: the first request makes it)."""
    client = _signed_in(app) if signed_in else app.test_client()
    return _timed(client, [url] * 6)


def _timed(client: Any, urls: list[str]) -> str:
    """Each URL requested in turn: the median time of all but the first, and in the note
    the first's time, the median CPU time of this process (the application's own work,
    less sensitive to a busy machine than the wall time) and the last body's size."""
    samples, cpu = [], []
    for url in urls:
        started, started_cpu = time.perf_counter(), time.process_time()
        response = client.get(url)
        body = response.get_data()
        samples.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
        if response.status_code != 200:
            raise RuntimeError(f"{url}: {response.status_code} {body[:300]!r}")
    return (f"{statistics.median(samples[1:]):.3f}|first {samples[0]:.2f} s, cpu {statistics.median(cpu[1:]):.2f} s, "
            f"{len(body)} bytes")


def _pages(app: Flask, url: str) -> str:
    """A paged public page: the first request in a fresh process (page 1), then the median
    of pages 2 to 6 (each made afresh: a page of its own in the shared cache)."""
    return _timed(app.test_client(), [url + (f"?page={page}" if page > 1 else "") for page in range(1, 7)])


def _verify(app: Flask) -> str:
    report = ledger.verify_ledger(db.session)
    if not report.ok:
        raise RuntimeError(report.problem)
    return f"{report.blocks} blocks, {report.events} events"


def _recount(app: Flask) -> str:
    from contest.voting import live
    totals = live.recount(db.session, app.extensions.get("redis"), None)
    db.session.commit()
    return f"{sum(totals.values())} valid"


def _seal(app: Flask) -> str:
    block = ledger.seal_pending(db.session, now=NOW, max_events=PENDING_EVENTS)  # the sealing turn's whole backlog
    db.session.commit()
    return f"{block.event_count} events" if block else "nothing pending"


def _publish(app: Flask) -> str:
    """What request_publication and confirming do (seal, the sealed replay, compute, store
    the rows and the chart of votes per day), stored as published: the contest has no jury round, whose absence would stop the
    service's own request."""
    from contest.results import service as results
    from contest.results.models import Publication
    contest = contests.get_contest(db.session, SLUG, include_unpublished=True)
    ledger.seal_pending(db.session, now=NOW + ledger.SEAL_GRACE)
    comp = results.compute(db.session, contest)
    version = (db.session.scalar(select(func.max(Publication.version)).where(Publication.contest_id == contest.id)) or 0) + 1
    publication = Publication(
        contest_id=contest.id, version=version, state="publicity", formula=comp.formula, fingerprint=comp.fingerprint,
        ledger_head=comp.tally.head_info(), rows=results.breakdown_rows(comp), rounds=[], computed_at=NOW,
        requested_at=NOW, confirmed_at=NOW, publicity_ends_at=NOW + timedelta(days=5), publicity_days=5)
    db.session.add(publication)
    db.session.flush()
    results.keep_daily_chart(db.session, publication)  # as confirming does
    db.session.commit()
    return f"{len(comp.results)} rows"


def _contest_id() -> int:
    return contests.get_contest(db.session, SLUG, include_unpublished=True).id


STEPS: dict[str, Callable[[Flask], str]] = {
    "app only (floor)": lambda app: "",
    "votes verify": _verify,
    "votes recount": _recount,
    "seal 10,000 pending events": _seal,
    "results compute + publication": _publish,
    "fraud desk: contest": lambda app: _page(app, f"/admin/fraud/{_contest_id()}", signed_in=True),
    "fraud desk: busiest entry": lambda app: _page(app, f"/admin/fraud/entries/{busiest_entry()}", signed_in=True),
    "fraud desk: busiest entry, last 24 h": lambda app: _page(app, f"/admin/fraud/entries/{busiest_entry()}?hours=24",
                                                              signed_in=True),
    "transparency page": lambda app: _pages(app, f"/c/{SLUG}/transparency"),
    "public leaderboard": lambda app: _page(app, f"/c/{SLUG}/leaderboard"),
    "gallery page 1": lambda app: _page(app, f"/c/{SLUG}/entries"),
    "gallery page 2,000": lambda app: _page(app, f"/c/{SLUG}/entries?page=2000"),
    "results page": lambda app: _pages(app, f"/c/{SLUG}/results"),
    "export results.csv": lambda app: _page(app, f"/admin/results/{SLUG}/export/results.csv", signed_in=True),
    "export votes.csv": lambda app: _page(app, f"/admin/results/{SLUG}/export/votes.csv", signed_in=True),
    "export audit.csv": lambda app: _page(app, f"/admin/results/{SLUG}/export/audit.csv", signed_in=True),
}


def run_step(name: str, url: str, redis_url: str) -> dict[str, Any]:
    """In the child: build the app, run the step, report time and peak memory."""
    with tempfile.TemporaryDirectory() as instance:
        app = create_app(settings_for(url, redis_url, instance))
        with app.app_context():
            started = time.perf_counter()
            note = STEPS[name](app)
            seconds = time.perf_counter() - started
            if "|" in note:  # a page: the median of its requests
                median, note = note.split("|", 1)
                seconds = float(median)
    return {"step": name, "seconds": seconds, "peak_mb": peak_mb(), "note": note}


def peak_mb() -> float:
    """This process's peak resident memory: VmHWM, which starts afresh at exec (ru_maxrss
    would carry over the peak of the parent that forked it)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def in_child(name: str, url: str, redis_url: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "bench.scale", "--step", name, "--database-url", url,
                           "--redis-url", redis_url], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"step": name, "seconds": float("nan"), "peak_mb": float("nan"),
                "note": "FAILED: " + (done.stderr.strip().splitlines() or ["?"])[-1][:150]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def table(rows: list[dict[str, Any]]) -> Iterator[str]:
    yield "| step | time | peak RSS | note |"
    yield "|---|---|---|---|"
    for row in rows:
        yield f"| {row['step']} | {row['seconds']:.2f} s | {row['peak_mb']:.0f} MB | {row['note']} |"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=50_000)
    parser.add_argument("--votes", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE, help="dropped and created")
    parser.add_argument("--redis-url", default="", help="for the live boards (recount); none by default")
    parser.add_argument("--pending", type=int, default=PENDING_EVENTS, help="events left unsealed")
    parser.add_argument("--keep", action="store_true", help="time the steps on the database as it is, without building")
    parser.add_argument("--only", nargs="*", help="only these steps (by name)")
    parser.add_argument("--step", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.step:
        print(json.dumps(run_step(args.step, args.database_url, args.redis_url)))
        return
    if not args.keep:
        started = time.perf_counter()
        recreate_database(args.database_url)
        with tempfile.TemporaryDirectory() as instance:
            counts = build(create_app(settings_for(args.database_url, args.redis_url, instance)), args.entries, args.votes,
                           pending=args.pending)
        print(f"built in {time.perf_counter() - started:.0f} s: {counts}", flush=True)
    rows = []
    for name in STEPS:
        if args.only and name not in args.only:
            continue
        rows.append(in_child(name, args.database_url, args.redis_url))
        print(f"  {name}: {rows[-1]['seconds']:.2f} s, {rows[-1]['peak_mb']:.0f} MB {rows[-1]['note']}", flush=True)
    print(f"\n{args.entries:,} entries, {args.votes:,} votes\n")
    print("\n".join(table(rows)))


if __name__ == "__main__":
    main()
