"""Public page speed: home, contest page, gallery (deep pages, search + filters), entry page
and leaderboard, each as a shared copy (an anonymous visitor: contest/page_cache.py) and
rendered (a visitor with a session), against the same app's bare /api/v1/ping measured in
the same run as the baseline.

    python -m bench.pages [--entries 2000] [--rounds 200] [--database-url URL] [--redis-url URL]
                          [--http SECONDS [--http-rounds 3] [--nginx]]

Without --database-url it uses a throw-away SQLite database; with one, the database's
`public` schema is DROPPED and rebuilt by the migrations (give it a database of its own).
Seeded with approved entries in one contest in its voting stage. Uses Flask's test client,
so it measures the application (queries, templates, the cache), not a server.

With --http (and --database-url and --redis-url), the same pages are then served by
gunicorn as deployed (one worker more than the cores, 4 threads each) and loaded by wrk
(2 threads × 32 connections, SECONDS each after a warm-up) as an anonymous visitor, and
compared with the same server's bare /api/v1/ping: each run of a page follows a run of the
ping, and a page's figure is the median of its ratios over --http-rounds rounds (this
machine's other work moves single runs by a factor of two).

With --nginx as well, the pages are then loaded through nginx in front of that gunicorn,
with deploy/nginx/contest.conf as it is (bench/nginx.py: its micro-cache of shared pages,
TLS and HTTP/1.1 keep-alive from wrk; the site named "localhost" so that wrk's SNI and
Host reach it), and compared with the same bare ping of the app.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import ssl
import statistics
import subprocess
import tempfile
import time
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from flask_migrate import upgrade
from sqlalchemy import create_engine, text

from bench.services import ROOT, free_port, gunicorn_command, stop, wait_until
from contest import create_app
from contest.accounts import units
from contest.accounts.actors import SYSTEM
from contest.clock import LOCAL_TZ, FixedClock
from contest.config import Settings
from contest.contests import service as contests
from contest.contests.models import Entry, NomineeProfile
from contest.extensions import db


def seed(n_entries: int, now: datetime) -> None:
    schools = [contests.save_school(db.session, actor=SYSTEM, school=None, name=f"济南第{i}职业学校", district="历下区",
                                    level="中职", enrolment=1000 + i, now=now) for i in range(20)]
    windows = {s: (now - timedelta(days=10 - 2 * i), now + timedelta(days=1 + 2 * i))
               for i, s in enumerate(("submission", "review", "voting", "judging", "publicity"))}
    contest = contests.create_contest(db.session, actor=SYSTEM, now=now, changes=contests.ContestChanges(
        unit_id=units.ensure_unit(db.session, name="济南市教育局", now=now).id,
        slug="bench", kind="selection", title="基准活动", windows=windows))
    category = contests.add_category(db.session, actor=SYSTEM, contest=contest, kind="category", name="中职学生", now=now)
    school_ids = [s.id for s in schools]
    db.session.commit()
    for i in range(n_entries):
        entry = Entry(contest_id=contest.id, title=f"作品{i}", description="介绍", status="approved",
                      school_id=school_ids[i % 20], category_id=category.id, created_at=now, updated_at=now,
                      published_at=now - timedelta(minutes=i))
        entry.nominee = NomineeProfile(name=f"选手{i}", gender="female", story="故事", public_fields={"story": True})
        db.session.add(entry)
        if i % 5000 == 4999:
            db.session.commit()
    db.session.commit()


def measure(client: Any, url: str, rounds: int) -> float:
    for _ in range(5):
        assert client.get(url).status_code == 200, url
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        client.get(url)
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def wrk(url: str, seconds: int) -> tuple[float, str]:
    """Requests per second and the latency percentiles line (50 %, 99 %) of one wrk run."""
    out = subprocess.run(["wrk", "-t", "2", "-c", "32", "-d", f"{seconds}s", "--latency", url],
                         capture_output=True, text=True, check=True).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50, p99 = (re.search(rf"^\s+{n}%\s+(\S+)", out, re.MULTILINE) for n in (50, 99))
    if rate is None or "Non-2xx" in out:
        raise SystemExit(f"wrk against {url}:\n{out}")
    errors = re.search(r"Socket errors:.*", out)
    return float(rate.group(1)), (f"p50 {p50.group(1) if p50 else '?'}, p99 {p99.group(1) if p99 else '?'}"
                                  + (f" ({errors.group(0)})" if errors else ""))


def over_http(args: argparse.Namespace, tmp: str, urls: dict[str, str]) -> None:
    """The pages through gunicorn and wrk, against the same server's bare ping."""
    port = free_port()
    env = {**os.environ, "CONTEST_ENV": "production", "SECRET_KEY": secrets.token_urlsafe(48),
           "DATABASE_URL": args.database_url, "REDIS_URL": args.redis_url, "INSTANCE_PATH": f"{tmp}/instance",
           "MEDIA_ROOT": f"{tmp}/media", "LOG_LEVEL": "WARNING", "PUBLIC_BASE_URL": "https://vote.example.cn",
           "TRUSTED_HOSTS": "127.0.0.1", "PYTHONDONTWRITEBYTECODE": "1"}
    workers = (os.cpu_count() or 1) + 1
    if args.nginx:
        env["TRUSTED_HOSTS"] += ",localhost"
    with open(f"{tmp}/gunicorn.log", "wb") as log:
        process = subprocess.Popen(gunicorn_command(port, "--workers", str(workers), "--threads", "4"), cwd=ROOT,
                                   env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_until(lambda: urllib.request.urlopen(base + "/api/v1/ping", timeout=2).status == 200,  # noqa: S310
                       "gunicorn", process=process)
            print(f"through gunicorn ({workers} workers × 4 threads) and wrk (2 threads × 32 connections), "
                  f"{args.http} s each, {args.http_rounds} rounds, anonymous: requests/s (ratio to ping)")
            load_pages(base, urls, args.http, args.http_rounds)
            if args.nginx:
                through_nginx(tmp, base, f"127.0.0.1:{port}", urls, args.http, args.http_rounds)
        finally:
            stop(process)


def load_pages(base: str, urls: dict[str, str], seconds: int, rounds: int, ping_base: str = "") -> None:
    """Each page under wrk after a warm-up, in `rounds` rounds, each page's run right after
    a run of the app's bare ping (at `ping_base`, else `base`): the machine's other work
    moves both alike, so each page is given as the median of its ratios to the ping run
    beside it (their range after it), with its median rate and the last run's latency."""
    ping_url = (ping_base or base) + "/api/v1/ping"
    pages = urls if ping_base else {"/api/v1/ping (baseline)": "/api/v1/ping", **urls}
    for label, page in pages.items():
        wrk(base + page, 2)  # warm-up: every worker (and nginx's cache) makes and keeps the page
        rates, ratios, latency = [], [], ""
        for _round in range(rounds):
            ping, _latency = wrk(ping_url, seconds)
            rate, latency = wrk(base + page, seconds)
            rates.append(rate)
            ratios.append(rate / ping)
        print(f"  {label:42s} {statistics.median(rates):8.0f}/s  ×{statistics.median(ratios):5.2f} "
              f"({min(ratios):.2f}–{max(ratios):.2f})   {latency}")


def through_nginx(tmp: str, app_base: str, app: str, urls: dict[str, str], seconds: int, rounds: int) -> None:
    """The pages through nginx as deployed in front of the app, against the app's bare ping."""
    from bench.nginx import Site  # noqa: PLC0415  only with --nginx
    site = Site(Path(tmp) / "nginx", free_port(), free_port(), (app, app), server_name="localhost")
    site.write()
    checked = site.test()
    if checked.returncode != 0:
        raise SystemExit("nginx -t refused the configuration:\n" + checked.stderr)
    base = f"https://localhost:{site.https_port}"
    insecure = ssl.create_default_context()
    insecure.check_hostname, insecure.verify_mode = False, ssl.CERT_NONE  # the bench's own certificate
    with open(f"{tmp}/nginx.log", "wb") as log:
        nginx = subprocess.Popen(site.command(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_until(lambda: urllib.request.urlopen(base + "/api/v1/ping", timeout=2,  # noqa: S310
                                                      context=insecure).status == 200, "nginx", process=nginx)
            for page in urls.values():
                with urllib.request.urlopen(base + page, timeout=10, context=insecure) as answer:  # noqa: S310
                    answer.read()
                with urllib.request.urlopen(base + page, timeout=10, context=insecure) as answer:  # noqa: S310
                    if answer.headers.get("X-Cache-Status") not in ("HIT", "UPDATING", "REVALIDATED", "STALE"):
                        raise SystemExit(f"{page}: not served from nginx's cache "
                                         f"(X-Cache-Status {answer.headers.get('X-Cache-Status')})")
            print(f"through nginx's micro-cache (deploy/nginx/contest.conf, TLS, keep-alive) and wrk, {seconds} s each, "
                  "anonymous: requests/s (ratio to the app's own bare ping, without nginx)")
            load_pages(base, {"/api/v1/ping through nginx": "/api/v1/ping", **urls}, seconds, rounds, ping_base=app_base)
        finally:
            stop(nginx)


def reset_schema(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--redis-url", default="")
    parser.add_argument("--http", type=int, default=0, metavar="SECONDS")
    parser.add_argument("--nginx", action="store_true", help="with --http: the pages through nginx's micro-cache too")
    parser.add_argument("--http-rounds", type=int, default=3, help="with --http: runs of each page, each after a ping run")
    args = parser.parse_args()
    if args.nginx and not args.http:
        parser.error("--nginx needs --http")
    if args.http and not (args.database_url and args.redis_url):
        parser.error("--http needs --database-url and --redis-url (the server's workers share them)")
    if args.http and shutil.which("wrk") is None:
        parser.error("--http needs wrk: apt-get install -y wrk")
    # Now, to the minute: the server started with --http runs on the real clock.
    now = FixedClock(datetime.now(LOCAL_TZ).replace(second=0, microsecond=0))
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.sqlite3"
        if args.database_url:
            reset_schema(url)
        settings = Settings(env="testing", instance_path=tmp, database_url=url, redis_url=args.redis_url,
                            ratelimit_enabled=False, extra={"clock": now})
        app = create_app(settings)
        with app.app_context():
            upgrade()
            if app.extensions["redis"] is not None:
                app.extensions["redis"].flushdb()
            started = time.perf_counter()
            seed(args.entries, now.now())
            seeded = time.perf_counter() - started
            if db.engine.dialect.name == "postgresql":
                # What autovacuum does a while after a bulk load: statistics for the planner,
                # and the visibility map that lets the gallery's count read the index only.
                with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                    conn.execute(text("VACUUM ANALYZE"))
            contest = contests.get_contest(db.session, "bench")
            deep = contests.search_gallery(db.session, contest, contests.GalleryQuery(page=49))
            cursor = deep.next_after
            db.session.remove()
        client, with_session = app.test_client(), app.test_client()
        with_session.set_cookie("session", "x")  # a session cookie: each page is made for this visitor
        urls = {
            "home": "/",
            "contest page": "/c/bench",
            "gallery page 1": "/c/bench/entries",
            "gallery page 50 by number (OFFSET)": "/c/bench/entries?page=50",
            "gallery page 50 by its link (keyset)": f"/c/bench/entries?page=50&after={cursor}",
            "gallery page 50, sorted by title": "/c/bench/entries?page=50&sort=title",
            "gallery search '选手1' + school filter": "/c/bench/entries?q=%E9%80%89%E6%89%8B1&school=3",
            "entry page": "/c/bench/entries/1",
            "leaderboard": "/c/bench/leaderboard",
        }
        print(f"{args.entries} approved entries ({url.split(':')[0]}, "
              f"seeded in {seeded:.0f} s), {args.rounds} requests each, median ms (ratio to ping)")
        ping = measure(client, "/api/v1/ping", args.rounds)
        print(f"  {'/api/v1/ping (baseline)':42s} {ping:7.2f} ms  ×{1:6.1f}")
        for label, page in urls.items():
            shared = measure(client, page, args.rounds)
            rendered = measure(with_session, page, args.rounds)
            print(f"  {label:42s} shared {shared:7.2f} ms ×{shared / ping:5.1f}   "
                  f"rendered {rendered:7.2f} ms ×{rendered / ping:6.1f}")
        if args.http:
            over_http(args, tmp, urls)


if __name__ == "__main__":
    main()
