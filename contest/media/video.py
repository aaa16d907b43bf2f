"""Video intake: decide the container from the content, check codecs, length and
resolution with ffprobe, drop every piece of metadata, and take a poster frame.

Nothing is re-encoded: the clean file is a stream copy of the upload's first video track
and first audio track (fast, lossless, bounded in time), so what we accept must already
play in browsers. That decides the codec lists below:

- MP4: H.264 only. It is what every browser plays and what phones produce when asked for
  "most compatible"; an HEVC MP4 (an Android "high efficiency" setting) plays in too few
  browsers to be accepted silently.
- MOV: H.264 or HEVC. An iPhone records HEVC in MOV by default, and refusing most phone
  videos would turn citizens away; Safari and recent Chrome/Edge play it, and the poster
  frame is always a JPEG. A MOV is rewritten as an MP4 (the same streams, no re-encoding)
  because browsers play "video/mp4" but many refuse "video/quicktime"; so the result is
  never a MOV.
- WebM: VP8, VP9 or AV1 (what browsers record and play).

Audio is optional; when present it must be AAC or MP3 (MP4/MOV), or Opus or Vorbis (WebM).
Other tracks (chapters, timecode, the timed-location track of an iPhone) are dropped.

What viewers get is a playback rendition (`transcode_for_playback`), made by the job
runner after the upload's commit (media.playback): H.264 High profile, yuv420p, AAC, in an
MP4 whose index comes first, at most 1280×720 (never upscaled), about 2 Mbit/s. HEVC
plays on too few Android phones and in-app browsers, and a 1080p original is too heavy
on mobile data. An upload that is already such a file (`plays_everywhere`) is its own
rendition. Judges and organisers keep the clean original.
"""

from __future__ import annotations

import json
import logging
import math
import os
import subprocess
import tempfile
from dataclasses import dataclass
from typing import Any

from ..errors import PayloadTooLarge, Unprocessable, UnsupportedMediaType
from ..i18n import _
from .sniff import sniff

log = logging.getLogger(__name__)

FFMPEG = "ffmpeg"
FFPROBE = "ffprobe"
MAX_SECONDS = 180
MAX_BYTES = 300 * 1024 * 1024
MIN_SHORT_SIDE = 720
POSTER_SIZE = 1600
PROBE_TIMEOUT = 30
COPY_TIMEOUT = 120
POSTER_TIMEOUT = 30
# The playback rendition: the long side at most 1280 px and the short side at most 720
# px; about 2 Mbit/s of video (a constant quality capped by a rate), 128 kbit/s of audio.
PLAYBACK_LONG_SIDE = 1280
PLAYBACK_SHORT_SIDE = 720
PLAYBACK_AUDIO_RATE = "128k"
# An upload at most this heavy (all streams), already H.264 in yuv420p with AAC audio at
# most 1280×720, plays everywhere as it is: it is its own rendition.
PLAYBACK_MAX_BIT_RATE = 2_500_000
# A 180 s clip from a phone transcodes in a few minutes on two cores (docs/PERFORMANCE.md);
# far longer means something is wrong with the file.
TRANSCODE_TIMEOUT = 900
# A clip cut at exactly the limit is often a little longer in its container (audio
# priming, the last frame's duration): half a second of grace avoids refusing it.
DURATION_GRACE = 0.5
# Old QuickTime files start with one of these atoms instead of "ftyp".
QUICKTIME_ATOMS = (b"moov", b"mdat", b"wide", b"free", b"skip")


@dataclass(frozen=True)
class _Format:
    demuxer: str           # forced on ffmpeg's input, so it never guesses another format; reads the clean file too
    muxer: str
    extension: str         # of the clean file
    content_type: str
    video_codecs: frozenset[str]
    audio_codecs: frozenset[str]


_MP4_AUDIO = frozenset({"aac", "mp3"})
FORMATS = {
    "mp4": _Format("mov", "mp4", "mp4", "video/mp4", frozenset({"h264"}), _MP4_AUDIO),
    "mov": _Format("mov", "mp4", "mp4", "video/mp4", frozenset({"h264", "hevc"}), _MP4_AUDIO),
    "webm": _Format("matroska", "webm", "webm", "video/webm", frozenset({"vp8", "vp9", "av1"}), frozenset({"opus", "vorbis"})),
}


@dataclass(frozen=True)
class ProcessedVideo:
    path: str               # temporary clean file: the caller stores it, then deletes it
    extension: str          # "mp4" or "webm"
    poster: bytes           # JPEG, longest side <= POSTER_SIZE, upright
    width: int              # as displayed (rotation applied)
    height: int
    duration: float         # seconds, of the clean file
    content_type: str
    plays_everywhere: bool = False  # already what the playback rendition would be (see PLAYBACK_MAX_BIT_RATE)


