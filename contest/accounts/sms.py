"""Pluggable SMS delivery.

`console` (the default) logs each message and keeps it in the outbox table, where
tests, developers and `flask sms outbox` read it. A real gateway implements the same
`SmsSender.send` and is selected with SMS_BACKEND.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Protocol

from ..db import SessionLike
from .models import SmsMessage

log = logging.getLogger(__name__)


class SmsSender(Protocol):
    def send(self, session: SessionLike, phone: str, body: str, now: datetime) -> None:
        """Deliver one text message to a mainland mobile number."""


class ConsoleSmsSender:
    def send(self, session: SessionLike, phone: str, body: str, now: datetime) -> None:
        log.info("SMS to %s: %s", phone, body)
        session.add(SmsMessage(phone=phone, body=body, created_at=now))


def make_sender(backend: str) -> SmsSender:
    if backend == "console":
        return ConsoleSmsSender()
    raise ValueError(f"unknown SMS backend {backend!r}")
