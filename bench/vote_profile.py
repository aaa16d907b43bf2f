"""The vote's application CPU in one process, without HTTP: what bench/votes.py cannot
separate from the machine's other work.

    python -m bench.vote_profile [--votes 2000] [--profile] [--top 40]
                                 [--database-url postgresql+psycopg://…/contest_vote_profile]
                                 [--redis-url redis://127.0.0.1:6379/9]

It drops and creates its own database, migrates it and seeds what bench/votes.py seeds
(one media contest in its voting stage, 40 approved entries, 2,000 verified voters with
API tokens), flushes the Redis database it is given, then POSTs /api/v1/entries/{id}/votes
through Flask's test client with the production settings (a bearer token, one address per
voter through X-Forwarded-For with PROXY_COUNT=1, a device id and an Idempotency-Key),
300 votes to warm up, then `--votes` measured: process CPU and wall time per vote. With
`--profile`, the measured votes run under cProfile (CPU time) and the functions that took
most are printed, by cumulative and by own time.

To compare two versions of the code, run it alternately in each (a git worktree of the
other commit) a few times and compare the pairs: single runs move with the machine's
other work.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import secrets
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from flask_migrate import upgrade

from bench import votes as bench_votes
from contest import create_app
from contest.config import Settings
from contest.extensions import db

VOTERS = 2000
ENTRIES = 40
WARMUP = 300


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--votes", type=int, default=2000, help=f"measured votes (at most {VOTERS * 5 - WARMUP})")
    parser.add_argument("--profile", action="store_true", help="run the measured votes under cProfile")
    parser.add_argument("--top", type=int, default=40, help="functions listed with --profile")
    parser.add_argument("--database-url", default="postgresql+psycopg://postgres@127.0.0.1/contest_vote_profile",
                        help="dropped and created")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/9", help="flushed")
    args = parser.parse_args()
    if not 0 < args.votes <= VOTERS * bench_votes.VOTES_PER_DAY - WARMUP:
        raise SystemExit(f"--votes must be between 1 and {VOTERS * bench_votes.VOTES_PER_DAY - WARMUP}")

    with tempfile.TemporaryDirectory(prefix="contest-vote-profile-") as tmp:
        settings = Settings(env="production", instance_path=str(Path(tmp) / "instance"), secret_key=secrets.token_urlsafe(48),
                            database_url=args.database_url, redis_url=args.redis_url, media_root=str(Path(tmp) / "media"),
                            proxy_count=1, log_level="WARNING", public_base_url="https://vote.example.cn")
        bench_votes.recreate_database(args.database_url)
        app = create_app(settings)
        app.extensions["redis"].flushdb()
        with app.app_context():
            upgrade()
            seeded = bench_votes.seed(VOTERS, ENTRIES, datetime.now(UTC), app.extensions["redis"])
            db.session.remove()
        # Each voter's five votes go to distinct entries, in a shuffled order.
        requests = [(seeded.entry_ids[(v + k * 7) % ENTRIES], token, address, device)
                    for v, (token, address, device) in enumerate(seeded.voters) for k in range(bench_votes.VOTES_PER_DAY)]
        random.Random(1).shuffle(requests)
        client = app.test_client()

        def vote(entry_id: int, token: str, address: str, device: str) -> int:
            return client.post(f"/api/v1/entries/{entry_id}/votes", json={}, base_url=settings.public_base_url, headers={
                "Authorization": f"Bearer {token}", "X-Forwarded-For": address, "X-Device-Id": device,
                "Idempotency-Key": secrets.token_hex(8)}).status_code

        answers = Counter(vote(*r) for r in requests[:WARMUP])
        measured = requests[WARMUP:WARMUP + args.votes]
        profiler = cProfile.Profile(time.process_time) if args.profile else None
        cpu, wall = time.process_time(), time.perf_counter()
        if profiler is not None:
            profiler.enable()
        for r in measured:
            answers[vote(*r)] += 1
        if profiler is not None:
            profiler.disable()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        n = len(measured)
        print(f"{n:,} votes: CPU {cpu / n * 1000:.2f} ms per vote, wall {wall / n * 1000:.2f} ms per vote"
              f"{' (under cProfile)' if profiler else ''}; answers {dict(answers)}")
        if profiler is not None:
            stats = pstats.Stats(profiler)
            stats.sort_stats("cumulative").print_stats(args.top)
            stats.sort_stats("tottime").print_stats(args.top)
        with app.app_context():
            db.engine.dispose()


if __name__ == "__main__":
    main()
