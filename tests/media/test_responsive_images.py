"""Responsive images: every photo gets renditions 400, 800 and 1600 px wide (WebP) with
nothing but pixels in them, pages offer them in `srcset` with a JPEG fallback, lazy below
the first picture, and photos stored before them keep showing until `flask media
renditions` makes theirs."""

from __future__ import annotations

import io
import re

from PIL import Image, ImageDraw, ImageFilter, features
from sqlalchemy import select

from contest.extensions import db
from contest.media.models import MediaItem
from contest.media.service import attach_image
from tests.media.conftest import entries, page, photo_entry, send, submit_url, upload
from tests.media.jpeg_files import LEAKS, encoded, phone_exif, photo

PICTURE = re.compile(r"<picture>(.*?)</picture>", re.S)


def textured(size: tuple[int, int], seed: int = 1) -> Image.Image:
    """A picture with a phone photo's detail: noise over shapes, not flat colour."""
    image = photo(size, seed=seed)
    noise = Image.effect_noise(size, 40).convert("RGB")
    image = Image.blend(image, noise, 0.25)
    draw = ImageDraw.Draw(image)
    for i in range(0, size[0], 37):
        draw.line((i, 0, size[0] - i, size[1]), fill=(i % 256, 255 - i % 256, 128), width=3)
    return image.filter(ImageFilter.SHARPEN)


def served(client, key: str) -> bytes:  # type: ignore[no-untyped-def]
    response = client.get(f"/media/{key}")
    assert response.status_code == 200
    return response.get_data()


def renditions_of(client, item: MediaItem) -> dict[int, Image.Image]:  # type: ignore[no-untyped-def]
    opened = {}
    for slot, key in item.rendition_keys().items():
        with Image.open(io.BytesIO(served(client, key))) as image:
            image.load()
            opened[slot] = image
    return opened


def test_an_upload_gets_webp_renditions_400_800_and_1600_wide_with_no_metadata(client, citizen, media_contest):
    assert features.check("webp")
    source = encoded(textured((3000, 2000)), "JPEG", quality=92, exif=phone_exif())
    response = send(client, submit_url(media_contest), photo_entry(media_contest, photos=[upload(source, "p.jpg", "image/jpeg")]))
    assert response.status_code == 302, page(response)[:2000]
    [item] = db.session.scalars(select(MediaItem).where(MediaItem.entry_id == entries()[0].id))
    images = renditions_of(client, item)
    assert {slot: image.size for slot, image in images.items()} == {400: (400, 267), 800: (800, 534), 1600: (1600, 1067)}
    for slot, key in item.rendition_keys().items():
        data = served(client, key)
        assert client.get(f"/media/{key}").mimetype == "image/webp"
        assert images[slot].format == "WEBP"
        assert not images[slot].getexif() and not {"exif", "icc_profile", "xmp"} & set(images[slot].info)
        assert not any(needle in data for needle in LEAKS)
        assert b"EXIF" not in data and b"XMP " not in data and b"ICCP" not in data  # no WebP metadata chunk


def test_a_portrait_photo_is_never_widened(client, citizen, media_contest):
    source = encoded(photo((1080, 1920)), "JPEG", quality=90)
    assert send(client, submit_url(media_contest), photo_entry(media_contest, photos=[upload(source, "p.jpg", "image/jpeg")])).status_code == 302
    [item] = db.session.scalars(select(MediaItem).where(MediaItem.entry_id == entries()[0].id))
    # The display rendition is 900×1600: the widest rendition is as wide as it.
    assert {slot: image.size for slot, image in renditions_of(client, item).items()} == {
        400: (400, 711), 800: (800, 1422), 1600: (900, 1600)}


def test_a_small_picture_has_one_rendition_at_its_own_width(app, client, make_contest, make_entry, clock):
    entry = make_entry(make_contest(), title="小图")
    item = attach_image(db.session, app.extensions["storage"], entry=entry, image=Image.new("RGB", (300, 200), "teal"),
                        now=clock.now())
    db.session.commit()
    assert {slot: image.size for slot, image in renditions_of(client, item).items()} == {400: (300, 200)}
    assert (item.w800_key, item.w1600_key) == ("", "")


