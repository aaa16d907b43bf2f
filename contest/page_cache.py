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
- **Versions, not deletes.** The key holds version counters read at the start of the
  request: one for every contest's data (`all`, the home page and the API's list), one
  per contest (`c<id>`, its pages), and, for pages that show vote counts or rankings, the
  contest's votes (`v<id>`). A commit that wrote rows bumps the counters of what it wrote
  (`_note_flush` below): a vote bumps only `v<id>`, so pages whose counts are hidden stay
  cached through a voting rush; moderation, results, contest edits bump `c<id>` and `all`;
  a row that names no contest bumps `all` and `g`, which every key holds. Writes that no
  public page shows (sign-ins, captchas, audit, anti-fraud windows, judges' scores) bump
  nothing. The counters move after the commit and after the commit's own after-commit work
  (the live counts in Redis), so a page made under a new version never shows older data.
- **Time.** A page changes by itself when a stage starts or ends and when counts hide
  before voting closes (contests.service.page_scope): the key holds the stretch of the
  schedule `now` is in, and no cache (this one, nginx's, a browser's) keeps a page past
  the next such moment. Hidden counts therefore stay hidden in every cached copy.
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
from dataclasses import dataclass
from functools import wraps
from typing import Any, Protocol

from flask import Flask, Response, current_app, has_app_context, make_response, request, session
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from redis.exceptions import RedisError
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session, UOWTransaction

from .db import PUBLIC_CHANGES, after_commit
from .redis_client import answer_degraded, health_of, on_boards_invalidated

log = logging.getLogger(__name__)

BROWSER_AGE = 10  # s: a browser asks again after this (with If-None-Match)
SHARED_AGE = 30  # s: nginx's micro-cache, a CDN
STALE_AGE = 30  # s: a shared cache may answer with a stale copy while it fetches a new one
APP_TTL = 60  # s: the application cache; versions renew pages, this bounds a missed renewal (Redis away)
MEMORY_TTL = 10  # s: the in-process store, which other processes' commits do not reach
MEMORY_ENTRIES = 512
PRIVATE = "private, no-store"

# Tables whose rows are votes or the ledger: they change counts and rankings only.
VOTE_TABLES = frozenset({"vote", "ledger_event", "ledger_block"})
# Tables no public page shows: writing them changes no shared page.
QUIET_TABLES = frozenset({
    "login_session", "sms_code", "sms_outbox", "audit_event", "notice", "api_token", "captcha_challenge",
    "fraud_observation", "fraud_registration_burst", "idempotent_reply", "vote_quota", "vote_entry_quota",
    "quota_slot", "duplicate_flag", "prepared_file", "judge_invite", "judge_profile", "judging_assignment",
    "judging_score", "judging_conflict", "judging_panel_member", "withdrawal_request", "user_role", "school_contact",
})
# user_account is written at every sign-in; only these columns are shown on public pages.
USER_SHOWN = ("display_name",)


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


@dataclass(frozen=True)
class Cached:
    body: bytes
    mimetype: str
    etag: str

    def pack(self) -> bytes:
        return self.etag.encode() + b"\n" + self.mimetype.encode() + b"\n" + self.body

    @classmethod
    def unpack(cls, raw: bytes) -> Cached:
        etag, mimetype, body = raw.split(b"\n", 2)
        return cls(body, mimetype.decode(), etag.decode())


class MemoryStore:
    """The in-process store: versions and at most MEMORY_ENTRIES pages, least recently used out."""

    def __init__(self) -> None:
        self._versions: dict[str, int] = {}
        self._pages: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def versions(self, names: list[str]) -> list[int]:
        with self._lock:
            return [self._versions.get(name, 0) for name in names]

    def bump(self, names: Iterable[str]) -> None:
        with self._lock:
            for name in names:
                self._versions[name] = self._versions.get(name, 0) + 1

    def get(self, key: str) -> bytes | None:
        with self._lock:
            found = self._pages.get(key)
            if found is None or found[0] < time.monotonic():
                return None
            self._pages.move_to_end(key)
            return found[1]

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

    def versions(self, names: list[str]) -> list[int]:
        return [int(v or 0) for v in self.client.mget([f"pc:v:{name}" for name in names])]

    def bump(self, names: Iterable[str]) -> None:
        pipe = self.client.pipeline(transaction=False)
        for name in names:
            pipe.incr(f"pc:v:{name}")
        pipe.execute()

    def get(self, key: str) -> bytes | None:
        found = self.client.get(f"pc:p:{key}")
        return bytes(found) if found is not None else None

    def put(self, key: str, value: bytes, ttl: float) -> None:
        self.client.set(f"pc:p:{key}", value, ex=max(1, int(ttl)))


def init_app(app: Flask, redis: Any) -> None:
    app.extensions["page_cache"] = RedisStore(redis) if redis is not None else MemoryStore()
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
    votes = votes() if callable(votes) else votes
    if scope is None or scope.contest_id is None:
        return ["g", "all"]
    names = ["g", f"c{scope.contest_id}"]
    if votes == "always" or (votes == "shown" and scope.counts_shown):
        names += ["vg", f"v{scope.contest_id}"]
    return names


def shared(scope: Callable[..., Scope] | None = None, *, votes: str | Callable[[], str] = "never",
           api: bool = False) -> Callable[[Callable[..., ResponseReturnValue]], Callable[..., Response]]:
    """A public page, shared between anonymous visitors (see the module's notes).

    `scope(now=…, **view_args)` names the contest and the schedule's stretch (NotFound as
    the view would raise it); `votes` says when the page depends on votes: "never",
    "shown" (it shows counts when the rules allow) or "always" (rankings), or a function
    of the request that says which."""

    def decorate(view: Callable[..., ResponseReturnValue]) -> Callable[..., Response]:
        @wraps(view)
        def wrapper(**kwargs: Any) -> Response:
            if not anonymous(api):
                return private(make_response(view(**kwargs)))
            found = scope(now=current_app.extensions["clock"].now(), **kwargs) if scope else None
            key, cached = _lookup(found, votes) if not _master_changed() else (None, None)
            if cached is None:
                response = make_response(view(**kwargs))
                if not _shareable(response):
                    return private(response)
                cached = Cached(response.get_data(), response.mimetype or "text/html",
                                hashlib.sha256(response.get_data()).hexdigest()[:32])
                _save(key, cached, found.seconds_left if found else None)
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


def _lookup(scope: Scope | None, votes: str | Callable[[], str]) -> tuple[str | None, Cached | None]:
    names = _names(scope, votes)
    try:
        versions = _store().versions(names)
        parts = [request.endpoint or "", str(get_locale()), request.full_path, str(scope.stretch if scope else 0)]
        parts += [f"{n}={v}" for n, v in zip(names, versions, strict=True)]
        key = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
        raw = _store().get(key)
    except RedisError as exc:
        log.warning("page cache unavailable: %s", exc)
        return None, None
    return key, Cached.unpack(raw) if raw is not None else None


def _shareable(response: Response) -> bool:
    """A page any visitor may get: a plain 200 that set no cookie and left the session alone."""
    return (response.status_code == 200 and "Cache-Control" not in response.headers
            and "Set-Cookie" not in response.headers and not session.modified and not response.is_streamed
            and not answer_degraded())  # made from the database while Redis was away: not kept


def _save(key: str | None, cached: Cached, seconds_left: float | None) -> None:
    if key is None:
        return
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
