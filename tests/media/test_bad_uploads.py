"""Every bad upload named in the Entries issue, sent through the real forms: each gets the
right status and a clear message, and leaves no entry, no media row and no file."""

from __future__ import annotations

import io

import pytest

from contest.errors import PayloadTooLarge
from contest.media import images
from tests.media.conftest import (
    assert_nothing_stored,
    gif,
    huge_png,
    jpeg,
    page,
    photo_entry,
    png,
    send,
    set_rules,
    submit_url,
    team_entry,
    upload,
    video_entry,
    zip_bytes,
)

UNSUPPORTED_IMAGE = "只接受 JPEG、PNG 或 WebP 格式的图片。"
BROKEN_IMAGE = "图片已损坏或不完整，无法读取，请重新导出后上传。"
UNSUPPORTED_VIDEO = "只接受 MP4（H.264）、MOV 或 WebM 格式的视频。"
TOO_LARGE = "上传的内容太大了。"
MB = 1024 * 1024

SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="1920" height="1080"><script>alert(1)</script></svg>'
HTML = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"


def _photo(client, contest, data: bytes, name: str, content_type: str = "image/jpeg"):  # type: ignore[no-untyped-def]
    return send(client, submit_url(contest), photo_entry(contest, photos=[upload(data, name, content_type)]))


@pytest.mark.parametrize(("data", "name", "content_type", "status", "message"), [
    pytest.param(huge_png(), "huge.png", "image/png", 413, "图片像素过多，请压缩到 5000 万像素以内。", id="30000x30000-png"),
    pytest.param(HTML, "photo.jpg", "image/jpeg", 415, UNSUPPORTED_IMAGE, id="html-named-jpg"),
    pytest.param(SVG, "drawing.svg", "image/svg+xml", 415, UNSUPPORTED_IMAGE, id="svg"),
    pytest.param(jpeg()[:6000], "cut.jpg", "image/jpeg", 422, BROKEN_IMAGE, id="truncated-jpeg"),
    pytest.param(gif(), "animation.png", "image/png", 415, UNSUPPORTED_IMAGE, id="gif-named-png"),
    pytest.param(b"", "empty.jpg", "image/jpeg", 422, "文件是空的，请重新选择图片。", id="zero-bytes"),
])
def test_bad_photo_is_refused_and_leaves_nothing(app, client, citizen, media_contest, data, name, content_type, status, message):
    response = _photo(client, media_contest, data, name, content_type)
    assert response.status_code == status, page(response)[:1500]
    assert message in page(response)
    assert_nothing_stored(app)


def test_huge_png_header_really_claims_the_pixels():
    from PIL import Image

    with pytest.raises(Image.DecompressionBombError):
        Image.open(io.BytesIO(huge_png()))


def test_body_over_the_route_limit_is_refused_from_its_length(app, client, citizen, media_contest):
    # Content-Length says more than the limit (the video limit plus room for the form):
    # the answer comes from the header, before the body is read.
    set_rules(media_contest, video_max_mb=1)
    token_page = client.get(submit_url(media_contest))
    assert token_page.status_code == 200
    body = b"--x\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nbig\r\n--x--\r\n"
    response = client.post(submit_url(media_contest), input_stream=io.BytesIO(body),
                           content_type="multipart/form-data; boundary=x",
                           environ_overrides={"CONTENT_LENGTH": str(62 * MB)})
    assert response.status_code == 413
    assert TOO_LARGE in page(response)
    assert_nothing_stored(app)


def test_body_over_the_app_default_is_accepted_on_the_submit_route(app, client, citizen, media_contest):
    # 40 MB is above the app's 32 MB default, within this route's limit: the upload is
    # read and judged by its content (here: not a video at all).
    junk = b"\x00" * (40 * MB)
    response = send(client, submit_url(media_contest), video_entry(media_contest, upload(junk, "big.mp4", "video/mp4")))
    assert response.status_code == 415
    assert UNSUPPORTED_VIDEO in page(response)
    assert_nothing_stored(app)


def test_app_default_limit_still_holds_elsewhere(app, client, citizen, media_contest):
    body = b"--x\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nbig\r\n--x--\r\n"
    response = client.post("/me/entries/1/edit", input_stream=io.BytesIO(body),
                           content_type="multipart/form-data; boundary=x",
                           environ_overrides={"CONTENT_LENGTH": str(33 * MB)})
    assert response.status_code == 413
    assert TOO_LARGE in page(response)


def test_image_over_the_per_file_limit_is_refused():
    data = jpeg(800, 600) + b"\x00" * MB  # a little over a 1 MB limit
    with pytest.raises(PayloadTooLarge) as caught:
        images.process_image(data, max_bytes=MB)
    assert caught.value.status == 413
    assert caught.value.message == "图片太大了（最大 1 MB）。"


def test_video_longer_than_allowed(app, client, citizen, media_contest, clips):
    set_rules(media_contest, video_max_seconds=2)
    response = send(client, submit_url(media_contest),
                    video_entry(media_contest, upload(clips.read("three_seconds"), "long.mp4", "video/mp4")))
    assert response.status_code == 422
    assert "视频太长了（3 秒），最长 2 秒。" in page(response)
    assert_nothing_stored(app)


def test_image_named_mp4(app, client, citizen, media_contest):
    response = send(client, submit_url(media_contest), video_entry(media_contest, upload(jpeg(), "clip.mp4", "video/mp4")))
    assert response.status_code == 415
    assert UNSUPPORTED_VIDEO in page(response)
    assert_nothing_stored(app)


def test_video_entry_without_video(app, client, citizen, media_contest):
    response = send(client, submit_url(media_contest), video_entry(media_contest, None, cover=upload(png(), "c.png")))
    assert response.status_code == 400
    assert "请上传一段视频。" in page(response)
    assert_nothing_stored(app)


def test_bad_cover_after_a_good_video_leaves_no_file(app, client, citizen, media_contest, clips):
    # The video is checked first and is fine; the cover is not an image.
    response = send(client, submit_url(media_contest), video_entry(
        media_contest, upload(clips.read("two_seconds"), "ok.mp4", "video/mp4"), cover=upload(SVG, "cover.svg")))
    assert response.status_code == 415
    assert UNSUPPORTED_IMAGE in page(response)
    assert_nothing_stored(app)


def test_zip_named_pdf(app, client, contact, innovation_contest, clips):
    data = team_entry(innovation_contest, plan=upload(zip_bytes(), "计划书.pdf", "application/pdf"),
                      pitch=upload(clips.read("two_seconds"), "pitch.mp4", "video/mp4"))
    response = send(client, submit_url(innovation_contest), data)
    assert response.status_code == 415
    assert "商业计划书只接受 PDF 文件。" in page(response)
    assert_nothing_stored(app)


def test_refused_upload_leaves_no_temporary_files(app, client, citizen, media_contest, clips, tmp_path, monkeypatch):
    import tempfile

    spool = tmp_path / "spool"
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))
    set_rules(media_contest, video_max_seconds=2)
    response = send(client, submit_url(media_contest),
                    video_entry(media_contest, upload(clips.read("three_seconds"), "long.mp4", "video/mp4")))
    assert response.status_code == 422
    assert list(spool.iterdir()) == []
    assert_nothing_stored(app)
