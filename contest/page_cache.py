"""Shared public pages: what an anonymous visitor gets is the same for everyone, so it is
made once and served from a cache until something it shows changes.

- **Who shares.** A request without the session cookie and without the remember cookie
  (and, for the API, without an Authorization header) is anonymous. Its page names no one:
  the header offers 登录 / 注册, vote buttons are links to the login page, and nothing in
  it depends on a session (no CSRF token, no view token, no flashed message). Such a page
  gets `Cache-Control: public` with a short `max-age`, a longer `s-maxage` for nginx's
  micro-cache (docs/DEPLOY.md), `stale-while-revalidate`, an `ETag` and a 304 answer to a
  matching `If-None-Match`. Every other request is answered `private, no-store`: a
  signed-in page shows the voter's own state and is never kept by a cache.
- **What varies.** The language comes from the `lang` cookie (contest._select_locale), so
  the key holds the locale and the answer says `Vary: Cookie`. The key also holds the
  endpoint and the full path with its query string (filters, pages, sorts).
- **Versions, not deletes.** A page is stored with the version counters read before it
  was made: one for every contest's data (`all`, the home page and the API's list), one
  per contest (`c<id>`, its pages), and, for pages that show vote counts or rankings, the
  contest's votes (`v<id>`). A stored page is served only while those counters still
  hold the values it was made under; the counters and the page are read in one Redis
  command (MGET), so a shared page costs one round trip and no SQL. A commit that wrote
  rows bumps the counters of what it wrote (`_note_flush` below): a vote bumps only `v<id>`, so pages whose counts are hidden stay
  cached through a voting rush; moderation, results, contest edits bump `c<id>` and `all`;
  a row that names no contest bumps `all` and `g`, which every key holds. Writes that no
  public page shows (sign-ins, captchas, audit, anti-fraud windows, judges' scores) bump
  nothing. The counters move after the commit and after the commit's own after-commit work
  (the live counts in Redis), so a page made under a new version never shows older data.
  A vote's increments ride on the pipeline that adds it to the live counts, after the
  count (`bumps_after`, voting.live.after_vote): a vote costs no round trip for the pages.
- **Time.** A page changes by itself when a stage starts or ends and when counts hide
  before voting closes (contests.service.ScopeBasis): the key holds the stretch of the
  schedule `now` is in, and no cache (this one, nginx's, a browser's) keeps a page past
  the next such moment. Hidden counts therefore stay hidden in every cached copy. What the
  stretch is made from (the contest's schedule and rules, contests.service.ScopeBasis) is
  kept in process beside the store for at most SCOPE_TTL seconds, and only while the
  counters of the contest's data (`g`, `c<id>`, or `all`) still hold the values read
  before it was loaded: a change to the contest is seen at the same moment as by the pages.
- **Where.** Redis when REDIS_URL is set (shared by every instance and worker); else a
  small in-process store per worker, whose entries live at most MEMORY_TTL seconds since
  a change committed by another process reaches this one only that way. Redis trouble
  never stops a page: it is rendered as if there were no cache.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from functools import wraps
from typing import Any, Generic, Protocol, TypeVar

from flask import Flask, Response, current_app, has_app_context, make_response, request, session
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from redis.exceptions import RedisError
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session, UOWTransaction

from .db import PUBLIC_CHANGES, SessionLike, after_commit, real_session
from .redis_client import answer_degraded, health_of, on_boards_invalidated

log = logging.getLogger(__name__)

BROWSER_AGE = 10  # s: a browser asks again after this (with If-None-Match)
SHARED_AGE = 30  # s: nginx's micro-cache, a CDN
STALE_AGE = 30  # s: a shared cache may answer with a stale copy while it fetches a new one
APP_TTL = 60  # s: the application cache; versions renew pages, this bounds a missed renewal (Redis away)
MEMORY_TTL = 10  # s: the in-process store, which other processes' commits do not reach
MEMORY_ENTRIES = 512
SCOPE_TTL = 10  # s: a page's scope basis kept in process (renewed sooner by its versions)
SCOPE_ENTRIES = 256
PRIVATE = "private, no-store"

# Tables whose rows are votes or the ledger: they change counts and rankings only.
VOTE_TABLES = frozenset({"vote", "vote_count", "ledger_event", "ledger_block"})
# Tables no public page shows: writing them changes no shared page.
QUIET_TABLES = frozenset({
    "login_session", "sms_code", "sms_outbox", "audit_event", "notice", "api_token", "captcha_challenge",
    "fraud_observation", "fraud_registration_burst", "idempotent_reply", "vote_quota", "vote_entry_quota",
    "quota_slot", "duplicate_flag", "prepared_file", "judge_invite", "judge_profile", "judging_assignment",
    "judging_score", "judging_conflict", "judging_panel_member", "withdrawal_request", "user_role", "school_contact",
})
# user_account is written at every sign-in; only these columns are shown on public pages.
USER_SHOWN = ("display_name",)

K = TypeVar("K")
V = TypeVar("V")


class Scope(Protocol):
    """What a page depends on besides stored data (contests.service.PageScope)."""

    @property
    def contest_id(self) -> int | None: ...
    @property
    def stretch(self) -> int: ...
    @property
    def seconds_left(self) -> float | None: ...
    @property
    def counts_shown(self) -> bool: ...


class Basis(Protocol):
    """A Scope before the time is known (contests.service.ScopeBasis)."""

    @property
    def contest_id(self) -> int | None: ...
    def at(self, now: datetime) -> Scope: ...


@dataclass(frozen=True)
class Cached:
    body: bytes
    mimetype: str
    etag: str
    stamp: str = ""  # the versions the page was made under

    def pack(self) -> bytes:
        return b"\n".join((self.stamp.encode(), self.etag.encode(), self.mimetype.encode(), self.body))

    @classmethod
    def unpack(cls, raw: bytes) -> Cached:
        stamp, etag, mimetype, body = raw.split(b"\n", 3)
        return cls(body, mimetype.decode(), etag.decode(), stamp.decode())


class MemoryStore:
    """The in-process store: versions and at most MEMORY_ENTRIES pages, least recently used out."""

    def __init__(self) -> None:
        self._versions: dict[str, int] = {}
        self._pages: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def fetch(self, names: list[str], key: str) -> tuple[list[int], bytes | None]:
        """The versions of `names` and the page stored under `key`, read together."""
        with self._lock:
            versions = [self._versions.get(name, 0) for name in names]
            found = self._pages.get(key)
            if found is None or found[0] < time.monotonic():
                return versions, None
            self._pages.move_to_end(key)
            return versions, found[1]

    def bump(self, names: Iterable[str]) -> None:
        with self._lock:
            for name in names:
                self._versions[name] = self._versions.get(name, 0) + 1

    def put(self, key: str, value: bytes, ttl: float) -> None:
        with self._lock:
            self._pages[key] = (time.monotonic() + min(ttl, MEMORY_TTL), value)
            self._pages.move_to_end(key)
            while len(self._pages) > MEMORY_ENTRIES:
                self._pages.popitem(last=False)


class RedisStore:
    """Versions as counters `pc:v:<name>`, pages as `pc:p:<key>` with an expiry."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def fetch(self, names: list[str], key: str) -> tuple[list[int], bytes | None]:
        """The versions of `names` and the page stored under `key`: one command, one round trip."""
        *versions, page = self.client.mget([*(f"pc:v:{name}" for name in names), f"pc:p:{key}"])
        return [int(v or 0) for v in versions], bytes(page) if page is not None else None

    def versions(self, names: list[str]) -> list[int]:
        return [int(v or 0) for v in self.client.mget([f"pc:v:{name}" for name in names])]

    def bump(self, names: Iterable[str]) -> None:
        pipe = self.client.pipeline(transaction=False)
        queue_bumps(pipe, names)
        pipe.execute()

    def put(self, key: str, value: bytes, ttl: float) -> None:
        self.client.set(f"pc:p:{key}", value, ex=max(1, int(ttl)))


