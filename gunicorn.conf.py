"""gunicorn's settings for the platform, read by gunicorn from the folder it starts in (the
project folder: `gunicorn wsgi:app`). docs/DEPLOY.md ("Each instance" and "nginx") says why
each value is what it is; tests/site/test_deploy_config.py holds them to the nginx
configuration in deploy/nginx/contest.conf, and bench/faults.py runs them.

A command-line option overrides the value here (`--bind 10.0.5.11:8000` on an instance that
nginx reaches over the private network; scripts/run-demo.sh runs one process of 8 threads).

The server hooks keep the metrics' multiprocess mode right (contest/metrics.py): with
PROMETHEUS_MULTIPROC_DIR in the environment gunicorn starts with, each worker writes its
figures to files in that folder and a scrape adds them all up. So the folder is emptied
when the server starts (figures of an earlier run would be added to this one's), and a
worker that exits takes its live gauges (requests in progress) with it; its counters stay,
as counters must. Without the variable the hooks do nothing.
"""

from __future__ import annotations

import glob as _glob
import os as _os
from typing import Any

from prometheus_client import multiprocess as _multiprocess

# Only nginx talks to gunicorn: loopback when nginx runs on the same machine. Never a public
# address: gunicorn reads a request as it arrives, so a slow client would hold one of its
# threads, while nginx reads whole requests first (docs/DEPLOY.md, "nginx").
bind = ["127.0.0.1:8000"]

# One process more than the cores, four threads each: a process runs one Python thread at a
# time and waits on PostgreSQL and Redis during a vote (measured: docs/DEPLOY.md, "Workers").
workers = (_os.cpu_count() or 1) + 1
threads = 4  # more than one thread: gunicorn's gthread worker

# Longer than nginx keeps an idle upstream connection (keepalive_timeout 60s in the upstream
# block), so nginx always closes first: a connection gunicorn closed while nginx was sending
# a request on it would be a 502 for a vote nginx may not send again.
keepalive = 75

# A worker whose main loop has not reported for this long is killed and replaced. With
# threads, requests run beside that loop, so this bounds a stuck process, not a long request.
timeout = 60

# On SIGTERM (a restart), requests under way may finish for this long: the longest is a
# video submission (ffprobe 30 s, the copy 120 s, the poster 30 s: contest/media/video.py),
# which nginx waits 240 s for (proxy_read_timeout of the submit location).
graceful_timeout = 240

accesslog = "-"


def _metrics_folder() -> str:
    return _os.environ.get("PROMETHEUS_MULTIPROC_DIR", "").strip()


def on_starting(server: Any) -> None:
    folder = _metrics_folder()
    if not folder:
        return
    _os.makedirs(folder, mode=0o700, exist_ok=True)
    for stale in _glob.glob(_os.path.join(folder, "*.db")):
        _os.remove(stale)


def child_exit(server: Any, worker: Any) -> None:
    if _metrics_folder():
        _multiprocess.mark_process_dead(worker.pid)
