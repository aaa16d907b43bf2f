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

Blocks carry a format version (docs/LEDGER.md gives every byte). Version 1, the blocks
sealed before RFC 6962 hashing: a root over the block's own events that duplicates an
odd level's last node and has no leaf/node prefixes, kept only so those blocks still
verify. Version 2, every block sealed now: the root is the RFC 6962 tree head
(voting.rfc6962) over every sealed event so far, in sealing order, and the block states
that tree's size; an event's inclusion proof names its leaf index and the tree size, and
any two version-2 heads have a consistency proof.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import multiprocessing
import os
from collections.abc import Callable, Collection, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Row, Select, case, func, literal, select, text, update
from sqlalchemy.orm import Session

from ..contests.models import Contest
from ..db import SessionLike
from . import rfc6962
from .models import LedgerBlock, LedgerEvent, Vote

GENESIS = "0" * 64
# Events younger than this are left for the next block, so a transaction still in flight
# (its id taken, its row not yet visible) never lands behind a sealed block.
SEAL_GRACE = timedelta(seconds=2)

# Which fields an event's digest covers, stored with each event so that every digest
# recomputes by the rule it was written under. Format 1 (events written before
# vote_status existed): the event and the vote as cast, with the voter's account id.
# Format 2: the same, with the format and the vote_status. Format 3: only what a receipt
# shows, times in one fixed spelling (UTC, microseconds, "Z"), the detail by its hash,
# and no voter. Format 4 (written now): format 3 with the voter as a pseudonym of their
# own in the contest (keyed by the contest's secret, so only the voter, shown it on
# their receipt, recognises it), the detail by a keyed digest (a hold's few possible
# signals cannot be guessed from it) and the receipt code by its SHA-256 (the published
# events do not hand out receipt codes). Anyone holding a receipt recomputes the digests
# of their own vote from the receipt alone; anyone can count a publication's votes from
# the published events, voter by voter, and nobody learns who voted.
EVENT_FORMAT = 4
EVENT_FORMATS = (1, 2, 3, 4)
# How a block's root and hash are made (see the module docstring and docs/LEDGER.md).
BLOCK_VERSION = 2
BLOCK_VERSIONS = (1, 2)
# The status each kind of event may leave its vote in.
STATUS_AFTER_KIND = {"cast": ("valid", "held"), "void": ("voided",), "release": ("valid",)}
STATUS_AFTER = {"void": "voided", "release": "valid"}


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _utc(value: datetime) -> str:
    # one spelling of an instant whatever zone it was written in or read back as
    # (formats 1 and 2, version 1: isoformat drops the microseconds when they are zero)
    return value.astimezone(UTC).isoformat()


def utc_text(value: datetime) -> str:
    """An instant as event format 3 and block version 2 hash it: UTC, always six digits
    of microseconds, "Z" (2026-05-14T02:03:04.000000Z)."""
    # isoformat with microseconds, cut before its "+00:00": the same text as
    # strftime("%Y-%m-%dT%H:%M:%S.%fZ") in a third less time (a million of them in a verify)
    return value.astimezone(UTC).isoformat(timespec="microseconds")[:26] + "Z"


def _mac(voter_key: str, label: str, value: str) -> str:
    return hmac.digest(bytes.fromhex(voter_key), f"{label}:{value}".encode(), hashlib.sha256).hex()


def voter_pseudonym(voter_key: str, voter_id: int) -> str:
    """The voter's name in a contest's ledger (event format 4): the first 16 bytes, in hex,
    of HMAC-SHA256 under the contest's secret of "voter:<account id>". The same for all of
    one voter's votes in the contest, different in every other contest."""
    return _mac(voter_key, "voter", str(voter_id))[:32]


def cast_fields(*, kind: str, at: datetime, detail: str, contest_id: int, entry_id: int, voter_id: int, day: date,
                cast_at: datetime, receipt: str, vote_status: str, voter_key: str = "",
                fmt: int = EVENT_FORMAT) -> dict[str, Any]:
    """What an event's digest covers: the event and the vote as cast, and from format 2
    on the format and the status the event leaves the vote in. Format 3 leaves the voter
    out, covers the detail (a void's reason, a hold's signals: for organisers) by its
    SHA-256 only, and spells times with utc_text; format 4 names the voter by their
    pseudonym in the contest, the detail by HMAC-SHA256 under the contest's `voter_key`
    and the receipt by its SHA-256. Not the rows' ids, which the database gives on insert:
    the receipt already names the vote, and a block's Merkle root fixes its events' order."""
    if fmt >= 3:
        fields: dict[str, Any] = {
            "format": fmt, "kind": kind, "at": utc_text(at), "contest": contest_id, "entry": entry_id,
            "day": day.isoformat(), "cast_at": utc_text(cast_at), "vote_status": vote_status,
        }
        if fmt == 3:
            fields.update(detail_sha256=_sha256(detail.encode("utf-8")), receipt=receipt)
            return fields
        if not voter_key:
            raise ValueError("event format 4 needs the contest's voter_key")
        fields.update(detail_mac=_mac(voter_key, "detail", detail), receipt_sha256=_sha256(receipt.encode("ascii")),
                      voter=voter_pseudonym(voter_key, voter_id))
        return fields
    fields = {
        "kind": kind, "at": _utc(at), "detail": detail, "contest": contest_id, "entry": entry_id, "voter": voter_id,
        "day": day.isoformat(), "cast_at": _utc(cast_at), "receipt": receipt,
    }
    if fmt != 1:
        fields.update(format=fmt, vote_status=vote_status)
    return fields


