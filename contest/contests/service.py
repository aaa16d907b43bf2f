"""Contests: stages derived from the clock, public listings, and organisers' edits."""

from __future__ import annotations

import base64
import json
import math
import re
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, column, func, or_, select, table
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, lazyload, selectinload

from ..accounts import audit, units
from ..accounts.actors import Actor, is_system
from ..accounts.models import ROLES, OrganisingUnit, User, UserRole
from ..accounts.service import set_roles
from ..clock import to_local
from ..db import SessionLike
from ..errors import Conflict, Forbidden, InvalidInput, NotFound
from ..i18n import N_, _, code_labels
from . import school_import
from .models import CATEGORY_KINDS, DISTRICTS, KINDS, STAGES, Category, Contest, Entry, NomineeProfile, School, SchoolContact
from .rules import SCHOOL_KINDS, Rules, check_rule_set, parse_rule, range_errors, rules_for_kind

SEARCH_MAX = 50
PER_PAGE = 12
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,58}[a-z0-9]$")


# --- stages -----------------------------------------------------------------------

@dataclass(frozen=True)
class StageInfo:
    """Where a contest stands at one moment. `current` is a stage name, or
    "upcoming" (nothing started), "between" (a gap between windows) or "closed"."""

    current: str
    active: tuple[str, ...]
    next_stage: str | None
    next_at: datetime | None

    def is_active(self, stage: str) -> bool:
        return stage in self.active


def stage_of(contest: Contest, now: datetime) -> StageInfo:
    """The contest's stage at `now`, derived from its windows (never stored)."""
    spans = [(s, *contest.window(s)) for s in STAGES]
    windows = [(s, a, b) for s, a, b in spans if a is not None and b is not None]
    active = tuple(s for s, a, b in windows if a <= now < b)
    upcoming = sorted((a, s) for s, a, _b in windows if a > now)
    next_stage, next_at = (upcoming[0][1], upcoming[0][0]) if upcoming else (None, None)
    if active:
        current = active[-1]  # overlapping windows: the later stage is what the public sees
    elif not windows or all(now >= b for _s, _a, b in windows):
        current = "closed" if windows else "upcoming"
    elif all(now < a for _s, a, _b in windows):
        current = "upcoming"
    else:
        current = "between"
    return StageInfo(current, active, next_stage, next_at)


@dataclass(frozen=True)
class TimelineStep:
    stage: str
    starts_at: datetime
    ends_at: datetime
    state: str  # past | current | future


def timeline(contest: Contest, now: datetime) -> list[TimelineStep]:
    """The contest's windows in order, each marked past, current or future."""
    steps = []
    for stage in STAGES:
        start, end = contest.window(stage)
        if start is None or end is None:
            continue
        state = "past" if end <= now else "current" if start <= now else "future"
        steps.append(TimelineStep(stage, start, end, state))
    return sorted(steps, key=lambda s: (s.starts_at, STAGES.index(s.stage)))


def rules_of(contest: Contest) -> Rules:
    """The contest's effective rules, typed: its kind's defaults overlaid with what it stores."""
    return Rules.build(contest.kind, contest.rules)


# --- public reading ----------------------------------------------------------------

ADULT_AGE = 18


def age_on(birth: date, day: date) -> int:
    """Age in whole years on a day."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def is_minor(entry: Entry | None, on: datetime) -> bool:
    """A nominee under 18 on that day, or of unknown age."""
    nominee = entry.nominee if entry is not None else None
    if nominee is None:
        return False
    return nominee.birth_date is None or age_on(nominee.birth_date, to_local(on).date()) < ADULT_AGE


def hides_minor_votes(contest: Contest) -> bool:
    """Whether the contest's rules keep minors' vote counts off public pages."""
    return rules_of(contest).hides_minor_votes


def minors_hidden(session: SessionLike, contest: Contest, entry_ids: Sequence[int], on: datetime) -> set[int]:
    """Entries whose vote counts the public may not see (one query, only when the rule is on)."""
    if not entry_ids or not hides_minor_votes(contest):
        return set()
    return minors_among(contest, entries_by_id(session, list(entry_ids), approved_only=False), on)


def minors_among(contest: Contest, entries: Mapping[int, Entry], on: datetime) -> set[int]:
    """minors_hidden for entries the caller has already loaded (no query)."""
    if not hides_minor_votes(contest):
        return set()
    return {entry_id for entry_id, entry in entries.items() if is_minor(entry, on)}


def list_contests(session: SessionLike, *options: Any, include_unpublished: bool = False) -> list[Contest]:
    """Contests in display order (`options`: loader options of the query)."""
    query = select(Contest).options(*options).order_by(Contest.position, Contest.id)
    if not include_unpublished:
        query = query.where(Contest.is_published.is_(True))
    return list(session.scalars(query))


@dataclass
class HomeListing:
    """The home page's contests: the city's first, then the 区县's (of one 区县 when asked)."""

    city: list[Contest]
    district: list[Contest]
    districts: list[str]  # the 区县 that have public contests, in the platform's order
    chosen: str  # the 区县 asked for, or "" for all


def home_listing(session: SessionLike, *, district: str = "") -> HomeListing:
    items = list_contests(session)
    local = [c for c in items if c.unit is not None and c.unit.level == "district"]
    have = {c.unit.district for c in local if c.unit is not None}
    chosen = district if district in have else ""
    return HomeListing(
        city=[c for c in items if c not in local],
        district=[c for c in local if not chosen or (c.unit is not None and c.unit.district == chosen)],
        districts=[d for d in DISTRICTS if d in have], chosen=chosen,
    )


THEME = "技能：让生活更美好"


