"""The public side of results: the results page (公示 or final, earlier versions, the
formula and its fingerprint, the sealed ledger head, objections and their answers), the
objection form, the transparency page, and the result box on entry pages.

Decisions:
- Everything shown comes from the frozen publication (formula, rows, ledger head), never
  from a fresh computation, so the page says exactly what was confirmed by two
  organisers; earlier versions stay readable at ?version=N.
- The rule hide_minor_vote_counts (selection contests) hides a nominee's valid votes
  when they were under 18 on the day the results were published. A nominee without a
  birth date is treated as a minor: when in doubt, the count stays private. The vote
  score is still shown — it is part of the published arithmetic.
- The entry page gets its result box through a template helper (like vote_panel), so the
  contests domain never imports results: dependencies point one way.
- Objections are listed without who filed them; the filer is only known to organisers.
- Evidence files are checked by content in the service, all of them before any is
  stored. The route shares the upload transaction of the entry forms: a failure rolls
  the rows back and leaves stored files to the orphan sweep (storage is
  content-addressed, the same bytes may belong to something else). Posting is limited
  per account and per address, before any file is looked at.
- The daily chart is an SVG drawn on the server (no script, CSP self): bars with their
  numbers, and the same figures as a table for screen readers.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_login import login_required

from .. import web
from ..contests import service as contests
from ..contests.models import Contest, Entry
from ..errors import DomainError, NotFound
from ..extensions import db, limiter
from ..i18n import _
from ..media.uploads import refusal_headers, upload_transaction, uploader_key
from ..text import clean_text
from ..voting import live
from . import formulas
from . import service as results
from .models import FormulaChange, Objection, Publication

log = logging.getLogger(__name__)

bp = Blueprint("results", __name__)

# Five evidence files of up to 10 MB each, and room for the text fields.
OBJECTION_BODY_LIMIT = results.EVIDENCE_FILES * results.EVIDENCE_BYTES + 1024 * 1024
ROUND_COMPONENTS = {"expert_round": "expert", "jury_round": "jury", "final_round": "final"}
# A citizen files a few objections a day (the service's own quota); refused attempts,
# each carrying up to 50 MB of files, count here too.
EVIDENCE_LIMITS = {"account": "5 per minute;20 per hour", "address": "20 per minute;200 per hour"}


# --- rows as the public sees them ---------------------------------------------------------

@dataclass(frozen=True)
class RoundColumn:
    key: str
    name: str
    weight: str  # "70%", or "" when the formula gives no weight


@dataclass(frozen=True)
class ScoreCell:
    column: RoundColumn
    text: str


@dataclass(frozen=True)
class PublicRow:
    """One entry's published breakdown, with a minor's vote count taken out."""

    entry_id: int
    title: str
    school: str
    category: str
    valid_votes: int | None  # None: not public (a minor's)
    vote_score: str
    scores: list[ScoreCell]
    final_score: str
    rank: int | None
    awards: list[str]

    @property
    def votes_hidden(self) -> bool:
        return self.valid_votes is None


@dataclass(frozen=True)
class RankTable:
    caption: str
    rows: list[PublicRow]


@dataclass(frozen=True)
class AwardGroup:
    category: str
    rows: list[PublicRow]


@dataclass(frozen=True)
class AwardList:
    name: str
    groups: list[AwardGroup]

    @property
    def size(self) -> int:
        return sum(len(g.rows) for g in self.groups)


def _score_text(value: Any) -> str:
    return formulas.format_score(value) if value is not None else "—"


def _weight_text(value: Any) -> str:
    return f"{float(value):g}%" if value not in (None, "") else ""


def hidden_vote_entries(contest: Contest, entry_ids: Sequence[int], on: datetime) -> set[int]:
    return contests.minors_hidden(db.session, contest, entry_ids, on)


def round_columns(publication: Publication) -> list[RoundColumn]:
    """The publication's rounds, each with the weight the formula gives it."""
    components = {publication.formula.get(key): name for key, name in ROUND_COMPONENTS.items()}
    weights = next((row.get("weights") or {} for row in publication.rows if row.get("weights")), {})
    return [RoundColumn(r["key"], r.get("name") or r["key"], _weight_text(weights.get(components.get(r["key"], ""))))
            for r in publication.rounds]


