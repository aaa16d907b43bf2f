"""Idempotency keys: a retried request gets the first answer instead of acting twice.

The key is claimed in the vote's own statement (voting.writer), with the answer: a
repeat finds the answer exactly when the vote exists. A repeat that arrives while the
first is still in flight waits on the key's unique index (or on the quota rows the
first holds) until the first commits, is refused there, and then finds the answer; if
the first is rolled back (a refusal), its claim disappears with it.

Only answers that changed something are kept: a refusal stores nothing, so repeating
it with the same key is harmless and the client may retry after fixing the cause
(solving a captcha, say) under the same key.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from ..db import SessionLike
from ..errors import InvalidInput, Unprocessable
from ..i18n import _
from ..voting.models import IdempotentReply

KEY_RE = re.compile(r"^[\x21-\x7e]{1,80}$")  # printable ASCII, as long as the column


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict[str, Any]


def parse_key(raw: str | None) -> str | None:
    """The Idempotency-Key header's value, None when absent, InvalidInput when malformed."""
    if raw is None:
        return None
    key = raw.strip()
    if not KEY_RE.fullmatch(key):
        raise InvalidInput(_("Idempotency-Key 应为 1–80 个可见 ASCII 字符。"), code="bad_idempotency_key")
    return key


def request_digest(method: str, path: str, payload: Any) -> str:
    """What "the same request" means: method, path and the JSON body, key order ignored."""
    canonical = json.dumps([method.upper(), path, payload], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def earlier_reply(session: SessionLike, *, voter_id: int, key: str | None, digest: str) -> Reply | None:
    """The answer stored under this key: replayed when the request is the same one;
    Unprocessable when the key was used for another request; None when it is new."""
    if key is None:
        return None
    row = session.scalar(select(IdempotentReply).where(IdempotentReply.voter_id == voter_id, IdempotentReply.key == key))
    if row is None:
        return None
    if row.request_hash != digest:
        raise Unprocessable(_("这个 Idempotency-Key 已用于另一个请求，请换一个新的。"), code="idempotency_mismatch")
    return Reply(row.status, dict(row.body))
