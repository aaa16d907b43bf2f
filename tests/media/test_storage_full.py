"""A full disk: the storage root of the test app is a 1 MB tmpfs, and a photo whose
clean original is larger than that is sent. The answer is 503 with a clear message and
Retry-After; no row was written, no partial file is left, nothing points at a missing file."""

from __future__ import annotations

import io
import os
import random
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from PIL import Image

from contest.contests.models import Entry
from contest.media.models import MediaItem, QuotaSlot
from tests.media.conftest import count, intact, leftovers, media_root, page, photo_entry, send, stored_files, submit_url, upload

FULL = "服务器存储空间不足，您提交的内容没有保存，请稍后再试。"


@pytest.fixture
def tiny_disk(app: Flask) -> Iterator[Path]:
    """The app's storage root on a 1 MB tmpfs, unmounted afterwards."""
    root = media_root(app)
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(root)], check=True)
    try:
        yield root
    finally:
        subprocess.run(["umount", str(root)], check=True)


def noisy_jpeg(width: int = 1920, height: int = 1080) -> bytes:
    """A photo that compresses badly: well over 1 MB as a JPEG."""
    rng = random.Random(7)
    image = Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=95)
    return out.getvalue()


def test_a_full_disk_is_a_clear_503_and_leaves_nothing(app, client, citizen, media_contest, tiny_disk):
    photo = noisy_jpeg()
    assert len(photo) > 1024 * 1024
    response = send(client, submit_url(media_contest), photo_entry(media_contest, photos=[upload(photo, "big.jpg", "image/jpeg")]))
    assert response.status_code == 503, page(response)[:1500]
    assert FULL in page(response)
    assert int(response.headers["Retry-After"]) >= 590
    assert count(Entry) == 0 and count(MediaItem) == 0 and count(QuotaSlot) == 0
    assert leftovers(app) == [] and intact(app)
    assert stored_files(app) == []
    assert os.statvfs(tiny_disk).f_bfree > 0.9 * os.statvfs(tiny_disk).f_blocks  # the half-written copy is gone


def test_after_a_full_disk_a_photo_that_fits_goes_in(app, client, citizen, media_contest, tiny_disk):
    assert send(client, submit_url(media_contest), photo_entry(
        media_contest, photos=[upload(noisy_jpeg(), "big.jpg", "image/jpeg")])).status_code == 503
    response = send(client, submit_url(media_contest), photo_entry(media_contest))
    assert response.status_code == 302, page(response)[:1500]
    assert count(Entry) == 1 and count(MediaItem) == 1
    assert intact(app) and len(stored_files(app)) == 6  # original, display, thumbnail, 3 widths
