"""The job runner's locks lapse: a consumer killed while holding one (kill -9 during a
sealing turn) cannot stop sealing or SMS retries for good (contest.jobs.ExpiringLock)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from huey.exceptions import TaskLockedException

from contest.jobs import ExpiringLock, jobs_of


def test_a_held_lock_refuses_and_a_released_one_is_free(app):
    huey = jobs_of(app)
    first, second = ExpiringLock(huey, "t-held", timedelta(minutes=1)), ExpiringLock(huey, "t-held", timedelta(minutes=1))
    with first:
        with pytest.raises(TaskLockedException):
            second.acquire()
    with second:  # released: free again
        pass


def test_a_lock_whose_holder_died_lapses(app):
    huey = jobs_of(app)
    dead = ExpiringLock(huey, "t-dead", timedelta(seconds=0.2))
    dead.acquire()  # and never released: its consumer was killed
    other = ExpiringLock(huey, "t-dead", timedelta(minutes=1))
    with pytest.raises(TaskLockedException):
        other.acquire()
    time.sleep(0.3)
    other.acquire()  # lapsed: taken over
    with pytest.raises(TaskLockedException):  # and now held for its own minute
        ExpiringLock(huey, "t-dead", timedelta(minutes=1)).acquire()
    other.release()


def test_the_sms_retry_round_runs_again_after_a_killed_holder(app):
    huey = jobs_of(app)
    tasks = app.extensions["job_tasks"]
    key = f"{huey.name}.expiring-lock.retry-sms"
    huey.storage.put_data(key, f"{time.time() + 60:.3f}".encode())  # a live holder
    with pytest.raises(TaskLockedException):
        tasks.retry_sms.call_local()
    huey.storage.put_data(key, f"{time.time() - 1:.3f}".encode())  # its holder was killed a while ago
    assert tasks.retry_sms.call_local() == 0
    assert huey.storage.peek_data(key) in (None, huey.storage.peek_data("nothing-here"))  # released after the round


def test_a_long_task_renews_its_lock_and_frees_it_for_others_when_done(app):
    huey = jobs_of(app)
    lock = ExpiringLock(huey, "t-renew", timedelta(seconds=0.4))
    lock.acquire()
    for _ in range(3):  # rounds of a long task: each renews, so the lock never lapses
        time.sleep(0.25)
        lock.renew()
        with pytest.raises(TaskLockedException):
            ExpiringLock(huey, "t-renew", timedelta(seconds=1)).acquire()
    lock.release()
    ExpiringLock(huey, "t-renew", timedelta(seconds=1)).acquire()


def test_a_holder_does_not_release_a_lock_taken_over_from_it(app):
    huey = jobs_of(app)
    slow = ExpiringLock(huey, "t-over", timedelta(seconds=0.1))
    slow.acquire()
    time.sleep(0.2)  # it stalled past its time: another takes over
    other = ExpiringLock(huey, "t-over", timedelta(minutes=1))
    other.acquire()
    slow.release()  # too late: the lock is the other's now
    with pytest.raises(TaskLockedException):
        ExpiringLock(huey, "t-over", timedelta(minutes=1)).acquire()
    other.release()
