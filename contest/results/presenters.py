"""What the public results pages show, from the frozen publication: the rows as the
public sees them (a minor's vote count taken out), rankings and award lists, the formula
in words with its fingerprint, the sealed ledger head, earlier versions, the chart of
valid votes per day, objections without who filed them, and an entry's result box."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from ..charts import Frame, Tick
from ..contests import service as contests
from ..contests.models import Contest, Entry
from ..db import SessionLike
from ..errors import NotFound
from ..i18n import _
from ..media import withdrawals
from ..voting import live
from . import formulas
from . import service as results
from .models import FormulaChange, Objection, Publication

ROUND_COMPONENTS = {"expert_round": "expert", "jury_round": "jury", "final_round": "final"}


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
    # Who entered it, where citizens enter under their display names (全民美拍), in place of
    # a school; "" where schools enter, or when the author has no display name.
    author: str = ""

    @property
    def votes_hidden(self) -> bool:
        return self.valid_votes is None


@dataclass(frozen=True)
class RankTable:
    """One ranking table, or one page of it (RANKING_ROWS rows, the page number in the
    query argument `param`)."""

    caption: str
    rows: list[PublicRow]
    page: int = 1
    pages: int = 1
    total: int = 0  # rows in the whole table
    param: str = "page"
    anchor: str = "ranking-title"  # where a link to another page of it lands


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


def hidden_vote_entries(session: SessionLike, contest: Contest, entry_ids: Sequence[int], on: datetime) -> set[int]:
    """The entries whose vote count is not public: minors' on the day of publication, when the rule says so."""
    return contests.minors_hidden(session, contest, entry_ids, on)


def round_columns(publication: Publication) -> list[RoundColumn]:
    """The publication's rounds, each with the weight the formula gives it."""
    components = {publication.formula.get(key): name for key, name in ROUND_COMPONENTS.items()}
    weights = next((row.get("weights") or {} for row in publication.rows if row.get("weights")), {})
    return [RoundColumn(r["key"], r.get("name") or r["key"], _weight_text(weights.get(components.get(r["key"], ""))))
            for r in publication.rounds]


def public_row(row: dict[str, Any], columns: Sequence[RoundColumn], hidden: bool) -> PublicRow:
    """A frozen breakdown row as shown, scores formatted. When the entry's count is private
    (a minor's), the count, the vote score and the round scores are left out: with the
    total beside them, either score would give the vote score, and so the count, away;
    the total, the rank and the awards stay."""
    round_scores = row.get("round_scores") or {}
    withheld = _("不公开")
    vote_score = _score_text(row.get("vote_score")) if row.get("vote_score") is not None else ""
    return PublicRow(
        entry_id=int(row["entry_id"]), title=row.get("title", ""), school=row.get("school", ""),
        category=row.get("category", ""), valid_votes=None if hidden else int(row.get("valid_votes", 0)),
        vote_score=withheld if hidden and vote_score else vote_score,
        scores=[ScoreCell(c, withheld if hidden and vote_score else _score_text(round_scores.get(c.key))) for c in columns],
        final_score=_score_text(row.get("final_score")), rank=row.get("rank"),
        awards=list(row.get("awards") or ([row["award"]] if row.get("award") else [])),
    )


def _by_rank(row: PublicRow) -> tuple[bool, int, str]:
    return (row.rank is None, row.rank or 0, row.title)


def grouped_by_category(publication: Publication) -> bool:
    """Whether awards and ranks are given per category (or track) rather than as one list."""
    formula = publication.formula
    return bool(formula.get("per_category") or formula.get("per_track"))


# Rows of a ranking table per page: a city-wide contest has tens of thousands of entries.
RANKING_ROWS = 100


def _raw_rank(row: dict[str, Any]) -> tuple[bool, int, str]:
    # _by_rank, on a frozen row
    return (row.get("rank") is None, row.get("rank") or 0, row.get("title", ""))


def _raw_awards(row: dict[str, Any]) -> list[str]:
    return list(row.get("awards") or ([row["award"]] if row.get("award") else []))


def page_number(raw: str) -> int:
    """A page number from a query argument: 1 for anything but a number of up to six digits."""
    return int(raw) if raw.isdigit() and len(raw) < 7 else 1