def queue_bumps(pipe: Any, names: Iterable[str]) -> None:
    """Queue the increments of version counters on a Redis pipeline."""
    for name in names:
        pipe.incr(f"pc:v:{name}")


class Kept(Generic[K, V]):
    """Values read from the database and kept in process, each with the version counters
    of the data it was read from, read before it was loaded (None: not read yet, so the
    next use loads it again once it has read them). A value is trusted only while those
    counters still hold, and never past `ttl` seconds (a bump that Redis lost)."""

    def __init__(self, ttl: float, size: int) -> None:
        self._kept: OrderedDict[K, tuple[float, tuple[int, ...] | None, V]] = OrderedDict()
        self._lock = threading.Lock()
        self._ttl, self._size = ttl, size

    def get(self, key: K) -> tuple[tuple[int, ...] | None, V] | None:
        found = self._kept.get(key)
        if found is None or found[0] < time.monotonic():
            return None
        return found[1], found[2]

    def put(self, key: K, value: V, stamp: tuple[int, ...] | None) -> None:
        with self._lock:
            self._kept[key] = (time.monotonic() + self._ttl, stamp, value)
            self._kept.move_to_end(key)
            while len(self._kept) > self._size:
                self._kept.popitem(last=False)

    def drop(self, key: K) -> None:
        with self._lock:
            self._kept.pop(key, None)


