"""Register, log in and out, reset a password, send SMS codes."""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Blueprint, flash, has_request_context, jsonify, redirect, render_template, request, url_for
from flask import session as browser  # the browser's signed session cookie
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy.exc import SQLAlchemyError

from .. import web
from ..actions import run_action
from ..antifraud import captcha
from ..antifraud import service as antifraud
from ..errors import DomainError
from ..extensions import db, limiter
from ..forms import BaseForm, required
from ..i18n import _
from . import service
from .device_names import device_name
from .forms import LoginForm, RegisterForm, ResetForm, SendCodeForm
from .login_guard import FailureCounters
from .models import User

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


def _next_page() -> str:
    """The same-site page to go back to after signing in or registering ('' for none). It
    travels in the address of the login and registration pages, from one to the other and
    through the SMS code form."""
    return web.safe_next(request.args.get("next"), "")


def _render_form(template: str, form: object, status: int = 200, error: str = "", code_form: object = None,
                 **context: object) -> tuple[str, int]:
    return render_template(template, form=form, error=error, code_form=code_form or SendCodeForm(),
                           next_page=_next_page() or None, terms_version=service.TERMS_VERSION,
                           sms_on_its_way=_sms_on_its_way(), **context), status


SMS_SENT_KEY = "sms_message"  # the browser's latest code message, in its signed session


def _sms_on_its_way() -> bool:
    """Whether this browser asked for a code whose delivery the page should still follow."""
    if SMS_SENT_KEY not in browser:
        return False
    if service.delivery_settled(db.session, browser[SMS_SENT_KEY]):
        browser.pop(SMS_SENT_KEY, None)
        return False
    return True


def login_counters() -> FailureCounters | None:
    """The failed sign-in windows, kept where the rate limiter keeps its counters (None
    when rate limiting is switched off)."""
    return FailureCounters(limiter.limiter, fallback=web.login_fallback()) if limiter.enabled else None


def _start_sign_in(user: User, remember: bool) -> None:
    """Open a sign-in for this browser, commit, and hand it to flask-login."""
    service.open_login_session(db.session, user=user, now=web.now(), remember=remember, ip=web.client_ip(),
                               user_agent=request.headers.get("User-Agent", ""))
    db.session.commit()
    login_user(user, remember=remember)


@bp.post("/sms-code")
@limiter.limit("3 per minute;15 per hour", key_func=web.client_ip, error_message=lambda: _("获取验证码太频繁，请稍后再试。"))
@limiter.limit("5 per hour", key_func=_phone_key, error_message=lambda: _("该手机号获取验证码次数过多，请一小时后再试。"))
def send_code() -> ResponseReturnValue:
    form = SendCodeForm()
    purpose = form.purpose.data if form.purpose.data in ("register", "reset") else "register"
    template = "accounts/register.html" if purpose == "register" else "accounts/reset.html"
    main_form = RegisterForm(formdata=None) if purpose == "register" else ResetForm(formdata=None)
    if not form.validate():
        return _render_form(template, main_form, 400, _first_error(form), form)
    endpoint = "accounts.register" if purpose == "register" else "accounts.reset_password"

    def sent(message_id: int | None) -> ResponseReturnValue:
        # The job runner sends the text; the page follows it (sms_status) and says so if it
        # fails. A request that sends nothing reads as one on its way, like any other.
        browser[SMS_SENT_KEY] = message_id
        if service.delivery_failed(db.session, message_id):
            flash(_(service.SEND_FAILED), "error")
        else:
            flash(_("验证码已发送，5 分钟内有效。"), "success")
        return redirect(url_for(endpoint, phone=service.normalize_phone(required(form.phone.data)), next=_next_page() or None))

    return run_action(
        lambda: service.send_sms_code(db.session, web.sms_sender(), phone=required(form.phone.data), purpose=purpose, now=web.now(),
                                      secret_key=web.settings().secret_key, ip=web.client_ip()),
        refused=lambda exc: _render_form(template, main_form, exc.status, exc.message, form),
        then=sent)


@bp.get("/sms-code/status")
def sms_status() -> ResponseReturnValue:
    """How this browser's latest code message is doing: sending, sent or failed (the
    register and reset pages ask until it settles). It knows only the message this
    browser asked for, kept in its signed session."""
    message_id = browser[SMS_SENT_KEY] if SMS_SENT_KEY in browser else None
    if service.delivery_failed(db.session, message_id):
        state, message = "failed", _(service.SEND_FAILED)
    elif service.delivery_settled(db.session, message_id):
        state, message = "sent", ""
    else:
        state, message = "sending", ""
    response = jsonify(state=state, message=message)
    response.headers["Cache-Control"] = "no-store"
    return response


