"""The organisers' back office: contests, categories, schools, roles, audit log."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from .. import web
from ..accounts import audit
from ..accounts import service as accounts
from ..accounts.models import ROLES
from ..actions import run_action
from ..clock import LOCAL_TZ
from ..contests import school_import
from ..contests import service as contests
from ..contests.models import STAGES, Contest
from ..contests.rules import RULE_HINTS, Rules, label_of, rules_for_kind
from ..errors import DomainError
from ..extensions import db
from ..forms import posted, required
from ..i18n import _
from .access import organisers_only
from .forms import CategoryForm, ContestForm, EmptyForm, SchoolForm

bp = Blueprint("admin", __name__, url_prefix="/admin")
PER_PAGE = 50


bp.before_request(organisers_only)


def _page() -> int:
    raw = request.args.get("page", "1")
    return max(1, int(raw)) if raw.isdigit() and len(raw) < 7 else 1


@bp.get("/")
def dashboard() -> str:
    items = contests.list_contests(db.session, include_unpublished=True)
    now = web.now()
    counts = contests.approved_counts(db.session, [c.id for c in items])
    return render_template("admin/dashboard.html", items=[(c, contests.stage_of(c, now), counts.get(c.id, 0)) for c in items])


def _local(value: datetime | None) -> datetime | None:
    """A form's naive datetime-local value is Beijing time. A field missing from the post
    keeps the contest's stored (aware, UTC) value, which must be converted, not relabelled."""
    if value is None:
        return None
    return value.astimezone(LOCAL_TZ) if value.tzinfo is not None else value.replace(tzinfo=LOCAL_TZ)


def _changes_from(form: ContestForm) -> contests.ContestChanges:
    windows = {
        stage: (_local(getattr(form, f"{stage}_starts_at").data), _local(getattr(form, f"{stage}_ends_at").data))
        for stage in STAGES
    }
    rules: dict[str, Any] = {}
    # The rules fields on the page are those of the kind the page was drawn for; when the
    # kind was changed before saving they belong to another kind, and the new kind's
    # defaults apply instead (its own rules are then edited on the contest's page).
    if posted().text("rules_for") in ("", form.kind.data):
        allowed = {spec.key for spec in rules_for_kind(form.kind.data)}
        rules = {key: value for key, value in posted().prefixed("rule_").items() if key in allowed}
        # An unticked checkbox sends nothing: a boolean rule that is absent is "no".
        for spec in rules_for_kind(form.kind.data):
            if spec.type is bool and spec.key not in rules:
                rules[spec.key] = False
    return contests.ContestChanges(
        slug=required(form.slug.data).strip(), kind=form.kind.data, title=required(form.title.data), short_title=form.short_title.data or "",
        theme=form.theme.data or "", summary=form.summary.data or "", organiser=form.organiser.data or "",
        rules_text=form.rules_text.data or "", is_published=bool(form.is_published.data), position=form.position.data or 0,
        windows=windows, rules=rules, awarded_on=form.awarded_on.data,
    )


def _contest_form_page(form: ContestForm, contest: Contest | None, status: int = 200, error: str = "") -> tuple[str, int]:
    kind = form.kind.data or "media"
    stored = contests.rules_of(contest).as_dict() if contest is not None else Rules.build(kind, None).as_dict()
    current = {**stored, **posted().prefixed("rule_")} if request.method == "POST" else stored
    specs = rules_for_kind(kind)
    # Labels that name other rules (a quota's enrolment band) name their saved values.
    return render_template("admin/contest_form.html", form=form, contest=contest, error=error, stages=STAGES,
                           rules_for=kind, rule_specs=specs, rule_values=current, rule_hints=RULE_HINTS,
                           rule_labels={spec.key: label_of(spec, stored) for spec in specs}), status


