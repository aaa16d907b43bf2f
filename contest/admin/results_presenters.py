"""What the results desk's pages show, built from results', judging's and accounts'
services: the contests with their publications, a contest's preview and publishing
state, the formula editor's fields and history, the objections queue.

Each page model's fields are the names its template reads (`render_template(...,
**vars(page))`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..accounts import service as accounts
from ..accounts.models import User
from ..contests import service as contests
from ..contests.models import Contest
from ..db import SessionLike
from ..i18n import N_, _
from ..judging import service as judging
from ..results import formulas
from ..results import service as results
from ..results.models import FormulaChange, Objection, Publication

TIER_ROWS_MAX = formulas.TIERS_MAX
SPARE_TIER_ROWS = 2
OBJECTION_FILTERS = ("open", "answered", "all")


# --- the index ---------------------------------------------------------------------------


@dataclass
class ContestLine:
    contest: Contest
    fingerprint: str
    latest: Publication | None
    current: Publication | None
    open_objections: int


def contest_lines(session: SessionLike, actor: User) -> list[ContestLine]:
    """Every contest the person may see with its formula's fingerprint, latest and current
    publication and open objections."""
    # A handful of contests: a few small queries each.
    lines = []
    for contest in contests.back_office_contests(session, actor=actor):
        pubs = results.publications(session, contest)
        current = next((p for p in pubs if p.state in ("publicity", "final")), None)
        lines.append(ContestLine(contest, results.formula_of(session, contest)[1], pubs[0] if pubs else None, current,
                                 len(results.objections(session, contest, answered=False))))
    return lines


# --- the preview and publishing -----------------------------------------------------------


@dataclass(frozen=True)
class ContestDesk:
    contest: Contest
    comp: results.Computation
    rows: list[dict[str, Any]]
    rounds: list[tuple[str, str]]
    explain: list[formulas.Line]
    pending: Publication | None
    current: Publication | None
    now: datetime
    open_objections: int
    in_publicity: bool


def contest_desk(session: SessionLike, contest: Contest, now: datetime) -> ContestDesk:
    """The computed preview with its explanation, and where publishing stands."""
    comp = results.compute(session, contest)
    pubs = results.publications(session, contest)
    pending = next((p for p in pubs if p.state == "pending"), None)
    current = next((p for p in pubs if p.state in ("publicity", "final")), None)
    return ContestDesk(
        contest=contest, comp=comp, rows=results.breakdown_rows(comp), rounds=[(r.key, r.name) for r in comp.rounds],
        explain=comp.explanation(), pending=pending, current=current, now=now,
        open_objections=len(results.objections(session, contest, answered=False)),
        in_publicity=results.in_publicity(current, now),
    )


# --- the formula ----------------------------------------------------------------------------

# Labels and hints of the formula's keys, shared by the fields and the JSON help.
FIELD_TEXT: dict[str, tuple[str, str]] = {
    "vote_weight": (N_("投票权重（%）"), N_("投票分在总分中所占的百分比，与专家权重之和须为 100。")),
    "expert_weight": (N_("专家权重（%）"), N_("专家评审得分在总分中所占的百分比。")),
    "vote_scoring": (N_("投票分的计算方式"), N_("按最高票折算：票数 ÷ 最高票 × 100；按票数名次折算：100 × (件数 − 名次) ÷ (件数 − 1)。")),
    "expert_round": (N_("专家评审轮次"), N_("评审轮次的标识；只计该轮定稿后的得分。")),
    "awards": (N_("奖项（按名次依次授予）"), N_("每个奖项按名额或按参评作品数的比例设置，二者选其一。")),
    "per_category": (N_("按类别分别评奖"), N_("勾选后每个类别单独排名、单独计算名额。")),
    "jury_award": (N_("评委奖"), N_("按评委评审轮次的定稿得分排名授予。")),
    "popular_award": (N_("人气奖"), N_("按有效票数排名授予，须至少有 1 张有效票。")),
    "jury_round": (N_("评委评审轮次"), N_("评审轮次的标识；只计该轮定稿后的得分。")),
    "exclusive": (N_("同一作品不重复获奖"), N_("勾选后先定评委奖，人气奖在其余作品中按票数顺延。")),
    "final_round": (N_("决赛轮次"), N_("决赛评审轮次的标识；成绩为该轮定稿后的得分。")),
    "tiers": (N_("奖项等级（按名次依次授予）"), N_("每个等级按名额或按参加决赛项目数的比例设置，比例合计不超过 100%。")),
    "per_group": (N_("按组别分别评奖"), N_("勾选后中职组、高职组等各组单独排名、单独计算名额。")),
    "per_track": (N_("按赛道分别评奖"), N_("勾选后各赛道单独排名、单独计算名额。")),
}
SCORING_LABELS = {"max": N_("按最高票折算"), "rank": N_("按票数名次折算")}
KIND_HELP = {
    "selection": N_("最美职校生：总分 = 投票分 × 投票权重 + 专家分 × 专家权重；按总分排名授予奖项。"),
    "media": N_("全民美拍：评委奖按评委评审得分、人气奖按有效票数，通常按类别分别评出。"),
    "innovation": N_("黄炎培大赛：按决赛定稿得分排名，按等级比例或名额授予一、二、三等奖和优秀奖，通常按组别分别评出。"),
}


@dataclass
class TierValue:
    name: str = ""
    mode: str = "count"
    value: str = ""


@dataclass
class FieldView:
    key: str
    kind: str  # bool | choice | round | number | tier | tiers
    label: str
    hint: str
    value: Any = None
    tiers: list[TierValue] = field(default_factory=list)


def _tier_value(raw: Any) -> TierValue:
    if not isinstance(raw, Mapping):
        return TierValue()
    mode = "percent" if raw.get("percent") not in (None, "") else "count"
    value = raw.get(mode)
    return TierValue(str(raw.get("name") or ""), mode, "" if value is None else str(value))


def field_views(kind: str, formula: Mapping[str, Any]) -> list[FieldView]:
    """The formula's fields, in the order of the kind's default, with their values."""
    views = []
    for key, default in formulas.default_formula(kind).items():
        label, hint = FIELD_TEXT.get(key, (key, ""))
        value = formula.get(key, default)
        if isinstance(default, bool):
            views.append(FieldView(key, "bool", _(label), _(hint), bool(value)))
        elif key == "vote_scoring":
            views.append(FieldView(key, "choice", _(label), _(hint), value))
        elif key.endswith("_round"):
            views.append(FieldView(key, "round", _(label), _(hint), value or ""))
        elif isinstance(default, dict):
            views.append(FieldView(key, "tier", _(label), _(hint), tiers=[_tier_value(value)]))
        elif isinstance(default, list):
            rows = [_tier_value(t) for t in (value if isinstance(value, list) else [])][:TIER_ROWS_MAX]
            spare = min(SPARE_TIER_ROWS, TIER_ROWS_MAX - len(rows))
            views.append(FieldView(key, "tiers", _(label), _(hint), tiers=rows + [TierValue() for _i in range(spare)]))
        else:
            views.append(FieldView(key, "number", _(label), _(hint), "" if value is None else str(value)))
    return views


@dataclass(frozen=True)
class FormulaDesk:
    contest: Contest
    fields: list[FieldView]
    fingerprint: str
    canonical: str
    meaning: list[formulas.Line]
    json_text: str
    history: list[FormulaChange]
    actors: dict[int, User]
    locks_at: datetime | None
    locked: bool
    lock: results.FormulaLock
    round_keys: dict[str, str]  # key → name: the formula names rounds by key, people by name
    scoring_labels: dict[str, str]
    field_text: dict[str, tuple[str, str]]
    kind_help: str


def formula_desk(session: SessionLike, contest: Contest, now: datetime, *, shown: Mapping[str, Any] | None = None,
                 json_text: str | None = None) -> FormulaDesk:
    """The stored formula in words, its fingerprint and history, and the editor's fields
    (filled with `shown`, what was posted, when the page comes back refused)."""
    stored, fingerprint = results.formula_of(session, contest)
    history = results.formula_history(session, contest)
    lock = results.formula_lock(session, contest, now)
    round_keys = {r.key: r.name for r in judging.rounds_of(session, contest)}
    try:
        meaning = formulas.explanation(contest.kind, stored, [])
    except ValueError:
        meaning = []
    return FormulaDesk(
        contest=contest, fields=field_views(contest.kind, shown if shown is not None else stored), fingerprint=fingerprint,
        canonical=formulas.canonical_json(contest.kind, stored), meaning=meaning[1:],
        json_text=json_text if json_text is not None else json.dumps(stored, ensure_ascii=False, indent=2),
        history=list(reversed(history)), actors=accounts.users_by_id(session, (c.actor_id for c in history)),
        locks_at=lock.opens_at, locked=lock.locked, lock=lock,
        round_keys=round_keys,
        scoring_labels=SCORING_LABELS, field_text=FIELD_TEXT, kind_help=_(KIND_HELP.get(contest.kind, "")),
    )


# --- objections -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ObjectionQueue:
    objections: list[Objection]
    show: str
    open_count: int
    outcomes: dict[str, str]


def objection_queue(session: SessionLike, contest: Contest, show: str) -> ObjectionQueue:
    """The contest's objections, open, answered or all (`show`), and how many are open."""
    show = show if show in OBJECTION_FILTERS else "open"
    answered = {"open": False, "answered": True}.get(show)
    return ObjectionQueue(results.objections(session, contest, answered=answered), show,
                          len(results.objections(session, contest, answered=False)), results.OUTCOME_LABELS)
