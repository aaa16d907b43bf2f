"""Image intake: decide the type from the content, refuse bombs and broken files, apply
the EXIF orientation, drop every piece of metadata, and make the renditions.

The clean original of a JPEG keeps its compressed picture without decoding it to pixels:
the file's structure is walked first (frame, tables, every scan, up to the first image's
end-of-image marker), then jpegtran re-packs the first image's DCT coefficients into a
new file (`-copy none`: no APPn but its own JFIF/Adobe header, no comments, no second
image, nothing after the end, and no byte that was not coefficient data — bytes hidden
inside the entropy-coded data are not coefficients, so they are gone). A rotated JPEG
gets a new, minimal Exif block holding the orientation alone, which every current
browser applies: lossless, and no full-size decode just to turn it. The renditions are
then decoded from that clean copy at a reduced scale, which also proves the copy is a
whole image. Every PNG and WebP is decoded in full and re-encoded.

Decoding is what costs memory (a 7000×7000 PNG of 160 KB becomes 196 MB of pixels), and
a small file can also cost a lot of CPU (thousands of progressive scans, thousands of
compressed PNG text chunks), so: the structure of a JPEG or PNG is checked before
anything is decoded or inflated; an `ImageDecoder` runs at most a few decodes at a time
per process, and refuses one whose peak memory would not fit the per-decode budget.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import math
import mmap
import os
import re
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, PngImagePlugin, features

from ..errors import DomainError, PayloadTooLarge, Unavailable, Unprocessable, UnsupportedMediaType
from ..i18n import _
from .sniff import sniff
from .storage import Storage

log = logging.getLogger(__name__)

ACCEPTED = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}
_FORMATS = {"png": ("PNG",), "webp": ("WEBP",)}
# 50 megapixels: above any phone camera, far below what a decompression bomb claims.
MAX_PIXELS = 50_000_000
MAX_BYTES = 30 * 1024 * 1024
DISPLAY_SIZE = 1600
THUMB_SIZE = 400
# Widths of the renditions pages offer in `srcset` (WebP where this Pillow writes it,
# JPEG otherwise); none is wider than the display rendition, so a portrait photo's
# largest is as wide as its display rendition (1200 px for 3:4).
RENDITION_WIDTHS = (400, 800, 1600)
RENDITION_QUALITY = 75
ORIENTATION_TAG = 0x0112

# Decodes running at once in one process (the app's setting IMAGE_DECODE_SLOTS). Each
# holds at most DECODE_BUDGET_BYTES: with 2, a worker stays under 600 MB however many
# uploads arrive together (docs/PERFORMANCE.md, "Upload memory").
DECODE_SLOTS = 2
# How long an upload waits for a free slot before it is answered "busy, try again":
# longer than two decodes of the largest image take on a busy machine.
DECODE_WAIT_SECONDS = 10.0
# Memory one decode may take at its peak, in the worker and in the jpegtran it runs: a
# 50-megapixel RGB PNG fits; a mode that needs a converted copy (transparency, palette)
# fits up to about 27 megapixels, a WebP up to about 15, a rotated PNG up to about 27.
# A JPEG costs jpegtran 2 bytes per sample: every 4:2:0 photo up to 50 megapixels fits,
# a 4:4:4 one up to about 38, a CMYK one up to about 28.
DECODE_BUDGET_BYTES = 240 * 1024 * 1024
# Peak bytes per pixel of a full decode by the mode Pillow decodes to, as measured
# (docs/PERFORMANCE.md): Pillow keeps every multi-band pixel in 4 bytes, a mode that is
# converted for encoding holds the decoded image and its copy at once, WebP also holds
# libwebp's frame and a copy of it, and a rotation holds the image twice.
_PEAK_BYTES_PER_PIXEL = {"1": 5, "L": 2, "P": 9, "I;16": 6, "I;16B": 6, "I": 8, "F": 8, "LA": 8, "RGB": 5, "RGBA": 9,
                         "CMYK": 8, "YCbCr": 8}
_WEBP_EXTRA_BYTES_PER_PIXEL = 12
_ROTATION_EXTRA_BYTES_PER_PIXEL = 4
# A reduced JPEG decode: the pixels (4 bytes each), the upright copy and the display size.
_REDUCED_BYTES_PER_PIXEL = 12

# No encoder makes more scans than this: libjpeg's progressive script has 10 for a colour
# photo (up to 26 for CMYK), mozjpeg's search a few more. A file with thousands of scans
# costs minutes of CPU, since each scan is a pass over every block of the image.
MAX_SCANS = 64
# Segments (tables, APPn, comments) of the first image; a phone writes about ten.
_MAX_SEGMENTS = 1000
# jpegtran (Debian's libjpeg-turbo-progs) re-packs a JPEG's coefficients.
JPEGTRAN = "jpegtran"
JPEGTRAN_TIMEOUT = 30.0

# PNG: Pillow inflates every iCCP, zTXt and iTXt chunk each time a file is opened, so
# their number and size are checked from the chunk list first, and its own limits on
# inflated text are set low (ImageDecoder.__init__). Editors write one colour profile and
# a few text chunks (software, dates, XMP).
PNG_MAX_TEXT_CHUNKS = 32
PNG_MAX_TEXT_BYTES = 256 * 1024
PNG_MAX_INFLATED_CHUNK = 1024 * 1024
PNG_MAX_INFLATED_TEXT = 2 * 1024 * 1024
_PNG_MAX_CHUNKS = 50_000   # a 30 MB file in libpng's 8 KB data chunks has about 4,000
_PNG_MAX_EXIF_BYTES = 64 * 1024
_PNG_TEXT = (b"tEXt", b"zTXt", b"iTXt")
# (bit depth, colour type) -> the mode Pillow decodes to (PngImagePlugin._MODES).
_PNG_MODES = {(1, 0): "1", (2, 0): "L", (4, 0): "L", (8, 0): "L", (16, 0): "I;16", (8, 2): "RGB", (16, 2): "RGB",
              (1, 3): "P", (2, 3): "P", (4, 3): "P", (8, 3): "P", (8, 4): "LA", (16, 4): "RGBA", (8, 6): "RGBA",
              (16, 6): "RGBA"}

# Exif orientation -> the transposition that turns the stored picture upright.
_UPRIGHT = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
            5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
            8: Image.Transpose.ROTATE_90}


# An upload: its bytes, or the path of the file it was spooled to.
ImageSource = bytes | str | os.PathLike[str]


class ToolMissing(RuntimeError):
    """A program image intake runs is not installed: a deployment error, not the upload's."""