def event_fields(event: LedgerEvent, vote: Vote, voter_key: str) -> dict[str, Any]:
    """The digest's fields of a stored event and its vote (`voter_key`: its contest's)."""
    return cast_fields(kind=event.kind, at=event.at, detail=event.detail, contest_id=vote.contest_id,
                       entry_id=vote.entry_id, voter_id=vote.voter_id, day=vote.day, cast_at=vote.created_at,
                       receipt=vote.receipt, vote_status=event.vote_status, voter_key=voter_key, fmt=event.format)


def published_fields(event: LedgerEvent, vote: Vote, voter_key: str) -> dict[str, Any] | None:
    """The digest's fields of an event as a receipt publishes them: all of them from
    format 3 on; None for older formats, whose digests cover the voter's account id."""
    return event_fields(event, vote, voter_key) if event.format >= 3 else None


def replayed_fields(row: Row[Any]) -> dict[str, Any]:
    """The digest's fields of an event as `replay` reads it."""
    return cast_fields(kind=row.kind, at=row.at, detail=row.detail, contest_id=row.contest_id, entry_id=row.entry_id,
                       voter_id=row.voter_id, day=row.day, cast_at=row.cast_at, receipt=row.receipt,
                       vote_status=row.vote_status, voter_key=row.voter_key, fmt=row.format)


def legacy_status(kind: str, detail: str) -> str:
    """The status a format-1 event leaves its vote in, as its digest's fields tell it: a
    void voided, a release valid, a cast held when its detail reads "held: <reasons>"
    (else "valid"). Format-1 events got their vote_status from this rule when the
    column was added; their digests do not cover that column, so verify_ledger holds it
    to what they do cover."""
    if kind in STATUS_AFTER:
        return STATUS_AFTER[kind]
    return "held" if detail[:4] == "held" else "valid"


def canonical_json(fields: dict[str, Any]) -> bytes:
    """The bytes hashed for an event digest or a block hash: JSON with sorted keys, no
    spaces, non-ASCII characters as \\uXXXX escapes (so the bytes are ASCII)."""
    return _CANONICAL.encode(fields).encode("ascii")


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def digest_of(fields: dict[str, Any]) -> str:
    return _sha256(canonical_json(fields))


def append_event(session: SessionLike, *, vote: Vote, kind: str, at: datetime, voter_key: str,
                 detail: str = "") -> LedgerEvent:
    """Append one event for a stored vote (a void or a release: the status it leaves the
    vote in follows from its kind), its digest fixed now (`voter_key`: its contest's)."""
    event = LedgerEvent(kind=kind, vote_id=vote.id, contest_id=vote.contest_id, at=at, detail=detail[:300],
                        vote_status=STATUS_AFTER[kind], format=EVENT_FORMAT, digest="")
    event.digest = digest_of(event_fields(event, vote, voter_key))
    session.add(event)
    return event


def merkle_root(leaves: list[str]) -> str:
    """A version-1 block's root (no prefixes, an odd level's last node doubled): for
    blocks sealed before version 2 only."""
    if not leaves:
        return GENESIS
    level = leaves
    while len(level) > 1:
        if len(level) % 2:
            level = [*level, level[-1]]
        level = [_sha256(bytes.fromhex(level[i]) + bytes.fromhex(level[i + 1])) for i in range(0, len(level), 2)]
    return level[0]


def merkle_proof(leaves: list[str], index: int) -> list[dict[str, str]]:
    """A version-1 proof: sibling hashes from a leaf up to the root, each {"side":
    "left"|"right", "hash": …}."""
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
    """The version-1 root a leaf and its proof lead to."""
    current = leaf
    for step in proof:
        pair = step["hash"] + current if step["side"] == "left" else current + step["hash"]
        current = _sha256(bytes.fromhex(pair))
    return current


def block_hash(*, height: int, prev_hash: str, root: str, first: int, last: int, count: int, sealed_at: datetime,
               version: int = 1, tree_size: int | None = None) -> str:
    """A block's hash: of block_fields, by its version's rule."""
    return _sha256(canonical_json(block_fields(height=height, prev_hash=prev_hash, root=root, first=first, last=last,
                                               count=count, sealed_at=sealed_at, version=version, tree_size=tree_size)))


def block_fields(*, height: int, prev_hash: str, root: str, first: int, last: int, count: int, sealed_at: datetime,
                 version: int = 1, tree_size: int | None = None) -> dict[str, Any]:
    """What a block's hash covers, in the exact form hashed (the API publishes it as is)."""
    if version == 1:
        return {"height": height, "prev": prev_hash, "root": root, "first": first, "last": last, "count": count,
                "sealed_at": _utc(sealed_at)}
    return {"version": version, "height": height, "prev": prev_hash, "root": root, "tree_size": tree_size,
            "first": first, "last": last, "count": count, "sealed_at": utc_text(sealed_at)}


