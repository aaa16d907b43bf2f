"""Domain errors and their one mapping to HTTP (HTML pages and JSON)."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, render_template, request
from flask.globals import request_ctx
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from markupsafe import escape
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


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
    if request.path.startswith("/api/") or request.path == "/healthz":
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


def register_error_handlers(app: Flask) -> None:
    from .extensions import db

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
        # keep the limiter's headers (Retry-After, X-RateLimit-*) on our page
        original = exc.get_response()
        for name in ("Retry-After", "Allow"):
            if name in original.headers:
                response.headers[name] = original.headers[name]
        return response

    @app.errorhandler(Exception)
    def handle_unexpected(exc: Exception) -> Response:
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
