"""Sealing the ledger as votes come in, with no other traffic needed.

Each app owns one `Sealer` (`create_app` keeps it in `app.extensions["sealer"]`). After a
vote's commit, `Sealer.arm` starts a daemon thread in this process, unless one is already
waiting or sealing, and returns at once. The thread waits SEAL_DELAY (the grace period
`ledger.SEAL_GRACE` and a little) and takes a turn in an app context and a session of its
own: `Sealer.maybe_seal` seals the events that are due (`ledger.seal_pending`) at most once
per SEAL_EVERY in this process and, when Redis answers, in the whole cluster
(`SET ledger:seal-tick NX EX 5`). While unsealed events remain (younger than the grace,
its turn taken by another process, or a vote that came in meanwhile), the same thread
waits and takes another turn; then it ends. So a vote followed by silence is sealed within
seconds by its own process, whoever else seals. A failed turn is logged and the thread
ends; the next vote starts it again.

Without Redis, or while the client's health says to leave it alone after a failure (the
same pause the live boards observe), every process takes its own turns; the database's
lock in `seal_pending` still lets one sealer run at a time.

A job runner, when there is one, replaces the thread: `arm` would queue a delayed task
that calls `maybe_seal`.
"""

from __future__ import annotations

import logging
import os
import threading
from datetime import datetime, timedelta
from typing import Any

from flask import Flask, current_app
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from ..db import SessionLike
from ..redis_client import health_of
from . import ledger
from .models import LedgerBlock, LedgerEvent

log = logging.getLogger(__name__)

SEAL_EVERY = timedelta(seconds=5)
SEAL_TICK_KEY = "ledger:seal-tick"
# How long the sealer's thread waits before each turn: a vote's event is due once the
# grace period has passed.
SEAL_DELAY = ledger.SEAL_GRACE + timedelta(seconds=0.5)


def _cluster_turn(redis: Any) -> bool:
    """Whether this process has the cluster's sealing turn: False when another process
    took it; True when Redis is absent, paused after a failure, or does not answer."""
    if redis is None or not health_of(redis).usable():
        return True
    try:
        return bool(redis.set(SEAL_TICK_KEY, "1", nx=True, ex=int(SEAL_EVERY.total_seconds())))
    except RedisError as exc:
        log.warning("ledger sealing: Redis unavailable while taking the sealing turn (%s); sealing without it", exc)
        health_of(redis).failed()
        return True


def sealer_of(app: Flask) -> Sealer:
    """The app's sealer."""
    sealer: Sealer = app.extensions["sealer"]
    return sealer


def after_vote(bind: Engine | Connection) -> None:
    """A vote was committed on `bind`'s database: arm the current app's sealer."""
    sealer_of(current_app).arm(bind)


def _engine_of(bind: Engine | Connection) -> Engine:
    return bind.engine if isinstance(bind, Connection) else bind


def _unsealed(session: SessionLike, *, due_by: datetime | None = None) -> bool:
    """Whether some event waits for a block (with `due_by`: one written by then)."""
    query = select(LedgerEvent.id).where(LedgerEvent.block_id.is_(None))
    if due_by is not None:
        query = query.where(LedgerEvent.at <= due_by)
    return session.scalar(query.limit(1)) is not None


class Sealer:
    """Seals the ledger a moment after votes, in a daemon thread of this process (see the
    module's docstring). One per app; thread-safe. At most one thread per process waits or
    seals at any time, however many votes arrive.

    Gunicorn without --preload (docs/DEPLOY.md) builds the app in each worker; with it,
    the app is built before the fork and a worker starts afresh, since threads do not
    survive a fork.
    """

    def __init__(self, app: Flask, *, delay: timedelta = SEAL_DELAY) -> None:
        self._app = app
        self._delay = delay.total_seconds()
        self._reset()
        self._last: datetime | None = None  # this process's last sealing turn, in the app's time

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._again = False  # a vote came in while a turn was under way
        self._engine: Engine | None = None

    def arm(self, bind: Engine | Connection) -> None:
        """After a vote's commit (on `bind`'s database): make sure a turn follows in a
        moment. Returns at once; the request never waits for sealing."""
        if self._pid != os.getpid():  # in a forked child: the parent's thread and lock stayed behind
            self._reset()
        with self._lock:
            self._engine = _engine_of(bind)
            if self._stopped.is_set():
                return
            if self._thread is not None:
                self._again = True
                return
            self._thread = threading.Thread(target=self._run, name="ledger-sealer", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """No more turns in this app: wake the waiting thread, let a turn under way finish
        (tests, before they empty the database)."""
        with self._lock:
            self._stopped.set()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _run(self) -> None:
        while not self._stopped.wait(self._delay):
            with self._lock:
                self._again = False
                engine = self._engine
            try:
                pending = engine is not None and self._turn(engine)
            except Exception:
                log.exception("sealing the ledger failed; the next vote tries again")
                pending = False
            with self._lock:
                if not (pending or self._again):
                    self._thread = None
                    return
        with self._lock:
            self._thread = None

    def _turn(self, engine: Engine) -> bool:
        """One turn, in an app context and a session of its own, at the app's time; whether
        events still wait for a block afterwards (then another turn follows)."""
        with self._app.app_context(), Session(bind=engine) as session:
            self.maybe_seal(session, self._app.extensions["redis"], self._app.extensions["clock"].now())
            return _unsealed(session)

    def maybe_seal(self, session: SessionLike, redis: Any, now: datetime) -> LedgerBlock | None:
        """Seal the events that are due (older than the grace period) into a block and
        commit, if there are any and it is this process's turn: at most once per SEAL_EVERY
        in this process and (when Redis answers) in the whole cluster. A database error is
        rolled back and raised."""
        if not _unsealed(session, due_by=now - ledger.SEAL_GRACE):
            return None
        last = self._last
        # a clock that went backwards (tests, a corrected server clock) restarts the rhythm
        if last is not None and last <= now < last + SEAL_EVERY:
            return None
        if not _cluster_turn(redis):
            return None
        self._last = now
        try:
            block = ledger.seal_pending(session, now=now)
            session.commit()
        except SQLAlchemyError:
            session.rollback()
            raise
        return block
