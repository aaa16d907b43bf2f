"""Captcha challenges for the web: issue one, then draw it as an image or read it aloud."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request, url_for

from .. import web
from ..errors import InvalidInput, NotFound
from ..extensions import db, limiter
from ..i18n import _
from . import captcha

bp = Blueprint("captcha", __name__)


def _payload() -> dict[str, Any]:
    if request.is_json:
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            raise InvalidInput(_("请求格式有误，请检查后重试。"), code="malformed_json")
        return data
    return request.form.to_dict()


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def _live_code(captcha_id: str) -> str:
    code = captcha.challenge_code(db.session, web.redis_client(), captcha_id)
    if code is None:
        raise NotFound(_("验证码已过期，请换一张。"), code="captcha_expired")
    return code


@bp.post("/captcha")
@limiter.limit("20 per minute;300 per day", key_func=web.client_ip, error_message=lambda: _("获取验证码太频繁，请稍后再试。"))
def issue() -> tuple[Response, int]:
    purpose = _payload().get("purpose") or "vote"
    if not isinstance(purpose, str):
        raise InvalidInput(_("未知的验证码用途。"), code="captcha_purpose", field="purpose")
    challenge = captcha.issue_captcha(db.session, web.redis_client(), purpose=purpose,
                                      fixed_answer=web.settings().captcha_fixed_answer)
    db.session.commit()
    body = {
        "id": challenge.id,
        "image_url": url_for("captcha.image", captcha_id=challenge.id),
        "audio_url": url_for("captcha.audio", captcha_id=challenge.id),
        "expires_at": challenge.expires_at.isoformat(),
    }
    return _no_store(jsonify(body)), 201


@bp.get("/captcha/<captcha_id>.png")
@limiter.limit("30 per minute", key_func=web.client_ip, error_message=lambda: _("刷新验证码太频繁，请稍后再试。"))
def image(captcha_id: str) -> Response:
    return _no_store(Response(captcha.render_image(_live_code(captcha_id)), mimetype="image/png"))


@bp.get("/captcha/<captcha_id>.wav")
@limiter.limit("10 per minute", key_func=web.client_ip, error_message=lambda: _("播放验证码太频繁，请稍后再试。"))
def audio(captcha_id: str) -> Response:
    return _no_store(Response(captcha.render_audio(_live_code(captcha_id)), mimetype="audio/wav"))