def public_row(row: dict[str, Any], columns: Sequence[RoundColumn], hidden: bool) -> PublicRow:
    """A frozen breakdown row as shown, scores formatted, the vote count left out when hidden."""
    round_scores = row.get("round_scores") or {}
    return PublicRow(
        entry_id=int(row["entry_id"]), title=row.get("title", ""), school=row.get("school", ""),
        category=row.get("category", ""), valid_votes=None if hidden else int(row.get("valid_votes", 0)),
        vote_score=_score_text(row.get("vote_score")) if row.get("vote_score") is not None else "",
        scores=[ScoreCell(c, _score_text(round_scores.get(c.key))) for c in columns],
        final_score=_score_text(row.get("final_score")), rank=row.get("rank"),
        awards=list(row.get("awards") or ([row["award"]] if row.get("award") else [])),
    )


def _by_rank(row: PublicRow) -> tuple[bool, int, str]:
    return (row.rank is None, row.rank or 0, row.title)


def grouped_by_category(publication: Publication) -> bool:
    """Whether awards and ranks are given per category (or track) rather than as one list."""
    formula = publication.formula
    return bool(formula.get("per_category") or formula.get("per_track"))


def rank_tables(rows: list[PublicRow], grouped: bool) -> list[RankTable]:
    """One ranking table, or one per category when awards are given per category."""
    if not grouped:
        return [RankTable(_("全部作品排名"), sorted(rows, key=_by_rank))]
    order: dict[str, list[PublicRow]] = {}
    for row in rows:
        order.setdefault(row.category, []).append(row)
    return [RankTable(_("%(c)s 排名", c=name or _("未分类")), sorted(members, key=_by_rank))
            for name, members in order.items()]


def award_names(formula: dict[str, Any]) -> list[str]:
    """The formula's awards, best first."""
    tiers = formula.get("awards") or formula.get("tiers") or [
        formula[key] for key in ("jury_award", "popular_award") if isinstance(formula.get(key), dict)]
    return [str(t["name"]) for t in tiers if isinstance(t, dict) and t.get("name")]


def award_lists(rows: list[PublicRow], formula: dict[str, Any], grouped: bool) -> list[AwardList]:
    """Each award's winners by rank (per category when grouped), in the formula's order."""
    names = award_names(formula)
    names += [a for row in rows for a in row.awards if a not in names]
    lists = []
    for name in dict.fromkeys(names):
        winners = sorted((r for r in rows if name in r.awards), key=_by_rank)
        if not winners:
            continue
        if grouped:
            groups: dict[str, list[PublicRow]] = {}
            for row in winners:
                groups.setdefault(row.category, []).append(row)
            lists.append(AwardList(name, [AwardGroup(c, members) for c, members in groups.items()]))
        else:
            lists.append(AwardList(name, [AwardGroup("", winners)]))
    return lists


# --- the formula, the ledger head, earlier versions ----------------------------------------

@dataclass(frozen=True)
class FormulaView:
    title: str
    lines: list[str]
    fingerprint: str
    short: str
    canonical: str  # the hashed text, when it reproduces the fingerprint


def formula_view(kind: str, formula: dict[str, Any], fingerprint: str, rounds: dict[str, str]) -> FormulaView:
    """The formula in words (rounds by name), with its fingerprint and the text the
    fingerprint covers."""
    try:
        explained = results.name_rounds(formulas.explain(kind, formula, []), rounds)
        canonical = formulas.canonical_json(kind, formula)
    except ValueError:  # a formula stored under an older format: still show its fingerprint
        explained, canonical = [], ""
    if canonical and formulas.fingerprint(kind, formula) != fingerprint:
        canonical = ""
    title = explained[0] if explained else ""
    return FormulaView(title, [line for line in explained[1:] if line], fingerprint,
                       formulas.display_fingerprint(fingerprint), canonical)


@dataclass(frozen=True)
class ChangeView:
    change: FormulaChange
    before: str
    after: str


def change_views(changes: list[FormulaChange]) -> list[ChangeView]:
    """Formula changes with their fingerprints in the short form."""
    return [ChangeView(c, formulas.display_fingerprint(c.fingerprint_before) if c.fingerprint_before else "",
                       formulas.display_fingerprint(c.fingerprint_after)) for c in changes]


@dataclass(frozen=True)
class LedgerHead:
    height: int
    hash: str
    sealed_at: datetime | None
    events: int | None


def ledger_head(publication: Publication) -> LedgerHead | None:
    """The sealed ledger head the publication counted votes up to."""
    head = publication.ledger_head or {}
    if not head.get("hash"):
        return None
    try:
        sealed = datetime.fromisoformat(head["sealed_at"]) if head.get("sealed_at") else None
    except ValueError:
        sealed = None
    return LedgerHead(int(head.get("height") or 0), str(head["hash"]), sealed, head.get("events"))