def contest_template(unit: OrganisingUnit, kind: str, now: datetime) -> ContestChanges:
    """A new contest of a unit as the back office offers it: for a 区县, its own 全民美拍
    (附件3 of the city's notice), with the stages laid out from tomorrow — a week to
    submit, review beside it, a week of voting, judging and five days of 公示 — and the
    default rules (one vote per entry a day, captcha when risky). Nothing is stored."""
    start = to_local(now).replace(hour=9, minute=0, second=0, microsecond=0) + timedelta(days=1)

    def days(a: int, b: int) -> tuple[datetime, datetime]:
        return start + timedelta(days=a), start + timedelta(days=b)

    place = unit.district or unit.name
    title = f"{place}“{THEME}”全民美拍活动" if kind == "media" else ""
    return ContestChanges(
        slug=f"unit{unit.id}-{kind}-{to_local(now).year}", kind=kind, title=title,
        short_title=f"{place}全民美拍"[:40] if kind == "media" else "", theme=THEME, unit_id=unit.id,
        summary=f"用照片和短视频记录{place}的技能之美，市民投稿、公众投票、专家评审。" if kind == "media" else "",
        windows={"submission": days(0, 7), "review": days(0, 8), "voting": days(8, 15), "judging": days(15, 18),
                 "publicity": days(18, 23)},
    )


def unit_contests(session: SessionLike, unit: OrganisingUnit) -> list[Contest]:
    """A unit's own contests, in display order."""
    return list(session.scalars(select(Contest).where(Contest.unit_id == unit.id).order_by(Contest.position, Contest.id)))


def back_office_contests(session: SessionLike, *, actor: Actor, capability: str = "view") -> list[Contest]:
    """The contests the actor may work on (every one for the platform's operators), in
    display order; Forbidden for someone without a role anywhere."""
    require_somewhere(actor, capability)
    query = select(Contest).order_by(Contest.position, Contest.id)
    ids = scoped_contest_ids(actor, capability)
    if ids is not None:
        query = query.where(Contest.id.in_(ids))
    return list(session.scalars(query))


def get_contest(session: SessionLike, slug: str, *options: Any, include_unpublished: bool = False) -> Contest:
    """A contest by slug, or NotFound (`options`: loader options of the query)."""
    contest = session.scalar(select(Contest).options(*options).where(Contest.slug == slug))
    if contest is None or (not contest.is_published and not include_unpublished):
        raise NotFound(_("没有找到这项活动，请检查链接。"))
    return contest


def counts_shown(contest: Contest, now: datetime) -> bool:
    """Whether live vote counts may be shown now: the contest has a public vote, its rules
    make counts public, and we are not in the hidden stretch before voting closes (once
    voting has closed the final counts show again). voting.live.counts_visible is this."""
    start, end = contest.window("voting")
    rules = rules_of(contest)
    if start is None or end is None or not rules.has_public_vote or not rules.counts_public:
        return False
    hide = timedelta(hours=rules.hide_counts_hours_before_close)
    return not (hide and end - hide <= now < end)


@dataclass(frozen=True)
class PageScope:
    """What a public page depends on besides stored data, for the shared page cache: the
    contest (None for pages about every contest), the stretch of the schedule `now` is in
    (a page changes by itself when a stage starts or ends and when counts hide or show
    again), how long until the next such moment, and whether vote counts are shown."""

    contest_id: int | None
    stretch: int
    seconds_left: float | None
    counts_shown: bool


@dataclass(frozen=True)
class ScopeBasis:
    """A PageScope before the time is known: what the contest's row (or every published
    contest's rows) says about it. The shared page cache keeps it between requests, renewed
    by the same version counters that renew the pages (contest/page_cache.py)."""

    contest_id: int | None
    moments: tuple[datetime, ...]  # sorted: the stage boundaries and when counts hide
    counts_until: datetime | None = None  # counts may show: the voting window's end …
    hidden_for: timedelta = timedelta()  # … and how long before it they hide (counts_shown)

    def at(self, now: datetime) -> PageScope:
        ahead = bisect_right(self.moments, now)
        left = (self.moments[ahead] - now).total_seconds() if ahead < len(self.moments) else None
        end, hide = self.counts_until, self.hidden_for
        shown = end is not None and not (hide and end - hide <= now < end)
        return PageScope(self.contest_id, ahead, left, shown)


def _moments(contest: Contest) -> set[datetime]:
    moments = {m for stage in STAGES for m in contest.window(stage) if m is not None}
    _start, end = contest.window("voting")
    hours = rules_of(contest).hide_counts_hours_before_close
    if end is not None and hours:
        moments.add(end - timedelta(hours=hours))
    return moments


def page_basis(session: SessionLike, slug: str | None) -> ScopeBasis:
    """The ScopeBasis of a contest's public pages (NotFound for an unknown contest), or with
    no slug, of pages listing every contest (the home page, the API's lists)."""
    if slug is None:
        moments: set[datetime] = set()
        for each in list_contests(session, lazyload(Contest.categories)):
            moments |= _moments(each)
        return ScopeBasis(None, tuple(sorted(moments)))
    # One query: its categories are loaded later if the page is made.
    contest = get_contest(session, slug, lazyload(Contest.categories))
    start, end = contest.window("voting")
    rules = rules_of(contest)
    shows = start is not None and end is not None and rules.has_public_vote and rules.counts_public
    return ScopeBasis(contest.id, tuple(sorted(_moments(contest))), end if shows else None,
                      timedelta(hours=rules.hide_counts_hours_before_close))


def get_contest_by_id(session: SessionLike, contest_id: int) -> Contest:
    contest = session.get(Contest, contest_id)
    if contest is None:
        raise NotFound(_("没有找到这项活动，请检查链接。"))
    return contest


def approved_counts(session: SessionLike, contest_ids: list[int]) -> dict[int, int]:
    """Approved entries per contest, in one query."""
    rows = session.execute(
        select(Entry.contest_id, func.count())
        .where(Entry.contest_id.in_(contest_ids), Entry.status == "approved")
        .group_by(Entry.contest_id)
    )
    return {cid: n for cid, n in rows}


@dataclass(frozen=True)
class ContestStats:
    entries: int
    schools: int
    by_category: dict[int, int]
    authors: int = 0  # accounts that entered, for contests citizens enter (全民美拍)


def contest_stats(session: SessionLike, contest: Contest) -> ContestStats:
    """Counts of approved entries, schools (or authors) taking part and entries per category."""
    base = select(Entry).where(Entry.contest_id == contest.id, Entry.status == "approved").subquery()
    entries, schools, authors = session.execute(
        select(func.count(), func.count(base.c.school_id.distinct()), func.count(base.c.submitted_by_id.distinct()))
        .select_from(base)
    ).one()
    rows = session.execute(select(base.c.category_id, func.count()).group_by(base.c.category_id))
    return ContestStats(entries, schools, {cid: n for cid, n in rows if cid is not None}, authors)


