"""Media: images stored cleaned and with renditions; reading what an entry shows."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime

from PIL import Image, ImageOps
from sqlalchemy import func, select

from ..contests.models import Entry
from ..db import SessionLike
from ..errors import DomainError
from .images import ImageDecoder as ImageDecoder  # the type of web.image_decoder()
from .images import (
    fitted_width,
    process_image,
    rendition_widths,
    renditions_from_display,
    store_renditions,
)
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
    display = _encode_jpeg(image, DISPLAY_SIZE)
    item = MediaItem(
        entry_id=entry.id, kind="image", content_type="image/jpeg", width=image.width, height=image.height,
        byte_size=len(original), caption=caption, alt_text=alt_text or caption or entry.title, position=position,
        created_at=now,
        original_key=storage.put(original, "jpg"),
        display_key=storage.put(display, "jpg"),
        thumb_key=storage.put(_encode_jpeg(image, THUMB_SIZE), "jpg"),
    )
    item.set_rendition_keys(store_renditions(storage, renditions_from_display(display)))
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


def public_cover_items_of(session: SessionLike, entries: list[Entry]) -> dict[int, MediaItem]:
    """The media item behind each public cover of these entries (one query, for a page of
    gallery cards): its renditions give the card a srcset."""
    covers = {entry.id: entry.cover_key for entry in entries if public_cover_key(entry)}
    if not covers:
        return {}
    items = session.scalars(
        select(MediaItem).where(MediaItem.entry_id.in_(covers), MediaItem.thumb_key.in_(set(covers.values())))
    )
    return {item.entry_id: item for item in items if covers.get(item.entry_id) == item.thumb_key}


@dataclass(frozen=True)
class ImageSources:
    """What a page needs for one responsive picture: `<source>` renditions (WebP, or
    JPEG where Pillow has no WebP) and the JPEG fallback `<img>`, each as (key, width)."""

    src: str                                  # the <img>'s src: the display rendition
    small_src: str                            # a small one's: the thumbnail (else the display)
    fallback: tuple[tuple[str, int], ...]     # JPEG thumbnail and display, for the <img>'s srcset
    renditions: tuple[tuple[str, int], ...]   # the width renditions, for <source> (none for old images)
    rendition_type: str                       # their MIME type
    width: int
    height: int


def image_sources(item: MediaItem) -> ImageSources | None:
    """The responsive sources of an image (or a video's poster), or None when it has no
    display or thumbnail rendition. Only renditions are ever offered, never the original;
    an image stored before the width renditions gets its thumbnail and display ones."""
    display = item.display_key or item.poster_key
    if not display and not item.thumb_key:
        return None
    widths = rendition_widths(item.width, item.height)
    fallback: list[tuple[str, int]] = []
    if widths:  # an item without its size gets a plain src
        sized = ((item.thumb_key, fitted_width(item.width, item.height, THUMB_SIZE)),
                 (display, fitted_width(item.width, item.height)))
        for key, width in sized:
            if key and (not fallback or width > fallback[-1][1]):
                fallback.append((key, width))
    renditions = tuple((key, widths[slot]) for slot, key in item.rendition_keys().items() if slot in widths)
    webp = bool(renditions) and renditions[0][0].endswith(".webp")
    return ImageSources(
        src=display or item.thumb_key, small_src=item.thumb_key or display, fallback=tuple(fallback), renditions=renditions,
        rendition_type="image/webp" if webp else "image/jpeg", width=item.width, height=item.height,
    )


@dataclass(frozen=True)
class RenditionReport:
    made: int      # images given their width renditions
    failed: int    # images whose display rendition is missing or unreadable (left as they were)
    left: int      # images still without them (a later run goes on)


def make_missing_renditions(session: SessionLike, storage: Storage, *, limit: int) -> RenditionReport:
    """Give up to `limit` images stored before the width renditions theirs, made from
    their display rendition (never from the original), committing as it goes. Until
    then pages serve such an image from its display and thumbnail renditions."""
    missing = (MediaItem.kind == "image", MediaItem.display_key != "", MediaItem.w400_key == "")
    made = failed = 0
    for item_id in list(session.scalars(select(MediaItem.id).where(*missing).order_by(MediaItem.id).limit(limit))):
        item = session.get(MediaItem, item_id)
        if item is None:
            continue
        try:
            with storage.open(item.display_key) as file:
                renditions = renditions_from_display(file.read())
        except (OSError, DomainError):
            failed += 1
            continue
        item.set_rendition_keys(store_renditions(storage, renditions))
        session.commit()
        made += 1
    left = session.scalar(select(func.count()).select_from(MediaItem).where(*missing)) or 0
    return RenditionReport(made=made, failed=failed, left=left - failed)


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
