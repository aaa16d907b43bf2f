"""Anti-fraud: a risk score for each vote from named signals, and a decision.

The score is the sum of the points of the signals that fired (see antifraud.signals for
each signal, its thresholds and its points); the decision follows the thresholds below.
Whether a 'captcha' verdict actually asks for one is the contest's captcha_mode rule,
applied by voting.cast_vote.

Signals are kept in Redis sliding windows when Redis is configured and answering,
otherwise (or when a Redis command fails) they are counted from the database; either way
the decision is made before the vote is written.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy import delete, select

from ..accounts.models import User
from ..db import SessionLike
from . import signals as sig
from .models import FraudObservation
from .signals import VoteSignals, subnet_of

log = logging.getLogger(__name__)

# Below CAPTCHA_AT: accept. From CAPTCHA_AT: ask for a captcha. From HOLD_AT: accept but
# hold the vote until an organiser releases it.
CAPTCHA_AT = 30
HOLD_AT = 70
# Observations are kept past the longest window (24 h) for a week: it serves reviews of the Redis rebuild.
OBSERVATIONS_KEPT = timedelta(days=7)
PRUNE_BATCH = 5_000

__all__ = [
    "CAPTCHA_AT", "HOLD_AT", "Verdict", "VoteSignals", "assess_vote", "decide",
    "observation_of", "prune_observations", "queue_windows", "rebuild_windows", "settle_registration", "subnet_of",
]


@dataclass(frozen=True)
class Verdict:
    """accept, captcha (ask for a captcha first) or hold (accept, count only after review)."""

    action: str = "accept"
    score: int = 0
    reasons: tuple[str, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)


def decide(score: int) -> str:
    """accept below 30, captcha from 30, hold from 70."""
    if score >= HOLD_AT:
        return "hold"
    if score >= CAPTCHA_AT:
        return "captcha"
    return "accept"


def _observe(session: SessionLike, redis: Any, signals: VoteSignals, now: datetime) -> sig.Observed:
    observed: sig.Observed | None = None
    if redis is not None:
        try:
            observed = sig.read_redis(redis, signals, now)
        except RedisError as exc:
            log.warning("antifraud: Redis unavailable, counting from the database (%s)", exc)
    if observed is None:
        observed = sig.read_database(session, signals, now)
    if observed.registration_known:
        return observed
    accounts = sig.registration_accounts(session, signals.voter_id, signals.account_created_at, now)
    if observed.source == "redis" and now >= signals.account_created_at + sig.REGISTRATION_WINDOW:
        _remember_registration(redis, signals.voter_id, accounts)
    return replace(observed, registration_accounts=accounts)


def _remember_registration(redis: Any, voter_id: int, accounts: int) -> None:
    # Settled: the burst around a registration cannot change once its window has passed.
    try:
        redis.set(sig.registration_key(voter_id), accounts, ex=sig.REGISTRATION_MEMO_TTL)
    except RedisError as exc:
        log.warning("antifraud: Redis unavailable, registration memo kept in the database only (%s)", exc)


def settle_registration(session: SessionLike, redis: Any, user: User, now: datetime) -> None:
    """At sign-in: once an account's registration window has passed, count the accounts
    registered with it and keep the count (in the caller's transaction, and in Redis),
    so that its votes need not count them again."""
    if now < user.created_at + sig.REGISTRATION_WINDOW:
        return
    accounts = sig.registration_accounts(session, user.id, user.created_at, now, in_caller_transaction=True)
    if redis is not None:
        _remember_registration(redis, user.id, accounts)


def assess_vote(session: SessionLike, redis: Any, signals: VoteSignals, now: datetime) -> Verdict:
    """Score the request from the named signals and decide: accept, captcha or hold."""
    observed = _observe(session, redis, signals, now)
    hits = [hit for signal in sig.SIGNALS if (hit := signal(signals, observed, now)) is not None]
    score = sum(hit.points for hit in hits)
    details: dict[str, Any] = {hit.reason: {"points": hit.points, **hit.detail} for hit in hits}
    details["source"] = observed.source
    return Verdict(action=decide(score), score=score, reasons=tuple(hit.reason for hit in hits), details=details)


def observation_of(signals: VoteSignals, now: datetime) -> dict[str, Any]:
    """The vote's observation row, as values for the vote's own statement (voting.writer)."""
    return sig.observation_of(signals, now)


def queue_windows(pipe: Any, signals: VoteSignals, now: datetime, observation_id: int) -> None:
    """Queue the committed vote's additions to the Redis windows on the caller's pipeline."""
    sig.queue_write(pipe, signals, now, str(observation_id))


def rebuild_windows(session: SessionLike, redis: Any, now: datetime) -> int:
    """Refill the Redis windows from the database (after Redis was flushed, replaced or
    down: `flask redis rebuild`); how many votes. Idempotent: a window's members are the
    observations' ids."""
    return sig.rebuild_redis(session, redis, now)


def prune_observations(session: SessionLike, now: datetime, *, batch: int = PRUNE_BATCH) -> int:
    """Delete the observations that no window reads any more and the review period is
    over, `batch` rows per short transaction (commits after each); how many were deleted."""
    cutoff = now - max(OBSERVATIONS_KEPT, sig.DEVICE_WINDOW)
    removed = 0
    while True:
        ids = list(session.scalars(
            select(FraudObservation.id).where(FraudObservation.at < cutoff).order_by(FraudObservation.id).limit(batch)))
        if not ids:
            return removed
        session.execute(delete(FraudObservation).where(FraudObservation.id.in_(ids)))
        session.commit()
        removed += len(ids)