def _unsupported() -> UnsupportedMediaType:
    return UnsupportedMediaType(_("只接受 MP4（H.264）、MOV 或 WebM 格式的视频。"), code="unsupported_video")


def _broken(code: str = "broken_video") -> Unprocessable:
    return Unprocessable(_("视频已损坏或无法读取，请重新导出后上传。"), code=code)


def process_video(
    source_path: str,
    *,
    max_seconds: int = MAX_SECONDS,
    max_bytes: int = MAX_BYTES,
    min_short_side: int = MIN_SHORT_SIDE,
    workdir: str | None = None,
) -> ProcessedVideo:
    """Validate an uploaded video by its content and return a metadata-free copy and its poster."""
    size = os.path.getsize(source_path)
    if size == 0:
        raise Unprocessable(_("文件是空的，请重新选择视频。"), code="empty_file")
    if size > max_bytes:
        raise PayloadTooLarge(_("视频太大了（最大 %(mb)s MB）。", mb=max_bytes // (1024 * 1024)), code="file_too_large")
    with open(source_path, "rb") as fh:
        head = fh.read(64)
    kind = sniff(head)
    if kind == "unknown" and head[4:8] in QUICKTIME_ATOMS:
        kind = "mov"
    fmt = FORMATS.get(kind)
    if fmt is None:
        raise _unsupported()

    info = _probe(source_path, fmt.demuxer)
    video, audio = _pick_streams(info, fmt)
    width, height = _display_size(video)
    if min(width, height) < min_short_side:
        raise Unprocessable(
            _("视频清晰度太低（%(w)s×%(h)s），至少需要 %(min)sp（短边不少于 %(min)s 像素）。", w=width, h=height, min=min_short_side),
            code="resolution_too_low",
        )
    declared = _duration(info, video)
    if declared is not None:
        # Refuse before copying when the container already says it is too long.
        _check_duration(declared, max_seconds)

    clean_path = _remux(source_path, fmt, video, audio, workdir)
    try:
        # The copy, not the upload's header, is what will be served: measure that.
        clean_info = _probe(clean_path, fmt.demuxer)
        clean_video = next((s for s in clean_info["streams"] if isinstance(s, dict) and s.get("codec_type") == "video"), {})
        duration = _duration(clean_info, clean_video)
        if duration is None:
            raise _broken()
        # A file cut short after its index (an interrupted upload of an MP4 whose index
        # comes first) probes fine but copies only the frames that are really there.
        if declared is not None and duration < declared - max(1.0, 0.05 * declared):
            raise _broken("truncated_video")
        _check_duration(duration, max_seconds)
        poster = _poster(clean_path, fmt.demuxer, duration)
    except BaseException:
        os.unlink(clean_path)
        raise
    return ProcessedVideo(
        path=clean_path, extension=fmt.extension, poster=poster, width=width, height=height,
        duration=duration, content_type=fmt.content_type,
        plays_everywhere=_plays_everywhere(fmt, clean_info, clean_video, width, height),
    )


def _plays_everywhere(fmt: _Format, info: dict[str, Any], video: dict[str, Any], width: int, height: int) -> bool:
    """Whether the clean file already is what the playback rendition would be."""
    audio = [s for s in info["streams"] if isinstance(s, dict) and s.get("codec_type") == "audio"]
    try:
        bit_rate = int((info.get("format") or {}).get("bit_rate") or 0)
    except (TypeError, ValueError):
        bit_rate = 0
    return (
        fmt.muxer == "mp4" and video.get("codec_name") == "h264" and video.get("pix_fmt") == "yuv420p"
        and video.get("profile") in ("Constrained Baseline", "Baseline", "Main", "High")
        and all(a.get("codec_name") == "aac" for a in audio)
        and max(width, height) <= PLAYBACK_LONG_SIDE and min(width, height) <= PLAYBACK_SHORT_SIDE
        and 0 < bit_rate <= PLAYBACK_MAX_BIT_RATE
    )


@dataclass(frozen=True)
class PlaybackRendition:
    path: str       # temporary MP4: the caller stores it, then deletes it
    width: int
    height: int
    duration: float


def transcode_for_playback(source_path: str, *, workdir: str | None = None, timeout: float = TRANSCODE_TIMEOUT) -> PlaybackRendition:
    """The rendition every viewer gets of a clean original (MP4 or WebM): H.264 High,
    yuv420p, AAC 128k (no audio stays none), fitted in 1280×720 (either way up, never
    upscaled), about 2 Mbit/s, index first. Unprocessable when ffmpeg cannot make it."""
    with open(source_path, "rb") as fh:
        demuxer = "matroska" if sniff(fh.read(64)) == "webm" else "mov"
    fd, out_path = tempfile.mkstemp(dir=workdir, prefix="playback-", suffix=".mp4")
    os.close(fd)
    # Fit the picture (ffmpeg has applied the rotation) in 1280×720 or 720×1280, never
    # larger than it is, in even sizes as yuv420p needs.
    long_side, short_side = PLAYBACK_LONG_SIDE, PLAYBACK_SHORT_SIDE
    scale = (f"scale=w='min(iw,if(gte(iw,ih),{long_side},{short_side}))'"
             f":h='min(ih,if(gte(iw,ih),{short_side},{long_side}))'"
             ":force_original_aspect_ratio=decrease:force_divisible_by=2")
    args = [
        FFMPEG, "-v", "error", "-nostdin", "-y", *_input_args(source_path, demuxer),
        "-map", "0:v:0", "-map", "0:a:0?", "-vf", scale,
        "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high", "-pix_fmt", "yuv420p",
        "-crf", "23", "-maxrate", "2M", "-bufsize", "4M",
        "-c:a", "aac", "-b:a", PLAYBACK_AUDIO_RATE, "-ac", "2",
        "-map_metadata", "-1", "-map_chapters", "-1", "-fflags", "+bitexact",
        "-movflags", "+faststart", "-f", "mp4", f"file:{out_path}",
    ]
    try:
        result = _run(args, timeout)
        if result.returncode != 0:
            log.info("ffmpeg could not transcode a video: %s", result.stderr[-500:].decode(errors="replace"))
            raise _broken()
        info = _probe(out_path, "mov")
        video = next((s for s in info["streams"] if isinstance(s, dict) and s.get("codec_type") == "video"), None)
        if video is None:
            raise _broken()
        width, height = _display_size(video)
        duration = _duration(info, video)
        if duration is None:
            raise _broken()
    except BaseException:
        os.unlink(out_path)
        raise
    return PlaybackRendition(path=out_path, width=width, height=height, duration=duration)


def _run(args: list[str], timeout: float) -> subprocess.CompletedProcess[bytes]:
    try:
        # No shell, no stdin: the file name is one argument and ffmpeg never waits for a key.
        return subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, check=False)  # nosec B603
    except FileNotFoundError:
        raise RuntimeError(f"{args[0]} not found: install Debian's ffmpeg package (it provides ffmpeg and ffprobe)") from None
    except subprocess.TimeoutExpired:
        log.warning("%s gave up after %s s", args[0], timeout)
        raise Unprocessable(_("视频处理超时，请剪短或压缩后再上传。"), code="video_timeout") from None


def _input_args(path: str, demuxer: str) -> list[str]:
    # The forced demuxer and the file-only protocol list keep a crafted upload from making
    # ffmpeg read anything but this one file (playlists, URLs, other local files); the
    # "file:" prefix keeps a name from being taken for an option or a protocol.
    return ["-protocol_whitelist", "file", "-f", demuxer, "-i", f"file:{path}"]


def _probe(path: str, demuxer: str) -> dict[str, Any]:
    args = [FFPROBE, "-v", "error", "-print_format", "json", "-show_format", "-show_streams", *_input_args(path, demuxer)]
    result = _run(args, PROBE_TIMEOUT)
    if result.returncode != 0:
        log.info("ffprobe refused an upload: %s", result.stderr[-500:].decode(errors="replace"))
        raise _broken()
    try:
        info = json.loads(result.stdout)
    except ValueError:
        raise _broken() from None
    if not isinstance(info, dict) or not isinstance(info.get("streams"), list):
        raise _broken()
    return info


def _pick_streams(info: dict[str, Any], fmt: _Format) -> tuple[dict[str, Any], dict[str, Any] | None]:
    streams = [s for s in info["streams"] if isinstance(s, dict)]
    # A cover picture (an audio file's artwork) is listed as a video stream; it is not a video.
    videos = [s for s in streams if s.get("codec_type") == "video" and not (s.get("disposition") or {}).get("attached_pic")]
    if not videos:
        raise UnsupportedMediaType(_("文件里没有视频画面，请选择视频文件。"), code="no_video_stream")
    video = videos[0]
    if video.get("codec_name") not in fmt.video_codecs:
        raise UnsupportedMediaType(
            _("这个视频的编码格式（%(codec)s）不受支持，请导出为 H.264 编码的 MP4 后再上传。", codec=_codec_label(video)),
            code="unsupported_video_codec",
        )
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    if audio is not None and audio.get("codec_name") not in fmt.audio_codecs:
        raise UnsupportedMediaType(
            _("这个视频的声音格式（%(codec)s）不受支持，请导出为 AAC 声音的 MP4 后再上传。", codec=_codec_label(audio)),
            code="unsupported_audio_codec",
        )
    return video, audio


def _codec_label(stream: dict[str, Any]) -> str:
    return str(stream.get("codec_name") or "?").upper()


def _display_size(video: dict[str, Any]) -> tuple[int, int]:
    try:
        width, height = int(video["width"]), int(video["height"])
    except (KeyError, TypeError, ValueError):
        raise _broken() from None
    if width <= 0 or height <= 0:
        raise _broken()
    # A phone held upright stores landscape frames and a rotation; show what viewers see.
    return (height, width) if _rotation(video) % 180 == 90 else (width, height)


def _rotation(video: dict[str, Any]) -> int:
    for side_data in video.get("side_data_list") or []:
        if isinstance(side_data, dict) and "rotation" in side_data:
            try:
                return round(float(side_data["rotation"]))
            except (TypeError, ValueError):
                return 0
    try:
        return round(float((video.get("tags") or {}).get("rotate", 0)))  # older ffprobe
    except (TypeError, ValueError):
        return 0


def _duration(info: dict[str, Any], video: dict[str, Any]) -> float | None:
    for raw in ((info.get("format") or {}).get("duration"), video.get("duration")):
        if raw is None:
            continue
        try:
            value = float(raw)
        except (TypeError, ValueError):
            continue
        if math.isfinite(value) and value > 0:
            return value
    return None


def _check_duration(duration: float, max_seconds: int) -> None:
    if duration > max_seconds + DURATION_GRACE:
        raise Unprocessable(
            _("视频太长了（%(s)s 秒），最长 %(max)s 秒。", s=round(duration), max=max_seconds), code="video_too_long"
        )


def _remux(source_path: str, fmt: _Format, video: dict[str, Any], audio: dict[str, Any] | None, workdir: str | None) -> str:
    fd, out_path = tempfile.mkstemp(dir=workdir, prefix="video-", suffix=f".{fmt.extension}")
    os.close(fd)
    args = [FFMPEG, "-v", "error", "-nostdin", "-y", *_input_args(source_path, fmt.demuxer), "-map", f"0:{video['index']}"]
    if audio is not None:
        args += ["-map", f"0:{audio['index']}"]
    # No global, stream or chapter metadata (location, device, dates); bitexact also
    # leaves out the muxer's own version tag.
    args += ["-c", "copy", "-map_metadata", "-1", "-map_chapters", "-1", "-fflags", "+bitexact"]
    if video.get("codec_name") == "hevc":
        args += ["-tag:v", "hvc1"]  # the HEVC tag Apple's players require
    if fmt.muxer == "mp4":
        args += ["-movflags", "+faststart"]  # index first: playback starts before the download ends
    args += ["-f", fmt.muxer, f"file:{out_path}"]
    try:
        result = _run(args, COPY_TIMEOUT)
        if result.returncode != 0:
            log.info("ffmpeg could not copy an upload: %s", result.stderr[-500:].decode(errors="replace"))
            raise _broken()
    except BaseException:
        os.unlink(out_path)
        raise
    return out_path


def _poster(path: str, demuxer: str, duration: float) -> bytes:
    # One frame a little into the clip (the first is often black), decoded upright
    # (ffmpeg applies the rotation), bounded, as a JPEG with no metadata.
    scale = f"scale=w='min({POSTER_SIZE},iw)':h='min({POSTER_SIZE},ih)':force_original_aspect_ratio=decrease"
    for seek in (min(1.0, duration / 2), 0.0):
        args = [
            FFMPEG, "-v", "error", "-nostdin", "-ss", f"{seek:.3f}", *_input_args(path, demuxer),
            "-map", "0:v:0", "-frames:v", "1", "-vf", scale, "-fflags", "+bitexact", "-flags:v", "+bitexact",
            "-f", "image2", "-c:v", "mjpeg", "-q:v", "3", "pipe:1",
        ]
        result = _run(args, POSTER_TIMEOUT)
        if result.returncode == 0 and result.stdout[:3] == b"\xff\xd8\xff":
            return result.stdout
    raise _broken()
