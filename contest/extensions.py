"""Extensions, created unbound; create_app binds them."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from functools import partial, wraps
from typing import Any

from flask import Flask, Response, g, request
from flask_babel import Babel
from flask_limiter import Limiter, RateLimitExceeded
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy.exc import SQLAlchemyError

from .db import Base


def client_ip() -> str:
    """The client's address as ProxyFix resolved it (never a raw forwarded header)."""
    return request.remote_addr or "unknown"


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
class FailoverLimiter(Limiter):
    """flask-limiter (4.1) switches to its in-memory fallback in the thread that first sees
    the storage fail; another thread of the same worker whose Redis call fails a moment
    later finds the switch already made and re-raises the error: a 500 for a request that
    should simply be checked against the fallback (before the view) or answered without
    the limit headers' Redis read (after it: the vote is already stored). Both calls are
    retried once against the fallback here. Relies on the pinned version's internals
    (`_storage_dead`, the after-request hook), which the Redis outage test exercises."""

    def _fell_over(self) -> bool:
        return bool(self._in_memory_fallback_enabled and self._storage_dead)

    def limit(self, *args: Any, key_func: Callable[[], str] | None = None,
              exempt_when: Callable[[], bool] | None = None, **kwargs: Any) -> Any:
        """As Limiter.limit, with key functions and exemptions that read the database (the
        signed-in voter) shielded: flask-limiter takes any exception from them for a failed
        storage and would fall back to per-worker memory although Redis is fine, then fail
        again on the dead session (a 500). A database error there is kept and raised once
        the check is over, to be answered as the outage it is (503)."""
        return super().limit(*args, key_func=_shielded(key_func, "") if key_func else None,
                             exempt_when=_shielded(exempt_when, True) if exempt_when else None, **kwargs)

    def _check_request_limit(self, callable_name: str | None = None, in_middleware: bool = True) -> None:
        was_dead = self._storage_dead
        try:
            try:
                super()._check_request_limit(callable_name, in_middleware)
            except RateLimitExceeded:
                raise
            except Exception:
                if not self._fell_over():
                    raise
                self.context.seen_limits.clear()
                super()._check_request_limit(callable_name, in_middleware)
        finally:
            failed = g.pop(_DATABASE_FAILED, None)
            if failed is not None:
                self._storage_dead = was_dead  # the storage did not fail: the database did
                self.context.reset()  # no limit headers on the outage's answer (its Retry-After stands)
                raise failed

    def init_app(self, app: Flask) -> None:
        super().init_app(app)
        hooks = app.after_request_funcs.setdefault(None, [])
        for i, hook in enumerate(hooks):
            if isinstance(hook, partial) and hook.func is getattr(Limiter, "_Limiter__inject_headers", None):
                hooks[i] = partial(FailoverLimiter._inject_headers_after_failover, self)

    def _inject_headers_after_failover(self, response: Response) -> Any:
        """The limit headers on a 429 only (where the API documents them): on any other
        answer they would cost a read of the limit's window, a storage round trip on every
        limited request, a vote among them. Conditional deductions (deduct_when) apply to
        every answer, as before."""
        if response.status_code == 429:
            after = Limiter._Limiter__inject_headers  # type: ignore[attr-defined]
        else:
            after = Limiter._Limiter__check_conditional_deductions  # type: ignore[attr-defined]
        try:
            after(self, response)
        except Exception:
            if not self._fell_over():
                raise
            after(self, response)
        return response


_DATABASE_FAILED = "limiter_database_error"


def _shielded(fn: Callable[[], Any], instead: Any) -> Callable[[], Any]:
    """`fn`, which may read the database: on a database error, the error is kept for
    FailoverLimiter._check_request_limit to raise, the session rolled back, and `instead`
    returned (an empty key, or exempt) so that the limiter's storage is not blamed."""
    @wraps(fn)
    def shielded() -> Any:
        try:
            return fn()
        except SQLAlchemyError as exc:
            g.setdefault(_DATABASE_FAILED, exc)
            with contextlib.suppress(Exception):
                db.session.rollback()
            return instead

    return shielded


limiter = FailoverLimiter(key_func=client_ip)