@dataclass(frozen=True)
class Version:
    publication: Publication
    replaced_by: Publication | None

    @property
    def reason(self) -> str:
        """Why this version was replaced: the amendment's public reason."""
        return self.replaced_by.amendment_reason if self.replaced_by else ""


def versions(all_publications: list[Publication]) -> list[Version]:
    """The published versions, newest first, each with the version that replaced it."""
    shown = [p for p in all_publications if p.state in ("publicity", "final", "superseded")]
    shown.sort(key=lambda p: p.version, reverse=True)
    return [Version(p, shown[i - 1] if i else None) for i, p in enumerate(shown)]


# --- the chart of valid votes per day ---------------------------------------------------------

@dataclass(frozen=True)
class DayBar:
    day: date
    votes: int
    x: float
    y: float
    width: float
    height: float
    label_x: float

    @property
    def short(self) -> str:
        return f"{self.day.month}/{self.day.day}"

    @property
    def long(self) -> str:
        return _("%(m)s月%(d)s日", m=self.day.month, d=self.day.day)


@dataclass(frozen=True)
class Tick:
    pos: float
    text: str


@dataclass(frozen=True)
class DayChart:
    width: int
    height: int
    plot_left: int
    plot_right: int
    plot_bottom: int
    bars: list[DayBar]
    y_ticks: list[Tick]
    total: int
    wide: bool

    @property
    def busiest(self) -> DayBar:
        return max(self.bars, key=lambda b: b.votes)


def _nice_step(peak: int, ticks: int = 4) -> int:
    raw = max(peak / ticks, 1)
    power = 10 ** math.floor(math.log10(raw))
    return int(next(m * power for m in (1, 2, 5, 10) if m * power >= raw))


