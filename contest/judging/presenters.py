"""What the judges' pages show, built from the judging service and `visibility` (what a
judge may see of an entry): the declaration's list, the queue, the rubric as filled in
with its running total, and the live final's big screen."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..accounts.models import User
from ..db import SessionLike
from ..errors import InvalidInput
from ..i18n import N_, _
from . import aggregate
from . import service as judging
from .models import Round, Score
from .visibility import EntryForJudge, load_people, what_judge_sees

# Marked for extraction here, translated where shown.
ROLE_LABELS = {"leader": N_("负责人"), "member": N_("成员"), "advisor": N_("指导教师")}
STATUS_LABELS = {"todo": N_("待评"), "draft": N_("草稿"), "submitted": N_("已提交")}
KIND_LABELS = {"review": N_("网络评审"), "live": N_("现场路演")}


# --- the 回避 declaration -------------------------------------------------------------------


@dataclass(frozen=True)
class DeclarationLine:
    entry: EntryForJudge
    excluded: str  # "" or the source of an existing conflict: affiliation | declared | organiser


def declaration_lines(session: SessionLike, rnd: Round, judge: User) -> list[DeclarationLine]:
    """The round's entries as the judge may see them, each with the conflict that already excludes it."""
    excluded = {c.entry_id: c.source for c in judging.round_conflicts(session, rnd, [judge.id])}
    entries = judging.round_entries(session, rnd)
    load_people(session, entries)
    return [DeclarationLine(what_judge_sees(e, blind=rnd.blind), excluded.get(e.id, "")) for e in entries]


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


def judge_queue(session: SessionLike, rnd: Round, judge: User) -> Queue:
    """The judge's entries in the round, as they may see them, with where each stands."""
    items = judging.judge_queue(session, judge=judge, rnd=rnd)
    load_people(session, [i.entry for i in items])
    rows = [QueueRow(what_judge_sees(i.entry, blind=rnd.blind), i.status, rnd.live_entry_id == i.entry.id) for i in items]
    pending = [r.entry.id for r in rows if r.status != "submitted"]
    return Queue(rows, sum(1 for r in rows if r.status == "submitted"), pending[0] if pending else None)


def result_for_judge(session: SessionLike, rnd: Round, judge: User, entry_ids: set[int]) -> list[aggregate.EntryResult]:
    """After the round closes, the judge may see the round's aggregate (their entries)."""
    if rnd.state not in ("closed", "finalised"):
        return []
    result = judging.visible_result(session, viewer=judge, rnd=rnd)
    return [item for item in result.entries if item.entry_id in entry_ids]


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


def form_of(score: Score | None) -> RubricForm:
    """The rubric filled in with a stored score (empty without one)."""
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


def screen_payload(session: SessionLike, board: judging.LiveBoard, now: datetime) -> dict[str, Any]:
    """What the big screen shows, for the page and for screen.json alike."""
    rnd = board.round
    load_people(session, [line.entry for line in [*board.ranking, *([board.current] if board.current else [])]])
    return {
        "round": {"id": rnd.id, "name": rnd.name, "state": rnd.state, "state_label": judging.state_label(rnd.state),
                  "contest": rnd.contest.short_title or rnd.contest.title},
        "current": _screen_line(board.current, rnd.blind) if board.current else None,
        "ranking": [_screen_line(line, rnd.blind) for line in board.ranking],
        "updated_at": now.isoformat(),
    }

