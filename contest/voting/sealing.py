"""Sealing the ledger: what the job runner's sealing turn does every SEAL_EVERY.

The vote path only writes events (in the vote's own transaction) and returns. The job
runner's `seal_ledger` task (contest/jobs.py) calls `seal_due` every SEAL_EVERY for the
rest of each minute, one turn across every consumer, so a vote's event is in a block a few
seconds after its commit with no other traffic: the grace period (`ledger.SEAL_GRACE`)
and at most one round. `ledger.seal_pending` takes the database's lock, so a one-off
`flask votes seal` at the same time cannot seal an event twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from ..db import SessionLike
from . import ledger
from .models import LedgerBlock, LedgerEvent

SEAL_EVERY = timedelta(seconds=2)


def unsealed(session: SessionLike, *, due_by: datetime | None = None) -> bool:
    """Whether some event waits for a block (with `due_by`: one written by then)."""
    query = select(LedgerEvent.id).where(LedgerEvent.block_id.is_(None))
    if due_by is not None:
        query = query.where(LedgerEvent.at <= due_by)
    return session.scalar(query.limit(1)) is not None


def seal_due(session: SessionLike, now: datetime) -> LedgerBlock | None:
    """Seal the events that are due (older than the grace period) into a block and commit;
    None when none is due. A database error is rolled back and raised."""
    if not unsealed(session, due_by=now - ledger.SEAL_GRACE):
        return None
    try:
        block = ledger.seal_pending(session, now=now)
        session.commit()
    except SQLAlchemyError:
        session.rollback()
        raise
    return block
