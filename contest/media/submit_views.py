"""Entrants' pages: submit an entry (the form that fits the contest's kind), see one's
entries with their status and the moderators' reasons, edit their text (or, once an
organiser has returned an entry, correct everything it holds and send it again), withdraw them."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, send_file, url_for
from flask.typing import ResponseReturnValue
from flask_login import login_required
from flask_wtf import FlaskForm

from .. import web
from ..actions import run_action
from ..contests import service as contests
from ..contests.models import Contest, Entry, School
from ..errors import DomainError
from ..extensions import db, limiter
from ..i18n import _
from ..i18n import lazy_gettext as _l
from . import consent, playback, submissions, withdrawals
from .consent_form import Choices
from .forms import (
    EntryTextForm,
    MediaEntryForm,
    NomineeForm,
    TeamForm,
    first_error,
    optional_int,
    place_error,
    returned_form_data,
)
from .models import WithdrawalRequest
from .storage import LocalStorage
from .uploads import Uploads, queue_playback, refusal_headers, upload_transaction, uploader_key

bp = Blueprint("submit", __name__)

# Room for the photos, the cover, a business plan and the text fields beside the largest
# video a contest allows: the request as a whole may be this much larger than the video.
FORM_ALLOWANCE_MB = 60
# Per account: an entrant sends a handful of entries, a school contact a few dozen, and a
# refused form is sent again after a correction. Per address: a school's lab behind one
# NAT address. Both are checked before the view runs, so before any file is decoded.
SUBMIT_LIMITS = {"account": "4 per minute;30 per hour", "address": "30 per minute;300 per hour"}
EDIT_LIMITS = {"account": "20 per minute", "address": "60 per minute"}


def upload_limit(contest: Contest) -> int:
    """The largest request body a submission to this contest may send, in bytes."""
    return (contests.rules_of(contest).video_max_mb + FORM_ALLOWANCE_MB) * 1024 * 1024


@bp.url_value_preprocessor
def _raise_upload_limit(endpoint: str | None, values: dict[str, Any] | None) -> None:
    # A submission may carry a video far above the app's default body limit. The limit
    # has to be in place before anything reads the form, and the app-wide CSRF check
    # (a before_request function of the app) reads it before any blueprint's
    # before_request runs; URL value preprocessors run ahead of all of them. Werkzeug
    # then refuses a larger body with 413 from its Content-Length, without reading it.
    if request.method != "POST" or not values:
        return
    if endpoint == "submit.edit_entry":
        # A returned entry's correction carries files as its submission did.
        entry = submissions.entry_of(db.session, values["entry_id"])
        if entry is not None:
            request.max_content_length = upload_limit(entry.contest)
        return
    if endpoint != "submit.submit_entry":
        return
    try:
        contest = contests.get_contest(db.session, values["slug"])
    except DomainError:
        return  # the view answers 404
    request.max_content_length = upload_limit(contest)


# --- the three flows ------------------------------------------------------------------

def _send_media(form: MediaEntryForm, contest: Contest, files: Uploads) -> Entry:
    return submissions.submit_media_entry(
        db.session, web.storage(), actor=web.user(), contest=contest, data=form.to_input(),
        photos=files.many(form.photos.data), video=files.one(form.video.data), cover=files.one(form.cover.data),
        now=web.now(), decoder=web.image_decoder(), queue=queue_playback,
    )


def _send_nominee(form: NomineeForm, contest: Contest, files: Uploads) -> Entry:
    return submissions.nominate_student(
        db.session, web.storage(), actor=web.user(), contest=contest, data=form.to_input(),
        photos=files.many(form.photos.data), video=files.one(form.video.data), now=web.now(),
        decoder=web.image_decoder(), queue=queue_playback, consent=files.one(form.consent.data),
    )


def _send_team(form: TeamForm, contest: Contest, files: Uploads) -> Entry:
    return submissions.register_team(
        db.session, web.storage(), actor=web.user(), contest=contest, data=form.to_input(),
        plan=files.one(form.plan.data), pitch=files.one(form.pitch.data), cover=files.one(form.cover.data),
        now=web.now(), decoder=web.image_decoder(), queue=queue_playback,
    )


def _resend_media(form: MediaEntryForm, entry: Entry, files: Uploads) -> list[str]:
    return submissions.resubmit_media_entry(
        db.session, web.storage(), actor=web.user(), entry_id=entry.id, data=form.to_input(),
        photos=files.many(form.photos.data), video=files.one(form.video.data), cover=files.one(form.cover.data),
        now=web.now(), decoder=web.image_decoder(), queue=queue_playback, ip=web.client_ip(),
    )


def _resend_nominee(form: NomineeForm, entry: Entry, files: Uploads) -> list[str]:
    return submissions.resubmit_nomination(
        db.session, web.storage(), actor=web.user(), entry_id=entry.id, data=form.to_input(),
        photos=files.many(form.photos.data), video=files.one(form.video.data), now=web.now(),
        decoder=web.image_decoder(), queue=queue_playback, ip=web.client_ip(), consent=files.one(form.consent.data),
    )


def _resend_team(form: TeamForm, entry: Entry, files: Uploads) -> list[str]:
    return submissions.resubmit_team(
        db.session, web.storage(), actor=web.user(), entry_id=entry.id, data=form.to_input(),
        plan=files.one(form.plan.data), pitch=files.one(form.pitch.data), cover=files.one(form.cover.data),
        now=web.now(), decoder=web.image_decoder(), queue=queue_playback, ip=web.client_ip(),
    )


@dataclass(frozen=True)
class Flow:
    form: type[FlaskForm]
    template: str
    send: Callable[[Any, Contest, Uploads], Entry]
    done: str
    for_schools: bool  # entered by school contacts for their school
    resend: Callable[[Any, Entry, Uploads], list[str]]  # a returned entry, corrected
    fields: str  # the form's fields for a returned entry (templates/media/_returned_*.html)


FLOWS = {
    "media": Flow(MediaEntryForm, "media/submit_media.html", _send_media, _l("作品已提交，审核通过后将在作品展示中公开。"), False,
                  _resend_media, "media/_returned_media.html"),
    "selection": Flow(NomineeForm, "media/submit_nominee.html", _send_nominee, _l("推荐已提交，审核通过后将公开展示。"), True,
                      _resend_nominee, "media/_returned_nominee.html"),
    "innovation": Flow(TeamForm, "media/submit_team.html", _send_team, _l("团队报名已提交，请留意审核结果。"), True,
                       _resend_team, "media/_returned_team.html"),
}


def _why_closed(flow: Flow, contest: Contest, schools: list[School]) -> str:
    """Why this form cannot be sent now, for the page; the service refuses the same on submit."""
    if not contests.stage_of(contest, web.now()).is_active("submission"):
        return _("本活动当前不在作品征集期，不能提交或修改作品。")
    if flow.for_schools and not schools:
        return _("只有学校联络人可以推荐选手或报名团队。")
    return ""


def _render_flow(flow: Flow, form: FlaskForm, contest: Contest, schools: list[School], status: int = 200,
                 error: str = "", headers: dict[str, str] | None = None,
                 field: str | None = None) -> tuple[str, int, dict[str, str]]:
    """The submission page: the schools' quotas first, then the form (none when no school
    has a place left, or the window is closed); a refusal is shown at its field too."""
    closed = _why_closed(flow, contest, schools)
    quotas = submissions.quota_status(db.session, contest, schools) if flow.for_schools else []
    if not closed and quotas and not any(q.left for q in quotas):
        closed = _("贵校在本活动的名额已经用完，不能再推荐或报名。如需调整，请联系主办方。")
    place_error(form, field, error)
    return render_template(
        flow.template, form=form, contest=contest, stage=contests.stage_of(contest, web.now()), error=error,
        closed=closed, rules=contests.rules_of(contest), max_bytes=upload_limit(contest), quotas=quotas,
    ), (403 if closed and status == 200 else status), headers or {}


@bp.route("/c/<slug>/submit", methods=["GET", "POST"])
@limiter.limit(SUBMIT_LIMITS["address"], methods=["POST"], key_func=web.client_ip,
               error_message=lambda: _("提交太频繁，请稍后再试。"))
@limiter.limit(SUBMIT_LIMITS["account"], methods=["POST"], key_func=uploader_key,
               error_message=lambda: _("提交太频繁，请稍后再试。"))
@login_required
def submit_entry(slug: str) -> ResponseReturnValue:
    contest = contests.get_contest(db.session, slug)
    flow = FLOWS[contest.kind]
    schools = submissions.schools_of(db.session, web.user())
    form = flow.form(contest=contest, schools=schools)
    if request.method == "GET":
        return _render_flow(flow, form, contest, schools)
    if not form.validate():
        return _render_flow(flow, form, contest, schools, 400, first_error(form))
    try:
        with upload_transaction() as files:
            flow.send(form, contest, files)
    except DomainError as exc:
        return _render_flow(flow, form, contest, schools, exc.status, exc.message, refusal_headers(exc), exc.field)
    flash(str(flow.done), "success")
    return redirect(url_for("submit.my_entries"))


# --- after submission -----------------------------------------------------------------

@dataclass(frozen=True)
class EntryRow:
    """An entry on the entrant's list, with what they may still do to it."""

    entry: Entry
    window_open: bool
    withdrawable: bool
    video_state: str = ""   # "pending" or "failed" while its video does not play for everyone
    video_error: str = ""   # why it failed, for the author
    needs_request: bool = False  # voting or judging has started: withdrawing is a request
    pending_request: WithdrawalRequest | None = None

    @property
    def may_request(self) -> bool:
        return self.needs_request and self.pending_request is None and self.entry.status in withdrawals.IN_THE_RUNNING

    @property
    def editable(self) -> bool:
        return self.window_open and self.entry.status in submissions.EDITABLE

    @property
    def returned(self) -> bool:
        """Sent back by a moderator for changes."""
        return self.entry.status == "draft" and bool(self.entry.moderation_reason)


