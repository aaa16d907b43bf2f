#!/usr/bin/env bash
# One command on a fresh machine: install everything and run the whole suite twice (side by side),
# on the embedded default (SQLite, no Redis) and on PostgreSQL + Redis at 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
. .venv/bin/activate

PG_HOST=${PG_HOST:-127.0.0.1}
REDIS_PORT=${REDIS_PORT:-6379}
start_services() {
  if ! pg_isready -q -h "$PG_HOST" -p 5432 2>/dev/null; then
    echo "==> starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
    for _ in $(seq 30); do pg_isready -q -h "$PG_HOST" && break; sleep 1; done
  fi
  if ! redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1; then
    echo "==> starting Redis"
    redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no
    for _ in $(seq 30); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 1; done
  fi
}

echo "==> static checks (ruff, mypy, bandit)"
ruff check --quiet .
mypy
bandit -q -c bandit.yaml -r contest

status=0
start_services
DB=${TEST_PG_DATABASE:-contest_test}
psql -q -h "$PG_HOST" -U postgres -c "DROP DATABASE IF EXISTS $DB" >/dev/null
psql -q -h "$PG_HOST" -U postgres -c "CREATE DATABASE $DB" >/dev/null
run_sqlite() { python -m pytest -q -p no:cacheprovider --durations=25 "$@"; }
# Tests that start their own PostgreSQL and Redis (tests/ops) run once, in the SQLite pass,
# which is the shorter of the two. Both passes name their slowest tests at the end.
run_postgres() {
  TEST_DATABASE_URL="postgresql+psycopg://postgres@$PG_HOST/$DB" TEST_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/15" \
    python -m pytest -q -p no:cacheprovider --durations=25 -m "not own_services" "$@"
}

if [ "$(nproc)" -ge 2 ]; then
  # The two passes share nothing (each its own database; Redis only in the second), so
  # they run side by side, one per core. Only the PostgreSQL pass writes docs/screenshots.
  echo "==> test suite on SQLite (embedded default) and on PostgreSQL + Redis, side by side"
  sqlite_log=$(mktemp)
  shots=$(mktemp -d)
  SCREENSHOTS_DIR="$shots" run_sqlite "$@" >"$sqlite_log" 2>&1 &
  sqlite_pid=$!
  echo "==> PostgreSQL + Redis"
  run_postgres "$@" || status=$?
  sqlite_status=0
  wait "$sqlite_pid" || sqlite_status=$?
  echo "==> SQLite (embedded default)"
  cat "$sqlite_log"
  rm -rf "$sqlite_log" "$shots"
  [ "$sqlite_status" -eq 0 ] || status=$sqlite_status
else
  echo "==> test suite on SQLite (embedded default)"
  run_sqlite "$@" || status=$?
  echo "==> test suite on PostgreSQL + Redis"
  run_postgres "$@" || status=$?
fi
exit $status