def test_a_card_rendition_is_much_lighter_than_the_card_image_before(client, citizen, media_contest):
    source = encoded(textured((4000, 3000), seed=3), "JPEG", quality=92)
    assert send(client, submit_url(media_contest), photo_entry(media_contest, photos=[upload(source, "p.jpg", "image/jpeg")])).status_code == 302
    [item] = db.session.scalars(select(MediaItem).where(MediaItem.entry_id == entries()[0].id))
    card_webp = len(served(client, item.w400_key))
    card_jpeg = len(served(client, item.thumb_key))   # the same 400 px, as a JPEG
    display = len(served(client, item.display_key))   # what a page showed for a photo before
    assert card_webp < 0.8 * card_jpeg
    assert card_webp < display / 8


def _photos(app, entry, clock, sizes, seed=0):  # type: ignore[no-untyped-def]
    items = [attach_image(db.session, app.extensions["storage"], entry=entry, image=photo(size, seed=seed + i),
                          now=clock.now(), position=i) for i, size in enumerate(sizes)]
    db.session.commit()
    return items


def srcset_of(item: MediaItem) -> str:
    widths = {400: 400, 800: 800, 1600: 1600}
    return ", ".join(f"/media/{key} {widths[slot]}w" for slot, key in item.rendition_keys().items())


def test_the_entry_page_offers_renditions_lazily_after_the_first(app, client, make_contest, make_entry, clock):
    contest = make_contest()
    entry = make_entry(contest, title="灯下")
    first, second = _photos(app, entry, clock, [(1920, 1080), (2400, 1600)])
    html = client.get(f"/c/{contest.slug}/entries/{entry.id}").get_data(as_text=True)
    main = html.split("<main", 1)[1]
    one, two = PICTURE.findall(main)
    for picture, item in ((one, first), (two, second)):
        assert f'<source type="image/webp" srcset="{srcset_of(item)}" sizes="(min-width: 1120px) 540px, (min-width: 720px) 50vw, 100vw">' in picture
        # The JPEG fallback: the thumbnail and display renditions, never the original.
        assert f'src="/media/{item.display_key}" srcset="/media/{item.thumb_key} 400w, /media/{item.display_key} 1600w"' in picture
        assert item.original_key not in picture
        assert f'width="{item.width}" height="{item.height}"' in picture
    assert 'fetchpriority="high"' in one and 'loading="lazy"' not in one
    assert 'loading="lazy" decoding="async"' in two and "fetchpriority" not in two


def test_gallery_cards_offer_renditions(app, client, make_contest, make_entry, clock):
    contest = make_contest()
    items = [_photos(app, make_entry(contest, title=f"作品{i}"), clock, [(2000, 1250)], seed=i)[0]
             for i in range(3)]
    html = client.get(f"/c/{contest.slug}/entries").get_data(as_text=True).split("<main", 1)[1]
    pictures = PICTURE.findall(html)
    assert len(pictures) == 3
    for item in items:
        [picture] = [p for p in pictures if item.w400_key in p]
        assert f'srcset="{srcset_of(item)}" sizes="(min-width: 1000px) 270px, (min-width: 720px) 33vw, 50vw"' in picture
        assert f'<img src="/media/{item.thumb_key}" srcset="/media/{item.thumb_key} 400w, /media/{item.display_key} 1600w"' in picture
        assert 'width="400" height="250"' in picture and item.original_key not in picture
    assert 'fetchpriority="high"' in pictures[0]
    assert all('loading="lazy" decoding="async"' in p for p in pictures[1:])


def test_photos_stored_before_renditions_still_show_and_get_them_from_the_command(app, client, runner, make_contest,
                                                                                 make_entry, clock):
    contest = make_contest()
    entry = make_entry(contest, title="旧作品")
    [item] = _photos(app, entry, clock, [(1920, 1080)])
    item.set_rendition_keys({})
    db.session.commit()
    for url in (f"/c/{contest.slug}/entries/{entry.id}", f"/c/{contest.slug}/entries"):
        response = client.get(url)
        assert response.status_code == 200
        [picture] = PICTURE.findall(response.get_data(as_text=True).split("<main", 1)[1])
        assert "<source" not in picture and f"/media/{item.thumb_key} 400w" in picture

    done = runner.invoke(args=["media", "renditions"])
    assert done.exit_code == 0, done.output
    assert "made 1, failed 0, left 0" in done.output
    db.session.refresh(item)
    assert {slot: image.size for slot, image in renditions_of(client, item).items()} == {
        400: (400, 225), 800: (800, 450), 1600: (1600, 900)}
    html = client.get(f"/c/{contest.slug}/entries/{entry.id}").get_data(as_text=True)
    assert f'<source type="image/webp" srcset="{srcset_of(item)}"' in html
    again = runner.invoke(args=["media", "renditions"])
    assert "made 0, failed 0, left 0" in again.output
