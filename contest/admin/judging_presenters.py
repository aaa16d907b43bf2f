"""What the judging desk's pages show, built from judging's and contests' services: the
rounds with their progress, a round's overview (entries and their judges, the panel,
conflicts, the assignment), the dashboard and the live final's running order.

Each page model's fields are the names its template reads (`render_template(...,
**vars(page))`)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from ..accounts.models import User
from ..contests import service as contests
from ..contests.models import Contest, Entry, School
from ..db import SessionLike
from ..i18n import N_
from ..judging import service as judging
from ..judging.models import Assignment, JudgeProfile, PanelMember, Round

CANDIDATES_MAX = 2000  # approved entries listed for "add selected" (and added by "add all")
PREVIEW_THRESHOLDS = (90.0, 85.0, 80.0, 75.0, 70.0, 65.0, 60.0)
CONFLICT_SOURCES = {"declared": N_("申报"), "affiliation": N_("单位"), "organiser": N_("组织方")}
BAND_LABELS = {"poor": N_("较差"), "moderate": N_("中等"), "good": N_("良好"), "excellent": N_("优秀")}


# --- the list of rounds ------------------------------------------------------------


@dataclass(frozen=True)
class RoundLine:
    round: Round
    entries: int
    judges: int
    percent: int
    assigned: int
    submitted: int


def round_line(session: SessionLike, rnd: Round) -> RoundLine:
    done = judging.progress(session, rnd)
    judges = sum(1 for m in judging.panel(session, rnd) if m.status == "active")
    return RoundLine(rnd, len(done.per_entry), judges, done.percent, done.assigned, done.submitted)


def rounds_by_contest(session: SessionLike, actor: User) -> list[tuple[Contest, list[RoundLine]]]:
    """Every contest the person may see with its rounds and their progress."""
    return [(c, [round_line(session, r) for r in judging.rounds_of(session, c)])
            for c in contests.back_office_contests(session, actor=actor)]


def approved_entry_ids(session: SessionLike, contest: Contest) -> list[int]:
    """The contest's approved entries that "add all" puts into a round."""
    return [e.id for e in contests.search_gallery(
        session, contest, contests.GalleryQuery(sort="title", per_page=CANDIDATES_MAX)).items]


# --- a round's overview ------------------------------------------------------------


@dataclass(frozen=True)
class EntryLine:
    entry: Entry
    judges: list[tuple[User, bool, bool]]  # judge, pinned, submitted


@dataclass(frozen=True)
class RoundOverview:
    rnd: Round
    contest: Contest
    entries: list[Entry]
    members: list[PanelMember]
    active: list[PanelMember]
    profiles: dict[int, JudgeProfile]
    conflicts: list[judging.ConflictPair]
    judges: dict[int, User]
    entry_by_id: dict[int, Entry]
    lines: list[EntryLine]
    loads: dict[int, int]
    assignments: list[Assignment]
    removable: list[Assignment]
    report: judging.Plan | None
    candidates: list[Entry]
    sources: list[Round]
    schools: list[School]


def round_overview(session: SessionLike, rnd: Round) -> RoundOverview:
    """The round's entries with their judges, the panel, conflicts, the assignment, and
    what may be added (approved entries, finalised rounds to advance from)."""
    entries = judging.round_entries(session, rnd)
    # One query puts every entry's school in place (instead of one lazy load per row).
    contests.entries_by_id(session, [e.id for e in entries], approved_only=False)
    members = judging.panel(session, rnd)
    judges = {m.judge_id: m.judge for m in members}
    entry_by_id = {e.id: e for e in entries}
    submitted = {(s.judge_id, s.entry_id) for s in judging.submitted_scores(session, rnd)}
    rows = judging.assignments(session, rnd)
    by_entry: dict[int, list[tuple[User, bool, bool]]] = defaultdict(list)
    loads: dict[int, int] = defaultdict(int)
    for a in rows:
        by_entry[a.entry_id].append((judges[a.judge_id], a.pinned, (a.judge_id, a.entry_id) in submitted))
        loads[a.judge_id] += 1
    in_round = set(entry_by_id)
    candidates = [e for e in contests.search_gallery(
        session, rnd.contest, contests.GalleryQuery(sort="title", per_page=CANDIDATES_MAX)).items if e.id not in in_round]
    siblings = [r for r in judging.rounds_of(session, rnd.contest) if r.id != rnd.id]
    active = [m for m in members if m.status == "active"]
    return RoundOverview(
        rnd=rnd, contest=rnd.contest, entries=entries, members=members, active=active,
        profiles=judging.judge_profiles(session, [m.judge_id for m in members]),
        conflicts=judging.round_conflicts(session, rnd), judges=judges, entry_by_id=entry_by_id,
        lines=[EntryLine(e, by_entry.get(e.id, [])) for e in entries], loads=loads, assignments=rows,
        removable=[a for a in rows if (a.judge_id, a.entry_id) not in submitted],
        report=judging.assignment_report(session, rnd) if entries and active else None,
        candidates=candidates, sources=[r for r in siblings if r.state == "finalised"],
        schools=contests.list_schools(session),
    )