@bp.route("/contests/new", methods=["GET", "POST"])
def contest_new() -> ResponseReturnValue:
    form = ContestForm()
    if request.method == "GET":
        form.kind.data = request.args.get("kind", "media")
        return _contest_form_page(form, None)
    if not form.validate():
        return _contest_form_page(form, None, 400, _("请检查填写的内容。"))
    return run_action(
        lambda: contests.create_contest(db.session, actor=web.user(), changes=_changes_from(form), now=web.now(), ip=web.client_ip()),
        refused=lambda exc: _contest_form_page(form, None, exc.status, exc.message),
        success=_("活动已创建。"), redirect_to=lambda contest: url_for("admin.contest_edit", contest_id=contest.id))


@bp.route("/contests/<int:contest_id>", methods=["GET", "POST"])
def contest_edit(contest_id: int) -> ResponseReturnValue:
    contest = contests.get_contest_by_id(db.session, contest_id)
    form = ContestForm(obj=contest)
    if request.method == "GET":
        for stage in STAGES:
            start, end = contest.window(stage)
            getattr(form, f"{stage}_starts_at").data = start.astimezone(LOCAL_TZ).replace(tzinfo=None) if start else None
            getattr(form, f"{stage}_ends_at").data = end.astimezone(LOCAL_TZ).replace(tzinfo=None) if end else None
        return _contest_form_page(form, contest)
    if not form.validate():
        return _contest_form_page(form, contest, 400, _("请检查填写的内容。"))
    return run_action(
        lambda: contests.update_contest(db.session, actor=web.user(), contest=contest, changes=_changes_from(form), now=web.now(),
                                        ip=web.client_ip()),
        refused=lambda exc: _contest_form_page(form, contest, exc.status, exc.message),
        success=_("已保存。"), redirect_to=url_for("admin.contest_edit", contest_id=contest.id))


@bp.route("/contests/<int:contest_id>/categories", methods=["GET", "POST"])
def categories(contest_id: int) -> ResponseReturnValue:
    contest = contests.get_contest_by_id(db.session, contest_id)
    form = CategoryForm()

    def page(status: int = 200, error: str = "") -> tuple[str, int]:
        return render_template("admin/categories.html", contest=contest, form=form, delete_form=EmptyForm(), error=error), status

    if request.method == "GET":
        return page()
    if not form.validate():
        return page(400, _("请检查填写的内容。"))
    return run_action(
        lambda: contests.add_category(db.session, actor=web.user(), contest=contest, kind=form.kind.data, name=required(form.name.data),
                                      description=form.description.data or "", now=web.now(), ip=web.client_ip()),
        refused=lambda exc: page(exc.status, exc.message),
        success=_("已添加。"), redirect_to=url_for("admin.categories", contest_id=contest.id))


@bp.post("/contests/<int:contest_id>/categories/<int:category_id>/delete")
def category_delete(contest_id: int, category_id: int) -> ResponseReturnValue:
    contest = contests.get_contest_by_id(db.session, contest_id)
    contests.remove_category(db.session, actor=web.user(), contest=contest, category_id=category_id, now=web.now(), ip=web.client_ip())
    db.session.commit()
    flash(_("已删除。"), "success")
    return redirect(url_for("admin.categories", contest_id=contest.id))


@bp.get("/schools")
def schools() -> str:
    return render_template("admin/schools.html", schools=contests.list_schools(db.session))


@bp.route("/schools/new", methods=["GET", "POST"], defaults={"school_id": None})
@bp.route("/schools/<int:school_id>", methods=["GET", "POST"])
def school_edit(school_id: int | None) -> ResponseReturnValue:
    school = contests.get_school(db.session, school_id) if school_id else None
    form = SchoolForm(obj=school)

    def page(status: int = 200, error: str = "") -> tuple[str, int]:
        return render_template("admin/school_form.html", form=form, school=school, error=error), status

    if request.method == "GET":
        return page()
    if not form.validate():
        return page(400, _("请检查填写的内容。"))
    return run_action(
        lambda: contests.save_school(db.session, actor=web.user(), school=school, name=required(form.name.data), district=form.district.data,
                                     level=form.level.data, enrolment=required(form.enrolment.data), now=web.now(), ip=web.client_ip()),
        refused=lambda exc: page(exc.status, exc.message), success=_("已保存。"), redirect_to=url_for("admin.schools"))


