"""Sharing public entries: share page, QR code and poster."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image, ImageFont
from sqlalchemy import select

from contest.contests.models import Contest, Entry
from contest.extensions import db
from contest.media import sharing
from contest.media.models import MediaItem
from contest.media.service import attach_image

POSTER_SIZE = (1080, 1600)


def share_path(contest: Contest, entry: Entry, suffix: str = "") -> str:
    return f"/c/{contest.slug}/entries/{entry.id}/share{suffix}"


def entry_url(contest: Contest, entry: Entry) -> str:
    # The test client's requests go to the server name "localhost".
    return f"http://localhost/c/{contest.slug}/entries/{entry.id}"


def decode_png(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    image.load()
    return image


@pytest.fixture
def shared(make_contest, make_entry, make_school):  # type: ignore[no-untyped-def]
    contest = make_contest(title="“技能：让生活更美好”全民美拍活动")
    entry = make_entry(contest, title="巧手面点", school=make_school("济南旅游学校"))
    return contest, entry


@pytest.fixture
def with_cover(app, clock, shared):  # type: ignore[no-untyped-def]
    contest, entry = shared
    attach_image(db.session, app.extensions["storage"], entry=entry, image=Image.new("RGB", (1600, 1000), "orange"),
                 now=clock.now())
    db.session.commit()
    return contest, entry


# --- the share page ------------------------------------------------------------------

def test_share_page_shows_the_entry_link_qr_and_poster(client, shared):
    contest, entry = shared
    response = client.get(share_path(contest, entry))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    url = entry_url(contest, entry)
    # Without script the link is still a read-only field that can be selected by hand.
    assert f'<input id="share-url" type="url" value="{url}" readonly' in html
    assert 'hidden data-copy-target="share-url"' in html  # the copy button appears only with script
    assert f'src="{share_path(contest, entry, "/qr.png")}"' in html
    assert f'src="{share_path(contest, entry, "/poster.png")}"' in html
    assert f'download="share-{entry.id}.png"' in html
    assert "长按海报" in html and "巧手面点" in html
    assert re.search(r'<script src="/static/js/share\.js\?v=[0-9a-f]{12}" defer></script>', html)
    assert "<script>" not in html  # the policy allows no inline script


def test_entry_page_links_to_the_share_page(client, shared):
    contest, entry = shared
    html = client.get(f"/c/{contest.slug}/entries/{entry.id}").get_data(as_text=True)
    assert f'href="{share_path(contest, entry)}"' in html


def test_share_script_is_served(client):
    response = client.get("/static/js/share.js")
    assert response.status_code == 200
    assert b"navigator.clipboard" in response.data


@pytest.mark.parametrize("suffix", ["", "/qr.png", "/poster.png"])
@pytest.mark.parametrize("status", ["draft", "submitted", "rejected", "withdrawn"])
def test_entries_not_approved_are_not_shared(client, make_contest, make_entry, suffix, status):
    contest = make_contest()
    entry = make_entry(contest, status=status)
    response = client.get(share_path(contest, entry, suffix))
    assert response.status_code == 404
    assert "没有找到这件作品" in response.get_data(as_text=True)


@pytest.mark.parametrize("suffix", ["", "/qr.png", "/poster.png"])
def test_unknown_entries_and_contests_are_404(client, shared, make_contest, suffix):
    contest, entry = shared
    other = make_contest()
    assert client.get(f"/c/{contest.slug}/entries/999999/share{suffix}").status_code == 404
    assert client.get(share_path(other, entry, suffix)).status_code == 404  # an entry of another contest
    assert client.get(f"/c/no-such-contest/entries/{entry.id}/share{suffix}").status_code == 404


def test_entries_of_unpublished_contests_are_not_shared(client, make_contest, make_entry):
    contest = make_contest(is_published=False)
    entry = make_entry(contest)
    for suffix in ("", "/qr.png", "/poster.png"):
        assert client.get(share_path(contest, entry, suffix)).status_code == 404


# --- QR code -------------------------------------------------------------------------

def test_qr_code_is_a_square_png_with_cache_headers(client, shared):
    contest, entry = shared
    response = client.get(share_path(contest, entry, "/qr.png"))
    assert response.status_code == 200
    assert response.mimetype == "image/png"
    image = decode_png(response.data)
    assert image.width == image.height >= 21 * 8  # the smallest QR version at 8 pixels a module
    assert response.headers["Cache-Control"] in ("public, max-age=3600", "max-age=3600, public")
    assert response.headers["ETag"] == f'"{sharing.qr_etag(entry_url(contest, entry))}"'


def test_qr_code_has_finder_patterns_and_quiet_zone(app):
    image = decode_png(sharing.qr_png("http://localhost/c/x/entries/1", box_size=10)).convert("L")
    border = 4 * 10
    assert image.getpixel((border // 2, border // 2)) == 255  # quiet zone
    assert image.getpixel((border + 5, border + 5)) == 0  # the top-left finder's dark frame
    assert image.getpixel((border + 15, border + 15)) == 255  # its light ring
    assert image.getpixel((border + 35, border + 35)) == 0  # its dark centre


def test_a_longer_url_gives_a_larger_code(app):
    short = decode_png(sharing.qr_png("http://localhost/c/a/entries/1"))
    long = decode_png(sharing.qr_png("https://www.example.edu.cn/c/huangyanpei/entries/123456?from=poster&x=" + "y" * 60))
    assert long.width > short.width


# --- poster --------------------------------------------------------------------------

def test_poster_without_cover_is_1080_by_1600(client, shared):
    contest, entry = shared
    response = client.get(share_path(contest, entry, "/poster.png"))
    assert response.status_code == 200
    assert response.mimetype == "image/png"
    image = decode_png(response.data).convert("RGB")
    assert image.size == POSTER_SIZE
    assert image.getpixel((10, 10)) == sharing.RED  # the header band
    red, green, blue = image.getpixel((540, 300))  # the gradient panel stands in for the cover
    assert red > 150 and blue < 120


def test_poster_with_cover_shows_the_cover(client, with_cover):
    contest, entry = with_cover
    response = client.get(share_path(contest, entry, "/poster.png"))
    assert response.status_code == 200
    image = decode_png(response.data).convert("RGB")
    assert image.size == POSTER_SIZE
    red, green, blue = image.getpixel((540, 300))
    assert abs(red - 255) <= 6 and abs(green - 165) <= 6 and blue <= 8  # orange, through JPEG


def test_poster_uses_the_display_rendition(app, with_cover):
    contest, entry = with_cover
    spec = sharing.poster_spec(db.session, entry, url=entry_url(contest, entry))
    item = db.session.scalars(select(MediaItem).where(MediaItem.entry_id == entry.id)).one()
    # The gallery's 400-pixel thumbnail would look blurred across a 1080-pixel poster.
    assert entry.cover_key == item.thumb_key
    assert spec.cover_key == item.display_key != item.thumb_key
    assert spec.title == "巧手面点"
    assert spec.subtitle == "“技能：让生活更美好”全民美拍活动 · 济南旅游学校"
    assert spec.url == entry_url(contest, entry)


def test_a_video_cover_uses_its_poster_frame(app, client, clock, shared):
    contest, entry = shared
    storage = app.extensions["storage"]

    def jpeg(color: str, size: tuple[int, int]) -> bytes:
        out = io.BytesIO()
        Image.new("RGB", size, color).save(out, "JPEG")
        return out.getvalue()

    frame_key, thumb_key = storage.put(jpeg("orange", (1280, 720)), "jpg"), storage.put(jpeg("orange", (400, 225)), "jpg")
    db.session.add(MediaItem(entry_id=entry.id, kind="video", role="video", content_type="video/mp4",
                             original_key=storage.put(b"not a picture", "mp4"), poster_key=frame_key, thumb_key=thumb_key,
                             width=1280, height=720, created_at=clock.now()))
    entry.cover_key = thumb_key
    db.session.commit()
    assert sharing.poster_spec(db.session, entry, url=entry_url(contest, entry)).cover_key == frame_key
    image = decode_png(client.get(share_path(contest, entry, "/poster.png")).data).convert("RGB")
    red, green, blue = image.getpixel((540, 300))
    assert abs(red - 255) <= 6 and abs(green - 165) <= 6 and blue <= 8


def test_poster_with_a_lost_cover_file_still_renders(client, app, with_cover):
    contest, entry = with_cover
    spec = sharing.poster_spec(db.session, entry, url=entry_url(contest, entry))
    app.extensions["storage"].delete(spec.cover_key)
    response = client.get(share_path(contest, entry, "/poster.png"))
    assert response.status_code == 200
    assert decode_png(response.data).size == POSTER_SIZE


def test_poster_is_cacheable_and_revalidates_with_304(client, shared):
    contest, entry = shared
    path = share_path(contest, entry, "/poster.png")
    first = client.get(path)
    etag = first.headers["ETag"]
    assert "public" in first.headers["Cache-Control"] and "max-age=3600" in first.headers["Cache-Control"]
    again = client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == etag
    assert client.get(path, headers={"If-None-Match": '"something-else"'}).status_code == 200


def test_poster_etag_follows_title_and_cover(app, client, clock, shared):
    contest, entry = shared
    path = share_path(contest, entry, "/poster.png")
    plain = client.get(path).headers["ETag"]
    entry.title = "巧手面点（修订）"
    db.session.commit()
    retitled = client.get(path)
    assert retitled.headers["ETag"] != plain
    assert client.get(path, headers={"If-None-Match": plain}).status_code == 200  # the old picture is stale
    attach_image(db.session, app.extensions["storage"], entry=entry, image=Image.new("RGB", (800, 600), "green"),
                 now=clock.now())
    db.session.commit()
    assert client.get(path).headers["ETag"] not in (plain, retitled.headers["ETag"])


def test_poster_is_deterministic(app):
    font = sharing.resolve_font(app.extensions["settings"].font_path)
    cover = Image.new("RGB", (900, 1400), (20, 120, 200))
    make = lambda: sharing.poster_png(title="智能温室大棚控制系统", subtitle="黄炎培职业教育创新创业大赛 · 济南职业学院",  # noqa: E731
                                      cover=cover, url="http://localhost/c/h/entries/7", font_path=font)
    assert make() == make()


def test_a_very_long_title_is_cut_to_three_lines(app):
    font = ImageFont.truetype(sharing.resolve_font(app.extensions["settings"].font_path), 56)
    title = "基于物联网与人工智能技术的乡村振兴智慧农业综合服务平台" * 3
    lines = sharing.fit_lines(title, font, 936, 3)
    assert len(lines) == 3 and lines[-1].endswith("…")
    assert all(font.getlength(line) <= 936 for line in lines)
    poster = decode_png(sharing.poster_png(title=title, subtitle="活动 · 学校", cover=None, url="http://localhost/",
                                           font_path=sharing.resolve_font("")))
    assert poster.size == POSTER_SIZE


def test_wrapping_keeps_punctuation_off_the_start_of_a_line(app):
    font = ImageFont.truetype(sharing.resolve_font(""), 40)
    width = font.getlength("一二三四五")
    lines = sharing.wrap_text("一二三四五，六七八九十。", font, width)
    assert lines[0] == "一二三四五，"  # the comma stays with the character before it
    assert "".join(lines) == "一二三四五，六七八九十。"
    assert sharing.wrap_text("  spaced   out  ", font, 1000) == ["spaced out"]
    # an opening quote goes down with the word it opens
    assert sharing.wrap_text("给爱车做“体检”", font, font.getlength("给爱车做“")) == ["给爱车做", "“体检”"]


def test_lines_are_balanced(app):
    font = ImageFont.truetype(sharing.resolve_font(""), 40)
    width = font.getlength("一二三四五六七八")
    assert sharing.wrap_text("一二三四五六七八九", font, width) == ["一二三四五六七八", "九"]
    assert sharing.fit_lines("一二三四五六七八九", font, width, 3) == ["一二三四五", "六七八九"]


def test_the_printed_link_breaks_after_a_slash(app):
    font = ImageFont.truetype(sharing.resolve_font(""), 24)
    url = "https://contest.example.cn/c/huangyanpei/entries/1234"
    width = font.getlength("contest.example.cn/c/huangyanpei/")
    assert sharing._url_lines(url, font, width) == ["contest.example.cn/c/huangyanpei/", "entries/1234"]
    assert sharing._url_lines("http://localhost/c/a/entries/1", font, 1000) == ["localhost/c/a/entries/1"]