# --- the dashboard -----------------------------------------------------------------


@dataclass(frozen=True)
class ScoreLine:
    entry: Entry
    judge: User
    values: dict[int, float]
    total: float | None


@dataclass(frozen=True)
class Dashboard:
    rnd: Round
    contest: Contest
    progress: judging.Progress
    result: judging.aggregate.RoundResult
    entries: dict[int, Entry]
    judges: dict[int, User]
    scores: list[ScoreLine]
    targets: list[Round]
    preview: list[tuple[float, int]]
    flagged: list[judging.aggregate.EntryResult]
    stats: dict[int, judging.aggregate.JudgeStats]
    entry_progress: dict[int, tuple[int, int]]


def dashboard(session: SessionLike, *, actor: User, rnd: Round) -> Dashboard:
    """Progress, every submitted score with its total, the aggregate, the judges'
    statistics and the rounds this one's entries may advance into."""
    result = judging.compute_for(session, actor=actor, rnd=rnd)
    done = judging.progress(session, rnd)
    entries = {e.id: e for e, _a, _s in done.per_entry}
    judges = {m.judge_id: m.judge for m in judging.panel(session, rnd)}
    totals = {item.entry_id: item.totals for item in result.entries}
    scores = [ScoreLine(entries[s.entry_id], judges[s.judge_id], dict(s.values), totals.get(s.entry_id, {}).get(s.judge_id))
              for s in judging.submitted_scores(session, rnd) if s.entry_id in entries and s.judge_id in judges]
    targets = [r for r in judging.rounds_of(session, rnd.contest) if r.id != rnd.id and r.state in ("draft", "open")]
    return Dashboard(
        rnd=rnd, contest=rnd.contest, progress=done, result=result, entries=entries, judges=judges, scores=scores,
        targets=targets, preview=judging.advance_preview(result, PREVIEW_THRESHOLDS),
        flagged=[e for e in result.entries if e.flagged], stats={s.judge_id: s for s in result.judges},
        entry_progress={e.id: (a, s) for e, a, s in done.per_entry},
    )


@dataclass(frozen=True)
class AdvancePreview:
    """What advancing would do, for the confirmation page."""

    passing: list[judging.aggregate.EntryResult]
    entries: dict[int, Entry]


def advance_preview(session: SessionLike, source: Round, *, top_n: int | None, threshold: float | None) -> AdvancePreview:
    return AdvancePreview(judging.advance_candidates(judging.compute(session, source), top_n=top_n, threshold=threshold),
                          {e.id: e for e in judging.round_entries(session, source)})


# --- the live final ----------------------------------------------------------------


@dataclass(frozen=True)
class PitchLine:
    entry: Entry
    assigned: int
    submitted: int
    on_stage: bool

    @property
    def status(self) -> str:
        if self.on_stage:
            return "stage"
        if self.assigned and self.submitted >= self.assigned:
            return "done"
        return "scoring" if self.submitted else "waiting"


@dataclass(frozen=True)
class LiveDesk:
    rnd: Round
    contest: Contest
    lines: list[PitchLine]
    following: PitchLine | None
    board: judging.LiveBoard | None


def live_desk(session: SessionLike, rnd: Round) -> LiveDesk:
    """The running order with each pitch's scoring, who comes next, and the live board."""
    lines = [PitchLine(e, a, s, e.id == rnd.live_entry_id) for e, a, s in judging.progress(session, rnd).per_entry]
    current = next((i for i, line in enumerate(lines) if line.on_stage), -1)
    following = next((line for line in lines[current + 1:] if line.status != "done"), None)
    board = judging.live_board(session, rnd) if rnd.kind == "live" else None
    return LiveDesk(rnd, rnd.contest, lines, following, board)