def contest_versions(contest_id: int | None) -> list[str]:
    """The counters a contest's data is kept under: every public change (`g`) and the
    contest's own (`c<id>`), or every contest's (`all`)."""
    return ["g", f"c{contest_id}" if contest_id is not None else "all"]


def versions_shared() -> bool:
    """Whether the version counters are shared by every worker and instance (Redis), so
    that data kept in process beside the pages can be checked against them."""
    return has_app_context() and isinstance(current_app.extensions.get("page_cache"), RedisStore)


def shared_versions(names: list[str]) -> tuple[int, ...] | None:
    """The current values of shared version counters (versions_shared), for data kept in
    process beside the pages; None where they are not shared, after a Redis failover whose
    boards are not yet rebuilt (the counters may have been lost), or when Redis does not
    answer: then nothing is to be trusted or kept."""
    store = current_app.extensions.get("page_cache") if has_app_context() else None
    if not isinstance(store, RedisStore) or _master_changed():
        return None
    try:
        return tuple(store.versions(names))
    except RedisError as exc:
        log.warning("page cache versions unavailable: %s", exc)
        return None


def init_app(app: Flask, redis: Any) -> None:
    app.extensions["page_cache"] = RedisStore(redis) if redis is not None else MemoryStore()
    app.extensions["page_cache_bases"] = Kept[tuple[Any, str | None], Basis](SCOPE_TTL, SCOPE_ENTRIES)
    # Boards invalidated (a failover, an organiser's recount): pages showing counts are made
    # again, so their next render rebuilds the boards from the database.
    on_boards_invalidated(_renew_vote_pages)


def _renew_vote_pages(client: Any, contest_id: int | None) -> None:
    RedisStore(client).bump([f"v{contest_id}"] if contest_id is not None else ["vg"])


def _store() -> MemoryStore | RedisStore:
    return current_app.extensions["page_cache"]


# --- who shares --------------------------------------------------------------------------

def anonymous(api: bool = False) -> bool:
    """Whether the request carries nothing of a person: no session, no remember cookie (and no token)."""
    cookies = request.cookies
    if current_app.config["SESSION_COOKIE_NAME"] in cookies or current_app.config.get(
            "REMEMBER_COOKIE_NAME", "remember_token") in cookies:
        return False
    return not (api and request.headers.get("Authorization"))


def private(response: Response) -> Response:
    """A personal answer: no cache keeps it (unless the view said otherwise)."""
    if "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = PRIVATE
    response.vary.add("Cookie")
    return response


def _cache_control(seconds_left: float | None) -> str:
    left = int(seconds_left) if seconds_left is not None else SHARED_AGE + STALE_AGE
    if left < 2:
        return "public, no-cache"
    shared = min(SHARED_AGE, left)
    return (f"public, max-age={min(BROWSER_AGE, shared)}, s-maxage={shared}, "
            f"stale-while-revalidate={max(0, min(STALE_AGE, left - shared))}")


def _names(scope: Scope | None, votes: str | Callable[[], str]) -> list[str]:
    """The version counters a page depends on; the first two are its contest's data."""
    votes = votes() if callable(votes) else votes
    names = contest_versions(scope.contest_id if scope is not None else None)
    if scope is None or scope.contest_id is None:
        return names
    if votes == "always" or (votes == "shown" and scope.counts_shown):
        names += ["vg", f"v{scope.contest_id}"]
    return names


