"""Headers that keep every page to its own origin."""

from __future__ import annotations

from flask import Flask, Response

# Nothing is ever loaded from another origin; inline scripts and styles are not used.
CSP = (
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; style-src 'self'; "
    "script-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


def init_security_headers(app: Flask) -> None:
    @app.after_request
    def add_headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if app.extensions["settings"].is_production:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response
