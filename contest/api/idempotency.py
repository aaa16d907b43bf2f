"""Idempotency keys: a retried request gets the first answer instead of acting twice.

The key is claimed (a row inserted) before the work, in the work's own transaction, and
the row is filled with the answer before the commit. A concurrent request with the
same key waits on the row's unique index until the first commits, then finds its
answer; if the first is rolled back (a refusal), its claim disappears with it.

The claim is one INSERT … ON CONFLICT DO NOTHING: on the vote path, where nearly every
key is new, that is one round trip instead of a lookup and a savepointed insert.

Only answers that changed something are kept: a refusal stores nothing, so repeating
it with the same key is harmless and the client may retry after fixing the cause
(solving a captcha, say) under the same key.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..errors import InvalidInput, Unprocessable
from ..i18n import _
from ..voting.models import IdempotentReply

KEY_RE = re.compile(r"^[\x21-\x7e]{1,80}$")  # printable ASCII, as long as the column


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict[str, Any]


@dataclass
class Claim:
    """Either an earlier answer to replay, or the row reserved for this request's answer."""

    replay: Reply | None = None
    row_id: int | None = None

    def fulfil(self, session: Session, status: int, body: dict[str, Any]) -> None:
        """Record this request's answer (the caller commits it with the work)."""
        if self.row_id is not None:
            session.execute(update(IdempotentReply).where(IdempotentReply.id == self.row_id).values(status=status, body=body))


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


def _previous(session: Session, voter_id: int, key: str) -> IdempotentReply | None:
    return session.scalar(select(IdempotentReply).where(IdempotentReply.voter_id == voter_id, IdempotentReply.key == key))


def _replay(row: IdempotentReply, digest: str) -> Reply:
    if row.request_hash != digest:
        raise Unprocessable(_("这个 Idempotency-Key 已用于另一个请求，请换一个新的。"), code="idempotency_mismatch")
    return Reply(row.status, dict(row.body))


def claim(session: Session, *, voter_id: int, key: str | None, digest: str, now: datetime) -> Claim:
    """Find the answer given earlier under this key (same request: replay it; another
    request: Unprocessable), or reserve the key for this request."""
    if key is None:
        return Claim()
    table = IdempotentReply.__table__
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    row_id = session.execute(
        insert(table).values(voter_id=voter_id, key=key, request_hash=digest, status=0, body={}, created_at=now)
        .on_conflict_do_nothing(index_elements=["voter_id", "key"]).returning(table.c.id)
    ).scalar()
    if row_id is not None:
        return Claim(row_id=row_id)
    # The key was taken: earlier, or by a concurrent request that committed while we waited.
    earlier = _previous(session, voter_id, key)
    if earlier is None:  # pragma: no cover - the conflict said it exists
        raise RuntimeError("idempotency key conflict without a row")
    return Claim(replay=_replay(earlier, digest))
