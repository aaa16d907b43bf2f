"""Serving stored media: only valid stored keys, cached for ever, stripped of metadata."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from contest.extensions import db
from contest.media.models import MediaItem
from contest.media.service import attach_image
from contest.media.storage import make_key
from tests.video_entries import add_video

GPS_IFD = 34853


def image_with_gps(size: tuple[int, int] = (120, 80)) -> Image.Image:
    """A decoded JPEG that carries EXIF with a GPS position, as a phone photo does."""
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[GPS_IFD] = {1: "N", 2: (36.0, 40.0, 12.5), 3: "E", 4: (117.0, 0.0, 30.0)}
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 40, 40)).save(buffer, "JPEG", exif=exif.tobytes())
    buffer.seek(0)
    return Image.open(buffer)


@pytest.fixture
def stored(app, make_contest, make_entry):  # type: ignore[no-untyped-def]
    entry = make_entry(make_contest())
    source = image_with_gps()
    assert source.getexif().get_ifd(GPS_IFD)  # the source really carries a position
    item = attach_image(db.session, app.extensions["storage"], entry=entry, image=source, now=entry.created_at)
    db.session.commit()
    return item


def test_invalid_keys_are_404(reading_client):
    for key in ("nothing", "a" * 64, "A" * 64 + ".jpg", "g" * 64 + ".jpg", "a" * 63 + ".jpg", "a" * 64 + ".j",
                "a" * 64 + ".jpeg1", "..%2F..%2Fsecret_key"):
        response = reading_client.get(f"/media/{key}")
        assert response.status_code == 404, key
        assert "页面不存在" in response.get_data(as_text=True), key
    # a control character in any path is refused before routing (contest/input_guard.py)
    response = reading_client.get("/media/" + "a" * 64 + ".jpg%00")
    assert response.status_code == 400
    assert "提交的内容里有无法识别的隐藏字符，请删除后重新输入。" in response.get_data(as_text=True)


def test_a_valid_key_that_is_not_stored_is_404(reading_client):
    assert reading_client.get(f"/media/{make_key(b'never stored', 'jpg')}").status_code == 404


def test_path_traversal_is_404(reading_app, reading_client):
    root = reading_app.extensions["storage"].root
    root.mkdir(parents=True, exist_ok=True)
    (root / "secret.txt").write_text("secret")
    (root.parent / "secret.txt").write_text("secret")
    for path in ("/media/secret.txt", "/media/../secret.txt", "/media/%2e%2e/secret.txt", "/media/..%2Fsecret.txt"):
        assert reading_client.get(path).status_code == 404, path


def test_a_stored_image_is_served_with_an_immutable_cache(client, stored):
    response = client.get(f"/media/{stored.original_key}")
    assert response.status_code == 200
    assert response.mimetype == "image/jpeg"
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    with Image.open(io.BytesIO(response.data)) as served:
        assert served.format == "JPEG"
        assert served.size == (120, 80)


def test_the_key_is_the_hash_of_the_served_bytes(client, stored):
    for key in (stored.original_key, stored.display_key, stored.thumb_key):
        data = client.get(f"/media/{key}").data
        assert make_key(data, "jpg") == key


def test_served_images_carry_no_exif(client, stored):
    for key in (stored.original_key, stored.display_key, stored.thumb_key):
        with Image.open(io.BytesIO(client.get(f"/media/{key}").data)) as served:
            assert dict(served.getexif()) == {}, key
            assert "exif" not in served.info and "icc_profile" not in served.info


def test_attach_image_makes_renditions_and_sets_the_cover(app, make_contest, make_entry):
    entry = make_entry(make_contest())
    storage = app.extensions["storage"]
    item = attach_image(db.session, storage, entry=entry, image=Image.new("RGB", (3200, 1800), "blue"),
                        now=entry.created_at, caption="泉城广场")
    db.session.commit()
    assert (item.width, item.height) == (3200, 1800)
    assert entry.cover_key == item.thumb_key
    with storage.open(item.display_key) as fh, Image.open(fh) as display:
        assert display.size == (1600, 900)
    with storage.open(item.thumb_key) as fh, Image.open(fh) as thumb:
        assert thumb.size == (400, 225)
    assert item.alt_text == "泉城广场"
    assert db.session.get(MediaItem, item.id) is not None
    # a second image does not replace the cover
    second = attach_image(db.session, storage, entry=entry, image=Image.new("RGB", (500, 500), "green"),
                          now=entry.created_at, position=1)
    db.session.commit()
    assert entry.cover_key == item.thumb_key != second.thumb_key


def test_conditional_request_is_304(client, stored):
    first = client.get(f"/media/{stored.thumb_key}")
    again = client.get(f"/media/{stored.thumb_key}", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304


def test_a_stored_video_answers_range_requests_with_the_exact_bytes(app, client, make_contest, make_entry):
    # Browsers fetch a video in ranges (first the index, then where the viewer seeks);
    # Safari plays nothing from a server that ignores them.
    item = add_video(app, make_entry(make_contest()))
    stored = app.extensions["storage"].path(item.original_key).read_bytes()
    url = f"/media/{item.original_key}"

    whole = client.get(url)
    assert whole.status_code == 200 and whole.mimetype == "video/mp4"
    assert whole.headers["Accept-Ranges"] == "bytes"
    assert "attachment" not in whole.headers.get("Content-Disposition", "")  # played in the page, not downloaded
    assert whole.data == stored

    middle = client.get(url, headers={"Range": "bytes=1000-4999"})
    assert middle.status_code == 206 and middle.mimetype == "video/mp4"
    assert middle.headers["Content-Range"] == f"bytes 1000-4999/{len(stored)}"
    assert middle.headers["Content-Length"] == "4000"
    assert middle.data == stored[1000:5000]

    tail = client.get(url, headers={"Range": "bytes=-500"})
    assert tail.status_code == 206 and tail.data == stored[-500:]
    assert tail.headers["Content-Range"] == f"bytes {len(stored) - 500}-{len(stored) - 1}/{len(stored)}"

    beyond = client.get(url, headers={"Range": f"bytes={len(stored) + 10}-"})
    assert beyond.status_code == 416
    assert beyond.headers["Content-Range"] == f"bytes */{len(stored)}"

    # A range on a cached copy that is still current (If-Range with its ETag) is a range too.
    again = client.get(url, headers={"Range": "bytes=0-99", "If-Range": whole.headers["ETag"]})
    assert again.status_code == 206 and again.data == stored[:100]
