#!/usr/bin/env bash
# One command on a fresh machine: install, migrate, seed the Activity Week and serve it
# on the embedded default (SQLite under instance/, no Redis), with its job runner.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
export FLASK_APP=wsgi
flask db upgrade
flask demo
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
echo
echo "==> the platform is at http://$HOST:$PORT/  (Ctrl-C stops it)"
# The job runner beside the web server: it seals the ledger every 2 s (a receipt shows its
# block within seconds), prunes and sweeps hourly and verifies the ledger nightly.
flask jobs worker &
jobs_pid=$!
trap 'kill -INT "$jobs_pid" 2>/dev/null; wait "$jobs_pid" 2>/dev/null' EXIT
# One process: the embedded default keeps rate limits in memory, which must not be
# split across workers. Threads serve concurrent visitors.
gunicorn --workers 1 --threads 8 --bind "$HOST:$PORT" --access-logfile - wsgi:app
