"""The job runner: Huey, with the app's schedules and queued work.

Each app gets one Huey (`app.extensions["jobs"]`, made by `create_app` through
`make_jobs`): `RedisHuey` on the deployment's Redis when REDIS_URL is set, else
`SqliteHuey` in instance/jobs.sqlite3 (the embedded default). The consumer runs as
`flask jobs worker` beside the web server (scripts/run-demo.sh starts it with gunicorn;
docs/DEPLOY.md gives its systemd unit) and `flask jobs status` shows what waits, what
runs, what failed and what is scheduled.

The schedules:
- `seal_ledger`, every minute, a turn of its own: it seals the events that are due every
  SEAL_EVERY (2 s) for the rest of the minute, so a vote's receipt shows its block a few
  seconds after the vote whatever else happens; a lock keeps one turn running across
  every consumer, and the next minute's turn takes over. The request path never waits:
  it writes the event and returns.
- `prune_votes` hourly (voting.housekeeping.prune: old idempotency answers, view stamps,
  observations, ended sign-ins).
- `sweep_media` hourly (media.orphans: stored files no row refers to, after 24 hours).
- `verify_ledger` nightly (03:30, Asia/Shanghai): the whole ledger recomputed; a failure is
  logged as an error and written to the audit log (操作日志), where organisers see it.
- `retry_sms` every minute: text messages whose gateway was throttled or out of reach are
  sent again once their backoff has passed, while a code is still fresh, and messages
  still queued half a minute after their commit are sent (their hand-over was lost)
  (accounts.service.due_for_retry / deliver: a message is never sent twice).

Queued work:
- `send_sms(message_id)`, queued after the commit of whatever wrote the message (the app's
  sender is `accounts.service.Queued`): the request that asked for a code returns at once
  and its page follows the delivery.
- `transcode_video(media_item_id)`, queued after an upload's commit: the video's playback
  rendition (media.playback.make_playback; a claim keeps two consumers off one video, and
  a video already ready or failed is left alone), retried twice a minute apart. Every ten
  minutes `requeue_playback` queues again the videos still pending that no runner holds
  (media.playback.stalled: the hand-over or the queue was lost, or the retries were spent).
- `make_file(file_id)`, queued when an organiser asks for a large export (the audit log)
  or every certificate of a publication in one PDF (results.prepared): made with its
  progress recorded, kept for a day (removed by `prune_votes`'s round).

Every task runs in an app context with a session of its own, and is safe to run twice:
each reads what is due from the database and does that.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from huey import RedisHuey, SqliteHuey, crontab, signals
from huey.api import Huey
from huey.constants import EmptyData
from huey.exceptions import TaskLockedException
from sqlalchemy.orm import Session

from .accounts import audit
from .accounts import service as accounts
from .accounts.actors import SYSTEM
from .extensions import db
from .i18n import N_, code_labels
from .media import orphans, playback
from .redis_client import queue_pool
from .results import prepared
from .typesetting import resolve_font
from .voting import housekeeping, ledger, sealing
from .voting.models import LedgerBlock

log = logging.getLogger(__name__)

NAME = "contest-jobs"
SEAL_TURN = timedelta(seconds=55)  # each minute's sealing turn; the next one starts on the minute
SEAL_LOCK = timedelta(seconds=10)  # how long a sealing turn's lock outlives its last renewal
FAILURES_KEPT = 50
STATE_KEY = "contest:jobs:state"  # running tasks and the latest failures, in Huey's own storage

code_labels("audit_action", {"ledger.verify_failed": N_("账本核验未通过")})
code_labels("audit_target", {"ledger": N_("投票账本")})


def make_jobs(app: Flask) -> Huey:
    """The app's Huey, its tasks and schedules registered (see the module docstring)."""
    settings = app.extensions["settings"]
    huey: Huey
    if settings.redis_url:
        # a Sentinel URL gives connections that follow the master (redis_client.queue_pool)
        huey = RedisHuey(NAME, connection_pool=queue_pool(settings.redis_url), utc=True)
    else:
        path = Path(settings.instance_path) / "jobs.sqlite3"
        path.parent.mkdir(parents=True, exist_ok=True)
        huey = SqliteHuey(NAME, filename=str(path), utc=True)
    Tasks(app, huey)
    return huey


