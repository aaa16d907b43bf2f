"""Fraud review (刷票审查): contests with voting, entries by suspicion, one entry's votes
per hour and sources, and voiding or releasing votes by pick or by rule.

Every void or release is shown first as a preview ("将作废 N 票") whose confirm button
carries the same parameters and the count; the service refuses the confirmation when
the rule has come to match another number of votes meanwhile.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for

from .. import web
from ..clock import to_local
from ..errors import DomainError
from ..extensions import db
from ..i18n import _
from ..voting import live, review
from ..voting.review import EntryReport, HourBucket
from .access import organisers_only
from .forms import EmptyForm

bp = Blueprint("fraud", __name__, url_prefix="/admin/fraud")
HOUR_CHOICES = (24, 48, 72, 168)
FORM_KEYS = ("mode", "ip_range", "start", "end", "phones", "scope", "reason")


bp.before_request(organisers_only)


@bp.get("/")
def index() -> str:
    items = review.contests_with_voting(db.session, actor=web.actor(), now=web.now())
    return render_template("admin/fraud_index.html", items=items)


@bp.get("/<int:contest_id>")
def contest(contest_id: int) -> str:
    overview = review.contest_overview(db.session, actor=web.actor(), contest_id=contest_id)
    return render_template("admin/fraud_contest.html", overview=overview, contest=overview.contest)


def _hours() -> int | None:
    raw = request.args.get("hours", "")
    return int(raw) if raw.isdigit() and int(raw) in HOUR_CHOICES else None


def _entry_page(entry_id: int, *, status: int = 200, error: str = "", values: dict[str, Any] | None = None) -> tuple[str, int]:
    now, hours = web.now(), _hours()
    report = review.entry_report(db.session, actor=web.actor(), entry_id=entry_id, now=now, hours=hours)
    return render_template("admin/fraud_entry.html", report=report, entry=report.entry, chart=hour_chart(report),
                           hours=hours, hour_choices=HOUR_CHOICES, default_whole=review.report_period(report.contest, now, None)[2],
                           error=error, values=values or {}, form=EmptyForm()), status


@bp.get("/entries/<int:entry_id>")
def entry(entry_id: int) -> tuple[str, int]:
    # The source tables' "按此设规则" links and the confirmation's "返回修改" fill the rule form in.
    values = {k: request.args.get(k, "")[:60] for k in ("ip_range", "start", "end", "scope")}
    return _entry_page(entry_id, values=values)


@bp.post("/entries/<int:entry_id>/void")
def void(entry_id: int) -> Response | tuple[str, int]:
    return _act(entry_id, "voided")


@bp.post("/entries/<int:entry_id>/release")
def release(entry_id: int) -> Response | tuple[str, int]:
    return _act(entry_id, "valid")


def _selection(values: dict[str, Any], contest_id: int, entry_id: int) -> dict[str, Any]:
    if values["mode"] == "pick":
        return {"vote_ids": values["vote_ids"]}
    return {"rule": review.parse_rule_form(request.form, contest_id=contest_id, entry_id=entry_id)}


def _act(entry_id: int, to: str) -> Response | tuple[str, int]:
    """First post: the preview. Second post (confirm=1, with the previewed count): the action."""
    if not EmptyForm().validate():
        abort(400)
    values: dict[str, Any] = {k: request.form.get(k, "") for k in FORM_KEYS}
    values["vote_ids"] = review.parse_vote_ids(request.form.getlist("vote_ids"))
    entry = review.entry_under_review(db.session, actor=web.actor(), entry_id=entry_id)
    contest_id = entry.contest_id
    expected = request.form.get("expected", "")
    try:
        selection = _selection(values, contest_id, entry_id)
        if request.form.get("confirm") != "1":
            return _confirm_page(entry_id, contest_id, to, values, selection)
        act = review.void_votes if to == "voided" else review.release_votes
        result = act(db.session, actor=web.actor(), contest_id=contest_id, reason=values["reason"], now=web.now(),
                     ip=web.client_ip(), expected_count=int(expected) if expected.isdigit() else None, **selection)
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
    preview = review.preview_change(db.session, actor=web.actor(), contest_id=contest_id, to=to, reason=values["reason"],
                                    **selection)
    verb = _("作废") if to == "voided" else _("放行")
    return render_template("admin/fraud_confirm.html", preview=preview, described=review.describe(preview.described),
                           entry_id=entry_id, to=to, verb=verb, values=values, error=error, form=EmptyForm()), status


# --- the votes-per-hour chart, drawn on the server as SVG --------------------------------

@dataclass(frozen=True)
class Segment:
    status: str
    y: float
    height: float


@dataclass(frozen=True)
class Bar:
    x: float
    width: float
    bucket: HourBucket
    segments: list[Segment]
    label: str


@dataclass(frozen=True)
class Tick:
    pos: float
    text: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    plot_left: int
    plot_top: int
    plot_right: int
    plot_bottom: int
    bars: list[Bar]
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    wide: bool


def _nice_step(peak: int, ticks: int = 4) -> int:
    raw = max(peak / ticks, 1)
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def _hour_label(bucket: HourBucket) -> str:
    local = to_local(bucket.start)
    end = to_local(bucket.start).hour + 1
    return _("%(d)s %(h)s:00–%(e)s:00：有效 %(v)s 票，待审 %(k)s 票，作废 %(x)s 票",
             d=f"{local.month}月{local.day}日", h=f"{local.hour:02d}", e=f"{end:02d}", v=bucket.valid, k=bucket.held,
             x=bucket.voided)


def hour_chart(report: EntryReport) -> Chart:
    """Geometry of a stacked bar chart (valid at the bottom, then held, then voided), one bar per hour."""
    n = len(report.hours)
    pitch = 12 if n <= 48 else 8 if n <= 96 else 6
    left, top, right, bottom = 40, 12, 40, 40  # y labels on both sides: a scrolled chart keeps one
    plot_h = 180
    width, height = left + n * pitch + right, top + plot_h + bottom
    step = _nice_step(max((b.total for b in report.hours), default=0))
    peak = max(step, step * math.ceil(max((b.total for b in report.hours), default=0) / step))
    scale = plot_h / peak
    base = top + plot_h
    bars = []
    for i, bucket in enumerate(report.hours):
        y, segments = float(base), []
        for status in ("valid", "held", "voided"):
            count = getattr(bucket, status)
            if count:
                y -= count * scale
                segments.append(Segment(status, round(y, 2), round(count * scale, 2)))
        bars.append(Bar(left + i * pitch + 1, pitch - 2, bucket, segments, _hour_label(bucket)))
    y_ticks = [Tick(round(base - v * scale, 2), str(v)) for v in range(0, peak + 1, step)]
    every = next(k for k in (1, 2, 3, 6, 12, 24) if n / k <= 14)
    x_ticks = []
    for i, bucket in enumerate(report.hours):
        local = to_local(bucket.start)
        if local.hour % every == 0:
            text = f"{local.month}/{local.day}" if local.hour == 0 else f"{local.hour:02d}:00"
            x_ticks.append(Tick(left + i * pitch, text))
    return Chart(width, height, left, top, left + n * pitch, base, bars, y_ticks, x_ticks, wide=n > 72)
