"""The public side of results: the results page (公示 or final, earlier versions, the
formula and its fingerprint, the sealed ledger head, objections and their answers), the
objection form, the transparency page, and the result box on entry pages.

Decisions:
- Everything shown comes from the frozen publication (formula, rows, ledger head), never
  from a fresh computation, so the page says exactly what was confirmed by two
  organisers; earlier versions stay readable at ?version=N.
- The rule hide_minor_vote_counts (selection contests) hides a nominee's valid votes
  when they were under 18 on the day the results were published. A nominee without a
  birth date is treated as a minor: when in doubt, the count stays private. The vote
  score is still shown — it is part of the published arithmetic.
- The entry page gets its result box through a template helper (like vote_panel), so the
  contests domain never imports results: dependencies point one way.
- Objections are listed without who filed them; the filer is only known to organisers.
- Evidence files are checked by content in the service, all of them before any is
  stored. The route shares the upload transaction of the entry forms: a failure rolls
  the rows back and leaves stored files to the orphan sweep (storage is
  content-addressed, the same bytes may belong to something else). Posting is limited
  per account and per address, before any file is looked at.
- The daily chart is an SVG drawn on the server (no script, CSP self): bars with their
  numbers, and the same figures as a table for screen readers.
- What the pages show is built by results.presenters; these views parse the request,
  call it or a service, and render.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from typing import Any

from flask import (
    Blueprint,
    Response,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    stream_with_context,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import login_required

from .. import PROJECT_ROOT, page_cache, web
from ..contests import service as contests
from ..contests.models import Contest, Entry
from ..errors import DomainError, NotFound
from ..extensions import db, limiter
from ..i18n import _
from ..media.uploads import refusal_headers, upload_transaction, uploader_key
from ..text import clean_text
from ..voting import live
from . import bundle, presenters
from . import service as results
from .models import Publication

VERIFIER = PROJECT_ROOT / "verifier" / "verify.py"

log = logging.getLogger(__name__)

bp = Blueprint("results", __name__)

# Five evidence files of up to 10 MB each, and room for the text fields.
OBJECTION_BODY_LIMIT = results.EVIDENCE_FILES * results.EVIDENCE_BYTES + 1024 * 1024
# A citizen files a few objections a day (the service's own quota); refused attempts,
# each carrying up to 50 MB of files, count here too.
EVIDENCE_LIMITS = {"account": "5 per minute;20 per hour", "address": "20 per minute;200 per hour"}


def _page_arg(name: str) -> int:
    return presenters.page_number(request.args.get(name, ""))


def _version_arg() -> int | None:
    raw = request.args.get("version", "")
    return int(raw) if raw.isdigit() and len(raw) < 6 else None


@bp.get("/c/<slug>/results")
@page_cache.shared(lambda slug: contests.page_basis(db.session, slug))
def results_page(slug: str) -> str:
    contest = contests.get_contest(db.session, slug)
    now = web.now()
    page = presenters.results_page_of(db.session, contest, _version_arg(), now, request.args)
    stage = contests.stage_of(contest, now)
    if page is None:
        formula, fingerprint = results.formula_of(db.session, contest)
        return render_template(
            "results/unpublished.html", contest=contest, stage=stage,
            formula=presenters.formula_view(contest.kind, formula, fingerprint, results.round_names(db.session, contest)),
            changes=presenters.change_views(results.formula_history(db.session, contest)),
        )
    return render_template("results/results.html", contest=contest, stage=stage, page=page)


@bp.get("/c/<slug>/results/bundle.json")
def results_bundle(slug: str) -> ResponseReturnValue:
    """The publication's inputs and outputs for anyone to recompute (docs/LEDGER.md §10):
    a download, cacheable, revalidated by its ETag."""
    contest = contests.get_contest(db.session, slug)
    data = bundle.public_bundle(db.session, contest, _version_arg())
    body = json.dumps(data, ensure_ascii=False, sort_keys=True, indent=1)
    response = Response(body, mimetype="application/json")
    version = data["publication"]["version"]
    response.headers["Content-Disposition"] = f'attachment; filename="{contest.slug}-results-v{version}.json"'
    response.headers["Cache-Control"] = "public, max-age=300"
    response.add_etag()
    return response.make_conditional(request)


@bp.get("/c/<slug>/results/events.jsonl")
@limiter.limit("20 per minute", key_func=web.client_ip, error_message=lambda: _("下载太频繁，请稍后再试。"))
def results_events(slug: str) -> ResponseReturnValue:
    """The ledger events the publication counted, one JSON line each (docs/LEDGER.md
    §10.1), streamed: a publication never changes, so it is cacheable for long."""
    contest = contests.get_contest(db.session, slug)
    publication = bundle.public_publication(db.session, contest, _version_arg())
    if request.if_none_match.contains(etag := f"events-{contest.id}-{publication.version}-{publication.fingerprint}"):
        return Response(status=304, headers={"ETag": f'"{etag}"'})
    response = Response(stream_with_context(bundle.event_lines(db.session, contest, publication)),
                        mimetype="application/x-ndjson")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{contest.slug}-results-v{publication.version}-events.jsonl"')
    response.headers["Cache-Control"] = "public, max-age=3600"
    response.set_etag(etag)
    return response


@bp.get("/verify.py")
def verifier_script() -> ResponseReturnValue:
    """The standalone verifier (docs/LEDGER.md), for anyone to download and run."""
    response = send_file(VERIFIER, mimetype="text/x-python", as_attachment=True, download_name="verify.py",
                         max_age=3600)
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


# --- the objection form ---------------------------------------------------------------------------

@bp.url_value_preprocessor
def _raise_upload_limit(endpoint: str | None, values: dict[str, Any] | None) -> None:
    # Before the app-wide CSRF check reads the form (see media.submit_views): up to five
    # evidence files may be larger together than the app's default body limit.
    if endpoint == "results.new_objection" and request.method == "POST":
        request.max_content_length = OBJECTION_BODY_LIMIT


@dataclass(frozen=True)
class ObjectionInput:
    entry: str
    subject: str
    body: str

    @property
    def entry_id(self) -> int | None:
        if self.entry in ("", "all"):
            return None
        return int(self.entry) if self.entry.isdigit() and len(self.entry) < 12 else 0  # 0: no such entry

    @classmethod
    def from_form(cls) -> ObjectionInput:
        form = request.form
        return cls((form.get("entry_id") or "").strip()[:20], (form.get("subject") or "").strip()[:20],
                   clean_text(form.get("body") or "")[:results.OBJECTION_MAX * 2])


def _uploads() -> list[results.Upload]:
    files = [f for f in request.files.getlist("files") if f and f.filename]
    # One byte past the limit is enough for the service to refuse a file as too large.
    return [results.Upload(os.path.basename((f.filename or "").replace("\\", "/")), f.stream.read(results.EVIDENCE_BYTES + 1))
            for f in files]


FILE_CODES = {"file_too_large", "too_many_pixels", "unsupported_image", "unsupported_document", "empty_file",
              "broken_image", "truncated_pdf", "resolution_too_low"}


def _field_of(exc: DomainError) -> str:
    """Which field a refusal belongs next to ("" for the form as a whole)."""
    if exc.field in ("entry_id", "subject", "body", "files"):
        return exc.field
    if exc.code in FILE_CODES or exc.status in (413, 415, 422):
        return "files"
    return ""


def _objection_form(contest: Contest, publication: Publication | None, values: ObjectionInput,
                    error: DomainError | None = None, status: int = 200) -> tuple[str, int]:
    now = web.now()
    closed = presenters.objection_closed_reason(publication, now)
    rows = sorted((publication.rows if publication else []), key=lambda r: (r.get("rank") is None, r.get("rank") or 0))
    html = render_template(
        "results/objection_form.html", contest=contest, stage=contests.stage_of(contest, now), publication=publication,
        rows=rows, values=values, subjects=results.SUBJECT_LABELS, closed=closed,
        error=error.message if error else "", error_field=_field_of(error) if error else "",
        max_files=results.EVIDENCE_FILES, min_length=results.OBJECTION_MIN, max_length=results.OBJECTION_MAX,
    )
    return html, (409 if closed and status == 200 else status)


@bp.route("/c/<slug>/results/objections/new", methods=["GET", "POST"])
@limiter.limit(EVIDENCE_LIMITS["address"], methods=["POST"], key_func=web.client_ip,
               error_message=lambda: _("提交异议太频繁，请稍后再试。"))
@limiter.limit(EVIDENCE_LIMITS["account"], methods=["POST"], key_func=uploader_key,
               error_message=lambda: _("提交异议太频繁，请稍后再试。"))
@login_required
def new_objection(slug: str) -> ResponseReturnValue:
    contest = contests.get_contest(db.session, slug)
    publication = results.current_publication(db.session, contest)
    if request.method == "GET":
        return _objection_form(contest, publication, ObjectionInput(request.args.get("entry", "")[:20], "", ""))
    values = ObjectionInput.from_form()
    try:
        with upload_transaction():
            results.file_objection(db.session, user=web.user(), contest=contest, entry_id=values.entry_id,
                                   subject=values.subject, body=values.body, uploads=_uploads(),
                                   storage=web.storage(), now=web.now(), ip=web.client_ip(),
                                   decoder=web.image_decoder())
    except DomainError as exc:
        return (*_objection_form(contest, publication, values, exc, exc.status), refusal_headers(exc))
    flash(_("异议已提交。主办方答复后，答复将与异议一并在结果页公开（不显示提出人）。"), "success")
    return redirect(url_for("results.results_page", slug=contest.slug, _anchor="objections"))


# --- transparency ---------------------------------------------------------------------------------

@bp.get("/c/<slug>/transparency")
@page_cache.shared(lambda slug: contests.page_basis(db.session, slug), votes="always")
def transparency(slug: str) -> str:
    contest = contests.get_contest(db.session, slug)
    if not live.has_public_vote(contest):
        raise NotFound(_("这项活动不设公众投票，没有投票透明度报告。"), code="no_public_vote")
    now = web.now()
    return render_template("results/transparency.html", contest=contest, stage=contests.stage_of(contest, now),
                           report=results.transparency_report(db.session, contest, now, voided_page=_page_arg("page"),
                                                              held_page=_page_arg("held_page")))


# --- the result box on entry pages --------------------------------------------------------------------

@bp.app_context_processor
def _template_helpers() -> dict[str, Any]:
    def result_breakdown(contest: Contest, entry: Entry) -> presenters.EntryBreakdown | None:
        return presenters.entry_breakdown(db.session, contest, entry, web.now())

    return {"result_breakdown": result_breakdown}
