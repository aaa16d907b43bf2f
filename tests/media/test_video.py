"""Video intake on real files made by ffmpeg: what is accepted, what is refused and why,
and that a refusal leaves nothing behind."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from contest.errors import DomainError
from contest.media import video
from contest.media.video import ProcessedVideo, process_video

LOCATION = "+36.6512+117.1201/"
# Tags the muxer writes by itself; anything else on a clean file is a leak.
HARMLESS_FORMAT_TAGS = {"major_brand", "minor_version", "compatible_brands", "encoder"}
HARMLESS_STREAM_TAGS = {"handler_name", "vendor_id", "language", "duration", "encoder"}
UNSUPPORTED = "只接受 MP4（H.264）、MOV 或 WebM 格式的视频。"
BROKEN = "视频已损坏或无法读取，请重新导出后上传。"


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-y", *args], check=True, timeout=60)


def lavfi_inputs(size: str, seconds: int) -> list[str]:
    return ["-f", "lavfi", "-i", f"testsrc=size={size}:rate=25", "-f", "lavfi", "-i", "sine=frequency=440", "-t", str(seconds)]


H264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]


def make_phone_mp4(path: Path, clips: Clips) -> None:
    ffmpeg(
        *lavfi_inputs("1280x720", 3), *H264, "-c:a", "aac", "-movflags", "use_metadata_tags",
        "-metadata", f"location={LOCATION}", "-metadata", "make=Phone", "-metadata", "model=X",
        "-metadata", "creation_time=2023-05-14T10:00:00Z", str(path),
    )


def make_phone_mov(path: Path, clips: Clips) -> None:
    # An upright phone video: landscape frames and a 90° rotation, Apple's location keys.
    landscape = path.with_suffix(".landscape.mp4")
    ffmpeg(*lavfi_inputs("1920x1080", 1), *H264, "-c:a", "aac", str(landscape))
    ffmpeg(
        "-i", str(landscape), "-c", "copy", "-metadata:s:v:0", "rotate=90", "-movflags", "use_metadata_tags",
        "-metadata", f"com.apple.quicktime.location.ISO6709={LOCATION}", "-metadata", "com.apple.quicktime.make=Apple",
        "-metadata", "com.apple.quicktime.model=iPhone 14", "-f", "mov", str(path),
    )


def make_hevc_mov(path: Path, clips: Clips) -> None:
    ffmpeg(
        *lavfi_inputs("1280x720", 1), "-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=none",
        "-pix_fmt", "yuv420p", "-tag:v", "hvc1", "-c:a", "aac", "-f", "mov", str(path),
    )


def make_hevc_mp4(path: Path, clips: Clips) -> None:
    ffmpeg("-i", clips["hevc.mov"], "-c", "copy", "-f", "mp4", str(path))


def make_mpeg4_mp4(path: Path, clips: Clips) -> None:
    ffmpeg(*lavfi_inputs("1280x720", 1), "-c:v", "mpeg4", "-c:a", "aac", str(path))


def make_pcm_mov(path: Path, clips: Clips) -> None:
    ffmpeg(*lavfi_inputs("1280x720", 1), *H264, "-c:a", "pcm_s16le", "-f", "mov", str(path))


def make_webm(path: Path, clips: Clips) -> None:
    ffmpeg(
        *lavfi_inputs("1280x720", 2), "-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "500k",
        "-c:a", "libopus", "-metadata", f"location={LOCATION}", str(path),
    )


def make_small_mp4(path: Path, clips: Clips) -> None:
    ffmpeg(*lavfi_inputs("640x360", 1), *H264, "-c:a", "aac", str(path))


def make_m4a(path: Path, clips: Clips) -> None:
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440", "-t", "1", "-c:a", "aac", "-f", "mp4", str(path))


def make_legacy_mov(path: Path, clips: Clips) -> None:
    # Old QuickTime files have no "ftyp" atom: turn it into a "free" atom of the same
    # size, so every offset in the file stays right.
    data = bytearray(Path(clips["phone.mp4"]).read_bytes())
    assert data[4:8] == b"ftyp"
    data[4:8] = b"free"
    path.write_bytes(bytes(data))


def make_truncated_mp4(path: Path, clips: Clips) -> None:
    # Index at the end (ffmpeg's default): the first half has no index at all.
    data = Path(clips["phone.mp4"]).read_bytes()
    path.write_bytes(data[: len(data) // 2])


def make_truncated_faststart_mp4(path: Path, clips: Clips) -> None:
    # Index first: the first half still describes the whole clip, but half the frames are missing.
    whole = path.with_suffix(".whole.mp4")
    ffmpeg("-i", clips["phone.mp4"], "-c", "copy", "-movflags", "+faststart", str(whole))
    data = whole.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def make_png(path: Path, clips: Clips) -> None:
    out = io.BytesIO()
    Image.new("RGB", (1280, 720), (200, 30, 30)).save(out, "PNG")
    path.write_bytes(out.getvalue())


def make_empty(path: Path, clips: Clips) -> None:
    path.write_bytes(b"")


RECIPES: dict[str, Callable[[Path, Clips], None]] = {
    "phone.mp4": make_phone_mp4,
    "phone.mov": make_phone_mov,
    "hevc.mov": make_hevc_mov,
    "hevc.mp4": make_hevc_mp4,
    "mpeg4.mp4": make_mpeg4_mp4,
    "pcm.mov": make_pcm_mov,
    "clip.webm": make_webm,
    "small.mp4": make_small_mp4,
    "audio.m4a": make_m4a,
    "legacy.mov": make_legacy_mov,
    "truncated.mp4": make_truncated_mp4,
    "truncated-faststart.mp4": make_truncated_faststart_mp4,
    "picture.mp4": make_png,
    "empty.mp4": make_empty,
}


class Clips:
    """Test files, each made the first time a test asks for it and shared by the session."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def __getitem__(self, name: str) -> str:
        path = self.folder / name
        if not path.exists():
            RECIPES[name](path, self)
        return str(path)


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Clips:
    assert shutil.which("ffmpeg") and shutil.which("ffprobe"), "these tests need Debian's ffmpeg package"
    return Clips(tmp_path_factory.mktemp("clips"))


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


