"""Image intake: decide the type from the content, refuse bombs and broken files, apply
the EXIF orientation, drop every piece of metadata, and make the renditions.

The clean original of a JPEG is made without decoding it: the frame, its tables and
its compressed scans are copied up to the first image's end-of-image marker, and
nothing else is (no APPn but a rebuilt JFIF/Adobe header, no comments, no second
image, nothing after the end). A rotated JPEG keeps its compressed data too and gets
a new, minimal Exif block holding the orientation alone, which every current browser
applies: lossless, and no full-size decode just to turn it. The renditions are then decoded from that clean copy at a reduced scale,
which also proves the copy is a whole image. A JPEG whose structure the copy does not
handle, and every PNG or WebP, is decoded in full and re-encoded.

Decoding is what costs memory (a 7000×7000 PNG of 160 KB becomes 196 MB of pixels),
so an `ImageDecoder` runs at most a few decodes at a time per process, and refuses a
full decode whose pixels would not fit the per-decode memory budget.
"""

from __future__ import annotations

import io
import math
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import PayloadTooLarge, Unavailable, Unprocessable, UnsupportedMediaType
from ..i18n import _
from .sniff import sniff

ACCEPTED = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}
# Pillow names a JPEG with a multi-picture index (phones' depth and motion photos) MPO;
# its first image is the photo, and the rest never reaches the clean original.
_FORMATS = {"jpeg": ("JPEG", "MPO"), "png": ("PNG",), "webp": ("WEBP",)}
# 50 megapixels: above any phone camera, far below what a decompression bomb claims.
MAX_PIXELS = 50_000_000
MAX_BYTES = 30 * 1024 * 1024
DISPLAY_SIZE = 1600
THUMB_SIZE = 400
ORIENTATION_TAG = 0x0112

# Decodes running at once in one process (the app's setting IMAGE_DECODE_SLOTS). Each
# holds at most DECODE_BUDGET_BYTES: with 2, a worker stays under 600 MB however many
# uploads arrive together (docs/PERFORMANCE.md, "Upload memory").
DECODE_SLOTS = 2
# How long an upload waits for a free slot before it is answered "busy, try again":
# longer than two decodes of the largest image take on a busy machine.
DECODE_WAIT_SECONDS = 10.0
# Memory one full decode may take at its peak: a 50-megapixel RGB PNG fits; a mode that
# needs a converted copy (transparency, palette) fits up to about 27 megapixels, a
# WebP up to about 15. JPEGs are decoded at a reduced scale and never come near it.
DECODE_BUDGET_BYTES = 240 * 1024 * 1024
# Peak bytes per pixel of a full decode by the mode Pillow decodes to, as measured
# (docs/PERFORMANCE.md): Pillow keeps every multi-band pixel in 4 bytes, a mode that is
# converted for encoding holds the decoded image and its copy at once, WebP also holds
# libwebp's frame and a copy of it, and a rotation holds the image twice.
_PEAK_BYTES_PER_PIXEL = {"1": 5, "L": 2, "P": 9, "I;16": 6, "I;16B": 6, "I": 8, "F": 8, "LA": 8, "RGB": 5, "RGBA": 9,
                         "CMYK": 8, "YCbCr": 8}
_WEBP_EXTRA_BYTES_PER_PIXEL = 12
_ROTATION_EXTRA_BYTES_PER_PIXEL = 4


# An upload: its bytes, or the path of the file it was spooled to.
ImageSource = bytes | str | os.PathLike[str]


@dataclass(frozen=True)
class ProcessedImage:
    original: bytes          # clean, full size
    original_ext: str        # "jpg" or "png"
    display: bytes           # JPEG, longest side <= DISPLAY_SIZE
    thumb: bytes             # JPEG, longest side <= THUMB_SIZE
    width: int               # after orientation
    height: int
    dhash: int               # 64-bit difference hash, for near-duplicates


@dataclass(frozen=True)
class _Header:
    kind: str
    size: tuple[int, int]    # as stored, before orientation
    mode: str
    orientation: int


