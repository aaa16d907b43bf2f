"""Fraud review: what organisers look at before voiding or releasing votes, and the
voiding and releasing themselves.

Decisions:
- Nothing is deleted. A void or a release changes the vote's status through
  `service.change_status`, which appends a ledger event per vote (so `verify_ledger`
  recomputes every status from the ledger), and the action writes ONE audit row naming
  the rule or selection, the count and the reason. The per-vote trail is the ledger.
- A rule (IP range, time window, account list, within an entry or the whole contest)
  is evaluated in SQL, the same way on PostgreSQL and SQLite. Vote.ip is text, so an
  IPv4 range becomes at most 128 prefix matches on whole octets ("10.1.16.%"), and an
  IPv6 range is matched on the stored /64 (Vote.subnet): IPv6 hosts are handed a /64,
  so nothing finer than a /64 separates two voters; ranges between /56 and /64 and
  single addresses are accepted.
- A rule acts on at most SELECT_MAX votes; a wider one is refused rather than cut
  short, so an action never applies to an arbitrary part of what the organiser saw
  (a larger click farm is voided in several time windows).
- Organisers see the count first (a preview). The confirmation carries that count
  back; if the rule now matches a different number (votes kept arriving), the action is
  refused with `SelectionChanged` and the new count is shown for a second look.
- Voiding applies to valid and held votes; releasing applies to held votes only
  (releasing never "un-voids": a voided vote stays voided, as the ledger says).
- Hours are whole hours; Asia/Shanghai is a whole number of hours from UTC, so UTC hour
  buckets are Beijing hour buckets.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, false, func, or_, select

from ..accounts import audit
from ..accounts.models import User
from ..accounts.service import normalize_phone
from ..clock import LOCAL_TZ
from ..contests import service as contests
from ..contests.models import Contest, Entry
from ..db import SessionLike
from ..errors import Conflict, InvalidInput, NotFound
from ..i18n import N_, _, code_labels
from .figures import figures
from .models import VOTE_STATUSES, Vote
from .service import change_status

# Votes one action may change. Each change appends its own ledger event (an INSERT per
# vote in service.change_status): well under 1 ms per vote on SQLite and 2 ms on
# PostgreSQL on the reference machine, so 10,000 stays within a request's time.
SELECT_MAX = 10_000
PICK_MAX = 1_000  # votes ticked one by one
PHONES_MAX = 500
REASON_MAX = 300
TOP_N = 10
HELD_SHOWN = 100
DEFAULT_HOURS = 48
MAX_HOURS = 168  # the Activity Week
CHUNK = 1_000  # ids per statement: well under SQLite's and PostgreSQL's bound-parameter limits
IPV4_MIN_PREFIX = 8
IPV6_MIN_PREFIX = 56

ACTIONS = {"voided": "votes.void", "valid": "votes.release"}
code_labels("audit_action", {"votes.void": N_("作废投票"), "votes.release": N_("放行待审投票")})
# Which statuses each action can change (service.change_status enforces the same).
ACTS_ON = {"voided": ("valid", "held"), "valid": ("held",)}


class SelectionChanged(Conflict):
    """The rule matches another number of votes than the organiser confirmed."""

    code = "selection_changed"


# --- selections ---------------------------------------------------------------------

@dataclass(frozen=True)
class VoteRule:
    """Which votes of a contest an action applies to: every condition given must hold."""

    contest_id: int
    entry_id: int | None = None
    ip_range: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    voter_ids: tuple[int, ...] | None = None
    phones: tuple[str, ...] | None = None

    @property
    def has_condition(self) -> bool:
        return bool(self.ip_range or self.start or self.end or self.voter_ids or self.phones)


@dataclass(frozen=True)
class Resolved:
    """A rule or a pick turned into SQL conditions, with what the audit row records."""

    where: list[ColumnElement[bool]]
    described: dict[str, Any]
    unknown_phones: tuple[str, ...] = ()


def parse_ip_range(raw: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """A CIDR range (a bare address is a /32 or /128); host bits are cleared."""
    text = unicodedata.normalize("NFKC", raw or "").strip()
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise InvalidInput(_("IP 段格式不正确，请填写如 203.0.113.0/24 的网段或单个 IP 地址。"),
                           code="invalid_ip_range", field="ip_range") from None
    if network.version == 4 and network.prefixlen < IPV4_MIN_PREFIX:
        raise InvalidInput(_("IP 段范围过大：IPv4 最大为 /%(n)s。", n=IPV4_MIN_PREFIX), code="ip_range_too_wide",
                           field="ip_range")
    if network.version == 6 and not (IPV6_MIN_PREFIX <= network.prefixlen <= 64 or network.prefixlen == 128):
        raise InvalidInput(_("IPv6 请填写 /%(a)s 到 /64 的网段，或单个地址。", a=IPV6_MIN_PREFIX),
                           code="ip_range_unsupported", field="ip_range")
    return network


def _ip_condition(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> ColumnElement[bool]:
    if network.prefixlen == network.max_prefixlen:
        return Vote.ip == str(network.network_address)
    if network.version == 6:
        return Vote.subnet.in_([str(n) for n in network.subnets(new_prefix=64)])
    # Round the prefix up to a whole octet: each sub-range is then a plain text prefix.
    whole = -(-network.prefixlen // 8) * 8
    if whole == 32:
        return Vote.ip.in_([str(a) for a in network])
    prefixes = [".".join(str(n.network_address).split(".")[: whole // 8]) + "." for n in network.subnets(new_prefix=whole)]
    return or_(*[Vote.ip.startswith(p, autoescape=True) for p in prefixes])


PHONE_SPLIT = re.compile(r"[\s,，;；、]+")


def parse_phones(raw: str) -> tuple[str, ...]:
    """Phone numbers one per line (or separated by commas), normalised; the first bad one is named."""
    phones: list[str] = []
    for item in PHONE_SPLIT.split(unicodedata.normalize("NFKC", raw or "")):
        if not item:
            continue
        try:
            phones.append(normalize_phone(item))
        except InvalidInput:
            raise InvalidInput(_("手机号“%(p)s”格式不正确，请每行填写一个 11 位手机号。", p=item[:20]),
                               code="invalid_phone", field="phones") from None
    if len(phones) > PHONES_MAX:
        raise InvalidInput(_("一次最多填写 %(n)s 个手机号。", n=PHONES_MAX), code="too_many_phones", field="phones")
    return tuple(dict.fromkeys(phones))


def parse_local_datetime(raw: str, field_name: str) -> datetime | None:
    """A datetime-local value ("2023-05-16T10:00") read as Beijing time; empty is None."""
    text = (raw or "").strip()
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(_("时间格式不正确，请选择日期和时间。"), code="invalid_datetime", field=field_name) from None
    return value.replace(tzinfo=LOCAL_TZ) if value.tzinfo is None else value


def parse_rule_form(form: Mapping[str, str], *, contest_id: int, entry_id: int) -> VoteRule:
    """A rule from the review page's form: scope (this entry or the whole contest), IP
    range, time window (Beijing time) and a list of phones."""
    phones = parse_phones(form.get("phones", "")[:20_000])
    return VoteRule(
        contest_id=contest_id, entry_id=None if form.get("scope") == "contest" else entry_id,
        ip_range=(form.get("ip_range") or "").strip()[:60] or None,
        start=parse_local_datetime(form.get("start", ""), "start"), end=parse_local_datetime(form.get("end", ""), "end"),
        phones=phones or None,
    )


def parse_vote_ids(raw: list[str]) -> list[int]:
    """Ticked vote ids; anything that is not a plain number is ignored."""
    return list(dict.fromkeys(int(v) for v in raw if v.isdigit() and len(v) < 12))


def _resolve_rule(session: SessionLike, rule: VoteRule) -> Resolved:
    if not rule.has_condition:
        raise InvalidInput(_("请至少设置一个条件：IP 段、时间段或账号。"), code="empty_rule")
    where: list[ColumnElement[bool]] = [Vote.contest_id == rule.contest_id]
    described: dict[str, Any] = {"scope": "entry" if rule.entry_id else "contest"}
    if rule.entry_id is not None:
        where.append(Vote.entry_id == rule.entry_id)
        described["entry_id"] = rule.entry_id
    if rule.ip_range:
        network = parse_ip_range(rule.ip_range)
        where.append(_ip_condition(network))
        described["ip_range"] = str(network)
    if rule.start and rule.end and rule.start >= rule.end:
        raise InvalidInput(_("结束时间必须晚于开始时间。"), code="invalid_window", field="end")
    if rule.start:
        where.append(Vote.created_at >= rule.start)
        described["start"] = rule.start.astimezone(LOCAL_TZ)
    if rule.end:
        where.append(Vote.created_at < rule.end)
        described["end"] = rule.end.astimezone(LOCAL_TZ)
    unknown: tuple[str, ...] = ()
    if rule.phones or rule.voter_ids:
        voter_ids = set(rule.voter_ids or ())
        if rule.phones:
            found = dict(session.execute(select(User.phone, User.id).where(User.phone.in_(rule.phones))).all())
            voter_ids.update(found.values())
            unknown = tuple(p for p in rule.phones if p not in found)
            # the audit row (read by every role of the unit) keeps them masked
            described["phones"] = [f"{p[:3]}****{p[-4:]}" for p in rule.phones]
        if rule.voter_ids:
            described["voter_ids"] = sorted(rule.voter_ids)
        where.append(Vote.voter_id.in_(sorted(voter_ids)) if voter_ids else false())
    return Resolved(where, described, unknown)


def _resolve_pick(contest_id: int, vote_ids: list[int]) -> Resolved:
    ids = list(dict.fromkeys(vote_ids))
    if not ids:
        raise InvalidInput(_("请先勾选要处理的票。"), code="nothing_selected")
    if len(ids) > PICK_MAX:
        raise InvalidInput(_("一次最多勾选 %(n)s 票，请改用规则。", n=PICK_MAX), code="too_many_selected")
    return Resolved([Vote.contest_id == contest_id, Vote.id.in_(ids)], {"vote_ids": sorted(ids)})


def _resolve(session: SessionLike, contest_id: int, rule: VoteRule | None, vote_ids: list[int] | None) -> Resolved:
    if (rule is None) == (vote_ids is None):
        raise InvalidInput(_("请勾选要处理的票，或者设置规则。"), code="selection_or_rule")
    if rule is not None:
        if rule.contest_id != contest_id:
            raise InvalidInput(_("规则不属于这项活动。"), code="rule_contest")
        return _resolve_rule(session, rule)
    return _resolve_pick(contest_id, vote_ids or [])


def _statuses(statuses: tuple[str, ...] | list[str] | None) -> tuple[str, ...]:
    chosen = tuple(statuses or VOTE_STATUSES)
    if not set(chosen) <= set(VOTE_STATUSES):
        raise InvalidInput(_("未知的投票状态。"), code="unknown_status")
    return chosen


def _matching_ids(session: SessionLike, where: list[ColumnElement[bool]], statuses: tuple[str, ...]) -> list[int]:
    ids = list(session.scalars(
        select(Vote.id).where(*where, Vote.status.in_(statuses)).order_by(Vote.id).limit(SELECT_MAX + 1)
    ))
    if len(ids) > SELECT_MAX:
        raise InvalidInput(_("符合条件的票超过 %(n)s 张，请缩小范围后分批处理。", n=SELECT_MAX), code="selection_too_large")
    return ids


def select_votes(
    session: SessionLike, *, contest_id: int, entry_id: int | None = None, ip_range: str | None = None,
    start: datetime | None = None, end: datetime | None = None, voter_ids: list[int] | None = None,
    phones: list[str] | None = None, statuses: tuple[str, ...] | list[str] | None = None,
) -> list[int]:
    """Ids of the contest's votes matching every condition given (at most SELECT_MAX, else InvalidInput)."""
    rule = VoteRule(contest_id=contest_id, entry_id=entry_id, ip_range=ip_range, start=start, end=end,
                    voter_ids=tuple(voter_ids) if voter_ids else None,
                    phones=tuple(normalize_phone(p) for p in phones) if phones else None)
    return _matching_ids(session, _resolve_rule(session, rule).where, _statuses(statuses))


