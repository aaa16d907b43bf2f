"""The audit trail: recording and reading who changed what, when, before → after."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, func, or_, select

from ..db import SessionLike
from ..i18n import label_of
from .actors import Actor, actor_id
from .models import AuditEvent
from .units import audit_scope

# Which values of an event's before/after are codes, and the set of words each code has
# (contest.i18n.code_labels; each set is registered by the module that defines its codes),
# by the action's family, the part before the dot: one key holds different codes in
# different families ("status" of an entry, of votes, of a score).
CODED_VALUES: dict[str, dict[str, str]] = {
    "entry": {"status": "entry_status", "changes": "entry_change"},
    "votes": {"status": "vote_status"},
    "score": {"status": "score_status"},
    "round": {"state": "round_state", "kind": "round_kind", "aggregation": "round_aggregation"},
    "user": {"roles": "role"},
    "unit": {"level": "unit_level", "unit_role": "unit_role"},
    # contest.rules names a rule by its key, contest.create/update as "rules.<key>"
    "contest": {"kind": "contest_kind", "captcha_mode": "captcha_mode", "rules.captcha_mode": "captcha_mode"},
    "category": {"kind": "category_kind"},
    "results": {"subject": "objection_subject", "outcome": "objection_outcome"},
}


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in (sorted(value) if isinstance(value, set) else value)]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def diff(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the keys whose values changed, as (before, after)."""
    keys = [k for k in {**before, **after} if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after.get(k) for k in keys}


def record(
    session: SessionLike, *, actor: Actor, action: str, target_type: str, target_id: object,
    now: datetime, before: dict[str, Any] | None = None, after: dict[str, Any] | None = None,
    summary: str = "", ip: str = "",
) -> AuditEvent:
    """Append one audit row in the caller's transaction. SYSTEM is stored as no actor
    (NULL), which pages show as 系统. The row carries the contest and unit of the scope
    check that let the action through (accounts.units.require), if any."""
    unit_id, contest_id = audit_scope(session)
    event = AuditEvent(
        actor_id=actor_id(actor), action=action, target_type=target_type,
        target_id=str(target_id), summary=summary[:300], before=_jsonable(before), after=_jsonable(after),
        ip=ip[:45], created_at=now, unit_id=unit_id, contest_id=contest_id,
    )
    session.add(event)
    return event


def list_events(
    session: SessionLike, *, action: str = "", actor_id: int | None = None, target_type: str = "",
    limit: int = 50, offset: int = 0, contest_id: int | None = None, unit_id: int | None = None,
    scopes: tuple[set[int], set[tuple[int, int]]] | None = None,
) -> tuple[list[AuditEvent], int]:
    """Audit events, newest first, filtered, with the total count. `scopes` (unit ids,
    (unit, contest) pairs; accounts.units.visible_scopes) keeps only the events of those
    units and contests; None keeps everything (the platform's operators)."""
    query = select(AuditEvent)
    if contest_id is not None:
        query = query.where(AuditEvent.contest_id == contest_id)
    if unit_id is not None:
        query = query.where(AuditEvent.unit_id == unit_id)
    if scopes is not None:
        units, pairs = scopes
        query = query.where(or_(AuditEvent.unit_id.in_(units or {-1}),
                                *(and_(AuditEvent.unit_id == u, AuditEvent.contest_id == c) for u, c in sorted(pairs))))
    if action:
        query = query.where(AuditEvent.action == action)
    if actor_id:
        query = query.where(AuditEvent.actor_id == actor_id)
    if target_type:
        query = query.where(AuditEvent.target_type == target_type)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    events = list(session.scalars(query.order_by(AuditEvent.id.desc()).limit(limit).offset(offset)))
    return events, total


def known_actions(session: SessionLike) -> list[str]:
    """Distinct actions present in the log, for the filter."""
    return list(session.scalars(select(AuditEvent.action).distinct().order_by(AuditEvent.action)))


def labelled(action: str, values: dict[str, Any] | None) -> dict[str, Any] | None:
    """An event's before or after for people and programs alike: every code keeps its key
    and value, and `<key>_label` beside it gives its words in the reader's language (a list
    of codes gives a list of words; counts keyed by code give each code its words)."""
    if not values:
        return values
    coded = CODED_VALUES.get(action.partition(".")[0], {})
    shown: dict[str, Any] = {}
    for key, value in values.items():
        shown[key] = value
        if key in coded and value is not None:
            shown[f"{key}_label"] = _words(coded[key], value)
    return shown


def _words(codes: str, value: Any) -> Any:
    if isinstance(value, str):
        return label_of(codes, value)
    if isinstance(value, list):
        return [label_of(codes, v) if isinstance(v, str) else v for v in value]
    if isinstance(value, dict):
        return {k: label_of(codes, k) for k in value}
    return value
