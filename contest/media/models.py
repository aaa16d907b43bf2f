"""Media items attached to entries; the files themselves live in content-addressed storage."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base

MEDIA_KINDS = ("image", "video", "pdf")


class MediaItem(Base):
    __tablename__ = "media_item"
    __table_args__ = (
        CheckConstraint("kind IN ('image', 'video', 'pdf')", name="kind_known"),
        CheckConstraint("playback_state IN ('', 'pending', 'ready', 'failed')", name="playback_state_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("entry.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    # Storage keys: "<sha256>.<ext>" of the cleaned original and of its renditions.
    # info["storage_key"] marks every column the orphan sweep must treat as a reference.
    original_key: Mapped[str] = mapped_column(String(100), info={"storage_key": True})
    display_key: Mapped[str] = mapped_column(String(100), default="", info={"storage_key": True})
    thumb_key: Mapped[str] = mapped_column(String(100), default="", info={"storage_key": True})
    # image: the srcset renditions 400, 800 and 1600 px wide (images.RENDITION_WIDTHS; WebP
    # where Pillow writes it), never wider than the display rendition, so a narrow image
    # has fewer; "" for an image stored before them (`flask media renditions` makes them).
    w400_key: Mapped[str] = mapped_column(String(100), default="", info={"storage_key": True})
    w800_key: Mapped[str] = mapped_column(String(100), default="", info={"storage_key": True})
    w1600_key: Mapped[str] = mapped_column(String(100), default="", info={"storage_key": True})
    content_type: Mapped[str] = mapped_column(String(60))
    width: Mapped[int] = mapped_column(default=0)
    height: Mapped[int] = mapped_column(default=0)
    byte_size: Mapped[int] = mapped_column(default=0)
    caption: Mapped[str] = mapped_column(String(200), default="")
    alt_text: Mapped[str] = mapped_column(String(200), default="")
    position: Mapped[int] = mapped_column(default=0)
    # image: 64-bit difference hash (stored signed) for near-duplicate detection
    dhash: Mapped[int | None] = mapped_column(BigInteger, index=True)
    # video: poster frame (JPEG) and duration
    poster_key: Mapped[str] = mapped_column(String(100), default="", info={"storage_key": True})
    duration_seconds: Mapped[float | None]
    # video: the rendition every viewer gets (H.264 High + AAC MP4, at most 1280×720, about
    # 2 Mbit/s, index first), made by the job runner (media.playback). State "" is a video
    # from before renditions (its clean original is served) or not a video; "pending"
    # until the job runner has made it (claimed_at: a runner is on it since then),
    # "ready" (playback_key set), or "failed" (playback_error says why, for the author).
    playback_key: Mapped[str] = mapped_column(String(100), default="", info={"storage_key": True})
    playback_state: Mapped[str] = mapped_column(String(10), default="")
    playback_error: Mapped[str] = mapped_column(String(200), default="")
    playback_claimed_at: Mapped[datetime | None]
    # what the item is for: photo, cover, video, plan (business plan PDF), pitch (pitch video)
    role: Mapped[str] = mapped_column(String(10), default="photo")
    created_at: Mapped[datetime]

    def rendition_keys(self) -> dict[int, str]:
        """Slot width -> key of each srcset rendition stored."""
        keys = {400: self.w400_key, 800: self.w800_key, 1600: self.w1600_key}
        return {slot: key for slot, key in keys.items() if key}

    def stored_keys(self) -> set[str]:
        """Every stored file of this item: the clean original and each rendition."""
        keys = (self.original_key, self.display_key, self.thumb_key, self.poster_key, self.playback_key,
                *self.rendition_keys().values())
        return {key for key in keys if key}

    def set_rendition_keys(self, keys: dict[int, str]) -> None:
        self.w400_key, self.w800_key, self.w1600_key = (keys.get(slot, "") for slot in (400, 800, 1600))


class DuplicateFlag(Base):
    """An image that looks like an image of another entry, for moderators to judge."""

    __tablename__ = "duplicate_flag"
    __table_args__ = (UniqueConstraint("media_item_id", "other_media_item_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("entry.id", ondelete="CASCADE"), index=True)
    media_item_id: Mapped[int] = mapped_column(ForeignKey("media_item.id", ondelete="CASCADE"))
    other_entry_id: Mapped[int] = mapped_column(ForeignKey("entry.id", ondelete="CASCADE"), index=True)
    other_media_item_id: Mapped[int] = mapped_column(ForeignKey("media_item.id", ondelete="CASCADE"))
    distance: Mapped[int]
    created_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]


class QuotaSlot(Base):
    """One unit of a quota. A quota of N is N numbered slots; taking one is an INSERT that
    the unique constraint lets only one request win, so parallel submissions can never
    exceed the quota on PostgreSQL or SQLite alike."""

    __tablename__ = "quota_slot"
    __table_args__ = (
        UniqueConstraint("contest_id", "scope", "owner_id", "slot"),
        Index("ix_quota_slot_entry", "entry_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contest.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(String(10))  # "person" or "school"
    owner_id: Mapped[int]
    slot: Mapped[int]
    entry_id: Mapped[int] = mapped_column(ForeignKey("entry.id", ondelete="CASCADE"))


WITHDRAWAL_STATES = ("pending", "approved", "declined")


class WithdrawalRequest(Base):
    """A request to withdraw an entry once voting or judging has started: the public's
    votes and the judges' work are at stake, so an organiser approves or declines it,
    with a reason (media.withdrawals). At most one is pending per entry."""

    __tablename__ = "withdrawal_request"
    __table_args__ = (
        CheckConstraint("state IN ('pending', 'approved', 'declined')", name="state_known"),
        Index("ux_withdrawal_request_pending", "entry_id", unique=True,
              sqlite_where=text("state = 'pending'"), postgresql_where=text("state = 'pending'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("entry.id", ondelete="CASCADE"), index=True)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(String(500))
    state: Mapped[str] = mapped_column(String(10), default="pending")
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    decision_reason: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