def ranking_pages(raw_rows: list[dict[str, Any]], grouped: bool, wanted: Mapping[str, str],
                  per_page: int = RANKING_ROWS) -> list[tuple[str, list[dict[str, Any]], int, int, int, str]]:
    """The ranking tables' frozen rows as rank_tables orders them, each cut to the page
    its query argument asks for ("page" for the one table; "page_1", "page_2"… for the
    tables per category, in order): (caption, the page's rows, page, pages, total, param)."""
    if grouped:
        order: dict[str, list[dict[str, Any]]] = {}
        for row in raw_rows:
            order.setdefault(row.get("category", ""), []).append(row)
        groups = [(_("%(c)s 排名", c=name or _("未分类")), members) for name, members in order.items()]
    else:
        groups = [(_("全部作品排名"), list(raw_rows))]
    tables = []
    for number, (caption, members) in enumerate(groups, 1):
        members.sort(key=_raw_rank)
        param = f"page_{number}" if grouped else "page"
        pages = max(1, -(-len(members) // per_page))
        page = min(max(page_number(wanted.get(param, "")), 1), pages)
        tables.append((caption, members[(page - 1) * per_page:page * per_page], page, pages, len(members), param))
    return tables


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
    title: formulas.Line | None  # lines are rendered in the template (the `explained` filter)
    lines: list[formulas.Line]
    fingerprint: str
    short: str
    canonical: str  # the hashed text, when it reproduces the fingerprint


def formula_view(kind: str, formula: dict[str, Any], fingerprint: str, rounds: dict[str, str]) -> FormulaView:
    """The formula in words (rounds by name), with its fingerprint and the text the
    fingerprint covers."""
    try:
        explained = formulas.explanation(kind, formula, [], rounds=rounds)
        canonical = formulas.canonical_json(kind, formula)
    except ValueError:  # a formula stored under an older format: still show its fingerprint
        explained, canonical = [], ""
    if canonical and formulas.fingerprint(kind, formula) != fingerprint:
        canonical = ""
    title = explained[0] if explained else None
    return FormulaView(title, explained[1:], fingerprint,
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


def day_chart(days: list[tuple[str, int]]) -> DayChart | None:
    """Geometry of a bar chart of valid votes per day, each bar labelled with its number."""
    if not days:
        return None
    n = len(days)
    frame = Frame(left=44, top=22, right=10, bottom=30, plot_height=170, n=n, pitch=max(26, min(64, 330 // n)))
    axis = frame.axis(max(v for _d, v in days))
    pitch = frame.pitch
    bars = []
    for i, (day, votes) in enumerate(days):
        h = round(votes * axis.scale, 2)
        x = frame.slot(i) + pitch * 0.15
        bars.append(DayBar(date.fromisoformat(day), votes, round(x, 2), round(axis.base - h, 2), round(pitch * 0.7, 2), h,
                           round(frame.slot(i) + pitch / 2, 2)))
    return DayChart(frame.width, frame.height, frame.left, frame.plot_right, axis.base, bars, axis.ticks(),
                    sum(v for _d, v in days), wide=n > 14)


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


def objection_views(session: SessionLike, contest: Contest, all_publications: list[Publication]) -> list[ObjectionView]:
    """The contest's objections, newest first, each with the version it was filed against."""
    version_of = {p.id: p.version for p in all_publications}
    return [ObjectionView(o, o.entry.title if o.entry is not None else "", version_of.get(o.publication_id))
            for o in results.objections(session, contest)]


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
    by_school: bool = True  # schools enter (a 学校 column); else citizens do (an 作者 column)
    # entries of this version withdrawn with an organiser's approval since it was published:
    # (entry id, title, when, the organiser's reason)
    withdrawn_since: list[tuple[int, str, datetime, str]] = field(default_factory=list)

    @property
    def is_latest(self) -> bool:
        return self.publication.id == self.latest.id

    @property
    def publicity_open(self) -> bool:
        return self.is_latest and results.in_publicity(self.publication, self.now)


def results_page_of(session: SessionLike, contest: Contest, wanted_version: int | None, now: datetime,
                    wanted_pages: Mapping[str, str] | None = None) -> ResultsPage | None:
    """Everything the results page shows, or None when nothing has been published; the
    ranking tables at the pages `wanted_pages` (the query arguments) asks for."""
    latest = results.current_publication(session, contest)
    if latest is None:
        return None
    all_publications = results.publications(session, contest, rows=False)
    publication = latest
    if wanted_version is not None:
        wanted = next((p for p in all_publications if p.version == wanted_version
                       and p.state in ("publicity", "final", "superseded")), None)
        if wanted is None:
            raise NotFound(_("没有这一版结果。"), code="version_not_found")
        publication = wanted
    columns = round_columns(publication)
    hidden = hidden_vote_entries(session, contest, [int(r["entry_id"]) for r in publication.rows], results.published_on(publication))
    grouped = grouped_by_category(publication)
    pages = ranking_pages(publication.rows, grouped, wanted_pages or {})
    # only the rows shown are made public rows: this page of each table, and the winners
    shown: dict[int, dict[str, Any]] = {int(r["entry_id"]): r for r in publication.rows if _raw_awards(r)}
    for _caption, members, *_rest in pages:
        shown.update((int(r["entry_id"]), r) for r in members)
    public = {entry_id: public_row(r, columns, entry_id in hidden) for entry_id, r in shown.items()}
    by_school = contests.entered_by_schools(contest)
    if not by_school:
        public = {r.entry_id: r for r in with_authors(session, list(public.values()))}
    tables = [RankTable(caption, [public[int(r["entry_id"])] for r in members], page, count, total, param,
                        f"ranking-{number}" if grouped else "ranking-title")
              for number, (caption, members, page, count, total, param) in enumerate(pages, 1)]
    rows = list(public.values())
    weights = next((r.get("weights") or {} for r in publication.rows if r.get("weights")), {})
    has_vote = live.has_public_vote(contest)
    return ResultsPage(
        contest=contest, publication=publication, latest=latest, tables=tables,
        awards=award_lists(rows, publication.formula, grouped), columns=columns,
        show_votes=has_vote or any(r.get("valid_votes") for r in publication.rows),
        show_vote_score=any(r.get("vote_score") is not None for r in publication.rows), minors_hidden=bool(hidden),
        formula=formula_view(contest.kind, publication.formula, publication.fingerprint,
                             {r["key"]: r.get("name") or r["key"] for r in publication.rounds}),
        changes=change_views(results.formula_history(session, contest)), head=ledger_head(publication),
        chart=day_chart(results.published_votes_by_day(session, contest, publication, hidden)) if has_vote else None,
        versions=versions(all_publications), objections=objection_views(session, contest, all_publications),
        can_object=results.in_publicity(latest, now), now=now, vote_weight=_weight_text(weights.get("vote")),
        by_school=by_school, withdrawn_since=withdrawn_since(session, contest, publication),
    )


def withdrawn_since(session: SessionLike, contest: Contest, publication: Publication) -> list[tuple[int, str, datetime, str]]:
    """The version's entries whose withdrawal an organiser approved after it was published:
    the results no longer match them until a new version is published."""
    listed = {int(r["entry_id"]) for r in publication.rows}
    since = publication.confirmed_at or publication.requested_at
    return [(entry.id, entry.title, request.decided_at or since, request.decision_reason)
            for request, entry in withdrawals.withdrawn_after(session, contest, since) if entry.id in listed]


def with_authors(session: SessionLike, rows: list[PublicRow]) -> list[PublicRow]:
    """The rows with their authors' display names, read in one query (withdrawn entries
    included: they were published). The name is the one the author goes by now, as on the
    entry's page and in the gallery."""
    names = contests.author_names(session, [r.entry_id for r in rows])
    return [replace(r, author=names.get(r.entry_id) or "") for r in rows]


# --- the result box on entry pages --------------------------------------------------------------------

@dataclass(frozen=True)
class EntryBreakdown:
    publication: Publication
    row: PublicRow
    vote_weight: str
    publicity_open: bool


def entry_breakdown(session: SessionLike, contest: Contest, entry: Entry, now: datetime) -> EntryBreakdown | None:
    """The entry's published result, once results are in 公示 or final."""
    publication = results.current_publication(session, contest)
    raw = results.row_of(publication, entry.id) if publication is not None else None
    if publication is None or raw is None:
        return None
    hidden = contests.hides_minor_votes(contest) and contests.is_minor(entry, results.published_on(publication))
    weights = raw.get("weights") or {}
    return EntryBreakdown(publication, public_row(raw, round_columns(publication), hidden),
                          _weight_text(weights.get("vote")), results.in_publicity(publication, now))
