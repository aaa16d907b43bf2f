"""Image and audio captchas: the answer lives only on the server, used once."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session


def check_captcha(session: Session, redis: Any, *, captcha_id: str, answer: str, purpose: str) -> bool:
    """True when the answer matches; the challenge is gone afterwards whatever the outcome."""
    raise NotImplementedError("replaced by the captcha implementation")
