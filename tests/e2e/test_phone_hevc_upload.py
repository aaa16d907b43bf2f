"""A citizen uploads the HEVC MOV an iPhone records, on a phone, through the real upload
form. Until the job runner has made its H.264 rendition, 我的作品 and the public page say
视频处理中; once a real `flask jobs worker` process has made it, the entry page on a phone
plays our own H.264 MP4 (Chromium decodes its frames), never the HEVC original."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select

from contest.contests.models import Entry
from contest.extensions import db
from contest.media.models import MediaItem
from tests.video_entries import HAS_HEVC, NO_HEVC, probe

from .browser import DESKTOP, PHONE, BrowserLog, log_in, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(not HAS_HEVC, reason=NO_HEVC)]
TITLE = "手机竖拍：面点师的清晨"

# Plays the clip muted (as a page may without a tap), then reports once frames are being
# shown: where they come from, their size, and whether the picture has any detail in it
# (one decoded frame drawn on a canvas: an undecodable stream would leave it blank).
PLAY = """async () => {
    const v = document.querySelector('video');
    v.muted = true;
    v.loop = true;  // still playing when the screenshot is taken: the clip lasts two seconds
    await v.play();
    await new Promise(done => {
        const check = () => v.currentTime > 0 && v.videoWidth ? done() : requestAnimationFrame(check);
        check();
    });
    const canvas = document.createElement('canvas');
    canvas.width = v.videoWidth;
    canvas.height = v.videoHeight;
    const context = canvas.getContext('2d');
    // Headless Chromium may hand the canvas a frame it has not painted yet: look at the
    // frames as they are presented, up to a second's worth, and keep the richest.
    let shades = 0;
    for (let tries = 0; tries < 30 && shades <= 8; tries++) {
        await new Promise(done => v.requestVideoFrameCallback(() => done()));
        context.drawImage(v, 0, 0);
        const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
        const seen = new Set();
        for (let i = 0; i < pixels.length; i += 4 * 997) seen.add(pixels[i] >> 4 << 8 | pixels[i + 1] >> 4 << 4 | pixels[i + 2] >> 4);
        shades = Math.max(shades, seen.size);
    }
    return {src: v.currentSrc, width: v.videoWidth, height: v.videoHeight, time: v.currentTime, paused: v.paused,
            error: v.error && v.error.code, frames: v.getVideoPlaybackQuality().totalVideoFrames, shades: shades,
            shown: v.getBoundingClientRect().width};
}"""


def _latest(entry_title: str) -> tuple[Entry, MediaItem]:
    """The entry and its video as the server committed them."""
    db.session.rollback()
    db.session.expire_all()
    entry = db.session.scalars(select(Entry).where(Entry.title == entry_title)).one()
    video = db.session.scalars(select(MediaItem).where(MediaItem.entry_id == entry.id, MediaItem.kind == "video")).one()
    return entry, video


def test_an_iphone_hevc_upload_plays_as_h264_on_a_phone(
    app: Flask, live_server: str, new_page: Callable[..., Page], browser_log: BrowserLog, make_contest: Callable[..., Any],
    make_user: Callable[..., Any], source_clips: dict[str, Path], request: pytest.FixtureRequest, tmp_path: Path,
) -> None:
    timings: dict[str, float] = {}
    contest = make_contest(kind="media", stage="submission", slug="meipai-hevc", title="全民美拍（测试）")
    citizen = make_user(name="泉城光影")
    organiser = make_user("organiser", name="组织者")
    clip = source_clips["hevc_portrait"]
    [original_stream] = probe(clip)["streams"]
    assert (original_stream["codec_name"], original_stream["codec_tag_string"]) == ("hevc", "hvc1")

    # The citizen uploads the MOV on a phone, through the form and its upload script.
    page = new_page(**PHONE)
    log_in(page, live_server, citizen.phone)
    page.goto(f"{live_server}/c/{contest.slug}/submit")
    page.get_by_role("radio", name="短视频").check()
    page.get_by_label("作品类别").select_option(label="短视频")
    page.get_by_label("作品名称").fill(TITLE)
    page.get_by_label("作品介绍").fill("凌晨五点的实训厨房，手机竖着拍下第一笼包子出锅。")
    page.locator("input[type=file][name=video]").set_input_files(str(clip))
    started = time.monotonic()
    page.get_by_role("button", name="提交作品").click()
    page.wait_for_url(re.compile(r"/me/entries"), timeout=60_000)
    timings["upload and intake"] = time.monotonic() - started
    row = page.locator(".entry-row").filter(has_text=TITLE)
    expect(row.locator(".video-pending")).to_contain_text("视频处理中")
    expect(row.get_by_text("待审核")).to_be_visible()
    entry, video = _latest(TITLE)
    assert video.playback_state == "pending"
    with app.extensions["storage"].open(video.original_key) as fh:
        (tmp_path / "original").write_bytes(fh.read())
    # The clean original (kept for judges and organisers) is still HEVC: viewers must not get it.
    assert probe(tmp_path / "original")["streams"][0]["codec_name"] == "hevc"

    # An organiser approves it in the back office, as every entry is.
    desk = new_page(**DESKTOP)
    log_in(desk, live_server, organiser.phone)
    desk.goto(live_server + "/admin/moderation/")
    desk.locator("li, tr").filter(has_text=TITLE).first.locator("input[name=entry_ids]").check()
    desk.get_by_role("button", name="通过").first.click()
    expect(desk.get_by_role("status").filter(has_text="已通过 1 件作品")).to_be_visible()

    # Public now, but no job runner has run: the page says so and offers no player.
    page.goto(f"{live_server}/c/{contest.slug}/entries")
    page.locator(".entry-card").filter(has_text=TITLE).get_by_role("link").first.click()
    expect(page.get_by_role("heading", level=2, name=TITLE)).to_be_visible()
    expect(page.locator(".video-processing [role=status]")).to_contain_text("视频处理中")
    expect(page.locator("video")).to_have_count(0)

    # The job runner, a process of its own, takes the queued job and makes the rendition.
    started = time.monotonic()
    request.getfixturevalue("worker")
    timings["worker start"] = time.monotonic() - started
    started = time.monotonic()
    while _latest(TITLE)[1].playback_state == "pending" and time.monotonic() - started < 120:
        time.sleep(0.2)
    timings["rendition"] = time.monotonic() - started
    entry, video = _latest(TITLE)
    worker_log = (tmp_path / "worker.log").read_text()
    assert (video.playback_state, video.playback_error) == ("ready", ""), worker_log[-3000:]
    assert video.playback_key != video.original_key

    # The page, refreshed as it asks: a player whose source is our rendition, which plays.
    page.reload()
    expect(page.locator(".video-processing")).to_have_count(0)
    player = page.locator("video")
    expect(player).to_have_attribute("aria-label", f"视频：{TITLE}")
    player.scroll_into_view_if_needed()
    started = time.monotonic()
    facts = page.evaluate(PLAY)
    timings["play"] = time.monotonic() - started
    assert facts["src"] == f"{live_server}/media/{video.playback_key}", facts
    assert (facts["width"], facts["height"]) == (720, 1280), facts
    assert facts["time"] > 0 and not facts["paused"] and facts["error"] is None and facts["frames"] > 0, facts
    assert facts["shades"] > 8, facts  # testsrc2's colour bars, not a blank frame
    assert facts["shown"] <= 390, facts  # fits the phone's screen
    screenshot(page, "phone-hevc-video.png")

    # What was served is H.264 (High, 720×1280, no sound: the clip had none), not HEVC.
    served = page.request.get(facts["src"])
    assert served.status == 200 and served.headers["content-type"] == "video/mp4"
    (tmp_path / "served.mp4").write_bytes(served.body())
    streams = probe(tmp_path / "served.mp4")["streams"]
    assert [(s["codec_type"], s["codec_name"], s["width"], s["height"]) for s in streams] == [
        ("video", "h264", 720, 1280)], streams
    assert not any(s["codec_name"] == "hevc" for s in streams)
    assert video.original_key not in page.content()

    assert browser_log.errors == [], browser_log.errors
    assert browser_log.foreign_requests() == []
    print("timings (s):", {name: round(seconds, 2) for name, seconds in timings.items()})