# --- preview and action ---------------------------------------------------------------

def _reason(raw: str | None, to: str) -> str:
    text = (raw or "").replace("\r\n", "\n").strip()
    if not text:
        message = _("请填写作废原因") if to == "voided" else _("请填写放行原因")
        raise InvalidInput(message, code="reason_required", field="reason")
    if len(text) > REASON_MAX:
        raise InvalidInput(_("原因不能超过 %(n)s 个字。", n=REASON_MAX), code="reason_too_long", field="reason")
    return text


@dataclass(frozen=True)
class EntryShare:
    entry_id: int
    title: str
    votes: int


@dataclass(frozen=True)
class Preview:
    """What an action would change: the count, by current status and by entry."""

    to: str
    count: int
    by_status: dict[str, int]
    by_entry: list[EntryShare]
    described: dict[str, Any]
    reason: str
    unknown_phones: tuple[str, ...] = ()


def preview_change(
    session: SessionLike, *, actor: User, contest_id: int, to: str, reason: str,
    rule: VoteRule | None = None, vote_ids: list[int] | None = None,
) -> Preview:
    """How many votes a void (to='voided') or release (to='valid') would change, before it is confirmed."""
    contests.require_in(session, actor, contests.get_contest_by_id(session, contest_id), "fraud")
    if to not in ACTS_ON:
        raise InvalidInput(_("未知的操作。"), code="unknown_action")
    text = _reason(reason, to)
    resolved = _resolve(session, contest_id, rule, vote_ids)
    where = [*resolved.where, Vote.status.in_(ACTS_ON[to])]
    by_status = {s: n for s, n in session.execute(select(Vote.status, func.count()).where(*where).group_by(Vote.status))}
    votes = func.count().label("votes")
    by_entry = [EntryShare(i, t, n) for i, t, n in session.execute(
        select(Vote.entry_id, Entry.title, votes).join(Entry, Entry.id == Vote.entry_id).where(*where)
        .group_by(Vote.entry_id, Entry.title).order_by(votes.desc(), Vote.entry_id).limit(TOP_N)
    )]
    count = sum(by_status.values())
    if count > SELECT_MAX:
        raise InvalidInput(_("符合条件的票超过 %(n)s 张，请缩小范围后分批处理。", n=SELECT_MAX), code="selection_too_large")
    return Preview(to, count, by_status, by_entry, resolved.described, text, resolved.unknown_phones)


