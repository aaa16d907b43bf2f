"""A visitor on a phone finds a short video in the 全民美拍 gallery (its card says 视频 and
shows the poster frame) and opens it: the player loads the clip's metadata from our own
media route, nothing comes from elsewhere, and the page has no console error."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from contest.clock import FixedClock
from contest.config import discover_cjk_font
from contest.contests.models import Contest, Entry
from contest.demo import PosterPainter
from contest.extensions import db
from contest.media import demo as clips

from .browser import PHONE, BrowserLog, screenshot

pytestmark = pytest.mark.e2e
TITLE = "一分钟学会清洗空调滤网"
SCHOOL = "济南市历城职业中等专业学校"


@pytest.fixture
def video_entry(app: Flask, clock: FixedClock, make_contest: Callable, make_entry: Callable,
                make_school: Callable) -> tuple[Contest, Entry]:
    """全民美拍 in its voting stage with a photo entry and a 短视频 entry whose clip is made
    and taken in as the demo's are (a title card, a tone, the platform's video intake)."""
    contest = make_contest(kind="media", slug="meipai-video", title="全民美拍（测试）", stage="voting",
                           short_title="全民美拍")
    category = {c.name: c for c in contest.categories_of("category")}
    make_entry(contest, title="毫厘之间", school=make_school(), category_id=category["摄影作品"].id, published_offset=1)
    entry = make_entry(contest, title=TITLE, school=make_school(SCHOOL, district="历城区"),
                       category_id=category["短视频"].id, published_offset=2)
    painter = PosterPainter(discover_cjk_font(app.extensions["settings"].font_path))
    background, text = painter.title_card(kind="media", variant=1, icon="wrench", heading=TITLE, subtitle=SCHOOL,
                                          label="全民美拍 · 短视频", frame=clips.FRAME)
    with clips.ClipMaker() as maker:
        maker.order(entry.id, background, text, contest=contest, tone=587.33)
        maker.attach(db.session, app.extensions["storage"], entry.id, entry=entry, now=clock.now(), role="video",
                     position=0)
    db.session.commit()
    return contest, entry


def test_a_short_video_plays_on_a_phone(video_entry: tuple[Contest, Entry], live_server: str,
                                        new_page: Callable[..., Page], browser_log: BrowserLog) -> None:
    contest, entry = video_entry
    page = new_page(**PHONE)

    # The gallery: the video's card carries the badge over its poster frame.
    page.goto(f"{live_server}/c/{contest.slug}/entries")
    card = page.locator(".entry-card").filter(has_text=TITLE)
    expect(card.locator(".video-badge")).to_have_text("视频 0:04")
    expect(card.locator("img")).to_have_attribute("src", f"/media/{entry.cover_key}")
    expect(page.locator(".entry-card").filter(has_text="毫厘之间").locator(".video-badge")).to_have_count(0)

    # The entry: a player with the poster, which loads the clip's metadata.
    card.get_by_role("link").first.click()
    expect(page.get_by_role("heading", level=2, name=TITLE)).to_be_visible()
    video = page.locator("video")
    expect(video).to_have_attribute("aria-label", f"视频：{TITLE}")
    expect(video).to_have_attribute("poster", re.compile(r"^/media/[0-9a-f]{64}\.jpg$"))
    assert page.evaluate("() => document.querySelector('video source').type") == "video/mp4"
    assert page.evaluate("() => document.createElement('video').canPlayType('video/mp4; codecs=\"avc1.42E01E, mp4a.40.2\"')")
    video.scroll_into_view_if_needed()
    page.wait_for_function("() => document.querySelector('video').readyState >= 1", timeout=15_000)
    facts = page.evaluate("""() => { const v = document.querySelector('video');
        return {duration: v.duration, width: v.videoWidth, height: v.videoHeight, src: v.currentSrc,
                shown: v.getBoundingClientRect().width}; }""")
    assert 3.5 < facts["duration"] < 4.5, facts
    assert (facts["width"], facts["height"]) == (1280, 720), facts
    assert facts["src"].startswith(f"{live_server}/media/") and facts["src"].endswith(".mp4"), facts
    assert facts["shown"] <= 390, facts  # fits the phone's screen
    # The screenshot shows the poster as a visitor sees it once the player is ready: the
    # browser stopped loading (preload="metadata") and its spinner has faded out.
    page.wait_for_function("() => document.querySelector('video').networkState !== HTMLMediaElement.NETWORK_LOADING")
    page.wait_for_timeout(1000)
    page.evaluate("() => window.scrollTo(0, 0)")
    screenshot(page, "entry-video-phone.png")

    assert browser_log.errors == []
    assert browser_log.foreign_requests() == []
