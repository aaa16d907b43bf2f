"""Image intake without the web layer: types by content, bombs, broken files, metadata,
renditions and the near-duplicate hash."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageOps

from contest.config import ConfigError, Settings
from contest.errors import PayloadTooLarge, Unavailable, Unprocessable, UnsupportedMediaType
from contest.media import images
from contest.media.images import (
    DISPLAY_SIZE,
    MAX_SCANS,
    THUMB_SIZE,
    ImageDecoder,
    dhash,
    hamming,
    process_image,
    strip_jpeg_metadata,
)
from contest.media.sniff import sniff
from tests.media.jpeg_files import (
    after_soi,
    assert_clean_jpeg,
    multi_picture,
    one_scan_per_coefficient,
    phone_exif,
    scans_of,
    scripted_scans,
    segment,
    stuffed,
    zip_archive,
)

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
    source = jpeg(photo((1600, 900)), orientation=6)
    result = process_image(source)
    assert (result.width, result.height) == (900, 1600)
    for rendition in (result.display, result.thumb):
        assert Image.open(io.BytesIO(rendition)).height > Image.open(io.BytesIO(rendition)).width
        assert dict(Image.open(io.BytesIO(rendition)).getexif()) == {}
    # The original keeps its compressed data as is, with an Exif block of our own that
    # holds the orientation and nothing else.
    original = Image.open(io.BytesIO(result.original))
    assert original.size == (1600, 900)
    assert dict(original.getexif()) == {0x0112: 6}
    assert ImageOps.exif_transpose(original).size == (900, 1600)
    assert b"PhoneMaker" not in result.original
    assert original.tobytes() == Image.open(io.BytesIO(source)).tobytes()


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


# --- the clean original ends at the first image's end ---------------------------------------

def test_second_image_after_the_end_and_its_index_are_dropped():
    source = multi_picture(photo())
    assert source.count(b"\xff\xd8\xff") == 2 and source.count(b"PhoneMaker") == 2 and b"MPF" in source
    assert Image.open(io.BytesIO(source)).format == "MPO"
    result = process_image(source, min_width=1920, min_height=1080)
    for data in (result.original, result.display, result.thumb):
        assert_clean_jpeg(data)
    assert (result.width, result.height) == (1920, 1080)
    assert Image.open(io.BytesIO(result.original)).tobytes() == Image.open(io.BytesIO(source)).tobytes()


def test_zip_appended_to_a_jpeg_is_not_kept():
    source = jpeg(photo()) + zip_archive()
    assert zipfile.is_zipfile(io.BytesIO(source))
    result = process_image(source)
    assert_clean_jpeg(result.original)
    assert not zipfile.is_zipfile(io.BytesIO(result.original))


def test_progressive_jpeg_keeps_its_picture_in_one_scan():
    image = photo()
    source = encoded(image, "JPEG", quality=90, progressive=True, exif=phone_exif())
    assert source.count(b"\xff\xda") > 2  # several scans
    with_trailer = source + jpeg(photo((320, 240), seed=2))
    result = process_image(with_trailer)
    assert_clean_jpeg(result.original)
    # The coefficients re-packed into one sequential scan: the same picture, and a reduced
    # decode of it needs no full-size buffer.
    assert result.original.count(b"\xff\xda") == 1
    assert Image.open(io.BytesIO(result.original)).tobytes() == Image.open(io.BytesIO(source)).tobytes()


def test_restart_markers_are_read_as_part_of_the_scan():
    source = encoded(photo(), "JPEG", quality=90, restart_marker_rows=1, exif=phone_exif())
    assert b"\xff\xd0" in source and b"\xff\xdd" in source  # RST0 in the data, DRI in the header
    result = process_image(source + zip_archive())
    assert_clean_jpeg(result.original)
    assert Image.open(io.BytesIO(result.original)).tobytes() == Image.open(io.BytesIO(source)).tobytes()


def test_comments_thumbnails_and_segments_between_scans_are_dropped():
    source = encoded(photo(), "JPEG", quality=90, progressive=True)
    thumbnail = jpeg(photo((160, 90), seed=5))
    source = after_soi(source, segment(0xE0, b"JFXX\x00\x10" + thumbnail), segment(0xFE, b"secret comment"),
                       segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta GContainer/>"),
                       segment(0xE1, b"http://ns.adobe.com/xmp/extension/\x00" + b"secret" * 10))
    second_scan = source.index(b"\xff\xda", source.index(b"\xff\xda") + 2)
    source = source[:second_scan] + segment(0xEB, b"secret between scans") + segment(0xFE, b"secret") + source[second_scan:]
    result = process_image(source)
    assert_clean_jpeg(result.original)
    assert Image.open(io.BytesIO(result.original)).tobytes() == Image.open(io.BytesIO(source)).tobytes()


def test_bytes_hidden_in_a_table_segment_are_refused():
    source = jpeg(photo())
    dqt = source.index(b"\xff\xdb")
    length = int.from_bytes(source[dqt + 2:dqt + 4], "big")
    padded = source[:dqt + 2] + (length + 6).to_bytes(2, "big") + source[dqt + 4:dqt + 2 + length] + b"secret" \
        + source[dqt + 2 + length:]
    with pytest.raises(Unprocessable) as caught:
        process_image(padded)
    assert caught.value.status == 422


def test_segments_the_copy_does_not_keep_are_dropped_losslessly():
    # Arithmetic-coding conditioning (DAC) is read by libjpeg and means nothing to a
    # Huffman-coded file: the copy has the same picture without it.
    source = after_soi(jpeg(photo(), orientation=6), segment(0xCC, b"\x00\x00")) + zip_archive()
    result = process_image(source)
    assert_clean_jpeg(result.original, orientation=6)
    assert b"\xff\xcc" not in result.original
    assert (result.width, result.height) == (1080, 1920)
    assert Image.open(io.BytesIO(result.original)).tobytes() == Image.open(io.BytesIO(source)).tobytes()


def test_jfif_and_adobe_headers_are_rebuilt_without_their_extra_bytes():
    source = encoded(photo().convert("CMYK"), "JPEG", quality=90)
    assert b"Adobe" in source
    result = process_image(source)
    assert_clean_jpeg(result.original)
    adobe = result.original.index(b"Adobe")
    assert result.original[adobe - 4:adobe] == b"\xff\xee\x00\x0e"  # 12 bytes: name, version, flags, transform
    assert Image.open(io.BytesIO(result.original)).mode == "CMYK"


def test_strip_drops_what_follows_the_end_of_the_image():
    source = jpeg(photo())
    assert strip_jpeg_metadata(source + zip_archive()) == strip_jpeg_metadata(source)
    assert strip_jpeg_metadata(source).endswith(b"\xff\xd9")
    with pytest.raises(Unprocessable):
        strip_jpeg_metadata(source[: len(source) // 2])


# --- bounded decoding ----------------------------------------------------------------------

def test_a_decode_waits_for_a_free_slot_and_is_refused_as_busy():
    decoder = ImageDecoder(slots=2, wait_seconds=0.05)
    source = jpeg(photo((800, 600)))
    with decoder.slot(), decoder.slot():
        with pytest.raises(Unavailable) as caught:
            decoder.process(source)
    assert caught.value.status == 503 and caught.value.retry_after
    assert caught.value.message == "系统繁忙，请稍后重试。"
    with decoder.slot():  # one slot free again
        assert decoder.process(source).width == 800


def test_a_decode_over_the_memory_budget_is_refused_before_it_starts():
    transparent = Image.new("RGBA", (7000, 7000), (0, 0, 0, 0))
    source = encoded(transparent, "PNG")
    assert len(source) < 1_000_000  # 49 megapixels that cost 400 MB decoded
    decoder = ImageDecoder(slots=1, wait_seconds=0.05)
    with decoder.slot():  # no slot free: refused by the budget, not by waiting
        with pytest.raises(PayloadTooLarge) as caught:
            decoder.process(source)
    assert caught.value.status == 413
    assert caught.value.message.startswith("这张图片尺寸太大（7000×7000），无法处理：请把长边缩小到 ")
    side = int(caught.value.message.split("长边缩小到 ")[1].split(" ")[0])
    assert 4000 < side < 7000
    smaller = encoded(Image.new("RGBA", (side, side), (0, 0, 0, 0)), "PNG")
    assert decoder.process(smaller).original_ext == "png"


def test_an_rgb_image_of_the_full_fifty_megapixels_fits_the_budget():
    source = encoded(Image.new("RGB", (7000, 7000), "orange"), "PNG")
    result = ImageDecoder(slots=1).process(source)
    assert (result.width, result.height) == (7000, 7000)


def test_a_path_is_read_only_inside_the_slot(tmp_path):
    path = tmp_path / "upload.bin"
    path.write_bytes(jpeg(photo()))
    from_path = process_image(path, min_width=1920, min_height=1080)
    assert from_path == process_image(path.read_bytes(), min_width=1920, min_height=1080)
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    with pytest.raises(Unprocessable):
        process_image(empty)


def test_the_app_makes_one_decoder_with_the_configured_slots(app):
    decoder = app.extensions["image_decoder"]
    assert isinstance(decoder, ImageDecoder)
    assert decoder.slots == app.extensions["settings"].image_decode_slots == 2


def test_decode_slots_come_from_the_environment(tmp_path):
    assert Settings.from_env({"IMAGE_DECODE_SLOTS": "3"}, str(tmp_path)).image_decode_slots == 3
    assert Settings.from_env({}, str(tmp_path)).image_decode_slots == 2
    with pytest.raises(ConfigError, match="IMAGE_DECODE_SLOTS"):
        Settings.from_env({"IMAGE_DECODE_SLOTS": "two"}, str(tmp_path))
    with pytest.raises(ConfigError, match="IMAGE_DECODE_SLOTS"):
        Settings.from_env({"IMAGE_DECODE_SLOTS": "0"}, str(tmp_path)).with_defaults()


# --- what a small file may cost ------------------------------------------------------------

def test_a_jpeg_with_more_scans_than_any_encoder_makes_is_refused_before_decoding():
    grey = photo((320, 240)).convert("L")
    most = scripted_scans(grey, one_scan_per_coefficient())
    assert most.count(b"\xff\xda") == MAX_SCANS
    assert process_image(most).width == 320
    # A valid progression (each DC bit, then each AC coefficient, in a pass of its own)
    # that libjpeg decodes, but with more passes over every block than any encoder makes.
    many = scripted_scans(grey, one_scan_per_coefficient(dc_bits=2))
    assert many.count(b"\xff\xda") == MAX_SCANS + 2
    Image.open(io.BytesIO(many)).load()
    with pytest.raises(Unprocessable) as caught:
        process_image(many)
    assert (caught.value.status, caught.value.code) == (422, "too_many_scans")
    assert "扫描段超过 64 个" in caught.value.message


def repeated_scan(source: bytes, times: int) -> bytes:
    """The file with its smallest first-pass AC scan sent `times` more times: libjpeg
    decodes each copy again over every block of the image."""
    def first_pass_ac(span: tuple[int, int]) -> bool:
        start = span[0] + 4
        count = source[start]
        return source[start + 1 + 2 * count] > 0 and source[start + 3 + 2 * count] >> 4 == 0
    begin, end = min(filter(first_pass_ac, scans_of(source)), key=lambda span: span[1] - span[0])
    return source[:end] + source[begin:end] * times + source[end:]


@pytest.mark.parametrize("extra", [b"", segment(0xCC, b"\x00\x00")], ids=["plain", "with_a_segment_the_copy_drops"])
def test_a_scan_that_codes_a_band_again_is_refused(extra):
    source = after_soi(encoded(photo((640, 480)), "JPEG", quality=90, progressive=True), extra)
    bomb = repeated_scan(source, 3)
    assert len(scans_of(bomb)) < MAX_SCANS
    Image.open(io.BytesIO(bomb)).load()  # libjpeg decodes it, each copy of the scan again
    with pytest.raises(Unprocessable) as caught:
        process_image(bomb)
    assert (caught.value.status, caught.value.code) == (422, "bad_jpeg_scans")


def test_a_refinement_out_of_order_is_refused():
    grey = photo((320, 240)).convert("L")
    whole = scripted_scans(grey, "0: 0 0 0 2;\n0: 0 0 2 1;\n0: 0 0 1 0;\n0: 1 63 0 0;\n")
    assert process_image(whole).width == 320
    begin, end = scans_of(whole)[1]
    skipping = whole[:begin] + whole[end:]  # the DC coefficients' second bit never sent
    with pytest.raises(Unprocessable) as caught:
        process_image(skipping)
    assert caught.value.code == "bad_jpeg_scans"


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")


def png_with(*chunks: bytes, size: tuple[int, int] = (64, 48)) -> bytes:
    """An RGB PNG with `chunks` between its header and its pixels."""
    width, height = size
    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    pixels = zlib.compress(b"".join(b"\x00" + b"\x80" * 3 * width for _ in range(height)))
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + b"".join(chunks) + png_chunk(b"IDAT", pixels)
            + png_chunk(b"IEND", b""))


def inflating(size: int) -> bytes:
    return zlib.compress(b"\x00" * size, 9)


@pytest.mark.parametrize("chunks", [
    [png_chunk(b"iCCP", b"icc\x00\x00" + inflating(1 << 20))] * 2,   # colour profiles Pillow inflates one by one
    [png_chunk(b"zTXt", b"k%d\x00\x00" % i + inflating(1000)) for i in range(40)],
    [png_chunk(b"tEXt", b"comment\x00" + b"x" * 300_000)],
], ids=["two_profiles", "many_text_chunks", "large_text"])
def test_png_metadata_that_costs_to_inflate_is_refused_before_any_slot(chunks):
    decoder = ImageDecoder(slots=1, wait_seconds=0.05)
    with decoder.slot():  # no slot free: refused from the chunk list, not after waiting
        with pytest.raises(Unprocessable) as caught:
            decoder.process(png_with(*chunks))
    assert (caught.value.status, caught.value.code) == (422, "png_metadata")
    assert "重新导出" in caught.value.message


def test_png_text_inflating_past_the_limit_is_refused():
    # Few, small chunks that inflate to 3 MB together: Pillow's own limit, set low.
    source = png_with(*(png_chunk(b"zTXt", b"k%d\x00\x00" % i + inflating(1_000_000)) for i in range(3)))
    assert len(source) < 20_000
    with pytest.raises(Unprocessable) as caught:
        process_image(source)
    assert caught.value.code == "broken_image"


def test_png_with_its_usual_metadata_is_accepted():
    source = png_with(png_chunk(b"iCCP", b"icc\x00\x00" + inflating(3000)),
                      png_chunk(b"tEXt", b"Software\x00Editor"), png_chunk(b"zTXt", b"Comment\x00\x00" + inflating(500)))
    assert process_image(source).width == 64


def test_png_chunk_longer_than_the_file_is_broken():
    source = png_with(png_chunk(b"tEXt", b"Software\x00Editor"))
    text = source.index(b"tEXt") - 4
    cut = source[:text] + (10_000_000).to_bytes(4, "big") + source[text + 4:]
    with pytest.raises(Unprocessable) as caught:
        process_image(cut)
    assert caught.value.code == "broken_image"


def test_a_wide_jpeg_is_decoded_at_a_reduced_scale(monkeypatch):
    decoded = []
    real = images._resized
    monkeypatch.setattr(images, "_resized", lambda image, longest: decoded.append(image.size) or real(image, longest))
    result = process_image(jpeg(photo((12800, 320)), quality=50))
    assert (result.width, result.height) == (12800, 320)
    assert decoded[0] == (1600, 40)  # 1/8 scale: the panorama's proportions asked for, not a square


def test_a_jpeg_over_the_memory_budget_is_refused_before_it_starts():
    # Every coefficient is held while the copy is made: 2 bytes a sample, 6 a pixel in 4:4:4.
    source = encoded(photo((2000, 1500)), "JPEG", quality=90, progressive=True, subsampling=0)
    decoder = ImageDecoder(slots=1, wait_seconds=0.05, budget_bytes=12 * 1024 * 1024)
    with decoder.slot():
        with pytest.raises(PayloadTooLarge) as caught:
            decoder.process(source)
    assert caught.value.message.startswith("这张图片尺寸太大（2000×1500），无法处理：请把长边缩小到 ")
    side = int(caught.value.message.split("长边缩小到 ")[1].split(" ")[0])
    assert 1000 < side < 2000
    assert decoder.process(encoded(photo((side, side * 3 // 4)), "JPEG", quality=90, subsampling=0)).width == side


def png_exif(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


def test_a_rotated_png_counts_its_rotation_in_the_budget():
    upright = encoded(photo((1000, 800)), "PNG")
    rotated = encoded(photo((1000, 800)), "PNG", exif=png_exif(6))
    decoder = ImageDecoder(slots=1, budget_bytes=6_000_000)  # 5 bytes a pixel fits, 9 does not
    assert decoder.process(upright).width == 1000
    with pytest.raises(PayloadTooLarge):
        decoder.process(rotated)
    result = process_image(rotated)
    assert (result.width, result.height) == (800, 1000)
    assert Image.open(io.BytesIO(result.original)).size == (800, 1000)


def unwritable_exif(orientation: int) -> bytes:
    """Exif with an orientation and a GPS map datum stored as three RATIONALs instead of
    text: Pillow reads it, and raises TypeError writing it back."""
    tiff = b"MM\x00\x2a" + struct.pack(">I", 8)
    tiff += struct.pack(">H", 2) + struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0) \
        + struct.pack(">HHII", 0x8825, 4, 1, 38) + struct.pack(">I", 0)
    tiff += struct.pack(">H", 1) + struct.pack(">HHII", 0x0012, 5, 3, 56) + struct.pack(">I", 0)
    return b"Exif\x00\x00" + tiff + struct.pack(">6I", 1, 1, 2, 1, 3, 1)


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_exif_pillow_cannot_write_back_still_turns_the_picture(fmt):
    source = encoded(photo((320, 240)), fmt, exif=unwritable_exif(6))
    with pytest.raises(TypeError):
        ImageOps.exif_transpose(Image.open(io.BytesIO(source)))
    result = process_image(source)
    assert (result.width, result.height) == (240, 320)
    assert dict(Image.open(io.BytesIO(result.original)).getexif()) == {}


def test_a_picture_pillow_fails_on_is_broken_not_an_error(monkeypatch):
    def fails(image, orientation):
        raise TypeError("what a crafted file made Pillow raise")
    monkeypatch.setattr(images, "_upright", fails)
    with pytest.raises(Unprocessable) as caught:
        process_image(encoded(photo((320, 240)), "PNG"))
    assert caught.value.code == "broken_image"


def test_bytes_hidden_in_the_entropy_coded_data_are_not_kept():
    secret = b"GPS:36.6512N,117.1201E;home=Building 3 Room 402"
    source = jpeg(photo())
    hidden = source[:-2] + stuffed(secret) + source[-2:]
    result = process_image(hidden)
    assert secret not in result.original
    assert Image.open(io.BytesIO(result.original)).tobytes() == Image.open(io.BytesIO(source)).tobytes()
    progressive = encoded(photo(), "JPEG", quality=90, progressive=True)
    between = scans_of(progressive)[1][0]
    result = process_image(progressive[:between] + stuffed(secret) + progressive[between:])
    assert secret not in result.original