def hashed_fields(block: LedgerBlock | Row[Any]) -> dict[str, Any]:
    """A stored block's hashed fields."""
    return block_fields(height=block.id, prev_hash=block.prev_hash, root=block.merkle_root, first=block.first_event_id,
                        last=block.last_event_id, count=block.event_count, sealed_at=block.sealed_at,
                        version=block.version, tree_size=block.tree_size)


def _leaf(digest: str) -> bytes:
    # a version-2 leaf is the event digest's 32 bytes
    return rfc6962.leaf_hash(bytes.fromhex(digest))


def _sealed_digests(session: SessionLike, *, upto_block: int | None = None) -> list[str]:
    """Every sealed event's digest in sealing order (by block, then id): the leaves of
    the version-2 tree; only those of blocks up to `upto_block` with it."""
    query = select(LedgerEvent.digest).where(LedgerEvent.block_id.is_not(None))
    if upto_block is not None:
        query = query.where(LedgerEvent.block_id <= upto_block)
    return list(session.scalars(query.order_by(LedgerEvent.block_id, LedgerEvent.id)))


def _frontier_of(block: LedgerBlock | None, session: SessionLike) -> tuple[list[bytes], int]:
    """The version-2 tree's frontier and size after `block` (read from the block when it
    is version 2, else rebuilt once from every sealed event)."""
    if block is None:
        return [], 0
    if block.version >= 2 and block.frontier is not None and block.tree_size is not None:
        return [bytes.fromhex(h) for h in json.loads(block.frontier)], block.tree_size
    leaves = [_leaf(d) for d in _sealed_digests(session, upto_block=block.id)]
    return rfc6962.extend([], 0, leaves), len(leaves)


def _pieces(frontier: list[bytes], size: int) -> list[tuple[int, bytes]]:
    """A frontier's subtree heads with the index of each one's first leaf."""
    starts = []
    start = 0
    for bit in reversed(range(size.bit_length())):
        if size >> bit & 1:
            starts.append(start)
            start += 1 << bit
    return list(zip(starts, frontier, strict=True))


class StoredTree:
    """The heads of the version-2 tree's subtrees up to a version-2 block, for proofs,
    from the frontiers the blocks store and at most one block's events: a subtree that
    ends at the block's last leaf folds the block's own frontier; a perfect subtree
    (2^k leaves from a multiple of 2^k) starts from the frontier of the last block that
    ends inside it and hashes on the events after that block up to its end, which all
    lie in the next block (see docs/LEDGER.md §5)."""

    def __init__(self, session: SessionLike, top: LedgerBlock) -> None:
        assert top.tree_size is not None
        self.session = session
        self.top = top

    def __call__(self, start: int, end: int) -> bytes:
        if end == self.top.tree_size:
            heads = _pieces(*_frontier_of(self.top, self.session))
            if any(first == start for first, _h in heads):
                return rfc6962.frontier_root([h for first, h in heads if first >= start])
        inside = self.session.scalar(
            select(LedgerBlock).where(LedgerBlock.version >= 2, LedgerBlock.tree_size > start,
                                      LedgerBlock.tree_size < end).order_by(LedgerBlock.tree_size.desc()).limit(1))
        pieces, done = [], start
        if inside is not None:
            frontier, size = _frontier_of(inside, self.session)
            pieces, done = [h for first, h in _pieces(frontier, size) if first >= start], size
        frontier = rfc6962.extend(pieces, done - start, [_leaf(d) for d in self._digests(done, end)])
        return rfc6962.frontier_root(frontier)

    def _digests(self, start: int, end: int) -> list[str]:
        """The digests of leaves [start, end): from the one block holding them when there is
        one, else (blocks sealed before version 2) from the sealed events in order."""
        if start == end:
            return []
        holder = self.session.scalar(select(LedgerBlock).where(LedgerBlock.version >= 2, LedgerBlock.tree_size >= end)
                                     .order_by(LedgerBlock.tree_size).limit(1))
        query = select(LedgerEvent.digest)
        if holder is not None and holder.tree_size is not None and holder.tree_size - holder.event_count <= start:
            query = query.where(LedgerEvent.block_id == holder.id).order_by(LedgerEvent.id).offset(
                start - (holder.tree_size - holder.event_count))
        else:
            query = query.where(LedgerEvent.block_id.is_not(None)).order_by(LedgerEvent.block_id, LedgerEvent.id).offset(start)
        return list(self.session.scalars(query.limit(end - start)))


def block_at(session: SessionLike, height: int) -> LedgerBlock | None:
    """The sealed block at a height."""
    return session.get(LedgerBlock, height)


@dataclass(frozen=True)
class BlockLeaves:
    """A sealed block's events as leaves: their digests in sealing order, the first being
    leaf `first_leaf` of the ledger (the number of events sealed in earlier blocks)."""

    block: LedgerBlock
    first_leaf: int
    digests: list[str]


