"""What views need from the running app, in one place: the clock, the acting user,
the client address, and the app's pluggable parts (storage, SMS, Redis)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import redis
from flask import abort, current_app, request, url_for
from flask_login import current_user

from .clock import Clock
from .config import Settings
from .extensions import login_manager

if TYPE_CHECKING:
    # Annotations only: web.py is below every domain and imports none at run time.
    from .accounts.models import User
    from .accounts.service import SmsSender
    from .media.service import ImageDecoder, Storage


def settings() -> Settings:
    return current_app.extensions["settings"]


def clock() -> Clock:
    return current_app.extensions["clock"]


def now() -> datetime:
    return clock().now()


def actor() -> User | None:
    """The signed-in user, or None."""
    return current_user._get_current_object() if current_user.is_authenticated else None


def user() -> User:
    """The signed-in user, to pass to a service as the actor. A signed-out visitor is
    stopped here as by `login_required` (the login page, with `next`), so no view can hand
    a service an anonymous actor."""
    if not current_user.is_authenticated:
        abort(login_manager.unauthorized())
    return current_user._get_current_object()


def external_url(endpoint: str, **values: Any) -> str:
    """An absolute URL for links that leave the site (API answers, QR codes, posters,
    invitations): built on the configured public address, never on the request's Host,
    which a client chooses."""
    base = settings().public_base_url
    if base:
        return base + url_for(endpoint, **values)
    return url_for(endpoint, _external=True, **values)


def absolute_url(path: str) -> str:
    """A site path (/c/…, /media/…) as an absolute URL, on the configured public address
    like `external_url` (link cards in chat apps need one)."""
    if not path.startswith("/"):
        return path
    return external_url("site.home").rstrip("/") + path


def client_ip() -> str:
    return request.remote_addr or ""


def sms_sender() -> SmsSender:
    return current_app.extensions["sms_sender"]


def storage() -> Storage:
    return current_app.extensions["storage"]


def image_decoder() -> ImageDecoder:
    """The process's image decoder: pass it to images.process_image from a request."""
    return current_app.extensions["image_decoder"]


def redis_client() -> redis.Redis | None:
    return current_app.extensions["redis"]


def settle_failure(exc: Any) -> None:
    """After a refused operation: keep what the refusal recorded (a failed code attempt),
    drop everything else."""
    from .extensions import db

    if getattr(exc, "keep_changes", False):
        db.session.commit()
    else:
        db.session.rollback()


def safe_next(target: str | None, default: str) -> str:
    """A same-site path to go to after login, never an open redirect."""
    # Browsers drop tabs and newlines inside URLs, so "/\t/evil" would become "//evil".
    if (target and target.startswith("/") and not target.startswith("//") and "\\" not in target
            and not any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in target)):
        return target
    return default


def login_fallback() -> Any:
    """The app's in-process failed-sign-in windows, used while the limiter's storage does
    not answer (one per app, created by create_app)."""
    return current_app.extensions["login_fallback"]
