"""The one source of "now".

Services take a Clock (or a datetime obtained from one) instead of calling
datetime.now(), so tests can move time and stages deterministically.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Shanghai")


class Clock:
    """Wall-clock time, always aware."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def local_now(self) -> datetime:
        return self.now().astimezone(LOCAL_TZ)

    def today(self) -> date:
        """The Asia/Shanghai calendar day."""
        return self.local_now().date()


class FixedClock(Clock):
    """A clock that stands still until moved; for tests and benchmarks."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self._at = at

    def now(self) -> datetime:
        return self._at

    def set(self, at: datetime) -> None:
        self._at = at

    def advance(self, **kwargs: float) -> None:
        self._at = self._at + timedelta(**kwargs)


def local_midnight(day: date) -> datetime:
    """Start of an Asia/Shanghai day as an aware datetime."""
    return datetime.combine(day, time.min, tzinfo=LOCAL_TZ)


def to_local(value: datetime) -> datetime:
    return value.astimezone(LOCAL_TZ)
