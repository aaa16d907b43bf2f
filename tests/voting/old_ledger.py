"""The ledger as it was written before events carried the status they leave their vote in
(format 1): an event's digest covered the event and the vote as cast, and only a cast's
detail ("valid" or "held: <reasons>") told its status. Spelled out here by hand, apart
from contest.voting.ledger, and written with statements that name only the columns the
table had then, so they run on the schema before the vote_status migration too."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, column, select, table, update

from contest.db import UTCDateTime
from contest.voting import ledger
from contest.voting.models import LedgerEvent, Vote

EVENT = LedgerEvent.__table__
# the block table's columns as they were then (later ones, such as the format version,
# would not exist on that schema)
BLOCK = table("ledger_block", column("id"), column("prev_hash"), column("merkle_root"), column("hash"),
              column("first_event_id"), column("last_event_id"), column("event_count"),
              column("sealed_at", UTCDateTime()))
VOTE = Vote.__table__


def old_digest(*, kind: str, at: datetime, detail: str, contest_id: int, entry_id: int, voter_id: int, day: date,
               cast_at: datetime, receipt: str) -> str:
    fields = {"kind": kind, "at": at.astimezone(UTC).isoformat(), "detail": detail, "contest": contest_id,
              "entry": entry_id, "voter": voter_id, "day": day.isoformat(), "cast_at": cast_at.astimezone(UTC).isoformat(),
              "receipt": receipt}
    return hashlib.sha256(json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def events(conn: Connection) -> list[Any]:
    return conn.execute(
        select(EVENT.c.id, EVENT.c.kind, EVENT.c.at, EVENT.c.detail, EVENT.c.digest, EVENT.c.block_id, VOTE.c.contest_id,
               VOTE.c.entry_id, VOTE.c.voter_id, VOTE.c.day, VOTE.c.created_at, VOTE.c.receipt)
        .join(VOTE, VOTE.c.id == EVENT.c.vote_id).order_by(EVENT.c.id)
    ).all()


def rewrite_digests(conn: Connection, *, mark_format: bool) -> dict[int, str]:
    """Give every event the digest the old code gave it (and, on the current schema,
    format 1); the digests by event id."""
    digests = {}
    for row in events(conn):
        digests[row.id] = old_digest(kind=row.kind, at=row.at, detail=row.detail, contest_id=row.contest_id,
                                     entry_id=row.entry_id, voter_id=row.voter_id, day=row.day, cast_at=row.created_at,
                                     receipt=row.receipt)
        values: dict[str, Any] = {"digest": digests[row.id]}
        if mark_format:
            values["format"] = 1
        conn.execute(update(EVENT).where(EVENT.c.id == row.id).values(**values))
    return digests


def seal(conn: Connection, *, upto: int, now: datetime) -> None:
    """Seal the unsealed events up to id `upto` into one block, as seal_pending does."""
    rows = [r for r in events(conn) if r.block_id is None and r.id <= upto]
    previous = conn.execute(select(BLOCK.c.id, BLOCK.c.hash).order_by(BLOCK.c.id.desc()).limit(1)).first()
    height = previous.id + 1 if previous else 1
    prev_hash = previous.hash if previous else ledger.GENESIS
    root = ledger.merkle_root([r.digest for r in rows])
    first, last = rows[0].id, rows[-1].id
    conn.execute(BLOCK.insert().values(
        id=height, prev_hash=prev_hash, merkle_root=root, first_event_id=first, last_event_id=last, event_count=len(rows),
        sealed_at=now, hash=ledger.block_hash(height=height, prev_hash=prev_hash, root=root, first=first, last=last,
                                              count=len(rows), sealed_at=now)))
    conn.execute(update(EVENT).where(EVENT.c.id.in_([r.id for r in rows])).values(block_id=height))