@dataclass(frozen=True)
class ProcessedImage:
    original: bytes          # clean, full size
    original_ext: str        # "jpg" or "png"
    display: bytes           # JPEG, longest side <= DISPLAY_SIZE
    thumb: bytes             # JPEG, longest side <= THUMB_SIZE
    width: int               # after orientation
    height: int
    dhash: int               # 64-bit difference hash, for near-duplicates
    # (slot in RENDITION_WIDTHS, bytes) in RENDITION_FORMAT; a slot wider than the display
    # rendition is left out
    renditions: tuple[tuple[int, bytes], ...] = ()


@dataclass(frozen=True)
class _JpegFrame:
    marker: int                                   # SOFn
    size: tuple[int, int]
    components: tuple[tuple[int, int, int], ...]  # (id, horizontal, vertical sampling)
    exif: bytes                                   # the first Exif block's TIFF data
    first_scan: int                               # where the first scan's header starts

    @property
    def progressive(self) -> bool:
        return self.marker in (0xC2, 0xCA)

    def coefficient_bytes(self) -> int:
        """What holding every DCT coefficient takes (jpegtran does): 2 bytes a sample, in
        whole blocks, each component padded to its sampling factors."""
        width, height = self.size
        h_max = max(h for _id, h, _v in self.components)
        v_max = max(v for _id, _h, v in self.components)
        total = 0
        for _id, h, v in self.components:
            blocks_w = math.ceil(math.ceil(width * h / h_max) / 8)
            blocks_h = math.ceil(math.ceil(height * v / v_max) / 8)
            total += math.ceil(blocks_w / h) * h * math.ceil(blocks_h / v) * v * 128
        return total


@dataclass(frozen=True)
class _Header:
    kind: str
    size: tuple[int, int]    # as stored, before orientation
    mode: str
    orientation: int
    file_size: int = 0
    jpeg: _JpegFrame | None = None


