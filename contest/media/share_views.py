"""Sharing a public entry: the share page, its QR code and its poster."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Response, render_template, request

from .. import web
from ..contests import service as contests
from ..contests.models import Contest, Entry
from ..extensions import db, limiter
from ..i18n import _
from . import sharing

bp = Blueprint("sharing", __name__, url_prefix="/c")

# Shared images change only when the entry's title or cover does; an hour keeps
# chat apps and proxies from asking again for every view, and is short enough for
# an organiser's correction to show the same day.
MAX_AGE = 3600


def _public_entry(slug: str, entry_id: int) -> tuple[Contest, Entry, str]:
    contest = contests.get_contest(db.session, slug)
    entry = contests.get_public_entry(db.session, contest, entry_id)
    return contest, entry, web.external_url("contests.entry_page", slug=contest.slug, entry_id=entry.id)


def _image(etag: str, draw: Callable[[], bytes]) -> Response:
    """A PNG that caches may keep for MAX_AGE; a revalidation with the same ETag gets a 304 without drawing."""
    response = Response(status=304) if request.if_none_match.contains(etag) else Response(draw(), mimetype="image/png")
    response.set_etag(etag)
    response.cache_control.public = True
    response.cache_control.max_age = MAX_AGE
    return response


@bp.get("/<slug>/entries/<int:entry_id>/share")
def share_page(slug: str, entry_id: int) -> str:
    contest, entry, url = _public_entry(slug, entry_id)
    return render_template("media/share.html", contest=contest, entry=entry, share_url=url,
                           stage=contests.stage_of(contest, web.now()))


@bp.get("/<slug>/entries/<int:entry_id>/share/qr.png")
def qr_code(slug: str, entry_id: int) -> Response:
    _contest, _entry, url = _public_entry(slug, entry_id)
    return _image(sharing.qr_etag(url), lambda: sharing.qr_png(url))


# Drawing a poster costs about a tenth of a second of CPU, so only responses that drew
# one count against the limit; revalidations (304) are free.
@bp.get("/<slug>/entries/<int:entry_id>/share/poster.png")
@limiter.limit("30 per minute", key_func=web.client_ip, deduct_when=lambda response: response.status_code == 200,
               error_message=lambda: _("生成海报太频繁，请稍后再试。"))
def poster(slug: str, entry_id: int) -> Response:
    _contest, entry, url = _public_entry(slug, entry_id)
    spec = sharing.poster_spec(db.session, entry, url=url)
    return _image(spec.etag, lambda: sharing.render_poster(
        web.storage(), spec, font_path=sharing.resolve_font(web.settings().font_path)))
