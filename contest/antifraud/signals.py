"""The named signals a vote is scored on, and the sliding windows they read.

Each signal looks at the request and at what the windows observed before it, and either
stays silent or contributes points under its name. The windows live in Redis sorted sets
(one per IP, subnet, device and entry; scored by time, trimmed on every read) when Redis
is configured and answering, and are otherwise counted from the fraud_observation table,
which every recorded vote writes too: Redis only accelerates, the table is the record.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, literal, select
from sqlalchemy.dialects import postgresql, sqlite

from ..accounts.models import SmsCode, User
from ..addresses import subnet_of
from ..db import SessionLike
from ..i18n import N_, code_labels
from .autonomous import write_now
from .models import FraudObservation, RegistrationBurst

log = logging.getLogger(__name__)

# Windows.
SHORT_WINDOW = timedelta(minutes=10)
LONG_WINDOW = timedelta(hours=1)
DEVICE_WINDOW = timedelta(hours=24)
BURST_RECENT = timedelta(minutes=5)
BURST_BASELINE = timedelta(hours=2)
REGISTRATION_WINDOW = timedelta(minutes=10)  # either side of the account's registration
SMS_CODE_LOOKBACK = timedelta(minutes=15)  # a register code is used within its 5-minute life

# Reasons, as stored with the vote.
IP_VELOCITY = "ip_velocity"
SUBNET_VELOCITY = "subnet_velocity"
SHARED_DEVICE = "shared_device"
NEW_ACCOUNT = "new_account"
EMPTY_USER_AGENT = "empty_user_agent"
HEADLESS_USER_AGENT = "headless_user_agent"
TOO_FAST = "too_fast"
ENTRY_BURST = "entry_burst"
REGISTRATION_BURST = "registration_burst"
# … and as the fraud review shows them.
REASON_LABELS = code_labels("fraud_reason", {
    IP_VELOCITY: N_("同一 IP 集中投票"),
    SUBNET_VELOCITY: N_("同一网段集中投票"),
    SHARED_DEVICE: N_("一台设备上多个账号投票"),
    NEW_ACCOUNT: N_("新注册的账号"),
    EMPTY_USER_AGENT: N_("没有浏览器标识"),
    HEADLESS_USER_AGENT: N_("自动程序或无界面浏览器"),
    TOO_FAST: N_("打开页面后投票过快"),
    ENTRY_BURST: N_("作品票数突增"),
    REGISTRATION_BURST: N_("同一网段集中注册的账号"),
})

# Thresholds and points: (at least, points), the highest tier reached counts.
IP_SHORT_TIERS = ((15, 35), (5, 15))  # votes from this IP in the contest, last 10 minutes
IP_LONG_TIERS = ((60, 35), (20, 15))  # … last hour
SUBNET_SHORT_TIERS = ((60, 30), (20, 15))
SUBNET_LONG_TIERS = ((240, 30), (80, 15))
DEVICE_TIERS = ((3, 45), (1, 20))  # other accounts that voted from this device cookie in 24 h
NEW_ACCOUNT_TIERS = ((timedelta(hours=1), 25), (timedelta(hours=24), 10))  # account younger than
EMPTY_USER_AGENT_POINTS = 30
HEADLESS_USER_AGENT_POINTS = 45
TOO_FAST_SECONDS = 2.0
TOO_FAST_POINTS = 30
BURST_MIN_VOTES = 20  # in the last 5 minutes on the entry, and
BURST_FACTOR = 5  # at least this many times its average 5-minute count over the 2 hours before
ENTRY_BURST_POINTS = 25
REGISTRATION_TIERS = ((15, 40), (5, 20))  # accounts (this one included) from one /24 within ±10 min

AUTOMATION_MARKERS = (
    "headlesschrome", "phantomjs", "python-requests", "python-urllib", "python-httpx", "aiohttp",
    "curl/", "wget/", "go-http-client", "scrapy", "selenium", "puppeteer", "httpclient",
)

KEY_PREFIX = "fraud:"


@dataclass(frozen=True)
class VoteSignals:
    """Facts about one vote request, gathered by the view."""

    voter_id: int
    account_created_at: datetime
    contest_id: int
    entry_id: int
    ip: str
    device_id: str = ""
    user_agent: str = ""
    # when the voter's browser loaded the entry (a signed timestamp), if known
    viewed_at: datetime | None = None


@dataclass(frozen=True)
class Observed:
    """What the windows held before this vote."""

    ip_short: int = 0
    ip_long: int = 0
    subnet_short: int = 0
    subnet_long: int = 0
    device_other_voters: int = 0
    entry_recent: int = 0
    entry_baseline: int = 0  # votes in the 2 hours before the last 5 minutes
    registration_accounts: int = 0
    registration_known: bool = False  # the burst size came with the windows (Redis memo)
    source: str = "database"


@dataclass(frozen=True)
class Hit:
    reason: str
    points: int
    detail: dict[str, Any]


def _tier(value: Any, tiers: tuple[tuple[Any, int], ...]) -> int:
    for at_least, points in tiers:
        if value >= at_least:
            return points
    return 0


# --- the signals ----------------------------------------------------------------------


def ip_velocity(s: VoteSignals, o: Observed, now: datetime) -> Hit | None:
    points = max(_tier(o.ip_short, IP_SHORT_TIERS), _tier(o.ip_long, IP_LONG_TIERS))
    return Hit(IP_VELOCITY, points, {"10m": o.ip_short, "1h": o.ip_long}) if points else None


def subnet_velocity(s: VoteSignals, o: Observed, now: datetime) -> Hit | None:
    points = max(_tier(o.subnet_short, SUBNET_SHORT_TIERS), _tier(o.subnet_long, SUBNET_LONG_TIERS))
    return Hit(SUBNET_VELOCITY, points, {"10m": o.subnet_short, "1h": o.subnet_long}) if points else None


def shared_device(s: VoteSignals, o: Observed, now: datetime) -> Hit | None:
    points = _tier(o.device_other_voters, DEVICE_TIERS)
    return Hit(SHARED_DEVICE, points, {"other_accounts_24h": o.device_other_voters}) if points else None


def new_account(s: VoteSignals, o: Observed, now: datetime) -> Hit | None:
    age = now - s.account_created_at
    for younger_than, points in NEW_ACCOUNT_TIERS:
        if age < younger_than:
            return Hit(NEW_ACCOUNT, points, {"age_hours": round(age.total_seconds() / 3600, 1)})
    return None


def user_agent(s: VoteSignals, o: Observed, now: datetime) -> Hit | None:
    agent = (s.user_agent or "").strip()
    if not agent:
        return Hit(EMPTY_USER_AGENT, EMPTY_USER_AGENT_POINTS, {})
    lowered = agent.lower()
    marker = next((m for m in AUTOMATION_MARKERS if m in lowered), None)
    return Hit(HEADLESS_USER_AGENT, HEADLESS_USER_AGENT_POINTS, {"marker": marker}) if marker else None


def too_fast(s: VoteSignals, o: Observed, now: datetime) -> Hit | None:
    if s.viewed_at is None:
        return None
    seconds = (now - s.viewed_at).total_seconds()
    # A view stamped in the future was not made by our page: as suspect as a fast one.
    if seconds < TOO_FAST_SECONDS:
        return Hit(TOO_FAST, TOO_FAST_POINTS, {"seconds": round(seconds, 2)})
    return None


def entry_burst(s: VoteSignals, o: Observed, now: datetime) -> Hit | None:
    slots = (BURST_BASELINE - BURST_RECENT) / BURST_RECENT
    average = o.entry_baseline / slots
    if o.entry_recent >= BURST_MIN_VOTES and o.entry_recent >= BURST_FACTOR * max(average, 1.0):
        return Hit(ENTRY_BURST, ENTRY_BURST_POINTS, {"5m": o.entry_recent, "baseline_5m": round(average, 2)})
    return None


def registration_burst(s: VoteSignals, o: Observed, now: datetime) -> Hit | None:
    points = _tier(o.registration_accounts, REGISTRATION_TIERS)
    return Hit(REGISTRATION_BURST, points, {"accounts": o.registration_accounts}) if points else None


SIGNALS: tuple[Callable[[VoteSignals, Observed, datetime], Hit | None], ...] = (
    ip_velocity, subnet_velocity, shared_device, new_account, user_agent, too_fast, entry_burst, registration_burst,
)


# --- the windows: Redis ---------------------------------------------------------------


def _keys(s: VoteSignals) -> dict[str, str]:
    keys = {"entry": f"{KEY_PREFIX}entry:{s.entry_id}"}
    if s.ip:
        keys["ip"] = f"{KEY_PREFIX}ip:{s.contest_id}:{s.ip}"
        subnet = subnet_of(s.ip)
        if subnet:
            keys["subnet"] = f"{KEY_PREFIX}net:{s.contest_id}:{subnet}"
    if s.device_id:
        keys["device"] = f"{KEY_PREFIX}dev:{s.device_id}"
    return keys


def _keeps(kind: str) -> timedelta:
    return {"ip": LONG_WINDOW, "subnet": LONG_WINDOW, "device": DEVICE_WINDOW, "entry": BURST_BASELINE}[kind]


def read_redis(redis: Any, s: VoteSignals, now: datetime) -> Observed:
    """Trim and count every window of this request in one round trip."""
    t = now.timestamp()
    keys = _keys(s)
    pipe = redis.pipeline(transaction=False)
    order: list[str] = []
    for kind, key in keys.items():
        pipe.zremrangebyscore(key, "-inf", f"({t - _keeps(kind).total_seconds()}")
        if kind in ("ip", "subnet"):
            pipe.zcount(key, t - SHORT_WINDOW.total_seconds(), "+inf")
            pipe.zcard(key)
            order += [kind + "_short", kind + "_long"]
        elif kind == "device":
            pipe.zcard(key)
            pipe.zscore(key, str(s.voter_id))
            order += ["device_all", "device_self"]
        else:
            pipe.zcount(key, t - BURST_RECENT.total_seconds(), "+inf")
            pipe.zcard(key)
            order += ["entry_recent", "entry_all"]
    pipe.get(registration_key(s.voter_id))
    *window_replies, registration = pipe.execute()
    # Every key queued three commands, the trim first: keep the two reads.
    replies = [r for i, r in enumerate(window_replies) if i % 3]
    got = dict(zip(order, replies, strict=True))
    device_all = int(got.get("device_all") or 0)
    return Observed(
        ip_short=int(got.get("ip_short") or 0), ip_long=int(got.get("ip_long") or 0),
        subnet_short=int(got.get("subnet_short") or 0), subnet_long=int(got.get("subnet_long") or 0),
        device_other_voters=max(0, device_all - (1 if got.get("device_self") is not None else 0)),
        entry_recent=int(got.get("entry_recent") or 0),
        entry_baseline=int(got.get("entry_all") or 0) - int(got.get("entry_recent") or 0),
        registration_accounts=int(registration or 0), registration_known=registration is not None,
        source="redis",
    )


def registration_key(voter_id: int) -> str:
    return f"{KEY_PREFIX}reg:{voter_id}"


REGISTRATION_MEMO_TTL = 7 * 24 * 3600  # seconds; the database keeps the memo for good


def queue_write(pipe: Any, s: VoteSignals, now: datetime, member: str) -> None:
    """Queue the vote's additions to its windows on a Redis pipeline (member: the observation's id, so a rebuild is idempotent).
    No trim here: every read trims the windows it reads, and a vote's windows are read
    just before it is added to them; a window nobody reads any more expires."""
    t = now.timestamp()
    for kind, key in _keys(s).items():
        pipe.zadd(key, {str(s.voter_id) if kind == "device" else member: t})
        pipe.expire(key, int(_keeps(kind).total_seconds()) + 60)


def rebuild_redis(session: SessionLike, redis: Any, now: datetime, batch: int = 500) -> int:
    """Put the last day's observations back into Redis (after a flush or an outage)."""
    rows = session.execute(
        select(FraudObservation).where(FraudObservation.at >= now - DEVICE_WINDOW).order_by(FraudObservation.id)
        .execution_options(yield_per=batch)
    ).scalars()
    n = 0
    pipe = redis.pipeline(transaction=False)
    for obs in rows:
        signals = VoteSignals(voter_id=obs.voter_id, account_created_at=obs.at, contest_id=obs.contest_id,
                              entry_id=obs.entry_id, ip=obs.ip, device_id=obs.device_id)
        queue_write(pipe, signals, obs.at, str(obs.id))
        n += 1
        if n % batch == 0:
            pipe.execute()
    pipe.execute()
    return n


