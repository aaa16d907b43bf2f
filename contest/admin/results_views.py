"""The organisers' results desk: the formula, the preview with its explanation,
publishing by two organisers (request → confirm → 公示 → final), objections and their
answers, the versions, exports (CSV / XLSX) and award certificates (PDF).

Every rule lives in results.service: these views parse the form, call one operation,
commit, or show the page again with the service's refusal and its status.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, send_file, url_for
from sqlalchemy import select

from .. import web
from ..accounts import audit
from ..accounts.models import User
from ..contests import service as contests
from ..contests.models import Contest
from ..errors import DomainError, InvalidInput, NotFound
from ..extensions import db
from ..i18n import N_, _
from ..judging import service as judging
from ..results import certificates, exports, formulas
from ..results import service as results
from ..results.models import Objection, Publication
from ..typesetting import resolve_font
from .access import organisers_only
from .forms import EmptyForm

bp = Blueprint("results_admin", __name__, url_prefix="/admin/results")

TIER_ROWS_MAX = formulas.TIERS_MAX
SPARE_TIER_ROWS = 2


bp.before_request(organisers_only)


@bp.context_processor
def helpers() -> dict[str, object]:
    return {"publication_state": lambda s: _(results.PUBLICATION_STATE_LABELS.get(s, s)), "score": formulas.format_score,
            "short_fp": formulas.display_fingerprint, "subject_label": lambda s: _(results.SUBJECT_LABELS.get(s, s)),
            "outcome_label": lambda s: _(results.OUTCOME_LABELS.get(s, s)) if s else ""}


def _contest(slug: str) -> Contest:
    return contests.get_contest(db.session, slug, include_unpublished=True)


def _publication(contest: Contest, publication_id: int) -> Publication:
    publication = results.get_publication(db.session, publication_id)
    if publication.contest_id != contest.id:
        raise NotFound(_("没有这次发布。"))
    return publication


# --- the index ---------------------------------------------------------------------------


@dataclass
class ContestLine:
    contest: Contest
    fingerprint: str
    latest: Publication | None
    current: Publication | None
    open_objections: int


@bp.get("/")
def index() -> str:
    # A handful of contests: a few small queries each.
    lines = []
    for contest in contests.list_contests(db.session, include_unpublished=True):
        pubs = results.publications(db.session, contest)
        current = next((p for p in pubs if p.state in ("publicity", "final")), None)
        lines.append(ContestLine(contest, results.formula_of(db.session, contest)[1], pubs[0] if pubs else None, current,
                                 len(results.objections(db.session, contest, answered=False))))
    return render_template("admin/results/index.html", lines=lines, now=web.now())


# --- the preview and publishing -----------------------------------------------------------


def _rounds(comp: results.Computation) -> list[tuple[str, str]]:
    return [(r.key, r.name) for r in comp.rounds]


def _contest_page(contest: Contest, *, status: int = 200, error: str = "",
                  values: Mapping[str, str] | None = None) -> tuple[str, int]:
    comp = results.compute(db.session, contest)
    pubs = results.publications(db.session, contest)
    pending = next((p for p in pubs if p.state == "pending"), None)
    current = next((p for p in pubs if p.state in ("publicity", "final")), None)
    return render_template(
        "admin/results/contest.html", contest=contest, comp=comp, rows=results.breakdown_rows(comp), rounds=_rounds(comp),
        explain=exports.explain_lines(comp), pending=pending, current=current, now=web.now(),
        open_objections=len(results.objections(db.session, contest, answered=False)),
        in_publicity=results.in_publicity(current, web.now()), form=EmptyForm(), error=error,
        values=values or {"publicity_days": str(results.PUBLICITY_DAYS)}, default_days=results.PUBLICITY_DAYS,
    ), status


@bp.get("/<slug>/")
def contest(slug: str) -> tuple[str, int]:
    return _contest_page(_contest(slug))


def _check_csrf() -> None:
    if not EmptyForm().validate():
        abort(400)


def _days(raw: str) -> int:
    raw = raw.strip()
    if not raw.isdigit() or len(raw) > 3:
        raise InvalidInput(_("公示期应为 1 到 30 天。"), field="publicity_days")
    return int(raw)


@bp.post("/<slug>/request")
def request_publication(slug: str) -> Response | tuple[str, int]:
    contest = _contest(slug)
    _check_csrf()
    values = {"publicity_days": request.form.get("publicity_days", "")[:4], "reason": request.form.get("reason", "")[:600]}
    try:
        publication = results.request_publication(
            db.session, actor=web.actor(), contest=contest, now=web.now(), publicity_days=_days(values["publicity_days"]),
            amendment_reason=values["reason"], ip=web.client_ip())
    except DomainError as exc:
        web.settle_failure(exc)
        return _contest_page(contest, status=exc.status, error=exc.message, values=values)
    db.session.commit()
    flash(_("第 %(v)s 版结果已提交，等待另一位组织者确认后公布。", v=publication.version), "success")
    return redirect(url_for("results_admin.contest", slug=contest.slug))


def _act_on(slug: str, publication_id: int, act: str) -> Response | tuple[str, int]:
    contest = _contest(slug)
    _check_csrf()
    publication = _publication(contest, publication_id)
    operation = {"confirm": results.confirm_publication, "cancel": results.cancel_publication,
                 "finalise": results.finalise_publication}[act]
    try:
        operation(db.session, actor=web.actor(), publication=publication, now=web.now(), ip=web.client_ip())
    except DomainError as exc:
        web.settle_failure(exc)
        return _contest_page(contest, status=exc.status, error=exc.message)
    db.session.commit()
    done = {"confirm": _("第 %(v)s 版结果已公布，公示期开始。", v=publication.version),
            "cancel": _("第 %(v)s 版结果已撤回。", v=publication.version),
            "finalise": _("第 %(v)s 版结果已确认为最终结果。", v=publication.version)}[act]
    flash(done, "success")
    return redirect(url_for("results_admin.contest", slug=contest.slug))


@bp.post("/<slug>/publications/<int:publication_id>/confirm")
def confirm(slug: str, publication_id: int) -> Response | tuple[str, int]:
    return _act_on(slug, publication_id, "confirm")


@bp.post("/<slug>/publications/<int:publication_id>/cancel")
def cancel(slug: str, publication_id: int) -> Response | tuple[str, int]:
    return _act_on(slug, publication_id, "cancel")


@bp.post("/<slug>/publications/<int:publication_id>/finalise")
def finalise(slug: str, publication_id: int) -> Response | tuple[str, int]:
    return _act_on(slug, publication_id, "finalise")


# --- the formula ----------------------------------------------------------------------------

# Labels and hints of the formula's keys, shared by the fields and the JSON help.
FIELD_TEXT: dict[str, tuple[str, str]] = {
    "vote_weight": (N_("投票权重（%）"), N_("投票分在总分中所占的百分比，与专家权重之和须为 100。")),
    "expert_weight": (N_("专家权重（%）"), N_("专家评审得分在总分中所占的百分比。")),
    "vote_scoring": (N_("投票分的计算方式"), N_("按最高票折算：票数 ÷ 最高票 × 100；按票数名次折算：100 × (件数 − 名次) ÷ (件数 − 1)。")),
    "expert_round": (N_("专家评审轮次"), N_("评审轮次的标识；只计该轮定稿后的得分。")),
    "awards": (N_("奖项（按名次依次授予）"), N_("每个奖项按名额或按参评作品数的比例设置，二者选其一。")),
    "per_category": (N_("按类别分别评奖"), N_("勾选后每个类别单独排名、单独计算名额。")),
    "jury_award": (N_("评委奖"), N_("按评委评审轮次的定稿得分排名授予。")),
    "popular_award": (N_("人气奖"), N_("按有效票数排名授予，须至少有 1 张有效票。")),
    "jury_round": (N_("评委评审轮次"), N_("评审轮次的标识；只计该轮定稿后的得分。")),
    "exclusive": (N_("同一作品不重复获奖"), N_("勾选后先定评委奖，人气奖在其余作品中按票数顺延。")),
    "final_round": (N_("决赛轮次"), N_("决赛评审轮次的标识；成绩为该轮定稿后的得分。")),
    "tiers": (N_("奖项等级（按名次依次授予）"), N_("每个等级按名额或按参加决赛项目数的比例设置，比例合计不超过 100%。")),
    "per_group": (N_("按组别分别评奖"), N_("勾选后中职组、高职组等各组单独排名、单独计算名额。")),
    "per_track": (N_("按赛道分别评奖"), N_("勾选后各赛道单独排名、单独计算名额。")),
}
SCORING_LABELS = {"max": N_("按最高票折算"), "rank": N_("按票数名次折算")}
KIND_HELP = {
    "selection": N_("最美职校生：总分 = 投票分 × 投票权重 + 专家分 × 专家权重；按总分排名授予奖项。"),
    "media": N_("全民美拍：评委奖按评委评审得分、人气奖按有效票数，通常按类别分别评出。"),
    "innovation": N_("黄炎培大赛：按决赛定稿得分排名，按等级比例或名额授予一、二、三等奖和优秀奖，通常按组别分别评出。"),
}


@dataclass
class TierValue:
    name: str = ""
    mode: str = "count"
    value: str = ""


@dataclass
class FieldView:
    key: str
    kind: str  # bool | choice | round | number | tier | tiers
    label: str
    hint: str
    value: Any = None
    tiers: list[TierValue] = field(default_factory=list)


def _tier_value(raw: Any) -> TierValue:
    if not isinstance(raw, Mapping):
        return TierValue()
    mode = "percent" if raw.get("percent") not in (None, "") else "count"
    value = raw.get(mode)
    return TierValue(str(raw.get("name") or ""), mode, "" if value is None else str(value))


def field_views(kind: str, formula: Mapping[str, Any]) -> list[FieldView]:
    """The formula's fields, in the order of the kind's default, with their values."""
    views = []
    for key, default in formulas.default_formula(kind).items():
        label, hint = FIELD_TEXT.get(key, (key, ""))
        value = formula.get(key, default)
        if isinstance(default, bool):
            views.append(FieldView(key, "bool", _(label), _(hint), bool(value)))
        elif key == "vote_scoring":
            views.append(FieldView(key, "choice", _(label), _(hint), value))
        elif key.endswith("_round"):
            views.append(FieldView(key, "round", _(label), _(hint), value or ""))
        elif isinstance(default, dict):
            views.append(FieldView(key, "tier", _(label), _(hint), tiers=[_tier_value(value)]))
        elif isinstance(default, list):
            rows = [_tier_value(t) for t in (value if isinstance(value, list) else [])][:TIER_ROWS_MAX]
            spare = min(SPARE_TIER_ROWS, TIER_ROWS_MAX - len(rows))
            views.append(FieldView(key, "tiers", _(label), _(hint), tiers=rows + [TierValue() for _i in range(spare)]))
        else:
            views.append(FieldView(key, "number", _(label), _(hint), "" if value is None else str(value)))
    return views


def _tier_from(form: Mapping[str, str], prefix: str) -> dict[str, str] | None:
    name = form.get(f"{prefix}_name", "").strip()[:60]
    value = form.get(f"{prefix}_value", "").strip()[:20]
    mode = "percent" if form.get(f"{prefix}_mode") == "percent" else "count"
    if not name and not value:
        return None
    return {"name": name, mode: value}


def formula_from_fields(kind: str, form: Mapping[str, str]) -> dict[str, Any]:
    """The formula as the structured fields give it; formulas.check_formula (called by
    the service) reads the numbers and says what is wrong."""
    formula: dict[str, Any] = {}
    for key, default in formulas.default_formula(kind).items():
        name = f"f_{key}"
        if isinstance(default, bool):
            formula[key] = form.get(name) == "1"
        elif isinstance(default, dict):
            formula[key] = _tier_from(form, name) or {}
        elif isinstance(default, list):
            formula[key] = [t for i in range(TIER_ROWS_MAX) if (t := _tier_from(form, f"{name}_{i}")) is not None]
        else:
            formula[key] = form.get(name, "").strip()[:60]
    return formula


def formula_from_json(text: str) -> dict[str, Any]:
    try:
        parsed = json.loads(text)
    except ValueError as exc:
        line = getattr(exc, "lineno", None)
        where = _("第 %(n)s 行", n=line) if line else ""
        raise InvalidInput(_("JSON 格式有误%(where)s，请检查引号、逗号和括号。", where=f"（{where}）" if where else ""),
                           field="formula_json") from None
    if not isinstance(parsed, dict):
        raise InvalidInput(_("计分公式应为一个 JSON 对象（以 { 开头）。"), field="formula_json")
    return parsed


def _users(ids: Iterable[int | None]) -> dict[int, User]:
    wanted = {i for i in ids if i}
    return {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(wanted)))} if wanted else {}


def _formula_page(contest: Contest, *, formula: Mapping[str, Any] | None = None, json_text: str | None = None,
                  status: int = 200, error: str = "", values: Mapping[str, str] | None = None,
                  json_open: bool = False) -> tuple[str, int]:
    stored, fingerprint = results.formula_of(db.session, contest)
    shown = formula if formula is not None else stored
    history = results.formula_history(db.session, contest)
    locks_at = results.locks_at(contest)
    try:
        meaning = formulas.explain(contest.kind, stored, [])
    except ValueError:
        meaning = []
    return render_template(
        "admin/results/formula.html", contest=contest, fields=field_views(contest.kind, shown), fingerprint=fingerprint,
        canonical=formulas.canonical_json(contest.kind, stored), meaning=[m for m in meaning[1:] if m],
        json_text=json_text if json_text is not None else json.dumps(stored, ensure_ascii=False, indent=2),
        history=list(reversed(history)), actors=_users(c.actor_id for c in history), locks_at=locks_at,
        locked=locks_at is not None and web.now() >= locks_at, round_keys=[r.key for r in judging.rounds_of(db.session, contest)],
        scoring_labels=SCORING_LABELS, field_text=FIELD_TEXT, kind_help=_(KIND_HELP.get(contest.kind, "")),
        form=EmptyForm(), error=error, values=values or {}, json_open=json_open,
    ), status


@bp.route("/<slug>/formula", methods=["GET", "POST"])
def formula(slug: str) -> Response | tuple[str, int]:
    contest = _contest(slug)
    if request.method == "GET":
        return _formula_page(contest)
    _check_csrf()
    mode = "json" if request.form.get("mode") == "json" else "fields"
    values = {"reason": request.form.get("reason", "")[:600], "override": request.form.get("override", "")}
    posted: dict[str, Any] | None = None
    json_text = request.form.get("formula_json", "")[:20000] if mode == "json" else None
    try:
        posted = formula_from_json(json_text or "") if mode == "json" else formula_from_fields(contest.kind, request.form)
        before = results.formula_of(db.session, contest)[1]
        stored = results.set_formula(db.session, actor=web.actor(), contest=contest, formula=posted, now=web.now(),
                                     reason=values["reason"], override=values["override"] == "1", ip=web.client_ip())
    except DomainError as exc:
        web.settle_failure(exc)
        return _formula_page(contest, formula=posted if mode == "fields" else None, json_text=json_text, status=exc.status,
                             error=exc.message, values=values, json_open=mode == "json")
    db.session.commit()
    if stored.fingerprint == before:
        flash(_("公式没有变化。"), "info")
    else:
        flash(_("计分公式已保存，新指纹 %(fp)s。", fp=formulas.display_fingerprint(stored.fingerprint)), "success")
    return redirect(url_for("results_admin.formula", slug=contest.slug))


# --- objections -----------------------------------------------------------------------------

OBJECTION_FILTERS = ("open", "answered", "all")


def _objections(contest: Contest, show: str) -> list[Objection]:
    answered = {"open": False, "answered": True}.get(show)
    return results.objections(db.session, contest, answered=answered)


def _objections_page(contest: Contest, *, status: int = 200, error: str = "", failed_id: int | None = None,
                     values: Mapping[str, str] | None = None) -> tuple[str, int]:
    show = request.args.get("show", "open")
    show = show if show in OBJECTION_FILTERS else "open"
    return render_template(
        "admin/results/objections.html", contest=contest, objections=_objections(contest, show), show=show,
        open_count=len(results.objections(db.session, contest, answered=False)), outcomes=results.OUTCOME_LABELS,
        form=EmptyForm(), error=error, failed_id=failed_id, values=values or {},
    ), status


@bp.get("/<slug>/objections")
def objections(slug: str) -> tuple[str, int]:
    return _objections_page(_contest(slug))


@bp.post("/<slug>/objections/<int:objection_id>/answer")
def answer(slug: str, objection_id: int) -> Response | tuple[str, int]:
    contest = _contest(slug)
    _check_csrf()
    objection = results.get_objection(db.session, objection_id)
    if objection.contest_id != contest.id:
        raise NotFound(_("没有这条异议。"))
    values = {"answer": request.form.get("answer", "")[:results.OBJECTION_MAX + 100], "outcome": request.form.get("outcome", "")}
    try:
        results.answer_objection(db.session, actor=web.actor(), objection=objection, answer=values["answer"],
                                 outcome=values["outcome"], now=web.now(), ip=web.client_ip())
    except DomainError as exc:
        web.settle_failure(exc)
        return _objections_page(contest, status=exc.status, error=exc.message, failed_id=objection_id, values=values)
    db.session.commit()
    flash(_("已答复，答复内容将在结果页公开。"), "success")
    return redirect(url_for("results_admin.objections", slug=contest.slug, show=request.args.get("show", "open")))


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
    finalisers = _users(p.finalised_by_id for p in pubs)
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
def exports_page(slug: str) -> str:
    contest = _contest(slug)
    rounds = judging.rounds_of(db.session, contest)
    return render_template("admin/results/exports.html", contest=contest, rounds=rounds,
                           source=exports.results_source(db.session, contest), actions=audit.known_actions(db.session))


@bp.get("/<slug>/export/<any(results, votes, scores, audit):what>.<any(csv, xlsx):fmt>")
def export(slug: str, what: str, fmt: str) -> Response:
    contest = _contest(slug)
    raw_round = request.args.get("round", "")
    table = exports.build_table(
        db.session, contest, what, round_id=int(raw_round) if raw_round.isdigit() and len(raw_round) < 10 else None,
        action=request.args.get("action", "")[:60], target_type=request.args.get("target", "")[:40])
    ascii_name, name = exports.file_names(contest, what, fmt)
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
def certificate_list(slug: str) -> str:
    contest = _contest(slug)
    try:
        publication: Publication | None = certificates.issuable_publication(db.session, contest)
    except NotFound:
        publication = None
    winners = certificates.winners(publication) if publication else []
    return render_template("admin/results/certificates.html", contest=contest, publication=publication, winners=winners,
                           awards_of=certificates.awards_of)


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
