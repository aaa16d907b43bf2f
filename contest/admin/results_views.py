"""The organisers' results desk: the formula, the preview with its explanation,
publishing by two organisers (request → confirm → 公示 → final), objections and their
answers, the versions, exports (CSV / XLSX) and award certificates (PDF).

Every rule lives in results.service: these views parse the form, call one operation,
commit, or show the page again with the service's refusal and its status. What each
page shows is built by results_presenters.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, current_app, flash, jsonify, redirect, render_template, request, send_file, url_for
from flask.typing import ResponseReturnValue

from .. import web
from ..accounts import audit
from ..accounts import service as accounts
from ..actions import run_action
from ..contests import service as contests
from ..contests.models import Contest
from ..errors import InvalidInput, NotFound
from ..extensions import db
from ..forms import posted
from ..i18n import N_, _
from ..judging import service as judging
from ..results import certificates, exports, formulas, prepared
from ..results import service as results
from ..results.models import Publication, ResultFormula
from ..typesetting import resolve_font
from . import results_presenters as presenters
from .access import organisers_only
from .forms import EmptyForm, formula_from_fields, formula_from_json

bp = Blueprint("results_admin", __name__, url_prefix="/admin/results")


bp.before_request(organisers_only)


def _translated(labels: Mapping[str, str]) -> Callable[[str], str]:
    """A value's label in the reader's language (the value itself when it has none)."""
    return lambda s: _(labels.get(s, s))


@bp.context_processor
def helpers() -> dict[str, object]:
    outcome = _translated(results.OUTCOME_LABELS)
    return {"publication_state": _translated(results.PUBLICATION_STATE_LABELS), "score": formulas.format_score,
            "describe_file": prepared.describe,
            "short_fp": formulas.display_fingerprint, "subject_label": _translated(results.SUBJECT_LABELS),
            "outcome_label": lambda s: outcome(s) if s else ""}


def _contest(slug: str) -> Contest:
    return contests.get_contest(db.session, slug, include_unpublished=True)


def _publication(contest: Contest, publication_id: int) -> Publication:
    publication = results.get_publication(db.session, publication_id)
    if publication.contest_id != contest.id:
        raise NotFound(_("没有这次发布。"))
    return publication


# --- the index ---------------------------------------------------------------------------


@bp.get("/")
def index() -> str:
    return render_template("admin/results/index.html", lines=presenters.contest_lines(db.session, web.user()), now=web.now())


# --- the preview and publishing -----------------------------------------------------------


def _contest_page(contest: Contest, *, status: int = 200, error: str = "",
                  values: Mapping[str, str] | None = None) -> tuple[str, int]:
    desk = presenters.contest_desk(db.session, contest, web.now())
    return render_template(
        "admin/results/contest.html", **vars(desk), form=EmptyForm(), error=error,
        values=values or {"publicity_days": str(results.PUBLICITY_DAYS)}, default_days=results.PUBLICITY_DAYS,
    ), status


@bp.get("/<slug>/")
def contest(slug: str) -> tuple[str, int]:
    return _contest_page(_contest(slug))


def _days(raw: str) -> int:
    raw = raw.strip()
    if not raw.isdigit() or len(raw) > 3:
        raise InvalidInput(_("公示期应为 1 到 30 天。"), field="publicity_days")
    return int(raw)


@bp.post("/<slug>/request")
def request_publication(slug: str) -> ResponseReturnValue:
    contest = _contest(slug)
    form = posted()
    values = {"publicity_days": form.text("publicity_days", 4), "reason": form.text("reason", 600)}
    return run_action(
        lambda: results.request_publication(
            db.session, actor=web.user(), contest=contest, now=web.now(), publicity_days=_days(values["publicity_days"]),
            amendment_reason=values["reason"], ip=web.client_ip()),
        refused=lambda exc: _contest_page(contest, status=exc.status, error=exc.message, values=values),
        success=lambda publication: _("第 %(v)s 版结果已提交，等待另一位组织者确认后公布。", v=publication.version),
        redirect_to=url_for("results_admin.contest", slug=contest.slug))


PUBLICATION_DONE = {"confirm": N_("第 %(v)s 版结果已公布，公示期开始。"), "cancel": N_("第 %(v)s 版结果已撤回。"),
                    "finalise": N_("第 %(v)s 版结果已确认为最终结果。")}


def _act_on(slug: str, publication_id: int, act: str) -> ResponseReturnValue:
    contest = _contest(slug)
    publication = _publication(contest, publication_id)
    operation = {"confirm": results.confirm_publication, "cancel": results.cancel_publication,
                 "finalise": results.finalise_publication}[act]
    return run_action(
        lambda: operation(db.session, actor=web.user(), publication=publication, now=web.now(), ip=web.client_ip()),
        refused=lambda exc: _contest_page(contest, status=exc.status, error=exc.message),
        success=lambda _done: _(PUBLICATION_DONE[act], v=publication.version),
        redirect_to=url_for("results_admin.contest", slug=contest.slug))


@bp.post("/<slug>/publications/<int:publication_id>/confirm")
def confirm(slug: str, publication_id: int) -> ResponseReturnValue:
    return _act_on(slug, publication_id, "confirm")


@bp.post("/<slug>/publications/<int:publication_id>/cancel")
def cancel(slug: str, publication_id: int) -> ResponseReturnValue:
    return _act_on(slug, publication_id, "cancel")


@bp.post("/<slug>/publications/<int:publication_id>/finalise")
def finalise(slug: str, publication_id: int) -> ResponseReturnValue:
    return _act_on(slug, publication_id, "finalise")


# --- the formula ----------------------------------------------------------------------------


def _formula_page(contest: Contest, *, formula: Mapping[str, Any] | None = None, json_text: str | None = None,
                  status: int = 200, error: str = "", values: Mapping[str, str] | None = None,
                  json_open: bool = False) -> tuple[str, int]:
    desk = presenters.formula_desk(db.session, contest, web.now(), shown=formula, json_text=json_text)
    return render_template("admin/results/formula.html", **vars(desk), form=EmptyForm(), error=error, values=values or {},
                           json_open=json_open), status


@bp.route("/<slug>/formula", methods=["GET", "POST"])
def formula(slug: str) -> ResponseReturnValue:
    contest = _contest(slug)
    if request.method == "GET":
        return _formula_page(contest)
    form = posted()
    mode = "json" if form.is_set("mode", "json") else "fields"
    values = {"reason": form.text("reason", 600), "override": form.text("override")}
    json_text = form.text("formula_json", 20000) if mode == "json" else None
    fields = formula_from_fields(contest.kind, form.data) if mode == "fields" else None

    def save() -> tuple[str, ResultFormula]:
        formula = fields if fields is not None else formula_from_json(json_text or "")
        before = results.formula_of(db.session, contest)[1]
        return before, results.set_formula(db.session, actor=web.user(), contest=contest, formula=formula, now=web.now(),
                                           reason=values["reason"], override=values["override"] == "1", ip=web.client_ip())

    def saved(outcome: tuple[str, ResultFormula]) -> ResponseReturnValue:
        before, stored = outcome
        if stored.fingerprint == before:
            flash(_("公式没有变化。"), "info")
        else:
            flash(_("计分公式已保存，新指纹 %(fp)s。", fp=formulas.display_fingerprint(stored.fingerprint)), "success")
        return redirect(url_for("results_admin.formula", slug=contest.slug))

    return run_action(save, then=saved, refused=lambda exc: _formula_page(
        contest, formula=fields, json_text=json_text, status=exc.status, error=exc.message, values=values,
        json_open=mode == "json"))


# --- objections -----------------------------------------------------------------------------


def _objections_page(contest: Contest, *, status: int = 200, error: str = "", failed_id: int | None = None,
                     values: Mapping[str, str] | None = None) -> tuple[str, int]:
    queue = presenters.objection_queue(db.session, contest, request.args.get("show", "open"))
    return render_template(
        "admin/results/objections.html", contest=contest, **vars(queue), form=EmptyForm(), error=error,
        failed_id=failed_id, values=values or {},
    ), status


@bp.get("/<slug>/objections")
def objections(slug: str) -> tuple[str, int]:
    return _objections_page(_contest(slug))


@bp.post("/<slug>/objections/<int:objection_id>/answer")
def answer(slug: str, objection_id: int) -> ResponseReturnValue:
    contest = _contest(slug)
    objection = results.get_objection(db.session, objection_id)
    if objection.contest_id != contest.id:
        raise NotFound(_("没有这条异议。"))
    form = posted()
    values = {"answer": form.text("answer", results.OBJECTION_MAX + 100), "outcome": form.text("outcome")}
    return run_action(
        lambda: results.answer_objection(db.session, actor=web.user(), objection=objection, answer=values["answer"],
                                         outcome=values["outcome"], now=web.now(), ip=web.client_ip()),
        refused=lambda exc: _objections_page(contest, status=exc.status, error=exc.message, failed_id=objection_id,
                                             values=values),
        success=_("已答复，答复内容将在结果页公开。"),
        redirect_to=url_for("results_admin.objections", slug=contest.slug, show=request.args.get("show", "open")))


@bp.get("/<slug>/objections/<int:objection_id>/evidence/<int:evidence_id>")
def evidence(slug: str, objection_id: int, evidence_id: int) -> Response:
    contest = _contest(slug)
    objection = results.get_objection(db.session, objection_id)
    item = next((e for e in objection.evidence if e.id == evidence_id), None)
    if objection.contest_id != contest.id or item is None or not web.storage().exists(item.storage_key):
        raise NotFound(_("没有这个证明文件。"))
    # A citizen's PDF is downloaded, never shown inside the back office's origin.
    response = send_file(web.storage().open(item.storage_key), mimetype=item.content_type, max_age=0,
                         as_attachment=item.content_type != "image/jpeg", download_name=item.original_name or item.storage_key)
    response.headers["Cache-Control"] = "private, no-store"
    return response


# --- versions -------------------------------------------------------------------------------


@bp.get("/<slug>/versions")
def versions(slug: str) -> str:
    contest = _contest(slug)
    pubs = results.publications(db.session, contest)
    finalisers = accounts.users_by_id(db.session, (p.finalised_by_id for p in pubs))
    return render_template("admin/results/versions.html", contest=contest, publications=pubs, finalisers=finalisers)


@bp.get("/<slug>/versions/<int:version>")
def version(slug: str, version: int) -> str:
    contest = _contest(slug)
    publication = next((p for p in results.publications(db.session, contest) if p.version == version), None)
    if publication is None:
        raise NotFound(_("没有这次发布。"))
    return render_template("admin/results/version.html", contest=contest, publication=publication,
                           rows=publication.rows, rounds=[(r["key"], r["name"]) for r in publication.rounds])


# --- exports --------------------------------------------------------------------------------


def attachment(kind: str, ascii_name: str, name: str) -> str:
    """A Content-Disposition value with an ASCII fallback and the UTF-8 name (RFC 5987)."""
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


@bp.get("/<slug>/exports")
def exports_page(slug: str) -> ResponseReturnValue:
    return _exports_page(_contest(slug))


def _exports_page(contest: Contest, *, status: int = 200, error: str = "") -> tuple[str, int]:
    rounds = judging.rounds_of(db.session, contest)
    return render_template("admin/results/exports.html", contest=contest, rounds=rounds, error=error,
                           source=exports.results_source(db.session, contest), actions=audit.known_actions(db.session),
                           prepared_files=prepared.recent(db.session, contest, "audit", web.now())), status


# --- files made by the job runner (the audit log, every certificate) ------------------------------


def _queue_file(file_id: int) -> None:
    current_app.extensions["job_tasks"].make_file(file_id)


@bp.post("/<slug>/prepare/<any(audit, certificates):what>.<any(csv, xlsx, pdf):fmt>")
def prepare(slug: str, what: str, fmt: str) -> ResponseReturnValue:
    contest = _contest(slug)
    form = posted()
    params = {"action": form.text("action"), "target": form.text("target")} if what == "audit" else {}
    page = "results_admin.exports_page" if what == "audit" else "results_admin.certificate_list"
    return run_action(
        lambda: prepared.request_file(db.session, web.user(), contest, what=what, fmt=fmt, params=params, now=web.now(),
                                      queue=_queue_file),
        refused=lambda exc: (_exports_page(contest, status=exc.status, error=exc.message) if what == "audit"
                             else _certificate_page(contest, status=exc.status, error=exc.message)),
        success=_("文件正在后台生成，完成后可在本页下载；可以先离开本页，文件保留 24 小时。"),
        redirect_to=url_for(page, slug=contest.slug, _anchor="prepared"))


@bp.get("/<slug>/prepared/<int:file_id>")
def prepared_file(slug: str, file_id: int) -> Response:
    contest = _contest(slug)
    found = prepared.get_file(db.session, web.user(), contest, file_id, web.now())
    if found.state != "ready" or found.content is None:
        raise NotFound(_("文件还没有生成好，请稍后再试。"), code="file_not_ready")
    response = Response(found.content, content_type={
        "csv": "text/csv; charset=utf-8", "pdf": "application/pdf",
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}[found.fmt])
    ascii_name, _name = prepared.file_names(contest, found.what, found.fmt)
    response.headers["Content-Disposition"] = attachment("attachment", ascii_name, found.file_name)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/<slug>/prepared/<int:file_id>/status")
def prepared_status(slug: str, file_id: int) -> Response:
    """A file's progress, which its page asks for until the file is ready or failed."""
    contest = _contest(slug)
    found = prepared.get_file(db.session, web.user(), contest, file_id, web.now())
    response = jsonify(prepared.describe(found))
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/<slug>/export/<any(results, votes, scores, audit):what>.<any(csv, xlsx):fmt>")
def export(slug: str, what: str, fmt: str) -> Response:
    contest = _contest(slug)
    raw_round = request.args.get("round", "")
    table = exports.build_table(
        db.session, contest, what, round_id=int(raw_round) if raw_round.isdigit() and len(raw_round) < 10 else None,
        action=request.args.get("action", "")[:60], target_type=request.args.get("target", "")[:40])
    return table_response(table, *exports.file_names(contest, what, fmt), fmt)