def probe(path: str) -> dict[str, Any]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams", path],
        check=True, capture_output=True, timeout=30,
    ).stdout
    return json.loads(out)


def tag_names(tags: dict[str, str] | None) -> set[str]:
    return {name.lower() for name in (tags or {})}


def refuse(path: str, workdir: Path, **limits: Any) -> DomainError:
    with pytest.raises(DomainError) as caught:
        process_video(path, workdir=str(workdir), **limits)
    assert list(workdir.iterdir()) == [], "a refused upload left a file behind"
    return caught.value


def assert_clean(result: ProcessedVideo, workdir: Path) -> dict[str, Any]:
    assert Path(result.path).parent == workdir
    info = probe(result.path)
    assert tag_names(info["format"].get("tags")) <= HARMLESS_FORMAT_TAGS
    for stream in info["streams"]:
        assert tag_names(stream.get("tags")) <= HARMLESS_STREAM_TAGS
    assert LOCATION not in Path(result.path).read_bytes().decode("latin-1")
    return info


def poster_of(result: ProcessedVideo) -> Image.Image:
    image = Image.open(io.BytesIO(result.poster))
    assert image.format == "JPEG"
    assert "exif" not in image.info
    return image


def test_mp4_is_accepted_without_its_metadata(clips: Clips, workdir: Path) -> None:
    source = clips["phone.mp4"]
    before = probe(source)
    assert {"location", "make", "model", "creation_time"} <= tag_names(before["format"]["tags"])

    result = process_video(source, workdir=str(workdir))

    assert (result.extension, result.content_type) == ("mp4", "video/mp4")
    assert (result.width, result.height) == (1280, 720)
    assert result.duration == pytest.approx(3.0, abs=0.1)
    info = assert_clean(result, workdir)
    assert [s["codec_name"] for s in info["streams"]] == ["h264", "aac"]
    assert poster_of(result).size == (1280, 720)
    assert probe(source) == before, "the upload itself is left as it was"
    Path(result.path).unlink()
    assert list(workdir.iterdir()) == [], "the clean file is the only file made"


def test_phone_mov_becomes_an_upright_mp4_without_location(clips: Clips, workdir: Path) -> None:
    source = clips["phone.mov"]
    assert "com.apple.quicktime.location.iso6709" in tag_names(probe(source)["format"]["tags"])

    result = process_video(source, workdir=str(workdir))

    assert (result.extension, result.content_type) == ("mp4", "video/mp4")
    assert (result.width, result.height) == (1080, 1920)
    info = assert_clean(result, workdir)
    assert info["format"]["format_name"].startswith("mov,mp4")
    # The rotation is how to show the frames, not metadata: it stays.
    rotations = [d.get("rotation") for d in info["streams"][0].get("side_data_list", [])]
    assert rotations in ([90], [-90])
    assert poster_of(result).size == (900, 1600), "upright and bounded to 1600 px"


def test_iphone_hevc_mov_is_accepted(clips: Clips, workdir: Path) -> None:
    result = process_video(clips["hevc.mov"], workdir=str(workdir))

    info = assert_clean(result, workdir)
    assert (info["streams"][0]["codec_name"], info["streams"][0]["codec_tag_string"]) == ("hevc", "hvc1")
    assert result.extension == "mp4"
    assert poster_of(result).size == (1280, 720)