@dataclass(frozen=True)
class ActionResult:
    changed: int
    entry_ids: list[int]


def _change(
    session: SessionLike, *, actor: User, contest_id: int, to: str, reason: str, now: datetime, ip: str,
    rule: VoteRule | None, vote_ids: list[int] | None, expected_count: int | None,
) -> ActionResult:
    contest = contests.get_contest_by_id(session, contest_id)
    contests.require_in(session, actor, contest, "fraud")
    text = _reason(reason, to)
    resolved = _resolve(session, contest.id, rule, vote_ids)
    ids = _matching_ids(session, resolved.where, ACTS_ON[to])
    if expected_count is not None and len(ids) != expected_count:
        raise SelectionChanged(_("符合条件的票数已从 %(a)s 变为 %(b)s，请核对后再确认。", a=expected_count, b=len(ids)))
    if not ids:
        raise InvalidInput(_("没有符合条件的票。"), code="no_votes_matched")
    before: dict[str, int] = {}
    entry_ids: set[int] = set()
    changed = 0
    for i in range(0, len(ids), CHUNK):
        chunk = ids[i:i + CHUNK]
        for entry_id, status, n in session.execute(
            select(Vote.entry_id, Vote.status, func.count()).where(Vote.id.in_(chunk), Vote.status.in_(ACTS_ON[to]))
            .group_by(Vote.entry_id, Vote.status)
        ):
            entry_ids.add(entry_id)
            before[status] = before.get(status, 0) + n
        changed += change_status(session, actor=actor, vote_ids=chunk, to=to, reason=text, now=now)
    if changed == 0:
        raise Conflict(_("这些票刚刚已被其他人处理，请刷新页面。"), code="changed_meanwhile")
    verb = _("作废") if to == "voided" else _("放行")
    audit.record(
        session, actor=actor, action=ACTIONS[to], target_type="contest", target_id=contest.id, now=now,
        before={"status": before}, after={"status": {to: changed}, "count": changed, "reason": text, "rule": resolved.described},
        summary=f"{verb} {changed} 票 · {describe(resolved.described)} · {text}", ip=ip,
    )
    session.flush()
    return ActionResult(changed, sorted(entry_ids))


