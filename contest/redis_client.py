"""The app's Redis client and what this process knows of its health.

`connect(url)` is the one way the platform builds a client (create_app, commands, tests):
short timeouts and no retries, so that when Redis is down every call fails at once and
the database fallback answers instead of each call waiting. The client carries a
`RedisHealth`, created with it, for the parts that fall back to the database:

- after a failure, Redis is left alone for a short pause instead of timing out on every
  request;
- contests whose live boards missed an update while Redis did not answer are remembered
  and their boards invalidated as soon as Redis answers again.

REDIS_URL names one server (redis://, rediss://, unix://) or a Redis Sentinel set:

    redis+sentinel://[[user]:password@]host:port[,host:port…]/<master>[/<db>][?sentinel_password=…]

The user and password are the Redis servers' own (as in a redis:// URL); the sentinels
are asked with `sentinel_password` (and `sentinel_username`), or without a password when
none is given. `parse_sentinel_url` reads it, in this one place, for the three users of
REDIS_URL: the app's client (`connect`), flask-limiter's storage (`limiter_storage`, for
the `limits` library's redis+sentinel storage) and the job runner's queue (`queue_pool`).
Each asks the sentinels for the master whenever it opens a connection, and drops its
connections when the master it knew turns read-only or stops answering, so after a
failover its next connection reaches the new master. A planned switch (SENTINEL FAILOVER)
breaks nothing at first: the old master goes on taking writes from the connections it
still has until the sentinels make it a replica, some seconds later, and what it takes
meanwhile is lost. The app's client and the job runner's pool therefore also ask the
sentinels, at most once a second, as they hand out a connection (`FollowingPool`), and
leave a former master within that second. (The limiter's storage is built by the `limits`
library: it leaves the old master when that one cuts its clients.)

Nothing here is a module-level global: each app (and each test's app) has its own client
and so its own health.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import redis
from flask import g, has_request_context
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel, SentinelConnectionPool

DOWN_PAUSE = 5.0  # seconds Redis is left alone after a failure
SENTINEL_SCHEME = "redis+sentinel"
SENTINEL_FORM = "redis+sentinel://[[user]:password@]host:port[,host:port…]/<master>[/<db>][?sentinel_password=…]"
# Huey blocks up to 1 s reading its queue: its connections wait longer than that for an
# answer, and still give up on a master that has gone silent.
QUEUE_SOCKET_TIMEOUT = 5.0
MASTER_RECHECK = 1.0  # seconds between two questions to the sentinels from one pool
_MASTER_NAME = re.compile(r"[A-Za-z0-9._-]{1,100}")
_SENTINEL_OPTIONS = frozenset({"sentinel_password", "sentinel_username"})


class RedisHealth:
    """When Redis last failed in this process, and which contests' boards missed updates."""

    def __init__(self, pause: float = DOWN_PAUSE) -> None:
        self.pause = pause
        self._lock = threading.Lock()
        self._down_until = 0.0
        self._dirty: set[int] = set()
        self._every_board = False

    def master_changed(self) -> None:
        """A Sentinel failover moved the master: what this process wrote to the former one
        in its last moments (a board's increments) may be lost, so every board is to be
        rebuilt from the database."""
        self._every_board = True

    def master_change_pending(self) -> bool:
        """Whether a master change is waiting for the boards to be invalidated (not taken)."""
        return self._every_board

    def take_master_change(self) -> bool:
        """Whether the master changed since the last call (then forgotten; call
        `master_changed` again if the boards could not be invalidated)."""
        changed, self._every_board = self._every_board, False
        return changed

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


@dataclass(frozen=True)
class SentinelURL:
    """What a redis+sentinel:// URL says: where the sentinels are, the master's name, the
    database, and who to be on the Redis servers and on the sentinels."""

    sentinels: tuple[tuple[str, int], ...]
    master: str
    db: int = 0
    username: str | None = None
    password: str | None = None
    sentinel_username: str | None = None
    sentinel_password: str | None = None

    def sentinel_options(self, timeout: float) -> dict[str, Any]:
        """Connection options for the sentinels themselves: short, and tried once each
        (the client goes on to the next sentinel)."""
        return {"socket_timeout": timeout, "socket_connect_timeout": timeout, "retry": Retry(NoBackoff(), 0),
                "username": self.sentinel_username, "password": self.sentinel_password}

    def sentinel(self, timeout: float) -> Sentinel:
        """A Sentinel whose master connections log in and select the URL's database."""
        return Sentinel(list(self.sentinels), sentinel_kwargs=self.sentinel_options(timeout),
                        db=self.db, username=self.username, password=self.password)

    def members(self) -> str:
        """host:port,host:port (an IPv6 address in brackets)."""
        return ",".join(f"[{host}]:{port}" if ":" in host else f"{host}:{port}" for host, port in self.sentinels)


