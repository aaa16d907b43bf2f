#!/usr/bin/env bash
# One command on a fresh machine: install, migrate, seed the Activity Week and serve it
# on the embedded default (SQLite under instance/, no Redis).
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
# One process: the embedded default keeps rate limits in memory, which must not be
# split across workers. Threads serve concurrent visitors.
exec gunicorn --workers 1 --threads 8 --bind "$HOST:$PORT" --access-logfile - wsgi:app
