"""Forgetting what the vote path no longer needs: fraud observations past every window,
and Idempotency-Key answers past any sensible retry. Votes, ledger events and blocks
are never pruned. Ended sign-ins go at the same time (accounts' own rule and batches):
this is the one periodic clean-up the deployment runs.

Run by the sealing daemon once an hour (`flask votes seal --every 2`) and on demand with
`flask votes prune`. Deletes go in batches, each its own short transaction, so a large
backlog never holds locks for long nor blocks voting.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ..accounts import service as accounts
from ..antifraud.models import FraudObservation
from ..antifraud.signals import DEVICE_WINDOW
from .models import IdempotentReply

OBSERVATIONS_KEPT = timedelta(days=7)  # the longest window reads 24 h; a week serves reviews of the Redis rebuild
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


def _delete_older(session: Session, model: type, column: object, cutoff: datetime, batch: int) -> int:
    """Delete rows older than `cutoff`, `batch` at a time, committing after each batch."""
    removed = 0
    while True:
        ids = list(session.scalars(select(model.id).where(column < cutoff).order_by(model.id).limit(batch)))  # type: ignore[attr-defined]
        if not ids:
            return removed
        session.execute(delete(model).where(model.id.in_(ids)))  # type: ignore[attr-defined]
        session.commit()
        removed += len(ids)


def prune(session: Session, now: datetime, *, batch: int = BATCH) -> Pruned:
    """Delete fraud observations, idempotent answers and ended sign-ins nobody reads any more; commits."""
    observations = _delete_older(session, FraudObservation, FraudObservation.at, now - max(OBSERVATIONS_KEPT, DEVICE_WINDOW),
                                 batch)
    replies = _delete_older(session, IdempotentReply, IdempotentReply.created_at, now - REPLIES_KEPT, batch)
    sign_ins = accounts.prune_login_sessions(session, now, batch=batch)
    return Pruned(observations, replies, sign_ins)
