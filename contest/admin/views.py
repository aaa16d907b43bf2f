"""The organisers' back office: contests, categories, schools, roles, audit log."""

from __future__ import annotations

import json
from datetime import datetime
from urllib.parse import quote

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from .. import web
from ..accounts import audit, units
from ..accounts import service as accounts
from ..accounts.models import ROLES, UNIT_ROLES
from ..actions import run_action
from ..clock import LOCAL_TZ
from ..contests import school_import
from ..contests import service as contests
from ..contests.models import DISTRICTS, STAGES, Contest
from ..contests.service import KIND_LABELS
from ..errors import DomainError, InvalidInput, NotFound
from ..extensions import db
from ..forms import posted, required
from ..i18n import _
from ..judging import service as judging
from ..results import exports
from .access import organisers_only
from .forms import (
    CategoryForm,
    ContestForm,
    EmptyForm,
    SchoolForm,
    contest_field_errors,
    contest_field_labels,
    kind_rules,
    rules_from_post,
    set_unit_choices,
)
from .results_views import table_response

bp = Blueprint("admin", __name__, url_prefix="/admin")
PER_PAGE = 50


bp.before_request(organisers_only)


def _page() -> int:
    raw = request.args.get("page", "1")
    return max(1, int(raw)) if raw.isdigit() and len(raw) < 7 else 1


@bp.get("/")
def dashboard() -> str:
    items = contests.back_office_contests(db.session, actor=web.user())
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
    # Only the chosen kind's fieldset is read; the others are on the page to switch to.
    return contests.ContestChanges(
        slug=(form.slug.data or "").strip(), kind=form.kind.data, title=form.title.data or "", short_title=form.short_title.data or "",
        theme=form.theme.data or "", summary=form.summary.data or "", unit_id=form.unit_id.data,
        co_unit_ids=tuple(form.co_unit_ids.data or ()),
        rules_text=form.rules_text.data or "", is_published=bool(form.is_published.data), position=form.position.data or 0,
        windows=windows, rules=rules_from_post(form.kind.data, posted().data), awarded_on=form.awarded_on.data,
    )


def _contest_form_page(form: ContestForm, contest: Contest | None, status: int = 200,
                       refusal: DomainError | None = None) -> tuple[str, int]:
    kind = form.kind.data or "media"
    service_errors: dict[str, str] = {}
    if isinstance(refusal, contests.ContestInvalid):
        service_errors = refusal.errors
    elif refusal is not None and refusal.field:
        service_errors = {refusal.field: refusal.message}
    errors = contest_field_errors(form, kind, service_errors)
    # A refusal that belongs to no field (not allowed, …) is shown above the form as it is.
    error = refusal.message if refusal is not None and not service_errors else ""
    return render_template("admin/contest_form.html", form=form, contest=contest, error=error, stages=STAGES, kind=kind,
                           field_errors=errors, field_labels=contest_field_labels(form, kind),
                           kind_rules=kind_rules(contest.rules if contest is not None else None,
                                                 posted().data if request.method == "POST" else None, errors)), status


def _refused_with_everything(form: ContestForm, contest: Contest | None) -> tuple[str, int]:
    """The form's own checks failed (a date that does not parse): the service's checks of
    the rest run too, so every mistake is shown at once."""
    try:
        contests.check_contest(_changes_from(form), contest.rules if contest is not None else None)
    except DomainError as exc:
        return _contest_form_page(form, contest, 400, exc)
    return _contest_form_page(form, contest, 400)


def _fill(form: ContestForm, template: contests.ContestChanges) -> None:
    for name in ("slug", "title", "short_title", "theme", "summary", "unit_id"):
        getattr(form, name).data = getattr(template, name)
    _fill_windows(form, template.windows)