class ExpiringLock:
    """A lock across every consumer, kept in Huey's storage, that a consumer killed while
    holding it cannot keep for ever: it lapses `ttl` after it was taken. (Huey's own
    lock_task lasts until released, so one SIGKILL during a sealing turn stopped sealing
    for good; its TTL needs Redis 7.4's hash-field expiry.) Used as Huey's: a decorator or
    a context manager, raising TaskLockedException when held.

    A lapsed lock is taken over by reading it and popping it (an atomic get-and-delete):
    only the consumer that popped the very value it read goes on to take it."""

    def __init__(self, huey: Huey, name: str, ttl: timedelta) -> None:
        self.huey = huey
        self.key = f"{huey.name}.expiring-lock.{name}"
        self.ttl = ttl.total_seconds()
        self._held = threading.local()  # the value this thread wrote, while it holds the lock

    def _until(self) -> bytes:
        return f"{time.time() + self.ttl:.3f}".encode()

    def acquire(self) -> None:
        until = self._until()
        if self.huey.storage.put_if_empty(self.key, until):
            self._held.value = until
            return
        held = self.huey.storage.peek_data(self.key)
        lapsed = held is not EmptyData and held is not None and float(held) < time.time()
        if lapsed and self.huey.storage.pop_data(self.key) == held and self.huey.storage.put_if_empty(self.key, until):
            log.warning("job lock %s had lapsed (its holder stopped); taken over", self.key)
            self._held.value = until
            return
        raise TaskLockedException(f"unable to acquire lock {self.key}")

    def renew(self) -> None:
        """Hold the lock for another `ttl` (a long task, between its rounds), if still ours."""
        mine = getattr(self._held, "value", None)
        if mine is not None and self.huey.storage.peek_data(self.key) == mine:
            self._held.value = self._until()
            self.huey.storage.put_data(self.key, self._held.value)

    def release(self) -> None:
        mine = getattr(self._held, "value", None)
        self._held.value = None
        if mine is None or self.huey.storage.peek_data(self.key) == mine:
            self.huey.storage.delete_data(self.key)

    def __enter__(self) -> ExpiringLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __call__(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def locked(*args: Any, **kwargs: Any) -> Any:
            with self:
                return fn(*args, **kwargs)
        return locked


def jobs_of(app: Flask) -> Huey:
    jobs: Huey = app.extensions["jobs"]
    return jobs


@contextmanager
def _session(app: Flask) -> Iterator[Session]:
    """An app context and a session of the task's own."""
    with app.app_context(), Session(bind=db.engine, expire_on_commit=False) as session:
        yield session


class Tasks:
    """The app's tasks, bound to it; each registered on `huey` under its name."""

    def __init__(self, app: Flask, huey: Huey) -> None:
        self.app = app
        self.huey = huey
        self.stopping = threading.Event()  # the consumer's stop flag once one runs (run_worker)
        # Held for SEAL_LOCK and renewed every round: a turn whose consumer was killed frees
        # it within seconds, and the next minute's turn (or a restarted runner's) takes over.
        self.seal_lock = ExpiringLock(huey, "seal-ledger", SEAL_LOCK)
        self.seal_ledger = huey.periodic_task(crontab(), name="seal_ledger")(self.seal_lock(self._seal_turn))
        self.prune_votes = huey.periodic_task(crontab(minute="7"), name="prune_votes", retries=2, retry_delay=60)(
            self.prune_now)
        self.sweep_media = huey.periodic_task(crontab(minute="17"), name="sweep_media", retries=2, retry_delay=60)(
            self.sweep_now)
        # 03:30 in Asia/Shanghai is 19:30 UTC (the consumer keeps UTC)
        self.verify_ledger = huey.periodic_task(crontab(minute="30", hour="19"), name="verify_ledger")(self.verify_now)
        self.retry_sms = huey.periodic_task(crontab(), name="retry_sms")(
            ExpiringLock(huey, "retry-sms", timedelta(minutes=5))(self.retry_sms_now))
        self.transcode_video = huey.task(name="transcode_video", retries=2, retry_delay=60)(self.transcode_now)
        self.send_sms = huey.task(name="send_sms")(self.send_sms_now)
        self.make_file = huey.task(name="make_file", retries=1, retry_delay=30)(self.make_file_now)
        self.requeue_playback = huey.periodic_task(crontab(minute="*/10"), name="requeue_playback")(
            self.requeue_playback_now)
        huey.signal()(self._observe)
        app.extensions["job_tasks"] = self

    def now(self) -> datetime:
        clock = self.app.extensions["clock"]
        now: datetime = clock.now()
        return now

    # --- the schedules ------------------------------------------------------------------

    def seal_once(self) -> LedgerBlock | None:
        """One sealing round: the events that are due, in one block."""
        with _session(self.app) as session:
            return sealing.seal_due(session, self.now())

    def _seal_turn(self) -> int:
        """Seal every SEAL_EVERY until the minute's turn is over (or the consumer stops);
        the number of blocks sealed."""
        ends = time.monotonic() + SEAL_TURN.total_seconds()
        blocks = 0
        while True:
            try:
                blocks += self.seal_once() is not None
            except Exception:  # a database restart: the events wait for the next round
                log.exception("sealing the ledger failed; retrying in %s s", sealing.SEAL_EVERY.total_seconds())
            if time.monotonic() >= ends or self.stopping.wait(sealing.SEAL_EVERY.total_seconds()):
                return blocks
            self.seal_lock.renew()

    def prune_now(self) -> str:
        with _session(self.app) as session:
            pruned = housekeeping.prune(session, self.now())
            removed = prepared.remove_expired(session, self.now())
            session.commit()
            return f"{pruned}; {removed} expired prepared files removed"

    def make_file_now(self, file_id: int) -> str:
        """An organiser's large export or certificate batch; the state it is left in."""
        with _session(self.app) as session:
            return prepared.make_file(session, file_id, now=self.now(),
                                      font_path=resolve_font(self.app.extensions["settings"].font_path))

    def sweep_now(self) -> str:
        with _session(self.app) as session:
            return orphans.sweep_orphans(session, self.app.extensions["storage"], now=self.now()).summary()

    def retry_sms_now(self) -> int:
        """Send again the messages due for another try; how many went out."""
        sender = self.app.extensions["sms_sender"]
        sent = 0
        with _session(self.app) as session:
            for message_id in accounts.due_for_retry(session, self.now()):
                message = accounts.deliver(session, sender, message_id, self.now())
                sent += message is not None and message.state == "sent"
        return sent

    def send_sms_now(self, message_id: int) -> str:
        """Deliver one queued text message; its state afterwards. Run twice, it sends once
        (accounts.deliver claims the row); failures are retried by `retry_sms`."""
        with _session(self.app) as session:
            message = accounts.deliver(session, self.app.extensions["sms_sender"], message_id, self.now())
            return message.state if message is not None else "not due"

    def transcode_now(self, media_item_id: int) -> str:
        """A video's playback rendition; the state it is left in."""
        with _session(self.app) as session:
            return playback.make_playback(session, self.app.extensions["storage"], media_item_id, self.now())

    def requeue_playback_now(self) -> int:
        """Queue again the videos whose rendition job was lost; how many."""
        with _session(self.app) as session:
            stalled = playback.stalled(session, self.now())
        for item_id in stalled:
            self.transcode_video(item_id)
        return len(stalled)

    def verify_now(self) -> bool:
        """The nightly check of the whole ledger; a failure alerts organisers (audit log)."""
        with _session(self.app) as session:
            report = ledger.verify_ledger(session)
            if not report.ok:
                log.error("the nightly ledger verification failed: %s", report.problem)
                audit.record(session, actor=SYSTEM, action="ledger.verify_failed", target_type="ledger", target_id=None,
                             summary=f"账本核验未通过：{report.problem}", now=self.now(),
                             after={"blocks": report.blocks, "events": report.events, "problem": report.problem})
                session.commit()
            return report.ok

    # --- what the status shows -------------------------------------------------------------

    def _observe(self, signal: str, task: Any, exc: BaseException | None = None) -> None:
        """Keep the running tasks and the latest failures where `flask jobs status` reads them."""
        if signal not in (signals.SIGNAL_EXECUTING, signals.SIGNAL_COMPLETE, signals.SIGNAL_ERROR,
                          signals.SIGNAL_RETRYING, signals.SIGNAL_LOCKED, signals.SIGNAL_EXPIRED):
            return
        try:
            with ExpiringLock(self.huey, "jobs-state", timedelta(seconds=10)):
                state = _read_state(self.huey)
                running = state.setdefault("running", {})
                if signal == signals.SIGNAL_EXECUTING:
                    running[task.id] = {"name": task.name, "since": time.time()}
                else:
                    running.pop(task.id, None)
                if signal in (signals.SIGNAL_ERROR, signals.SIGNAL_EXPIRED):
                    failed = state.setdefault("failed", [])
                    failed.insert(0, {"name": task.name, "at": time.time(), "error": repr(exc)[:300] if exc else signal})
                    del failed[FAILURES_KEPT:]
                self.huey.storage.put_data(STATE_KEY, json.dumps(state).encode())
        except Exception:  # the status is a convenience: never let it fail a task
            log.exception("recording the job state failed")


def _read_state(huey: Huey) -> dict[str, Any]:
    raw = huey.storage.peek_data(STATE_KEY)
    if raw is None or raw is EmptyData:
        return {}
    try:
        loaded: dict[str, Any] = json.loads(raw)
        return loaded
    except (TypeError, ValueError):
        return {}


@dataclass(frozen=True)
class Status:
    queued: int
    scheduled: int
    running: list[tuple[str, float]]  # name, seconds running
    failed: list[tuple[str, float, str]]  # name, seconds ago, error
    periodic: list[str]


def status(huey: Huey) -> Status:
    """What waits, runs, failed lately and is scheduled (`flask jobs status`)."""
    state = _read_state(huey)
    now = time.time()
    return Status(
        queued=huey.pending_count(), scheduled=huey.scheduled_count(),
        running=[(r["name"], now - r["since"]) for r in state.get("running", {}).values()],
        failed=[(f["name"], now - f["at"], f["error"]) for f in state.get("failed", [])],
        periodic=sorted(t.name for t in huey._registry.periodic_tasks),
    )


def run_worker(app: Flask, *, workers: int = 2, on_start: Callable[[], None] | None = None) -> None:
    """Run the consumer in this process until it is stopped (SIGINT / SIGTERM). Threads:
    the sealing turn keeps one busy, the rest take everything else."""
    huey = jobs_of(app)
    # max_delay: an idle consumer on the embedded default polls its SQLite queue at least
    # every second (Huey's default backs off to 10 s), so a text message asked for after a
    # quiet spell still goes out at once; on Redis the consumer blocks on the queue instead.
    consumer = huey.create_consumer(workers=max(2, workers), worker_type="thread", periodic=True,
                                    check_worker_health=True, scheduler_interval=1, max_delay=1.0)
    tasks: Tasks = app.extensions["job_tasks"]
    tasks.stopping = consumer.stop_flag  # a graceful stop ends the sealing turn at once
    tasks.seal_ledger()  # a sealing turn at once, rather than on the next minute
    if on_start is not None:
        on_start()
    consumer.run()
