"""The tamper-evident vote ledger.

Each event (a vote cast, voided or released) gets a digest of its fields when it is
written, in the vote's own transaction; nothing else happens on the vote path. A sealer
later groups unsealed events into a block whose hash covers the previous block's hash
and the Merkle root of its events' digests, so blocks form a chain: changing any vote,
event or block afterwards changes a recomputed hash, and `verify_ledger` names the first
place where that happens.

Each event also states, as data, the status it leaves its vote in (`vote_status`), and
`replay` walks the events in order to tell every vote's state from them; the results'
tally and `verify_ledger` both read the ledger through it. Sealing as votes come in
(the job runner's sealing turn, `voting.sealing.seal_due`) lives in voting.sealing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Row, Select, func, select, text, update

from ..db import SessionLike
from .models import LedgerBlock, LedgerEvent, Vote

GENESIS = "0" * 64
# Events younger than this are left for the next block, so a transaction still in flight
# (its id taken, its row not yet visible) never lands behind a sealed block.
SEAL_GRACE = timedelta(seconds=2)

# Which fields an event's digest covers, stored with each event so that every digest
# recomputes by the rule it was written under. Format 1 (events written before
# vote_status existed): the event and the vote as cast. Format 2 (written now): the
# same, with the format and the vote_status.
EVENT_FORMAT = 2
EVENT_FORMATS = (1, 2)
# The status each kind of event may leave its vote in.
STATUS_AFTER_KIND = {"cast": ("valid", "held"), "void": ("voided",), "release": ("valid",)}
STATUS_AFTER = {"void": "voided", "release": "valid"}


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _utc(value: datetime) -> str:
    # one spelling of an instant whatever zone it was written in or read back as
    return value.astimezone(UTC).isoformat()


def cast_fields(*, kind: str, at: datetime, detail: str, contest_id: int, entry_id: int, voter_id: int, day: date,
                cast_at: datetime, receipt: str, vote_status: str, fmt: int = EVENT_FORMAT) -> dict[str, Any]:
    """What an event's digest covers: the event and the vote as cast, and from format 2
    on the format and the status the event leaves the vote in. Not the rows' ids, which
    the database gives on insert: the receipt already names the vote, and a block's
    Merkle root fixes its events' order."""
    fields: dict[str, Any] = {
        "kind": kind, "at": _utc(at), "detail": detail, "contest": contest_id, "entry": entry_id, "voter": voter_id,
        "day": day.isoformat(), "cast_at": _utc(cast_at), "receipt": receipt,
    }
    if fmt != 1:
        fields.update(format=fmt, vote_status=vote_status)
    return fields


def event_fields(event: LedgerEvent, vote: Vote) -> dict[str, Any]:
    """The digest's fields of a stored event and its vote."""
    return cast_fields(kind=event.kind, at=event.at, detail=event.detail, contest_id=vote.contest_id,
                       entry_id=vote.entry_id, voter_id=vote.voter_id, day=vote.day, cast_at=vote.created_at,
                       receipt=vote.receipt, vote_status=event.vote_status, fmt=event.format)


def replayed_fields(row: Row[Any]) -> dict[str, Any]:
    """The digest's fields of an event as `replay` reads it."""
    return cast_fields(kind=row.kind, at=row.at, detail=row.detail, contest_id=row.contest_id, entry_id=row.entry_id,
                       voter_id=row.voter_id, day=row.day, cast_at=row.cast_at, receipt=row.receipt,
                       vote_status=row.vote_status, fmt=row.format)


def legacy_status(kind: str, detail: str) -> str:
    """The status a format-1 event leaves its vote in, as its digest's fields tell it: a
    void voided, a release valid, a cast held when its detail reads "held: <reasons>"
    (else "valid"). Format-1 events got their vote_status from this rule when the
    column was added; their digests do not cover that column, so verify_ledger holds it
    to what they do cover."""
    if kind in STATUS_AFTER:
        return STATUS_AFTER[kind]
    return "held" if detail[:4] == "held" else "valid"


def digest_of(fields: dict[str, Any]) -> str:
    return _sha256(json.dumps(fields, sort_keys=True, separators=(",", ":")).encode())


def append_event(session: SessionLike, *, vote: Vote, kind: str, at: datetime, detail: str = "") -> LedgerEvent:
    """Append one event for a stored vote (a void or a release: the status it leaves the
    vote in follows from its kind), its digest fixed now."""
    event = LedgerEvent(kind=kind, vote_id=vote.id, contest_id=vote.contest_id, at=at, detail=detail[:300],
                        vote_status=STATUS_AFTER[kind], format=EVENT_FORMAT, digest="")
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


def head(session: SessionLike) -> LedgerBlock | None:
    """The latest sealed block."""
    return session.scalar(select(LedgerBlock).order_by(LedgerBlock.id.desc()).limit(1))


def seal_pending(session: SessionLike, *, now: datetime, max_events: int = 5000) -> LedgerBlock | None:
    """Seal the unsealed events older than the grace period into one block, if any.

    One sealer at a time: on PostgreSQL a transaction-scoped advisory lock (a second
    sealer returns at once), on SQLite the database's single writer, taken before the
    events are read (BEGIN IMMEDIATE: a second sealer waits, then reads what is left).
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        if not session.execute(text("SELECT pg_try_advisory_xact_lock(727001)")).scalar():
            return None
    elif dialect == "sqlite":
        # the sqlite3 driver would begin only at the first write, after the reads below
        dbapi_connection = session.connection().connection.dbapi_connection
        if dbapi_connection is not None and not dbapi_connection.in_transaction:
            dbapi_connection.execute("BEGIN IMMEDIATE")
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


def inclusion(session: SessionLike, event: LedgerEvent) -> Inclusion:
    """The Merkle proof that an event is in its block (no block yet: an empty proof)."""
    if event.block_id is None:
        return Inclusion(event, None, [])
    block = session.get(LedgerBlock, event.block_id)
    digests = list(session.scalars(select(LedgerEvent.digest).where(LedgerEvent.block_id == event.block_id).order_by(LedgerEvent.id)))
    ids = list(session.scalars(select(LedgerEvent.id).where(LedgerEvent.block_id == event.block_id).order_by(LedgerEvent.id)))
    return Inclusion(event, block, merkle_proof(digests, ids.index(event.id)))


@dataclass(frozen=True)
class VoteState:
    """A vote as the ledger's events leave it."""

    entry_id: int
    status: str  # valid, held or voided
    reason: str = ""  # a voided vote's reason, as its void event states it
    day: date | None = None  # the Asia/Shanghai day the vote was cast on


