"""Home page, language switch and the health check."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, make_response, redirect, render_template, request, url_for
from sqlalchemy import text

from .. import LOCALES, page_cache, web
from ..accounts import service as accounts
from ..contests import service as contests
from ..contests.models import Contest
from ..extensions import db, limiter

bp = Blueprint("site", __name__)


@bp.get("/")
@page_cache.shared(lambda slug: contests.page_basis(db.session, slug))
def home() -> str:
    listing = contests.home_listing(db.session, district=request.args.get("district", "")[:20])
    items = listing.city + listing.district
    counts = contests.approved_counts(db.session, [c.id for c in items])
    now = web.now()

    def cards(group: list[Contest]) -> list[tuple[Contest, contests.StageInfo, int]]:
        return [(c, contests.stage_of(c, now), counts.get(c.id, 0)) for c in group]
    # The demo's contests are marked; the page then says its dates and people are made up.
    return render_template("site/home.html", cards=cards(listing.city), district_cards=cards(listing.district),
                           districts=listing.districts, chosen=listing.chosen, demo=any(c.is_demo for c in items))


@bp.get("/terms")
def terms() -> str:
    """用户协议, which registration asks consent to (the version is stored with it)."""
    return render_template("site/terms.html", version=accounts.TERMS_VERSION)


@bp.get("/privacy")
def privacy() -> str:
    """隐私政策: what is collected, why, for how long, who sees it, how to have it deleted."""
    return render_template("site/privacy.html", version=accounts.TERMS_VERSION)


@bp.get("/lang/<code>")
def set_language(code: str) -> Response:
    target = web.safe_next(request.args.get("next"), url_for("site.home"))
    response = make_response(redirect(target))
    if code in LOCALES:
        response.set_cookie("lang", code, max_age=365 * 24 * 3600, samesite="Lax", httponly=True)
    return response


@bp.get("/healthz")
@limiter.exempt
def healthz() -> tuple[Response, int]:
    status = {"database": "up", "redis": "not configured"}
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any failure means the database is not usable
        db.session.rollback()
        status["database"] = "down"
    client = web.redis_client()
    if client is not None:
        try:
            client.ping()
            status["redis"] = "up"
        except Exception:  # noqa: BLE001
            status["redis"] = "down"
    code = 200 if status["database"] == "up" else 503
    return jsonify(status=("ok" if code == 200 else "unavailable"), **status), code