def shared(scope: Callable[[str | None], Basis] | None = None, *, votes: str | Callable[[], str] = "never",
           api: bool = False) -> Callable[[Callable[..., ResponseReturnValue]], Callable[..., Response]]:
    """A public page, shared between anonymous visitors (see the module's notes).

    `scope(slug)` loads the basis of the page's scope from the view's `slug` argument
    (None for a view without one), raising NotFound as the view would; `votes` says when
    the page depends on votes: "never", "shown" (it shows counts when the rules allow) or
    "always" (rankings), or a function of the request that says which."""

    def decorate(view: Callable[..., ResponseReturnValue]) -> Callable[..., Response]:
        @wraps(view)
        def wrapper(**kwargs: Any) -> Response:
            if not anonymous(api):
                return private(make_response(view(**kwargs)))
            found, key, cached = _lookup(scope, kwargs.get("slug"), votes)
            if cached is None:
                response = make_response(view(**kwargs))
                if not _shareable(response):
                    return private(response)
                body = response.get_data()
                cached = Cached(body, response.mimetype or "text/html", hashlib.sha256(body).hexdigest()[:32])
                if key is not None:
                    _save(key[0], replace(cached, stamp=key[1]), found.seconds_left if found else None)
            else:
                response = Response(cached.body, mimetype=cached.mimetype)
            response.headers["Cache-Control"] = _cache_control(found.seconds_left if found else None)
            response.vary.add("Cookie")
            response.set_etag(cached.etag)
            response.make_conditional(request)  # 304 without a body when If-None-Match matches
            return response

        return wrapper

    return decorate


def _master_changed() -> bool:
    """After a Redis failover and before the boards are invalidated, pages are made afresh
    (their render is what invalidates and rebuilds the boards), not served or kept."""
    client = current_app.extensions.get("redis")
    return client is not None and health_of(client).master_change_pending()


def _lookup(source: Callable[[str | None], Basis] | None, slug: str | None, votes: str | Callable[[], str],
            ) -> tuple[Scope | None, tuple[str, str] | None, Cached | None]:
    """The page's scope, its key with the versions to store it under (None: not to be
    stored), and the stored page when it is current (None: make it). A page served from
    the store costs one round trip to it and, once the scope's basis is kept with the
    versions it goes with, no SQL; a page to make loads the basis once (with the versions)."""
    now = current_app.extensions["clock"].now()
    bases: Kept[tuple[Any, str | None], Basis] = current_app.extensions["page_cache_bases"]
    stamp: tuple[int, ...] | None = None
    scope: Scope | None = None
    kept: tuple[tuple[int, ...] | None, Basis] | None = None
    if source is not None:
        kept = bases.get((source, slug))
        if kept is None:
            # Loaded before the versions are read: kept without them, so that the next
            # request loads it again once it has read them (below) before trusting it.
            basis = source(slug)
            bases.put((source, slug), basis, None)
        else:
            stamp, basis = kept
        scope = basis.at(now)
    if _master_changed():
        return scope, None, None
    loaded = kept is None  # read from the database in this request already
    for _attempt in range(2):
        names = _names(scope, votes)
        parts = [request.endpoint or "", str(get_locale()), request.full_path,
                 str(scope.stretch if scope else 0), *names]
        key = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
        try:
            versions, raw = _store().fetch(names, key)
        except RedisError as exc:
            log.warning("page cache unavailable: %s", exc)
            if not loaded and source is not None:
                bases.drop((source, slug))  # its versions cannot be checked: read again from the database
                scope = source(slug).at(now)
            return scope, None, None
        current = ",".join(map(str, versions))
        cached = Cached.unpack(raw) if raw is not None else None
        hit = cached is not None and cached.stamp == current
        if not loaded and source is not None and scope is not None and (not hit or stamp != tuple(versions[:2])):
            # A page to make (which reads the database anyway), or a scope kept under other
            # versions or without them: load it again now that the versions are read (a
            # change committed after this moment moves them again), and keep it with them.
            loaded = True
            bases.drop((source, slug))
            stamp, fresh = tuple(versions[:2]), source(slug)
            bases.put((source, slug), fresh, stamp)
            used, scope = scope, fresh.at(now)
            if (used.contest_id, used.stretch, used.counts_shown) != (scope.contest_id, scope.stretch, scope.counts_shown):
                continue  # another key: read again
        return scope, (key, current), cached if hit else None
    return scope, None, None