def day_chart(days: list[tuple[str, int]]) -> DayChart | None:
    """Geometry of a bar chart of valid votes per day, each bar labelled with its number."""
    if not days:
        return None
    n = len(days)
    pitch = max(26, min(64, 330 // n))
    left, top, right, bottom, plot_h = 44, 22, 10, 30, 170
    width, height = left + n * pitch + right, top + plot_h + bottom
    top_votes = max(v for _d, v in days)
    step = _nice_step(top_votes)
    peak = max(step, step * math.ceil(top_votes / step))
    scale = plot_h / peak
    base = top + plot_h
    bars = []
    for i, (day, votes) in enumerate(days):
        h = round(votes * scale, 2)
        x = left + i * pitch + pitch * 0.15
        bars.append(DayBar(date.fromisoformat(day), votes, round(x, 2), round(base - h, 2), round(pitch * 0.7, 2), h,
                           round(left + i * pitch + pitch / 2, 2)))
    ticks = [Tick(round(base - v * scale, 2), str(v)) for v in range(0, peak + 1, step)]
    return DayChart(width, height, left, left + n * pitch, base, bars, ticks, sum(v for _d, v in days), wide=n > 14)


# --- objections ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class ObjectionView:
    """An objection as the public sees it: never who filed it."""

    objection: Objection
    entry_title: str
    version: int | None

    @property
    def subject(self) -> str:
        return _(results.SUBJECT_LABELS.get(self.objection.subject, self.objection.subject))

    @property
    def outcome(self) -> str:
        outcome = self.objection.outcome
        return _(results.OUTCOME_LABELS[outcome]) if outcome in results.OUTCOME_LABELS else ""


def objection_views(contest: Contest, all_publications: list[Publication]) -> list[ObjectionView]:
    """The contest's objections, newest first, each with the version it was filed against."""
    version_of = {p.id: p.version for p in all_publications}
    return [ObjectionView(o, o.entry.title if o.entry is not None else "", version_of.get(o.publication_id))
            for o in results.objections(db.session, contest)]


def objection_closed_reason(publication: Publication | None, now: datetime) -> str:
    """Why no objection can be filed now ("" while 公示 runs)."""
    return results.objection_refusal(publication, now) or ""


# --- the results page ---------------------------------------------------------------------------

@dataclass
class ResultsPage:
    contest: Contest
    publication: Publication
    latest: Publication
    tables: list[RankTable]
    awards: list[AwardList]
    columns: list[RoundColumn]
    show_votes: bool
    show_vote_score: bool
    minors_hidden: bool
    formula: FormulaView
    changes: list[ChangeView]
    head: LedgerHead | None
    chart: DayChart | None
    versions: list[Version]
    objections: list[ObjectionView]
    can_object: bool
    now: datetime
    vote_weight: str = ""

    @property
    def is_latest(self) -> bool:
        return self.publication.id == self.latest.id

    @property
    def publicity_open(self) -> bool:
        return self.is_latest and results.in_publicity(self.publication, self.now)


def results_page_of(contest: Contest, wanted_version: int | None, now: datetime) -> ResultsPage | None:
    """Everything the results page shows, or None when nothing has been published."""
    latest = results.current_publication(db.session, contest)
    if latest is None:
        return None
    all_publications = results.publications(db.session, contest)
    publication = latest
    if wanted_version is not None:
        publication = next((p for p in all_publications if p.version == wanted_version
                            and p.state in ("publicity", "final", "superseded")), None)
        if publication is None:
            raise NotFound(_("没有这一版结果。"), code="version_not_found")
    columns = round_columns(publication)
    hidden = hidden_vote_entries(contest, [int(r["entry_id"]) for r in publication.rows], results.published_on(publication))
    rows = [public_row(r, columns, int(r["entry_id"]) in hidden) for r in publication.rows]
    grouped = grouped_by_category(publication)
    weights = next((r.get("weights") or {} for r in publication.rows if r.get("weights")), {})
    has_vote = live.has_public_vote(contest)
    return ResultsPage(
        contest=contest, publication=publication, latest=latest, tables=rank_tables(rows, grouped),
        awards=award_lists(rows, publication.formula, grouped), columns=columns,
        show_votes=has_vote or any(r.get("valid_votes") for r in publication.rows),
        show_vote_score=any(r.vote_score for r in rows), minors_hidden=bool(hidden),
        formula=formula_view(contest.kind, publication.formula, publication.fingerprint,
                             {r["key"]: r.get("name") or r["key"] for r in publication.rounds}),
        changes=change_views(results.formula_history(db.session, contest)), head=ledger_head(publication),
        chart=day_chart(results.valid_votes_by_day(db.session, contest)) if has_vote else None,
        versions=versions(all_publications), objections=objection_views(contest, all_publications),
        can_object=results.in_publicity(latest, now), now=now, vote_weight=_weight_text(weights.get("vote")),
    )


def _version_arg() -> int | None:
    raw = request.args.get("version", "")
    return int(raw) if raw.isdigit() and len(raw) < 6 else None


@bp.get("/c/<slug>/results")
def results_page(slug: str) -> str:
    contest = contests.get_contest(db.session, slug)
    now = web.now()
    page = results_page_of(contest, _version_arg(), now)
    stage = contests.stage_of(contest, now)
    if page is None:
        formula, fingerprint = results.formula_of(db.session, contest)
        return render_template(
            "results/unpublished.html", contest=contest, stage=stage,
            formula=formula_view(contest.kind, formula, fingerprint, results.round_names(db.session, contest)),
            changes=change_views(results.formula_history(db.session, contest)),
        )
    return render_template("results/results.html", contest=contest, stage=stage, page=page)


# --- the objection form ---------------------------------------------------------------------------

@bp.url_value_preprocessor
def _raise_upload_limit(endpoint: str | None, values: dict[str, Any] | None) -> None:
    # Before the app-wide CSRF check reads the form (see media.submit_views): up to five
    # evidence files may be larger together than the app's default body limit.
    if endpoint == "results.new_objection" and request.method == "POST":
        request.max_content_length = OBJECTION_BODY_LIMIT


@dataclass(frozen=True)
class ObjectionInput:
    entry: str
    subject: str
    body: str

    @property
    def entry_id(self) -> int | None:
        if self.entry in ("", "all"):
            return None
        return int(self.entry) if self.entry.isdigit() and len(self.entry) < 12 else 0  # 0: no such entry

    @classmethod
    def from_form(cls) -> ObjectionInput:
        form = request.form
        return cls((form.get("entry_id") or "").strip()[:20], (form.get("subject") or "").strip()[:20],
                   clean_text(form.get("body") or "")[:results.OBJECTION_MAX * 2])


def _uploads() -> list[results.Upload]:
    files = [f for f in request.files.getlist("files") if f and f.filename]
    # One byte past the limit is enough for the service to refuse a file as too large.
    return [results.Upload(os.path.basename((f.filename or "").replace("\\", "/")), f.stream.read(results.EVIDENCE_BYTES + 1))
            for f in files]


FILE_CODES = {"file_too_large", "too_many_pixels", "unsupported_image", "unsupported_document", "empty_file",
              "broken_image", "truncated_pdf", "resolution_too_low"}


def _field_of(exc: DomainError) -> str:
    """Which field a refusal belongs next to ("" for the form as a whole)."""
    if exc.field in ("entry_id", "subject", "body", "files"):
        return exc.field
    if exc.code in FILE_CODES or exc.status in (413, 415, 422):
        return "files"
    return ""


def _objection_form(contest: Contest, publication: Publication | None, values: ObjectionInput,
                    error: DomainError | None = None, status: int = 200) -> tuple[str, int]:
    now = web.now()
    closed = objection_closed_reason(publication, now)
    rows = sorted((publication.rows if publication else []), key=lambda r: (r.get("rank") is None, r.get("rank") or 0))
    html = render_template(
        "results/objection_form.html", contest=contest, stage=contests.stage_of(contest, now), publication=publication,
        rows=rows, values=values, subjects=results.SUBJECT_LABELS, closed=closed,
        error=error.message if error else "", error_field=_field_of(error) if error else "",
        max_files=results.EVIDENCE_FILES, min_length=results.OBJECTION_MIN, max_length=results.OBJECTION_MAX,
    )
    return html, (409 if closed and status == 200 else status)


@bp.route("/c/<slug>/results/objections/new", methods=["GET", "POST"])
@limiter.limit(EVIDENCE_LIMITS["address"], methods=["POST"], key_func=web.client_ip,
               error_message=lambda: _("提交异议太频繁，请稍后再试。"))
@limiter.limit(EVIDENCE_LIMITS["account"], methods=["POST"], key_func=uploader_key,
               error_message=lambda: _("提交异议太频繁，请稍后再试。"))
@login_required
def new_objection(slug: str) -> Response | tuple[str, int] | tuple[str, int, dict[str, str]]:
    contest = contests.get_contest(db.session, slug)
    publication = results.current_publication(db.session, contest)
    if request.method == "GET":
        return _objection_form(contest, publication, ObjectionInput(request.args.get("entry", "")[:20], "", ""))
    values = ObjectionInput.from_form()
    try:
        with upload_transaction():
            results.file_objection(db.session, user=web.actor(), contest=contest, entry_id=values.entry_id,
                                   subject=values.subject, body=values.body, uploads=_uploads(),
                                   storage=web.storage(), now=web.now(), ip=web.client_ip(),
                                   decoder=web.image_decoder())
    except DomainError as exc:
        return (*_objection_form(contest, publication, values, exc, exc.status), refusal_headers(exc))
    flash(_("异议已提交。主办方答复后，答复将与异议一并在结果页公开（不显示提出人）。"), "success")
    return redirect(url_for("results.results_page", slug=contest.slug, _anchor="objections"))


# --- transparency ---------------------------------------------------------------------------------

@bp.get("/c/<slug>/transparency")
def transparency(slug: str) -> str:
    contest = contests.get_contest(db.session, slug)
    if not live.has_public_vote(contest):
        raise NotFound(_("这项活动不设公众投票，没有投票透明度报告。"), code="no_public_vote")
    now = web.now()
    return render_template("results/transparency.html", contest=contest, stage=contests.stage_of(contest, now),
                           report=results.transparency_report(db.session, contest, now))


# --- the result box on entry pages --------------------------------------------------------------------

@dataclass(frozen=True)
class EntryBreakdown:
    publication: Publication
    row: PublicRow
    vote_weight: str
    publicity_open: bool


def entry_breakdown(contest: Contest, entry: Entry) -> EntryBreakdown | None:
    """Template helper: the entry's published result, once results are in 公示 or final."""
    publication = results.current_publication(db.session, contest)
    raw = results.row_of(publication, entry.id) if publication is not None else None
    if publication is None or raw is None:
        return None
    hidden = contests.hides_minor_votes(contest) and contests.is_minor(entry, results.published_on(publication))
    weights = raw.get("weights") or {}
    return EntryBreakdown(publication, public_row(raw, round_columns(publication), hidden),
                          _weight_text(weights.get("vote")), results.in_publicity(publication, web.now()))


@bp.app_context_processor
def _template_helpers() -> dict[str, Any]:
    return {"result_breakdown": entry_breakdown}
