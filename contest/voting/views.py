"""The public side of voting: the vote itself, the live leaderboard and receipt checks.

Decisions:
- A refused vote re-renders the entry page with the message at the refusal's status
  (403 window closed / not verified / captcha, 409 already voted, 429 daily quota), so
  the voter stays where they were; an entry the public cannot see gets the error page.
- Counts hide as the rules say (live.counts_visible); the leaderboard then still ranks
  the entries, without numbers, as the JSON API does.
- The time the voter saw the entry travels as a signed timestamp in the vote form
  (app clock, so tests can move it); a token older than VIEW_TOKEN_MAX_AGE or for
  another contest or entry counts as unknown rather than as a refusal.
- A long-lived random device cookie ('did') is set with the first vote from a browser
  and read by the anti-fraud signals; it identifies a browser, never a person.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import login_required
from markupsafe import Markup
from werkzeug.wrappers import Response as BaseResponse

from .. import page_cache, web
from ..antifraud import captcha
from ..contests import service as contests
from ..contests.models import Contest, Entry
from ..errors import DomainError, NotFound, error_response, wants_json
from ..extensions import db, limiter
from ..i18n import _
from ..media import service as media
from . import ledger, live
from . import service as voting
from .view_stamps import read_stamp, view_token

bp = Blueprint("voting", __name__)
log = logging.getLogger(__name__)

LEADERBOARD_SIZE = 50
DEVICE_COOKIE = "did"
DEVICE_COOKIE_AGE = 2 * 365 * 24 * 3600
DEVICE_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
RECEIPT_RE = re.compile(r"^[A-Za-z0-9]{4,20}$")


def _voter_key() -> str:
    """Rate-limit key of the signed-in account (anonymous requests: their address)."""
    user = web.actor()
    return f"voter:{user.id}" if user is not None else f"voter-anonymous:{web.client_ip()}"


# --- what entry pages and gallery cards show ------------------------------------------------

@dataclass(frozen=True)
class VotePanel:
    """Everything a page needs to draw vote buttons and counts for some entries."""

    has_vote: bool
    phase: str  # upcoming | open | closed
    counts_visible: bool
    counts_public: bool
    hide_hours: int
    votes_left: int | None
    view_token: str
    counts: dict[int, int] = field(default_factory=dict)
    starts_at: datetime | None = None
    voted: frozenset[int] = frozenset()  # entries the signed-in voter can vote for no more today

    @property
    def open(self) -> bool:
        return self.phase == "open"

    @property
    def spent(self) -> bool:
        """The signed-in voter has used up today's votes in this contest."""
        return self.votes_left == 0


def vote_panel(contest: Contest, entries: list[Entry], *, page_entry: Entry | None = None) -> VotePanel:
    """Template helper: the vote state of a contest for the entries on a page."""
    now = web.now()
    if not live.has_public_vote(contest):
        return VotePanel(False, "closed", False, False, 0, None, "")
    rules = contests.rules_of(contest)
    start, end = contest.window("voting")
    assert start is not None and end is not None  # has_public_vote
    phase = "upcoming" if now < start else "open" if now < end else "closed"
    visible = live.counts_visible(contest, now)
    counts = public_counts(contest, [e.id for e in entries], now) if visible and phase != "upcoming" else {}
    voter = web.actor() if phase == "open" else None
    left = live.votes_left_today(db.session, contest, voter, now) if voter is not None else None
    voted = voting.voted_today(db.session, contest=contest, voter=voter, entry_ids=[e.id for e in entries],
                               now=now) if voter is not None else frozenset()
    token = view_token(contest.id, page_entry.id if page_entry else 0, now) if phase == "open" else ""
    return VotePanel(True, phase, visible, rules.counts_public, rules.hide_counts_hours_before_close, left, token, counts, start,
                     voted)


def public_counts(contest: Contest, entry_ids: list[int], now: datetime) -> dict[int, int]:
    """Live counts the public may see: minors' are left out when the rules say so."""
    hidden = contests.minors_hidden(db.session, contest, entry_ids, now)
    shown = [e for e in entry_ids if e not in hidden]
    return live.counts_for(db.session, web.redis_client(), contest, shown) if shown else {}


@bp.app_context_processor
def _template_helpers() -> dict[str, Any]:
    return {"vote_panel": vote_panel, "has_public_vote": live.has_public_vote}


# --- the vote ----------------------------------------------------------------------------

