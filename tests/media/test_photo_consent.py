"""A nominee's 公开照片 choice: without it no public surface (entry page, gallery,
leaderboard, API, share page and poster, results) shows or names any of the entry's
photos or its video, and the pages show the placeholder instead; with it they do. Judges,
organisers and the school still see everything.

The keys looked for are read from the database (every storage key of the entry's media
and its cover), so a surface that starts to emit any of them, in any form, fails here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import select

from contest.accounts.actors import SYSTEM
from contest.accounts.models import User
from contest.contests.models import Entry, SchoolContact
from contest.extensions import db
from contest.judging import service as judging
from contest.media import service as media
from contest.media import sharing
from contest.media.models import MediaItem
from contest.media.service import attach_image
from tests.conftest import sign_in_id
from tests.results.test_public_views import ADULT, MINOR, World, build_selection_world
from tests.video_entries import add_video

PLACEHOLDER = "照片未公开"


@dataclass
class Consent:
    world: World
    private: Entry  # photos and a video, 公开照片 not chosen
    public: Entry  # photos and a video, 公开照片 chosen

    @property
    def slug(self) -> str:
        return self.world.slug


def keys_of(entry: Entry) -> set[str]:
    """Every storage key of the entry's media and its cover, as stored."""
    items = db.session.scalars(select(MediaItem).where(MediaItem.entry_id == entry.id)).all()
    keys = {k for m in items for k in (m.original_key, m.display_key, m.thumb_key, m.poster_key) if k}
    if entry.cover_key:
        keys.add(entry.cover_key)
    return keys


def digests(keys: Iterable[str]) -> set[str]:
    # A key is "<sha256>.<ext>"; the hash alone would be enough to guess the file's address.
    return {key.split(".", 1)[0] for key in keys}


def assert_none_in(text: str, entry: Entry, where: str) -> None:
    leaked = sorted(k for k in digests(keys_of(entry)) if k in text)
    assert not leaked, f"{where} names media of entry {entry.id}: {leaked}"


def _with_photos(app: Flask, entry: Entry, colours: tuple[str, str]) -> None:
    # Distinct pictures larger than the display size, so that each has three distinct keys
    # (keys are content hashes: equal files would share them).
    for position, colour in enumerate(colours):
        attach_image(db.session, app.extensions["storage"], entry=entry, image=Image.new("RGB", (1800, 1200), colour),
                     now=entry.created_at, position=position, caption=f"照片{position + 1}")
    db.session.commit()


def _stand_in_video(app: Flask, entry: Entry) -> None:
    """A video row with files of its own (the test clip would share its keys with the
    other entry's); only the pages' markup is looked at."""
    storage = app.extensions["storage"]
    db.session.add(MediaItem(
        entry_id=entry.id, kind="video", role="video", content_type="video/mp4", width=1280, height=720, position=2,
        duration_seconds=2.0, created_at=entry.created_at, original_key=storage.put(f"clip {entry.id}".encode(), "mp4"),
        poster_key=storage.put(f"poster {entry.id}".encode(), "jpg"), thumb_key=storage.put(f"thumb {entry.id}".encode(), "jpg"),
    ))
    db.session.commit()


@pytest.fixture
def consent(app, make_contest, make_entry, make_school, make_user, clock) -> Consent:  # type: ignore[no-untyped-def]
    world = build_selection_world(make_contest, make_entry, make_school, make_user, clock)
    private, public = world.entry(MINOR), world.entry(ADULT)
    _with_photos(app, private, ("navy", "teal"))
    add_video(app, private, position=2)  # a real clip, taken in as an upload is
    _with_photos(app, public, ("orange", "gold"))
    _stand_in_video(app, public)
    assert private.nominee is not None and public.nominee is not None
    private.nominee.public_fields = {"photo": False, "major": True, "story": True}
    public.nominee.public_fields = {"photo": True, "major": True, "story": True}
    db.session.commit()
    assert len(keys_of(private)) == 9 and private.cover_key  # 2 × 3 image keys; the video, its poster frame and thumbnail
    assert not keys_of(private) & keys_of(public)
    return Consent(world, private, public)