class ImageDecoder:
    """Runs image intake with at most `slots` decodes at a time in this process (None:
    no bound), each within `budget_bytes` of pixels. The app factory makes one per
    process (`app.extensions["image_decoder"]`); its threads share it."""

    def __init__(self, slots: int | None = DECODE_SLOTS, *, wait_seconds: float = DECODE_WAIT_SECONDS,
                 budget_bytes: int = DECODE_BUDGET_BYTES) -> None:
        if slots is not None and slots < 1:
            raise ValueError("an image decoder needs at least one slot")
        self.slots = slots
        self.wait_seconds = wait_seconds
        self.budget_bytes = budget_bytes
        self._semaphore = threading.BoundedSemaphore(slots) if slots is not None else None

    def process(self, source: ImageSource, *, min_width: int = 0, min_height: int = 0,
                max_bytes: int = MAX_BYTES) -> ProcessedImage:
        """Validate an uploaded image by its content and return its clean original and renditions.

        `source` is the file's bytes or, better, its path: a file waiting for a slot is
        then not held in memory, and only its header is read before the slot is taken.
        """
        header = _read_header(source, max_bytes)
        _check_resolution(header.size, header.orientation, min_width, min_height)
        if header.kind != "jpeg":
            self._check_budget(header)
        with self.slot(), _decode_errors():
            data = source if isinstance(source, bytes) else Path(source).read_bytes()
            if header.kind == "jpeg":
                clean = _lossless_original(data, header.orientation)
                if clean is not None:
                    del data
                    return _from_clean_jpeg(clean, header)
                self._check_budget(header)
            return _reencoded(data)

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
        per_pixel = _PEAK_BYTES_PER_PIXEL.get(header.mode, 9)
        if header.kind == "webp":
            per_pixel += _WEBP_EXTRA_BYTES_PER_PIXEL
        if header.orientation != 1:
            per_pixel += _ROTATION_EXTRA_BYTES_PER_PIXEL
        if width * height * per_pixel > self.budget_bytes:
            # The longer side that would fit, keeping the picture's proportions.
            side = math.floor(max(width, height) * math.sqrt(self.budget_bytes / per_pixel / (width * height)))
            raise PayloadTooLarge(
                _("这张图片尺寸太大（%(w)s×%(h)s），无法处理：请把长边缩小到 %(side)s 像素以内，或转为 JPEG 后上传。",
                  w=width, h=height, side=side),
                code="image_too_large_to_decode",
            )


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


@contextmanager
def _decode_errors() -> Iterator[None]:
    # Pillow warns between its own pixel limit and twice that, and errors above; ours is
    # lower and checked first, so these only come from a file that lies about itself.
    try:
        yield
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PayloadTooLarge(_("图片像素过多，请压缩到 5000 万像素以内。"), code="too_many_pixels") from None
    except (OSError, SyntaxError, ValueError, UnidentifiedImageError, EOFError):
        raise _broken() from None


def _opened(source: ImageSource) -> Image.Image:
    return Image.open(io.BytesIO(source) if isinstance(source, bytes) else source)


