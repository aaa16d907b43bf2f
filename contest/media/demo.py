"""Short videos for the demo data: a few seconds of an animated title card with a tone,
encoded with ffmpeg while the demo is seeded, then taken in by the platform's own video
intake (probed, stream-copied without metadata, a poster frame taken) and attached the
way a submission attaches an upload, so the demo stores and serves them as it would a
citizen's clip; each is playable by everyone at once (its own playback rendition, or one
made while seeding).

The pictures come from the caller (the demo paints them with the CJK font it uses for
every picture): a background and a transparent layer with the text, which slides and
fades in over the first second, before the frame the intake takes as the poster.
"""

from __future__ import annotations

import subprocess
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from types import TracebackType

from PIL import Image

from ..contests import service as contests
from ..contests.models import Contest, Entry
from ..db import SessionLike
from .models import MediaItem
from .playback import make_playback_now
from .storage import Storage
from .submissions import attach_video
from .video import FFMPEG, MIN_SHORT_SIDE, ProcessedVideo, process_video

# 720p, the smallest picture the intake accepts. Four seconds of a mostly still picture
# encode in well under a second and weigh about 150 KB.
FRAME = (MIN_SHORT_SIDE * 16 // 9, MIN_SHORT_SIDE)
SECONDS = 4.0
FPS = 25
TITLE_IN = 0.8  # seconds for the text to slide and fade in: done before the poster frame (1 s)
ENCODE_TIMEOUT = 60


def make_title_clip(background: Image.Image, text: Image.Image, path: Path, *, tone: float = 523.25) -> Path:
    """Write an H.264/AAC MP4 of `background` with `text` (a transparent layer of the same
    size) sliding in, a progress bar along the bottom and a soft sine tone."""
    if background.size != FRAME or text.size != FRAME:
        raise ValueError(f"the pictures of a clip are {FRAME[0]}×{FRAME[1]}")
    box = text.getbbox() or (0, 0, 1, 1)
    background_png, text_png = path.with_suffix(".background.png"), path.with_suffix(".text.png")
    background.convert("RGB").save(background_png)
    # Only the part with text moves: overlaying a small layer keeps each frame cheap.
    text.crop(box).save(text_png)
    frames = round(SECONDS * FPS)
    graph = ";".join((
        # Each picture is decoded once and repeated, rather than decoded again for every frame.
        f"[0:v]format=yuv420p,loop=loop={frames - 1}:size=1,setpts=N/{FPS}/TB[bg]",
        f"[1:v]format=yuva420p,loop=loop={frames - 1}:size=1,setpts=N/{FPS}/TB,"
        f"fade=t=in:st=0.1:d={TITLE_IN - 0.1}:alpha=1[text]",
        f"[bg][text]overlay=x='{box[0]}-60*max(0,1-t/{TITLE_IN})':y={box[1]}[card]",
        f"color=c=white@0.9:s={FRAME[0]}x8:r={FPS}:d={SECONDS}[bar]",
        f"[card][bar]overlay=x='-w+w*t/{SECONDS}':y=H-h:shortest=1[v]",
        f"[2:a]volume=0.2,afade=t=in:d=0.3,afade=t=out:st={SECONDS - 0.6}:d=0.6[a]",
    ))
    args = [
        FFMPEG, "-v", "error", "-nostdin", "-y", "-i", f"file:{background_png}", "-i", f"file:{text_png}",
        "-f", "lavfi", "-i", f"sine=frequency={tone}:sample_rate=44100:duration={SECONDS}",
        "-filter_complex", graph, "-map", "[v]", "-map", "[a]", "-t", str(SECONDS), "-r", str(FPS),
        # One encoding thread: the demo goes on with its pictures on the other core.
        "-c:v", "libx264", "-preset", "superfast", "-crf", "28", "-pix_fmt", "yuv420p", "-threads", "1",
        "-c:a", "aac", "-b:a", "64k", "-movflags", "+faststart", f"file:{path}",
    ]
    try:
        result = subprocess.run(args, capture_output=True, timeout=ENCODE_TIMEOUT, check=False)  # nosec B603
    except FileNotFoundError:
        raise RuntimeError("ffmpeg not found: install Debian's ffmpeg package to seed the demo's videos") from None
    if result.returncode != 0:
        raise RuntimeError(f"ffmpeg could not make a demo clip: {result.stderr[-500:].decode(errors='replace')}")
    return path


class ClipMaker:
    """Makes clips on a worker thread while the demo goes on seeding: `order` starts one
    from its pictures, `attach` waits for it and attaches it to its entry.

    The worker only runs ffmpeg and ffprobe (processes of their own) on files it alone
    touches; the database session stays on the caller's thread. Use it as a context
    manager: leaving it stops the work not yet started and removes the temporary files.
    """

    def __init__(self) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="demo-clips-")
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="demo-clips")
        self._orders: dict[int, Future[ProcessedVideo]] = {}

    def __enter__(self) -> ClipMaker:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._folder.cleanup()

    def order(self, key: int, background: Image.Image, text: Image.Image, *, contest: Contest, tone: float) -> None:
        """Start making the clip `key` from a title card, to be taken in under the contest's rules."""
        rules = contests.rules_of(contest)
        path = Path(self._folder.name) / f"clip-{key}.mp4"
        self._orders[key] = self._pool.submit(self._make, background, text, path, tone, rules.video_max_seconds,
                                              rules.video_max_mb * 1024 * 1024)

    def _make(self, background: Image.Image, text: Image.Image, path: Path, tone: float, max_seconds: int,
              max_bytes: int) -> ProcessedVideo:
        make_title_clip(background, text, path, tone=tone)
        return process_video(str(path), max_seconds=max_seconds, max_bytes=max_bytes, workdir=self._folder.name)

    def attach(self, session: SessionLike, storage: Storage, key: int, *, entry: Entry, now: datetime, role: str,
               position: int) -> MediaItem:
        """Wait for the clip `key` and attach it to the entry as a submission attaches an upload."""
        video = self._orders.pop(key).result()
        try:
            item = attach_video(session, storage, entry, video, now=now, role=role, position=position, decoder=None)
            if item.playback_state == "pending":
                # Seeded before any job runner runs: the rendition is made here and now. (The
                # title cards are small 720p H.264, so they are usually their own rendition.)
                make_playback_now(session, storage, item)
        finally:
            Path(video.path).unlink(missing_ok=True)
        if not entry.cover_key:
            entry.cover_key = item.thumb_key  # as a video entry sent without a cover image
        return item
