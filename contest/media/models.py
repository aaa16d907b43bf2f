"""Media items attached to entries; the files themselves live in content-addressed storage."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base

MEDIA_KINDS = ("image", "video", "pdf")


class MediaItem(Base):
    __tablename__ = "media_item"
    __table_args__ = (CheckConstraint("kind IN ('image', 'video', 'pdf')", name="kind_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("entry.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    # Storage keys: "<sha256>.<ext>" of the cleaned original and of its renditions.
    original_key: Mapped[str] = mapped_column(String(100))
    display_key: Mapped[str] = mapped_column(String(100), default="")
    thumb_key: Mapped[str] = mapped_column(String(100), default="")
    content_type: Mapped[str] = mapped_column(String(60))
    width: Mapped[int] = mapped_column(default=0)
    height: Mapped[int] = mapped_column(default=0)
    byte_size: Mapped[int] = mapped_column(default=0)
    caption: Mapped[str] = mapped_column(String(200), default="")
    alt_text: Mapped[str] = mapped_column(String(200), default="")
    position: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]