def void_votes(
    session: SessionLike, *, actor: User, contest_id: int, reason: str, now: datetime, ip: str = "",
    rule: VoteRule | None = None, vote_ids: list[int] | None = None, expected_count: int | None = None,
) -> ActionResult:
    """Void the valid and held votes a rule or a pick names, with a reason; one audit row, one ledger event per vote."""
    return _change(session, actor=actor, contest_id=contest_id, to="voided", reason=reason, now=now, ip=ip, rule=rule,
                   vote_ids=vote_ids, expected_count=expected_count)


def release_votes(
    session: SessionLike, *, actor: User, contest_id: int, reason: str, now: datetime, ip: str = "",
    rule: VoteRule | None = None, vote_ids: list[int] | None = None, expected_count: int | None = None,
) -> ActionResult:
    """Release the held votes a rule or a pick names so they count, with a reason; audited like a void."""
    return _change(session, actor=actor, contest_id=contest_id, to="valid", reason=reason, now=now, ip=ip, rule=rule,
                   vote_ids=vote_ids, expected_count=expected_count)


def describe(described: Mapping[str, Any]) -> str:
    """A rule or pick in one line of Chinese, for the audit summary and the confirmation page."""
    parts: list[str] = []
    if "vote_ids" in described:
        parts.append(f"勾选的 {len(described['vote_ids'])} 票")
    if described.get("scope") == "entry":
        parts.append(f"作品 #{described['entry_id']}")
    elif described.get("scope") == "contest":
        parts.append("整个活动")
    if described.get("ip_range"):
        parts.append(f"IP 段 {described['ip_range']}")
    fmt = "%Y-%m-%d %H:%M"
    if described.get("start") or described.get("end"):
        start = described["start"].strftime(fmt) if described.get("start") else "…"
        end = described["end"].strftime(fmt) if described.get("end") else "…"
        parts.append(f"时间 {start} 至 {end}")
    if described.get("phones"):
        parts.append(f"{len(described['phones'])} 个账号")
    if described.get("voter_ids"):
        parts.append(f"账号 #{', #'.join(str(i) for i in described['voter_ids'][:5])}")
    return "，".join(parts)