@dataclass(frozen=True)
class GalleryQuery:
    q: str = ""
    category_id: int | None = None
    school_id: int | None = None
    district: str = ""
    sort: str = "newest"
    page: int = 1
    per_page: int = PER_PAGE
    after: str = ""  # the previous page's cursor (Page.next_after): the page starts after its last entry


GALLERY_SORTS = ("newest", "oldest", "title", "votes")

# The vote table seen through a lightweight construct: the gallery's "most votes" order
# needs one column of it, and contests must not depend on the voting domain's models.
_vote = table("vote", column("entry_id"), column("status"))


def _int_or_none(raw: str | None) -> int | None:
    raw = (raw or "").strip()
    return int(raw) if raw.isdigit() and len(raw) < 10 else None


def entered_by_schools(contest: Contest) -> bool:
    """Whether schools enter this contest (最美职校生, 黄炎培): its gallery filters by school
    and district. Citizens enter the others (全民美拍) under their display names."""
    return contest.kind in SCHOOL_KINDS


def parse_gallery_query(args: Mapping[str, str], contest: Contest | None = None) -> GalleryQuery:
    """Gallery parameters from a query string: bad numbers are ignored or clamped, an
    over-long search is refused. A contest that schools do not enter has no school or
    district filter, so those parameters are not read for it."""
    q = (args.get("q") or "").strip()
    if len(q) > SEARCH_MAX:
        raise InvalidInput(_("搜索内容太长了，请不要超过 %(n)s 个字。", n=SEARCH_MAX), code="query_too_long")
    raw_page = (args.get("page") or "1").strip()
    page = int(raw_page) if re.fullmatch(r"-?\d{1,6}", raw_page) else 1
    sort = args.get("sort") or "newest"
    by_school = contest is None or entered_by_schools(contest)
    district = (args.get("district") or "").strip() if by_school else ""
    return GalleryQuery(
        q=q,
        category_id=_int_or_none(args.get("category")),
        school_id=_int_or_none(args.get("school")) if by_school else None,
        district=district if district in DISTRICTS else "",
        sort=sort if sort in GALLERY_SORTS else "newest",
        page=max(page, 1),
        after=(args.get("after") or "").strip()[:CURSOR_MAX],
    )


@dataclass
class Page:
    items: list[Any]
    total: int
    page: int
    per_page: int
    pages: int = field(init=False)
    next_after: str = ""  # where the next page starts (a keyset cursor), when the order has one

    def __post_init__(self) -> None:
        self.pages = max(1, math.ceil(self.total / self.per_page))


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_gallery(session: SessionLike, contest: Contest, query: GalleryQuery) -> Page:
    """Approved entries of a contest, searched, filtered, sorted and paginated (2 queries).
    A search matches the title, the school and the nominee's name where it is shown in
    full; in a contest citizens enter,
    also the author's display name (shown on its entries; a school contact's is not)."""
    if query.sort == "votes" and hides_minor_votes(contest):
        # An order by votes would place a minor's entry between visible counts.
        raise InvalidInput(_("本活动不公开未满 18 周岁选手的票数，作品不能按票数排序。"), code="sort_not_offered")
    stmt = select(Entry).where(Entry.contest_id == contest.id, Entry.status == "approved")
    by_school = entered_by_schools(contest)
    if query.q:
        pattern = f"%{_escape_like(query.q)}%"
        matches = [
            Entry.title.ilike(pattern, escape="\\"),
            Entry.school.has(School.name.ilike(pattern, escape="\\")),
            # by the name as shown: one shown as 李同学 is not found by the full name
            Entry.nominee.has(and_(NomineeProfile.name.ilike(pattern, escape="\\"),
                                   func.coalesce(NomineeProfile.public_fields["name"].as_string(), "full") != "surname")),
        ]
        if not by_school:
            matches.append(Entry.submitted_by.has(User.display_name.ilike(pattern, escape="\\")))
        stmt = stmt.where(or_(*matches))
    if query.category_id:
        stmt = stmt.where(or_(Entry.category_id == query.category_id, Entry.group_id == query.category_id))
    if query.school_id:
        stmt = stmt.where(Entry.school_id == query.school_id)
    if query.district:
        stmt = stmt.where(Entry.school.has(School.district == query.district))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    pages = max(1, math.ceil(total / query.per_page))
    page = min(query.page, pages)
    after = _read_cursor(query.after, query.sort)
    offset = (page - 1) * query.per_page
    if after is not None and query.sort in KEYSET_ORDERS:
        stmt, offset = stmt.where(_after(query.sort, *after)), 0
    orders: dict[str, tuple[ColumnElement[Any], ...]] = {
        "newest": (Entry.published_at.desc(), Entry.id.desc()),
        "oldest": (Entry.published_at.asc(), Entry.id.asc()),
        "title": (Entry.title.asc(), Entry.id.asc()),
        "votes": (_valid_votes_of_entry().desc(), Entry.published_at.desc(), Entry.id.desc()),
    }
    order = orders[query.sort]
    shown = [joinedload(Entry.school), joinedload(Entry.category), joinedload(Entry.nominee)]
    if not by_school:
        shown.append(_author())  # the author's display name on each card
    items = list(session.scalars(stmt.options(*shown).order_by(*order).limit(query.per_page).offset(offset or None)).unique())
    result = Page(items, total, page, query.per_page)
    if items and page < result.pages and query.sort in KEYSET_ORDERS:
        result.next_after = _cursor(query.sort, items[-1])
    return result


# Deep pages by keyset: the link to the next page carries where it starts (the sort key and
# id of the last entry shown), so the database seeks there along the order instead of
# counting past every entry before it (OFFSET). "Most votes" orders by a count that
# changes with every vote and stays with OFFSET; a page reached without a cursor (typed
# in, or "previous") too.
KEYSET_ORDERS = {"newest": "desc", "oldest": "asc", "title": "asc"}
CURSOR_MAX = 300


def _sort_value(sort: str, entry: Entry) -> Any:
    return entry.title if sort == "title" else entry.published_at


