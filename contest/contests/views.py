"""Public contest pages: overview with timeline, gallery, entry."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from .. import web
from ..extensions import db
from ..media import service as media
from . import service

bp = Blueprint("contests", __name__, url_prefix="/c")


@bp.get("/<slug>")
def contest_page(slug: str) -> str:
    contest = service.get_contest(db.session, slug)
    now = web.now()
    return render_template(
        "contests/contest.html", contest=contest, stage=service.stage_of(contest, now),
        steps=service.timeline(contest, now), stats=service.contest_stats(db.session, contest),
        rules=service.rules_of(contest),
    )


@bp.get("/<slug>/entries")
def gallery(slug: str) -> str:
    contest = service.get_contest(db.session, slug)
    query = service.parse_gallery_query(request.args)
    page = service.search_gallery(db.session, contest, query)
    return render_template(
        "contests/gallery.html", contest=contest, page=page, query=query,
        schools=service.schools_in_contest(db.session, contest), stage=service.stage_of(contest, web.now()),
    )


@bp.get("/<slug>/entries/<int:entry_id>")
def entry_page(slug: str, entry_id: int) -> str:
    contest = service.get_contest(db.session, slug)
    entry = service.get_public_entry(db.session, contest, entry_id)
    return render_template(
        "contests/entry.html", contest=contest, entry=entry, media_items=media.media_of(db.session, entry.id),
        stage=service.stage_of(contest, web.now()),
    )