# --- reading ----------------------------------------------------------------------------

def _status_sums() -> list[Any]:
    return [func.coalesce(func.sum(case((Vote.status == s, 1), else_=0)), 0).label(s) for s in VOTE_STATUSES]


@dataclass(frozen=True)
class ContestVotes:
    contest: Contest
    stage: contests.StageInfo
    valid: int = 0
    held: int = 0
    voided: int = 0


def contests_with_voting(session: SessionLike, *, actor: User, now: datetime) -> list[ContestVotes]:
    """Contests that have a voting window, with the votes of their entries in the running
    by status (voting.figures: the transparency page's totals before anything is withheld)."""
    items = [c for c in contests.back_office_contests(session, actor=actor, capability="fraud")
             if c.voting_starts_at is not None]
    competing = _competing(session, [c.id for c in items])
    result = []
    for c in items:
        totals = figures(session, c.id, now=now).totals(only=competing.get(c.id, set()))
        result.append(ContestVotes(c, contests.stage_of(c, now), totals.counted, totals.held, totals.voided))
    return result


def _competing(session: SessionLike, contest_ids: list[int]) -> dict[int, set[int]]:
    found: dict[int, set[int]] = {}
    if contest_ids:
        for contest_id, entry_id in session.execute(select(Entry.contest_id, Entry.id).where(
                Entry.contest_id.in_(contest_ids), Entry.status == "approved")):
            found.setdefault(contest_id, set()).add(entry_id)
    return found