def _cursor(sort: str, entry: Entry) -> str:
    value = _sort_value(sort, entry)
    raw = json.dumps([sort, value.isoformat() if isinstance(value, datetime) else value, entry.id], ensure_ascii=False)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _read_cursor(cursor: str, sort: str) -> tuple[Any, int] | None:
    """The sort key and id a cursor names, or None when it is not one of this order's."""
    if not cursor:
        return None
    try:
        found = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        kind, value, entry_id = found
        if kind != sort or not isinstance(entry_id, int) or not isinstance(value, str):
            return None
        return (value if sort == "title" else datetime.fromisoformat(value)), entry_id
    except (ValueError, TypeError):
        return None


def _after(sort: str, value: Any, entry_id: int) -> ColumnElement[bool]:
    column = Entry.title if sort == "title" else Entry.published_at
    if KEYSET_ORDERS[sort] == "desc":
        return or_(column < value, and_(column == value, Entry.id < entry_id))
    return or_(column > value, and_(column == value, Entry.id > entry_id))


def _author() -> Any:
    # The account that entered it, for its display name only: not its roles.
    return joinedload(Entry.submitted_by).lazyload(User.roles)


def _valid_votes_of_entry() -> Any:
    # Correlated count over the (entry_id, status) index; counts held or voided votes never.
    return (select(func.count()).select_from(_vote)
            .where(_vote.c.entry_id == Entry.id, _vote.c.status == "valid").correlate(Entry).scalar_subquery())


def entries_by_id(session: SessionLike, entry_ids: list[int], *, approved_only: bool = True) -> dict[int, Entry]:
    """Entries by id in one query (with school, category, nominee and author), approved ones only
    unless told otherwise."""
    if not entry_ids:
        return {}
    query = select(Entry).where(Entry.id.in_(entry_ids)).options(
        joinedload(Entry.school), joinedload(Entry.category), joinedload(Entry.nominee), _author())
    if approved_only:
        query = query.where(Entry.status == "approved")
    return {entry.id: entry for entry in session.scalars(query).unique()}


def author_names(session: SessionLike, entry_ids: list[int]) -> dict[int, str]:
    """The display names of the entries' authors (entries without one left out), in one
    two-column query."""
    if not entry_ids:
        return {}
    return {entry_id: name for entry_id, name in session.execute(
        select(Entry.id, User.display_name).join(User, User.id == Entry.submitted_by_id).where(Entry.id.in_(entry_ids)))}


def get_public_entry(session: SessionLike, contest: Contest, entry_id: int) -> Entry:
    """An approved entry of this contest, with what its page shows, or NotFound."""
    entry = session.scalar(
        select(Entry)
        .where(Entry.id == entry_id, Entry.contest_id == contest.id, Entry.status == "approved")
        .options(
            joinedload(Entry.school), joinedload(Entry.category), joinedload(Entry.group),
            joinedload(Entry.nominee), _author(), selectinload(Entry.team_members),
        )
    )
    if entry is None:
        raise NotFound(_("没有找到这件作品，可能尚未通过审核或已撤回。"))
    return entry


def schools_in_contest(session: SessionLike, contest: Contest) -> list[School]:
    """Schools with at least one approved entry, for the gallery filter (none in a contest
    that schools do not enter)."""
    if not entered_by_schools(contest):
        return []
    return list(session.scalars(
        select(School).where(School.id.in_(
            select(Entry.school_id).where(Entry.contest_id == contest.id, Entry.status == "approved")
        )).order_by(School.name)
    ))


# --- organisers' edits --------------------------------------------------------------

CONTEST_TEXT_FIELDS = {"title": 120, "short_title": 40, "theme": 120, "summary": 500, "rules_text": 20000}


def _contest_snapshot(contest: Contest) -> dict[str, Any]:
    snap: dict[str, Any] = {f: getattr(contest, f) for f in ("slug", "kind", "is_published", "position", *CONTEST_TEXT_FIELDS)}
    snap["awarded_on"] = contest.awarded_on.isoformat() if contest.awarded_on else None
    snap["unit"] = contest.unit.name if contest.unit is not None else None
    snap["co_units"] = [u.name for u in contest.co_units]
    # Windows in Beijing time whatever zone they came in (the database gives UTC, a form
    # gives +08:00), so an unchanged window never shows up as a change in the audit.
    for stage in STAGES:
        start, end = contest.window(stage)
        snap[f"{stage}_starts_at"] = to_local(start).isoformat() if start else None
        snap[f"{stage}_ends_at"] = to_local(end).isoformat() if end else None
    # One key per effective rule, so the audit of an edit names only the rules whose value
    # changed (storing a default explicitly is no change).
    for key, value in rules_of(contest).as_dict().items():
        snap[f"rules.{key}"] = value
    return snap


# The years a 颁奖日期 may fall in: a typo such as 0202 or 20245 is refused, not printed.
AWARD_YEARS = (2000, 2100)


@dataclass
class ContestChanges:
    """What an organiser submits for a contest. Windows are aware datetimes or None."""

    slug: str
    kind: str
    title: str
    short_title: str = ""
    theme: str = ""
    summary: str = ""
    unit_id: int | None = None  # the organising unit (主办); None keeps the contest's
    co_unit_ids: tuple[int, ...] = ()  # co-organising units (协办) shown on its pages
    rules_text: str = ""
    is_published: bool = True
    position: int = 0
    windows: dict[str, tuple[datetime | None, datetime | None]] = field(default_factory=dict)
    rules: dict[str, Any] = field(default_factory=dict)
    awarded_on: date | None = None  # 颁奖日期 printed on certificates; None: the publication's date


