"""Entries with a real short video, stored through the platform's own video intake (as an
upload is), for the tests of the pages that show and serve them; and the clips a phone
might send, for the tests of what becomes of an upload."""

from __future__ import annotations

import functools
import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from flask import Flask

from contest.contests.models import Entry
from contest.extensions import db
from contest.media.models import MediaItem
from contest.media.submissions import attach_video
from contest.media.video import process_video

# iPhones record HEVC by default; the HEVC clips need an ffmpeg built with libx265.
HAS_HEVC = b"libx265" in subprocess.run(["ffmpeg", "-hide_banner", "-encoders"], capture_output=True, check=True).stdout
NO_HEVC = "this machine's ffmpeg has no libx265 encoder, so no HEVC clip can be made"


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-y", *args], check=True, timeout=120)


def make_source_clips(folder: Path) -> dict[str, Path]:
    """Clips a phone might send, made in `folder`: a 1080p H.264 MP4 with sound, and (where
    this ffmpeg encodes HEVC) an upright iPhone-style HEVC MOV with no sound. The
    `source_clips` fixture makes them once per run."""
    clips = {"h264_1080p": folder / "1080p.mp4"}
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=25", "-f", "lavfi", "-i", "sine=frequency=330",
           "-t", "2", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
           str(clips["h264_1080p"]))
    if HAS_HEVC:
        clips["hevc_portrait"] = folder / "portrait.mov"
        ffmpeg("-f", "lavfi", "-i", "testsrc2=size=1080x1920:rate=25", "-t", "2", "-c:v", "libx265", "-preset",
               "ultrafast", "-x265-params", "log-level=error", "-tag:v", "hvc1", "-pix_fmt", "yuv420p",
               str(clips["hevc_portrait"]))
    return clips


@functools.cache
def clip_bytes(seconds: int = 2) -> bytes:
    """A 720p H.264/AAC MP4 (a test pattern and a tone), made once per run."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "clip.mp4"
        subprocess.run(
            ["ffmpeg", "-v", "error", "-nostdin", "-y", "-f", "lavfi", "-i", "testsrc=size=1280x720:rate=15",
             "-f", "lavfi", "-i", "sine=frequency=440", "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast",
             "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(path)],
            check=True, timeout=120,
        )
        return path.read_bytes()


def add_video(app: Flask, entry: Entry, *, role: str = "video", position: int = 0) -> MediaItem:
    """Take the test clip in as an upload and attach it to the entry (committed). An
    entry without a cover gets the poster frame's thumbnail, as a submission does."""
    with tempfile.TemporaryDirectory() as folder:
        upload = Path(folder) / "upload.mp4"
        upload.write_bytes(clip_bytes())
        video = process_video(str(upload), workdir=folder)
        entry = db.session.get(Entry, entry.id) or entry
        item = attach_video(db.session, app.extensions["storage"], entry, video, now=entry.created_at, role=role,
                            position=position, decoder=None)
    if not entry.cover_key:
        entry.cover_key = item.thumb_key
    db.session.commit()
    return item


def probe(path: str | Path) -> dict[str, Any]:
    """What ffprobe reads in a file: its format and streams."""
    result = subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path)],
                            capture_output=True, check=True, timeout=60)
    return dict(json.loads(result.stdout))
