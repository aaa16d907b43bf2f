"""Forgetting what the vote path no longer needs: fraud observations past every window,
and Idempotency-Key answers past any sensible retry. Votes, ledger events and blocks
are never pruned. Observations and ended sign-ins go by their own domains' rules and
batches (antifraud, accounts): this is the one periodic clean-up the deployment runs.

Run by the job runner once an hour (contest/jobs.py, `prune_votes`) and on demand with
`flask votes prune`. Deletes go in batches, each its own short transaction, so a large
backlog never holds locks for long nor blocks voting.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import InstrumentedAttribute

from ..accounts import service as accounts
from ..antifraud import service as antifraud
from ..db import SessionLike
from .models import IdempotentReply

REPLIES_KEPT = timedelta(days=2)  # an app retries within minutes; two days covers a phone left offline overnight
BATCH = 5_000


@dataclass(frozen=True)
class Pruned:
    observations: int
    replies: int
    sign_ins: int = 0

    def __str__(self) -> str:
        return (f"pruned {self.observations} fraud observations, {self.replies} idempotent answers "
                f"and {self.sign_ins} ended sign-ins")

    @property
    def total(self) -> int:
        return self.observations + self.replies + self.sign_ins


def _delete_older(session: SessionLike, model: type[Any], column: InstrumentedAttribute[datetime], cutoff: datetime,
                  batch: int) -> int:
    """Delete rows older than `cutoff`, `batch` at a time, committing after each batch."""
    removed = 0
    while True:
        ids = list(session.scalars(select(model.id).where(column < cutoff).order_by(model.id).limit(batch)))
        if not ids:
            return removed
        session.execute(delete(model).where(model.id.in_(ids)))
        session.commit()
        removed += len(ids)


def prune(session: SessionLike, now: datetime, *, batch: int = BATCH) -> Pruned:
    """Delete fraud observations, idempotent answers and ended sign-ins nobody reads any more; commits."""
    observations = antifraud.prune_observations(session, now, batch=batch)
    replies = _delete_older(session, IdempotentReply, IdempotentReply.created_at, now - REPLIES_KEPT, batch)
    sign_ins = accounts.prune_login_sessions(session, now, batch=batch)
    return Pruned(observations, replies, sign_ins)
