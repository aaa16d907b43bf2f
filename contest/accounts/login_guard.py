"""Failed sign-ins, counted so that guessing is slowed down without locking anyone out.

Three sliding windows of failures (a wrong password, or a phone number that is not
registered: the two look the same from outside):

- per phone number and client address: 5 in 15 minutes, then that address is refused
  (429) for that number. Someone guessing one account from one place is stopped there.
- per client address: 30 in an hour, then the address is refused for every number. This
  stops one place trying a list of numbers. (Everyone behind the same address shares
  the window; 30 failures an hour is far above what honest typing mistakes add up to.)
- per phone number, from anywhere: 5 in 24 hours, then signing in to that number needs a
  solved captcha as well. Nothing is ever refused on this count alone: the right password
  with a solved captcha always signs in, so failures from elsewhere cannot lock the owner
  out, while guesses spread over many addresses cost a captcha each.

The windows live where the rate limiter keeps its counters (flask-limiter's storage:
Redis when configured, else process memory); when that storage does not answer they fall
back to process memory, as the limiter does. Only failures are counted.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter, RateLimiter

from ..errors import TooMany
from ..i18n import _

log = logging.getLogger(__name__)

KEY_PREFIX = "contest-login"


@dataclass(frozen=True)
class LoginPolicy:
    """How many failures each window allows."""

    per_phone_and_address: RateLimitItem = parse("5 per 15 minutes")
    per_address: RateLimitItem = parse("30 per hour")
    per_phone_before_captcha: RateLimitItem = parse("5 per day")


DEFAULT_POLICY = LoginPolicy()

class FailureCounters:
    """The failure windows in a `limits` rate-limiting strategy's storage."""

    def __init__(self, strategy: RateLimiter, policy: LoginPolicy = DEFAULT_POLICY, *,
                 fallback: RateLimiter | None = None) -> None:
        self.strategy = strategy
        self.policy = policy
        # Where the windows go while the storage does not answer: the app's in-process
        # windows (web.login_fallback), like the limiter's own in-memory fallback.
        self.fallback = fallback if fallback is not None else in_memory_windows()

    def _call(self, method: str, item: RateLimitItem, *keys: str) -> Any:
        try:
            return getattr(self.strategy, method)(item, KEY_PREFIX, *keys)
        except Exception as exc:  # noqa: BLE001 - each storage backend raises its own errors
            log.warning("login windows: storage unavailable, counting in process memory (%s)", exc)
            return getattr(self.fallback, method)(item, KEY_PREFIX, *keys)

    def _full(self, item: RateLimitItem, *keys: str) -> bool:
        return not self._call("test", item, *keys)

    def _retry_after(self, item: RateLimitItem, *keys: str) -> int:
        stats = self._call("get_window_stats", item, *keys)
        return max(1, math.ceil(stats.reset_time - time.time()))

    def check(self, *, phone: str | None, address: str) -> bool:
        """Refuse (TooMany) a throttled phone-and-address or address; otherwise say whether
        this phone needs a captcha. `phone` is the normalised number, or None if malformed."""
        policy = self.policy
        if phone is not None and self._full(policy.per_phone_and_address, "pair", phone, address):
            raise TooMany(_("密码错误次数过多，请 15 分钟后再试，或通过短信找回密码。"), code="login_throttled",
                          retry_after=self._retry_after(policy.per_phone_and_address, "pair", phone, address))
        if self._full(policy.per_address, "address", address):
            raise TooMany(_("此网络的登录失败次数过多，请稍后再试。"), code="login_throttled",
                          retry_after=self._retry_after(policy.per_address, "address", address))
        return self.captcha_required(phone)

    def captcha_required(self, phone: str | None) -> bool:
        """Whether signing in to this phone now needs a solved captcha."""
        return phone is not None and self._full(self.policy.per_phone_before_captcha, "phone", phone)

    def record_failure(self, *, phone: str | None, address: str) -> None:
        """Count one failed sign-in in each window it belongs to."""
        policy = self.policy
        self._call("hit", policy.per_address, "address", address)
        if phone is not None:
            self._call("hit", policy.per_phone_and_address, "pair", phone, address)
            self._call("hit", policy.per_phone_before_captcha, "phone", phone)


def in_memory_windows() -> RateLimiter:
    """Failure windows in this process's memory (the app keeps one: web.login_fallback)."""
    return MovingWindowRateLimiter(MemoryStorage())