@dataclass(frozen=True)
class EntryVotes:
    """One entry's votes by status and how suspicious they look."""

    entry_id: int
    title: str
    valid: int
    held: int
    voided: int
    suspicious: int  # valid votes the anti-fraud check gave a risk score
    max_risk: int
    entry_status: str = "approved"  # withdrawn or rejected: not in the running, on no board

    @property
    def competing(self) -> bool:
        return self.entry_status == "approved"

    @property
    def total(self) -> int:
        return self.valid + self.held + self.voided


@dataclass(frozen=True)
class ContestOverview:
    contest: Contest
    entries: list[EntryVotes]
    more: int = 0  # entries with votes past the first OVERVIEW_ROWS, not listed


# The overview lists the entries most in need of a look, not every entry with a vote: a
# city-wide contest has tens of thousands.
OVERVIEW_ROWS = 300


def contest_overview(session: SessionLike, *, actor: User, contest_id: int, now: datetime | None = None,
                     rows: int = OVERVIEW_ROWS) -> ContestOverview:
    """Per entry with votes: counted / held / voided (voting.figures), suspicious and the
    highest risk score; the entries most in need of a look first (held + suspicious, then
    risk), the first `rows` of them. An entry no longer in the running keeps its
    row, marked with its status."""
    contest = contests.get_contest_by_id(session, contest_id)
    contests.require_in(session, actor, contest, "fraud")
    # the ranking in the database (one index-only pass over the contest's votes), then the
    # figures of the entries shown only
    held = func.coalesce(func.sum(case((Vote.status == "held", 1), else_=0)), 0)
    suspicious = func.coalesce(func.sum(case((and_(Vote.status == "valid", Vote.risk_score > 0), 1), else_=0)), 0)
    max_risk = func.coalesce(func.max(Vote.risk_score), 0)
    ranked = session.execute(
        select(Vote.entry_id, suspicious.label("suspicious"), max_risk.label("max_risk"),
               func.count().over().label("with_votes"))
        .where(Vote.contest_id == contest.id).group_by(Vote.entry_id)
        .order_by((held + suspicious).desc(), max_risk.desc(), func.count().desc(), Vote.entry_id).limit(rows)).all()
    found = figures(session, contest.id, now=now, entry_ids=[row.entry_id for row in ranked])
    titled = {e.id: e for e in session.scalars(select(Entry).where(Entry.id.in_([row.entry_id for row in ranked] or [0])))}
    entries = []
    for row in ranked:
        f, entry = found.of(row.entry_id), titled.get(row.entry_id)
        entries.append(EntryVotes(row.entry_id, entry.title if entry else "", f.counted, f.held, f.voided,
                                  int(row.suspicious), int(row.max_risk), entry.status if entry else "approved"))
    return ContestOverview(contest, entries, more=(ranked[0].with_votes - len(ranked)) if ranked else 0)


@dataclass(frozen=True)
class HourBucket:
    start: datetime  # aware, UTC
    valid: int = 0
    held: int = 0
    voided: int = 0

    @property
    def total(self) -> int:
        return self.valid + self.held + self.voided


@dataclass(frozen=True)
class SourceRow:
    """Votes from one IP, subnet or device cookie."""

    key: str
    votes: int
    voters: int
    valid: int
    held: int
    voided: int


@dataclass(frozen=True)
class HeldVote:
    vote: Vote
    voter_label: str


@dataclass
class EntryReport:
    entry: Entry
    contest: Contest
    totals: dict[str, int]
    period_start: datetime
    period_end: datetime
    hours: list[HourBucket]
    top_ips: list[SourceRow]
    top_subnets: list[SourceRow]
    top_devices: list[SourceRow]
    held: list[HeldVote]
    held_total: int
    whole_window: bool = False
    busiest: HourBucket | None = field(default=None)


