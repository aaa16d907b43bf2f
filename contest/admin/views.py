"""The organisers' back office: contests, categories, schools, roles, audit log."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for

from .. import web
from ..accounts import audit
from ..accounts import service as accounts
from ..accounts.models import ROLES
from ..clock import LOCAL_TZ
from ..contests import service as contests
from ..contests.models import STAGES
from ..contests.rules import rules_for_kind
from ..errors import DomainError
from ..extensions import db
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
    allowed = {spec.key for spec in rules_for_kind(form.kind.data)}
    rules = {key[5:]: value for key, value in request.form.items() if key.startswith("rule_") and key[5:] in allowed}
    # An unticked checkbox sends nothing: a boolean rule that is absent is "no".
    for spec in rules_for_kind(form.kind.data):
        if spec.type is bool and spec.key not in rules:
            rules[spec.key] = False
    return contests.ContestChanges(
        slug=form.slug.data.strip(), kind=form.kind.data, title=form.title.data, short_title=form.short_title.data or "",
        theme=form.theme.data or "", summary=form.summary.data or "", organiser=form.organiser.data or "",
        rules_text=form.rules_text.data or "", is_published=bool(form.is_published.data), position=form.position.data or 0,
        windows=windows, rules=rules,
    )


def _contest_form_page(form: ContestForm, contest: object, status: int = 200, error: str = "") -> tuple[str, int]:
    kind = form.kind.data or "media"
    current = contests.rules_of(contest) if contest is not None else {s.key: s.default for s in rules_for_kind(kind)}
    if request.method == "POST":
        current = {**current, **{k[5:]: v for k, v in request.form.items() if k.startswith("rule_")}}
    return render_template("admin/contest_form.html", form=form, contest=contest, error=error, stages=STAGES,
                           rule_specs=rules_for_kind(kind), rule_values=current), status


@bp.route("/contests/new", methods=["GET", "POST"])
def contest_new() -> Response | tuple[str, int]:
    form = ContestForm()
    if request.method == "GET":
        form.kind.data = request.args.get("kind", "media")
        return _contest_form_page(form, None)
    if not form.validate():
        return _contest_form_page(form, None, 400, _("请检查填写的内容。"))
    try:
        contest = contests.create_contest(db.session, actor=web.actor(), changes=_changes_from(form), now=web.now(), ip=web.client_ip())
    except DomainError as exc:
        web.settle_failure(exc)
        return _contest_form_page(form, None, exc.status, exc.message)
    db.session.commit()
    flash(_("活动已创建。"), "success")
    return redirect(url_for("admin.contest_edit", contest_id=contest.id))


@bp.route("/contests/<int:contest_id>", methods=["GET", "POST"])
def contest_edit(contest_id: int) -> Response | tuple[str, int]:
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
    try:
        contests.update_contest(db.session, actor=web.actor(), contest=contest, changes=_changes_from(form), now=web.now(), ip=web.client_ip())
    except DomainError as exc:
        web.settle_failure(exc)
        return _contest_form_page(form, contest, exc.status, exc.message)
    db.session.commit()
    flash(_("已保存。"), "success")
    return redirect(url_for("admin.contest_edit", contest_id=contest.id))


@bp.route("/contests/<int:contest_id>/categories", methods=["GET", "POST"])
def categories(contest_id: int) -> Response | tuple[str, int]:
    contest = contests.get_contest_by_id(db.session, contest_id)
    form = CategoryForm()
    status, error = 200, ""
    if request.method == "POST":
        if not form.validate():
            status, error = 400, _("请检查填写的内容。")
        else:
            try:
                contests.add_category(db.session, actor=web.actor(), contest=contest, kind=form.kind.data, name=form.name.data,
                                      description=form.description.data or "", now=web.now(), ip=web.client_ip())
                db.session.commit()
                flash(_("已添加。"), "success")
                return redirect(url_for("admin.categories", contest_id=contest.id))
            except DomainError as exc:
                web.settle_failure(exc)
                status, error = exc.status, exc.message
    return render_template("admin/categories.html", contest=contest, form=form, delete_form=EmptyForm(), error=error), status


@bp.post("/contests/<int:contest_id>/categories/<int:category_id>/delete")
def category_delete(contest_id: int, category_id: int) -> Response:
    contest = contests.get_contest_by_id(db.session, contest_id)
    if not EmptyForm().validate():
        abort(400)
    contests.remove_category(db.session, actor=web.actor(), contest=contest, category_id=category_id, now=web.now(), ip=web.client_ip())
    db.session.commit()
    flash(_("已删除。"), "success")
    return redirect(url_for("admin.categories", contest_id=contest.id))


@bp.get("/schools")
def schools() -> str:
    return render_template("admin/schools.html", schools=contests.list_schools(db.session))


@bp.route("/schools/new", methods=["GET", "POST"], defaults={"school_id": None})
@bp.route("/schools/<int:school_id>", methods=["GET", "POST"])
def school_edit(school_id: int | None) -> Response | tuple[str, int]:
    school = contests.get_school(db.session, school_id) if school_id else None
    form = SchoolForm(obj=school)
    status, error = 200, ""
    if request.method == "POST":
        if not form.validate():
            status, error = 400, _("请检查填写的内容。")
        else:
            try:
                contests.save_school(db.session, actor=web.actor(), school=school, name=form.name.data, district=form.district.data,
                                     level=form.level.data, enrolment=form.enrolment.data, now=web.now(), ip=web.client_ip())
                db.session.commit()
                flash(_("已保存。"), "success")
                return redirect(url_for("admin.schools"))
            except DomainError as exc:
                web.settle_failure(exc)
                status, error = exc.status, exc.message
    return render_template("admin/school_form.html", form=form, school=school, error=error), status


@bp.get("/users")
def users() -> str:
    page = _page()
    role = request.args.get("role", "")
    found, total = accounts.search_users(db.session, phone_prefix=request.args.get("phone", "")[:11],
                                         role=role if role in ROLES else "", limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
    return render_template("admin/users.html", users=found, total=total, page=page, per_page=PER_PAGE, roles=ROLES,
                           grantable=accounts.grantable_roles(web.actor()), form=EmptyForm())


@bp.post("/users/<int:user_id>/roles")
def user_roles(user_id: int) -> Response:
    if not EmptyForm().validate():
        abort(400)
    user = accounts.get_user(db.session, user_id)
    wanted = {r for r in request.form.getlist("roles") if r in ROLES}
    accounts.set_roles(db.session, actor=web.actor(), user=user, roles=wanted, now=web.now(), ip=web.client_ip())
    # Accounts may not know about schools: the links of a former contact go here, in the
    # same transaction as the role.
    contests.unlink_former_contact(db.session, actor=web.actor(), user=user, now=web.now(), ip=web.client_ip())
    db.session.commit()
    flash(_("角色已更新。"), "success")
    return redirect(url_for("admin.users", phone=user.phone))


@bp.get("/audit")
def audit_log() -> str:
    page = _page()
    action = request.args.get("action", "")[:60]
    target_type = request.args.get("target", "")[:40]
    events, total = audit.list_events(db.session, action=action, target_type=target_type, limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
    return render_template("admin/audit.html", events=events, total=total, page=page, per_page=PER_PAGE,
                           actions=audit.known_actions(db.session), action=action, target_type=target_type)