class ContestInvalid(InvalidInput):
    """Everything wrong with a submitted contest at once, so the form can show each message
    beside its field. `errors` maps a field (a contest attribute, a stage window's
    `<stage>_starts_at`, or `rules.<key>`) to its message; `message` is the first one."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        first_field, first = next(iter(errors.items()))
        super().__init__(first, field=first_field)
        self.errors = dict(errors)


def _changes_errors(changes: ContestChanges) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not SLUG_RE.fullmatch(changes.slug or ""):
        errors["slug"] = _("网址标识只能用小写字母、数字和连字符，3–60 位。")
    if changes.kind not in KINDS:
        errors["kind"] = _("未知的活动类型。")
    if not (changes.title or "").strip():
        errors["title"] = _("请填写活动名称。")
    for name, limit in CONTEST_TEXT_FIELDS.items():
        if len(getattr(changes, name) or "") > limit:
            errors.setdefault(name, _("“%(field)s”太长了（最多 %(n)s 个字）。", field=name, n=limit))
    previous_start: datetime | None = None
    for stage in STAGES:
        start, end = changes.windows.get(stage, (None, None))
        if (start is None) != (end is None):
            errors[f"{stage}_starts_at"] = _("“%(stage)s”阶段需要同时填写开始和结束时间。", stage=stage_label(stage))
        if start is not None and end is not None:
            if start >= end:
                errors[f"{stage}_ends_at"] = _("“%(stage)s”阶段的结束时间必须晚于开始时间。", stage=stage_label(stage))
            if previous_start is not None and start < previous_start:
                errors[f"{stage}_starts_at"] = _("“%(stage)s”阶段不能早于前一阶段开始。", stage=stage_label(stage))
            previous_start = start
    if changes.awarded_on is not None and not AWARD_YEARS[0] <= changes.awarded_on.year <= AWARD_YEARS[1]:
        errors["awarded_on"] = _("颁奖日期应在 %(lo)s 年到 %(hi)s 年之间。", lo=AWARD_YEARS[0], hi=AWARD_YEARS[1])
    return errors


def _validate(changes: ContestChanges, stored_rules: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The submitted rules, parsed, or ContestInvalid naming every field that is wrong:
    the texts, the windows, each rule, and the ranges the rules (over `stored_rules`) make."""
    errors = _changes_errors(changes)
    applicable = {spec.key for spec in rules_for_kind(changes.kind)}
    rules: dict[str, Any] = {}
    for key, value in changes.rules.items():
        if key not in applicable:
            continue
        try:
            rules[key] = parse_rule(key, value)
        except InvalidInput as exc:
            errors[f"rules.{key}"] = exc.message
    if changes.kind in KINDS:
        # A range is judged only from values that parsed: a bad number already has its message.
        for low, message in range_errors(changes.kind, {**(stored_rules or {}), **rules}).items():
            errors.setdefault(f"rules.{low}", message)
    if errors:
        raise ContestInvalid(errors)
    return rules


def check_contest(changes: ContestChanges, stored_rules: Mapping[str, Any] | None = None) -> None:
    """ContestInvalid naming every field of `changes` that is wrong (stored nothing)."""
    _validate(changes, stored_rules)


def _apply(contest: Contest, changes: ContestChanges, rules: dict[str, Any], now: datetime) -> None:
    contest.slug = changes.slug
    contest.kind = changes.kind
    for name in CONTEST_TEXT_FIELDS:
        # Browsers send a textarea's line breaks as CRLF; paragraphs are split on "\n\n".
        setattr(contest, name, (getattr(changes, name) or "").replace("\r\n", "\n").strip())
    contest.is_published = changes.is_published
    contest.position = changes.position
    contest.awarded_on = changes.awarded_on
    for stage in STAGES:
        start, end = changes.windows.get(stage, (None, None))
        setattr(contest, f"{stage}_starts_at", start)
        setattr(contest, f"{stage}_ends_at", end)
    contest.rules = {**(contest.rules or {}), **rules}
    contest.updated_at = now


def require_staff(actor: Actor) -> None:
    """Platform-wide records (schools and their contacts, accounts' roles) are kept by the
    platform's operators and the admins and organisers of a city unit (and SYSTEM):
    accounts.units.is_city_staff."""
    if not is_system(actor) and not units.is_city_staff(actor):
        raise Forbidden(_("您没有权限进行此操作。"))


def require_in(session: SessionLike, actor: Actor, contest: Contest, capability: str) -> None:
    """Forbidden unless the actor holds the capability in the contest's organising unit
    (accounts.units: SYSTEM passes, operators everywhere); notes the contest for the audit."""
    units.require(actor, capability, unit_id=contest.unit_id, contest_id=contest.id, session=session)


def require_somewhere(actor: Actor, capability: str) -> None:
    """Forbidden unless the actor holds the capability in some unit (for lists that span
    contests, which then show only those contests: `scoped_contest_ids`)."""
    if not is_system(actor) and not units.has_anywhere(actor, capability):
        raise Forbidden(_("您没有权限进行此操作。"))


def scoped_contest_ids(actor: Actor, capability: str) -> Select[Any] | None:
    """The ids of the contests in which the actor holds the capability, as a subquery to
    filter by; None where that is every contest (SYSTEM, the platform's operators)."""
    if is_system(actor):
        return None
    scopes = units.visible_scopes(actor, capability)
    if scopes is None:
        return None
    unit_ids, pairs = scopes
    return select(Contest.id).where(or_(Contest.unit_id.in_(unit_ids or {-1}),
                                        *(and_(Contest.unit_id == u, Contest.id == c) for u, c in sorted(pairs))))


def note_contest(session: SessionLike, contest: Contest) -> None:
    """The contest the next audit rows belong to (in a loop over several contests)."""
    units.note_scope(session, unit_id=contest.unit_id, contest_id=contest.id)


def _set_units(session: SessionLike, actor: Actor, contest: Contest, changes: ContestChanges) -> None:
    """The organising unit (one the actor may create contests in) and the co-organisers."""
    if changes.unit_id is not None and changes.unit_id != contest.unit_id:
        if session.get(OrganisingUnit, changes.unit_id) is None:
            raise InvalidInput(_("请选择主办单位。"), field="unit_id")
        if not is_system(actor) and not units.can(actor, "create", unit_id=changes.unit_id):
            raise Forbidden(_("您不能为该单位创建活动。"))
        contest.unit = session.get(OrganisingUnit, changes.unit_id)
    if contest.unit is None and contest.unit_id is None:
        raise InvalidInput(_("请选择主办单位。"), field="unit_id")
    wanted = [i for i in dict.fromkeys(changes.co_unit_ids) if i != (contest.unit_id or changes.unit_id)]
    co_units = [u for u in (session.get(OrganisingUnit, i) for i in wanted) if u is not None]
    if len(co_units) != len(wanted):
        raise InvalidInput(_("协办单位不存在。"), field="co_unit_ids")
    contest.co_units = co_units


