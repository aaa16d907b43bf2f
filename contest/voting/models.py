"""Votes, the quota counters that keep them within the rules, and the sealed ledger."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base
from ..i18n import N_, code_labels

VOTE_STATUSES = ("valid", "held", "voided")
EVENT_KINDS = ("cast", "void", "release")
VOTE_STATUS_LABELS = code_labels("vote_status", {"valid": N_("有效"), "held": N_("待审"), "voided": N_("作废")})
EVENT_KIND_LABELS = code_labels("ledger_event", {"cast": N_("投出"), "void": N_("作废"), "release": N_("核实后计入")})


class Vote(Base):
    __tablename__ = "vote"
    __table_args__ = (
        CheckConstraint("status IN ('valid', 'held', 'voided')", name="status_known"),
        UniqueConstraint("voter_id", "idempotency_key"),
        Index("ix_vote_entry_status", "entry_id", "status"),
        Index("ix_vote_contest_created", "contest_id", "created_at"),
        Index("ix_vote_ip", "contest_id", "ip"),
        # index-only counts (voting.figures, the fraud desk): a contest's votes per entry,
        # status and reason with their risk scores; an entry's per hour and per source
        Index("ix_vote_contest_figures", "contest_id", "entry_id", "status", "status_reason", "risk_score"),
        Index("ix_vote_entry_hour", "entry_id", "created_at", "status"),
        Index("ix_vote_entry_ip", "entry_id", "ip", postgresql_include=["voter_id", "status"]),
        Index("ix_vote_entry_subnet", "entry_id", "subnet", postgresql_include=["voter_id", "status"]),
        Index("ix_vote_entry_device_id", "entry_id", "device_id", postgresql_include=["voter_id", "status"]),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contest.id", ondelete="CASCADE"))
    entry_id: Mapped[int] = mapped_column(ForeignKey("entry.id", ondelete="CASCADE"))
    voter_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    day: Mapped[date]  # the Asia/Shanghai calendar day the quotas count in
    created_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(10), default="valid")
    risk_score: Mapped[int] = mapped_column(default=0)
    reasons: Mapped[list[Any]] = mapped_column(JSON, default=list)
    ip: Mapped[str] = mapped_column(String(45), default="")
    subnet: Mapped[str] = mapped_column(String(50), default="")
    device_id: Mapped[str] = mapped_column(String(64), default="", index=True)
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    receipt: Mapped[str] = mapped_column(String(20), unique=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(80))
    status_reason: Mapped[str] = mapped_column(String(300), default="")


class VoteCount(Base):
    """Votes per entry, status and reason (a voided vote's; "" for the others), kept in
    step with the vote table in the transactions that write it (voting.writer: a vote
    cast, a status changed), so a contest's figures read a row per entry and status
    instead of counting its votes.

    A vote is counted in slot `vote id % COUNT_SLOTS`, a figure is the sum over the
    slots. With one slot, votes for the same entry and status queue on one row from
    their write to their commit (a few milliseconds); more slots spread a very busy
    entry's votes over more rows, at the cost of as many more rows to read (after
    changing COUNT_SLOTS, `flask votes recount` counts the votes into the new slots)."""

    __tablename__ = "vote_count"
    __table_args__ = (CheckConstraint("n >= 0", name="n_not_negative"),)

    contest_id: Mapped[int] = mapped_column(ForeignKey("contest.id", ondelete="CASCADE"), primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("entry.id", ondelete="CASCADE"), primary_key=True)
    status: Mapped[str] = mapped_column(String(10), primary_key=True)
    reason: Mapped[str] = mapped_column(String(300), primary_key=True)
    slot: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    n: Mapped[int] = mapped_column(default=0)


COUNT_SLOTS = 1


class VoteQuota(Base):
    """Votes a voter used in a contest on one day. Incremented by one conditional upsert,
    so parallel requests cannot pass the limit."""

    __tablename__ = "vote_quota"
    __table_args__ = (CheckConstraint("used >= 0", name="used_not_negative"),)

    contest_id: Mapped[int] = mapped_column(ForeignKey("contest.id", ondelete="CASCADE"), primary_key=True)
    voter_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    used: Mapped[int] = mapped_column(default=0)


class VoteEntryQuota(Base):
    """Votes a voter gave one entry on one day."""

    __tablename__ = "vote_entry_quota"
    __table_args__ = (CheckConstraint("used >= 0", name="used_not_negative"),)

    entry_id: Mapped[int] = mapped_column(ForeignKey("entry.id", ondelete="CASCADE"), primary_key=True)
    voter_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    used: Mapped[int] = mapped_column(default=0)


class LedgerEvent(Base):
    """One append-only event: a vote cast, voided or released. Its digest covers the
    event's fields; blocks seal runs of events later, off the vote path.

    `vote_status` is the status the event leaves its vote in (a cast: valid or held; a
    void: voided; a release: valid). `format` says which fields the digest covers
    (ledger.EVENT_FORMAT): 1 for events written before `vote_status` existed, whose
    digest does not cover it; 2 for those whose digest does."""

    __tablename__ = "ledger_event"
    __table_args__ = (
        CheckConstraint("kind IN ('cast', 'void', 'release')", name="kind_known"),
        CheckConstraint("vote_status IN ('valid', 'held', 'voided')", name="vote_status_known"),
        # sealing order: verification walks it in keyset batches
        Index("ix_ledger_event_block_order", "block_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    vote_id: Mapped[int] = mapped_column(ForeignKey("vote.id", ondelete="CASCADE"), index=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contest.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    detail: Mapped[str] = mapped_column(String(300), default="")  # for people to read; the status is vote_status
    vote_status: Mapped[str] = mapped_column(String(10))
    format: Mapped[int]
    digest: Mapped[str] = mapped_column(String(64))
    block_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_block.id"), index=True)


class LedgerBlock(Base):
    """A sealed run of events: hash = H(height, previous hash, Merkle root, range, time).

    `version` says how the root and hash are made (docs/LEDGER.md): 1 for blocks sealed
    before RFC 6962 hashing, whose root covers only their own events; 2 for the others,
    whose root is the RFC 6962 tree head of every sealed event so far (`tree_size`
    leaves), so that any two heads have a consistency proof. `frontier` keeps the roots
    of that tree's perfect subtrees (JSON, largest first) so the next block extends it
    without rereading the ledger; it is derived data, covered by no hash."""

    __tablename__ = "ledger_block"

    id: Mapped[int] = mapped_column(primary_key=True)  # the height
    prev_hash: Mapped[str] = mapped_column(String(64))
    merkle_root: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    first_event_id: Mapped[int]
    last_event_id: Mapped[int]
    event_count: Mapped[int]
    sealed_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    tree_size: Mapped[int | None] = mapped_column(index=True)  # proofs find blocks by it
    frontier: Mapped[str | None] = mapped_column(Text)


class IdempotentReply(Base):
    """The first answer to a request carrying an Idempotency-Key, replayed for repeats."""

    __tablename__ = "idempotent_reply"
    __table_args__ = (UniqueConstraint("voter_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    voter_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(80))
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[int]
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]
