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
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Response, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from .. import web
from ..accounts.models import User
from ..contests.models import Entry
from ..errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from ..extensions import db, limiter, login_manager
from ..i18n import N_, _
from ..media import service as media
from . import aggregate
from . import service as judging
from .models import PanelMember, Round, Score
from .visibility import EntryForJudge, load_people, what_judge_sees

bp = Blueprint("judging", __name__, url_prefix="/judge")

# Marked for extraction here, translated where shown.
ROLE_LABELS = {"leader": N_("负责人"), "member": N_("成员"), "advisor": N_("指导教师")}
STATUS_LABELS = {"todo": N_("待评"), "draft": N_("草稿"), "submitted": N_("已提交")}
KIND_LABELS = {"review": N_("网络评审"), "live": N_("现场路演")}


# --- access helpers ------------------------------------------------------------------------


def _judge() -> User:
    user = web.actor()
    assert user is not None  # login_required
    return user


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


def _to_declaration(exc: Forbidden, rnd: Round) -> Response:
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
def invite(token: str) -> Response:
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


@dataclass(frozen=True)
class DeclarationLine:
    entry: EntryForJudge
    excluded: str  # "" or the source of an existing conflict: affiliation | declared | organiser


def _declaration_page(rnd: Round, member: PanelMember, *, status: int = 200, error: DomainError | None = None,
                      ticked: Sequence[int] = (), note: str = "") -> tuple[str, int]:
    judge = _judge()
    excluded = {c.entry_id: c.source for c in judging.round_conflicts(db.session, rnd, [judge.id])}
    entries = judging.round_entries(db.session, rnd)
    load_people(db.session, entries)
    lines = [DeclarationLine(what_judge_sees(e, blind=rnd.blind), excluded.get(e.id, "")) for e in entries]
    return render_template(
        "judging/declaration.html", round=rnd, member=member, lines=lines, ticked=set(ticked), note=note,
        error=error.message if error else "", error_field=(error.field or "") if error else "",
    ), status


def _ids(raw: list[str]) -> list[int]:
    return [int(v) for v in raw if v.isdigit() and len(v) < 10]


@bp.route("/rounds/<int:round_id>/declaration", methods=["GET", "POST"])
@login_required
def declaration(round_id: int) -> Response | tuple[str, int]:
    rnd = judging.get_round(db.session, round_id)
    member = _panel_member(rnd, _judge())
    if request.method == "GET":
        return _declaration_page(rnd, member)
    ticked, note = _ids(request.form.getlist("conflict")), request.form.get("note", "")[:300]
    try:
        judging.sign_declaration(db.session, judge=_judge(), rnd=rnd, conflict_entry_ids=ticked, note=note,
                                 accepted=request.form.get("accept") == "yes", now=web.now(), ip=web.client_ip())
    except InvalidInput as exc:
        db.session.rollback()
        return _declaration_page(rnd, member, status=exc.status, error=exc, ticked=ticked, note=note)
    db.session.commit()
    flash(_("回避声明已签署。") if not ticked else _("回避声明已签署，您申报的 %(n)d 件作品已回避。", n=len(ticked)), "success")
    return redirect(url_for("judging.queue", round_id=rnd.id))


# --- the queue -----------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueRow:
    entry: EntryForJudge
    status: str  # todo | draft | submitted
    on_stage: bool

    @property
    def status_label(self) -> str:
        return _(STATUS_LABELS[self.status])


@dataclass(frozen=True)
class Queue:
    rows: list[QueueRow]
    submitted: int
    next_entry_id: int | None  # the first entry not yet submitted

    @property
    def total(self) -> int:
        return len(self.rows)


def _queue(rnd: Round, judge: User) -> Queue:
    items = judging.judge_queue(db.session, judge=judge, rnd=rnd)
    load_people(db.session, [i.entry for i in items])
    rows = [QueueRow(what_judge_sees(i.entry, blind=rnd.blind), i.status, rnd.live_entry_id == i.entry.id) for i in items]
    pending = [r.entry.id for r in rows if r.status != "submitted"]
    return Queue(rows, sum(1 for r in rows if r.status == "submitted"), pending[0] if pending else None)