# --- schools from a spreadsheet -------------------------------------------------------------


def _import_page(*, status: int = 200, error: str = "", rows: list[school_import.Row] | None = None) -> tuple[str, int]:
    ok = [r.values for r in rows or [] if r.ok]
    return render_template("admin/school_import.html", error=error, rows=rows, form=EmptyForm(),
                           ready=json.dumps(ok, ensure_ascii=False)), status


@bp.route("/schools/import", methods=["GET", "POST"])
def school_import_page() -> ResponseReturnValue:
    """GET: the upload form. POST: the preview of the uploaded file, nothing stored yet."""
    if request.method == "GET":
        return _import_page()
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _import_page(status=400, error=_("请选择要上传的表格文件（CSV 或 .xlsx）。"))
    try:
        rows = contests.preview_school_import(db.session, actor=web.user(), data=upload.read(school_import.MAX_BYTES + 1),
                                              filename=upload.filename)
    except DomainError as exc:
        return _import_page(status=exc.status, error=exc.message)
    return _import_page(rows=rows)


@bp.post("/schools/import/confirm")
def school_import_confirm() -> ResponseReturnValue:
    try:
        rows = json.loads(posted().text("rows") or "[]")
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise ValueError
    except ValueError:
        return _import_page(status=400, error=_("导入内容无法识别，请重新上传表格。"))

    def done(outcome: contests.SchoolImport) -> str:
        text = _("已导入：新增 %(c)s 所学校，更新 %(u)s 所，关联联系人 %(l)s 位。", c=outcome.created, u=outcome.updated,
                 l=outcome.contacts)
        return text + (_("有 %(n)s 行因内容已变化未导入。", n=len(outcome.skipped)) if outcome.skipped else "")

    return run_action(
        lambda: contests.import_schools(db.session, actor=web.user(), rows=rows, now=web.now(), ip=web.client_ip()),
        refused=lambda exc: _import_page(status=exc.status, error=exc.message),
        success=done, redirect_to=url_for("admin.schools"))


@bp.get("/schools/import/template.csv")
def school_import_template() -> Response:
    response = Response(school_import.template_csv(), content_type="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = "attachment; filename=\"schools-template.csv\"; filename*=UTF-8''" + \
        quote("学校导入模板.csv", safe="")
    return response


@bp.get("/users")
def users() -> str:
    page = _page()
    role = request.args.get("role", "")
    found, total = accounts.search_users(db.session, phone_prefix=request.args.get("phone", "")[:11],
                                         role=role if role in ROLES else "", limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
    return render_template("admin/users.html", users=found, total=total, page=page, per_page=PER_PAGE, roles=ROLES,
                           grantable=accounts.grantable_roles(web.user()), form=EmptyForm())


@bp.post("/users/<int:user_id>/roles")
def user_roles(user_id: int) -> ResponseReturnValue:
    user = accounts.get_user(db.session, user_id)
    wanted = {r for r in posted().values("roles") if r in ROLES}
    accounts.set_roles(db.session, actor=web.user(), user=user, roles=wanted, now=web.now(), ip=web.client_ip())
    # Accounts may not know about schools: the links of a former contact go here, in the
    # same transaction as the role.
    contests.unlink_former_contact(db.session, actor=web.user(), user=user, now=web.now(), ip=web.client_ip())
    db.session.commit()
    flash(_("角色已更新。"), "success")
    return redirect(url_for("admin.users", phone=user.phone))


@bp.get("/audit")
def audit_log() -> str:
    page = _page()
    action = request.args.get("action", "")[:60]
    target_type = request.args.get("target", "")[:40]
    events, total = audit.list_events(db.session, action=action, target_type=target_type, limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
    # before → after as JSON, each code with its words beside it
    changes = {e.id: (audit.labelled(e.action, e.before), audit.labelled(e.action, e.after)) for e in events}
    return render_template("admin/audit.html", events=events, changes=changes, total=total, page=page, per_page=PER_PAGE,
                           actions=audit.known_actions(db.session), action=action, target_type=target_type)
