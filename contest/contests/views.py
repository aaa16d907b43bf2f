"""Public contest pages: overview with timeline, gallery, entry."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from .. import page_cache, web
from ..extensions import db
from ..media import service as media
from ..results import service as results
from . import presenters, service

bp = Blueprint("contests", __name__, url_prefix="/c")


def page_scope(slug: str | None) -> service.ScopeBasis:
    """The shared page cache's view of a contest page (contest/page_cache.py)."""
    return service.page_basis(db.session, slug)


@bp.get("/<slug>")
@page_cache.shared(page_scope)
def contest_page(slug: str) -> str:
    contest = service.get_contest(db.session, slug)
    now = web.now()
    rules = service.rules_of(contest)
    return render_template(
        "contests/contest.html", contest=contest, stage=service.stage_of(contest, now),
        steps=service.timeline(contest, now), stats=service.contest_stats(db.session, contest), rules=rules,
        rule_sections=presenters.public_rules(contest, rules, results.award_rules(db.session, contest)),
    )


@bp.get("/<slug>/entries")
@page_cache.shared(page_scope, votes=lambda: "always" if request.args.get("sort") == "votes" else "shown")
def gallery(slug: str) -> str:
    contest = service.get_contest(db.session, slug)
    query = service.parse_gallery_query(request.args, contest)
    page = service.search_gallery(db.session, contest, query)
    return render_template(
        "contests/gallery.html", contest=contest, page=page, query=query,
        videos=media.public_videos_of(db.session, page.items), covers=media.public_cover_items_of(db.session, page.items),
        schools=service.schools_in_contest(db.session, contest), stage=service.stage_of(contest, web.now()),
    )


@bp.get("/<slug>/entries/<int:entry_id>")
@page_cache.shared(page_scope, votes="shown")
def entry_page(slug: str, entry_id: int) -> str:
    contest = service.get_contest(db.session, slug)
    entry = service.get_public_entry(db.session, contest, entry_id)
    return render_template(
        "contests/entry.html", contest=contest, entry=entry, media_items=media.public_media_of(db.session, entry),
        stage=service.stage_of(contest, web.now()),
    )