def _first_error(form: BaseForm) -> str:
    for errors in form.errors.values():
        if errors:
            return str(errors[0])
    return _("请检查填写的内容。")


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit("10 per hour", methods=["POST"], key_func=web.client_ip, error_message=lambda: _("注册尝试太频繁，请稍后再试。"))
def register() -> ResponseReturnValue:
    form = RegisterForm()
    code_form = SendCodeForm(phone=request.args.get("phone", ""), purpose="register")
    if request.method == "GET":
        form.phone.data = request.args.get("phone", "")
        return _render_form("accounts/register.html", form, code_form=code_form)
    if not form.validate():
        return _render_form("accounts/register.html", form, 400, _first_error(form), code_form)
    try:
        user = service.register_user(
            db.session, phone=required(form.phone.data), code=required(form.code.data), password=required(form.password.data),
            display_name=form.display_name.data or "", now=web.now(), secret_key=web.settings().secret_key,
            terms_version=form.terms_version.data or "",
        )
    except DomainError as exc:
        web.settle_failure(exc)
        return _render_form("accounts/register.html", form, exc.status, exc.message, code_form)
    _start_sign_in(user, remember=False)
    flash(_("注册成功，欢迎参与！"), "success")
    return redirect(_next_page() or url_for("site.home"))


def _login_captcha(form: LoginForm) -> Callable[[], bool] | None:
    """The captcha answer posted with the login form, as a check to run if one is needed."""
    captcha_id, answer = (form.captcha_id.data or "").strip(), (form.captcha_answer.data or "").strip()
    if not captcha_id and not answer:
        return None
    return lambda: captcha.check_captcha(db.session, web.redis_client(), captcha_id=captcha_id, answer=answer,
                                         purpose="login")


def _login_refused(form: LoginForm, exc: DomainError) -> tuple[str, int, dict[str, str]]:
    """The login page again with the refusal, and a fresh captcha when the next try needs one."""
    web.settle_failure(exc)
    challenge = None
    if isinstance(exc, service.LoginCaptchaRequired) or getattr(exc, "captcha_required", False):
        challenge = captcha.issue_captcha(db.session, web.redis_client(), purpose="login",
                                          fixed_answer=web.settings().captcha_fixed_answer)
        db.session.commit()
    form.password.data = form.captcha_answer.data = ""
    html, status = _render_form("accounts/login.html", form, exc.status, exc.message, challenge=challenge)
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else {}
    return html, status, headers


# Failed sign-ins are counted by login_guard (per phone and address, per address, and
# per phone for the captcha). This limit only caps the requests an address may send,
# above what the failure windows let through, so that they are the ones that answer.
@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("60 per minute", methods=["POST"], key_func=web.client_ip, error_message=lambda: _("登录尝试太频繁，请稍后再试。"))
def login() -> ResponseReturnValue:
    form = LoginForm()
    if request.method == "GET":
        return _render_form("accounts/login.html", form)
    if not form.validate():
        return _render_form("accounts/login.html", form, 400, _first_error(form))
    try:
        user = service.sign_in(db.session, login_counters(), phone=required(form.phone.data), password=required(form.password.data),
                               address=web.client_ip(), captcha=_login_captcha(form))
    except DomainError as exc:
        return _login_refused(form, exc)
    antifraud.settle_registration(db.session, web.redis_client(), user, web.now())
    _start_sign_in(user, remember=bool(form.remember.data))
    return redirect(_next_page() or url_for("site.home"))


@bp.post("/logout")
@login_required
def logout() -> ResponseReturnValue:
    # Revoked on the server: a copy of this browser's cookies signs nobody in afterwards.
    service.end_login_session(db.session, token=current_user.sign_in_token or "", now=web.now())
    db.session.commit()
    logout_user()
    flash(_("您已退出登录。"), "info")
    return redirect(url_for("site.home"))


@bp.get("/devices")
@login_required
def devices() -> str:
    user = web.user()
    sign_ins = service.live_login_sessions(db.session, user=user, now=web.now())
    current = next((s.id for s in sign_ins if service.is_current_sign_in(s, current_user.sign_in_token)), None)
    return render_template("accounts/devices.html", sign_ins=sign_ins, current=current, device_name=device_name)


@bp.post("/devices/sign-out-all")
@login_required
def sign_out_everywhere() -> ResponseReturnValue:
    service.end_all_login_sessions(db.session, user=web.user(), now=web.now())
    db.session.commit()
    logout_user()
    flash(_("已退出所有设备上的登录（包括本设备），请重新登录。"), "success")
    return redirect(url_for("accounts.login"))


@bp.route("/reset", methods=["GET", "POST"])
@limiter.limit("10 per hour", methods=["POST"], key_func=web.client_ip, error_message=lambda: _("操作太频繁，请稍后再试。"))
def reset_password() -> ResponseReturnValue:
    form = ResetForm()
    code_form = SendCodeForm(phone=request.args.get("phone", ""), purpose="reset")
    if request.method == "GET":
        form.phone.data = request.args.get("phone", "")
        return _render_form("accounts/reset.html", form, code_form=code_form)
    if not form.validate():
        return _render_form("accounts/reset.html", form, 400, _first_error(form), code_form)

    def done(_user: User) -> ResponseReturnValue:
        logout_user()
        flash(_("密码已重置，请用新密码登录。"), "success")
        return redirect(url_for("accounts.login"))

    return run_action(
        lambda: service.reset_password(db.session, phone=required(form.phone.data), code=required(form.code.data),
                                       password=required(form.password.data), now=web.now(),
                                       secret_key=web.settings().secret_key),
        refused=lambda exc: _render_form("accounts/reset.html", form, exc.status, exc.message, code_form), then=done)


@bp.get("/notices")
@login_required
def notices() -> str:
    user = web.user()
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