def _entry_row(entry: Entry, assessed: set[int] | None = None) -> EntryRow:
    now = web.now()
    if assessed is None:
        assessed = submissions.entries_being_assessed(db.session, [entry.id])
    refusal = submissions.withdrawal_refusal(entry, web.user(), now, being_assessed=entry.id in assessed)
    return EntryRow(entry, contests.stage_of(entry.contest, now).is_active("submission"), refusal is None,
                    needs_request=refusal is not None and refusal.code == "withdrawal_needs_approval")


def _render_entries(status: int = 200, error: str = "") -> tuple[str, int]:
    entries = submissions.my_entries(db.session, web.user())
    ids = [e.id for e in entries]
    assessed = submissions.entries_being_assessed(db.session, ids)  # one query for the list
    videos = playback.unfinished_playback(db.session, ids)  # and one for the videos not yet playable
    pending = withdrawals.pending_for(db.session, ids)  # and one for the withdrawal requests
    rows = [replace(_entry_row(e, assessed), video_state=videos.get(e.id, ("", ""))[0],
                    video_error=videos.get(e.id, ("", ""))[1], pending_request=pending.get(e.id)) for e in entries]
    return render_template("media/my_entries.html", rows=rows, error=error), status


@bp.get("/me/entries")
@login_required
def my_entries() -> tuple[str, int]:
    return _render_entries()


