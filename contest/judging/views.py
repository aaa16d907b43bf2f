"""The judges' pages (their rounds, the 回避 declaration, the queue, scoring one entry),
invitation links, and the big screen of a live final (路演).

Decisions:
- Who may do what is the service's call; these views only turn its refusals into pages.
  The one refusal handled here is "declaration_required": the queue and the entry pages
  send the judge to the declaration instead of showing an error.
- What a judge may see of an entry is decided in one place, `visibility.what_judge_sees`: in a blind
  round never the school, the nominee's name or the team's names.
- A submitted score is locked, so submitting is confirmed first: with script by a
  dialog, without it by the page coming back with the confirmation. An unconfirmed
  submission is tried through the service inside a savepoint and undone, so the judge
  is only asked to confirm what would be accepted, and nothing is stored until then.
- The big screen is for organisers and the round's judges (service.live_board_for).
  It renders completely on the server; judging.js then polls screen.json and updates
  the same elements with textContent only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import Blueprint, Response, flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from .. import web
from ..accounts.models import User
from ..contests.models import Entry
from ..errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from ..extensions import db, limiter, login_manager
from ..forms import Posted, posted
from ..i18n import _
from ..media import service as media
from . import presenters
from . import service as judging
from .models import PanelMember, Round, Score
from .presenters import KIND_LABELS, ROLE_LABELS, RubricForm, form_of, running_total
from .visibility import what_judge_sees

bp = Blueprint("judging", __name__, url_prefix="/judge")


# --- access helpers ------------------------------------------------------------------------


def _judge() -> User:
    return web.user()


def _panel_member(rnd: Round, user: User) -> PanelMember:
    """The user's place on the round's panel, declared or not; Forbidden for anyone else."""
    try:
        return judging.require_declared(db.session, rnd, user)
    except Forbidden as exc:
        if exc.code != "declaration_required":
            raise
    member = judging.membership(db.session, rnd, user)
    assert member is not None  # require_declared checked it
    return member


def _to_declaration(exc: Forbidden, rnd: Round) -> ResponseReturnValue:
    if exc.code != "declaration_required":
        raise exc
    flash(exc.message, "info")
    return redirect(url_for("judging.declaration", round_id=rnd.id))


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


# --- the judge's rounds --------------------------------------------------------------------


@bp.get("/")
@login_required
def index() -> Response:
    rounds = judging.judge_rounds(db.session, _judge())
    return _no_store(Response(render_template(
        "judging/index.html", rounds=rounds, state_label=judging.state_label, kind_labels=KIND_LABELS,
    )))


# --- invitations ---------------------------------------------------------------------------


@bp.route("/invite/<token>", methods=["GET", "POST"])
@limiter.limit("30 per minute", key_func=web.client_ip, error_message=lambda: _("操作太频繁，请稍后再试。"))
def invite(token: str) -> ResponseReturnValue:
    found = judging.find_invite(db.session, token, web.now())
    rnd = judging.get_round(db.session, found.round_id) if found.round_id else None
    if rnd is None:
        raise NotFound(_("邀请对应的轮次已不存在。"))
    if request.method == "GET":
        return _no_store(Response(render_template("judging/invite.html", invite=found, round=rnd, token=token)))
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    judging.accept_invite(db.session, token=token, user=_judge(), now=web.now(), ip=web.client_ip())
    db.session.commit()
    flash(_("您已加入“%(round)s”评委组。", round=rnd.name), "success")
    if rnd.state == "draft":
        flash(_("评审开始后，您可以在这里签署回避声明并评分。"), "info")
        return redirect(url_for("judging.index"))
    return redirect(url_for("judging.declaration", round_id=rnd.id))


# --- the 回避 declaration -------------------------------------------------------------------


def _declaration_page(rnd: Round, member: PanelMember, *, status: int = 200, error: DomainError | None = None,
                      ticked: Sequence[int] = (), note: str = "") -> tuple[str, int]:
    lines = presenters.declaration_lines(db.session, rnd, _judge())
    return render_template(
        "judging/declaration.html", round=rnd, member=member, lines=lines, ticked=set(ticked), note=note,
        error=error.message if error else "", error_field=(error.field or "") if error else "",
    ), status


@bp.route("/rounds/<int:round_id>/declaration", methods=["GET", "POST"])
@login_required
def declaration(round_id: int) -> ResponseReturnValue:
    rnd = judging.get_round(db.session, round_id)
    member = _panel_member(rnd, _judge())
    if request.method == "GET":
        return _declaration_page(rnd, member)
    form = posted()
    ticked, note = form.ids("conflict"), form.text("note", 300)
    try:
        judging.sign_declaration(db.session, judge=_judge(), rnd=rnd, conflict_entry_ids=ticked, note=note,
                                 accepted=form.is_set("accept", "yes"), now=web.now(), ip=web.client_ip())
    except InvalidInput as exc:
        db.session.rollback()
        return _declaration_page(rnd, member, status=exc.status, error=exc, ticked=ticked, note=note)
    db.session.commit()
    flash(_("回避声明已签署。") if not ticked else _("回避声明已签署，您申报的 %(n)d 件作品已回避。", n=len(ticked)), "success")
    return redirect(url_for("judging.queue", round_id=rnd.id))


# --- the queue -----------------------------------------------------------------------------


@bp.get("/rounds/<int:round_id>")
@login_required
def queue(round_id: int) -> ResponseReturnValue:
    rnd = judging.get_round(db.session, round_id)
    judge = _judge()
    try:
        q = presenters.judge_queue(db.session, rnd, judge)
    except Forbidden as exc:
        return _to_declaration(exc, rnd)
    results = presenters.result_for_judge(db.session, rnd, judge, {r.entry.id for r in q.rows})
    titles = {r.entry.id: r.entry.title for r in q.rows}
    return _no_store(Response(render_template(
        "judging/queue.html", round=rnd, queue=q, results=results, titles=titles, state_label=judging.state_label,
        kind_labels=KIND_LABELS, live=rnd.kind == "live" and rnd.state == "open",
    )))


# --- scoring one entry ---------------------------------------------------------------------


def _entry_page(rnd: Round, entry: Entry, score: Score | None, form: RubricForm, *, status: int = 200,
                notice: str = "") -> Response:
    seen = what_judge_sees(entry, media.media_of(db.session, entry.id), blind=rnd.blind)
    locked = score is not None and score.status == "submitted"
    shown = form
    if locked:  # what was stored, not what was sent
        shown = form_of(score)
        shown.error, shown.error_field = form.error, ""
    html = render_template(
        "judging/entry.html", round=rnd, entry=seen, score=score, form=shown, locked=locked,
        total=running_total(rnd, shown.values), notice=notice, role_labels=ROLE_LABELS,
        can_score=rnd.state == "open" and not locked,
        off_stage=rnd.kind == "live" and rnd.live_entry_id != entry.id and (score is None or score.status != "draft"),
    )
    return _no_store(Response(html, status=status, mimetype="text/html"))


def _posted_form(rnd: Round, form: Posted) -> RubricForm:
    return RubricForm({str(c.id): form.text(f"c{c.id}", 20) for c in rnd.criteria},
                      form.text("comment", judging.COMMENT_MAX + 100))


def _raw_values(form: Posted) -> dict[str, str]:
    """Every posted c<number> field, keyed by criterion id; the service refuses strangers."""
    return {k: v for k, v in form.prefixed("c").items() if k.isdigit()}


def _after_submit(rnd: Round, judge: User, entry_id: int) -> ResponseReturnValue:
    if rnd.kind != "live":
        q = presenters.judge_queue(db.session, rnd, judge)
        following = [r.entry.id for r in q.rows if r.status != "submitted" and r.entry.id != entry_id]
        if following:
            return redirect(url_for("judging.entry", round_id=rnd.id, entry_id=following[0]))
        flash(_("您已完成本轮全部评分，谢谢！"), "success")
    return redirect(url_for("judging.queue", round_id=rnd.id))


@bp.route("/rounds/<int:round_id>/entries/<int:entry_id>", methods=["GET", "POST"])
@login_required
def entry(round_id: int, entry_id: int) -> ResponseReturnValue:
    rnd = judging.get_round(db.session, round_id)
    judge = _judge()
    try:
        found, score = judging.entry_for_judge(db.session, judge=judge, rnd=rnd, entry_id=entry_id)
    except Forbidden as exc:
        if request.method == "POST":
            raise
        return _to_declaration(exc, rnd)
    if request.method == "GET":
        return _entry_page(rnd, found, score, form_of(score))
    fields = posted()
    form, submit = _posted_form(rnd, fields), fields.is_set("action", "submit")
    confirmed = not submit or fields.is_set("confirmed")
    try:
        # Unconfirmed, the submission is tried and undone: the judge is asked to confirm
        # only what the service would accept, and its refusals show at once.
        with db.session.begin_nested() as attempt:
            judging.save_score(db.session, judge=judge, rnd=rnd, entry_id=found.id, raw_values=_raw_values(fields),
                               comment=form.comment, submit=submit, now=web.now(), ip=web.client_ip())
            if not confirmed:
                attempt.rollback()
    except (InvalidInput, Conflict) as exc:
        db.session.rollback()
        form.error, form.error_field = exc.message, exc.field or ""
        return _entry_page(rnd, found, score, form, status=exc.status)
    if not confirmed:
        db.session.rollback()
        form.confirming = True
        return _entry_page(rnd, found, score, form)
    db.session.commit()
    if not submit:
        flash(_("草稿已保存。提交前您可以随时修改。"), "success")
        return redirect(url_for("judging.entry", round_id=rnd.id, entry_id=found.id))
    flash(_("“%(title)s”的评分已提交。", title=what_judge_sees(found, blind=rnd.blind).title), "success")
    return _after_submit(rnd, judge, found.id)


# --- the big screen of a live final --------------------------------------------------------


def _board(round_id: int) -> dict[str, Any]:
    rnd = judging.get_round(db.session, round_id)
    return presenters.screen_payload(db.session, judging.live_board_for(db.session, viewer=web.user(), rnd=rnd), web.now())


@bp.get("/rounds/<int:round_id>/screen")
@login_required
def screen(round_id: int) -> Response:
    board = _board(round_id)
    return _no_store(Response(render_template("judging/screen.html", board=board, round_id=round_id)))


@bp.get("/rounds/<int:round_id>/screen.json")
@login_required
def screen_json(round_id: int) -> Response:
    return _no_store(jsonify(_board(round_id)))
