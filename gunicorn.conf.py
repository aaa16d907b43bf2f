"""gunicorn's server hooks, read by gunicorn from the folder it starts in (the project
folder: `gunicorn … wsgi:app`). Every other setting stays on the command line
(docs/DEPLOY.md).

They keep the metrics' multiprocess mode right (contest/metrics.py): with
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
