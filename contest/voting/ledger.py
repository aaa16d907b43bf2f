"""The tamper-evident vote ledger.

Each event (a vote cast, voided or released) gets a digest of its fields when it is
written, in the vote's own transaction; nothing else happens on the vote path. A sealer
later groups unsealed events into a block whose hash covers the previous block's hash
and the Merkle root of its events' digests, so blocks form a chain: changing any vote,
event or block afterwards changes a recomputed hash, and `verify_ledger` names the first
place where that happens.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from .models import LedgerBlock, LedgerEvent, Vote

GENESIS = "0" * 64
# Events younger than this are left for the next block, so a transaction still in flight
# (its id taken, its row not yet visible) never lands behind a sealed block.
SEAL_GRACE = timedelta(seconds=2)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _utc(value: datetime) -> str:
    # one spelling of an instant whatever zone it was written in or read back as
    return value.astimezone(UTC).isoformat()


def cast_fields(*, kind: str, at: datetime, detail: str, contest_id: int, entry_id: int, voter_id: int, day: date,
                cast_at: datetime, receipt: str) -> dict[str, Any]:
    """What an event's digest covers: the event and the vote as cast. Not the rows' ids,
    which the database gives on insert: the receipt already names the vote, and a
    block's Merkle root fixes its events' order."""
    return {
        "kind": kind, "at": _utc(at), "detail": detail, "contest": contest_id, "entry": entry_id, "voter": voter_id,
        "day": day.isoformat(), "cast_at": _utc(cast_at), "receipt": receipt,
    }


def event_fields(event: LedgerEvent, vote: Vote) -> dict[str, Any]:
    """The digest's fields of a stored event and its vote."""
    return cast_fields(kind=event.kind, at=event.at, detail=event.detail, contest_id=vote.contest_id,
                       entry_id=vote.entry_id, voter_id=vote.voter_id, day=vote.day, cast_at=vote.created_at,
                       receipt=vote.receipt)


def digest_of(fields: dict[str, Any]) -> str:
    return _sha256(json.dumps(fields, sort_keys=True, separators=(",", ":")).encode())


def append_event(session: Session, *, vote: Vote, kind: str, at: datetime, detail: str = "") -> LedgerEvent:
    """Append one event for a stored vote, its digest fixed now."""
    event = LedgerEvent(kind=kind, vote_id=vote.id, contest_id=vote.contest_id, at=at, detail=detail[:300], digest="")
    event.digest = digest_of(event_fields(event, vote))
    session.add(event)
    return event


def merkle_root(leaves: list[str]) -> str:
    if not leaves:
        return GENESIS
    level = leaves
    while len(level) > 1:
        if len(level) % 2:
            level = [*level, level[-1]]
        level = [_sha256(bytes.fromhex(level[i]) + bytes.fromhex(level[i + 1])) for i in range(0, len(level), 2)]
    return level[0]


def merkle_proof(leaves: list[str], index: int) -> list[dict[str, str]]:
    """Sibling hashes from a leaf up to the root: each {"side": "left"|"right", "hash": …}."""
    proof = []
    level = leaves
    while len(level) > 1:
        if len(level) % 2:
            level = [*level, level[-1]]
        sibling = index ^ 1
        proof.append({"side": "left" if sibling < index else "right", "hash": level[sibling]})
        level = [_sha256(bytes.fromhex(level[i]) + bytes.fromhex(level[i + 1])) for i in range(0, len(level), 2)]
        index //= 2
    return proof


def apply_proof(leaf: str, proof: list[dict[str, str]]) -> str:
    """The root a leaf and its proof lead to (what a receipt holder checks)."""
    current = leaf
    for step in proof:
        pair = step["hash"] + current if step["side"] == "left" else current + step["hash"]
        current = _sha256(bytes.fromhex(pair))
    return current


def block_hash(*, height: int, prev_hash: str, root: str, first: int, last: int, count: int, sealed_at: datetime) -> str:
    fields = {"height": height, "prev": prev_hash, "root": root, "first": first, "last": last, "count": count,
              "sealed_at": _utc(sealed_at)}
    return _sha256(json.dumps(fields, sort_keys=True, separators=(",", ":")).encode())


def head(session: Session) -> LedgerBlock | None:
    """The latest sealed block."""
    return session.scalar(select(LedgerBlock).order_by(LedgerBlock.id.desc()).limit(1))