def table_response(table: exports.Table, ascii_name: str, name: str, fmt: str) -> Response:
    """An export as a download (CSV streamed, or XLSX), never cached."""
    if fmt == "csv":
        response = Response(exports.csv_chunks(table), mimetype="text/csv")
        response.headers["Content-Type"] = "text/csv; charset=utf-8"
    else:
        response = Response(exports.xlsx_bytes(table),
                            mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response.headers["Content-Disposition"] = attachment("attachment", ascii_name, name)
    response.headers["Cache-Control"] = "private, no-store"
    return response


# --- certificates ---------------------------------------------------------------------------


@bp.get("/<slug>/certificates")
def certificate_list(slug: str) -> ResponseReturnValue:
    return _certificate_page(_contest(slug))


def _certificate_page(contest: Contest, *, status: int = 200, error: str = "") -> tuple[str, int]:
    try:
        publication: Publication | None = certificates.issuable_publication(db.session, contest)
    except NotFound:
        publication = None
    winners = certificates.winners(publication) if publication else []
    return render_template("admin/results/certificates.html", contest=contest, publication=publication, winners=winners,
                           awards_of=certificates.awards_of, error=error,
                           prepared_files=prepared.recent(db.session, contest, "certificates", web.now())), status


@bp.get("/<slug>/certificates/<int:entry_id>.pdf")
def certificate_pdf(slug: str, entry_id: int) -> Response:
    contest = _contest(slug)
    publication = certificates.issuable_publication(db.session, contest)
    found = certificates.certificates_for(db.session, contest, publication, entry_id)
    pdf = certificates.pdf_bytes(found, resolve_font(web.settings().font_path))
    response = Response(pdf, mimetype="application/pdf")
    name = f"{contest.short_title or contest.title}-{found[0].award}-{entry_id}.pdf"
    response.headers["Content-Disposition"] = attachment("inline", f"certificate-{contest.slug}-{entry_id}.pdf", name)
    response.headers["Cache-Control"] = "private, no-store"
    return response