def create_contest(session: SessionLike, *, actor: Actor, changes: ContestChanges, now: datetime, ip: str = "") -> Contest:
    """Create a contest of a unit: its admins and organisers, the platform's operators, or
    SYSTEM (an operator at the command line, the demo)."""
    units.require(actor, "create", unit_id=changes.unit_id, session=session)
    if changes.unit_id is None:
        raise InvalidInput(_("请选择主办单位。"), field="unit_id")
    rules = _validate(changes)
    if session.scalar(select(Contest.id).where(Contest.slug == changes.slug)) is not None:
        raise Conflict(_("网址标识“%(slug)s”已被使用。", slug=changes.slug), field="slug")
    contest = Contest(created_at=now, rules={})
    _apply(contest, changes, rules, now)
    _set_units(session, actor, contest, changes)
    session.add(contest)
    _flush_unique(session, changes.slug)
    units.note_scope(session, unit_id=contest.unit_id, contest_id=contest.id)
    audit.record(session, actor=actor, action="contest.create", target_type="contest", target_id=contest.id,
                 now=now, after=_contest_snapshot(contest), summary=contest.title, ip=ip)
    return contest


def update_contest(session: SessionLike, *, actor: User, contest: Contest, changes: ContestChanges, now: datetime, ip: str = "") -> Contest:
    """Change a contest's texts, windows and rules; the change is audit-logged. Moving it
    to another unit needs the right to create contests there."""
    require_in(session, actor, contest, "configure")
    rules = _validate(changes, contest.rules)
    clash = session.scalar(select(Contest.id).where(Contest.slug == changes.slug, Contest.id != contest.id))
    if clash is not None:
        raise Conflict(_("网址标识“%(slug)s”已被使用。", slug=changes.slug), field="slug")
    before = _contest_snapshot(contest)
    _apply(contest, changes, rules, now)
    _set_units(session, actor, contest, changes)
    _flush_unique(session, changes.slug)
    old, new = audit.diff(before, _contest_snapshot(contest))
    if new:
        audit.record(session, actor=actor, action="contest.update", target_type="contest", target_id=contest.id,
                     now=now, before=old, after=new, summary=contest.title, ip=ip)
    return contest