class FollowingPool(SentinelConnectionPool):
    """The master's connections, re-asking the sentinels who the master is at most every
    MASTER_RECHECK seconds as a connection is handed out: when the answer has changed,
    redis-py drops the idle connections to the former master (and the busy ones as they
    come back), so a planned switch is followed within a second rather than when the old
    master cuts its clients."""

    def __init__(self, service_name: str, sentinel_manager: Sentinel, **kwargs: Any) -> None:
        super().__init__(service_name, sentinel_manager, **kwargs)
        self._asked = time.monotonic()
        self.on_master_change: Callable[[], None] | None = None  # the client's health, for the boards

    def get_master_address(self) -> Any:
        known = self.master_address
        address = super().get_master_address()
        if known is not None and address != known and self.on_master_change is not None:
            self.on_master_change()
        return address

    def get_connection(self, *args: Any, **options: Any) -> Any:
        now = time.monotonic()
        if now - self._asked >= MASTER_RECHECK:
            self._asked = now
            try:
                self.get_master_address()
            except (redis.ConnectionError, redis.TimeoutError):
                pass  # no sentinel answers: the connections in hand still lead to the master they knew
        return super().get_connection(*args, **options)


def is_sentinel_url(url: str) -> bool:
    return url.lower().startswith(SENTINEL_SCHEME + "://")


def parse_sentinel_url(url: str) -> SentinelURL:
    """Read a redis+sentinel:// URL; ValueError saying what is wrong (never echoing the
    URL, which may hold passwords)."""
    def wrong(what: str) -> ValueError:
        return ValueError(f"{what}; a Sentinel URL looks like {SENTINEL_FORM}")

    if not is_sentinel_url(url):
        raise wrong("the scheme must be redis+sentinel://")
    rest = url[len(SENTINEL_SCHEME) + 3:]
    rest, _, fragment = rest.partition("#")
    rest, _, query = rest.partition("?")
    netloc, slash, path = rest.partition("/")
    if fragment:
        raise wrong("a #fragment has no meaning here")
    userinfo, at, hosts = netloc.rpartition("@")
    username = password = None
    if at:
        user, colon, secret = userinfo.partition(":")
        username, password = unquote(user) or None, (unquote(secret) or None) if colon else None
    sentinels = []
    for member in hosts.split(","):
        try:
            parts = urlsplit("//" + member.strip())
            host, port = parts.hostname, parts.port
        except ValueError:
            host = port = None
        if not host or port is None:
            raise wrong(f"each sentinel must be host:port (found {member.strip()!r})")
        sentinels.append((host, port))
    names = path.split("/") if slash else []
    if not names or not _MASTER_NAME.fullmatch(names[0]):
        raise wrong("the master's name (letters, digits, . _ -) must follow the sentinels")
    if len(names) > 2 or (len(names) == 2 and not re.fullmatch(r"[0-9]{1,5}", names[1])):
        raise wrong("after the master's name only a database number may follow")
    options: dict[str, str] = {}
    for name, values in parse_qs(query, keep_blank_values=True, strict_parsing=False).items():
        if name not in _SENTINEL_OPTIONS:
            raise wrong(f"unknown option {name!r} (known: {', '.join(sorted(_SENTINEL_OPTIONS))})")
        options[name] = values[-1]
    return SentinelURL(
        sentinels=tuple(sentinels), master=names[0], db=int(names[1]) if len(names) == 2 else 0,
        username=username, password=password,
        sentinel_username=options.get("sentinel_username") or None,
        sentinel_password=options.get("sentinel_password") or None,
    )


def _short(timeout: float) -> dict[str, Any]:
    return {"socket_timeout": timeout, "socket_connect_timeout": timeout, "retry": Retry(NoBackoff(), 0)}