@bp.route("/me/entries/<int:entry_id>/edit", methods=["GET", "POST"])
@limiter.limit(EDIT_LIMITS["address"], methods=["POST"], key_func=web.client_ip,
               error_message=lambda: _("修改太频繁，请稍后再试。"))
@limiter.limit(EDIT_LIMITS["account"], methods=["POST"], key_func=uploader_key,
               error_message=lambda: _("修改太频繁，请稍后再试。"))
@login_required
def edit_entry(entry_id: int) -> ResponseReturnValue:
    row = _entry_row(submissions.get_own_entry(db.session, web.user(), entry_id))
    if row.returned:
        return _correct_returned(row)
    form = EntryTextForm(obj=row.entry)
    if request.method == "GET":
        return render_template("media/edit_entry.html", row=row, form=form, error=""), 200
    try:
        submissions.update_entry_text(db.session, actor=web.user(), entry_id=entry_id, title=form.title.data or "",
                                      description=form.description.data or "", now=web.now())
    except DomainError as exc:
        web.settle_failure(exc)
        return render_template("media/edit_entry.html", row=row, form=form, error=exc.message), exc.status
    db.session.commit()
    flash(_("作品信息已保存。"), "success")
    return redirect(url_for("submit.my_entries"))


def _render_returned(row: EntryRow, form: FlaskForm, status: int = 200, error: str = "",
                     headers: dict[str, str] | None = None, field: str | None = None) -> tuple[str, int, dict[str, str]]:
    contest = row.entry.contest
    place_error(form, field, error)
    return render_template(
        "media/edit_entry.html", row=row, form=form, error=error, fields=FLOWS[contest.kind].fields,
        media=submissions.entry_media(db.session, row.entry), rules=contests.rules_of(contest),
        max_bytes=upload_limit(contest),
    ), status, headers or {}