def _result_for_judge(rnd: Round, judge: User, entry_ids: set[int]) -> list[aggregate.EntryResult]:
    """After the round closes, the judge may see the round's aggregate (their entries)."""
    if rnd.state not in ("closed", "finalised"):
        return []
    result = judging.visible_result(db.session, viewer=judge, rnd=rnd)
    return [item for item in result.entries if item.entry_id in entry_ids]


@bp.get("/rounds/<int:round_id>")
@login_required
def queue(round_id: int) -> Response:
    rnd = judging.get_round(db.session, round_id)
    judge = _judge()
    try:
        q = _queue(rnd, judge)
    except Forbidden as exc:
        return _to_declaration(exc, rnd)
    results = _result_for_judge(rnd, judge, {r.entry.id for r in q.rows})
    titles = {r.entry.id: r.entry.title for r in q.rows}
    return _no_store(Response(render_template(
        "judging/queue.html", round=rnd, queue=q, results=results, titles=titles, state_label=judging.state_label,
        kind_labels=KIND_LABELS, live=rnd.kind == "live" and rnd.state == "open",
    )))


# --- scoring one entry ---------------------------------------------------------------------


@dataclass
class RubricForm:
    """The rubric as the judge filled it in: the text of each value as typed, so a refused
    form comes back exactly as sent."""

    values: dict[str, str] = field(default_factory=dict)  # criterion id → text
    comment: str = ""
    error: str = ""
    error_field: str = ""
    confirming: bool = False  # submit pressed without script: the page asks to confirm


def _text(value: Any) -> str:
    return f"{float(value):g}" if isinstance(value, int | float) else str(value)


def _form_of(score: Score | None) -> RubricForm:
    if score is None:
        return RubricForm()
    return RubricForm({k: _text(v) for k, v in (score.values or {}).items()}, score.comment or "")


def _criteria(rnd: Round) -> list[aggregate.Criterion]:
    return [aggregate.Criterion(id=c.id, name=c.name, maximum=c.maximum, weight=c.weight) for c in rnd.criteria]


@dataclass(frozen=True)
class RunningTotal:
    value: float
    filled: int  # criteria with a valid value
    of: int

    @property
    def complete(self) -> bool:
        return self.filled == self.of


def running_total(rnd: Round, values: dict[str, str]) -> RunningTotal | None:
    """The weighted total (0–100) of the values given so far, computed as the aggregate
    does (a partial form: the sum of the criteria filled in). None while any value is
    invalid or none is given."""
    try:
        parsed = judging.parse_values(rnd, {k: v for k, v in values.items() if v.strip()}, complete=False)
    except InvalidInput:
        return None
    if not parsed:
        return None
    filled = [c for c in _criteria(rnd) if str(c.id) in parsed]
    total = aggregate.weighted_total(filled, {c.id: parsed[str(c.id)] for c in filled})
    return RunningTotal(total, len(filled), len(rnd.criteria))


def _entry_page(rnd: Round, entry: Entry, score: Score | None, form: RubricForm, *, status: int = 200,
                notice: str = "") -> Response:
    seen = what_judge_sees(entry, media.media_of(db.session, entry.id), blind=rnd.blind)
    locked = score is not None and score.status == "submitted"
    shown = form
    if locked:  # what was stored, not what was sent
        shown = _form_of(score)
        shown.error, shown.error_field = form.error, ""
    html = render_template(
        "judging/entry.html", round=rnd, entry=seen, score=score, form=shown, locked=locked,
        total=running_total(rnd, shown.values), notice=notice, role_labels=ROLE_LABELS,
        can_score=rnd.state == "open" and not locked,
        off_stage=rnd.kind == "live" and rnd.live_entry_id != entry.id and (score is None or score.status != "draft"),
    )
    return _no_store(Response(html, status=status, mimetype="text/html"))


