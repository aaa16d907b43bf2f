"""What the public gets back from a photo upload: the original and renditions served at
/media/<key> carry no Exif, no GPS, no second image and nothing after the end of the
image, whatever the phone or the uploader packed into the file."""

from __future__ import annotations

import io
import zipfile

import pytest
from PIL import Image, ImageOps
from sqlalchemy import select

from contest.extensions import db
from contest.media.models import MediaItem
from tests.media.conftest import entries, nominee_entry, page, photo_entry, send, submit_url, upload
from tests.media.jpeg_files import (
    LEAKS,
    assert_clean_jpeg,
    encoded,
    multi_picture,
    phone_exif,
    photo,
    polyglot,
    progressive,
    scans_of,
    stuffed,
    with_restarts,
    zip_archive,
)

FILES = {
    "gps": lambda image: encoded(image, "JPEG", quality=90, exif=phone_exif()),
    "multi_picture": multi_picture,
    "zip_polyglot": polyglot,
    "progressive": progressive,
    "restart_markers": with_restarts,
}


def served(client, key: str) -> bytes:  # type: ignore[no-untyped-def]
    response = client.get(f"/media/{key}")
    assert response.status_code == 200
    return response.get_data()


def stored_items(entry_id: int) -> list[MediaItem]:
    return list(db.session.scalars(select(MediaItem).where(MediaItem.entry_id == entry_id).order_by(MediaItem.position)))


@pytest.mark.parametrize("name", FILES)
def test_every_served_file_of_a_photo_is_clean(client, citizen, media_contest, name):
    source = FILES[name](photo(seed=len(name)))
    assert any(needle in source for needle in LEAKS)  # the upload does carry something
    response = send(client, submit_url(media_contest), photo_entry(media_contest, photos=[upload(source, "p.jpg", "image/jpeg")]))
    assert response.status_code == 302, page(response)[:2000]
    [item] = stored_items(entries()[0].id)
    assert (item.width, item.height, item.content_type) == (1920, 1080, "image/jpeg")
    for key in (item.original_key, item.display_key, item.thumb_key):
        assert_clean_jpeg(served(client, key))
    assert len(item.rendition_keys()) == 3
    for key in item.rendition_keys().values():  # the WebP width renditions: pixels only
        data = served(client, key)
        assert data[:4] == b"RIFF" and data[8:12] == b"WEBP"
        assert not any(needle in data for needle in (*LEAKS, b"EXIF", b"XMP ", b"ICCP"))
    # The original is the photo itself, not a re-encoded copy of it.
    with Image.open(io.BytesIO(source)) as uploaded, Image.open(io.BytesIO(served(client, item.original_key))) as kept:
        assert kept.tobytes() == uploaded.tobytes()


@pytest.mark.parametrize("orientation", [6, 8])
def test_a_rotated_photo_keeps_only_its_orientation(client, citizen, media_contest, orientation):
    source = encoded(photo((1920, 1080)), "JPEG", quality=90, exif=phone_exif(orientation)) + polyglot(photo(seed=4))
    response = send(client, submit_url(media_contest), photo_entry(media_contest, photos=[upload(source, "r.jpg", "image/jpeg")]))
    assert response.status_code == 302, page(response)[:2000]
    [item] = stored_items(entries()[0].id)
    assert (item.width, item.height) == (1080, 1920)
    original = served(client, item.original_key)
    assert_clean_jpeg(original, orientation=orientation)
    with Image.open(io.BytesIO(original)) as kept:
        assert ImageOps.exif_transpose(kept).size == (1080, 1920)
    for key in (item.display_key, item.thumb_key):
        data = served(client, key)
        assert_clean_jpeg(data)
        with Image.open(io.BytesIO(data)) as rendition:
            assert rendition.height > rendition.width  # turned upright, not merely labelled


def test_a_nominee_photo_from_a_multi_picture_file_is_clean(client, contact, selection_contest):
    source = multi_picture(photo((800, 600), seed=6))
    data = nominee_entry(selection_contest, photos=[upload(source, "p.jpg", "image/jpeg")])
    response = send(client, submit_url(selection_contest), data)
    assert response.status_code == 302, page(response)[:2000]
    [item] = [i for i in stored_items(entries()[0].id) if i.kind == "image"]
    for key in (item.original_key, item.display_key, item.thumb_key):
        assert_clean_jpeg(served(client, key))


SECRET = b"GPS:36.6512N,117.1201E;home=Building 3 Room 402;phone=13800000000"


def hidden_in_the_scans(image: Image.Image, payload: bytes) -> bytes:
    """A JPEG carrying `payload` inside its entropy-coded data: after the first scan of a
    progressive file and again just before the end-of-image marker, where a decoder
    passes over it as "extraneous bytes" and a viewer shows the picture as usual."""
    data = encoded(image, "JPEG", quality=90, progressive=True)
    between = scans_of(data)[1][0]
    return data[:between] + payload + data[between:-2] + payload + data[-2:]


@pytest.mark.parametrize("payload", [stuffed(SECRET), zip_archive()], ids=["text", "zip"])
def test_bytes_hidden_inside_the_scans_are_not_served(client, citizen, media_contest, payload):
    assert b"\xff" not in zip_archive()  # a stored ZIP sits in the entropy data as it is
    picture = photo(seed=9)
    source = hidden_in_the_scans(picture, payload)
    with Image.open(io.BytesIO(source)) as uploaded:
        uploaded.load()  # a whole, viewable photo
    response = send(client, submit_url(media_contest), photo_entry(media_contest, photos=[upload(source, "p.jpg", "image/jpeg")]))
    assert response.status_code == 302, page(response)[:2000]
    [item] = stored_items(entries()[0].id)
    original = served(client, item.original_key)
    assert_clean_jpeg(original)
    assert SECRET not in original and b"PK\x03\x04" not in original and b"payload.html" not in original
    assert not zipfile.is_zipfile(io.BytesIO(original))
    with Image.open(io.BytesIO(source)) as uploaded, Image.open(io.BytesIO(original)) as kept:
        assert kept.tobytes() == uploaded.tobytes()
