"""What the API reads in shapes the domains' own pages do not need: an entry by its id
alone, leaderboard rows with their entries, a receipt with its inclusion proofs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from ..contests import service as contests
from ..contests.models import Contest, Entry
from ..db import SessionLike
from ..errors import NotFound
from ..i18n import _
from ..voting import ledger
from ..voting import service as voting
from ..voting.models import LedgerBlock

PUBLIC_MEDIA_ROLES = ("photo", "cover", "video")  # business plans and pitch videos are for judges


def public_entry(session: SessionLike, entry_id: int) -> tuple[Contest, Entry]:
    """An approved entry of a published contest by its id alone, or NotFound."""
    contest_id = session.scalar(select(Entry.contest_id).where(Entry.id == entry_id))
    if contest_id is None:
        raise NotFound(_("没有找到这件作品，可能尚未通过审核或已撤回。"), code="entry_not_found")
    contest = contests.get_contest_by_id(session, contest_id)
    if not contest.is_published:
        raise NotFound(_("没有找到这件作品，可能尚未通过审核或已撤回。"), code="entry_not_found")
    try:
        entry = contests.get_public_entry(session, contest, entry_id)
    except NotFound as exc:
        raise NotFound(exc.message, code="entry_not_found") from None
    return contest, entry


def entries_by_id(session: SessionLike, entry_ids: list[int]) -> dict[int, Entry]:
    """Approved entries with their category and nominee (whose choice decides whether the
    cover is public), in one query (for leaderboards)."""
    if not entry_ids:
        return {}
    rows = session.scalars(select(Entry).where(Entry.id.in_(entry_ids), Entry.status == "approved")
                           .options(joinedload(Entry.category), joinedload(Entry.nominee)))
    return {entry.id: entry for entry in rows}


@dataclass(frozen=True)
class ReceiptProof:
    """What a receipt holder may see: the vote's status and entry, and each of its ledger
    events with the proof that it is in a sealed block. Never who voted."""

    receipt: str
    status: str  # counted | held | voided
    entry: Entry
    contest: Contest
    cast_at: datetime
    events: list[ledger.Inclusion]
    # each event's digest fields as hashed (None for formats that cover the voter's id)
    fields: list[dict[str, Any] | None]


RECEIPT_STATUS = {"valid": "counted", "held": "held", "voided": "voided"}


def receipt_proof(session: SessionLike, code: str) -> ReceiptProof:
    """A receipt's vote status and the inclusion proofs of its events, or NotFound."""
    vote, events = voting.receipt_status(session, code)
    entry = session.get(Entry, vote.entry_id)
    contest = contests.get_contest_by_id(session, vote.contest_id)
    assert entry is not None  # the vote's foreign key holds it
    return ReceiptProof(
        receipt=vote.receipt, status=RECEIPT_STATUS[vote.status], entry=entry, contest=contest,
        cast_at=vote.created_at, events=[ledger.inclusion(session, event) for event in events],
        fields=[ledger.published_fields(event, vote, contest.voter_key) for event in events],
    )


def ledger_block(session: SessionLike, height: int) -> LedgerBlock:
    """One sealed block, or NotFound."""
    block = ledger.block_at(session, height)
    if block is None:
        raise NotFound(_("没有这个区块。"), code="block_not_found")
    return block


def ledger_head(session: SessionLike) -> LedgerBlock:
    """The latest sealed block, or NotFound while nothing is sealed."""
    block = ledger.head(session)
    if block is None:
        raise NotFound(_("账本里还没有区块。"), code="block_not_found")
    return block


def ledger_leaves(session: SessionLike, height: int) -> ledger.BlockLeaves:
    """One sealed block's leaves (its events' digests in sealing order), or NotFound."""
    found = ledger.block_leaves(session, height)
    if found is None:
        raise NotFound(_("没有这个区块。"), code="block_not_found")
    return found


def ledger_consistency(session: SessionLike, first: int, second: int) -> ledger.Consistency:
    """The consistency proof between two version-2 heads, or NotFound."""
    found = ledger.consistency(session, first, second)
    if found is None:
        raise NotFound(_("这两个区块之间没有一致性证明（区块不存在、早于 RFC 6962 格式，或顺序颠倒）。"),
                       code="no_consistency_proof")
    return found
