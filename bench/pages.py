"""Public page speed: home, gallery (search + filters) and entry page, against a bare
endpoint of the same app as the baseline, measured in the same run.

    python -m bench.pages [--entries 2000] [--rounds 200]

Uses a throw-away SQLite database (or DATABASE_URL) seeded with approved entries, and
Flask's test client, so it measures the application (queries + templates), not a server.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import timedelta

from flask_migrate import upgrade

from contest import create_app
from contest.accounts.actors import SYSTEM
from contest.clock import LOCAL_TZ, FixedClock
from contest.config import Settings
from contest.contests import service as contests
from contest.contests.models import Entry, NomineeProfile
from contest.extensions import db


def seed(n_entries: int, now) -> None:  # type: ignore[no-untyped-def]
    schools = [contests.save_school(db.session, actor=SYSTEM, school=None, name=f"济南第{i}职业学校", district="历下区",
                                    level="中职", enrolment=1000 + i, now=now) for i in range(20)]
    windows = {s: (now - timedelta(days=10 - 2 * i), now + timedelta(days=1 + 2 * i))
               for i, s in enumerate(("submission", "review", "voting", "judging", "publicity"))}
    contest = contests.create_contest(db.session, actor=SYSTEM, now=now, changes=contests.ContestChanges(
        slug="bench", kind="selection", title="基准活动", windows=windows))
    category = contests.add_category(db.session, actor=SYSTEM, contest=contest, kind="category", name="中职学生", now=now)
    for i in range(n_entries):
        entry = Entry(contest_id=contest.id, title=f"作品{i}", description="介绍", status="approved",
                      school_id=schools[i % 20].id, category_id=category.id, created_at=now, updated_at=now,
                      published_at=now - timedelta(minutes=i))
        entry.nominee = NomineeProfile(name=f"选手{i}", gender="female", story="故事", public_fields={"story": True})
        db.session.add(entry)
    db.session.commit()


def measure(client, url: str, rounds: int) -> float:  # type: ignore[no-untyped-def]
    for _ in range(5):
        assert client.get(url).status_code == 200, url
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        client.get(url)
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    now = FixedClock(__import__("datetime").datetime(2023, 5, 16, 10, tzinfo=LOCAL_TZ))
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(env="testing", instance_path=tmp, database_url=f"sqlite:///{tmp}/bench.sqlite3",
                            ratelimit_enabled=False, extra={"clock": now})
        app = create_app(settings)

        @app.get("/bench-bare")
        def bare() -> str:
            return "ok"

        with app.app_context():
            upgrade()
            seed(args.entries, now.now())
        client = app.test_client()
        urls = {
            "bare endpoint (baseline)": "/bench-bare",
            "home": "/",
            "gallery page 1": "/c/bench/entries",
            "gallery page 50, sorted by title": "/c/bench/entries?page=50&sort=title",
            "gallery search '选手1' + school filter": "/c/bench/entries?q=%E9%80%89%E6%89%8B1&school=3",
            "entry page": "/c/bench/entries/1",
        }
        base = None
        print(f"{args.entries} approved entries, {args.rounds} requests each, median ms (ratio to baseline)")
        for label, url in urls.items():
            median = measure(client, url, args.rounds)
            base = base or median
            print(f"  {label:42s} {median:7.2f} ms  ×{median / base:6.1f}")


if __name__ == "__main__":
    main()