def _device_id() -> tuple[str, bool]:
    """The browser's device cookie, or a new one (True: set it on the response)."""
    current = request.cookies.get(DEVICE_COOKIE, "")
    return (current, False) if DEVICE_RE.fullmatch(current) else (secrets.token_urlsafe(24), True)


def _form(name: str, limit: int) -> str:
    return (request.form.get(name) or "").strip()[:limit]


@bp.post("/c/<slug>/entries/<int:entry_id>/vote")
@limiter.limit("30 per minute", key_func=web.client_ip, error_message=lambda: _("投票太频繁，请稍后再试。"))
@limiter.limit("20 per minute", key_func=_voter_key, error_message=lambda: _("投票太频繁，请稍后再试。"))
@login_required
def vote(slug: str, entry_id: int) -> BaseResponse:
    device_id, new_device = _device_id()
    response: BaseResponse
    try:
        result = voting.cast_vote(db.session, web.redis_client(), _ballot(slug, entry_id, device_id), web.now())
        db.session.commit()
    except DomainError as exc:
        web.settle_failure(exc)
        response = _refused(slug, entry_id, exc)
    else:
        response = _accepted(result)
    return _with_device_cookie(response, device_id) if new_device else response


def _ballot(slug: str, entry_id: int, device_id: str) -> voting.Ballot:
    return voting.Ballot(
        voter=web.user(), entry_id=entry_id, slug=slug, ip=web.client_ip(), device_id=device_id,
        user_agent=request.user_agent.string[:300], stamp=read_stamp(_form("vt", 200), web.now()),
        captcha_id=_form("captcha_id", 64), captcha_answer=_form("captcha_answer", 16),
    )


def _with_device_cookie(response: BaseResponse, device_id: str) -> BaseResponse:
    response.set_cookie(DEVICE_COOKIE, device_id, max_age=DEVICE_COOKIE_AGE, httponly=True, samesite="Lax",
                        secure=web.settings().is_production)
    return response


def _accepted(result: voting.CastResult) -> BaseResponse:
    if wants_json():
        response = jsonify(vote_reply(result))
        response.status_code = 201
        return response
    flash(_accepted_flash(result), "success")
    entry_url = url_for("contests.entry_page", slug=result.contest_slug, entry_id=result.entry_id)
    return redirect(web.safe_next(request.form.get("next"), entry_url))


def accepted_message(result: voting.CastResult) -> str:
    return _("投票成功！投票凭证：%(code)s（可在“查投票凭证”页核对），今日还可投 %(n)s 票。",
             code=result.vote.receipt, n=result.votes_left_today)


def _accepted_flash(result: voting.CastResult) -> Markup:
    """The message after a vote without script: the words of accepted_message, then links
    to the receipt and to 我的投票, where the receipt stays at hand."""
    return Markup('{} <a href="{}">{}</a> <a href="{}">{}</a>').format(
        accepted_message(result), url_for("voting.receipt", code=result.vote.receipt), _("查看凭证"),
        url_for("voting.my_votes"), _("我的投票"))


def vote_reply(result: voting.CastResult) -> dict[str, Any]:
    """The answer to an accepted vote in JSON: the answer every client gets (and an
    Idempotency-Key replays), with the page's own words and, when the public may see it,
    the entry's new count.

    What static/js/vote.js does with it: it shows `message` with links to `receipt_url`
    and `my_votes_url`; puts `votes_left_text` wherever the page shows the votes left;
    when `entry_done` (no more votes for this entry today) it disables the button with
    `done_text`, and when `spent` (today's votes used up) every other vote button too,
    with `spent_text`."""
    contest, now = contests.get_contest_by_id(db.session, result.contest_id), web.now()
    body: dict[str, Any] = {**result.answer(), "message": accepted_message(result),
                            "votes_left_text": _("今日还可投 %(n)s 票", n=result.votes_left_today),
                            "receipt_url": url_for("voting.receipt", code=result.vote.receipt), "receipt_text": _("查看凭证"),
                            "my_votes_url": url_for("voting.my_votes"), "my_votes_text": _("我的投票"),
                            "entry_done": result.entry_done, "done_text": _("今日已投"),
                            "spent": result.votes_left_today == 0, "spent_text": _("今日票数已用完")}
    if live.counts_visible(contest, now):
        shown = public_counts(contest, [result.entry_id], now)
        if result.entry_id in shown:
            body["votes"] = shown[result.entry_id]
    return body


