"""Text messages as recorded deliveries, and the caps that keep SMS pumping out.

A message is queued (a row in sms_outbox, committed with the work that caused it), then
delivered by `deliver`: a conditional UPDATE claims the row (queued → sending) so that
one sender, and one only, hands it to the gateway, however many callers race; the
answer is recorded (sent, or failed with the gateway's code, a reason and whether a
later try may succeed). In the app the sender is `Queued`: after the commit the
message's id goes to the job runner, which delivers it, so no request waits for a
gateway. The job runner also sends again what `due_for_retry` lists: failures a later
try may cure, and messages still queued a while after their commit (the hand-over to
the job runner failed, or its queue was lost).

Code requests are capped per phone, per address, per /24 (IPv4) or /64 (IPv6) and per
number prefix (the first 7 digits: one exchange's block of numbers, the usual target of
pumping fraud), over an hour and a day, counted from the sms_code rows (stored for every
request, sent or not, so the caps say nothing about whether a number is registered). The
per-minute and per-hour limits on addresses and phones stay in flask-limiter
(accounts/views.py), in front of these. Every message, of every kind, counts against the
deployment's daily budget (SMS_DAILY_BUDGET); past it nothing is sent and organisers find
an audit entry (sms.budget_exhausted) and an error in the log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, or_, select, update
from sqlalchemy.orm import Session

from ..addresses import subnet_of
from ..clock import LOCAL_TZ, local_midnight
from ..db import SessionLike, after_commit, real_session, rowcount
from ..errors import TooMany
from ..i18n import N_, _, code_labels
from . import audit
from .actors import SYSTEM
from .models import AuditEvent, SmsCode, SmsMessage
from .sms import FAILURE_REASONS, KINDS, RETRYABLE, SendResult, SmsKind, SmsSender, classify

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
UNCLAIMED_AFTER = timedelta(seconds=30)  # a queued message not yet picked up by then is handed over again
FIRST_RETRY_AFTER = timedelta(seconds=30)  # then 2 minutes, 8 minutes, … (× 4 each time)
# Serialises the checks and inserts of text messages on PostgreSQL (SQLite writes one at a
# time anyway): two requests cannot both pass a cap or the budget with one place left.
_LOCK_KEY = 0x534D53  # "SMS"
SEND_FAILED = N_("短信发送失败，请稍后重试")


@dataclass(frozen=True)
class Cap:
    """At most `limit` code requests per `window` for one value of `what`."""

    what: str  # phone, ip, subnet, prefix
    window: timedelta
    limit: int
    message: str


HOUR, DAY = timedelta(hours=1), timedelta(days=1)
CODE_CAPS: tuple[Cap, ...] = (
    Cap("phone", DAY, 10, N_("该手机号今天获取验证码次数过多，请明天再试。")),
    Cap("ip", DAY, 40, N_("您的网络今天获取验证码次数过多，请明天再试。")),
    Cap("subnet", HOUR, 30, N_("您所在的网络获取验证码太频繁，请一小时后再试。")),
    Cap("subnet", DAY, 120, N_("您所在的网络今天获取验证码次数过多，请明天再试。")),
    Cap("prefix", HOUR, 20, N_("该号段获取验证码太频繁，请一小时后再试。")),
    Cap("prefix", DAY, 100, N_("该号段今天获取验证码次数过多，请明天再试。")),
)
code_labels("audit_action", {"sms.budget_exhausted": N_("短信日预算用完，停止发送")})
code_labels("audit_target", {"sms_budget": N_("短信日预算")})
BUDGET_SPENT = N_("今天的短信发送量已达上限，暂时无法发送验证码，请明天再试或联系主办方。")


class SmsRefused(TooMany):
    """A cap or the daily budget refuses a text message. What the refusal recorded (the
    organisers' alert) is kept."""

    code = "sms_capped"
    keep_changes = True


def _serialise(session: SessionLike) -> None:
    if real_session(session).get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(_LOCK_KEY)))