def _floor_hour(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def report_period(contest: Contest, now: datetime, hours: int | None) -> tuple[datetime, datetime, bool]:
    """The hours the chart covers: the voting window up to now when it is at most a week
    long and no length is asked for, otherwise the last `hours` (default 48) hours of it."""
    start, end = contest.window("voting")
    last = min(now, end) if end is not None else now
    period_end = _floor_hour(last) + timedelta(hours=1)
    if hours is None and start is not None and timedelta(0) < period_end - _floor_hour(start) <= timedelta(hours=MAX_HOURS):
        return _floor_hour(start), period_end, True
    length = min(max(hours or DEFAULT_HOURS, 1), MAX_HOURS)
    return period_end - timedelta(hours=length), period_end, False


def _hour_expression(session: SessionLike) -> Any:
    # Vote.created_at is naive UTC in both databases.
    if session.get_bind().dialect.name == "postgresql":
        return func.date_trunc("hour", Vote.created_at)
    return func.strftime("%Y-%m-%d %H:00:00", Vote.created_at)


def _as_hour(value: Any) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _sources(session: SessionLike, entry_id: int, column: Any) -> list[SourceRow]:
    votes = func.count().label("votes")
    voters = func.count(func.distinct(Vote.voter_id)).label("voters")
    order = (voters.desc(), votes.desc()) if column is Vote.device_id else (votes.desc(), voters.desc())
    rows = session.execute(
        select(column, votes, voters, *_status_sums()).where(Vote.entry_id == entry_id, column != "")
        .group_by(column).order_by(*order, column).limit(TOP_N)
    )
    return [SourceRow(r[0], r.votes, r.voters, int(r.valid), int(r.held), int(r.voided)) for r in rows]


def entry_under_review(session: SessionLike, *, actor: User, entry_id: int) -> Entry:
    """An entry whose votes an organiser is looking at, or NotFound."""
    contests.require_somewhere(actor, "fraud")
    entry = session.get(Entry, entry_id)
    if entry is None:
        raise NotFound(_("没有找到这件作品。"))
    contests.require_in(session, actor, entry.contest, "fraud")
    return entry


def entry_report(session: SessionLike, *, actor: User, entry_id: int, now: datetime, hours: int | None = None) -> EntryReport:
    """One entry under review: votes per hour by status, top IPs, subnets and device cookies,
    and the latest held votes with their reasons, in a fixed number of queries."""
    entry = entry_under_review(session, actor=actor, entry_id=entry_id)
    contest = contests.get_contest_by_id(session, entry.contest_id)
    period_start, period_end, whole = report_period(contest, now, hours)
    mine = figures(session, contest.id, now=now, entry_ids=[entry.id]).of(entry.id)
    totals = {s: mine.of(s) for s in VOTE_STATUSES}
    hour = _hour_expression(session).label("hour")
    counted: dict[datetime, dict[str, int]] = {}
    for value, status, n in session.execute(
        select(hour, Vote.status, func.count()).where(
            Vote.entry_id == entry.id, Vote.created_at >= period_start, Vote.created_at < period_end)
        .group_by(hour, Vote.status)
    ):
        counted.setdefault(_as_hour(value), {})[status] = n
    buckets = []
    moment = period_start
    while moment < period_end:
        buckets.append(HourBucket(moment, **counted.get(moment, {})))
        moment += timedelta(hours=1)
    held_rows = session.execute(
        select(Vote, User.display_name, User.phone).join(User, User.id == Vote.voter_id)
        .where(Vote.entry_id == entry.id, Vote.status == "held")
        .order_by(Vote.created_at.desc(), Vote.id.desc()).limit(HELD_SHOWN)
    ).all()
    held = [HeldVote(v, (name + " " if name else "") + f"{phone[:3]}****{phone[-4:]}") for v, name, phone in held_rows]
    busiest = max(buckets, key=lambda b: b.total) if buckets and any(b.total for b in buckets) else None
    return EntryReport(
        entry=entry, contest=contest, totals=totals, period_start=period_start, period_end=period_end, hours=buckets,
        top_ips=_sources(session, entry.id, Vote.ip), top_subnets=_sources(session, entry.id, Vote.subnet),
        top_devices=_sources(session, entry.id, Vote.device_id), held=held, held_total=totals["held"],
        whole_window=whole, busiest=busiest,
    )
