"""The second ceiling of bench/votes.py: a minimal durable vote, served by a tiny app of
its own in the same gunicorn shape as the platform.

    POST /api/v1/entries/<id>/votes  →  one Redis call (the entry's count) and one
                                        PostgreSQL insert (autocommit), then 201

No token, limit, quota, anti-fraud, ledger or idempotency check: what any durable vote
costs at least on this machine, so the platform's full-check vote can be compared with it
in the same run. Each gunicorn thread keeps one PostgreSQL connection. Reads DATABASE_URL
(a postgresql+psycopg:// URL, as the platform's) and REDIS_URL; the bench creates the
table `minimal_vote` before it starts.
"""

from __future__ import annotations

import hashlib
import os
import threading
from datetime import UTC, datetime

import psycopg
import redis
from flask import Flask, Response, request

TABLE = ("CREATE TABLE IF NOT EXISTS minimal_vote (id bigserial PRIMARY KEY, entry_id integer NOT NULL, "
         "voter text NOT NULL, address text NOT NULL, created_at timestamptz NOT NULL)")

app = Flask(__name__)
_client = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
_dsn = os.environ.get("DATABASE_URL", "").replace("postgresql+psycopg://", "postgresql://", 1)
_local = threading.local()


def _connection() -> psycopg.Connection:
    conn = getattr(_local, "conn", None)
    if conn is None or conn.closed:
        conn = _local.conn = psycopg.connect(_dsn, autocommit=True)
    return conn


@app.post("/api/v1/entries/<int:entry_id>/votes")
def vote(entry_id: int) -> Response:
    voter = hashlib.sha256(request.headers.get("Authorization", "").encode()).hexdigest()[:16]
    address = request.headers.get("X-Forwarded-For", request.remote_addr or "")
    _client.incr(f"minimal:{entry_id}")
    _connection().execute("INSERT INTO minimal_vote (entry_id, voter, address, created_at) VALUES (%s, %s, %s, %s)",
                          (entry_id, voter, address, datetime.now(UTC)))
    return Response('{"ok":true}', status=201, mimetype="application/json")


@app.get("/healthz")
def healthz() -> Response:
    return Response('{"redis":"up"}', mimetype="application/json")