def check_code_caps(session: SessionLike, sender: SmsSender, *, phone: str, ip: str, now: datetime) -> None:
    """Refuse (SmsRefused) a code request over a cap or past the day's budget; call it
    before the request writes anything."""
    _serialise(session)
    subnet = subnet_of(ip)
    matches: dict[str, ColumnElement[bool] | None] = {
        "phone": SmsCode.phone == phone,
        "ip": SmsCode.requested_ip == ip if ip else None,
        "subnet": SmsCode.requested_subnet == subnet if subnet else None,
        "prefix": SmsCode.phone.startswith(phone[:7], autoescape=True),
    }
    for cap in CODE_CAPS:
        match = matches[cap.what]
        if match is None:
            continue
        count = session.scalar(select(func.count()).select_from(SmsCode).where(match, SmsCode.created_at > now - cap.window))
        if (count or 0) >= cap.limit:
            log.warning("SMS code refused: %s cap (%s per %s) reached", cap.what, cap.limit, cap.window)
            raise SmsRefused(_(cap.message), code=f"sms_cap_{cap.what}")
    if not _within_budget(session, sender, now):
        raise SmsRefused(_(BUDGET_SPENT), code="sms_budget")


def _within_budget(session: SessionLike, sender: SmsSender, now: datetime) -> bool:
    """Whether one more message fits in today's budget; the first time it does not, the
    organisers are alerted (an audit entry, once a day, and an error in the log)."""
    day = now.astimezone(LOCAL_TZ).date()
    sent_today = session.scalar(
        select(func.count()).select_from(SmsMessage).where(SmsMessage.created_at >= local_midnight(day))) or 0
    if sent_today < sender.daily_budget:
        return True
    already = session.scalar(select(AuditEvent.id).where(
        AuditEvent.action == "sms.budget_exhausted", AuditEvent.target_id == day.isoformat()).limit(1))
    if already is None:
        log.error("SMS daily budget of %s spent for %s: no more text messages today", sender.daily_budget, day)
        audit.record(session, actor=SYSTEM, action="sms.budget_exhausted", target_type="sms_budget",
                     target_id=day.isoformat(), now=now, after={"budget": sender.daily_budget},
                     summary=f"今日短信预算 {sender.daily_budget} 条已用完，停止发送")
    return False


class Queued:
    """The deployment's sender, whose messages the job runner delivers: `queue_sms` hands
    each message's id to `enqueue` once the caller has committed."""

    def __init__(self, sender: SmsSender, enqueue: Callable[[int], object]) -> None:
        self.sender = sender
        self.enqueue = enqueue
        self.name = sender.name
        self.daily_budget = sender.daily_budget

    def send(self, phone: str, kind: SmsKind, params: Mapping[str, str], body: str) -> SendResult:
        return self.sender.send(phone, kind, params, body)


def queue_sms(
    session: SessionLike, sender: SmsSender, *, phone: str, kind: str, params: Mapping[str, str], now: datetime,
    deliver_after_commit: bool = True,
) -> SmsMessage | None:
    """Queue one text message (flushed, not committed); None when the day's budget is
    spent. With deliver_after_commit, the message goes out once the caller commits: a
    `Queued` sender hands it to the job runner; any other sender (a command without a
    job runner, a test) delivers it there and then."""
    spec = KINDS[kind]
    _serialise(session)
    if not _within_budget(session, sender, now):
        return None
    message = SmsMessage(
        phone=phone, body=spec.text(params)[:500], created_at=now, kind=kind,
        params={name: str(params[name]) for name in spec.params}, state="queued", attempts=0,
    )
    session.add(message)
    session.flush()
    if deliver_after_commit and isinstance(sender, Queued):
        message_id = message.id
        # If the hand-over fails (the queue is out of reach), the row stays queued and the
        # job runner's retry round picks it up (due_for_retry).
        after_commit(session, lambda: sender.enqueue(message_id))
    elif deliver_after_commit:
        engine, message_id = real_session(session).get_bind(), message.id

        def deliver_now() -> None:
            with Session(engine) as own:
                deliver(own, sender, message_id, now)

        after_commit(session, deliver_now)
    return message


def _fresh(now: datetime) -> ColumnElement[bool]:
    """Messages still worth another try (a code is dead after 5 minutes)."""
    return or_(false(), *(and_(SmsMessage.kind == name, SmsMessage.created_at > now - spec.fresh_for)
                          for name, spec in KINDS.items()))


