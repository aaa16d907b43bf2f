#!/usr/bin/env bash
# One command on a fresh machine: install everything and run the whole suite twice,
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

status=0
echo "==> test suite on SQLite (embedded default)"
python -m pytest -q -p no:cacheprovider "$@" || status=$?

echo "==> test suite on PostgreSQL + Redis"
start_services
DB=${TEST_PG_DATABASE:-contest_test}
psql -q -h "$PG_HOST" -U postgres -c "DROP DATABASE IF EXISTS $DB" >/dev/null
psql -q -h "$PG_HOST" -U postgres -c "CREATE DATABASE $DB" >/dev/null
TEST_DATABASE_URL="postgresql+psycopg://postgres@$PG_HOST/$DB" TEST_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/15" \
  python -m pytest -q -p no:cacheprovider "$@" || status=$?
exit $status