def _refused(slug: str, entry_id: int, exc: DomainError) -> Response:
    """The refusal on the entry page (a fresh captcha when one is needed), or the error page
    when the public cannot see the entry."""
    if wants_json():
        return error_response(exc.status, exc.code, exc.message)
    try:
        contest = contests.get_contest(db.session, slug)
        entry = contests.get_public_entry(db.session, contest, entry_id)
    except DomainError:
        return error_response(exc.status, exc.code, exc.message)
    challenge = None
    if isinstance(exc, voting.CaptchaRequired):
        challenge = captcha.issue_captcha(db.session, web.redis_client(), purpose="vote",
                                          fixed_answer=web.settings().captcha_fixed_answer)
        db.session.commit()
    html = render_template(
        "contests/entry.html", contest=contest, entry=entry, media_items=media.public_media_of(db.session, entry),
        stage=contests.stage_of(contest, web.now()), vote_error=exc.message, vote_captcha=challenge,
    )
    return Response(html, status=exc.status, mimetype="text/html")


# --- leaderboard -------------------------------------------------------------------------

@bp.get("/c/<slug>/leaderboard")
@page_cache.shared(lambda slug: contests.page_basis(db.session, slug), votes="always")
def leaderboard(slug: str) -> str:
    contest = contests.get_contest(db.session, slug)
    if not live.has_public_vote(contest):
        raise NotFound(_("这项活动不设公众投票，没有排行榜。"), code="no_public_vote")
    raw = request.args.get("category", "")
    category = next((c for c in contest.categories if str(c.id) == raw), None)
    now = web.now()
    board = live.public_board(db.session, web.redis_client(), contest, category_id=category.id if category else None,
                              size=LEADERBOARD_SIZE, now=now)
    return render_template(
        "voting/leaderboard.html", contest=contest, category=category, stage=contests.stage_of(contest, now),
        board=board, panel=vote_panel(contest, []),
    )


# --- receipts ----------------------------------------------------------------------------

@bp.get("/receipts")
def receipt_lookup() -> ResponseReturnValue:
    code = (request.args.get("code") or "").strip().upper().replace(" ", "").replace("-", "")
    if code:
        return redirect(url_for("voting.receipt", code=code))
    return render_template("voting/receipt_lookup.html")


@dataclass(frozen=True)
class EventProof:
    event: Any
    block: Any
    proof: list[dict[str, str]]
    proven: bool
    found: Any = None  # the ledger.Inclusion: a version-2 block's leaf index, tree size and path
    fields: str = ""  # the exact bytes the digest hashes (format 3 on)
    hashed: str = ""  # the exact bytes the block's hash hashes


@bp.get("/receipts/<code>")
@limiter.limit("60 per minute", key_func=web.client_ip, error_message=lambda: _("查询太频繁，请稍后再试。"))
def receipt(code: str) -> Response:
    if not RECEIPT_RE.fullmatch(code):
        raise NotFound(_("没有找到这个投票凭证，请检查后重试。"), code="receipt_not_found")
    vote, events = voting.receipt_status(db.session, code)
    contest = contests.get_contest_by_id(db.session, vote.contest_id)
    proofs = []
    for event in events:
        found = ledger.inclusion(db.session, event)
        fields = ledger.published_fields(event, vote, contest.voter_key)
        proofs.append(EventProof(
            event, found.block, found.proof, found.holds(), found,
            ledger.canonical_json(fields).decode() if fields else "",
            ledger.canonical_json(ledger.hashed_fields(found.block)).decode() if found.block else ""))
    entry = contests.entries_by_id(db.session, [vote.entry_id], approved_only=False).get(vote.entry_id)
    # the voter's name in the published events (format 4 on): shown to the receipt's holder only
    pseudonym = (ledger.voter_pseudonym(contest.voter_key, vote.voter_id)
                 if any(event.format >= 4 for event in events) else None)
    html = render_template("voting/receipt.html", vote=vote, proofs=proofs, contest=contest, entry=entry,
                           head=ledger.head(db.session), pseudonym=pseudonym)
    response = Response(html, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response


# --- the voter's own votes ---------------------------------------------------------------

@bp.get("/me/votes")
@login_required
def my_votes() -> Response:
    """我的投票: the signed-in voter's votes, newest first, with their receipts and status
    (personal: never kept by a cache, so a shared phone's back button does not show it)."""
    raw = request.args.get("page", "")
    number = int(raw) if raw.isdigit() and len(raw) <= 6 else 1
    page = voting.votes_of_voter(db.session, actor=web.user(), page=number)
    response = Response(render_template("voting/my_votes.html", page=page), mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response