# --- the windows: database ------------------------------------------------------------


def _count(*conditions: Any) -> Any:
    return select(func.count()).select_from(FraudObservation).where(*conditions).scalar_subquery()


def read_database(session: SessionLike, s: VoteSignals, now: datetime) -> Observed:
    """Count every window in one statement of indexed range counts."""
    fo = FraudObservation
    zero = literal(0)
    subnet = subnet_of(s.ip)
    columns = {
        "ip_short": _count(fo.contest_id == s.contest_id, fo.ip == s.ip, fo.at >= now - SHORT_WINDOW) if s.ip else zero,
        "ip_long": _count(fo.contest_id == s.contest_id, fo.ip == s.ip, fo.at >= now - LONG_WINDOW) if s.ip else zero,
        "subnet_short": _count(fo.contest_id == s.contest_id, fo.subnet == subnet, fo.at >= now - SHORT_WINDOW) if subnet else zero,
        "subnet_long": _count(fo.contest_id == s.contest_id, fo.subnet == subnet, fo.at >= now - LONG_WINDOW) if subnet else zero,
        "device_other_voters": select(func.count(func.distinct(fo.voter_id))).where(
            fo.device_id == s.device_id, fo.at >= now - DEVICE_WINDOW, fo.voter_id != s.voter_id,
        ).scalar_subquery() if s.device_id else zero,
        "entry_recent": _count(fo.entry_id == s.entry_id, fo.at >= now - BURST_RECENT),
        "entry_baseline": _count(fo.entry_id == s.entry_id, fo.at >= now - BURST_BASELINE, fo.at < now - BURST_RECENT),
    }
    row = session.execute(select(*(c.label(name) for name, c in columns.items()))).one()
    counts: dict[str, Any] = {name: int(row._mapping[name] or 0) for name in columns}
    return Observed(**counts, source="database")


