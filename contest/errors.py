"""Domain errors and their one mapping to HTTP (HTML pages and JSON)."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
from flask import Flask, Response, g, jsonify, render_template, request
from flask.globals import request_ctx
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from markupsafe import escape
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

# A database restart or fail-over takes tens of seconds: clients asked to come back
# sooner would only add load while it is away.
DATABASE_RETRY_AFTER = 30
# While the database stays away, one log line at most this often (seconds).
OUTAGE_LOG_EVERY = 60.0


class DomainError(Exception):
    """A refusal a user can understand. `message` is shown as is (already translated)."""

    status = 400
    code = "bad_request"
    # Some refusals still record something worth keeping (a failed code attempt):
    # the error handler then commits instead of rolling back.
    keep_changes = False

    # Seconds a client should wait before trying again (sent as Retry-After), or None.
    retry_after: int | None = None

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None,
                 retry_after: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.field = field
        if retry_after is not None:
            self.retry_after = retry_after


class InvalidInput(DomainError):
    status = 400
    code = "invalid"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class TooMany(DomainError):
    status = 429
    code = "too_many"


class Unavailable(DomainError):
    """The server cannot take this request now (busy, or a service it needs is down)."""

    status = 503
    code = "unavailable"
    retry_after = 5


def wants_json() -> bool:
    # A client that sends JSON is a script, and reads its errors as JSON too.
    if request.path.startswith("/api/") or request.path == "/healthz" or request.is_json:
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def error_response(status: int, code: str, message: str) -> Response:
    if wants_json():
        response = jsonify({"error": {"code": code, "message": message}})
    elif request_ctx.url_adapter is None:
        # No URL can be built (a Host outside the trusted list): the page's layout links
        # nowhere, so the message goes out alone.
        response = Response(f"<!doctype html><meta charset=utf-8><title>{status}</title><p>{escape(message)}</p>",
                            mimetype="text/html")
    else:
        response = Response(render_template("errors/error.html", status=status, message=message), mimetype="text/html")
    response.status_code = status
    return response


def _http_messages() -> dict[int, tuple[str, str]]:
    return {
        400: ("bad_request", _("请求有误，请检查后重试。")),
        403: ("forbidden", _("您没有权限访问此页面。")),
        404: ("not_found", _("您要找的页面不存在，可能已被删除或链接有误。")),
        405: ("method_not_allowed", _("不支持此操作。")),
        413: ("too_large", _("上传的内容太大了。")),
        429: ("rate_limited", _("操作太频繁，请稍后再试。")),
        500: ("server_error", _("服务器开小差了，请稍后再试。我们已记录此问题。")),
        503: ("unavailable", _("服务暂时不可用，请稍后再试。")),
    }


def database_unavailable(exc: BaseException) -> bool:
    """Whether `exc` means the database cannot be reached or cannot serve now (an outage,
    answered 503), rather than a fault of a statement or of the code (a 500)."""
    if isinstance(exc, sa_exc.TimeoutError):  # every pooled connection stayed busy
        return True
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated:  # the driver reported a lost connection
            return True
        if exc.orig is None:
            return False
        exc = exc.orig
    if isinstance(exc, psycopg.OperationalError):
        # No SQLSTATE: the connection failed before the server could answer. 08: connection
        # exceptions; 53: out of connections, memory or disk; 57P01-03: shutting down,
        # crashed, starting up. Other operational errors (a cancelled statement, a
        # deadlock) and every programming error stay 500s.
        state = exc.sqlstate
        return state is None or state.startswith(("08", "53")) or state in ("57P01", "57P02", "57P03")
    if isinstance(exc, sqlite3.OperationalError):
        # SQLite reports a missing table as an OperationalError too: only these mean the
        # file cannot be used now.
        return str(exc).startswith(("unable to open database file", "database is locked", "database table is locked",
                                    "disk I/O error"))
    return False


class OutageLog:
    """The log of a database outage: one warning when it starts, at most one line every
    `every` seconds while it lasts (with how many requests were answered 503), and one
    when a statement succeeds again. A burst of refused requests is not a burst of
    tracebacks."""

    def __init__(self, logger: logging.Logger, every: float = OUTAGE_LOG_EVERY,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._log = logger
        self._every = every
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._since: float | None = None
        self._last_line = 0.0
        self._refused = 0
        self._unreported = 0

    def refused(self, exc: BaseException) -> None:
        """A request was answered 503 because of `exc`."""
        with self._lock:
            now = self._monotonic()
            self._refused += 1
            if self._since is None:
                self._since = self._last_line = now
                self._unreported = 0
                self._log.warning("database unavailable, answering 503 until it is back: %s", _reason(exc))
            elif now - self._last_line >= self._every:
                self._log.warning("database still unavailable after %.0f s: %d requests answered 503 since the last line (%s)",
                                  now - self._since, self._unreported + 1, _reason(exc))
                self._last_line = now
                self._unreported = 0
            else:
                self._unreported += 1

    def answered(self, *_event_args: Any) -> None:
        """A statement succeeded (an engine event): the outage, if any, is over."""
        if self._since is None:  # the common case, without taking the lock
            return
        with self._lock:
            if self._since is None:
                return
            self._log.warning("database available again after %.0f s; %d requests were answered 503",
                              self._monotonic() - self._since, self._refused)
            self._since = None
            self._refused = 0


def _reason(exc: BaseException) -> str:
    """The exception's class and the first line of its message: enough to tell a refused
    connection from a full disk, without a traceback."""
    lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"[:300]


def register_error_handlers(app: Flask) -> None:
    from .extensions import db, login_manager

    outage = OutageLog(log)
    app.extensions["database_outage"] = outage
    with app.app_context():
        for engine in db.engines.values():
            event.listen(engine, "after_cursor_execute", outage.answered)

    def database_unavailable_response(exc: Exception) -> Response:
        # The connection is gone: the rollback may fail too, and teardown discards the session.
        with contextlib.suppress(Exception):
            db.session.rollback()
        outage.refused(exc)
        # The page must not need the database it apologises for: its header would load the
        # signed-in account and count its notices. This one response shows a visitor's view.
        g._login_user = login_manager.anonymous_user()
        code, message = _http_messages()[503]
        response = error_response(503, code, message)
        response.headers["Retry-After"] = str(DATABASE_RETRY_AFTER)
        return response

    @app.errorhandler(DomainError)
    def handle_domain_error(exc: DomainError) -> Response:
        if exc.keep_changes:
            db.session.commit()
        else:
            db.session.rollback()
        response = error_response(exc.status, exc.code, exc.message)
        if exc.retry_after is not None:
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.errorhandler(CSRFError)
    def handle_csrf(exc: CSRFError) -> Response:
        db.session.rollback()
        return error_response(400, "csrf", _("页面已过期或来源不明，请刷新页面后重新提交。"))

    @app.errorhandler(HTTPException)
    def handle_http(exc: HTTPException) -> Response:
        db.session.rollback()
        status = exc.code or 500
        code, message = _http_messages().get(status, ("http_error", exc.description or ""))
        if status == 429 and exc.description and "per" not in exc.description:
            message = exc.description
        response = error_response(status, code, message)
        # keep the limiter's headers (Retry-After, X-RateLimit-*) on our page, and a 416's
        # Content-Range (the file's length, from which a player asks again)
        original = exc.get_response()
        for name in ("Retry-After", "Allow", "Content-Range"):
            if name in original.headers:
                response.headers[name] = original.headers[name]
        return response

    @app.errorhandler(Exception)
    def handle_unexpected(exc: Exception) -> Response:
        if database_unavailable(exc):
            return database_unavailable_response(exc)
        db.session.rollback()
        log.exception("unhandled error")
        code, message = _http_messages()[500]
        return error_response(500, code, message)


class PayloadTooLarge(DomainError):
    status = 413
    code = "too_large"


class UnsupportedMediaType(DomainError):
    status = 415
    code = "unsupported_type"


class Unprocessable(DomainError):
    status = 422
    code = "unprocessable"
