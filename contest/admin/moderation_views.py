"""The moderation desk: the queue of entries, one entry's media, decisions and duplicate flags."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from .. import web
from ..actions import run_action
from ..contests import service as contests
from ..contests.models import Entry
from ..db import after_commit
from ..errors import DomainError
from ..extensions import db
from ..forms import posted
from ..i18n import N_, _
from ..media import moderation, withdrawals
from ..voting import live
from .access import organisers_only
from .forms import EmptyForm

bp = Blueprint("moderation", __name__, url_prefix="/admin/moderation")

DONE = {"approve": N_("已通过 %(n)s 件作品。"), "reject": N_("已将 %(n)s 件作品标记为不通过。"),
        "return": N_("已将 %(n)s 件作品退回修改。")}


bp.before_request(organisers_only)


def _queue_page(args: dict[str, str], *, status: int = 200, error: str = "", selected: tuple[int, ...] = (),
                reason: str = "") -> tuple[str, int]:
    query = moderation.parse_queue_query(args)
    actor = web.user()
    items, total = moderation.moderation_queue(db.session, actor=actor, contest_id=query.contest_id,
                                               status=query.status, page=query.page)
    page = contests.Page(items, total, query.page, moderation.PER_PAGE)
    return render_template(
        "admin/moderation_queue.html", page=page, query=query, error=error, selected=selected, reason=reason,
        counts=moderation.queue_counts(db.session, actor=actor, contest_id=query.contest_id),
        contest_list=contests.back_office_contests(db.session, actor=actor, capability="moderate"), form=EmptyForm(),
        statuses=moderation.QUEUE_STATUSES, status_label=moderation.status_label,
        withdrawals_waiting=len(withdrawals.waiting(db.session, actor=actor)),
    ), status


def _withdrawals_page(*, status: int = 200, error: str = "", chosen: int | None = None, reason: str = "") -> tuple[str, int]:
    waiting = withdrawals.waiting(db.session, actor=web.user())
    return render_template("admin/withdrawals.html", waiting=waiting, entries=withdrawals.entries_of(db.session, waiting),
                           error=error, chosen=chosen, reason=reason, form=EmptyForm()), status


@bp.get("/withdrawals")
def withdrawal_requests() -> tuple[str, int]:
    return _withdrawals_page()


@bp.post("/withdrawals/<int:request_id>")
def decide_withdrawal(request_id: int) -> ResponseReturnValue:
    form = posted()
    approve, reason = form.text("decision") == "approve", form.text("reason")

    def operation() -> object:
        decided = withdrawals.decide_withdrawal(db.session, web.sms_sender(), actor=web.user(), request_id=request_id,
                                                approve=approve, reason=reason, now=web.now(), ip=web.client_ip())
        if approve:  # the entry leaves the leaderboards once committed
            redis, contest_ids = web.redis_client(), {withdrawals.contest_of(db.session, decided)}
            after_commit(db.session, lambda: live.after_entries_changed(redis, contest_ids))
        return decided

    return run_action(
        operation,
        refused=lambda exc: _withdrawals_page(status=exc.status, error=exc.message, chosen=request_id, reason=reason),
        success=_("已批准撤回，作品不再参加评比。") if approve else _("已不批准撤回，作品继续参加评比。"),
        redirect_to=url_for("moderation.withdrawal_requests"))


def _entry_page(entry_id: int, *, status: int = 200, error: str = "", reason: str = "") -> tuple[str, int]:
    item = moderation.entry_for_review(db.session, actor=web.user(), entry_id=entry_id)
    return render_template("admin/moderation_entry.html", item=item, entry=item.entry, error=error, reason=reason,
                           form=EmptyForm(), status_label=moderation.status_label), status


@bp.get("/")
def queue() -> tuple[str, int]:
    return _queue_page(request.args.to_dict())


@bp.get("/<int:entry_id>")
def entry(entry_id: int) -> tuple[str, int]:
    return _entry_page(entry_id)


@bp.post("/decide")
def decide() -> ResponseReturnValue:
    form = posted()
    ids, decision, reason = form.ids("entry_ids"), form.text("decision"), form.text("reason")

    def refused(exc: DomainError) -> tuple[str, int]:
        # The form comes back with what was chosen and typed, and the reason it was refused.
        from_entry = form.number("from_entry")
        if from_entry is not None:
            return _entry_page(from_entry, status=exc.status, error=exc.message, reason=reason)
        filters = {k: form.text(k) for k in ("contest", "status", "page")}
        return _queue_page(filters, status=exc.status, error=exc.message, selected=tuple(ids), reason=reason)

    def operation() -> list[Entry]:
        decided = moderation.decide(db.session, web.sms_sender(), actor=web.user(), entry_ids=ids, decision=decision,
                                    reason=reason, now=web.now(), ip=web.client_ip())
        # An entry approved joins the leaderboards, one rejected leaves them: once committed.
        redis, contest_ids = web.redis_client(), {entry.contest_id for entry in decided}
        after_commit(db.session, lambda: live.after_entries_changed(redis, contest_ids))
        return decided

    return run_action(
        operation,
        refused=refused, success=lambda decided: _(DONE[decision], n=len(decided)),
        redirect_to=web.safe_next(form.text("next"), url_for("moderation.queue")))


@bp.post("/flags/<int:flag_id>/resolve")
def resolve_flag(flag_id: int) -> ResponseReturnValue:
    moderation.resolve_duplicate_flag(db.session, actor=web.user(), flag_id=flag_id, now=web.now(), ip=web.client_ip())
    db.session.commit()
    flash(_("已标记为已处理。"), "success")
    return redirect(web.safe_next(posted().text("next"), url_for("moderation.queue")))