def block_leaves(session: SessionLike, height: int) -> BlockLeaves | None:
    """Block `height`'s leaves (at most one sealing batch of digests), or None."""
    block = block_at(session, height)
    if block is None:
        return None
    before = session.scalar(select(func.coalesce(func.sum(LedgerBlock.event_count), 0))
                            .where(LedgerBlock.id < height)) or 0
    digests = list(session.scalars(select(LedgerEvent.digest).where(LedgerEvent.block_id == height)
                                   .order_by(LedgerEvent.id)))
    return BlockLeaves(block, int(before), digests)


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
    frontier, size = _frontier_of(previous, session)
    block = LedgerBlock(**next_block(previous.id if previous else 0, previous.hash if previous else GENESIS, frontier,
                                     size, [(e.id, e.digest) for e in events], now))
    session.add(block)
    session.flush()
    session.execute(update(LedgerEvent).where(LedgerEvent.id.in_([e.id for e in events])).values(block_id=block.id))
    return block


def next_block(previous_height: int, prev_hash: str, frontier: list[bytes], size: int, events: list[tuple[int, str]],
               now: datetime) -> dict[str, Any]:
    """The columns of the version-2 block sealing `events` ((id, digest) in id order) after
    the block at `previous_height` with hash `prev_hash`, whose tree has `frontier` and
    `size` leaves."""
    frontier = rfc6962.extend(frontier, size, [_leaf(digest) for _id, digest in events])
    size += len(events)
    height = previous_height + 1
    root = rfc6962.frontier_root(frontier).hex()
    first, last = events[0][0], events[-1][0]
    return {
        "id": height, "version": BLOCK_VERSION, "prev_hash": prev_hash, "merkle_root": root, "tree_size": size,
        "frontier": json.dumps([h.hex() for h in frontier]), "first_event_id": first, "last_event_id": last,
        "event_count": len(events), "sealed_at": now,
        "hash": block_hash(height=height, prev_hash=prev_hash, root=root, first=first, last=last, count=len(events),
                           sealed_at=now, version=BLOCK_VERSION, tree_size=size),
    }


@dataclass(frozen=True)
class Inclusion:
    """The proof that an event is in its block. Version 1: `proof`, sibling hashes with
    their sides, folding to the block's own root. Version 2: `path`, the RFC 6962 audit
    path of leaf `leaf_index` in the tree of `tree_size` leaves whose head is the block's
    root."""

    event: LedgerEvent
    block: LedgerBlock | None
    proof: list[dict[str, str]]
    leaf_index: int | None = None
    tree_size: int | None = None
    path: tuple[str, ...] = ()

    def holds(self) -> bool:
        """Whether the proof leads from the event's digest to its block's root."""
        if self.block is None:
            return False
        if self.block.version == 1:
            return apply_proof(self.event.digest, self.proof) == self.block.merkle_root
        if self.leaf_index is None or self.tree_size is None or self.tree_size != self.block.tree_size:
            return False
        return rfc6962.verify_inclusion(bytes.fromhex(self.event.digest), self.leaf_index, self.tree_size,
                                        [bytes.fromhex(h) for h in self.path], bytes.fromhex(self.block.merkle_root))


def inclusion(session: SessionLike, event: LedgerEvent) -> Inclusion:
    """The Merkle proof that an event is in its block (no block yet: an empty proof)."""
    if event.block_id is None:
        return Inclusion(event, None, [])
    block = session.get(LedgerBlock, event.block_id)
    assert block is not None  # the event's foreign key holds it
    if block.version == 1:
        rows = session.execute(select(LedgerEvent.id, LedgerEvent.digest).where(LedgerEvent.block_id == event.block_id)
                               .order_by(LedgerEvent.id)).all()
        ids = [row.id for row in rows]
        return Inclusion(event, block, merkle_proof([row.digest for row in rows], ids.index(event.id)))
    assert block.tree_size is not None
    # the leaves before this block, then this block's events before this one
    before = block.tree_size - block.event_count + (session.scalar(select(func.count()).select_from(LedgerEvent).where(
        LedgerEvent.block_id == block.id, LedgerEvent.id < event.id)) or 0)
    path = rfc6962.inclusion_path_by(StoredTree(session, block), before, block.tree_size)
    return Inclusion(event, block, [], leaf_index=before, tree_size=block.tree_size, path=tuple(h.hex() for h in path))


@dataclass(frozen=True)
class Consistency:
    """An RFC 6962 consistency proof between two version-2 blocks' tree heads."""

    first: LedgerBlock
    second: LedgerBlock
    path: tuple[str, ...]

    def holds(self) -> bool:
        """Whether the second head's tree extends the first's."""
        assert self.first.tree_size is not None and self.second.tree_size is not None
        return rfc6962.verify_consistency(self.first.tree_size, self.second.tree_size,
                                          bytes.fromhex(self.first.merkle_root), bytes.fromhex(self.second.merkle_root),
                                          [bytes.fromhex(h) for h in self.path])