def observation_of(s: VoteSignals, now: datetime) -> dict[str, Any]:
    """The fraud_observation row of a vote, as values (voting.writer stores it with the vote)."""
    return {"contest_id": s.contest_id, "entry_id": s.entry_id, "voter_id": s.voter_id, "at": now,
            "ip": s.ip[:45], "subnet": subnet_of(s.ip)[:50], "device_id": s.device_id[:64]}


# --- accounts registered in bursts ----------------------------------------------------


def _registration_ip(session: SessionLike, voter_id: int, created_at: datetime) -> str:
    """The address that asked for the SMS code this account was registered with."""
    return session.scalar(
        select(SmsCode.requested_ip).join(User, User.phone == SmsCode.phone).where(
            User.id == voter_id, SmsCode.purpose == "register",
            SmsCode.created_at <= created_at, SmsCode.created_at >= created_at - SMS_CODE_LOOKBACK,
        ).order_by(SmsCode.created_at.desc()).limit(1)
    ) or ""


def count_registration_burst(session: SessionLike, voter_id: int, created_at: datetime) -> tuple[str, int]:
    """(subnet, accounts registered from it within ±10 minutes of this one, itself included)."""
    own_ip = _registration_ip(session, voter_id, created_at)
    subnet = subnet_of(own_ip)
    if not subnet:
        return "", 0
    start, end = created_at - REGISTRATION_WINDOW, created_at + REGISTRATION_WINDOW
    query = select(User.id, User.created_at, SmsCode.created_at, SmsCode.requested_ip).join(
        SmsCode, and_(SmsCode.phone == User.phone, SmsCode.purpose == "register"),
    ).where(
        User.created_at >= start, User.created_at <= end,
        SmsCode.created_at >= start - SMS_CODE_LOOKBACK, SmsCode.created_at <= end,
    )
    if "." in own_ip and ":" not in own_ip:  # narrow IPv4 in SQL; /64s are compared below
        query = query.where(SmsCode.requested_ip.startswith(own_ip.rsplit(".", 1)[0] + ".", autoescape=True))
    accounts = {
        user_id for user_id, user_created, code_created, ip in session.execute(query)
        # the code that account was registered with: asked for shortly before it
        if user_created - SMS_CODE_LOOKBACK <= code_created <= user_created and subnet_of(ip) == subnet
    }
    return subnet, len(accounts)


def _memo_insert(session: SessionLike, voter_id: int, subnet: str, accounts: int, now: datetime) -> Any:
    table = RegistrationBurst.__table__
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    return (insert(table).values(voter_id=voter_id, subnet=subnet, accounts=accounts, checked_at=now)
            .on_conflict_do_nothing(index_elements=["voter_id"]))


def registration_accounts(session: SessionLike, voter_id: int, created_at: datetime, now: datetime, *,
                          in_caller_transaction: bool = False) -> int:
    """The burst size for this account: from the memo, or counted (and memoised once
    settled: in the caller's transaction, or else on a connection of its own)."""
    memo = session.get(RegistrationBurst, voter_id)
    if memo is not None:
        return memo.accounts
    subnet, accounts = count_registration_burst(session, voter_id, created_at)
    if now >= created_at + REGISTRATION_WINDOW:
        statement = _memo_insert(session, voter_id, subnet, accounts, now)
        if in_caller_transaction:
            session.execute(statement)
        else:
            # A memo, not part of the vote: kept even if the vote is refused; skipped when
            # SQLite's single writer slot is taken by the caller.
            write_now(session, lambda conn: conn.execute(statement), redo_after_rollback=False)
    return accounts