def connect(url: str, *, timeout: float = 0.5, **options: Any) -> PlatformRedis:
    """A client for `url` with short timeouts and no retries (see the module's note)."""
    options.setdefault("health_check_interval", 30)
    if is_sentinel_url(url):
        target = parse_sentinel_url(url)
        client: PlatformRedis = target.sentinel(timeout).master_for(
            target.master, redis_class=PlatformRedis, connection_pool_class=FollowingPool, **_short(timeout), **options)
        pool: FollowingPool = client.connection_pool  # type: ignore[assignment]
        pool.on_master_change = client.health.master_changed
        return client
    # from_url builds `cls(...)` but is annotated as returning a plain Redis
    return PlatformRedis.from_url(url, **_short(timeout), **options)  # type: ignore[return-value]


def limiter_storage(url: str, *, timeout: float = 0.5) -> tuple[str, dict[str, Any]]:
    """flask-limiter's RATELIMIT_STORAGE_URI and RATELIMIT_STORAGE_OPTIONS for `url`, with
    the app's short timeouts and no retries.

    For a Sentinel URL the `limits` library gets `redis+sentinel://host:port,…/<master>`
    (the form its RedisSentinelStorage reads: it would take a /<db> for part of the name,
    and the URL's password for the sentinels' too) and the rest as options: the database
    and credentials of the Redis servers, the sentinels' own in `sentinel_kwargs`. Every
    check and count goes to the master (`use_replicas=False`): a replica that lags would
    show stale counts."""
    if is_sentinel_url(url):
        target = parse_sentinel_url(url)
        return f"{SENTINEL_SCHEME}://{target.members()}/{target.master}", {
            **_short(timeout), "db": target.db, "username": target.username, "password": target.password,
            "sentinel_kwargs": target.sentinel_options(timeout), "use_replicas": False,
        }
    if url.lower().startswith("unix://"):
        url = "redis+unix://" + url[len("unix://"):]  # the limits library's name for a socket
    return url, _short(timeout)


def queue_pool(url: str, *, timeout: float = 0.5) -> redis.ConnectionPool:
    """The job runner's connections (Huey's RedisHuey takes a pool): as Huey itself would
    make from a redis:// URL, or, for a Sentinel URL, connections to the master that
    follow a failover. No retries here either: Huey's consumer reads its queue again after
    a failed read, and a failed enqueue is the caller's to see."""
    if is_sentinel_url(url):
        target = parse_sentinel_url(url)
        master = target.sentinel(timeout).master_for(
            target.master, connection_pool_class=FollowingPool, socket_timeout=QUEUE_SOCKET_TIMEOUT,
            socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0))
        pool: redis.ConnectionPool = master.connection_pool
        master.auto_close_connection_pool = False  # the pool outlives this client: Huey makes its own on it
        return pool
    return redis.ConnectionPool.from_url(url)


# Who wants to know that live boards were invalidated (their next read rebuilds them): the
# shared page cache, whose pages made from the old boards must be made again.
_BOARD_LISTENERS: list[Callable[[Any, int | None], None]] = []


def on_boards_invalidated(listener: Callable[[Any, int | None], None]) -> None:
    if listener not in _BOARD_LISTENERS:
        _BOARD_LISTENERS.append(listener)


def boards_invalidated(client: Any, contest_id: int | None) -> None:
    """A contest's boards (None: every contest's) were invalidated on this client's Redis."""
    for listener in list(_BOARD_LISTENERS):
        try:
            listener(client, contest_id)
        except redis.RedisError:
            pass  # the pages renew within their short life anyway


def note_degraded() -> None:
    """The answer being made fell back to the database because Redis is unreachable: it is
    right, but it must not be kept as a shared page (contest.page_cache), or the live
    counts would not be rebuilt on the next read once Redis is back."""
    if has_request_context():
        g.redis_degraded = True


def answer_degraded() -> bool:
    return has_request_context() and bool(g.get("redis_degraded"))


def health_of(client: Any) -> RedisHealth:
    """The health of a client built by `connect`."""
    health = getattr(client, "health", None)
    if not isinstance(health, RedisHealth):
        raise TypeError("Redis clients are built by contest.redis_client.connect")
    return health
