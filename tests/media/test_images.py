"""Image intake without the web layer: types by content, bombs, broken files, metadata,
renditions and the near-duplicate hash."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageDraw, ImageFilter

from contest.errors import PayloadTooLarge, Unprocessable, UnsupportedMediaType
from contest.media.images import DISPLAY_SIZE, THUMB_SIZE, dhash, hamming, process_image, strip_jpeg_metadata
from contest.media.sniff import sniff

GPS = 34853


def photo(size=(1920, 1080), seed=0) -> Image.Image:
    image = Image.new("RGB", size, (40 + seed * 20 % 200, 90, 150))
    draw = ImageDraw.Draw(image)
    for i in range(0, size[0], 60):
        draw.ellipse((i, (i * (seed + 3)) % size[1], i + 180, (i * (seed + 3)) % size[1] + 120), fill=(i % 255, 200 - seed * 30 % 200, 60))
    return image.filter(ImageFilter.SMOOTH)


def jpeg(image: Image.Image, *, orientation: int | None = None, gps: bool = True, quality: int = 90) -> bytes:
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    if gps:
        exif[GPS] = {1: "N", 2: (36.0, 40.0, 1.0), 3: "E", 4: (117.0, 1.0, 2.0)}
        exif[0x010F] = "PhoneMaker"
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, exif=exif)
    return out.getvalue()


def encoded(image: Image.Image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def test_gps_exif_is_gone_from_every_rendition():
    source = jpeg(photo())
    assert Image.open(io.BytesIO(source)).getexif().get(GPS)
    result = process_image(source)
    for data in (result.original, result.display, result.thumb):
        image = Image.open(io.BytesIO(data))
        assert dict(image.getexif()) == {}
        assert "exif" not in image.info and "icc_profile" not in image.info
        assert b"PhoneMaker" not in data


def test_orientation_is_applied_before_the_metadata_goes():
    result = process_image(jpeg(photo((1600, 900)), orientation=6))
    assert (result.width, result.height) == (900, 1600)
    assert Image.open(io.BytesIO(result.original)).size == (900, 1600)


def test_renditions_have_the_promised_sizes():
    result = process_image(jpeg(photo((4000, 3000))))
    assert (result.width, result.height) == (4000, 3000)
    assert Image.open(io.BytesIO(result.original)).size == (4000, 3000)
    assert max(Image.open(io.BytesIO(result.display)).size) == DISPLAY_SIZE
    assert max(Image.open(io.BytesIO(result.thumb)).size) == THUMB_SIZE


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_png_and_webp_are_accepted_and_cleaned(fmt):
    result = process_image(encoded(photo((800, 600)), fmt))
    assert (result.width, result.height) == (800, 600)
    assert dict(Image.open(io.BytesIO(result.original)).getexif()) == {}


def test_transparent_png_keeps_its_transparency():
    image = Image.new("RGBA", (400, 300), (255, 0, 0, 0))
    ImageDraw.Draw(image).rectangle((50, 50, 200, 200), fill=(0, 128, 0, 255))
    result = process_image(encoded(image, "PNG"))
    assert result.original_ext == "png"
    assert Image.open(io.BytesIO(result.original)).mode == "RGBA"


@pytest.mark.parametrize(("data", "error"), [
    (b"", Unprocessable),
    (b"<!doctype html><html><script>alert(1)</script></html>", UnsupportedMediaType),
    (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"></svg>', UnsupportedMediaType),
    (b"PK\x03\x04" + b"\x00" * 100, UnsupportedMediaType),
])
def test_not_an_image(data, error):
    with pytest.raises(error):
        process_image(data)


def test_gif_is_refused_whatever_its_name():
    with pytest.raises(UnsupportedMediaType) as caught:
        process_image(encoded(photo((200, 100)), "GIF"))
    assert caught.value.status == 415
    assert "JPEG、PNG 或 WebP" in caught.value.message


def test_truncated_jpeg_is_refused():
    data = jpeg(photo())
    with pytest.raises(Unprocessable) as caught:
        process_image(data[: len(data) // 2])
    assert caught.value.status == 422
    assert "损坏或不完整" in caught.value.message


def test_decompression_bomb_is_refused_before_decoding():
    bomb = encoded(Image.new("1", (30000, 30000)), "PNG")
    assert len(bomb) < 2_000_000  # tiny on disk, 900 megapixels when decoded
    with pytest.raises(PayloadTooLarge) as caught:
        process_image(bomb)
    assert caught.value.status == 413


def test_file_over_the_byte_limit():
    with pytest.raises(PayloadTooLarge):
        process_image(jpeg(photo()), max_bytes=1000)


def test_minimum_resolution_accepts_portrait_photos():
    assert process_image(jpeg(photo((1080, 1920))), min_width=1920, min_height=1080).height == 1920
    with pytest.raises(Unprocessable) as caught:
        process_image(jpeg(photo((1280, 720))), min_width=1920, min_height=1080)
    assert "分辨率太低" in caught.value.message


def test_strip_keeps_the_image_data_byte_for_byte():
    source = jpeg(photo())
    stripped = strip_jpeg_metadata(source)
    assert len(stripped) < len(source)
    assert Image.open(io.BytesIO(stripped)).tobytes() == Image.open(io.BytesIO(source)).tobytes()


def test_near_duplicates_are_close_and_other_photos_far():
    original = photo((1600, 1000), seed=1)
    again = Image.open(io.BytesIO(jpeg(original.resize((800, 500)), quality=60))).convert("RGB")
    other = photo((1600, 1000), seed=4)
    assert hamming(dhash(original), dhash(again)) <= 6
    assert hamming(dhash(original), dhash(other)) > 12


@pytest.mark.parametrize(("head", "kind"), [
    (b"\xff\xd8\xff\xe0", "jpeg"), (b"\x89PNG\r\n\x1a\n", "png"), (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "webp"),
    (b"GIF89a", "gif"), (b"%PDF-1.7", "pdf"), (b"PK\x03\x04", "zip"), (b"\x00\x00\x00\x18ftypmp42", "mp4"),
    (b"\x00\x00\x00\x14ftypqt  ", "mov"), (b"\x00\x00\x00\x18ftypheic", "heic"), (b"\x1a\x45\xdf\xa3", "webm"),
    (b"  <svg xmlns=", "svg"), (b"<!DOCTYPE html>", "html"), (b"hello", "unknown"),
])
def test_sniff(head, kind):
    assert sniff(head) == kind
