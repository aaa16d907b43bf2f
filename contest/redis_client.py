"""The app's Redis client and what this process knows of its health.

`connect(url)` is the one way the platform builds a client (create_app, commands, tests):
short timeouts and no retries, so that when Redis is down every call fails at once and
the database fallback answers instead of each call waiting. The client carries a
`RedisHealth`, created with it, for the parts that fall back to the database:

- after a failure, Redis is left alone for a short pause instead of timing out on every
  request;
- contests whose live boards missed an update while Redis did not answer are remembered
  and their boards invalidated as soon as Redis answers again.

Nothing here is a module-level global: each app (and each test's app) has its own client
and so its own health.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

DOWN_PAUSE = 5.0  # seconds Redis is left alone after a failure


class RedisHealth:
    """When Redis last failed in this process, and which contests' boards missed updates."""

    def __init__(self, pause: float = DOWN_PAUSE) -> None:
        self.pause = pause
        self._lock = threading.Lock()
        self._down_until = 0.0
        self._dirty: set[int] = set()

    def usable(self) -> bool:
        return self._down_until <= time.monotonic()

    def failed(self, contest_id: int | None = None) -> None:
        """Redis did not answer: pause, and remember the contest whose boards missed an update."""
        with self._lock:
            self._down_until = time.monotonic() + self.pause
            if contest_id is not None:
                self._dirty.add(contest_id)

    def mark_dirty(self, contest_id: int) -> None:
        with self._lock:
            self._dirty.add(contest_id)

    def take_dirty(self) -> set[int]:
        """The contests to invalidate now (forgotten here; `mark_dirty` them again on failure)."""
        if not self._dirty:
            return set()
        with self._lock:
            dirty, self._dirty = self._dirty, set()
        return dirty


class PlatformRedis(redis.Redis):
    """A redis-py client with its process's `health`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.health = RedisHealth()


def connect(url: str, *, timeout: float = 0.5, **options: Any) -> PlatformRedis:
    """A client for `url` with short timeouts and no retries (see the module's note)."""
    options.setdefault("health_check_interval", 30)
    # from_url builds `cls(...)` but is annotated as returning a plain Redis
    return PlatformRedis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout,  # type: ignore[return-value]
                                  retry=Retry(NoBackoff(), 0), **options)


def health_of(client: Any) -> RedisHealth:
    """The health of a client built by `connect`."""
    health = getattr(client, "health", None)
    if not isinstance(health, RedisHealth):
        raise TypeError("Redis clients are built by contest.redis_client.connect")
    return health