class Replay:
    """The ledger's events in id order, each a row of the event's and its vote's fields
    (the vote's created_at as `cast_at`), read `batch` rows per query (keyset on the id),
    never the whole table at once. Iterating it keeps `states`, each vote's state as its
    events so far leave it, and `events`, the number of events read; `progress(events)`
    is called after each batch.

    Only a contest's events with `contest_id`; only events up to id `upto`; only sealed
    events with `sealed_only`.
    """

    def __init__(self, session: SessionLike, *, contest_id: int | None = None, upto: int | None = None,
                 sealed_only: bool = False, batch: int = 5000, progress: Callable[[int], Any] | None = None) -> None:
        self.session = session
        self.contest_id = contest_id
        self.upto = upto
        self.sealed_only = sealed_only
        self.batch = batch
        self.progress = progress
        self.states: dict[int, VoteState] = {}
        self.events = 0

    def _query(self, after: int) -> Select[*tuple[Any, ...]]:
        query = (
            select(LedgerEvent.id, LedgerEvent.kind, LedgerEvent.at, LedgerEvent.detail, LedgerEvent.vote_status,
                   LedgerEvent.format, LedgerEvent.digest, LedgerEvent.block_id, LedgerEvent.vote_id, Vote.contest_id,
                   Vote.entry_id, Vote.voter_id, Vote.day, Vote.created_at.label("cast_at"), Vote.receipt)
            .join(Vote, Vote.id == LedgerEvent.vote_id)
            .where(LedgerEvent.id > after)
        )
        if self.contest_id is not None:
            query = query.where(LedgerEvent.contest_id == self.contest_id)
        if self.upto is not None:
            query = query.where(LedgerEvent.id <= self.upto)
        if self.sealed_only:
            query = query.where(LedgerEvent.block_id.is_not(None))
        return query.order_by(LedgerEvent.id).limit(self.batch)

    def __iter__(self) -> Iterator[Row[Any]]:
        last_id = 0
        while True:
            rows = self.session.execute(self._query(last_id)).all()
            if not rows:
                return
            for row in rows:
                reason = row.detail if row.vote_status == "voided" else ""
                self.states[row.vote_id] = VoteState(row.entry_id, row.vote_status, reason, row.day)
                self.events += 1
                yield row
            last_id = rows[-1].id
            if self.progress:
                self.progress(self.events)

    def run(self) -> dict[int, VoteState]:
        """Read every event; each vote's final state."""
        for _row in self:
            pass
        return self.states


def replay(session: SessionLike, *, contest_id: int | None = None, upto: int | None = None, sealed_only: bool = False,
           batch: int = 5000, progress: Callable[[int], Any] | None = None) -> Replay:
    """Replay the ledger's events in order (see Replay): iterate it to see each event,
    or `.run()` it for each vote's final state."""
    return Replay(session, contest_id=contest_id, upto=upto, sealed_only=sealed_only, batch=batch, progress=progress)


def event_problem(row: Row[Any]) -> str:
    """What is wrong with one replayed event by itself, or ""."""
    where = f"event {row.id} (vote {row.vote_id})"
    if row.format not in EVENT_FORMATS:
        return f"{where}: unknown format {row.format!r}"
    if digest_of(replayed_fields(row)) != row.digest:
        return f"{where}: digest does not match its fields"
    if row.vote_status not in STATUS_AFTER_KIND.get(row.kind, ()):
        return f"{where}: a {row.kind!r} event cannot leave its vote {row.vote_status!r}"
    if row.format == 1 and row.vote_status != legacy_status(row.kind, row.detail):
        return f"{where}: status {row.vote_status!r} but its detail says {legacy_status(row.kind, row.detail)!r}"
    return ""


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    blocks: int
    events: int
    problem: str = ""


def verify_ledger(session: SessionLike, *, progress: Any = None, batch: int = 5000) -> VerifyReport:
    """Recompute every event digest (by its format's rule), every block's Merkle root and
    hash chain, and every vote's status from its events; the report names the first
    thing that does not match."""
    prev_hash = GENESIS
    blocks = 0
    block_digests: dict[int, list[str]] = {}
    walk = replay(session, batch=batch, progress=progress)
    for row in walk:
        problem = event_problem(row)
        if problem:
            return VerifyReport(False, blocks, walk.events - 1, problem)
        if row.block_id is not None:
            block_digests.setdefault(row.block_id, []).append(row.digest)
    events_seen = walk.events
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
        state = walk.states.get(vote_id)
        if state is None:
            return VerifyReport(False, blocks, events_seen, f"vote {vote_id}: has no ledger event")
        if state.status != status:
            return VerifyReport(False, blocks, events_seen, f"vote {vote_id}: status {status!r} but its events say {state.status!r}")
    return VerifyReport(True, blocks, events_seen)


def unsealed_count(session: SessionLike) -> int:
    return session.scalar(select(func.count()).where(LedgerEvent.block_id.is_(None))) or 0