class ImageDecoder:
    """Runs image intake with at most `slots` decodes at a time in this process (None:
    no bound), each within `budget_bytes` of memory. The app factory makes one per
    process (`app.extensions["image_decoder"]`); its threads share it."""

    def __init__(self, slots: int | None = DECODE_SLOTS, *, wait_seconds: float = DECODE_WAIT_SECONDS,
                 budget_bytes: int = DECODE_BUDGET_BYTES) -> None:
        if slots is not None and slots < 1:
            raise ValueError("an image decoder needs at least one slot")
        self.slots = slots
        self.wait_seconds = wait_seconds
        self.budget_bytes = budget_bytes
        self._semaphore = threading.BoundedSemaphore(slots) if slots is not None else None
        # Pillow's own bounds on what one PNG's text and colour-profile chunks may inflate
        # to (process-wide settings of its PNG reader, which only image intake uses): the
        # chunk list is checked first, these catch a chunk that inflates beyond its share.
        PngImagePlugin.MAX_TEXT_CHUNK = PNG_MAX_INFLATED_CHUNK
        PngImagePlugin.MAX_TEXT_MEMORY = PNG_MAX_INFLATED_TEXT

    def process(self, source: ImageSource, *, min_width: int = 0, min_height: int = 0,
                max_bytes: int = MAX_BYTES) -> ProcessedImage:
        """Validate an uploaded image by its content and return its clean original and renditions.

        `source` is the file's bytes or, better, its path: a file waiting for a slot is
        then not held in memory, and only its structure is read before the slot is taken
        (nothing is decoded or inflated before it).
        """
        header = _read_header(source, max_bytes)
        _check_resolution(header.size, header.orientation, min_width, min_height)
        self._check_budget(header)
        with self.slot(), _decode_errors():
            data = source if isinstance(source, bytes) else Path(source).read_bytes()
            if header.kind == "jpeg":
                clean = _clean_jpeg(data, header, self.budget_bytes)
                del data
                return _from_clean_jpeg(clean, header)
            return _reencoded(data, header)

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one decode slot; Unavailable (503) when none frees up within the wait."""
        if self._semaphore is None:
            yield
            return
        if not self._semaphore.acquire(timeout=self.wait_seconds):
            raise Unavailable(_("系统繁忙，请稍后重试。"), code="busy")
        try:
            yield
        finally:
            self._semaphore.release()

    def _check_budget(self, header: _Header) -> None:
        width, height = header.size
        if _peak_bytes(header) > self.budget_bytes:
            side = _fitting_side(header, self.budget_bytes)
            if header.kind == "jpeg":
                message = _("这张图片尺寸太大（%(w)s×%(h)s），无法处理：请把长边缩小到 %(side)s 像素以内后上传。",
                            w=width, h=height, side=side)
            else:
                message = _("这张图片尺寸太大（%(w)s×%(h)s），无法处理：请把长边缩小到 %(side)s 像素以内，或转为 JPEG 后上传。",
                            w=width, h=height, side=side)
            raise PayloadTooLarge(message, code="image_too_large_to_decode")


def _peak_bytes(header: _Header) -> int:
    """The most memory decoding this image takes at once, in the worker and its jpegtran."""
    width, height = header.size
    if header.jpeg is not None:
        # jpegtran holds every coefficient while the worker holds the upload and the copy
        # coming back; then the worker decodes the copy at a reduced scale (a single-scan
        # file, so libjpeg keeps no full-size buffer).
        reduced_w, reduced_h = _reduced_size(header.size)
        return max(header.jpeg.coefficient_bytes() + 2 * header.file_size,
                   header.file_size + reduced_w * reduced_h * _REDUCED_BYTES_PER_PIXEL)
    per_pixel = _PEAK_BYTES_PER_PIXEL.get(header.mode, 9)
    if header.kind == "webp":
        per_pixel += _WEBP_EXTRA_BYTES_PER_PIXEL
    if header.orientation != 1:
        per_pixel += _ROTATION_EXTRA_BYTES_PER_PIXEL
    return width * height * per_pixel


def _fitting_side(header: _Header, budget: int) -> int:
    """The longest side at which this picture, in its proportions, would fit the budget."""
    width, height = header.size
    longest = max(width, height)

    def scaled(side: int) -> _Header:
        size = (max(1, width * side // longest), max(1, height * side // longest))
        frame = dataclasses.replace(header.jpeg, size=size) if header.jpeg is not None else None
        return dataclasses.replace(header, size=size, jpeg=frame)

    low, high = 1, longest  # the side fits at `low` (or nothing does), not at `high`
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if _peak_bytes(scaled(middle)) <= budget else (low, middle)
    return low


def process_image(source: ImageSource, *, min_width: int = 0, min_height: int = 0, max_bytes: int = MAX_BYTES,
                  decoder: ImageDecoder | None = None) -> ProcessedImage:
    """Validate an uploaded image by its content and return its clean original and renditions.

    Pass the app's `decoder` (web.image_decoder()) from a request, so the process's
    decodes are bounded; without one (scripts, the CLI) the call waits for nobody.
    """
    return (decoder or ImageDecoder(slots=None)).process(source, min_width=min_width, min_height=min_height,
                                                         max_bytes=max_bytes)


# --- reading the header, no decoding ----------------------------------------------------

def _broken() -> Unprocessable:
    return Unprocessable(_("图片已损坏或不完整，无法读取，请重新导出后上传。"), code="broken_image")


def _unsupported() -> UnsupportedMediaType:
    return UnsupportedMediaType(_("只接受 JPEG、PNG 或 WebP 格式的图片。"), code="unsupported_image")


def _too_many_pixels() -> PayloadTooLarge:
    return PayloadTooLarge(_("图片像素过多，请压缩到 5000 万像素以内。"), code="too_many_pixels")


@contextmanager
def _decode_errors() -> Iterator[None]:
    # Whatever a crafted file makes Pillow or libjpeg raise (a bad header, bad Exif, a
    # transposition it cannot do) is a broken upload, answered 422, never a 500.
    try:
        yield
    except (DomainError, ToolMissing):
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # Pillow's own pixel limit is above ours, which is checked first: only a file that
        # lies about itself gets here.
        raise _too_many_pixels() from None
    except Exception as exc:  # noqa: BLE001 - see above
        log.info("refused an image Pillow could not read: %s: %s", type(exc).__name__, str(exc)[:200])
        raise _broken() from None


@contextmanager
def _mapped(source: ImageSource) -> Iterator[bytes | mmap.mmap]:
    """The upload's bytes, or its file mapped (read on demand, not copied into memory)."""
    if isinstance(source, bytes):
        yield source
        return
    with open(source, "rb") as fh:
        if not os.fstat(fh.fileno()).st_size:
            yield b""
            return
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            yield mapped


