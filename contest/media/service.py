"""Media: images stored cleaned and with renditions; reading what an entry shows."""

from __future__ import annotations

import io
from datetime import datetime

from PIL import Image, ImageOps
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..contests.models import Entry
from .models import MediaItem
from .storage import Storage

THUMB_SIZE = 400
DISPLAY_SIZE = 1600


def media_of(session: Session, entry_id: int) -> list[MediaItem]:
    """An entry's media in display order."""
    return list(session.scalars(
        select(MediaItem).where(MediaItem.entry_id == entry_id).order_by(MediaItem.position, MediaItem.id)
    ))


def _encode_jpeg(image: Image.Image, longest: int | None = None) -> bytes:
    if longest and max(image.size) > longest:
        image = image.copy()
        image.thumbnail((longest, longest), Image.Resampling.LANCZOS)
    if image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    out = io.BytesIO()
    # No exif= and no icc: the re-encoded file carries no metadata at all.
    image.save(out, "JPEG", quality=85, optimize=True, progressive=True)
    return out.getvalue()


def attach_image(
    session: Session, storage: Storage, *, entry: Entry, image: Image.Image, now: datetime, position: int = 0,
    caption: str = "", alt_text: str = "",
) -> MediaItem:
    """Store a decoded image as a cleaned original with display and thumbnail renditions.

    The first image (position 0) becomes the entry's cover.
    """
    image = ImageOps.exif_transpose(image)
    original = _encode_jpeg(image)
    item = MediaItem(
        entry_id=entry.id, kind="image", content_type="image/jpeg", width=image.width, height=image.height,
        byte_size=len(original), caption=caption, alt_text=alt_text or caption or entry.title, position=position,
        created_at=now,
        original_key=storage.put(original, "jpg"),
        display_key=storage.put(_encode_jpeg(image, DISPLAY_SIZE), "jpg"),
        thumb_key=storage.put(_encode_jpeg(image, THUMB_SIZE), "jpg"),
    )
    session.add(item)
    if position == 0:
        entry.cover_key = item.thumb_key
    session.flush()
    return item
