"""Media: images stored cleaned and with renditions; reading what an entry shows."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime

from PIL import Image, ImageOps
from sqlalchemy import select

from ..contests.models import Entry
from ..db import SessionLike
from .images import ImageDecoder as ImageDecoder  # the type of web.image_decoder()
from .images import process_image
from .models import MediaItem
from .pdf import check_pdf
from .sniff import sniff
from .storage import Storage as Storage  # the type of web.storage()

THUMB_SIZE = 400
DISPLAY_SIZE = 1600


# A minor's signed guardian consent form (media.consent_form): for the organisers and the
# school only, never for the public or the judges.
CONSENT_ROLE = "consent"


def media_of(session: SessionLike, entry_id: int) -> list[MediaItem]:
    """An entry's media in display order (the signed consent form is not among them)."""
    return list(session.scalars(
        select(MediaItem).where(MediaItem.entry_id == entry_id, MediaItem.role != CONSENT_ROLE)
        .order_by(MediaItem.position, MediaItem.id)
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
    session: SessionLike, storage: Storage, *, entry: Entry, image: Image.Image, now: datetime, position: int = 0,
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


@dataclass(frozen=True)
class Document:
    """A file accepted by its content, ready to store: an image as its display rendition
    (JPEG, metadata stripped) or a PDF as it was sent."""

    data: bytes
    extension: str
    content_type: str


def check_document(data: bytes, *, max_bytes: int, decoder: ImageDecoder | None = None) -> Document | None:
    """An image (JPEG, PNG or WebP) or a PDF, recognised and checked by its content; None
    when it is neither. A broken or oversized file is refused as entries' files are."""
    kind = sniff(data[:64])
    if kind == "pdf":
        check_pdf(data, max_bytes=max_bytes)
        return Document(data, "pdf", "application/pdf")
    if kind not in ("jpeg", "png", "webp"):
        return None
    image = process_image(data, max_bytes=max_bytes, decoder=decoder)
    return Document(image.display, "jpg", "image/jpeg")


# What an entry's public pages show: its photos, its cover and its short video. A team's
# business plan and pitch video are material for the judges (the API shows the same).
PUBLIC_ROLES = ("photo", "cover", "video")


def photos_public(entry: Entry) -> bool:
    """Whether the public may see an entry's photos, cover and video at all.

    The one rule every public surface (pages, gallery cards, API, share poster) goes
    through: a nominee's pictures are public only when the school ticked 公开照片 for
    them; an entry without a nominee (a citizen's photo, a team's project) always is.
    Judges, organisers and the school itself read media_of() and see everything."""
    nominee = entry.nominee
    return nominee is None or (nominee.public_fields or {}).get("photo") is True


def public_cover_key(entry: Entry) -> str:
    """The cover thumbnail's key the public may see, or "" (none, or not public)."""
    return entry.cover_key if photos_public(entry) else ""


def public_media_of(session: SessionLike, entry: Entry) -> list[MediaItem]:
    """The images and videos an entry's public page shows, in display order (none when
    its photos are not public)."""
    if not photos_public(entry):
        return []
    return list(session.scalars(
        select(MediaItem).where(MediaItem.entry_id == entry.id, MediaItem.role.in_(PUBLIC_ROLES),
                                MediaItem.kind.in_(("image", "video")))
        .order_by(MediaItem.position, MediaItem.id)
    ))


def public_videos_of(session: SessionLike, entries: list[Entry]) -> dict[int, float | None]:
    """Which of these entries have a video their public page plays, with its length in
    seconds (one query, for a page of gallery cards)."""
    entry_ids = [entry.id for entry in entries if photos_public(entry)]
    if not entry_ids:
        return {}
    rows = session.execute(
        select(MediaItem.entry_id, MediaItem.duration_seconds)
        .where(MediaItem.entry_id.in_(entry_ids), MediaItem.kind == "video", MediaItem.role.in_(PUBLIC_ROLES))
        .order_by(MediaItem.entry_id, MediaItem.position.desc(), MediaItem.id.desc())
    )
    # Ordered so that an entry's first video is the last one written into the dict.
    return {entry_id: duration for entry_id, duration in rows}