def _due(now: datetime) -> ColumnElement[bool]:
    """Failed messages whose backoff has passed, and queued ones nobody picked up."""
    retry = and_(SmsMessage.state == "failed", SmsMessage.retryable.is_(True), SmsMessage.next_attempt_at <= now,
                 SmsMessage.attempts < MAX_ATTEMPTS)
    unclaimed = and_(SmsMessage.state == "queued", SmsMessage.created_at <= now - UNCLAIMED_AFTER)
    return and_(or_(retry, unclaimed), _fresh(now))


def deliver(session: Session, sender: SmsSender, message_id: int, now: datetime) -> SmsMessage | None:
    """Send one queued (or due for retry) message exactly once and record the answer;
    None when it was not this call's to send (already sent, sending, or not due).

    Commits twice, in a session of its own: the claim before the gateway is called (so a
    second caller sees it taken), then the outcome. A process that dies in between leaves
    the row 'sending': it is never sent twice, and organisers see it in the outbox."""
    claimed = rowcount(session.execute(
        update(SmsMessage)
        .where(SmsMessage.id == message_id, or_(SmsMessage.state == "queued", _due(now)))
        .values(state="sending", attempts=SmsMessage.attempts + 1, claimed_at=now, provider=sender.name,
                next_attempt_at=None)
        .execution_options(synchronize_session=False)
    ))
    session.commit()
    if not claimed:
        return None
    message = session.get(SmsMessage, message_id, populate_existing=True)
    assert message is not None
    spec = KINDS.get(message.kind)
    try:
        result = sender.send(message.phone, spec, message.params or {}, message.body) if spec else \
            SendResult.failed("unknown_kind", message.kind)
    except Exception as exc:  # a sender bug must not leave the row 'sending'
        log.exception("SMS sender %s failed on message %s", sender.name, message_id)
        result = SendResult.failed("", str(exc))
    _record(message, sender, result, now)
    session.commit()
    return message


def _record(message: SmsMessage, sender: SmsSender, result: SendResult, now: datetime) -> None:
    message.request_id = result.request_id[:100]
    if result.ok:
        message.state, message.sent_at = "sent", now
        message.error_code = message.error_reason = ""
        message.retryable = False
        return
    reason, retryable = classify(sender.name, result.error_code)
    message.state = "failed"
    message.error_code, message.error_reason = result.error_code[:100], reason
    message.retryable = retryable and reason in RETRYABLE
    if message.retryable and message.attempts < MAX_ATTEMPTS:
        message.next_attempt_at = now + FIRST_RETRY_AFTER * 4 ** (message.attempts - 1)
    log.warning("SMS %s to %s failed (%s: %s) %s", message.id, message.phone[:3] + "****" + message.phone[-4:],
                result.error_code, reason, result.detail)


def due_for_retry(session: SessionLike, now: datetime, *, limit: int = 100) -> list[int]:
    """Ids of the messages to send again, still fresh, oldest first: failures a later try
    may cure (throttled, network) whose backoff has passed, and messages left queued for
    UNCLAIMED_AFTER (their hand-over to the job runner was lost)."""
    return list(session.scalars(
        select(SmsMessage.id).where(_due(now)).order_by(SmsMessage.id).limit(limit)))


def delivery_failed(session: SessionLike, message_id: int | None) -> bool:
    """Whether this message's last try failed (for the page that asked for it). A request
    that sent nothing (a reset for an unknown number) reads as a message on its way."""
    if message_id is None:
        return False
    return session.scalar(select(SmsMessage.state).where(SmsMessage.id == message_id)) == "failed"


def delivery_settled(session: SessionLike, message_id: int | None) -> bool:
    """Whether there is nothing more to wait for: sent, failed for good, or nothing sent."""
    if message_id is None:
        return True
    row = session.execute(select(SmsMessage.state, SmsMessage.next_attempt_at)
                          .where(SmsMessage.id == message_id)).one_or_none()
    return row is None or row.state == "sent" or (row.state == "failed" and row.next_attempt_at is None)


def failure_reason(message: SmsMessage) -> str:
    """The failure in a few words ('' when it did not fail)."""
    return _(FAILURE_REASONS[message.error_reason]) if message.error_reason in FAILURE_REASONS else ""


def describe_sms(message: SmsMessage) -> dict[str, Any]:
    """One outbox row for organisers: state, attempts, the gateway's answer."""
    return {"state": message.state, "attempts": message.attempts, "provider": message.provider,
            "request_id": message.request_id, "error_code": message.error_code, "reason": failure_reason(message)}