def _read_header(source: ImageSource, max_bytes: int) -> _Header:
    """What the file says it is, from its structure: nothing decoded, nothing inflated,
    and the file not read into memory."""
    with _mapped(source) as data:
        size = len(data)
        if not size:
            raise Unprocessable(_("文件是空的，请重新选择图片。"), code="empty_file")
        if size > max_bytes:
            raise PayloadTooLarge(_("图片太大了（最大 %(mb)s MB）。", mb=max_bytes // (1024 * 1024)),
                                  code="file_too_large")
        kind = sniff(bytes(data[:64]))
        if kind not in ACCEPTED:
            raise _unsupported()
        if kind == "jpeg":
            frame = _jpeg_frame(data)
            header = _Header("jpeg", frame.size, "RGB", _exif_orientation(frame.exif), size, frame)
        elif kind == "png":
            header = _png_header(data)
        else:
            header = _webp_header(source)
    if header.size[0] * header.size[1] > MAX_PIXELS:
        raise _too_many_pixels()
    return header


def _exif_orientation(exif: bytes) -> int:
    """The Exif orientation (1 when there is none, or it cannot be read)."""
    if not exif:
        return 1
    try:
        reader = Image.Exif()
        reader.load(exif)
        orientation = reader.get(ORIENTATION_TAG, 1)
    except Exception:  # noqa: BLE001 - unreadable Exif: shown as stored, as viewers do
        return 1
    if not isinstance(orientation, int) or not 1 <= orientation <= 8:
        return 1  # what viewers do with a value they do not know
    return orientation


def _webp_header(source: ImageSource) -> _Header:
    # libwebp's demuxer reads a WebP's chunks in C and inflates nothing (its colour
    # profile, Exif and XMP are stored as they are), so Pillow's open is cheap here.
    with _decode_errors(), _opened(source) as image:
        if image.format != "WEBP":
            raise _unsupported()
        if image.width * image.height > MAX_PIXELS:
            raise _too_many_pixels()
        try:
            orientation = image.getexif().get(ORIENTATION_TAG, 1)
        except Exception:  # noqa: BLE001 - unreadable Exif: shown as stored, as viewers do
            orientation = 1
        if not isinstance(orientation, int) or not 1 <= orientation <= 8:
            orientation = 1
        return _Header("webp", image.size, image.mode, orientation)


def _opened(source: ImageSource) -> Image.Image:
    return Image.open(io.BytesIO(source) if isinstance(source, bytes) else source)


def _png_header(data: bytes | mmap.mmap) -> _Header:
    """Size, mode and orientation from a PNG's chunk list, walked by lengths and types
    alone: a file whose colour profiles or text chunks would cost Pillow seconds or
    hundreds of megabytes to inflate at every open is refused before it is opened."""
    size, pos, chunks = len(data), 8, 0
    ihdr = exif = b""
    profiles = texts = text_bytes = 0
    while True:
        if pos + 12 > size:
            raise _broken()  # no end chunk
        length, kind = int.from_bytes(data[pos:pos + 4], "big"), bytes(data[pos + 4:pos + 8])
        end = pos + 12 + length
        if length > 0x7FFFFFFF or end > size:
            raise _broken()  # a chunk longer than what is left of the file
        chunks += 1
        if chunks > _PNG_MAX_CHUNKS:
            raise _png_metadata()
        if chunks == 1 and kind != b"IHDR":
            raise _broken()
        if kind == b"IHDR" and chunks == 1 and length == 13:
            ihdr = bytes(data[pos + 8:end - 4])
        elif kind == b"iCCP":
            profiles += 1
            if profiles > 1:
                raise _png_metadata()
        elif kind in _PNG_TEXT:
            texts += 1
            text_bytes += length
            if texts > PNG_MAX_TEXT_CHUNKS or text_bytes > PNG_MAX_TEXT_BYTES:
                raise _png_metadata()
        elif kind == b"eXIf":
            if length > _PNG_MAX_EXIF_BYTES:
                raise _png_metadata()
            exif = exif or bytes(data[pos + 8:end - 4])
        elif kind == b"IEND":
            break
        pos = end
    if not ihdr:
        raise _broken()
    width, height = int.from_bytes(ihdr[0:4], "big"), int.from_bytes(ihdr[4:8], "big")
    mode = _PNG_MODES.get((ihdr[8], ihdr[9]))
    if not width or not height or mode is None:
        raise _broken()
    return _Header("png", (width, height), mode, _exif_orientation(exif), size)


def _png_metadata() -> Unprocessable:
    return Unprocessable(
        _("这张 PNG 图片附带的色彩配置或文字信息过多，无法处理：请用修图软件重新导出（不保留元数据）后上传。"),
        code="png_metadata",
    )


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


# --- decoding, inside a slot ------------------------------------------------------------

def _draft_target(size: tuple[int, int]) -> tuple[int, int]:
    """The size to ask libjpeg's DCT scaling for: the display size in the picture's own
    proportions. Pillow picks the scale from the side that shrinks least, so a square
    request would leave a long, narrow panorama at full size."""
    width, height = size
    scale = DISPLAY_SIZE / max(width, height)
    if scale >= 1:
        return size
    return max(1, math.ceil(width * scale)), max(1, math.ceil(height * scale))


def _reduced_size(size: tuple[int, int]) -> tuple[int, int]:
    """The size libjpeg decodes to for `_draft_target` (Pillow's draft: 1/8, 1/4, 1/2 or 1)."""
    target = _draft_target(size)
    fits = min(size[0] // target[0], size[1] // target[1])
    scale = next(s for s in (8, 4, 2, 1) if fits >= s)
    return math.ceil(size[0] / scale), math.ceil(size[1] / scale)


def _upright(image: Image.Image, orientation: int) -> Image.Image:
    """The picture turned as its orientation says (the image itself when it is upright):
    a plain transposition, the Exif itself is never rewritten."""
    return image.transpose(_UPRIGHT[orientation]) if orientation in _UPRIGHT else image


def _from_clean_jpeg(clean: bytes, header: _Header) -> ProcessedImage:
    """Renditions decoded from the clean copy at a reduced scale (libjpeg's DCT scaling)."""
    with Image.open(io.BytesIO(clean)) as image:
        if image.size != header.size:
            raise _broken()
        image.draft("RGB", _draft_target(image.size))
        image.load()
        upright = _upright(image, header.orientation)
        display_image = _resized(upright, DISPLAY_SIZE)
        upright.close()
    width, height = _oriented_size(header.size, header.orientation)
    return _with_renditions(display_image, clean, "jpg", width, height)


def _reencoded(data: bytes, header: _Header) -> ProcessedImage:
    """A full decode, re-encoded: the pixels alone survive."""
    with Image.open(io.BytesIO(data)) as probe:
        # verify() reads the whole file's structure (PNG checksums) without decoding.
        if probe.format not in _FORMATS[header.kind] or probe.size != header.size:
            raise _broken()
        probe.verify()
    with Image.open(io.BytesIO(data)) as image:
        if image.size != header.size:
            raise _broken()
        image.load()
        upright = _upright(image, header.orientation)
        if upright is not image:
            image.close()  # the stored way round is not needed once the picture is upright
        flat = _flatten(upright)
        if flat is not upright:
            upright.close()  # free the decoded pixels before the converted copy is encoded
        try:
            original, ext = _encode_original(flat)
            display_image = _resized(flat, DISPLAY_SIZE)
            width, height = flat.size
        finally:
            flat.close()
    return _with_renditions(display_image, original, ext, width, height)


def _with_renditions(display_image: Image.Image, original: bytes, ext: str, width: int, height: int) -> ProcessedImage:
    thumb_image = _resized(display_image, THUMB_SIZE)
    display = _encode_jpeg(display_image)
    renditions = width_renditions(display_image)
    display_image.close()
    return ProcessedImage(original=original, original_ext=ext, display=display, thumb=_encode_jpeg(thumb_image),
                          width=width, height=height, dhash=dhash(thumb_image), renditions=renditions)


def rendition_format() -> tuple[str, str]:
    """(Pillow's format name, storage extension) of the srcset renditions: WebP where
    this Pillow was built with libwebp, JPEG otherwise."""
    return ("WEBP", "webp") if features.check("webp") else ("JPEG", "jpg")


def fitted_width(width: int, height: int, longest: int = DISPLAY_SIZE) -> int:
    """The width of a rendition, longest side at most `longest`, of an upright image of
    this size (as `_resized` makes it; the display rendition by default)."""
    side = max(width, height)
    return width if side <= longest else max(1, round(width * longest / side))


def rendition_widths(width: int, height: int) -> dict[int, int]:
    """Slot in RENDITION_WIDTHS -> the width its rendition has, for an upright image of
    this size (a slot that would repeat a narrower one's width has none)."""
    if width <= 0 or height <= 0:
        return {}
    return _slots(fitted_width(width, height))


def _slots(widest: int) -> dict[int, int]:
    slots: dict[int, int] = {}
    for slot in RENDITION_WIDTHS:
        width = min(slot, widest)
        if width not in slots.values():
            slots[slot] = width
    return slots


def width_renditions(display_image: Image.Image) -> tuple[tuple[int, bytes], ...]:
    """The srcset renditions of a display-size picture: pixels only, no metadata."""
    pil_format, _ext = rendition_format()
    renditions = []
    for slot, width in _slots(display_image.width).items():
        height = max(1, round(display_image.height * width / display_image.width))
        image = display_image if width == display_image.width else display_image.resize(
            (width, height), Image.Resampling.BICUBIC, reducing_gap=2.0)
        renditions.append((slot, _encode_rendition(image, pil_format)))
    return tuple(renditions)


def _encode_rendition(image: Image.Image, pil_format: str) -> bytes:
    if pil_format == "JPEG":
        return _encode_jpeg(image)
    if image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGBA" if image.mode in ("LA", "P") else "RGB")
    out = io.BytesIO()
    # Nothing but pixels: no exif=, icc_profile= or xmp=, so no metadata at all.
    # method 2: as small as 4 (the default) within 2 %, at less than half its CPU time
    image.save(out, "WEBP", quality=RENDITION_QUALITY, method=2)
    return out.getvalue()


def store_renditions(storage: Storage, renditions: tuple[tuple[int, bytes], ...]) -> dict[int, str]:
    """Put srcset renditions in storage: slot width -> key."""
    ext = rendition_format()[1]
    return {slot: storage.put(data, ext) for slot, data in renditions}


def renditions_from_display(display: bytes) -> tuple[tuple[int, bytes], ...]:
    """The srcset renditions of an image stored before them, made from its display
    rendition (a clean JPEG this platform wrote, at most DISPLAY_SIZE on its longest side)."""
    with _decode_errors(), Image.open(io.BytesIO(display)) as image:
        if image.format != "JPEG" or max(image.size) > DISPLAY_SIZE:
            raise _broken()
        image.load()
        return width_renditions(image)


def _flatten(image: Image.Image) -> Image.Image:
    """RGB (or RGBA when the image really has transparency); the image itself when it is
    already one of those."""
    if image.mode in ("RGB", "L"):
        return image
    # The alpha band is examined before any conversion, so at most two full-size
    # copies exist at once (the decoded image and the converted one).
    if image.mode in ("RGBA", "LA"):
        opaque = _lowest_alpha(image) == 255
        if image.mode == "RGBA":
            return image.convert("RGB") if opaque else image
        return image.convert("L") if opaque else image.convert("RGBA")
    if image.mode == "P" and "transparency" in image.info:
        rgba = image.convert("RGBA")
        if _lowest_alpha(rgba) < 255:
            return rgba
        rgb = rgba.convert("RGB")
        rgba.close()
        return rgb
    return image.convert("RGB")


def _lowest_alpha(image: Image.Image) -> float:
    """The lowest value of the last band (alpha) of an LA or RGBA image."""
    band = image.getextrema()[-1]  # one (lowest, highest) pair per band
    return band[0] if isinstance(band, tuple) else band


def _encode_original(image: Image.Image) -> tuple[bytes, str]:
    out = io.BytesIO()
    if image.mode == "RGBA":
        image.save(out, "PNG", optimize=False, compress_level=6)
        return out.getvalue(), "png"
    image.save(out, "JPEG", quality=90)
    return out.getvalue(), "jpg"


def _resized(image: Image.Image, longest: int) -> Image.Image:
    """A new image, longest side at most `longest` (the caller may close its source)."""
    if max(image.size) <= longest:
        return image.copy()
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


# --- the JPEG's structure, walked before anything is decoded ------------------------------

_SOI, _EOI, _SOS, _DHT, _DQT, _DRI, _APP0, _APP14, _COM = 0xD8, 0xD9, 0xDA, 0xC4, 0xDB, 0xDD, 0xE0, 0xEE, 0xFE
# Every start-of-frame marker (C4, C8 and CC are tables and a reserved code, not frames).
_ANY_FRAME = set(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# The frames libjpeg decodes: baseline, extended and progressive, Huffman or arithmetic coded.
_DECODED_FRAMES = {0xC0, 0xC1, 0xC2, 0xC9, 0xCA}
# Markers have no length: restart markers and TEM, which libjpeg passes over between segments.
_BARE = set(range(0xD0, 0xD8)) | {0x01}
# A marker between segments: 0xFF, any fill bytes, a code other than 0x00. Inside a
# scan's entropy-coded data a 0xFF is followed by 0x00 (a stuffed byte) or by a restart
# marker; any other code ends the scan. Two-byte patterns, so the search is linear.
_MARKER = re.compile(rb"\xff[^\x00\xff]")
_SCAN_END = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")


def _find_marker(data: bytes | mmap.mmap, pos: int, pattern: re.Pattern[bytes] = _MARKER) -> tuple[int, int]:
    """The next marker's code and where its segment starts. Bytes before it are skipped,
    as libjpeg skips them (jpegtran's copy never holds them)."""
    found = pattern.search(data, pos)
    if found is None:
        raise _broken()  # no end-of-image: cut short
    return data[found.start() + 1], found.end()


def _segment_end(data: bytes | mmap.mmap, pos: int) -> int:
    length = int.from_bytes(data[pos:pos + 2], "big")
    if length < 2 or pos + length > len(data):
        raise _broken()
    return pos + length


def _jpeg_frame(data: bytes | mmap.mmap) -> _JpegFrame:
    """The first image's frame and Exif, read from its segments up to the first scan."""
    if data[:2] != b"\xff\xd8":
        raise _broken()
    pos, segments, exif = 2, 0, b""
    frame: tuple[int, tuple[int, int], tuple[tuple[int, int, int], ...]] | None = None
    while True:
        marker, pos = _find_marker(data, pos)
        if marker in _BARE:
            continue
        if marker in (_SOI, _EOI) or (marker == _SOS and frame is None):
            raise _broken()
        if marker == _SOS:
            assert frame is not None
            return _JpegFrame(frame[0], frame[1], frame[2], exif, pos)
        end = _segment_end(data, pos)
        segments += 1
        if segments > _MAX_SEGMENTS:
            raise _broken()
        if marker in _ANY_FRAME:
            if frame is not None or marker not in _DECODED_FRAMES:
                raise _broken()  # two frames, or a lossless or hierarchical one libjpeg cannot decode
            frame = (marker, *_frame_fields(bytes(data[pos + 2:end])))
        elif marker == 0xE1 and not exif and data[pos + 2:pos + 8] == b"Exif\x00\x00":
            exif = bytes(data[pos + 8:end])
        pos = end


def _frame_fields(payload: bytes) -> tuple[tuple[int, int], tuple[tuple[int, int, int], ...]]:
    count = payload[5] if len(payload) > 5 else 0
    if not 1 <= count <= 4 or len(payload) != 6 + 3 * count:
        raise _broken()
    height, width = int.from_bytes(payload[1:3], "big"), int.from_bytes(payload[3:5], "big")
    components = tuple((payload[6 + 3 * i], payload[7 + 3 * i] >> 4, payload[7 + 3 * i] & 0x0F) for i in range(count))
    if not width or not height or any(not (1 <= h <= 4 and 1 <= v <= 4) for _id, h, v in components):
        raise _broken()
    if len({cid for cid, _h, _v in components}) != count:
        raise _broken()
    return (width, height), components


def _first_image_end(data: bytes, frame: _JpegFrame) -> int:
    """Where the first image ends (after its end-of-image marker), its scans checked on
    the way: no more than MAX_SCANS, and none that codes again what is already coded."""
    coded: dict[int, list[int]] = {}  # component -> per coefficient, the last scan's Al (-1: none yet)
    pos, marker, scans, segments = frame.first_scan, _SOS, 0, 0
    while marker != _EOI:
        if marker in _BARE:
            marker, pos = _find_marker(data, pos)
            continue
        if marker == _SOI or marker in _ANY_FRAME:
            raise _broken()
        end = _segment_end(data, pos)
        if marker == _SOS:
            scans += 1
            if scans > MAX_SCANS:
                raise Unprocessable(
                    _("这张 JPEG 图片的扫描段超过 %(n)s 个，相机和修图软件不会这样保存，无法处理：请重新导出后上传。",
                      n=MAX_SCANS),
                    code="too_many_scans",
                )
            _check_scan_sequence(data[pos + 2:end], frame, coded)
            marker, pos = _find_marker(data, end, _SCAN_END)
            continue
        segments += 1
        if segments > _MAX_SEGMENTS:
            raise _broken()
        marker, pos = _find_marker(data, end)
    return pos


def _bad_scans() -> Unprocessable:
    return Unprocessable(
        _("这张 JPEG 图片的扫描段重复或次序不对，相机和修图软件不会这样保存，无法处理：请重新导出后上传。"),
        code="bad_jpeg_scans",
    )


def _check_scan_sequence(payload: bytes, frame: _JpegFrame, coded: dict[int, list[int]]) -> None:
    """A scan codes each coefficient of each of its components once, then refines it one
    bit at a time (ITU T.81 G.1.1.1; libjpeg only warns, and decodes again whatever is
    coded again); a sequential image codes each component once."""
    count = payload[0] if payload else 0
    if not 1 <= count <= 4 or len(payload) != 4 + 2 * count:
        raise _broken()
    ids = [payload[1 + 2 * i] for i in range(count)]
    if len(set(ids)) != count or not set(ids) <= {cid for cid, _h, _v in frame.components}:
        raise _broken()
    if not frame.progressive:
        if any(cid in coded for cid in ids):
            raise _bad_scans()
        coded.update((cid, []) for cid in ids)
        return
    start, stop, ah, al = payload[1 + 2 * count], payload[2 + 2 * count], payload[3 + 2 * count] >> 4, \
        payload[3 + 2 * count] & 0x0F
    if start == 0:
        valid = stop == 0  # the DC coefficients, of one component or several
    else:
        valid = count == 1 and start <= stop <= 63  # a band of AC coefficients, one component
    if not valid or al > 13 or (ah and al != ah - 1):
        raise _bad_scans()
    for cid in ids:
        bits = coded.setdefault(cid, [-1] * 64)
        if start and bits[0] < 0:
            raise _bad_scans()  # AC coefficients before the DC ones
        for k in range(start, stop + 1):
            if bits[k] != (ah if ah else -1):
                raise _bad_scans()  # coded a second time, or refined out of order
            bits[k] = al


# --- the clean copy ------------------------------------------------------------------------

def strip_jpeg_metadata(data: bytes, orientation: int = 1) -> bytes:
    """The first image of a JPEG file without metadata: its DCT coefficients, re-packed
    by jpegtran up to its end-of-image marker, behind a JFIF or Adobe header and (for
    orientation 2–8) an Exif block holding the orientation alone."""
    frame = _jpeg_frame(data)
    return _clean_jpeg(data, _Header("jpeg", frame.size, "RGB", orientation, len(data), frame), DECODE_BUDGET_BYTES)


def _clean_jpeg(data: bytes, header: _Header, memory_limit: int) -> bytes:
    assert header.jpeg is not None
    end = _first_image_end(data, header.jpeg)
    repacked = _repack(memoryview(data)[:end], memory_limit)
    try:
        # jpegtran's file, checked: one frame, its tables and scans, nothing else; and
        # the orientation added.
        return _copy_jpeg(repacked, header.orientation)
    except _NotCopyable:
        raise _broken() from None


def _repack(first_image: memoryview, memory_limit: int) -> bytes:
    """The image's coefficients written anew: only what the scans decode to survives (no
    byte hidden inside or between them), with optimised Huffman tables, in one sequential
    scan, which a reduced decode reads without a full-size buffer."""
    args = [JPEGTRAN, "-copy", "none", "-optimize", "-maxscans", str(MAX_SCANS),
            "-maxmemory", str(max(1, memory_limit // 1024))]
    try:
        # No shell, the image on stdin, a fixed argument list: nothing from the upload
        # reaches the command line (bandit.yaml, B603).
        result = subprocess.run(args, input=first_image, capture_output=True,  # nosec
                                timeout=JPEGTRAN_TIMEOUT, check=False)
    except FileNotFoundError:
        raise ToolMissing(f"{JPEGTRAN} not found: install Debian's libjpeg-turbo-progs package") from None
    except subprocess.TimeoutExpired:
        log.warning("%s gave up after %s s", JPEGTRAN, JPEGTRAN_TIMEOUT)
        raise _broken() from None
    # 2: done, with warnings (bytes that were not coefficient data, a scan cut short):
    # what it wrote holds exactly the coefficients it read.
    if result.returncode not in (0, 2) or not result.stdout:
        log.info("jpegtran refused an upload: %s", result.stderr[-500:].decode(errors="replace"))
        raise _broken()
    return result.stdout


class _NotCopyable(Exception):
    """The JPEG's structure is outside what the checked copy handles (or it is broken)."""


# Frames jpegtran writes: baseline, extended (Huffman-coded), progressive.
_FRAMES = {0xC0, 0xC1, 0xC2}


def _copy_jpeg(data: bytes, orientation: int) -> bytes:
    if data[:2] != b"\xff\xd8":
        raise _NotCopyable
    view = memoryview(data)  # slices of the compressed data are joined once, not copied twice
    jfif = adobe = b""
    tables: list[bytes | memoryview] = []
    pos, frame = 2, False
    while True:  # everything up to the first scan
        marker, pos = _next_marker(data, pos)
        payload, end = _payload(data, pos, marker)
        if marker == _APP0:
            if not jfif and payload[:5] == b"JFIF\x00" and len(payload) >= 14:
                jfif = _segment(_APP0, b"JFIF\x00\x01\x01" + payload[7:12] + b"\x00\x00")  # no thumbnail
        elif marker == _APP14:
            if not adobe and payload[:5] == b"Adobe" and len(payload) == 12:
                adobe = _segment(_APP14, b"Adobe\x00\x64\x00\x00\x00\x00" + payload[11:12])  # the colour transform
        elif 0xE1 <= marker <= 0xEF or marker == _COM:
            pass  # Exif, XMP, ICC, MPF, IPTC, vendors' blocks, comments
        elif marker in _FRAMES and not frame:
            _check_frame(payload)
            frame = True
            tables.append(view[pos - 2:end])
        elif marker in (_DHT, _DQT, _DRI):
            _check_table(marker, payload)
            tables.append(view[pos - 2:end])
        elif marker == _SOS and frame:
            break  # end is where the scan's entropy-coded data starts
        else:
            raise _NotCopyable
        pos = end
    scans: list[bytes | memoryview] = []
    while marker != _EOI:  # scans, with the tables a progressive file sends between them
        if marker == _SOS:
            _check_scan(payload)
            end = _entropy_end(data, end)
            scans.append(view[pos - 2:end])
        elif marker in (_DHT, _DQT, _DRI):
            _check_table(marker, payload)
            scans.append(view[pos - 2:end])
        elif not (0xE0 <= marker <= 0xEF or marker == _COM):
            raise _NotCopyable
        marker, pos = _next_marker(data, end)
        if marker != _EOI:
            payload, end = _payload(data, pos, marker)
    # The first image ends at its end-of-image marker: whatever follows is not copied.
    exif = _orientation_exif(orientation) if orientation != 1 else b""
    return b"".join([b"\xff\xd8", jfif, exif, adobe, *tables, *scans, b"\xff\xd9"])


def _next_marker(data: bytes, pos: int) -> tuple[int, int]:
    """The marker at `pos` (after any 0xFF fill bytes) and where its segment starts."""
    if pos >= len(data) or data[pos] != 0xFF:
        raise _NotCopyable
    while pos < len(data) and data[pos] == 0xFF:
        pos += 1
    if pos >= len(data) or data[pos] == 0x00:
        raise _NotCopyable
    return data[pos], pos + 1


def _payload(data: bytes, pos: int, marker: int) -> tuple[bytes, int]:
    """A segment's payload (after its length) and where the next marker starts."""
    if marker in (_SOI, _EOI) or 0xD0 <= marker <= 0xD7 or marker == 0x01:
        raise _NotCopyable  # markers without a segment have no place here
    length = int.from_bytes(data[pos:pos + 2], "big")
    end = pos + length
    if length < 2 or end > len(data):
        raise _NotCopyable
    return data[pos + 2:end], end


def _entropy_end(data: bytes, pos: int) -> int:
    """Where a scan's entropy-coded data ends: the first 0xFF that starts a marker (not a
    stuffed 0xFF00, not a restart marker RSTn)."""
    found = _SCAN_END.search(data, pos)
    if found is None:
        raise _NotCopyable  # no end-of-image: truncated
    return found.start()


def _check_frame(payload: bytes) -> None:
    components = payload[5] if len(payload) > 5 else 0
    if not 1 <= components <= 4 or len(payload) != 6 + 3 * components:
        raise _NotCopyable


def _check_scan(payload: bytes) -> None:
    components = payload[0] if payload else 0
    if not 1 <= components <= 4 or len(payload) != 4 + 2 * components:
        raise _NotCopyable


def _check_table(marker: int, payload: bytes) -> None:
    """A table segment holds exactly its tables: no bytes a decoder would skip."""
    if marker == _DRI:
        if len(payload) != 2:
            raise _NotCopyable
        return
    pos = 0
    while pos < len(payload):
        if marker == _DQT:
            precision, index = payload[pos] >> 4, payload[pos] & 0x0F
            if precision > 1 or index > 3:
                raise _NotCopyable
            pos += 1 + 64 * (precision + 1)
        else:
            table_class, index = payload[pos] >> 4, payload[pos] & 0x0F
            counts = payload[pos + 1:pos + 17]
            if table_class > 1 or index > 3 or len(counts) != 16 or sum(counts) > 256:
                raise _NotCopyable
            pos += 17 + sum(counts)
    if pos != len(payload) or not payload:
        raise _NotCopyable


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + (len(payload) + 2).to_bytes(2, "big") + payload


def _orientation_exif(orientation: int) -> bytes:
    """An APP1 Exif block made here, holding one tag: Orientation (a big-endian TIFF
    header, one IFD with one SHORT entry, no next IFD)."""
    ifd = (1).to_bytes(2, "big") + ORIENTATION_TAG.to_bytes(2, "big") + (3).to_bytes(2, "big") \
        + (1).to_bytes(4, "big") + orientation.to_bytes(2, "big") + b"\x00\x00" + (0).to_bytes(4, "big")
    return _segment(0xE1, b"Exif\x00\x00" + b"MM\x00\x2a" + (8).to_bytes(4, "big") + ifd)