def _fill_windows(form: ContestForm, windows: dict[str, tuple[datetime | None, datetime | None]]) -> None:
    """The form's datetime-local fields show Beijing time."""
    for stage, (start, end) in windows.items():
        getattr(form, f"{stage}_starts_at").data = start.astimezone(LOCAL_TZ).replace(tzinfo=None) if start else None
        getattr(form, f"{stage}_ends_at").data = end.astimezone(LOCAL_TZ).replace(tzinfo=None) if end else None


def _contest_form(contest: Contest | None) -> ContestForm:
    """The contest form, its unit choices filled in: the units the person may create
    contests in (a single one is chosen for them), the contest's own, every unit as co-organiser."""
    form = ContestForm(obj=contest)
    creatable = units.units_where(db.session, web.user(), "create")
    if contest is not None and contest.unit is not None and contest.unit not in creatable:
        creatable.insert(0, contest.unit)
    set_unit_choices(form, creatable, units.list_units(db.session))
    return form


@bp.route("/contests/new", methods=["GET", "POST"])
def contest_new() -> ResponseReturnValue:
    form = _contest_form(None)
    if request.method == "GET":
        form.kind.data = request.args.get("kind", "media") if request.args.get("kind") in KIND_LABELS else "media"
        unit_arg = request.args.get("unit", "")
        unit = next((u for u in units.units_where(db.session, web.user(), "create") if str(u.id) == unit_arg), None)
        if unit is not None:  # 新建本单位的活动: filled in from the unit's template
            _fill(form, contests.contest_template(unit, form.kind.data, web.now()))
        return _contest_form_page(form, None)
    if not form.validate():
        return _refused_with_everything(form, None)
    return run_action(
        lambda: contests.create_contest(db.session, actor=web.user(), changes=_changes_from(form), now=web.now(), ip=web.client_ip()),
        refused=lambda exc: _contest_form_page(form, None, exc.status, exc),
        success=_("活动已创建。"), redirect_to=lambda contest: url_for("admin.contest_edit", contest_id=contest.id))