def consistency(session: SessionLike, first_height: int, second_height: int) -> Consistency | None:
    """The consistency proof from block `first_height` to block `second_height` (the
    first not after the second); None unless both exist and are version 2."""
    first = session.get(LedgerBlock, first_height)
    second = session.get(LedgerBlock, second_height)
    if first is None or second is None or first.version < 2 or second.version < 2 or first.id > second.id:
        return None
    assert first.tree_size is not None and second.tree_size is not None
    path = rfc6962.consistency_proof_by(StoredTree(session, second), first.tree_size, second.tree_size)
    return Consistency(first, second, tuple(h.hex() for h in path))


@dataclass(frozen=True)
class VoteState:
    """A vote as the ledger's events leave it."""

    entry_id: int
    status: str  # valid, held or voided
    reason: str = ""  # a voided vote's reason, as its void event states it
    day: date | None = None  # the Asia/Shanghai day the vote was cast on


def _event_rows(*extra: Any) -> Select[*tuple[Any, ...]]:
    """Events with their votes' fields (the vote's created_at as `cast_at`) and their
    contests' secrets: the rows `replayed_fields` reads."""
    return (select(LedgerEvent.id, LedgerEvent.kind, LedgerEvent.at, LedgerEvent.detail, LedgerEvent.vote_status,
                   LedgerEvent.format, LedgerEvent.digest, LedgerEvent.block_id, LedgerEvent.vote_id, Vote.contest_id,
                   Vote.entry_id, Vote.voter_id, Vote.day, Vote.created_at.label("cast_at"), Vote.receipt,
                   Contest.voter_key, *extra)
            .join(Vote, Vote.id == LedgerEvent.vote_id).join(Contest, Contest.id == Vote.contest_id))


def _published_filter(query: Select[Any], contest_id: int, upto: int, leave_out: Collection[int]) -> Select[Any]:
    query = query.where(LedgerEvent.contest_id == contest_id, LedgerEvent.id <= upto, LedgerEvent.block_id.is_not(None))
    return query.where(Vote.entry_id.not_in(list(leave_out))) if leave_out else query


def published_events(session: SessionLike, *, contest_id: int, upto: int,
                     leave_out: Collection[int] = ()) -> Iterator[tuple[int, Row[Any]]]:
    """The contest's sealed events up to event `upto` (the events a publication's tally
    counts), but those of the entries in `leave_out`, in sealing order, each with its leaf
    index in the ledger: one block's worth of rows at a time."""
    before, top = 0, head(session)
    for block in _blocks_in_order(session, 1000, 1, top.id if top is not None else 0):
        if block.first_event_id > upto:
            return
        place = (select(LedgerEvent.id, (func.row_number().over(order_by=LedgerEvent.id) - 1).label("place"))
                 .where(LedgerEvent.block_id == block.id).subquery())
        query = _published_filter(_event_rows(place.c.place).join(place, place.c.id == LedgerEvent.id),
                                  contest_id, upto, leave_out)
        for row in session.execute(query.order_by(LedgerEvent.id)):
            yield before + row.place, row
        before += block.event_count


def published_event_count(session: SessionLike, *, contest_id: int, upto: int, leave_out: Collection[int] = ()) -> int:
    """How many events `published_events` gives."""
    query = select(func.count()).select_from(LedgerEvent).join(Vote, Vote.id == LedgerEvent.vote_id)
    return session.scalar(_published_filter(query, contest_id, upto, leave_out)) or 0


class Replay:
    """The ledger's events in id order, each a row of the event's and its vote's fields
    (the vote's created_at as `cast_at`), read `batch` rows per query (keyset on the id),
    never the whole table at once. Iterating it keeps `states`, each vote's state as its
    events so far leave it, and `events`, the number of events read; `progress(events)`
    is called after each batch.

    Only a contest's events with `contest_id`; only events after id `after` and up to id
    `upto`; only sealed events with `sealed_only`.
    """

    def __init__(self, session: SessionLike, *, contest_id: int | None = None, upto: int | None = None,
                 sealed_only: bool = False, batch: int = 5000, progress: Callable[[int], Any] | None = None,
                 keep_states: bool = True, after: int = 0) -> None:
        self.session = session
        self.after = after
        self.keep_states = keep_states
        self.contest_id = contest_id
        self.upto = upto
        self.sealed_only = sealed_only
        self.batch = batch
        self.progress = progress
        self.states: dict[int, VoteState] = {}
        self.events = 0

    def _query(self, after: int) -> Select[*tuple[Any, ...]]:
        query = _event_rows().where(LedgerEvent.id > after)
        if self.contest_id is not None:
            query = query.where(LedgerEvent.contest_id == self.contest_id)
        if self.upto is not None:
            query = query.where(LedgerEvent.id <= self.upto)
        if self.sealed_only:
            query = query.where(LedgerEvent.block_id.is_not(None))
        return query.order_by(LedgerEvent.id).limit(self.batch)

    def __iter__(self) -> Iterator[Row[Any]]:
        last_id = self.after
        while True:
            # plain rows (columns, no ORM entities): a million of them in a full replay
            rows = self.session.connection().execute(self._query(last_id)).all()
            if not rows:
                return
            for row in rows:
                if self.keep_states:
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
           batch: int = 5000, progress: Callable[[int], Any] | None = None, keep_states: bool = True) -> Replay:
    """Replay the ledger's events in order (see Replay): iterate it to see each event,
    or `.run()` it for each vote's final state; with `keep_states=False` it keeps none
    (memory independent of the number of votes)."""
    return Replay(session, contest_id=contest_id, upto=upto, sealed_only=sealed_only, batch=batch, progress=progress,
                  keep_states=keep_states)