def _correct_returned(row: EntryRow) -> ResponseReturnValue:
    """A returned entry: everything it holds can be corrected, and it is sent again as the same entry."""
    entry = row.entry
    flow = FLOWS[entry.contest.kind]
    schools = [entry.school] if entry.school is not None else []
    form = flow.form(contest=entry.contest, schools=schools,
                     **({"data": returned_form_data(entry)} if request.method == "GET" else {}))
    if request.method == "GET":
        return _render_returned(row, form)
    if not form.validate():
        return _render_returned(row, form, 400, first_error(form))
    try:
        with upload_transaction() as files:
            flow.resend(form, entry, files)
    except DomainError as exc:
        return _render_returned(row, form, exc.status, exc.message, refusal_headers(exc), exc.field)
    flash(_("已重新提交，等待主办方审核。"), "success")
    return redirect(url_for("submit.my_entries"))


@bp.post("/me/entries/<int:entry_id>/withdrawal-request")
@login_required
def request_withdrawal(entry_id: int) -> ResponseReturnValue:
    return run_action(
        lambda: withdrawals.request_withdrawal(db.session, actor=web.user(), entry_id=entry_id,
                                               reason=request.form.get("reason", ""), now=web.now(), ip=web.client_ip()),
        refused=lambda exc: _render_entries(exc.status, exc.message),
        success=_("撤回申请已提交，主办方处理后会通知您；在此之前作品照常参加评比。"),
        redirect_to=url_for("submit.my_entries"))


@bp.post("/me/entries/<int:entry_id>/withdraw")
@login_required
def withdraw(entry_id: int) -> ResponseReturnValue:
    try:
        entry = submissions.withdraw_entry(db.session, actor=web.user(), entry_id=entry_id, now=web.now())
    except DomainError as exc:
        web.settle_failure(exc)
        return _render_entries(exc.status, exc.message)
    db.session.commit()
    flash(_("“%(title)s”已撤回。", title=entry.title), "success")
    return redirect(url_for("submit.my_entries"))


# --- guardian consent (最美职校生, a nominee under 18) --------------------------------------

def _pdf_download(data: bytes, name: str) -> Response:
    response = send_file(io.BytesIO(data), mimetype="application/pdf", as_attachment=True, download_name=name)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/c/<slug>/consent-form.pdf")
@login_required
def consent_template(slug: str) -> Response:
    """The printable consent form for the nomination being filled in: the page's script
    adds the student's name and the display choices; without it the name is left blank."""
    args = request.args
    data = consent.template_for_nomination(
        db.session, actor=web.user(), contest=contests.get_contest(db.session, slug),
        school_id=optional_int(args.get("school")), nominee=args.get("name", ""),
        choices=Choices(name_form=args.get("name_form", "full"), show_photo=args.get("photo", "1") == "1",
                        show_major=args.get("major", "1") == "1", show_story=args.get("story", "1") == "1"))
    return _pdf_download(data, "consent-form.pdf")


@bp.get("/me/entries/<int:entry_id>/consent-form.pdf")
@login_required
def entry_consent_template(entry_id: int) -> Response:
    """The printable consent form of a nomination already sent, filled from it."""
    return _pdf_download(consent.template_for_entry(db.session, actor=web.user(), entry_id=entry_id),
                         f"consent-form-{entry_id}.pdf")


@bp.get("/entries/<int:entry_id>/signed-consent")
@login_required
def signed_consent(entry_id: int) -> Response:
    """The signed consent form, for the organisers and the school that sent it; never cached."""
    item = consent.consent_document(db.session, actor=web.user(), entry_id=entry_id)
    storage = web.storage()
    if not storage.exists(item.original_key):
        abort(404)
    source = storage.path(item.original_key) if isinstance(storage, LocalStorage) else storage.open(item.original_key)
    extension = "pdf" if item.kind == "pdf" else "jpg"
    response = send_file(source, mimetype=item.content_type, download_name=f"signed-consent-{entry_id}.{extension}")
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.post("/me/entries/<int:entry_id>/withdraw-consent")
@login_required
def withdraw_consent(entry_id: int) -> ResponseReturnValue:
    return run_action(
        lambda: consent.withdraw_consent(db.session, actor=web.user(), entry_id=entry_id, now=web.now(),
                                         ip=web.client_ip()),
        refused=lambda exc: _render_entries(exc.status, exc.message),
        success=_("已记录监护人撤回同意：这名学生的推荐已从所有公开页面撤下。"),
        redirect_to=url_for("submit.my_entries"))
