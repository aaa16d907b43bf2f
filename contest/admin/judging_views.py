"""The organisers' judging desk: rounds and their rubrics, entries, the panel and its
invitations, conflicts, the assignment, the dashboard (progress, spread, judges'
statistics, agreement, ranking), advancing entries and the live final's stage control.

Every rule lives in judging.service; these views parse the form, call one operation and
show the page again with the service's refusal, or redirect after a commit. Advancing
is shown first as a preview that runs the real operation inside a savepoint and rolls it
back, so the preview and the confirmation are checked by the same code. What each page
shows is built by judging_presenters.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.routing import BuildError

from .. import web
from ..accounts import service as accounts
from ..actions import run_action
from ..contests import service as contests
from ..contests.models import Contest
from ..errors import DomainError, InvalidInput, NotFound
from ..extensions import db
from ..forms import Posted, posted, required
from ..i18n import N_, _
from ..judging import service as judging
from ..judging.models import Round
from . import judging_presenters as presenters
from .access import organisers_only
from .forms import AGGREGATION_LABELS, ROUND_KIND_LABELS, EmptyForm, RoundForm

bp = Blueprint("judging_admin", __name__, url_prefix="/admin/judging")

EMPTY_RUBRIC_ROWS = 5  # rows a new round's form starts with
SPARE_RUBRIC_ROWS = 2  # empty rows under a saved rubric, to add criteria without script
STATE_DONE = {"open": N_("评审已开启。"), "reopen": N_("评审已重新开启。"), "closed": N_("评审已截止。"),
              "finalised": N_("本轮已定稿。")}
STATE_TARGETS = ("open", "closed", "finalised")


bp.before_request(organisers_only)


@bp.context_processor
def labels() -> dict[str, object]:
    return {"state_label": judging.state_label, "kind_labels": ROUND_KIND_LABELS, "aggregation_labels": AGGREGATION_LABELS,
            "source_labels": presenters.CONFLICT_SOURCES, "band_labels": presenters.BAND_LABELS}


# --- small helpers -------------------------------------------------------------------


def _school_id(form: Posted) -> int | None:
    """The school picked in a form: none, or one that exists (NotFound otherwise)."""
    school_id = form.number("school_id")
    return contests.get_school(db.session, school_id).id if school_id is not None else None


def _url_or(endpoint: str, fallback: str, **values: Any) -> str:
    """A page another part of the site serves, by endpoint when it is registered."""
    try:
        return url_for(endpoint, **values)
    except BuildError:
        return fallback


# --- the list of rounds ------------------------------------------------------------


@bp.get("/")
def index() -> str:
    return render_template("admin/judging/index.html", items=presenters.rounds_by_contest(db.session, web.user()))


# --- the round form ----------------------------------------------------------------


def _weight_sum(form: RoundForm) -> float:
    return sum(float(row.form.weight.data or 0) for row in form.criteria)


def _tidy_numbers(form: RoundForm) -> None:
    """Stored floats shown as typed: 30 rather than 30.0."""
    fields = [form.spread_threshold, form.score_step]
    fields += [f for row in form.criteria for f in (row.form.maximum, row.form.weight)]
    for f in fields:
        if isinstance(f.data, float):
            f.data = Decimal(f"{f.data:g}")


def _round_form_page(form: RoundForm, contest: Contest, rnd: Round | None, *, status: int = 200,
                     error: str = "") -> tuple[str, int]:
    return render_template("admin/judging/round_form.html", form=form, contest=contest, rnd=rnd, error=error,
                           locked=rnd is not None and rnd.state != "draft", weight_sum=_weight_sum(form)), status


def _pad_rows(form: RoundForm, at_least: int) -> None:
    while len(form.criteria) < at_least:
        form.criteria.append_entry()


def _fields(form: RoundForm) -> judging.RoundFields:
    return judging.RoundFields(
        key=form.key.data or "", name=form.name.data or "", kind=form.kind.data,
        judges_per_entry=required(form.judges_per_entry.data), blind=bool(form.blind.data), aggregation=form.aggregation.data,
        normalise=bool(form.normalise.data), min_scores=required(form.min_scores.data),
        spread_threshold=float(required(form.spread_threshold.data)), score_step=float(required(form.score_step.data)),
        instructions=form.instructions.data or "", position=form.position.data or 0,
    )


def _criteria(form: RoundForm) -> list[judging.CriterionFields]:
    """The rubric rows that were filled in; a wholly empty row is no criterion."""
    return [
        judging.CriterionFields(name=row.form.name.data or "", description=row.form.description.data or "",
                                maximum=float(row.form.maximum.data or 0), weight=float(row.form.weight.data or 0))
        for row in form.criteria if not row.form.is_blank()
    ]


@bp.route("/contests/<slug>/rounds/new", methods=["GET", "POST"])
def round_new(slug: str) -> ResponseReturnValue:
    contest = contests.get_contest(db.session, slug, include_unpublished=True)
    form = RoundForm()
    if request.method == "GET":
        form.position.data = len(judging.rounds_of(db.session, contest))
        _pad_rows(form, EMPTY_RUBRIC_ROWS)
        return _round_form_page(form, contest, None)
    if not form.validate():
        return _round_form_page(form, contest, None, status=400, error=_("请检查填写的内容。"))
    return run_action(
        lambda: judging.create_round(db.session, actor=web.user(), contest=contest, fields=_fields(form),
                                     criteria=_criteria(form), now=web.now(), ip=web.client_ip()),
        refused=lambda exc: _round_form_page(form, contest, None, status=exc.status, error=exc.message),
        success=_("评审轮次已创建。"), redirect_to=lambda rnd: url_for("judging_admin.round_view", round_id=rnd.id))


@bp.route("/rounds/<int:round_id>/edit", methods=["GET", "POST"])
def round_edit(round_id: int) -> ResponseReturnValue:
    rnd = judging.get_round(db.session, round_id)
    contest = rnd.contest
    locked = rnd.state != "draft"
    if request.method == "GET":
        form = RoundForm(obj=rnd)
        _tidy_numbers(form)
        if not locked:
            _pad_rows(form, len(rnd.criteria) + SPARE_RUBRIC_ROWS)
        return _round_form_page(form, contest, rnd)
    form = RoundForm()
    if not form.validate():
        return _round_form_page(form, contest, rnd, status=400, error=_("请检查填写的内容。"))
    return run_action(
        lambda: judging.update_round(db.session, actor=web.user(), rnd=rnd, fields=_fields(form),
                                     criteria=None if locked else _criteria(form), now=web.now(), ip=web.client_ip()),
        refused=lambda exc: _round_form_page(form, contest, judging.get_round(db.session, round_id), status=exc.status,
                                             error=exc.message),
        success=_("已保存。"), redirect_to=url_for("judging_admin.round_view", round_id=rnd.id))


# --- the round's overview: state, entries, panel, conflicts, assignment --------------


def _overview_page(round_id: int, *, status: int = 200, error: str = "", invite: tuple[str, str] | None = None,
                   values: dict[str, str] | None = None) -> tuple[str, int]:
    overview = presenters.round_overview(db.session, judging.get_round(db.session, round_id))
    invites = judging.invites_of(db.session, actor=web.user(), rnd=overview.rnd, now=web.now())
    return render_template(
        "admin/judging/round.html", **vars(overview), invite=invite, error=error, values=values or {}, form=EmptyForm(),
        screen_url=_screen_url(overview.rnd), invites=invites, invite_states=judging.INVITE_STATES,
    ), status


@bp.get("/rounds/<int:round_id>")
def round_view(round_id: int) -> tuple[str, int]:
    return _overview_page(round_id)


def _act(round_id: int, operation: Callable[[Round], str], anchor: str, values: dict[str, str] | None = None,
         page: Callable[..., tuple[str, int]] = _overview_page, endpoint: str = "judging_admin.round_view",
         ) -> ResponseReturnValue:
    """Run one service operation on the round: commit and come back to the section with
    the message it returns, or show the page again with the refusal (and what was typed)."""
    rnd = judging.get_round(db.session, round_id)
    return run_action(lambda: operation(rnd),
                      refused=lambda exc: page(round_id, status=exc.status, error=exc.message, values=values),
                      success=lambda message: message, redirect_to=url_for(endpoint, round_id=round_id, _anchor=anchor))


@bp.post("/rounds/<int:round_id>/state")
def set_state(round_id: int) -> ResponseReturnValue:
    to = posted().text("to")
    if to not in STATE_TARGETS:
        abort(400)

    def run(rnd: Round) -> str:
        reopening = rnd.state == "closed" and to == "open"
        judging.set_state(db.session, actor=web.user(), rnd=rnd, state=to, now=web.now(), ip=web.client_ip())
        return _(STATE_DONE["reopen" if reopening else to])
    return _act(round_id, run, "state")


@bp.post("/rounds/<int:round_id>/entries")
def add_entries(round_id: int) -> ResponseReturnValue:
    form = posted()

    def run(rnd: Round) -> str:
        if form.is_set("mode", "all"):
            ids = presenters.approved_entry_ids(db.session, rnd.contest)
        else:
            ids = form.ids("entry_ids")
            if not ids:
                return _("没有选择作品。")
        added = judging.add_entries(db.session, actor=web.user(), rnd=rnd, entry_ids=ids, now=web.now(), ip=web.client_ip())
        return _("已加入 %(n)s 件作品。", n=added)
    return _act(round_id, run, "entries")


@bp.post("/rounds/<int:round_id>/judges")
def add_judge(round_id: int) -> ResponseReturnValue:
    raw = posted().text("phone", 20)

    def run(rnd: Round) -> str:
        user = accounts.find_user_by_phone(db.session, accounts.normalize_phone(raw))
        if user is None:
            raise NotFound(_("没有用这个手机号注册的账号。可以改用邀请链接请评委自行注册。"), field="phone")
        judging.add_judge(db.session, actor=web.user(), rnd=rnd, user=user, now=web.now(), ip=web.client_ip())
        return _("已将 %(name)s 加入评委组。", name=user.name_or_phone)
    return _act(round_id, run, "panel", values={"phone": raw})


def _invite_url(token: str) -> str:
    return web.external_url("judging.invite", token=token)


def _screen_url(rnd: Round) -> str:
    return _url_or("judging.screen", f"/judge/rounds/{rnd.id}/screen", round_id=rnd.id)


@bp.post("/rounds/<int:round_id>/invites")
def invite(round_id: int) -> ResponseReturnValue:
    """The link is shown on this response only: the token is not stored, just its hash."""
    rnd = judging.get_round(db.session, round_id)
    form = posted()
    values = {k: form.line(k, 100) for k in ("name", "organisation", "school_id")}
    return run_action(
        lambda: judging.create_invite(
            db.session, actor=web.user(), rnd=rnd, name=values["name"], organisation=values["organisation"],
            school_id=_school_id(form), now=web.now(), ip=web.client_ip()),
        refused=lambda exc: _overview_page(round_id, status=exc.status, error=exc.message, values=values),
        then=lambda made: _overview_page(round_id, invite=(made[0].name, _invite_url(made[1]))))


@bp.post("/rounds/<int:round_id>/invites/<int:invite_id>/revoke")
def revoke_invite(round_id: int, invite_id: int) -> ResponseReturnValue:
    def run(rnd: Round) -> str:
        done = judging.revoke_invite(db.session, actor=web.user(), rnd=rnd, invite_id=invite_id, now=web.now(),
                                     ip=web.client_ip())
        return _("已撤销给 %(name)s 的邀请，原链接已失效。", name=done.name)
    return _act(round_id, run, "invites")


@bp.post("/rounds/<int:round_id>/invites/<int:invite_id>/sms")
def send_invite(round_id: int, invite_id: int) -> ResponseReturnValue:
    """Texted: back to the list. Past the day's SMS budget: the fresh link is shown once, as
    when it is generated, for the organiser to pass on."""
    rnd = judging.get_round(db.session, round_id)
    phone = posted().text("phone", 20)
    return run_action(
        lambda: judging.send_invite_sms(db.session, web.sms_sender(), actor=web.user(), rnd=rnd, invite_id=invite_id,
                                        phone=phone, link_for=_invite_url, now=web.now(), ip=web.client_ip()),
        refused=lambda exc: _overview_page(round_id, status=exc.status, error=exc.message,
                                           values={"sms_invite": str(invite_id), "sms_phone": phone}),
        then=lambda sent: _invite_sent(round_id, sent))


def _invite_sent(round_id: int, sent: judging.SentInvite) -> ResponseReturnValue:
    if sent.texted:
        flash(_("邀请短信已排队发送给 %(phone)s，旧链接已失效。", phone=judging.mask_phone(sent.invite.phone)), "success")
        return redirect(url_for("judging_admin.round_view", round_id=round_id, _anchor="invites"))
    return _overview_page(round_id, error=_("今日短信额度已用完，短信未发送。请复制下面的新链接发给评委（旧链接已失效）。"),
                          invite=(sent.invite.name, _invite_url(sent.token)))


@bp.post("/rounds/<int:round_id>/judges/<int:judge_id>/withdraw")
def withdraw_judge(round_id: int, judge_id: int) -> ResponseReturnValue:
    reason = posted().text("reason")

    def run(rnd: Round) -> str:
        plan = judging.withdraw_judge(db.session, actor=web.user(), rnd=rnd, judge_id=judge_id,
                                      reason=reason, now=web.now(), ip=web.client_ip())
        if plan is not None:
            return _("评委已退出，未评分的作品已重新分配；已提交的评分保留。")
        return _("评委已退出。")
    return _act(round_id, run, "panel")


@bp.post("/rounds/<int:round_id>/judges/<int:judge_id>/profile")
def judge_profile(round_id: int, judge_id: int) -> ResponseReturnValue:
    form = posted()

    def run(rnd: Round) -> str:
        user = accounts.get_user(db.session, judge_id)
        if judging.membership(db.session, rnd, user) is None:
            raise NotFound(_("这位评委不在本轮评委组中。"))
        judging.set_profile(db.session, actor=web.user(), user=user, organisation=form.line("organisation"),
                            title=form.line("title"), school_id=_school_id(form), now=web.now(),
                            ip=web.client_ip())
        return _("评委信息已保存。如所在学校有变化，请重新平衡分配。")
    return _act(round_id, run, "panel")


@bp.post("/rounds/<int:round_id>/rebalance")
def rebalance(round_id: int) -> ResponseReturnValue:
    def run(rnd: Round) -> str:
        plan = judging.rebalance(db.session, actor=web.user(), rnd=rnd, now=web.now(), ip=web.client_ip())
        if plan.shortfalls:
            return _("已重新平衡，但有 %(n)s 件作品评委人数不足，见下方提示。", n=len(plan.shortfalls))
        return _("已重新平衡分配。")
    return _act(round_id, run, "assignment")


@bp.post("/rounds/<int:round_id>/pin")
def pin(round_id: int) -> ResponseReturnValue:
    form = posted()

    def run(rnd: Round) -> str:
        judge_id, entry_id = form.number("judge_id"), form.number("entry_id")
        if judge_id is None or entry_id is None:
            raise InvalidInput(_("请选择评委和作品。"))
        judging.pin(db.session, actor=web.user(), rnd=rnd, judge_id=judge_id, entry_id=entry_id, now=web.now(),
                    ip=web.client_ip())
        return _("已指定评委，重新平衡时会保留。")
    return _act(round_id, run, "assignment")


def _pair(raw: str) -> tuple[int, int] | None:
    """An assignment picked as "<entry id>:<judge id>"."""
    entry, _sep, judge = raw.partition(":")
    return (int(entry), int(judge)) if entry.isdigit() and judge.isdigit() and len(entry + judge) < 19 else None


@bp.post("/rounds/<int:round_id>/unassign")
def unassign(round_id: int) -> ResponseReturnValue:
    form = posted()

    def run(rnd: Round) -> str:
        pair = _pair(form.text("pair"))
        if pair is None:
            raise InvalidInput(_("请选择要撤下的分配。"))
        judging.unassign(db.session, actor=web.user(), rnd=rnd, entry_id=pair[0], judge_id=pair[1],
                         reason=form.text("reason"), now=web.now(), ip=web.client_ip())
        return _("已撤下这位评委，重新平衡时不会再分给他。")
    return _act(round_id, run, "assignment", values={"reason": form.text("reason", 300), "pair": form.text("pair", 20)})


# --- the dashboard ---------------------------------------------------------------------


def _dashboard_page(round_id: int, *, status: int = 200, error: str = "", values: dict[str, str] | None = None,
                    ) -> tuple[str, int]:
    page = presenters.dashboard(db.session, actor=web.user(), rnd=judging.get_round(db.session, round_id))
    return render_template("admin/judging/dashboard.html", **vars(page), error=error, values=values or {},
                           form=EmptyForm()), status


@bp.get("/rounds/<int:round_id>/dashboard")
def dashboard(round_id: int) -> tuple[str, int]:
    return _dashboard_page(round_id)


@bp.post("/rounds/<int:round_id>/scores/reopen")
def reopen_score(round_id: int) -> ResponseReturnValue:
    form = posted()

    def run(rnd: Round) -> str:
        entry_id, judge_id = form.number("entry_id"), form.number("judge_id")
        if entry_id is None or judge_id is None:
            raise NotFound(_("没有这份评分。"))
        score = judging.get_score(db.session, rnd, entry_id, judge_id)
        judging.reopen_score(db.session, actor=web.user(), score=score, reason=form.text("reason"),
                             now=web.now(), ip=web.client_ip())
        return _("评分已退回给评委修改。")
    return _act(round_id, run, "scores", page=_dashboard_page, endpoint="judging_admin.dashboard",
                values={"reason": form.text("reason", 300)})


@bp.post("/rounds/<int:round_id>/advance")
def advance(round_id: int) -> ResponseReturnValue:
    """From the dashboard of a finalised round: its best entries into another round."""
    return _advance(round_id, posted().number("target_id"), from_target=False)


@bp.post("/rounds/<int:round_id>/advance-from")
def advance_from(round_id: int) -> ResponseReturnValue:
    """From the overview of a later round: the best entries of a finalised round into it."""
    return _advance(posted().number("source_id"), round_id, from_target=True)


def _advance(source_id: int | None, target_id: int | None, *, from_target: bool) -> ResponseReturnValue:
    """First post: the preview (the operation run in a savepoint and rolled back).
    Second post (confirm=1, same fields): the operation."""
    session = db.session
    form = posted()
    values = {k: form.text(k, 20) for k in ("source_id", "target_id", "mode", "top_n", "threshold")}
    values["back"] = "target" if from_target else "dashboard"
    by_top = values["mode"] != "threshold"
    top_n = form.number("top_n") if by_top else None
    threshold = None if by_top else form.decimal("threshold")
    try:
        if source_id is None or target_id is None:
            raise InvalidInput(_("请选择晋级到哪一轮。") if not from_target else _("请选择来源轮次。"))
        source, target = judging.get_round(session, source_id), judging.get_round(session, target_id)
        if by_top and top_n is None:
            raise InvalidInput(_("请填写晋级名额。"))
        if not by_top and threshold is None:
            raise InvalidInput(_("请填写分数线。"))

        def run() -> int:
            return judging.advance(session, actor=web.user(), rnd=source, target=target, top_n=top_n,
                                   threshold=threshold, now=web.now(), ip=web.client_ip())

        if not form.is_set("confirm"):
            savepoint = session.begin_nested()
            try:
                added = run()
            finally:
                savepoint.rollback()
            preview = presenters.advance_preview(session, source, top_n=top_n, threshold=threshold)
            return render_template(
                "admin/judging/advance_confirm.html", rnd=source, target=target, added=added, values=values,
                passing=preview.passing, top_n=top_n, threshold=threshold, entries=preview.entries,
                from_target=from_target, form=EmptyForm()), 200
        added = run()
    except DomainError as exc:
        web.settle_failure(exc)
        if from_target:
            return _overview_page(target_id or 0, status=exc.status, error=exc.message, values=values)
        return _dashboard_page(source_id or 0, status=exc.status, error=exc.message, values=values)
    session.commit()
    flash(_("已将 %(n)s 件作品晋级到“%(name)s”。", n=added, name=target.name), "success")
    return redirect(url_for("judging_admin.round_view", round_id=target.id, _anchor="entries"))


# --- the live final ----------------------------------------------------------------


def _live_page(round_id: int, *, status: int = 200, error: str = "", values: dict[str, str] | None = None,
               ) -> tuple[str, int]:
    desk = presenters.live_desk(db.session, judging.get_round(db.session, round_id))
    return render_template("admin/judging/live.html", **vars(desk), screen_url=_screen_url(desk.rnd), error=error,
                           form=EmptyForm()), status


@bp.get("/rounds/<int:round_id>/live")
def live(round_id: int) -> tuple[str, int]:
    return _live_page(round_id)


@bp.post("/rounds/<int:round_id>/live")
def set_live_entry(round_id: int) -> ResponseReturnValue:
    entry_id = posted().number("entry_id")

    def run(rnd: Round) -> str:
        judging.set_live_entry(db.session, actor=web.user(), rnd=rnd, entry_id=entry_id, now=web.now(), ip=web.client_ip())
        if entry_id is None:
            return _("已清空舞台。")
        entry = contests.entries_by_id(db.session, [entry_id], approved_only=False).get(entry_id)
        return _("“%(title)s”已上台。", title=entry.title if entry else "")
    return _act(round_id, run, "pitches", page=_live_page, endpoint="judging_admin.live")