def seal_pending(session: Session, *, now: datetime, max_events: int = 5000) -> LedgerBlock | None:
    """Seal the unsealed events older than the grace period into one block, if any.

    One sealer at a time: on PostgreSQL a transaction-scoped advisory lock (a second
    sealer returns at once), on SQLite the database's single writer.
    """
    if session.get_bind().dialect.name == "postgresql":
        if not session.execute(text("SELECT pg_try_advisory_xact_lock(727001)")).scalar():
            return None
    events = list(session.scalars(
        select(LedgerEvent).where(LedgerEvent.block_id.is_(None), LedgerEvent.at <= now - SEAL_GRACE)
        .order_by(LedgerEvent.id).limit(max_events)
    ))
    if not events:
        return None
    previous = head(session)
    height = (previous.id + 1) if previous else 1
    prev_hash = previous.hash if previous else GENESIS
    root = merkle_root([e.digest for e in events])
    block = LedgerBlock(
        id=height, prev_hash=prev_hash, merkle_root=root, first_event_id=events[0].id, last_event_id=events[-1].id,
        event_count=len(events), sealed_at=now,
        hash=block_hash(height=height, prev_hash=prev_hash, root=root, first=events[0].id, last=events[-1].id,
                        count=len(events), sealed_at=now),
    )
    session.add(block)
    session.flush()
    session.execute(update(LedgerEvent).where(LedgerEvent.id.in_([e.id for e in events])).values(block_id=height))
    return block


@dataclass(frozen=True)
class Inclusion:
    event: LedgerEvent
    block: LedgerBlock | None
    proof: list[dict[str, str]]


def inclusion(session: Session, event: LedgerEvent) -> Inclusion:
    """The Merkle proof that an event is in its block (no block yet: an empty proof)."""
    if event.block_id is None:
        return Inclusion(event, None, [])
    block = session.get(LedgerBlock, event.block_id)
    digests = list(session.scalars(select(LedgerEvent.digest).where(LedgerEvent.block_id == event.block_id).order_by(LedgerEvent.id)))
    ids = list(session.scalars(select(LedgerEvent.id).where(LedgerEvent.block_id == event.block_id).order_by(LedgerEvent.id)))
    return Inclusion(event, block, merkle_proof(digests, ids.index(event.id)))


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    blocks: int
    events: int
    problem: str = ""


STATUS_AFTER = {"void": "voided", "release": "valid"}


def verify_ledger(session: Session, *, progress: Any = None, batch: int = 5000) -> VerifyReport:
    """Recompute every event digest, every block's Merkle root and hash chain, and every
    vote's status from its events; the report names the first thing that does not match."""
    prev_hash = GENESIS
    blocks = events_seen = 0
    expected_status: dict[int, str] = {}
    last_id = 0
    block_digests: dict[int, list[str]] = {}
    while True:
        rows = session.execute(
            select(LedgerEvent, Vote).join(Vote, Vote.id == LedgerEvent.vote_id)
            .where(LedgerEvent.id > last_id).order_by(LedgerEvent.id).limit(batch)
        ).all()
        if not rows:
            break
        for event, vote in rows:
            if digest_of(event_fields(event, vote)) != event.digest:
                return VerifyReport(False, blocks, events_seen, f"event {event.id} (vote {vote.id}): digest does not match its fields")
            if event.kind == "cast":
                expected_status[vote.id] = "held" if event.detail.startswith("held") else "valid"
            else:
                expected_status[vote.id] = STATUS_AFTER[event.kind]
            if event.block_id is not None:
                block_digests.setdefault(event.block_id, []).append(event.digest)
            events_seen += 1
            last_id = event.id
        if progress:
            progress(events_seen)
    for block in session.scalars(select(LedgerBlock).order_by(LedgerBlock.id)):
        blocks += 1
        if block.id != blocks:
            return VerifyReport(False, blocks, events_seen, f"block {block.id}: height out of sequence (expected {blocks})")
        if block.prev_hash != prev_hash:
            return VerifyReport(False, blocks, events_seen, f"block {block.id}: previous hash does not match block {block.id - 1}")
        digests = block_digests.get(block.id, [])
        if len(digests) != block.event_count or merkle_root(digests) != block.merkle_root:
            return VerifyReport(False, blocks, events_seen, f"block {block.id}: Merkle root does not match its events")
        recomputed = block_hash(height=block.id, prev_hash=block.prev_hash, root=block.merkle_root, first=block.first_event_id,
                                last=block.last_event_id, count=block.event_count, sealed_at=block.sealed_at)
        if recomputed != block.hash:
            return VerifyReport(False, blocks, events_seen, f"block {block.id}: hash does not match its contents")
        prev_hash = block.hash
    mismatched = session.execute(select(Vote.id, Vote.status).order_by(Vote.id)).all()
    for vote_id, status in mismatched:
        expected = expected_status.get(vote_id)
        if expected is None:
            return VerifyReport(False, blocks, events_seen, f"vote {vote_id}: has no ledger event")
        if expected != status:
            return VerifyReport(False, blocks, events_seen, f"vote {vote_id}: status {status!r} but its events say {expected!r}")
    return VerifyReport(True, blocks, events_seen)


def unsealed_count(session: Session) -> int:
    return session.scalar(select(func.count()).where(LedgerEvent.block_id.is_(None))) or 0