def _shareable(response: Response) -> bool:
    """A page any visitor may get: a plain 200 that set no cookie and left the session alone."""
    return (response.status_code == 200 and "Cache-Control" not in response.headers
            and "Set-Cookie" not in response.headers and not session.modified and not response.is_streamed
            and not answer_degraded())  # made from the database while Redis was away: not kept


def _save(key: str, cached: Cached, seconds_left: float | None) -> None:
    ttl = min(APP_TTL, seconds_left) if seconds_left is not None else APP_TTL
    if ttl < 1:
        return
    try:
        _store().put(key, cached.pack(), ttl)
    except RedisError as exc:
        log.warning("page cache unavailable: %s", exc)


# --- what a commit changed ---------------------------------------------------------------

_CHANGED = PUBLIC_CHANGES  # what db.note_public_change records too


def _changes_of(obj: Any, how: str) -> set[str]:
    table = getattr(obj, "__tablename__", "")
    if table in QUIET_TABLES:
        return set()
    if table == "user_account" and how != "deleted":
        # A new account is on no page until an entry names it (which is a change of its
        # own); an account is written at every sign-in, and pages show its name only.
        state = inspect(obj)
        if how == "new" or not any(state.attrs[name].history.has_changes() for name in USER_SHOWN):
            return set()
    contest_id = obj.id if table == "contest" else getattr(obj, "contest_id", None)
    if table in VOTE_TABLES:
        return {f"v{contest_id}"} if contest_id is not None else {"vg"}
    return {f"c{contest_id}", "all"} if contest_id is not None else {"g", "all"}


@event.listens_for(Session, "after_flush")
def _note_flush(session: Session, _flush: UOWTransaction) -> None:
    changed: set[str] = set()
    for how, objects in (("new", session.new), ("dirty", session.dirty), ("deleted", session.deleted)):
        for obj in objects:
            changed |= _changes_of(obj, how)
    if changed:
        _remember(session, changed)


@event.listens_for(Session, "do_orm_execute")
def _note_bulk(state: Any) -> None:
    # An INSERT, UPDATE or DELETE statement run through the session: which rows it changed
    # is not known here, so every page is renewed (unless it only touched quiet tables).
    # The vote writer's inserts say what they change themselves (db.note_public_change).
    if state.is_insert or state.is_update or state.is_delete:
        name = getattr(getattr(state.statement, "table", None), "name", "")
        if name in QUIET_TABLES or (state.is_insert and name in VOTE_TABLES):
            return
        _remember(state.session, {"vg", "g", "all"} if name not in VOTE_TABLES else {"vg"})


def bumps_after(session: SessionLike, client: Any) -> Callable[[Any], None] | None:
    """For work after the session's commit that sends a Redis pipeline to `client` anyway
    (a vote's live counts and anti-fraud windows): a function that queues the version
    increments this commit calls for on that pipeline, after the commands that change what
    the pages show, so they cost no round trip of their own; the page cache's own bump
    then finds nothing left to do. None when the pages are not kept in that Redis. The
    function queues the same increments again if called again (a pipeline sent twice)."""
    store = current_app.extensions.get("page_cache") if has_app_context() else None
    if not isinstance(store, RedisStore) or store.client is not client:
        return None
    info = real_session(session).info
    taken: list[str] | None = None

    def queue(pipe: Any) -> None:
        nonlocal taken
        if taken is None:
            taken = sorted(info.pop(_CHANGED, None) or ())
        queue_bumps(pipe, taken)

    return queue


def _remember(session: Session, changed: set[str]) -> None:
    pending = session.info.get(_CHANGED)
    if pending is None:
        pending = session.info[_CHANGED] = set()
    pending |= changed


@event.listens_for(Session, "before_commit")
def _bump_after_commit(session: Session) -> None:
    # Registered last, so it runs after the commit's other after-commit work; it reads
    # what the commit's final flush adds too.
    if session.in_nested_transaction() or not has_app_context() or "page_cache" not in current_app.extensions:
        return
    store = _store()

    def bump() -> None:
        changed = session.info.pop(_CHANGED, None)
        if changed:
            try:
                store.bump(sorted(changed))
            except RedisError as exc:
                log.warning("page cache versions not bumped (pages renew within %s s): %s", APP_TTL, exc)

    after_commit(session, bump)


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    if not session.in_transaction():
        session.info.pop(_CHANGED, None)