def get(client: FlaskClient, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.get_data(as_text=True)


# --- the rule --------------------------------------------------------------------------------

def test_the_rule_reads_the_choice_and_absence_means_no(consent: Consent) -> None:
    assert not media.photos_public(consent.private) and media.photos_public(consent.public)
    assert media.public_cover_key(consent.private) == "" and media.public_cover_key(consent.public) == consent.public.cover_key
    assert media.public_media_of(db.session, consent.private) == []
    assert [m.kind for m in media.public_media_of(db.session, consent.public)] == ["image", "image", "video"]
    videos = media.public_videos_of(db.session, [consent.private, consent.public])
    assert list(videos) == [consent.public.id]
    assert consent.private.nominee is not None
    consent.private.nominee.public_fields = {"major": True}  # never asked: not public
    assert not media.photos_public(consent.private)


def test_entries_without_a_nominee_keep_their_pictures(app, make_contest, make_entry) -> None:  # type: ignore[no-untyped-def]
    entry = make_entry(make_contest(kind="media"))
    attach_image(db.session, app.extensions["storage"], entry=entry, image=Image.new("RGB", (400, 300), "green"),
                 now=entry.created_at)
    db.session.commit()
    assert media.photos_public(entry) and media.public_cover_key(entry) == entry.cover_key
    assert len(media.public_media_of(db.session, entry)) == 1


# --- public pages ----------------------------------------------------------------------------

def test_public_html_pages_name_none_of_the_private_media(client: FlaskClient, consent: Consent) -> None:
    slug, private, public = consent.slug, consent.private, consent.public
    pages = {
        "entry page": f"/c/{slug}/entries/{private.id}",
        "gallery": f"/c/{slug}/entries",
        "leaderboard": f"/c/{slug}/leaderboard",
        "share page": f"/c/{slug}/entries/{private.id}/share",
        "contest page": f"/c/{slug}",
    }
    for where, url in pages.items():
        assert_none_in(get(client, url), private, where)

    page = get(client, pages["entry page"])
    assert PLACEHOLDER in page and 'class="photos-private"' in page
    assert "<video" not in page and "/media/" not in page
    assert "<svg" in page.split('class="photos-private"', 1)[1][:200]  # drawn in the page, nothing loaded
    gallery = get(client, pages["gallery"])
    assert gallery.count(PLACEHOLDER) == 1
    assert f"/media/{public.cover_key}" in gallery
    assert gallery.count('class="video-badge"') == 1  # the public nominee's video only


def test_with_the_choice_the_pages_show_photos_and_video(client: FlaskClient, consent: Consent) -> None:
    slug, public = consent.slug, consent.public
    page = get(client, f"/c/{slug}/entries/{public.id}")
    assert PLACEHOLDER not in page
    items = media.media_of(db.session, public.id)
    for image in (m for m in items if m.kind == "image" and m.role == "photo"):
        assert f"/media/{image.display_key}" in page and f"/media/{image.original_key}" in page
    (video,) = [m for m in items if m.kind == "video"]
    assert f'<source src="/media/{video.original_key}"' in page


def test_results_pages_name_none_of_the_private_media(client: FlaskClient, consent: Consent) -> None:
    consent.world.publish()
    for url in (f"/c/{consent.slug}/results", f"/c/{consent.slug}/transparency",
                f"/c/{consent.slug}/entries/{consent.private.id}", f"/c/{consent.slug}/entries"):
        assert_none_in(get(client, url), consent.private, url)
    assert MINOR in get(client, f"/c/{consent.slug}/results")  # the entry is ranked, only its pictures are not shown


# --- share poster and QR code ----------------------------------------------------------------

def test_the_poster_draws_the_panel_instead_of_the_photo(app: Flask, client: FlaskClient, consent: Consent) -> None:
    slug, private, public = consent.slug, consent.private, consent.public
    url = f"http://localhost/c/{slug}/entries/{private.id}"
    spec = sharing.poster_spec(db.session, private, url=url)
    assert spec.cover_key == ""
    response = client.get(f"/c/{slug}/entries/{private.id}/share/poster.png")
    assert response.status_code == 200
    font = sharing.resolve_font(app.extensions["settings"].font_path)
    assert response.data == sharing.poster_png(title=spec.title, subtitle=spec.subtitle, cover=None, url=url, font_path=font)
    assert client.get(f"/c/{slug}/entries/{private.id}/share/qr.png").status_code == 200
    # With the choice, the poster shows the cover's display rendition.
    (cover,) = [m for m in media.media_of(db.session, public.id) if m.thumb_key == public.cover_key]
    assert sharing.poster_spec(db.session, public, url=url).cover_key == cover.display_key


# --- the API ---------------------------------------------------------------------------------

def test_the_api_names_none_of_the_private_media(client: FlaskClient, consent: Consent) -> None:
    slug, private, public = consent.slug, consent.private, consent.public
    detail = client.get(f"/api/v1/entries/{private.id}")
    assert detail.status_code == 200
    assert detail.get_json()["media"] == [] and detail.get_json()["cover_url"] is None
    assert_none_in(detail.get_data(as_text=True), private, "API entry")
    listing = client.get(f"/api/v1/contests/{slug}/entries")
    board = client.get(f"/api/v1/contests/{slug}/leaderboard")
    for where, response in (("API list", listing), ("API leaderboard", board)):
        assert response.status_code == 200
        assert_none_in(response.get_data(as_text=True), private, where)
    (row,) = [i for i in listing.get_json()["items"] if i["id"] == private.id]
    assert row["cover_url"] is None
    # The entry with the private photos is a minor's: on no leaderboard at all.
    assert private.id not in [i["entry_id"] for i in board.get_json()["items"]]

    shown = client.get(f"/api/v1/entries/{public.id}").get_json()
    assert [m["kind"] for m in shown["media"]] == ["image", "image", "video"]
    assert shown["cover_url"] == f"http://localhost/media/{public.cover_key}"
    (row,) = [i for i in listing.get_json()["items"] if i["id"] == public.id]
    assert row["cover_url"] == shown["cover_url"]


# --- those who still see them ------------------------------------------------------------------

def signed_in(app: Flask, user: User) -> FlaskClient:
    # One signed-in user per test: the tests' application context outlives a request, and
    # flask-login keeps the first request's user in it.
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = sign_in_id(user)
        session["_fresh"] = True
    return client


def all_but_the_cover(entry: Entry) -> tuple[list[MediaItem], MediaItem]:
    items = media.media_of(db.session, entry.id)
    (video,) = [m for m in items if m.kind == "video"]
    return [m for m in items if m.kind == "image"], video


def test_organisers_still_see_the_photos(app: Flask, consent: Consent) -> None:
    images, video = all_but_the_cover(consent.private)
    page = get(signed_in(app, consent.world.organisers[0]), f"/admin/moderation/{consent.private.id}")
    assert all(f"/media/{m.display_key}" in page for m in images) and f"/media/{video.original_key}" in page
    assert PLACEHOLDER not in page


def test_judges_still_see_the_photos(app: Flask, consent: Consent, make_user, clock) -> None:  # type: ignore[no-untyped-def]
    private = consent.private
    images, video = all_but_the_cover(private)
    judge = make_user("judge", name="评委乙")
    now = clock.now()
    rnd = judging.create_round(db.session, actor=SYSTEM, contest=consent.world.contest, now=now,
                               criteria=[judging.CriterionFields("综合表现", 100, 100)],
                               fields=judging.RoundFields(key="second", name="复评", judges_per_entry=1, aggregation="mean"))
    judging.add_entries(db.session, actor=SYSTEM, rnd=rnd, entry_ids=[private.id], now=now)
    judging.add_judge(db.session, actor=SYSTEM, rnd=rnd, user=judge, now=now)
    judging.set_state(db.session, actor=SYSTEM, rnd=rnd, state="open", now=now)
    judging.sign_declaration(db.session, judge=judge, rnd=rnd, accepted=True, now=now)
    db.session.commit()
    page = get(signed_in(app, judge), f"/judge/rounds/{rnd.id}/entries/{private.id}")
    assert all(f"/media/{m.thumb_key}" in page for m in images) and f"/media/{video.original_key}" in page


def test_the_school_still_sees_the_cover(app: Flask, consent: Consent, make_user) -> None:  # type: ignore[no-untyped-def]
    private = consent.private
    contact = make_user("school_contact", name="联络人")
    assert private.school_id is not None
    db.session.add(SchoolContact(user_id=contact.id, school_id=private.school_id))
    db.session.commit()
    assert f"/media/{private.cover_key}" in get(signed_in(app, contact), "/me/entries")
