"""Anti-fraud: a risk score for each vote from named signals, and a decision.

Signals are kept in Redis sliding windows when Redis is configured, otherwise in the
database; either way the decision is made before the vote is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session


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
class Verdict:
    """accept, captcha (ask for a captcha first) or hold (accept, count only after review)."""

    action: str = "accept"
    score: int = 0
    reasons: tuple[str, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)


def subnet_of(ip: str) -> str:
    """The /24 of an IPv4 address or the /64 of an IPv6 address."""
    import ipaddress

    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ""
    prefix = 24 if address.version == 4 else 64
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def assess_vote(session: Session, redis: Any, signals: VoteSignals, now: datetime) -> Verdict:
    """Score the request and decide. (Signals are added in antifraud.signals.)"""
    return Verdict()


def record_vote(session: Session, redis: Any, signals: VoteSignals, now: datetime) -> None:
    """Remember an accepted vote in the sliding windows the next assessments read."""