def set_rules(
    session: SessionLike, *, actor: Actor, contest: Contest, values: Mapping[str, Any], now: datetime, ip: str = "",
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Change some rules of a contest, each checked by parse_rule and the ranges by check_rule_set; returns
    and audit-logs (before, after) of the rules whose value changed (SYSTEM is an operator at the command line)."""
    require_in(session, actor, contest, "configure")
    applicable = {spec.key for spec in rules_for_kind(contest.kind)}
    parsed: dict[str, Any] = {}
    for key, raw in values.items():
        parsed[key] = parse_rule(key, raw)
        if key not in applicable:
            raise InvalidInput(_("规则“%(key)s”不适用于%(kind)s。", key=key, kind=kind_label(contest.kind)), field=key)
    check_rule_set(contest.kind, {**(contest.rules or {}), **parsed})
    before = rules_of(contest).as_dict()
    contest.rules = {**(contest.rules or {}), **parsed}
    old, new = audit.diff(before, rules_of(contest).as_dict())
    if new:
        contest.updated_at = now
        audit.record(session, actor=actor, action="contest.rules", target_type="contest", target_id=contest.id,
                     now=now, before=old, after=new, summary=contest.title, ip=ip)
    session.flush()
    return old, new


def _flush_unique(session: SessionLike, slug: str) -> None:
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict(_("网址标识“%(slug)s”已被使用。", slug=slug), field="slug") from None


def add_category(session: SessionLike, *, actor: Actor, contest: Contest, kind: str, name: str, description: str = "", now: datetime, ip: str = "") -> Category:
    """Add a category, track or group to a contest."""
    require_in(session, actor, contest, "configure")
    name = (name or "").strip()
    if kind not in CATEGORY_KINDS:
        raise InvalidInput(_("未知的分类类型。"), field="kind")
    if not name or len(name) > 60:
        raise InvalidInput(_("请填写分类名称（最多 60 个字）。"), field="name")
    if any(c.kind == kind and c.name == name for c in contest.categories):
        raise Conflict(_("已有同名的分类“%(name)s”。", name=name), field="name")
    category = Category(kind=kind, name=name, description=(description or "").strip()[:300],
                        position=len(contest.categories_of(kind)))
    contest.categories.append(category)
    session.flush()
    audit.record(session, actor=actor, action="category.create", target_type="contest", target_id=contest.id,
                 now=now, after={"id": category.id, "kind": kind, "name": name}, summary=f"{contest.title} / {name}", ip=ip)
    return category


def remove_category(session: SessionLike, *, actor: User, contest: Contest, category_id: int, now: datetime, ip: str = "") -> None:
    """Remove a category that no entry uses."""
    require_in(session, actor, contest, "configure")
    category = next((c for c in contest.categories if c.id == category_id), None)
    if category is None:
        raise NotFound(_("没有找到这个分类。"))
    used = session.scalar(select(func.count()).where(or_(Entry.category_id == category_id, Entry.group_id == category_id)))
    if used:
        raise Conflict(_("已有 %(n)s 件作品属于“%(name)s”，不能删除。", n=used, name=category.name))
    contest.categories.remove(category)
    session.flush()
    audit.record(session, actor=actor, action="category.delete", target_type="contest", target_id=contest.id,
                 now=now, before={"id": category_id, "kind": category.kind, "name": category.name}, ip=ip)


CATEGORY_POSITION_MAX = 999


def update_category(
    session: SessionLike, *, actor: Actor, contest: Contest, category_id: int, kind: str, name: str,
    description: str = "", position: int | None = None, now: datetime, ip: str = "",
) -> Category:
    """Rename a category, track or group, change its description, order or kind (audit-logged).
    Its kind stays as it is while entries use it: an entry's group and its category are
    different fields, so a used group cannot become a category."""
    require_in(session, actor, contest, "configure")
    category = next((c for c in contest.categories if c.id == category_id), None)
    if category is None:
        raise NotFound(_("没有找到这个分类。"))
    name = (name or "").strip()
    description = (description or "").strip()
    if kind not in CATEGORY_KINDS:
        raise InvalidInput(_("未知的分类类型。"), field="kind")
    if not name or len(name) > 60:
        raise InvalidInput(_("请填写分类名称（最多 60 个字）。"), field="name")
    if len(description) > 300:
        raise InvalidInput(_("说明最多 300 个字。"), field="description")
    if position is not None and not 0 <= position <= CATEGORY_POSITION_MAX:
        raise InvalidInput(_("排序应在 0 到 %(n)s 之间。", n=CATEGORY_POSITION_MAX), field="position")
    if any(c.id != category.id and c.kind == kind and c.name == name for c in contest.categories):
        raise Conflict(_("已有同名的分类“%(name)s”。", name=name), field="name")
    if kind != category.kind:
        used = session.scalar(select(func.count()).where(or_(Entry.category_id == category.id, Entry.group_id == category.id)))
        if used:
            raise Conflict(_("已有 %(n)s 件作品属于“%(name)s”，不能更改类型。", n=used, name=category.name), field="kind")
    before = {"kind": category.kind, "name": category.name, "description": category.description,
              "position": category.position}
    category.kind, category.name, category.description = kind, name, description
    if position is not None:
        category.position = position
    session.flush()
    old, new = audit.diff(before, {"kind": category.kind, "name": category.name, "description": category.description,
                                   "position": category.position})
    if new:
        audit.record(session, actor=actor, action="category.update", target_type="contest", target_id=contest.id,
                     now=now, before={"id": category.id, **old}, after={"id": category.id, **new},
                     summary=f"{contest.title} / {name}", ip=ip)
    return category


# --- school contacts as recipients, and roles of many accounts --------------------------------

NOTICE_AUDIENCES_OF_SCHOOLS = ("schools_entered", "schools_all")


def school_contact_users(session: SessionLike, contest: Contest | None) -> list[User]:
    """Active accounts holding the school_contact role and linked to a school: every such
    school, or (with a contest) the schools with entries in it that were not withdrawn."""
    from_ = select(SchoolContact.user_id)
    if contest is not None:
        from_ = from_.where(SchoolContact.school_id.in_(
            select(Entry.school_id).where(Entry.contest_id == contest.id, Entry.school_id.is_not(None),
                                          Entry.status != "withdrawn")))
    return list(session.scalars(
        select(User).where(User.id.in_(from_), User.is_active_account.is_(True),
                           User.roles.any(UserRole.role == "school_contact")).order_by(User.id)
    ))


BULK_ROLE_MAX = 200


def change_role_of_users(
    session: SessionLike, *, actor: User, user_ids: Sequence[int], role: str, grant: bool, now: datetime, ip: str = "",
) -> int:
    """Grant (or revoke) one role for several accounts at once, each change audit-logged
    as a single one would be; all or nothing. Returns how many accounts changed."""
    require_staff(actor)
    if role not in ROLES:
        raise InvalidInput(_("请选择要授予或撤销的角色。"), field="role")
    wanted = sorted(set(user_ids))
    if not wanted:
        raise InvalidInput(_("请先选择账号。"), field="user_ids")
    if len(wanted) > BULK_ROLE_MAX:
        raise InvalidInput(_("一次最多选择 %(n)s 个账号。", n=BULK_ROLE_MAX), field="user_ids")
    users = list(session.scalars(select(User).where(User.id.in_(wanted)).order_by(User.id)))
    if len(users) != len(wanted):
        raise NotFound(_("所选账号有的已不存在，请刷新页面后重试。"))
    changed = 0
    for user in users:
        roles = set(user.role_names) | {role} if grant else set(user.role_names) - {role}
        before, after = set_roles(session, actor=actor, user=user, roles=roles, now=now, ip=ip)
        changed += before != after
        if not grant:
            unlink_former_contact(session, actor=actor, user=user, now=now, ip=ip)
    return changed


# --- schools ------------------------------------------------------------------------

def list_schools(session: SessionLike) -> list[School]:
    """Every school, by district then name."""
    return list(session.scalars(select(School).order_by(School.district, School.name)))


def get_school(session: SessionLike, school_id: int) -> School:
    school = session.get(School, school_id)
    if school is None:
        raise NotFound(_("没有找到这所学校。"))
    return school


def _school_values(name: str, district: str, level: str, enrolment: int | str) -> dict[str, Any]:
    name = (name or "").strip()
    if not name or len(name) > 80:
        raise InvalidInput(_("请填写学校名称（最多 80 个字）。"), field="name")
    if district not in DISTRICTS:
        raise InvalidInput(_("请选择济南市的区县。"), field="district")
    if level not in ("中职", "高职", "技工"):
        raise InvalidInput(_("请选择学校类型。"), field="level")
    try:
        enrolment = int(enrolment)
    except (TypeError, ValueError):
        raise InvalidInput(_("在校生人数应为整数。"), field="enrolment") from None
    if not 0 <= enrolment <= 200000:
        raise InvalidInput(_("在校生人数应在 0 到 200000 之间。"), field="enrolment")
    return {"name": name, "district": district, "level": level, "enrolment": enrolment}


def save_school(
    session: SessionLike, *, actor: Actor, school: School | None, name: str, district: str, level: str,
    enrolment: int | str, now: datetime, ip: str = "",
) -> School:
    """Create (school None) or change a school; audit-logged."""
    require_staff(actor)
    values = _school_values(name, district, level, enrolment)
    clash = select(School.id).where(School.name == values["name"])
    if school is not None:
        clash = clash.where(School.id != school.id)
    if session.scalar(clash) is not None:
        raise Conflict(_("已有同名学校“%(name)s”。", name=values["name"]), field="name")
    before = {k: getattr(school, k) for k in values} if school is not None else None
    if school is None:
        school = School(**values)
        session.add(school)
    else:
        for key, value in values.items():
            setattr(school, key, value)
    session.flush()
    if before is None:
        audit.record(session, actor=actor, action="school.create", target_type="school", target_id=school.id,
                     now=now, after=values, summary=school.name, ip=ip)
    else:
        old, new = audit.diff(before, values)
        if new:
            audit.record(session, actor=actor, action="school.update", target_type="school", target_id=school.id,
                         now=now, before=old, after=new, summary=school.name, ip=ip)
    return school


@dataclass(frozen=True)
class SchoolImport:
    """What an import did."""

    created: int
    updated: int
    contacts: int  # contact accounts linked
    skipped: list[str]  # why rows were left out (they changed since the preview)


code_labels("audit_action", {"school.import": N_("从表格导入学校"), "school.contact_added": N_("关联学校联系人")})


def preview_school_import(session: SessionLike, *, actor: Actor, data: bytes, filename: str) -> list[school_import.Row]:
    """Every row of an uploaded spreadsheet, checked, with what it would do; nothing stored."""
    require_staff(actor)
    return school_import.check_rows(session, school_import.read_rows(data, filename), values_of=_school_values)


def import_schools(session: SessionLike, *, actor: User, rows: list[dict[str, str]], now: datetime,
                   ip: str = "") -> SchoolImport:
    """Store the previewed rows (checked again: a row gone wrong since is left out and
    said), adding or updating schools by name and linking the contacts; audit-logged."""
    require_staff(actor)
    if not rows or len(rows) > school_import.MAX_ROWS:
        raise InvalidInput(_("没有可以导入的学校：请重新上传表格。"), code="nothing_to_import")
    checked = school_import.check_rows(session, [{k: str(v)[:200] for k, v in r.items()} for r in rows],
                                       values_of=_school_values)
    created = updated = linked = 0
    skipped: list[str] = []
    for row in checked:
        if not row.ok:
            skipped.extend(row.errors)
            continue
        existing = session.scalar(select(School).where(School.name == row.values["name"]))
        school = save_school(session, actor=actor, school=existing, name=row.values["name"],
                             district=row.values["district"], level=row.values["level"],
                             enrolment=row.values["enrolment"], now=now, ip=ip)
        created += existing is None
        updated += existing is not None
        if row.contact_id is not None:
            linked += _link_contact(session, actor=actor, school=school, user_id=row.contact_id, now=now, ip=ip)
    audit.record(session, actor=actor, action="school.import", target_type="school", target_id=None, now=now,
                 after={"created": created, "updated": updated, "contacts": linked, "skipped": len(skipped)},
                 summary=f"新增 {created} 所，更新 {updated} 所，关联联系人 {linked} 位", ip=ip)
    session.flush()
    return SchoolImport(created, updated, linked, skipped)


def _link_contact(session: SessionLike, *, actor: User, school: School, user_id: int, now: datetime, ip: str) -> int:
    """Make the account a contact of the school (and give it the role); 1 if newly linked."""
    user = session.get(User, user_id)
    if user is None:
        return 0
    if "school_contact" not in user.role_names:
        set_roles(session, actor=actor, user=user, roles=set(user.role_names) | {"school_contact"}, now=now, ip=ip)
    if session.scalar(select(SchoolContact.id).where(SchoolContact.user_id == user.id,
                                                     SchoolContact.school_id == school.id)) is not None:
        return 0
    session.add(SchoolContact(user_id=user.id, school_id=school.id))
    session.flush()
    audit.record(session, actor=actor, action="school.contact_added", target_type="school", target_id=school.id,
                 now=now, after={"user": user.id}, summary=f"{school.name} · {user.masked_phone}", ip=ip)
    return 1


def unlink_former_contact(session: SessionLike, *, actor: Actor, user: User, now: datetime, ip: str = "") -> list[str]:
    """Remove the links to schools of an account that no longer holds the school_contact
    role (audit-logged); returns the names of the schools it was linked to.

    Without the role a link already grants nothing (media.submissions.schools_of checks
    the role); removing it keeps a later grant of the role from silently bringing the old
    schools back, and the audit row keeps who acted for which school until when.
    SYSTEM is an operator at the command line."""
    require_staff(actor)
    if user.has_role("school_contact"):
        return []
    links = list(session.scalars(select(SchoolContact).where(SchoolContact.user_id == user.id)
                                 .options(joinedload(SchoolContact.school))))
    if not links:
        return []
    names = sorted(link.school.name for link in links)
    ids = sorted(link.school_id for link in links)
    for link in links:
        session.delete(link)
    session.flush()
    audit.record(session, actor=actor, action="user.schools", target_type="user", target_id=user.id, now=now,
                 before={"school_ids": ids, "schools": names}, after={"school_ids": [], "schools": []},
                 summary=user.masked_phone, ip=ip)
    return names


STAGE_LABELS = {
    "submission": N_("作品征集"), "review": N_("资格审核"), "voting": N_("公众投票"), "judging": N_("专家评审"),
    "publicity": N_("结果公示"), "upcoming": N_("即将开始"), "between": N_("等待下一阶段"), "closed": N_("已结束"),
}
KIND_LABELS = {"selection": N_("网络评选"), "media": N_("全民美拍"), "innovation": N_("创新创业大赛")}
# The audit actions (and their targets) written by this domain, as the audit page and its export show them.
AUDIT_ACTIONS = code_labels("audit_action", {
    "contest.create": N_("新建活动"),
    "contest.update": N_("修改活动"),
    "contest.rules": N_("修改活动规则"),
    "contest.delete": N_("删除活动"),
    "category.create": N_("添加分类"),
    "category.delete": N_("删除分类"),
    "category.update": N_("修改分类"),
    "school.create": N_("添加学校"),
    "school.update": N_("修改学校"),
    "user.schools": N_("解除账号的学校联络人身份"),
})
code_labels("audit_target", {"contest": N_("活动"), "school": N_("学校")})
# Codes a contest's or a category's audit rows hold (accounts.audit.CODED_VALUES).
code_labels("contest_kind", KIND_LABELS)
code_labels("category_kind", {"category": N_("作品类别"), "track": N_("赛道"), "group": N_("组别")})


def stage_label(stage: str) -> str:
    return _(STAGE_LABELS.get(stage, stage))


def kind_label(kind: str) -> str:
    return _(KIND_LABELS.get(kind, kind))