def _last_events(contest_id: int, upto: int) -> Any:
    """Each of the contest's votes with its last sealed event up to event `upto`."""
    return (select(LedgerEvent.vote_id, func.max(LedgerEvent.id).label("last_id"))
            .where(LedgerEvent.contest_id == contest_id, LedgerEvent.id <= upto, LedgerEvent.block_id.is_not(None))
            .group_by(LedgerEvent.vote_id).subquery())


def settled_counts(session: SessionLike, *, contest_id: int, upto: int,
                   entry_ids: Collection[int] | Select[Any] | None = None) -> list[tuple[int, str, str, int]]:
    """What a sealed replay of the contest up to event `upto` leaves its votes in, counted
    in the database: rows of (entry_id, status, reason — a voided vote's, as its void
    event states it —, n). The same figures as running `replay(..., sealed_only=True)`
    and counting its states, without holding a state per vote: a vote's state is its last
    event's."""
    last = _last_events(contest_id, upto)
    reason = case((LedgerEvent.vote_status == "voided", LedgerEvent.detail), else_=literal(""))
    columns = [Vote.entry_id, LedgerEvent.vote_status, reason]
    query = (select(*columns, func.count()).select_from(last).join(LedgerEvent, LedgerEvent.id == last.c.last_id)
             .join(Vote, Vote.id == last.c.vote_id))
    if entry_ids is not None:
        query = query.where(Vote.entry_id.in_(entry_ids if isinstance(entry_ids, Select) else list(entry_ids)))
    return [(row[0], row[1], row[2] or "", row[3]) for row in session.execute(query.group_by(*columns))]


def settled_valid_days(session: SessionLike, *, contest_id: int, upto: int) -> Iterator[tuple[int, date, int]]:
    """(entry_id, day, n): the votes a sealed replay up to event `upto` leaves valid, per
    entry and the day they were cast, streamed (a row per entry and day: hundreds of
    thousands in a large contest, never held at once)."""
    last = _last_events(contest_id, upto)
    query = (select(Vote.entry_id, Vote.day, func.count()).select_from(last)
             .join(LedgerEvent, LedgerEvent.id == last.c.last_id).join(Vote, Vote.id == last.c.vote_id)
             .where(LedgerEvent.vote_status == "valid").group_by(Vote.entry_id, Vote.day))
    for row in session.execute(query, execution_options={"yield_per": 5000}):
        yield row[0], row[1], row[2]


def settled_mismatches(session: SessionLike, *, contest_id: int, upto: int, limit: int = 50) -> list[int]:
    """The first votes (by id) whose table status differs from their last sealed event's."""
    last = _last_events(contest_id, upto)
    return list(session.scalars(
        select(last.c.vote_id).join(LedgerEvent, LedgerEvent.id == last.c.last_id).join(Vote, Vote.id == last.c.vote_id)
        .where(Vote.status != LedgerEvent.vote_status).order_by(last.c.vote_id).limit(limit)))


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


def verify_ledger(session: SessionLike, *, progress: Any = None, batch: int = 5000, workers: int | None = None,
                  pieces: int | None = None) -> VerifyReport:
    """Recompute every event digest (by its format's rule), every block's Merkle root and
    hash chain, and every vote's status from its events; the report names the first
    thing that does not match.

    Three passes, each reading `batch` rows per query (keyset), so memory stays the same
    whatever the ledger's size: the events in id order (digests), the sealed events in
    sealing order beside the blocks (roots, ranges, hashes, the chain), and the votes in
    id order beside their events (statuses).

    Each pass is split into `pieces` ranges of ids (four per worker by default) checked
    by `workers` processes at once (os.cpu_count() by default on PostgreSQL from
    PARALLEL_FROM events on; one, in this process, on SQLite, below that or with
    workers=1), each with its own connection; the ranges'
    answers are read in order, so the report is the one a single walk gives: the same
    counts and the same first problem. A range of blocks starts from the block before
    it: its stored hash and its stored frontier of the version-2 tree, which the range
    before must end on (else the range is checked again from the frontier that range
    computed; the frontier is covered by no hash)."""
    workers = _verify_workers(session, workers)
    pieces = max(1, pieces or (4 * workers if workers > 1 else 1))
    if workers <= 1:
        return _verify_walk(session, _LocalRunner(session), progress, batch, pieces)
    with _PoolRunner(session, workers) as runner:
        return _verify_walk(session, runner, progress, batch, pieces)


# Below this many events, starting worker processes costs more than sharing the work saves.
PARALLEL_FROM = 50_000


def _verify_workers(session: SessionLike, workers: int | None) -> int:
    if workers is not None:
        return max(1, workers)
    if session.get_bind().dialect.name != "postgresql":
        return 1  # SQLite: one process
    if (session.scalar(select(func.max(LedgerEvent.id))) or 0) < PARALLEL_FROM:
        return 1  # a small ledger: one process
    return os.cpu_count() or 1


