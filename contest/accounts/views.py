"""Register, log in and out, reset a password, send SMS codes."""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Blueprint, Response, flash, has_request_context, redirect, render_template, request, url_for
from flask_login import login_required, login_user, logout_user
from sqlalchemy.exc import SQLAlchemyError

from .. import web
from ..antifraud import service as antifraud
from ..errors import DomainError
from ..extensions import db, limiter
from ..i18n import _
from . import service
from .forms import LoginForm, RegisterForm, ResetForm, SendCodeForm

bp = Blueprint("accounts", __name__, url_prefix="/account")
log = logging.getLogger(__name__)
NOTICES_SHOWN = 50


def _phone_key() -> str:
    """Rate-limit key for a phone number in the posted form (normalised, so spacing does not dodge it)."""
    raw = request.form.get("phone", "")
    try:
        return "phone:" + service.normalize_phone(raw)
    except DomainError:
        # Per address, not one bucket shared by everyone who mistypes a number.
        return "phone-invalid:" + web.client_ip()


def _failed(response: Response) -> bool:
    return response.status_code >= 400


def _render_form(template: str, form: object, status: int = 200, error: str = "", code_form: object = None) -> tuple[str, int]:
    return render_template(template, form=form, error=error, code_form=code_form or SendCodeForm()), status


@bp.post("/sms-code")
@limiter.limit("3 per minute;15 per hour", key_func=web.client_ip, error_message=lambda: _("获取验证码太频繁，请稍后再试。"))
@limiter.limit("5 per hour", key_func=_phone_key, error_message=lambda: _("该手机号获取验证码次数过多，请一小时后再试。"))
def send_code() -> Response | tuple[str, int]:
    form = SendCodeForm()
    purpose = form.purpose.data if form.purpose.data in ("register", "reset") else "register"
    template = "accounts/register.html" if purpose == "register" else "accounts/reset.html"
    main_form = RegisterForm(formdata=None) if purpose == "register" else ResetForm(formdata=None)
    if not form.validate():
        return _render_form(template, main_form, 400, _first_error(form), form)
    try:
        service.send_sms_code(db.session, web.sms_sender(), phone=form.phone.data, purpose=purpose, now=web.now(),
                              secret_key=web.settings().secret_key, ip=web.client_ip())
    except DomainError as exc:
        web.settle_failure(exc)
        return _render_form(template, main_form, exc.status, exc.message, form)
    db.session.commit()
    flash(_("验证码已发送，5 分钟内有效。"), "success")
    endpoint = "accounts.register" if purpose == "register" else "accounts.reset_password"
    return redirect(url_for(endpoint, phone=service.normalize_phone(form.phone.data)))


def _first_error(form: object) -> str:
    for errors in form.errors.values():  # type: ignore[attr-defined]
        if errors:
            return str(errors[0])
    return _("请检查填写的内容。")


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit("10 per hour", methods=["POST"], key_func=web.client_ip, error_message=lambda: _("注册尝试太频繁，请稍后再试。"))
def register() -> Response | tuple[str, int]:
    form = RegisterForm()
    code_form = SendCodeForm(phone=request.args.get("phone", ""), purpose="register")
    if request.method == "GET":
        form.phone.data = request.args.get("phone", "")
        return _render_form("accounts/register.html", form, code_form=code_form)
    if not form.validate():
        return _render_form("accounts/register.html", form, 400, _first_error(form), code_form)
    try:
        user = service.register_user(
            db.session, phone=form.phone.data, code=form.code.data, password=form.password.data,
            display_name=form.display_name.data or "", now=web.now(), secret_key=web.settings().secret_key,
        )
    except DomainError as exc:
        web.settle_failure(exc)
        return _render_form("accounts/register.html", form, exc.status, exc.message, code_form)
    db.session.commit()
    login_user(user)
    flash(_("注册成功，欢迎参与！"), "success")
    return redirect(web.safe_next(request.args.get("next"), url_for("site.home")))


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("30 per minute", methods=["POST"], key_func=web.client_ip, error_message=lambda: _("登录尝试太频繁，请稍后再试。"))
@limiter.limit("5 per 15 minutes", methods=["POST"], key_func=_phone_key, deduct_when=_failed,
               error_message=lambda: _("密码错误次数过多，请 15 分钟后再试，或通过短信找回密码。"))
def login() -> Response | tuple[str, int]:
    form = LoginForm()
    if request.method == "GET":
        return _render_form("accounts/login.html", form)
    if not form.validate():
        return _render_form("accounts/login.html", form, 400, _first_error(form))
    try:
        user = service.authenticate(db.session, phone=form.phone.data, password=form.password.data)
    except DomainError as exc:
        web.settle_failure(exc)
        return _render_form("accounts/login.html", form, exc.status, exc.message)
    antifraud.settle_registration(db.session, web.redis_client(), user, web.now())
    db.session.commit()
    login_user(user, remember=bool(form.remember.data))
    return redirect(web.safe_next(request.args.get("next"), url_for("site.home")))


@bp.post("/logout")
@login_required
def logout() -> Response:
    logout_user()
    flash(_("您已退出登录。"), "info")
    return redirect(url_for("site.home"))


@bp.route("/reset", methods=["GET", "POST"])
@limiter.limit("10 per hour", methods=["POST"], key_func=web.client_ip, error_message=lambda: _("操作太频繁，请稍后再试。"))
def reset_password() -> Response | tuple[str, int]:
    form = ResetForm()
    code_form = SendCodeForm(phone=request.args.get("phone", ""), purpose="reset")
    if request.method == "GET":
        form.phone.data = request.args.get("phone", "")
        return _render_form("accounts/reset.html", form, code_form=code_form)
    if not form.validate():
        return _render_form("accounts/reset.html", form, 400, _first_error(form), code_form)
    try:
        service.reset_password(db.session, phone=form.phone.data, code=form.code.data, password=form.password.data,
                               now=web.now(), secret_key=web.settings().secret_key)
    except DomainError as exc:
        web.settle_failure(exc)
        return _render_form("accounts/reset.html", form, exc.status, exc.message, code_form)
    db.session.commit()
    logout_user()
    flash(_("密码已重置，请用新密码登录。"), "success")
    return redirect(url_for("accounts.login"))


@bp.get("/notices")
@login_required
def notices() -> str:
    user = web.actor()
    items = service.unread_notices(db.session, user, limit=NOTICES_SHOWN)
    unread = {n.id for n in items if n.read_at is None}
    service.mark_notices_read(db.session, user, web.now())
    db.session.commit()
    return render_template("accounts/notices.html", notices=items, unread=unread)


@bp.app_context_processor
def notice_counter() -> dict[str, Callable[[], int | None]]:
    """`unread_notice_count()` for the header: a callable, so the COUNT runs only when a
    page shows it, and only for a signed-in user."""

    def count() -> int | None:
        user = web.actor() if has_request_context() else None
        if user is None:
            return None
        try:
            return service.unread_notice_count(db.session, user)
        except SQLAlchemyError:
            # The header must not break the page, not even the error page of a database outage.
            log.warning("unread notice count unavailable", exc_info=True)
            db.session.rollback()
            return None

    return {"unread_notice_count": count}
