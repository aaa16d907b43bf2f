"""The contest platform of Jinan's Vocational Education Activity Week."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Flask, has_request_context, request
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.middleware.proxy_fix import ProxyFix

from .clock import Clock
from .config import ConfigError, Settings
from .redis_client import connect, limiter_storage

if TYPE_CHECKING:
    from .accounts.models import User

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LOCALES = ("zh", "en")


def create_app(settings: Settings | Mapping[str, Any] | None = None) -> Flask:
    """Build the application. `settings` is a Settings, a mapping of overrides on top of
    the environment, or None to read the environment alone."""
    instance_path = os.environ.get("INSTANCE_PATH") or str(PROJECT_ROOT / "instance")
    if isinstance(settings, Settings):
        resolved = settings
    else:
        resolved = Settings.from_env(os.environ, instance_path)
        if settings:
            resolved = resolved.override(settings)
    if not resolved.instance_path:
        resolved = resolved.override({"instance_path": instance_path})
    resolved = resolved.with_defaults()

    app = Flask(
        __name__, instance_path=resolved.instance_path, instance_relative_config=False,
        template_folder=str(PROJECT_ROOT / "templates"), static_folder=str(PROJECT_ROOT / "static"),
    )
    app.extensions["settings"] = resolved
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.extensions["clock"] = resolved.extra.get("clock") or Clock()
    _configure(app, resolved)
    _init_extensions(app, resolved)

    from .errors import register_error_handlers
    from .input_guard import init_input_guard
    from .metrics import init_metrics
    from .request_log import init_request_log
    from .security_headers import init_security_headers

    init_request_log(app, resolved.log_level)
    init_metrics(app, resolved)  # after the request id: its timer is the first hook of all
    init_security_headers(app)
    register_error_handlers(app)
    init_input_guard(app)  # before the blueprints: their rules take the id converter
    _register_blueprints(app)
    _register_template_helpers(app)

    from .static_files import install as install_static_files

    install_static_files(app)  # versioned URLs, a year's cache, precompressed text files

    from .cli import register_cli

    register_cli(app)
    if resolved.proxy_count:
        # The client's address and scheme come from the proxies; the Host only when the
        # operator says the proxy sets it (a forwarded Host is otherwise the client's word).
        n = resolved.proxy_count
        host = n if resolved.proxy_sets_host else 0
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=host, x_port=host)  # type: ignore[method-assign]
    return app


def _configure(app: Flask, s: Settings) -> None:
    # The limiter's storage: REDIS_URL's server or Sentinel set, with the client's short
    # timeouts and no retries (redis_client.limiter_storage); in process memory without it.
    storage_uri, storage_options = limiter_storage(s.redis_url) if s.redis_url else ("memory://", {})
    engine_options: dict[str, Any] = {}
    if s.uses_sqlite:
        engine_options["connect_args"] = {"timeout": 30}
    else:
        engine_options.update(pool_pre_ping=True, pool_size=10, max_overflow=10, pool_recycle=1800)
    app.config.update(
        SECRET_KEY=s.secret_key,
        SQLALCHEMY_DATABASE_URI=s.database_url,
        SQLALCHEMY_ENGINE_OPTIONS=engine_options,
        SQLALCHEMY_TRACK_MODIFICATIONS=False,
        TESTING=s.is_testing,
        MAX_CONTENT_LENGTH=s.extra.get("max_content_length", 32 * 1024 * 1024),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=s.is_production,
        REMEMBER_COOKIE_DURATION=timedelta(days=30),
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=s.is_production,
        PERMANENT_SESSION_LIFETIME=timedelta(days=7),
        # A phone page may stay open for a long time before its form is sent.
        WTF_CSRF_TIME_LIMIT=12 * 3600,
        WTF_CSRF_ENABLED=s.extra.get("csrf_enabled", True),
        BABEL_DEFAULT_LOCALE="zh",
        BABEL_DEFAULT_TIMEZONE="Asia/Shanghai",
        BABEL_TRANSLATION_DIRECTORIES=str(Path(__file__).parent / "translations"),
        RATELIMIT_ENABLED=s.ratelimit_enabled,
        RATELIMIT_STORAGE_URI=storage_uri,
        RATELIMIT_STRATEGY="moving-window",
        RATELIMIT_HEADERS_ENABLED=True,
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True,
        RATELIMIT_KEY_PREFIX="contest-rl",
        RATELIMIT_STORAGE_OPTIONS=storage_options,
        SEND_FILE_MAX_AGE_DEFAULT=timedelta(hours=12),
        # A request naming any other Host is answered 400 before routing.
        TRUSTED_HOSTS=list(s.allowed_hosts) or None,
    )


@event.listens_for(Engine, "do_connect")
def _private_sqlite_file(dialect: Any, connection_record: Any, cargs: list[Any], cparams: dict[str, Any]) -> None:
    # The database holds phone numbers and password hashes: create its file readable by
    # the app's user alone (SQLite gives the -wal and -shm files the database's mode),
    # rather than with the umask's usual world-readable 0644.
    if dialect.name != "sqlite" or cparams.get("uri") or not cargs or cargs[0] in ("", ":memory:"):
        return
    try:
        os.close(os.open(cargs[0], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError:  # it exists already, or cannot be created: SQLite reports the latter
        pass


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    # WAL lets readers run beside the writer; the busy timeout makes a second writer
    # wait instead of failing; SQLite enforces foreign keys only when asked.
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


@event.listens_for(Engine, "savepoint")
def _sqlite_savepoint(conn: Any, name: str) -> None:
    # The sqlite3 driver opens a transaction only before the first INSERT/UPDATE/DELETE
    # (reads before it run on their own, so no stale snapshot can make a later write
    # fail). A SAVEPOINT issued before any write would otherwise open the outermost
    # transaction itself, and releasing it would commit: open a real one first.
    if conn.dialect.name == "sqlite":
        dbapi_connection = conn.connection.dbapi_connection
        if not dbapi_connection.in_transaction:
            dbapi_connection.execute("BEGIN IMMEDIATE")


def _init_extensions(app: Flask, s: Settings) -> None:
    from . import (
        model_registry,  # noqa: F401
        page_cache,
    )
    from .accounts.service import Queued, in_memory_windows
    from .accounts.sms import make_sender
    from .errors import database_unavailable
    from .extensions import babel, csrf, db, limiter, login_manager, migrate
    from .jobs import make_jobs
    from .media.service import ImageDecoder
    from .media.storage import LocalStorage

    db.init_app(app)

    # Registered after db.init_app, so it runs first (teardowns run in reverse order) and
    # Flask-SQLAlchemy's own removal then finds nothing left to do.
    @app.teardown_appcontext
    def end_session(exc: BaseException | None) -> None:
        # A database server that goes away after a request's last statement (a crash, a
        # failover to the standby) makes rolling back its open transaction fail, once
        # the answer is made. That transaction went with the server and SQLAlchemy has
        # dropped the connection: the answer stands instead of becoming a 500.
        try:
            db.session.remove()
        except SQLAlchemyError as error:
            if not database_unavailable(error):
                raise
            db.session.remove()  # the session is closed now: this forgets it

    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    # flask-limiter merges RATELIMIT_STORAGE_OPTIONS into what an earlier app left on the
    # shared Limiter: start each app from none, so that a Sentinel app's options (its
    # sentinel_kwargs) never reach a later app's plain Redis or memory storage.
    limiter._storage_options = {}
    limiter.init_app(app)
    babel.init_app(app, locale_selector=_select_locale)
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = "请先登录。"
    login_manager.login_message_category = "info"
    # "basic" rather than "strong": phones hop between Wi-Fi and mobile networks, and
    # "strong" would log a voter out at every change of address. Each sign-in is a
    # LoginSession row instead, revoked on logout, on a password reset and on "sign out
    # everywhere"; the id flask-login keeps is that sign-in's secret.
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def load_user(token: str) -> User | None:
        from .accounts.service import load_session_user

        return load_session_user(db.session, token, now=app.extensions["clock"].now())

    # One client per app, with its own health (redis_client): no retries with back-off,
    # so that when Redis is down every call fails at once and the database answers.
    app.extensions["redis"] = connect(s.redis_url) if s.redis_url else None
    app.extensions["login_fallback"] = in_memory_windows()
    page_cache.init_app(app, app.extensions["redis"])
    # The gateway's sender, whose messages the job runner delivers after the commit that
    # wrote them (accounts/outbox.py): no request waits for a gateway.
    app.extensions["sms_sender"] = Queued(make_sender(s), lambda message_id: app.extensions["job_tasks"].send_sms(message_id))
    app.extensions["storage"] = LocalStorage(s.media_root)
    # One per process: its threads share the decode slots that bound the memory images take.
    app.extensions["image_decoder"] = ImageDecoder(slots=s.image_decode_slots)
    # One per app: the job runner's queue and schedules (contest/jobs.py; `flask jobs worker`).
    app.extensions["jobs"] = make_jobs(app)


def _select_locale() -> str:
    if not has_request_context():  # CLI commands and scripts speak the source language
        return "zh"
    chosen = request.cookies.get("lang", "")
    return chosen if chosen in LOCALES else "zh"


def _register_blueprints(app: Flask) -> None:
    from .accounts.views import bp as accounts_bp
    from .admin.fraud_views import bp as fraud_bp
    from .admin.judging_views import bp as judging_admin_bp
    from .admin.moderation_views import bp as moderation_bp
    from .admin.results_views import bp as results_admin_bp
    from .admin.views import bp as admin_bp
    from .antifraud.views import bp as captcha_bp
    from .api.views import bp as api_bp
    from .contests.views import bp as contests_bp
    from .judging.views import bp as judging_bp
    from .media.share_views import bp as sharing_bp
    from .media.submit_views import bp as submit_bp
    from .media.views import bp as media_bp
    from .results.views import bp as results_bp
    from .site.views import bp as site_bp
    from .voting.views import bp as voting_bp

    for bp in (site_bp, accounts_bp, contests_bp, voting_bp, media_bp, sharing_bp, submit_bp, captcha_bp, admin_bp, moderation_bp, fraud_bp, judging_admin_bp, results_admin_bp, api_bp, judging_bp, results_bp):
        app.register_blueprint(bp)


def _register_template_helpers(app: Flask) -> None:
    from flask_babel import get_locale

    from .clock import to_local
    from .contests.service import entered_by_schools, hides_minor_votes, kind_label, stage_label
    from .i18n import _, label_of
    from .media.service import image_sources, photos_public, public_cover_key
    from .results.formulas import Line, render

    @app.template_filter("local")
    def local_filter(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
        # a no-break space keeps a date and its time on one line on narrow screens
        return to_local(value).strftime(fmt).replace(" ", "\u00a0") if value else ""

    @app.template_filter("explained")
    def explained_filter(line: Line) -> str:
        """A results explanation line in the reader's language (its values filled in)."""
        return render(line, _)

    @app.template_filter("label")
    def label_filter(code: str | None, codes: str) -> str:
        """A stored code in words: {{ event.action|label('audit_action') }} (contest.i18n.code_labels)."""
        return label_of(codes, code)

    from .web import absolute_url

    app.jinja_env.globals["absolute_url"] = absolute_url
    app.jinja_env.globals.update(stage_label=stage_label, kind_label=kind_label, get_locale=get_locale,
                                 entered_by_schools=entered_by_schools, hides_minor_votes=hides_minor_votes)
    # Public templates show an entry's pictures only through the media domain's one rule.
    app.jinja_env.globals.update(photos_public=photos_public, public_cover_key=public_cover_key,
                                image_sources=image_sources)
    from .accounts.units import is_city_staff

    app.jinja_env.globals["is_city_staff"] = is_city_staff


__all__ = ["create_app", "ConfigError", "Settings"]
