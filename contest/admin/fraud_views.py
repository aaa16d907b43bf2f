"""Fraud review (刷票审查): contests with voting, entries by suspicion, one entry's votes
per hour and sources, and voiding or releasing votes by pick or by rule.

Every void or release is shown first as a preview ("将作废 N 票") whose confirm button
carries the same parameters and the count; the service refuses the confirmation when
the rule has come to match another number of votes meanwhile.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from .. import web
from ..errors import DomainError
from ..extensions import db
from ..forms import Posted, posted
from ..i18n import _
from ..voting import live, review
from .access import organisers_only
from .forms import EmptyForm
from .fraud_presenters import hour_chart

bp = Blueprint("fraud", __name__, url_prefix="/admin/fraud")
HOUR_CHOICES = (24, 48, 72, 168)
FORM_KEYS = ("mode", "ip_range", "start", "end", "phones", "scope", "reason")


bp.before_request(organisers_only)


@bp.get("/")
def index() -> str:
    items = review.contests_with_voting(db.session, actor=web.user(), now=web.now())
    return render_template("admin/fraud_index.html", items=items)


@bp.get("/<int:contest_id>")
def contest(contest_id: int) -> str:
    overview = review.contest_overview(db.session, actor=web.user(), contest_id=contest_id, now=web.now())
    return render_template("admin/fraud_contest.html", overview=overview, contest=overview.contest)


def _hours() -> int | None:
    raw = request.args.get("hours", "")
    return int(raw) if raw.isdigit() and int(raw) in HOUR_CHOICES else None


def _entry_page(entry_id: int, *, status: int = 200, error: str = "", values: dict[str, Any] | None = None) -> tuple[str, int]:
    now, hours = web.now(), _hours()
    report = review.entry_report(db.session, actor=web.user(), entry_id=entry_id, now=now, hours=hours)
    return render_template("admin/fraud_entry.html", report=report, entry=report.entry, chart=hour_chart(report),
                           hours=hours, hour_choices=HOUR_CHOICES, default_whole=review.report_period(report.contest, now, None)[2],
                           error=error, values=values or {}, form=EmptyForm()), status


@bp.get("/entries/<int:entry_id>")
def entry(entry_id: int) -> tuple[str, int]:
    # The source tables' "按此设规则" links and the confirmation's "返回修改" fill the rule form in.
    values = {k: request.args.get(k, "")[:60] for k in ("ip_range", "start", "end", "scope")}
    return _entry_page(entry_id, values=values)


@bp.post("/entries/<int:entry_id>/void")
def void(entry_id: int) -> ResponseReturnValue:
    return _act(entry_id, "voided")


@bp.post("/entries/<int:entry_id>/release")
def release(entry_id: int) -> ResponseReturnValue:
    return _act(entry_id, "valid")


def _selection(form: Posted, values: dict[str, Any], contest_id: int, entry_id: int) -> dict[str, Any]:
    if values["mode"] == "pick":
        return {"vote_ids": values["vote_ids"]}
    return {"rule": review.parse_rule_form(form.data, contest_id=contest_id, entry_id=entry_id)}


def _act(entry_id: int, to: str) -> ResponseReturnValue:
    """First post: the preview. Second post (confirm=1, with the previewed count): the action."""
    form = posted()
    values: dict[str, Any] = {k: form.text(k) for k in FORM_KEYS}
    values["vote_ids"] = review.parse_vote_ids(form.values("vote_ids"))
    entry = review.entry_under_review(db.session, actor=web.user(), entry_id=entry_id)
    contest_id = entry.contest_id
    try:
        selection = _selection(form, values, contest_id, entry_id)
        if not form.is_set("confirm"):
            return _confirm_page(entry_id, contest_id, to, values, selection)
        act = review.void_votes if to == "voided" else review.release_votes
        result = act(db.session, actor=web.user(), contest_id=contest_id, reason=values["reason"], now=web.now(),
                     ip=web.client_ip(), expected_count=form.number("expected", digits=None), **selection)
    except review.SelectionChanged as exc:
        db.session.rollback()
        return _confirm_page(entry_id, contest_id, to, values, selection, status=exc.status, error=exc.message)
    except DomainError as exc:
        web.settle_failure(exc)
        return _entry_page(entry_id, status=exc.status, error=exc.message, values=values)
    db.session.commit()
    # Live counters and leaderboards follow the database (live handles Redis being down).
    live.after_status_change(db.session, web.redis_client(), contest_id, result.entry_ids)
    message = _("已作废 %(n)s 票。", n=result.changed) if to == "voided" else _("已放行 %(n)s 票，现已计入票数。", n=result.changed)
    flash(message, "success")
    return redirect(url_for("fraud.entry", entry_id=entry_id))


def _confirm_page(entry_id: int, contest_id: int, to: str, values: dict[str, Any], selection: dict[str, Any], *,
                  status: int = 200, error: str = "") -> tuple[str, int]:
    preview = review.preview_change(db.session, actor=web.user(), contest_id=contest_id, to=to, reason=values["reason"],
                                    **selection)
    verb = _("作废") if to == "voided" else _("放行")
    return render_template("admin/fraud_confirm.html", preview=preview, described=review.describe(preview.described),
                           entry_id=entry_id, to=to, verb=verb, values=values, error=error, form=EmptyForm()), status
