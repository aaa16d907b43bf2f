"""Image intake: decide the type from the content, refuse bombs and broken files, apply
the EXIF orientation, drop every piece of metadata, and make the renditions.

The clean original of a JPEG that needs no rotation is made by copying its compressed
data without the metadata segments (no re-encoding: fast and lossless); every other
image is decoded and re-encoded.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import PayloadTooLarge, Unprocessable, UnsupportedMediaType
from ..i18n import _
from .sniff import sniff

ACCEPTED = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}
# 50 megapixels: above any phone camera, far below what a decompression bomb claims.
MAX_PIXELS = 50_000_000
MAX_BYTES = 30 * 1024 * 1024
DISPLAY_SIZE = 1600
THUMB_SIZE = 400
ORIENTATION_TAG = 0x0112


@dataclass(frozen=True)
class ProcessedImage:
    original: bytes          # clean, full size
    original_ext: str        # "jpg" or "png"
    display: bytes           # JPEG, longest side <= DISPLAY_SIZE
    thumb: bytes             # JPEG, longest side <= THUMB_SIZE
    width: int               # after orientation
    height: int
    dhash: int               # 64-bit difference hash, for near-duplicates


def process_image(data: bytes, *, min_width: int = 0, min_height: int = 0, max_bytes: int = MAX_BYTES) -> ProcessedImage:
    """Validate an uploaded image by its content and return its clean original and renditions."""
    if not data:
        raise Unprocessable(_("文件是空的，请重新选择图片。"), code="empty_file")
    if len(data) > max_bytes:
        raise PayloadTooLarge(_("图片太大了（最大 %(mb)s MB）。", mb=max_bytes // (1024 * 1024)), code="file_too_large")
    kind = sniff(data[:64])
    if kind not in ACCEPTED:
        raise UnsupportedMediaType(_("只接受 JPEG、PNG 或 WebP 格式的图片。"), code="unsupported_image")
    with warnings.catch_warnings():
        # Pillow only warns between its own limit and twice that; make every bomb an error.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = _open_checked(data, kind)
            orientation = image.getexif().get(ORIENTATION_TAG, 1) if kind == "jpeg" else 1
            full_size = image.size  # draft() below reduces the decoded size
            _check_resolution(full_size, orientation, min_width, min_height)
            if kind == "jpeg" and orientation == 1:
                # Decode at a reduced scale (libjpeg's DCT scaling): the renditions
                # need no more, and the clean original is copied, not re-encoded.
                image.draft("RGB", (DISPLAY_SIZE, DISPLAY_SIZE))
            image.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise PayloadTooLarge(_("图片像素过多，请压缩到 5000 万像素以内。"), code="too_many_pixels") from None
        except (OSError, SyntaxError, ValueError, UnidentifiedImageError):
            raise Unprocessable(_("图片已损坏或不完整，无法读取，请重新导出后上传。"), code="broken_image") from None
    width, height = _oriented_size(full_size, orientation)
    if kind == "jpeg" and orientation == 1:
        original, original_ext = strip_jpeg_metadata(data), "jpg"
        upright = image
    else:
        upright = _flatten(ImageOps.exif_transpose(image))
        original, original_ext = _encode_original(upright)
    display_image = _resized(upright, DISPLAY_SIZE)
    thumb_image = _resized(display_image, THUMB_SIZE)
    return ProcessedImage(
        original=original, original_ext=original_ext, display=_encode_jpeg(display_image), thumb=_encode_jpeg(thumb_image),
        width=width, height=height, dhash=dhash(thumb_image),
    )


def _open_checked(data: bytes, kind: str) -> Image.Image:
    # verify() reads the whole file's structure (PNG checksums, JPEG markers) without
    # decoding; it leaves the image unusable, hence the second open.
    with Image.open(io.BytesIO(data)) as probe:
        if probe.format != ACCEPTED[kind]:
            raise UnsupportedMediaType(_("只接受 JPEG、PNG 或 WebP 格式的图片。"), code="unsupported_image")
        if probe.width * probe.height > MAX_PIXELS:
            raise Image.DecompressionBombError("too many pixels")
        probe.verify()
    image = Image.open(io.BytesIO(data))
    image.size  # noqa: B018 - parse the header now, inside the caller's error handling
    return image


def _oriented_size(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    width, height = size
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


def _check_resolution(size: tuple[int, int], orientation: int, min_width: int, min_height: int) -> None:
    # A portrait photo meets a landscape rule when its sides are long enough either way.
    long_side, short_side = max(size), min(size)
    if long_side < max(min_width, min_height) or short_side < min(min_width, min_height):
        width, height = _oriented_size(size, orientation)
        raise Unprocessable(
            _("图片分辨率太低（%(w)s×%(h)s），至少需要 %(mw)s×%(mh)s。", w=width, h=height, mw=min_width, mh=min_height),
            code="resolution_too_low",
        )


def _flatten(image: Image.Image) -> Image.Image:
    """RGB (or RGBA when the image really has transparency)."""
    if image.mode in ("RGB", "L"):
        return image
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        if rgba.getextrema()[3][0] < 255:
            return rgba
        return rgba.convert("RGB")
    return image.convert("RGB")


def _encode_original(image: Image.Image) -> tuple[bytes, str]:
    out = io.BytesIO()
    if image.mode == "RGBA":
        image.save(out, "PNG", optimize=False, compress_level=6)
        return out.getvalue(), "png"
    image.save(out, "JPEG", quality=90)
    return out.getvalue(), "jpg"


def _resized(image: Image.Image, longest: int) -> Image.Image:
    if max(image.size) <= longest:
        return image
    scale = longest / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    # reducing_gap: a cheap box reduction by whole factors first, then bicubic for the rest
    return image.resize(size, Image.Resampling.BICUBIC, reducing_gap=1.0)


def _encode_jpeg(image: Image.Image) -> bytes:
    if image.mode == "RGBA":
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image, mask=image.getchannel("A"))
        image = background
    elif image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    out = io.BytesIO()
    # Nothing but pixels: no exif=, no icc_profile=, so no metadata at all.
    image.save(out, "JPEG", quality=85, optimize=True, progressive=True)
    return out.getvalue()


def dhash(image: Image.Image) -> int:
    """64-bit difference hash: survives re-encoding, resizing and small edits."""
    small = image.convert("L").resize((9, 8), Image.Resampling.BILINEAR, reducing_gap=2.0)
    pixels = small.tobytes()
    bits = 0
    for row in range(8):
        for col in range(8):
            left, right = pixels[row * 9 + col], pixels[row * 9 + col + 1]
            bits = (bits << 1) | (left > right)
    return bits


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


# Segments a clean JPEG keeps: JFIF (APP0) and Adobe (APP14, colour transform of CMYK
# files) carry no personal data; EXIF/XMP (APP1), ICC (APP2), IPTC (APP13), the other
# APPn and comments are dropped.
_KEEP_APP = {0xE0, 0xEE}


def strip_jpeg_metadata(data: bytes) -> bytes:
    """The same JPEG without metadata segments; the compressed image data is copied as is."""
    if data[:2] != b"\xff\xd8":
        raise Unprocessable(_("图片已损坏或不完整，无法读取，请重新导出后上传。"), code="broken_image")
    out = bytearray(b"\xff\xd8")
    pos = 2
    while pos < len(data):
        if data[pos] != 0xFF:
            raise Unprocessable(_("图片已损坏或不完整，无法读取，请重新导出后上传。"), code="broken_image")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xDA:  # start of scan: the rest is image data
            out += data[pos:]
            return bytes(out)
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        length = int.from_bytes(data[pos + 2:pos + 4], "big")
        end = pos + 2 + length
        if length < 2 or end > len(data):
            raise Unprocessable(_("图片已损坏或不完整，无法读取，请重新导出后上传。"), code="broken_image")
        is_metadata = (0xE1 <= marker <= 0xEF and marker not in _KEEP_APP) or marker == 0xFE
        if not is_metadata:
            out += data[pos:end]
        pos = end
    raise Unprocessable(_("图片已损坏或不完整，无法读取，请重新导出后上传。"), code="broken_image")
