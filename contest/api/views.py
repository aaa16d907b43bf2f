"""The JSON API /api/v1: parse the request, call one service, answer in JSON.

Callers authenticate with bearer tokens, never cookies, so the blueprint is exempt from
CSRF (a cross-site page cannot make a browser add an Authorization header). Errors take
the one JSON shape of contest/errors.py, since every path here is under /api/.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from flask import Blueprint, Response, g, jsonify, request
from sqlalchemy.orm import selectinload

from .. import page_cache, web
from ..accounts import service as accounts
from ..antifraud import captcha
from ..antifraud import service as antifraud
from ..contests import service as contests
from ..contests.models import DISTRICTS, Contest
from ..errors import DomainError, InvalidInput, NotFound, UnsupportedMediaType
from ..extensions import csrf, db, limiter
from ..i18n import _
from ..media import service as media
from ..voting import live, view_stamps
from ..voting import service as voting
from . import idempotency, openapi, payloads, service, tokens

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)

# The bounds are the OpenAPI document's: the views enforce exactly what it declares.
MAX_BODY = openapi.MAX_BODY


@bp.before_request
def _limit_body() -> None:
    request.max_content_length = MAX_BODY


@bp.after_request
def _api_headers(response: Response) -> Response:
    if response.status_code == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


# --- request parsing ------------------------------------------------------------------

def _reject_constant(name: str) -> Any:
    raise ValueError(name)


def _json_object(*, optional: bool = False) -> dict[str, Any]:
    """The body as a JSON object; an empty body is {} where the body is optional. A body
    must say it is JSON (Content-Type: application/json), or it is refused (415)."""
    if request.mimetype != "application/json" and not (optional and not request.get_data(cache=True).strip()):
        raise UnsupportedMediaType(_("请求内容应为 JSON，请使用 Content-Type: application/json。"))
    raw = request.get_data(cache=True)
    if not raw.strip():
        if optional:
            return {}
        raise InvalidInput(_("请求内容不能为空，应为 JSON 对象。"), code="bad_json")
    try:
        # The app's JSON (input_guard) also refuses deep nesting and control characters.
        payload = request.json_module.loads(raw, parse_constant=_reject_constant)
    except ValueError:  # also UnicodeDecodeError
        raise InvalidInput(_("请求内容不是有效的 JSON。"), code="bad_json") from None
    if not isinstance(payload, dict):
        raise InvalidInput(_("请求内容应为 JSON 对象。"), code="bad_json")
    return payload


def _only_fields(payload: dict[str, Any], allowed: tuple[str, ...]) -> None:
    """Refuse fields the document does not declare (its request objects are closed): a
    misspelt field is an error to show, not a value to drop."""
    unknown = sorted(name for name in payload if name not in allowed)
    if unknown:
        raise InvalidInput(_("请求中有不支持的字段：%(names)s。", names="、".join(unknown)), field=unknown[0])


def _string(payload: dict[str, Any], name: str, *, required: bool = False) -> str:
    value = payload.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise InvalidInput(_("“%(name)s”应为非空字符串。", name=name) if required else _("“%(name)s”应为字符串。", name=name),
                           field=name)
    return value


def _int_arg(name: str, *, default: int | None = None, maximum: int = openapi.MAX_ID) -> int | None:
    """A query parameter that is an integer from 1 to `maximum` (what the OpenAPI document
    declares), or InvalidInput: a value the API cannot serve is refused, never changed."""
    raw = request.args.get(name, "")
    if not raw:
        return default
    if not raw.isascii() or not raw.isdigit() or int(raw) < 1:
        raise InvalidInput(_("参数“%(name)s”应为正整数。", name=name), code="invalid_parameter", field=name)
    if int(raw) > maximum:
        raise InvalidInput(_("参数“%(name)s”不能大于 %(maximum)s。", name=name, maximum=maximum),
                           code="invalid_parameter", field=name)
    return int(raw)


def _choice_arg(name: str, choices: tuple[str, ...], *, default: str = "") -> str:
    """A query parameter that must be one of `choices` (the document's enum), or InvalidInput."""
    if name not in request.args:
        return default
    raw = request.args[name]
    if raw not in choices:  # an empty value too: the document's enum has none
        raise InvalidInput(_("参数“%(name)s”的取值无效，可选：%(choices)s。", name=name, choices="、".join(choices)),
                           code="invalid_parameter", field=name)
    return raw


def _gallery_query() -> contests.GalleryQuery:
    """The entry list's parameters, each checked against its bounds in the OpenAPI document."""
    if len(request.args.get("q", "")) > contests.SEARCH_MAX:  # the document bounds what is sent, spaces too
        raise InvalidInput(_("搜索内容太长了，请不要超过 %(n)s 个字。", n=contests.SEARCH_MAX), code="query_too_long")
    return replace(
        contests.parse_gallery_query({"q": request.args.get("q", "")}),
        page=_int_arg("page", default=1, maximum=openapi.MAX_PAGE) or 1,
        per_page=_int_arg("per_page", default=contests.PER_PAGE, maximum=openapi.MAX_PER_PAGE) or contests.PER_PAGE,
        category_id=_int_arg("category"), school_id=_int_arg("school"),
        district=_choice_arg("district", DISTRICTS), sort=_choice_arg("sort", contests.GALLERY_SORTS, default="newest"),
    )


def _device_id() -> str:
    device_id = request.headers.get("X-Device-Id", "")
    if len(device_id) > openapi.DEVICE_ID_MAX:
        raise InvalidInput(_("请求头“X-Device-Id”不能超过 %(n)s 个字符。", n=openapi.DEVICE_ID_MAX), field="X-Device-Id")
    return device_id.strip()


# --- authentication and rate-limit keys --------------------------------------------------

def _authenticate() -> tokens.Holder:
    """The account behind the request's bearer token (looked up once per request)."""
    if "api_auth" not in g:
        try:
            g.api_auth = tokens.verify_token(
                db.session, token=tokens.bearer_from_header(request.headers.get("Authorization")), now=web.now())
        except tokens.InvalidToken as exc:
            g.api_auth = exc
    if isinstance(g.api_auth, DomainError):
        raise g.api_auth
    return g.api_auth


def _voter_key() -> str:
    try:
        return f"user:{_authenticate().id}"
    except tokens.InvalidToken:
        return ""


def _no_voter() -> bool:
    # Requests without a valid token are refused with 401 and limited per address only.
    return _voter_key() == ""


# --- endpoints ---------------------------------------------------------------------------

@bp.get("/openapi.json")
def openapi_document() -> Response:
    return jsonify(openapi.document())


@bp.get("/ping")
def ping() -> Response:
    # A constant answer with no database, Redis or limiter work: what a request costs the
    # stack alone (load balancers' liveness checks, and the ceiling in bench/votes.py).
    return jsonify({"ok": True})


def _login_counters() -> accounts.FailureCounters | None:
    """The failed sign-in windows, shared with the web login (None when rate limiting is off)."""
    return accounts.FailureCounters(limiter.limiter, fallback=web.login_fallback()) if limiter.enabled else None


def _login_captcha(captcha_id: str, answer: str) -> Callable[[], bool] | None:
    """The captcha answer sent with the credentials, as a check to run if one is needed."""
    captcha_id, answer = captcha_id.strip(), answer.strip()
    if not captcha_id and not answer:
        return None
    return lambda: captcha.check_captcha(db.session, web.redis_client(), captcha_id=captcha_id, answer=answer,
                                         purpose="login")


# Failed sign-ins are counted by accounts.login_guard, as on the web login: per phone and
# address, per address (both 429 login_throttled), and per phone from anywhere (then a
# captcha is needed, never a refusal). No limit here is per phone: it would let anyone
# lock a number out. This cap only bounds what one address may send, above what the
# failure windows let through, so that they are the ones that answer.
@bp.post("/auth/token")
@limiter.limit("60 per minute", key_func=web.client_ip, error_message=lambda: _("登录尝试太频繁，请稍后再试。"))
def issue_token() -> tuple[Response, int]:
    payload = _json_object()
    _only_fields(payload, ("phone", "password", "captcha_id", "captcha_answer"))
    phone, password = _string(payload, "phone", required=True), _string(payload, "password", required=True)
    captcha_id, captcha_answer = _string(payload, "captcha_id"), _string(payload, "captcha_answer")
    if len(phone) > openapi.PHONE_MAX:
        raise InvalidInput(_("请输入正确的 11 位中国大陆手机号码。"), field="phone")
    # No password outside these bounds was ever set, so none can be right: say why at once.
    if len(password) < openapi.PASSWORD_MIN:
        raise InvalidInput(_("密码至少需要 8 位。"), field="password")
    if len(password) > openapi.PASSWORD_MAX:
        raise InvalidInput(_("密码不能超过 128 位。"), field="password")
    if len(captcha_id) > openapi.CAPTCHA_ID_MAX:
        raise InvalidInput(_("验证码已过期，请换一张。"), field="captcha_id")
    if len(captcha_answer) > openapi.CAPTCHA_ANSWER_MAX:
        raise InvalidInput(_("验证码不正确或已过期，请换一张再试。"), field="captcha_answer")
    issued = tokens.issue_token(db.session, _login_counters(), phone=phone, password=password, address=web.client_ip(),
                                now=web.now(), captcha=_login_captcha(captcha_id, captcha_answer))
    antifraud.settle_registration(db.session, web.redis_client(), issued.user, web.now())
    db.session.commit()
    response = jsonify({"token": issued.token, "expires_at": payloads.when(issued.expires_at)})
    response.headers["Cache-Control"] = "no-store"
    return response, 201


@bp.get("/contests")
@page_cache.shared(lambda slug: contests.page_basis(db.session, slug), api=True)
def list_contests() -> Response:
    found = contests.list_contests(db.session, selectinload(Contest.co_units))  # their organisers, in one query
    counts = contests.approved_counts(db.session, [c.id for c in found])
    now = web.now()
    return jsonify({"items": [payloads.contest(c, contests.stage_of(c, now), counts.get(c.id, 0)) for c in found]})


@bp.get("/contests/<slug>/entries")
@page_cache.shared(lambda slug: contests.page_basis(db.session, slug), votes=lambda: "always" if request.args.get("sort") == "votes" else "never", api=True)
def list_entries(slug: str) -> Response:
    contest = contests.get_contest(db.session, slug)
    page = contests.search_gallery(db.session, contest, _gallery_query())
    items = [payloads.entry_summary(e, contest) for e in page.items]
    return jsonify(payloads.page(items, page_number=page.page, per_page=page.per_page, pages=page.pages, total=page.total))


@bp.get("/entries/<int:entry_id>")
@page_cache.shared(lambda slug: contests.page_basis(db.session, slug), api=True)
def get_entry(entry_id: int) -> Response:
    contest, entry = service.public_entry(db.session, entry_id)
    now = web.now()
    voting_open = live.has_public_vote(contest) and contests.stage_of(contest, now).is_active("voting")
    stamp = view_stamps.view_token(contest.id, entry.id, now) if voting_open else None
    response = jsonify(payloads.entry_detail(entry, contest, media.public_media_of(db.session, entry), voting_open, stamp))
    if voting_open:
        response.headers["Cache-Control"] = "no-store"  # the stamp says when this answer was made
    return response


@bp.post("/captchas")
@limiter.limit("30 per minute", key_func=web.client_ip, error_message=lambda: _("获取验证码太频繁，请稍后再试。"))
def create_captcha() -> tuple[Response, int]:
    payload = _json_object(optional=True)
    _only_fields(payload, ("purpose",))
    purpose = payload.get("purpose", "vote")
    if purpose not in openapi.CAPTCHA_PURPOSES:
        raise InvalidInput(_("未知的验证码用途。"), code="captcha_purpose", field="purpose")
    challenge = captcha.issue_captcha(db.session, web.redis_client(), purpose=purpose,
                                      fixed_answer=web.settings().captcha_fixed_answer)
    db.session.commit()
    # The image and the audio are drawn by the site's captcha routes (rate-limited there).
    response = jsonify({
        "id": challenge.id, "expires_at": payloads.when(challenge.expires_at),
        "image_url": web.external_url("captcha.image", captcha_id=challenge.id),
        "audio_url": web.external_url("captcha.audio", captcha_id=challenge.id),
    })
    response.headers["Cache-Control"] = "no-store"
    return response, 201


@bp.post("/entries/<int:entry_id>/votes")
@limiter.limit("30 per minute", key_func=web.client_ip, error_message=lambda: _("投票太频繁，请稍后再试。"))
@limiter.limit("20 per minute", key_func=_voter_key, exempt_when=_no_voter, error_message=lambda: _("投票太频繁，请稍后再试。"))
def cast_vote(entry_id: int) -> tuple[Response, int]:
    ballot = _ballot(_authenticate(), entry_id)
    try:
        result = voting.cast_vote(db.session, web.redis_client(), ballot, web.now())
    except DomainError as refusal:
        # A request whose key already has an answer is refused somewhere on the way (the
        # key taken, the quota used, the captcha spent, …): the earlier answer is replayed.
        db.session.rollback()
        return _earlier_answer(ballot, refusal)
    db.session.commit()
    return jsonify(result.answer()), 201


def _ballot(voter: tokens.Holder, entry_id: int) -> voting.Ballot:
    payload = _json_object(optional=True)
    _only_fields(payload, ("captcha_id", "captcha_answer", "view_token"))
    key = idempotency.parse_key(request.headers.get("Idempotency-Key"))
    claim = voting.Idempotency(key, idempotency.request_digest(request.method, request.path, payload)) if key else None
    return voting.Ballot(
        voter=voter, entry_id=entry_id, ip=web.client_ip(), device_id=_device_id(),
        user_agent=request.headers.get("User-Agent", "")[:300],
        stamp=view_stamps.read_stamp(_string(payload, "view_token"), web.now()),
        captcha_id=_string(payload, "captcha_id"), captcha_answer=_string(payload, "captcha_answer"), idempotency=claim,
    )


def _earlier_answer(ballot: voting.Ballot, refusal: DomainError) -> tuple[Response, int]:
    """The stored answer of a repeated request (Idempotent-Replayed), or the refusal being handled."""
    claim = ballot.idempotency
    earlier = idempotency.earlier_reply(db.session, voter_id=ballot.voter.id, key=claim.key, digest=claim.request_hash) \
        if claim else None
    if earlier is None:
        raise refusal
    response = jsonify(earlier.body)
    response.headers["Idempotent-Replayed"] = "true"
    return response, earlier.status


@bp.get("/contests/<slug>/leaderboard")
@page_cache.shared(lambda slug: contests.page_basis(db.session, slug), votes="always", api=True)
def leaderboard(slug: str) -> Response:
    contest = contests.get_contest(db.session, slug)
    category_id = _int_arg("category")
    limit = _int_arg("limit", maximum=openapi.MAX_LEADERBOARD) or openapi.DEFAULT_LEADERBOARD
    if not live.has_public_vote(contest):
        raise NotFound(_("这项活动没有公众投票。"), code="no_public_vote")
    board = live.public_board(db.session, web.redis_client(), contest, category_id=category_id, size=limit,
                              now=web.now())
    return jsonify(payloads.leaderboard(contest, category_id, board))


@bp.get("/receipts/<code>")
@limiter.limit("60 per minute", key_func=web.client_ip, error_message=lambda: _("操作太频繁，请稍后再试。"))
def receipt(code: str) -> Response:
    return jsonify(payloads.receipt(service.receipt_proof(db.session, code)))


# --- the ledger ------------------------------------------------------------------------------

@bp.get("/ledger/blocks/<int:height>")
@limiter.limit("60 per minute", key_func=web.client_ip, error_message=lambda: _("操作太频繁，请稍后再试。"))
def ledger_block(height: int) -> Response:
    if not 1 <= height <= openapi.MAX_ID:
        raise NotFound(_("没有这个区块。"), code="block_not_found")
    return jsonify(payloads.block(service.ledger_block(db.session, height)))


@bp.get("/ledger/head")
@limiter.limit("60 per minute", key_func=web.client_ip, error_message=lambda: _("操作太频繁，请稍后再试。"))
def ledger_head() -> Response:
    response = jsonify(payloads.block(service.ledger_head(db.session)))
    response.headers["Cache-Control"] = "no-store"  # a new block every few seconds
    return response


@bp.get("/ledger/blocks/<int:height>/leaves")
@limiter.limit("60 per minute", key_func=web.client_ip, error_message=lambda: _("操作太频繁，请稍后再试。"))
@page_cache.shared(api=True)
def ledger_leaves(height: int) -> Response:
    if not 1 <= height <= openapi.MAX_ID:
        raise NotFound(_("没有这个区块。"), code="block_not_found")
    return jsonify(payloads.leaves(service.ledger_leaves(db.session, height)))


@bp.get("/ledger/consistency")
@limiter.limit("60 per minute", key_func=web.client_ip, error_message=lambda: _("操作太频繁，请稍后再试。"))
def ledger_consistency() -> Response:
    first, second = _int_arg("from"), _int_arg("to")
    for name, value in (("from", first), ("to", second)):
        if value is None:
            raise InvalidInput(_("缺少参数“%(name)s”。", name=name), code="invalid_parameter", field=name)
    assert first is not None and second is not None
    return jsonify(payloads.consistency(service.ledger_consistency(db.session, first, second)))