def _posted_form(rnd: Round) -> RubricForm:
    return RubricForm({str(c.id): request.form.get(f"c{c.id}", "")[:20] for c in rnd.criteria},
                      request.form.get("comment", "")[:judging.COMMENT_MAX + 100])


def _raw_values() -> dict[str, str]:
    """Every posted c<number> field, keyed by criterion id; the service refuses strangers."""
    return {k[1:]: v for k, v in request.form.items() if k.startswith("c") and k[1:].isdigit()}


def _after_submit(rnd: Round, judge: User, entry_id: int) -> Response:
    if rnd.kind != "live":
        q = _queue(rnd, judge)
        following = [r.entry.id for r in q.rows if r.status != "submitted" and r.entry.id != entry_id]
        if following:
            return redirect(url_for("judging.entry", round_id=rnd.id, entry_id=following[0]))
        flash(_("您已完成本轮全部评分，谢谢！"), "success")
    return redirect(url_for("judging.queue", round_id=rnd.id))


@bp.route("/rounds/<int:round_id>/entries/<int:entry_id>", methods=["GET", "POST"])
@login_required
def entry(round_id: int, entry_id: int) -> Response:
    rnd = judging.get_round(db.session, round_id)
    judge = _judge()
    try:
        found, score = judging.entry_for_judge(db.session, judge=judge, rnd=rnd, entry_id=entry_id)
    except Forbidden as exc:
        if request.method == "POST":
            raise
        return _to_declaration(exc, rnd)
    if request.method == "GET":
        return _entry_page(rnd, found, score, _form_of(score))
    form, submit = _posted_form(rnd), request.form.get("action") == "submit"
    confirmed = not submit or request.form.get("confirmed") == "1"
    try:
        # Unconfirmed, the submission is tried and undone: the judge is asked to confirm
        # only what the service would accept, and its refusals show at once.
        with db.session.begin_nested() as attempt:
            judging.save_score(db.session, judge=judge, rnd=rnd, entry_id=found.id, raw_values=_raw_values(),
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


def _fixed(value: float | None) -> str:
    return f"{value:.2f}" if value is not None else ""


def _screen_line(line: judging.LiveLine, blind: bool) -> dict[str, Any]:
    seen = what_judge_sees(line.entry, blind=blind)
    complete = line.mean is not None
    return {
        "entry_id": line.entry.id, "title": seen.title, "school": seen.school,
        "team": [p.name for p in seen.team if p.role != "advisor"],
        "judges": line.judges, "submitted": line.submitted, "complete": complete,
        "progress_text": _("已提交 %(k)d/%(n)d", k=line.submitted, n=line.judges),
        "dropped_high": _fixed(line.dropped_high), "dropped_low": _fixed(line.dropped_low),
        "mean": _fixed(line.mean), "rank": line.rank,
    }


def screen_payload(board: judging.LiveBoard) -> dict[str, Any]:
    """What the big screen shows, for the page and for screen.json alike."""
    rnd = board.round
    load_people(db.session, [line.entry for line in [*board.ranking, *([board.current] if board.current else [])]])
    return {
        "round": {"id": rnd.id, "name": rnd.name, "state": rnd.state, "state_label": judging.state_label(rnd.state),
                  "contest": rnd.contest.short_title or rnd.contest.title},
        "current": _screen_line(board.current, rnd.blind) if board.current else None,
        "ranking": [_screen_line(line, rnd.blind) for line in board.ranking],
        "updated_at": web.now().isoformat(),
    }


def _board(round_id: int) -> dict[str, Any]:
    rnd = judging.get_round(db.session, round_id)
    return screen_payload(judging.live_board_for(db.session, viewer=web.actor(), rnd=rnd))


@bp.get("/rounds/<int:round_id>/screen")
@login_required
def screen(round_id: int) -> Response:
    board = _board(round_id)
    return _no_store(Response(render_template("judging/screen.html", board=board, round_id=round_id)))


@bp.get("/rounds/<int:round_id>/screen.json")
@login_required
def screen_json(round_id: int) -> Response:
    return _no_store(jsonify(_board(round_id)))