def _id_ranges(session: SessionLike, column: Any, pieces: int) -> list[tuple[int, int]]:
    """[lo, hi] ranges of a column's values (ids), `pieces` of them of equal width."""
    low, high = session.execute(select(func.min(column), func.max(column))).one()
    if low is None:
        return []
    width = max(1, -(-(high - low + 1) // pieces))
    return [(lo, min(high, lo + width - 1)) for lo in range(low, high + 1, width)]


def _verify_walk(session: SessionLike, runner: _Runner, progress: Any, batch: int, pieces: int) -> VerifyReport:
    # the events' digests
    events_seen = 0
    local_progress = None
    if progress is not None and isinstance(runner, _LocalRunner) and pieces == 1:
        local_progress = progress
    ranges = _id_ranges(session, LedgerEvent.id, pieces)
    for checked, problem in runner.each("events", [(lo, hi, batch, local_progress) for lo, hi in ranges]):
        events_seen += checked
        if problem:
            return VerifyReport(False, 0, events_seen, problem)
        if progress is not None and local_progress is None:
            progress(events_seen)
    # the blocks beside their sealed events
    blocks = 0
    tree: tuple[list[bytes], int] = ([], 0)  # the version-2 tree the ranges so far built
    ranges = _id_ranges(session, LedgerBlock.id, pieces)
    for (lo, hi), found in zip(ranges, runner.each("blocks", [(lo, hi, batch, None) for lo, hi in ranges]), strict=True):
        if (found.start_frontier, found.start_size) != tree:
            # the stored frontier the range started from is not the tree the ranges before built
            found = _check_blocks(session, lo, hi, batch, tree)
        if found.problem:
            return VerifyReport(False, blocks + found.blocks, events_seen, found.problem)
        blocks += found.blocks
        tree = (found.frontier, found.size)
    # the votes' statuses
    ranges = _id_ranges(session, Vote.id, pieces)
    for problem in runner.each("statuses", [(lo, hi, batch) for lo, hi in ranges]):
        if problem:
            return VerifyReport(False, blocks, events_seen, problem)
    return VerifyReport(True, blocks, events_seen)


def _check_events(session: SessionLike, lo: int, hi: int, batch: int,
                  progress: Callable[[int], Any] | None = None) -> tuple[int, str]:
    """The events with ids in [lo, hi], each by itself: how many were checked before the
    first problem (all of them when there is none), and that problem or ""."""
    walk = Replay(session, after=lo - 1, upto=hi, batch=batch, progress=progress, keep_states=False)
    for row in walk:
        problem = event_problem(row)
        if problem:
            return walk.events - 1, problem
    return walk.events, ""


@dataclass(frozen=True)
class _BlocksChecked:
    blocks: int  # blocks walked in the range (up to the first problem, which is counted)
    problem: str
    frontier: list[bytes]  # the version-2 tree after the range's last block
    size: int
    start_frontier: list[bytes]  # the tree the range started from
    start_size: int


def _check_blocks(session: SessionLike, lo: int, hi: int, batch: int,
                  tree: tuple[list[bytes], int] | None = None) -> _BlocksChecked:
    """Walk the blocks with heights in [lo, hi] beside their events, after the block
    before them (its hash, and the tree as its stored frontier gives it, or `tree`)."""
    table = LedgerBlock.__table__
    blocks = session.scalar(select(func.count()).select_from(table).where(table.c.id < lo)) or 0
    previous = session.scalar(select(LedgerBlock).where(LedgerBlock.id < lo).order_by(LedgerBlock.id.desc()).limit(1))
    prev_hash = previous.hash if previous is not None else GENESIS
    # the version-2 tree over every sealed event so far, in sealing order
    frontier, size = tree if tree is not None else _frontier_of(previous, session)
    start = (list(frontier), size)
    events = _sealed_in_order(session, batch, lo, hi)
    pending = next(events, None)
    walked = 0
    problem = ""
    for block in _blocks_in_order(session, batch, lo, hi):
        blocks += 1
        walked += 1
        problem = _block_problem(block, blocks, prev_hash)
        if problem:
            break
        digests: list[str] = []  # the block's own (at most a sealing batch)
        first, last = None, None
        while pending is not None and pending.block_id == block.id:
            digests.append(pending.digest)
            first = pending.id if first is None else first
            last = pending.id
            pending = next(events, None)
        count = len(digests)
        frontier = rfc6962.extend(frontier, size, [_leaf(d) for d in digests])
        size += count
        if block.version == 1:
            root_holds = merkle_root(digests) == block.merkle_root
        else:
            root_holds = block.tree_size == size and rfc6962.frontier_root(frontier).hex() == block.merkle_root
        if count != block.event_count or not root_holds:
            problem = f"block {block.id}: Merkle root does not match its events"
        elif count and (block.first_event_id, block.last_event_id) != (first, last):
            problem = f"block {block.id}: first or last event does not match its events"
        elif _sha256(canonical_json(hashed_fields(block))) != block.hash:
            problem = f"block {block.id}: hash does not match its contents"
        if problem:
            break
        prev_hash = block.hash
    return _BlocksChecked(walked, problem, frontier, size, *start)


def _block_problem(block: Row[Any], height: int, prev_hash: str) -> str:
    """What is wrong with a block's place in the chain, before its events are read."""
    if block.id != height:
        return f"block {block.id}: height out of sequence (expected {height})"
    if block.version not in BLOCK_VERSIONS:
        return f"block {block.id}: unknown version {block.version!r}"
    if block.prev_hash != prev_hash:
        return f"block {block.id}: previous hash does not match block {block.id - 1}"
    return ""


def _sealed_in_order(session: SessionLike, batch: int, lo: int, hi: int) -> Iterator[Any]:
    """(block_id, id, digest) of the events sealed in blocks lo to hi, in sealing order,
    `batch` per query."""
    after = (lo - 1, 0)
    while True:
        rows = session.connection().execute(
            select(LedgerEvent.block_id, LedgerEvent.id, LedgerEvent.digest)
            .where(LedgerEvent.block_id >= lo, LedgerEvent.block_id <= hi,
                   (LedgerEvent.block_id > after[0]) | ((LedgerEvent.block_id == after[0]) & (LedgerEvent.id > after[1])))
            .order_by(LedgerEvent.block_id, LedgerEvent.id).limit(batch)).all()
        if not rows:
            return
        yield from rows
        after = (rows[-1].block_id, rows[-1].id)


def _blocks_in_order(session: SessionLike, batch: int, lo: int, hi: int) -> Iterator[Row[Any]]:
    """The columns of the blocks with heights in [lo, hi], in height order, `batch` per query."""
    table = LedgerBlock.__table__
    after = lo - 1
    while True:
        rows = session.connection().execute(select(table).where(table.c.id > after, table.c.id <= hi)
                               .order_by(table.c.id).limit(batch)).all()
        if not rows:
            return
        yield from rows
        after = rows[-1].id


def _check_statuses(session: SessionLike, lo: int, hi: int, batch: int) -> str:
    """Each vote with an id in [lo, hi] against the status its last event leaves it in;
    the first vote that differs, or ""."""
    after = lo - 1
    while True:
        votes = session.connection().execute(select(Vote.id, Vote.status).where(Vote.id > after, Vote.id <= hi)
                                .order_by(Vote.id).limit(batch)).all()
        if not votes:
            return ""
        last_status: dict[int, str] = {}
        for vote_id, status in session.connection().execute(
                select(LedgerEvent.vote_id, LedgerEvent.vote_status)
                .where(LedgerEvent.vote_id >= votes[0].id, LedgerEvent.vote_id <= votes[-1].id)
                .order_by(LedgerEvent.id)):
            last_status[vote_id] = status
        for vote_id, status in votes:
            if vote_id not in last_status:
                return f"vote {vote_id}: has no ledger event"
            if last_status[vote_id] != status:
                return f"vote {vote_id}: status {status!r} but its events say {last_status[vote_id]!r}"
        after = votes[-1].id


# --- running the ranges: here, or in worker processes ------------------------------------------

_CHECKS: dict[str, Callable[..., Any]] = {"events": _check_events, "blocks": _check_blocks,
                                          "statuses": _check_statuses}


class _Runner:
    def each(self, check: str, ranges: list[tuple[Any, ...]]) -> Iterator[Any]:
        """The check's answer for each range, in the ranges' order (the ones after the
        caller stops reading are not awaited)."""
        raise NotImplementedError


class _LocalRunner(_Runner):
    def __init__(self, session: SessionLike) -> None:
        self.session = session

    def each(self, check: str, ranges: list[tuple[Any, ...]]) -> Iterator[Any]:
        for args in ranges:
            yield _CHECKS[check](self.session, *args)


class _PoolRunner(_Runner):
    """Worker processes, each with an engine of its own on the session's database."""

    def __init__(self, session: SessionLike, workers: int) -> None:
        url = session.get_bind().engine.url.render_as_string(hide_password=False)
        # forkserver: a fresh process to fork from, not this one (its threads, connections)
        context: Any = multiprocessing.get_context("spawn")
        if "forkserver" in multiprocessing.get_all_start_methods():
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload([__name__, "contest.model_registry"])
        self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_worker_start,
                                        initargs=(url,))

    def __enter__(self) -> _PoolRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)

    def each(self, check: str, ranges: list[tuple[Any, ...]]) -> Iterator[Any]:
        futures = [self.pool.submit(_worker_check, check, args) for args in ranges]
        try:
            for future in futures:
                yield future.result()
        finally:
            for future in futures:
                future.cancel()


_worker_engine: Any = None


def _worker_start(url: str) -> None:
    global _worker_engine
    from sqlalchemy import create_engine

    from .. import model_registry  # noqa: F401  every table, for the models' foreign keys
    _worker_engine = create_engine(url, pool_size=1)


def _worker_check(check: str, args: tuple[Any, ...]) -> Any:
    with Session(_worker_engine) as session:
        return _CHECKS[check](session, *args)


def unsealed_count(session: SessionLike) -> int:
    return session.scalar(select(func.count()).where(LedgerEvent.block_id.is_(None))) or 0
