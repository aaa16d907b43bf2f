"""JPEG files as phones and tools really make them, built with Pillow, for the tests of
what the clean original keeps: GPS Exif, multi-picture files, ZIP polyglots,
progressive scans, restart markers, comments and thumbnails."""

from __future__ import annotations

import io
import zipfile

from PIL import Image, ImageDraw, ImageFilter

GPS = 34853


def photo(size: tuple[int, int] = (1920, 1080), seed: int = 0) -> Image.Image:
    image = Image.new("RGB", size, (40 + seed * 20 % 200, 90, 150))
    draw = ImageDraw.Draw(image)
    for i in range(0, size[0], 60):
        draw.ellipse((i, (i * (seed + 3)) % size[1], i + 180, (i * (seed + 3)) % size[1] + 120), fill=(i % 255, 200 - seed * 30 % 200, 60))
    return image.filter(ImageFilter.SMOOTH)


def phone_exif(orientation: int | None = None) -> bytes:
    """Exif as a phone writes it: maker, model and a GPS position (Jinan)."""
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif[0x0110] = "Model X"
    exif[GPS] = {1: "N", 2: (36.0, 40.0, 1.0), 3: "E", 4: (117.0, 1.0, 2.0)}
    if orientation:
        exif[0x0112] = orientation
    return exif.tobytes()


def encoded(image: Image.Image, fmt: str, **options) -> bytes:  # type: ignore[no-untyped-def]
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + (len(payload) + 2).to_bytes(2, "big") + payload


def after_soi(data: bytes, *segments: bytes) -> bytes:
    return data[:2] + b"".join(segments) + data[2:]


def multi_picture(primary: Image.Image, seed: int = 3) -> bytes:
    """A phone's multi-picture photo: an APP2 "MPF" index, GPS Exif, and a second JPEG
    (with the same Exif) after the first image's end."""
    return encoded(primary, "MPO", save_all=True, append_images=[photo((640, 480), seed=seed)], exif=phone_exif(), quality=90)


def zip_archive() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        # A fixed date: the archive's bytes never hold 0xFF (it can sit in entropy data as is).
        archive.writestr(zipfile.ZipInfo("payload.html", date_time=(2023, 5, 14, 9, 0, 0)), "<script>alert(1)</script>")
    return out.getvalue()


def polyglot(image: Image.Image) -> bytes:
    """A JPEG that is also a ZIP archive (a ZIP reader looks at the end of the file)."""
    data = encoded(image, "JPEG", quality=90, exif=phone_exif()) + zip_archive()
    assert zipfile.is_zipfile(io.BytesIO(data))
    return data


def progressive(image: Image.Image) -> bytes:
    """A progressive JPEG (several scans, tables between them), a second image appended."""
    data = encoded(image, "JPEG", quality=90, progressive=True, exif=phone_exif())
    assert data.count(b"\xff\xda") > 2
    return data + encoded(photo((320, 240), seed=2), "JPEG", exif=phone_exif())


def with_restarts(image: Image.Image) -> bytes:
    """A JPEG with a restart marker after every row of blocks, a ZIP appended."""
    data = encoded(image, "JPEG", quality=90, restart_marker_rows=1, exif=phone_exif())
    assert b"\xff\xd0" in data and b"\xff\xdd" in data
    return data + zip_archive()


LEAKS = (b"Exif", b"MPF", b"PhoneMaker", b"Model X", b"PK\x03\x04", b"PK\x05\x06", b"JFXX", b"ns.adobe.com", b"secret")


def assert_clean_jpeg(data: bytes, *, orientation: int = 1) -> None:
    """One image ending at its end-of-image marker, nothing but pixels around it (and,
    for a rotated photo, an Exif block holding the orientation alone)."""
    assert data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9"
    assert data.count(b"\xff\xd8") == 1 and data.count(b"\xff\xd9") == 1
    for needle in LEAKS:
        assert needle not in data or (needle == b"Exif" and orientation != 1)
    assert not zipfile.is_zipfile(io.BytesIO(data))
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        assert dict(image.getexif()) == ({0x0112: orientation} if orientation != 1 else {})
        assert "icc_profile" not in image.info and "comment" not in image.info


def scripted_scans(image: Image.Image, script: str) -> bytes:
    """A JPEG whose scans follow `script` (jpegtran's -scans format: "components: Ss Se Ah Al;")."""
    import subprocess
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".txt") as scans:
        scans.write(script)
        scans.flush()
        result = subprocess.run(["jpegtran", "-scans", scans.name], input=encoded(image, "JPEG", quality=90),
                                capture_output=True, check=True)
    return result.stdout


def one_scan_per_coefficient(dc_bits: int = 0) -> str:
    """A valid progression for one component: the DC coefficient in `dc_bits` + 1 passes
    (first pass, then one bit at a time), then each AC coefficient in a scan of its own."""
    dc = [f"0: 0 0 0 {dc_bits};"] + [f"0: 0 0 {bit} {bit - 1};" for bit in range(dc_bits, 0, -1)]
    return "\n".join(dc + [f"0: {k} {k} 0 0;" for k in range(1, 64)]) + "\n"


def scans_of(data: bytes) -> list[tuple[int, int]]:
    """Each scan's (start, end): its SOS marker up to the marker after its entropy-coded data."""
    spans, pos = [], data.find(b"\xff\xda")
    while pos >= 0:
        end = pos + 2 + int.from_bytes(data[pos + 2:pos + 4], "big")
        while True:
            end = data.find(b"\xff", end)
            if data[end + 1] == 0 or 0xD0 <= data[end + 1] <= 0xD7:
                end += 2
                continue
            break
        spans.append((pos, end))
        pos = data.find(b"\xff\xda", end)
    return spans


def stuffed(payload: bytes) -> bytes:
    """Bytes as they would sit inside entropy-coded data (each 0xFF followed by 0x00)."""
    return payload.replace(b"\xff", b"\xff\x00")
