"""Playback renditions of videos: what every viewer is served (media.video explains the
format), made by the job runner after the upload's commit.

A video's `playback_state` goes "pending" → "ready" (its rendition stored, content-addressed
like every file) or "failed" (with a short reason its author sees on 我的作品). Until it
is ready its public page says 视频处理中; judges and organisers always have the clean
original. An upload that already plays everywhere is its own rendition, ready at once.

Making a rendition is safe to run twice and by several runners: a runner first claims the
item (a conditional UPDATE that one runner wins, committed at once), then transcodes outside
any transaction, then records the outcome. A claim older than CLAIM_FOR (a runner that
died) may be taken over. An item already ready or failed is left alone.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from ..db import SessionLike, after_commit
from ..errors import DomainError
from ..i18n import _
from .models import MediaItem
from .storage import Storage
from .video import TRANSCODE_TIMEOUT, ProcessedVideo, transcode_for_playback

log = logging.getLogger(__name__)

CLAIM_FOR = timedelta(seconds=TRANSCODE_TIMEOUT * 2)
# A pending video nobody holds this long after its upload has lost its job (the hand-over
# failed, the queue was lost, or the retries were spent while ffmpeg or the storage was
# out); the job runner queues it again (`stalled`) for a day after the upload.
STALLED_AFTER = timedelta(minutes=10)
REQUEUED_FOR = timedelta(days=1)
ERROR_MAX = 200

#: What the job runner is asked to do with a new video's id (see `queue_playback`).
Queue = Callable[[int], None]


def start_playback(session: SessionLike, item: MediaItem, video: ProcessedVideo, queue: Queue | None) -> None:
    """Set a new video's rendition going: ready at once when the upload already plays
    everywhere, else pending, and queued with the job runner once the caller commits."""
    if video.plays_everywhere:
        item.playback_key, item.playback_state = item.original_key, "ready"
        return
    item.playback_state = "pending"
    if queue is not None:
        item_id = item.id
        after_commit(session, lambda: queue(item_id))


def claim(session: SessionLike, item_id: int, now: datetime) -> bool:
    """Claim a pending video for this runner (flushed, not committed); False when it is not
    pending or another runner's claim is still fresh."""
    result = session.execute(
        update(MediaItem)
        .where(MediaItem.id == item_id, MediaItem.kind == "video", MediaItem.playback_state == "pending",
               or_(MediaItem.playback_claimed_at.is_(None), MediaItem.playback_claimed_at < now - CLAIM_FOR))
        .values(playback_claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    return getattr(result, "rowcount", 0) == 1


def stalled(session: SessionLike, now: datetime, *, limit: int = 50) -> list[int]:
    """Ids of pending videos no runner holds, uploaded between REQUEUED_FOR and
    STALLED_AFTER ago (oldest first): their job was lost, so they are queued again."""
    return list(session.scalars(
        select(MediaItem.id)
        .where(MediaItem.kind == "video", MediaItem.playback_state == "pending",
               MediaItem.created_at <= now - STALLED_AFTER, MediaItem.created_at > now - REQUEUED_FOR,
               or_(MediaItem.playback_claimed_at.is_(None), MediaItem.playback_claimed_at < now - CLAIM_FOR))
        .order_by(MediaItem.id).limit(limit)))


def make_playback(session: Session, storage: Storage, item_id: int, now: datetime) -> str:
    """Make one video's playback rendition (committing its claim, then its outcome); the
    state it is left in, or "busy" when another runner holds it. Errors that may pass
    (storage, ffmpeg missing, the database) release the claim and are raised, for a retry."""
    won = claim(session, item_id, now)
    session.commit()
    item = session.get(MediaItem, item_id)
    if item is None:
        return "gone"
    if not won:
        return item.playback_state if item.playback_state != "pending" else "busy"
    try:
        with tempfile.TemporaryDirectory(prefix="contest-playback-") as folder:
            source = Path(folder) / "original"
            try:
                with storage.open(item.original_key) as fh, source.open("wb") as out:
                    shutil.copyfileobj(fh, out, 1024 * 1024)
            except FileNotFoundError:
                return _failed(session, item, _("原视频文件已丢失，请重新上传。"))
            try:
                rendition = transcode_for_playback(str(source), workdir=folder)
            except DomainError as exc:
                return _failed(session, item, exc.message)
            key = storage.put_file(rendition.path, "mp4")
    except BaseException:
        session.rollback()
        session.execute(update(MediaItem).where(MediaItem.id == item_id, MediaItem.playback_claimed_at == now)
                        .values(playback_claimed_at=None).execution_options(synchronize_session=False))
        session.commit()
        raise
    item.playback_key, item.playback_state, item.playback_error, item.playback_claimed_at = key, "ready", "", None
    session.commit()
    log.info("video %s: playback rendition ready (%s×%s)", item_id, rendition.width, rendition.height)
    return "ready"


def _failed(session: Session, item: MediaItem, reason: str) -> str:
    log.info("video %s: no playback rendition: %s", item.id, reason)
    item.playback_state, item.playback_error, item.playback_claimed_at = "failed", reason[:ERROR_MAX], None
    session.commit()
    return "failed"


def unfinished_playback(session: SessionLike, entry_ids: list[int]) -> dict[int, tuple[str, str]]:
    """For these entries, a video not (yet) playable by everyone: its state ("pending" or
    "failed") and the reason it failed (one query), for its author's list."""
    if not entry_ids:
        return {}
    rows = session.execute(
        select(MediaItem.entry_id, MediaItem.playback_state, MediaItem.playback_error)
        .where(MediaItem.entry_id.in_(entry_ids), MediaItem.kind == "video",
               MediaItem.playback_state.in_(("pending", "failed")))
        .order_by(MediaItem.entry_id, MediaItem.playback_state, MediaItem.id)
    )
    # Ordered so that a failure (after "pending" by name) is what the dict keeps.
    return {entry_id: (state, error) for entry_id, state, error in rows}


def make_playback_now(session: SessionLike, storage: Storage, item: MediaItem) -> None:
    """Make a pending video's rendition in the caller's transaction (flushed), for the demo
    data, which is seeded before any job runner runs."""
    with tempfile.TemporaryDirectory(prefix="contest-playback-") as folder:
        source = Path(folder) / "original"
        with storage.open(item.original_key) as fh, source.open("wb") as out:
            shutil.copyfileobj(fh, out, 1024 * 1024)
        try:
            rendition = transcode_for_playback(str(source), workdir=folder)
        except DomainError as exc:
            item.playback_state, item.playback_error = "failed", exc.message[:ERROR_MAX]
        else:
            item.playback_key, item.playback_state = storage.put_file(rendition.path, "mp4"), "ready"
    session.flush()