@bp.route("/contests/<int:contest_id>", methods=["GET", "POST"])
def contest_edit(contest_id: int) -> ResponseReturnValue:
    contest = contests.get_contest_by_id(db.session, contest_id)
    form = _contest_form(contest)
    if request.method == "GET":
        form.co_unit_ids.data = [u.id for u in contest.co_units]
        _fill_windows(form, {stage: contest.window(stage) for stage in STAGES})
        return _contest_form_page(form, contest)
    if not form.validate():
        return _refused_with_everything(form, contest)
    return run_action(
        lambda: contests.update_contest(db.session, actor=web.user(), contest=contest, changes=_changes_from(form), now=web.now(),
                                        ip=web.client_ip()),
        refused=lambda exc: _contest_form_page(form, contest, exc.status, exc),
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


@bp.post("/contests/<int:contest_id>/categories/<int:category_id>/edit")
def category_edit(contest_id: int, category_id: int) -> ResponseReturnValue:
    contest = contests.get_contest_by_id(db.session, contest_id)
    form = posted()
    values = {"id": str(category_id), **{k: form.text(k, 400) for k in ("kind", "name", "description", "position")}}

    def save() -> object:
        position = form.number("position", 4)
        if values["position"].strip() and position is None:
            raise InvalidInput(_("排序应在 0 到 %(n)s 之间。", n=contests.CATEGORY_POSITION_MAX), field="position")
        return contests.update_category(db.session, actor=web.user(), contest=contest, category_id=category_id,
                                        kind=values["kind"], name=values["name"], description=values["description"],
                                        position=position, now=web.now(), ip=web.client_ip())

    return run_action(
        save,
        refused=lambda exc: (render_template("admin/categories.html", contest=contest, form=CategoryForm(formdata=None),
                                             delete_form=EmptyForm(), error=exc.message, editing=values), exc.status),
        success=_("已保存。"), redirect_to=url_for("admin.categories", contest_id=contest.id))


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


def _users_page(phone: str, role: str, page: int, *, status: int = 200, error: str = "") -> tuple[str, int]:
    role = role if role in ROLES else ""
    found, total = accounts.search_users(db.session, phone_prefix=phone[:11], role=role, limit=PER_PAGE,
                                         offset=(page - 1) * PER_PAGE)
    return render_template("admin/users.html", users=found, total=total, page=page, per_page=PER_PAGE, roles=ROLES,
                           grantable=accounts.grantable_roles(web.user()), form=EmptyForm(), phone=phone[:11],
                           role=role, error=error), status


@bp.get("/users")
def users() -> tuple[str, int]:
    return _users_page(request.args.get("phone", ""), request.args.get("role", ""), _page())


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


@bp.post("/users/roles")
def users_bulk_roles() -> ResponseReturnValue:
    """Grant or revoke one role for the accounts ticked on the list (all or nothing)."""
    form = posted()
    grant = form.text("op") == "grant"
    phone, role = form.text("phone", 11), form.text("filter_role", 20)
    back = url_for("admin.users", phone=phone or None, role=role or None)

    def change() -> int:
        if form.text("op") not in ("grant", "revoke"):
            raise InvalidInput(_("请选择授予还是撤销。"), field="op")
        return contests.change_role_of_users(db.session, actor=web.user(), user_ids=form.ids("user_ids"),
                                             role=form.text("role", 20), grant=grant, now=web.now(), ip=web.client_ip())

    return run_action(
        change,
        refused=lambda exc: _users_page(phone, role, 1, status=exc.status, error=exc.message),
        success=lambda n: (_("已为 %(n)s 个账号授予角色。", n=n) if grant else _("已为 %(n)s 个账号撤销角色。", n=n)),
        redirect_to=back)


# --- notices to a contest's schools or judges --------------------------------------------------


def _notice_page(contest: Contest, *, status: int = 200, error: str = "", values: dict[str, str] | None = None,
                 ) -> tuple[str, int]:
    counts = judging.recipient_counts(db.session, actor=web.user(), contest=contest)
    return render_template("admin/notice.html", contest=contest, counts=counts, audiences=judging.NOTICE_AUDIENCES,
                           notice_max=judging.NOTICE_MAX, error=error, values=values or {}, form=EmptyForm()), status


@bp.route("/contests/<int:contest_id>/notices", methods=["GET", "POST"])
def contest_notice(contest_id: int) -> ResponseReturnValue:
    contest = contests.get_contest_by_id(db.session, contest_id)
    if request.method == "GET":
        return _notice_page(contest)
    form = posted()
    values = {"audience": form.text("audience", 20), "text": form.text("text", 2000), "channel": form.text("channel", 10)}

    def done(sent: judging.NoticeSent) -> str:
        text = _("通知已发给 %(n)s 人。", n=sent.recipients)
        if values["channel"] == "sms":
            text += _("短信已排队 %(t)s 条。", t=sent.texted)
        if sent.not_texted:
            text += _("今日短信额度已用完，%(k)s 人未收到短信（站内通知已送达）。", k=sent.not_texted)
        return text

    return run_action(
        lambda: judging.send_contest_notice(
            db.session, web.sms_sender(), actor=web.user(), contest=contest, audience=values["audience"],
            text=values["text"], sms=values["channel"] == "sms", now=web.now(),
            link=url_for("contests.contest_page", slug=contest.slug), ip=web.client_ip()),
        refused=lambda exc: _notice_page(contest, status=exc.status, error=exc.message, values=values),
        success=done, redirect_to=url_for("admin.contest_notice", contest_id=contest.id))


@bp.get("/audit")
def audit_log() -> str:
    page = _page()
    action = request.args.get("action", "")[:60]
    target_type = request.args.get("target", "")[:40]
    events, total = audit.list_events(db.session, action=action, target_type=target_type, limit=PER_PAGE, offset=(page - 1) * PER_PAGE,
                                      scopes=units.visible_scopes(web.user()))
    # before → after as JSON, each code with its words beside it
    changes = {e.id: (audit.labelled(e.action, e.before), audit.labelled(e.action, e.after)) for e in events}
    return render_template("admin/audit.html", events=events, changes=changes, total=total, page=page, per_page=PER_PAGE,
                           actions=audit.known_actions(db.session), action=action, target_type=target_type)


# --- organising units and their members ---------------------------------------------------


def _units_page(*, status: int = 200, error: str = "", values: dict[str, str] | None = None) -> tuple[str, int]:
    user = web.user()
    return render_template("admin/units.html", units=units.units_where(db.session, user, "view"),
                           may_create=units.is_platform_admin(user), districts=DISTRICTS, error=error,
                           values=values or {}, form=EmptyForm()), status


@bp.get("/units")
def units_list() -> tuple[str, int]:
    return _units_page()


@bp.post("/units")
def unit_create() -> ResponseReturnValue:
    form = posted()
    values = {k: form.text(k, 80) for k in ("name", "level", "district")}
    return run_action(
        lambda: units.save_unit(db.session, actor=web.user(), unit=None, name=values["name"], level=values["level"],
                                district=values["district"], now=web.now(), ip=web.client_ip()),
        refused=lambda exc: _units_page(status=exc.status, error=exc.message, values=values),
        success=_("单位已创建。"), redirect_to=lambda unit: url_for("admin.unit_page", unit_id=unit.id))


def _unit_page(unit_id: int, *, status: int = 200, error: str = "", values: dict[str, str] | None = None) -> tuple[str, int]:
    unit = units.get_unit(db.session, unit_id)
    user = web.user()
    own = contests.unit_contests(db.session, unit)
    return render_template("admin/unit.html", unit=unit, members=units.members_of(db.session, unit), contests=own,
                           contest_titles={c.id: c.title for c in own},
                           may_manage=units.can(user, "members", unit_id=unit.id),
                           may_create=units.can(user, "create", unit_id=unit.id), roles=UNIT_ROLES, error=error,
                           values=values or {}, form=EmptyForm()), status


@bp.get("/units/<int:unit_id>")
def unit_page(unit_id: int) -> tuple[str, int]:
    return _unit_page(unit_id)


@bp.get("/units/<int:unit_id>/audit.<any(csv, xlsx):fmt>")
def unit_audit(unit_id: int, fmt: str) -> Response:
    """The unit's audit log: every action in its contests and on its members."""
    unit = units.get_unit(db.session, unit_id)
    table = exports.audit_table(db.session, unit_id=unit.id)
    return table_response(table, f"audit-unit-{unit.id}.{fmt}", f"{unit.name}-操作日志.{fmt}", fmt)


@bp.post("/units/<int:unit_id>/members")
def unit_member_add(unit_id: int) -> ResponseReturnValue:
    unit = units.get_unit(db.session, unit_id)
    form = posted()
    values = {k: form.text(k, 20) for k in ("phone", "role", "contest_id")}
    return run_action(
        lambda: units.add_member_by_phone(db.session, actor=web.user(), unit=unit, phone=values["phone"], role=values["role"],
                                          contest_id=form.number("contest_id", 9), now=web.now(), ip=web.client_ip()),
        refused=lambda exc: _unit_page(unit_id, status=exc.status, error=exc.message, values=values),
        success=_("已授予角色。"), redirect_to=url_for("admin.unit_page", unit_id=unit_id))


@bp.post("/units/<int:unit_id>/members/<int:membership_id>/remove")
def unit_member_remove(unit_id: int, membership_id: int) -> ResponseReturnValue:
    membership = units.get_membership(db.session, membership_id)
    if membership.unit_id != unit_id:
        raise NotFound(_("该成员角色不存在。"))
    return run_action(
        lambda: units.remove_member(db.session, actor=web.user(), membership=membership, now=web.now(), ip=web.client_ip()),
        refused=lambda exc: _unit_page(unit_id, status=exc.status, error=exc.message),
        success=_("已撤销角色。"), redirect_to=url_for("admin.unit_page", unit_id=unit_id))