def _read_header(source: ImageSource, max_bytes: int) -> _Header:
    """What the file says it is, read without decoding (nor reading a file into memory)."""
    if isinstance(source, bytes):
        size, head = len(source), source[:64]
    else:
        with open(source, "rb") as fh:
            size, head = os.fstat(fh.fileno()).st_size, fh.read(64)
    if not size:
        raise Unprocessable(_("文件是空的，请重新选择图片。"), code="empty_file")
    if size > max_bytes:
        raise PayloadTooLarge(_("图片太大了（最大 %(mb)s MB）。", mb=max_bytes // (1024 * 1024)), code="file_too_large")
    kind = sniff(head)
    if kind not in ACCEPTED:
        raise _unsupported()
    with _decode_errors():
        # verify() reads the whole file's structure (PNG checksums) without decoding; it
        # leaves the image unusable, hence the second open for the header.
        with _opened(source) as probe:
            if probe.format not in _FORMATS[kind]:
                raise _unsupported()
            if probe.width * probe.height > MAX_PIXELS:
                raise Image.DecompressionBombError("too many pixels")
            probe.verify()
        with _opened(source) as image:
            orientation = image.getexif().get(ORIENTATION_TAG, 1) if kind == "jpeg" else 1
            if not isinstance(orientation, int) or not 1 <= orientation <= 8:
                orientation = 1  # what viewers do with a value they do not know
            return _Header(kind, image.size, image.mode, orientation)


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

def _from_clean_jpeg(clean: bytes, header: _Header) -> ProcessedImage:
    """Renditions decoded from the clean copy at a reduced scale (libjpeg's DCT scaling)."""
    with Image.open(io.BytesIO(clean)) as image:
        if image.size != header.size:
            raise _broken()
        image.draft("RGB", (DISPLAY_SIZE, DISPLAY_SIZE))
        image.load()
        ImageOps.exif_transpose(image, in_place=True)
        display_image = _resized(image, DISPLAY_SIZE)
    width, height = _oriented_size(header.size, header.orientation)
    return _with_renditions(display_image, clean, "jpg", width, height)


def _reencoded(data: bytes) -> ProcessedImage:
    """A full decode, re-encoded: the pixels alone survive."""
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        ImageOps.exif_transpose(image, in_place=True)
        flat = _flatten(image)
        if flat is not image:
            image.close()  # free the decoded pixels before the converted copy is encoded
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
    display_image.close()
    return ProcessedImage(original=original, original_ext=ext, display=display, thumb=_encode_jpeg(thumb_image),
                          width=width, height=height, dhash=dhash(thumb_image))


def _flatten(image: Image.Image) -> Image.Image:
    """RGB (or RGBA when the image really has transparency); the image itself when it is
    already one of those."""
    if image.mode in ("RGB", "L"):
        return image
    # The alpha band is examined before any conversion, so at most two full-size
    # copies exist at once (the decoded image and the converted one).
    if image.mode in ("RGBA", "LA"):
        opaque = image.getextrema()[-1][0] == 255
        if image.mode == "RGBA":
            return image.convert("RGB") if opaque else image
        return image.convert("L") if opaque else image.convert("RGBA")
    if image.mode == "P" and "transparency" in image.info:
        rgba = image.convert("RGBA")
        if rgba.getextrema()[3][0] < 255:
            return rgba
        rgb = rgba.convert("RGB")
        rgba.close()
        return rgb
    return image.convert("RGB")


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


# --- the lossless JPEG copy -------------------------------------------------------------

class _NotCopyable(Exception):
    """The JPEG's structure is outside what the lossless copy handles (or it is broken)."""


_SOI, _EOI, _SOS, _DHT, _DQT, _DRI, _APP0, _APP14, _COM = 0xD8, 0xD9, 0xDA, 0xC4, 0xDB, 0xDD, 0xE0, 0xEE, 0xFE
# Frames of the Huffman-coded processes libjpeg decodes: baseline, extended, progressive.
# Lossless, hierarchical and arithmetic-coded files are rare enough to be re-encoded.
_FRAMES = {0xC0, 0xC1, 0xC2}


def strip_jpeg_metadata(data: bytes, orientation: int = 1) -> bytes:
    """The first image of a JPEG file without metadata: its frame, tables and compressed
    scans copied as is up to its end-of-image marker, behind a rebuilt JFIF or Adobe
    header and (for orientation 2–8) an Exif block holding the orientation alone."""
    try:
        return _copy_jpeg(data, orientation)
    except _NotCopyable:
        raise _broken() from None


def _lossless_original(data: bytes, orientation: int) -> bytes | None:
    """The clean copy, or None when this JPEG has to be decoded and re-encoded."""
    try:
        clean = _copy_jpeg(data, orientation)
    except _NotCopyable:
        return None
    # The copy must read back as itself: one frame, whole scans, nothing after the end.
    if _copy_jpeg(clean, orientation) != clean:
        return None
    return clean


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
    stuffed 0xFF00, not a restart marker RSTn, counting 0xFF fill bytes into the marker)."""
    size = len(data)
    while True:
        start = data.find(b"\xff", pos)
        if start < 0:
            raise _NotCopyable  # no end-of-image: truncated
        code_at = start + 1
        while code_at < size and data[code_at] == 0xFF:
            code_at += 1
        if code_at >= size:
            raise _NotCopyable
        code = data[code_at]
        if code == 0x00 or 0xD0 <= code <= 0xD7:
            pos = code_at + 1
            continue
        return start


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
