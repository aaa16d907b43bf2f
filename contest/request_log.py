"""A request id on every log line of a request, and on the response."""

from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, Response, g, has_request_context, request

REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
FORMAT = "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        return True


def init_request_log(app: Flask, level: str) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    # One handler per process, however many apps a test run creates.
    if not any(getattr(h, "_contest_handler", False) for h in root.handlers):
        handler._contest_handler = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level)
    for h in root.handlers:
        if not any(isinstance(f, RequestIdFilter) for f in h.filters):
            h.addFilter(RequestIdFilter())
    access = logging.getLogger("contest.access")

    def assign_request_id() -> None:
        # A proxy's id is reused so one request can be followed across nginx and the app.
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if REQUEST_ID_RE.fullmatch(incoming) else uuid.uuid4().hex
        g.request_started = time.perf_counter()

    # First of all the hooks, ahead of the extensions' (CSRF, rate limits): a request they
    # refuse still has its id in the log and on the response.
    app.before_request_funcs.setdefault(None, []).insert(0, assign_request_id)

    @app.after_request
    def log_request(response: Response) -> Response:
        response.headers["X-Request-ID"] = g.get("request_id", "")
        if not request.path.startswith("/static/"):
            elapsed = (time.perf_counter() - g.get("request_started", time.perf_counter())) * 1000
            access.info("%s %s %s %.1fms", request.method, request.path, response.status_code, elapsed)
        return response