def test_webm_is_accepted_without_its_metadata(clips: Clips, workdir: Path) -> None:
    source = clips["clip.webm"]
    assert "location" in tag_names(probe(source)["format"]["tags"])

    result = process_video(source, workdir=str(workdir))

    assert (result.extension, result.content_type) == ("webm", "video/webm")
    assert (result.width, result.height) == (1280, 720)
    assert result.path.endswith(".webm")
    info = assert_clean(result, workdir)
    assert [s["codec_name"] for s in info["streams"]] == ["vp9", "opus"]
    assert poster_of(result).size == (1280, 720)


def test_quicktime_file_without_ftyp_is_recognised(clips: Clips, workdir: Path) -> None:
    result = process_video(clips["legacy.mov"], workdir=str(workdir))

    assert (result.extension, result.width, result.height) == ("mp4", 1280, 720)
    assert_clean(result, workdir)


def test_clip_at_the_limit_is_accepted(clips: Clips, workdir: Path) -> None:
    result = process_video(clips["phone.mp4"], max_seconds=3, workdir=str(workdir))

    assert result.duration == pytest.approx(3.0, abs=0.1)


def test_too_long_is_refused(clips: Clips, workdir: Path) -> None:
    error = refuse(clips["phone.mp4"], workdir, max_seconds=2)

    assert (error.status, error.code) == (422, "video_too_long")
    assert error.message == "视频太长了（3 秒），最长 2 秒。"


def test_below_720p_is_refused(clips: Clips, workdir: Path) -> None:
    error = refuse(clips["small.mp4"], workdir)

    assert (error.status, error.code) == (422, "resolution_too_low")
    assert error.message == "视频清晰度太低（640×360），至少需要 720p（短边不少于 720 像素）。"


@pytest.mark.parametrize(("name", "codec"), [("hevc.mp4", "HEVC"), ("mpeg4.mp4", "MPEG4")])
def test_mp4_that_is_not_h264_is_refused(clips: Clips, workdir: Path, name: str, codec: str) -> None:
    error = refuse(clips[name], workdir)

    assert (error.status, error.code) == (415, "unsupported_video_codec")
    assert error.message == f"这个视频的编码格式（{codec}）不受支持，请导出为 H.264 编码的 MP4 后再上传。"


def test_sound_browsers_cannot_play_is_refused(clips: Clips, workdir: Path) -> None:
    error = refuse(clips["pcm.mov"], workdir)

    assert (error.status, error.code) == (415, "unsupported_audio_codec")
    assert error.message == "这个视频的声音格式（PCM_S16LE）不受支持，请导出为 AAC 声音的 MP4 后再上传。"


def test_audio_file_is_refused(clips: Clips, workdir: Path) -> None:
    error = refuse(clips["audio.m4a"], workdir)

    assert (error.status, error.code) == (415, "no_video_stream")
    assert error.message == "文件里没有视频画面，请选择视频文件。"


def test_image_named_mp4_is_refused(clips: Clips, workdir: Path) -> None:
    error = refuse(clips["picture.mp4"], workdir)

    assert (error.status, error.code, error.message) == (415, "unsupported_video", UNSUPPORTED)


def test_truncated_mp4_is_refused(clips: Clips, workdir: Path) -> None:
    error = refuse(clips["truncated.mp4"], workdir)

    assert (error.status, error.code, error.message) == (422, "broken_video", BROKEN)


def test_truncated_mp4_with_its_index_first_is_refused(clips: Clips, workdir: Path) -> None:
    # It probes fine; only the copy shows the frames are missing, and the copy is removed.
    error = refuse(clips["truncated-faststart.mp4"], workdir)

    assert (error.status, error.code, error.message) == (422, "truncated_video", BROKEN)


def test_empty_file_is_refused(clips: Clips, workdir: Path) -> None:
    error = refuse(clips["empty.mp4"], workdir)

    assert (error.status, error.code) == (422, "empty_file")
    assert error.message == "文件是空的，请重新选择视频。"


def test_too_large_is_refused_before_it_is_read(workdir: Path, tmp_path: Path) -> None:
    big = tmp_path / "big.mp4"
    with big.open("wb") as fh:
        fh.truncate(1024 * 1024 + 1)  # sparse: the size is all that is checked

    error = refuse(str(big), workdir, max_bytes=1024 * 1024)

    assert (error.status, error.code) == (413, "file_too_large")
    assert error.message == "视频太大了（最大 1 MB）。"


def test_missing_ffmpeg_is_a_server_error_naming_the_package(
    clips: Clips, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(video, "FFPROBE", "/nonexistent/ffprobe")

    with pytest.raises(RuntimeError, match="Debian's ffmpeg package"):
        process_video(clips["phone.mp4"], workdir=str(workdir))
    assert list(workdir.iterdir()) == []
