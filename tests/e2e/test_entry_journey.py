"""A citizen uploads a photo entry on a phone (the progress bar shows), an organiser
approves it, it appears in the gallery, and its share poster opens."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import Page, expect

from .browser import DESKTOP, PHONE, BrowserLog, log_in, screenshot

pytestmark = pytest.mark.e2e
TITLE = "泉城工匠的清晨"


def _photo(path: Path) -> Path:
    """A 1920×1080 JPEG with enough detail to take a moment to upload when throttled."""
    image = Image.effect_noise((1920, 1080), 60).convert("RGB")
    draw = ImageDraw.Draw(image)
    for i in range(0, 1920, 48):
        draw.rectangle((i, 300 + (i % 7) * 40, i + 40, 1080), fill=(200, 90 + i % 120, 40))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=95)
    path.write_bytes(out.getvalue())
    return path


def test_upload_approve_gallery_and_poster(
    live_server: str, new_page: Callable[..., Page], browser_log: BrowserLog, make_contest, make_user, tmp_path: Path,
) -> None:
    contest = make_contest(kind="media", stage="submission", slug="meipai-e2e", title="全民美拍（测试）",
                           categories=("摄影作品",))
    citizen = make_user(name="泉城光影")
    organiser = make_user("organiser", name="组织者")
    photo = _photo(tmp_path / "photo.jpg")

    page = new_page(**PHONE)
    log_in(page, live_server, citizen.phone)
    page.goto(f"{live_server}/c/{contest.slug}/submit")
    expect(page.get_by_role("heading", name="我要投稿")).to_be_visible()
    page.get_by_label("作品名称").fill(TITLE)
    page.get_by_label("作品介绍").fill("清晨六点，实训车间里已经响起了机床声。")
    if page.get_by_label("作品类别").count():
        page.get_by_label("作品类别").select_option(label="摄影作品")
    page.locator("input[type=file][name=photos]").set_input_files(str(photo))
    # A slow phone connection, so the progress bar has time to show.
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 40, "downloadThroughput": -1,
                                                  "uploadThroughput": 400 * 1024})
    page.get_by_role("button", name="提交作品").click()
    progress = page.locator("[data-upload-progress] progress")
    expect(progress).to_be_visible()
    page.wait_for_function("() => document.querySelector('[data-upload-progress] progress')?.value > 0")
    screenshot(page, "phone-submit-progress.png")
    page.wait_for_url(re.compile(r"/me/entries"), timeout=60_000)
    cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
    expect(page.get_by_role("heading", name=TITLE)).to_be_visible()
    expect(page.get_by_text("待审核").first).to_be_visible()
    screenshot(page, "phone-my-entries.png")

    # Not public before approval.
    page.goto(f"{live_server}/c/{contest.slug}/entries")
    expect(page.get_by_role("link", name=re.compile(TITLE))).to_have_count(0)

    desk = new_page(**DESKTOP)
    log_in(desk, live_server, organiser.phone)
    desk.goto(live_server + "/admin/moderation/")
    row = desk.locator("li, tr").filter(has_text=TITLE).first
    expect(row).to_be_visible()
    row.locator("input[name=entry_ids]").check()
    screenshot(desk, "desktop-moderation.png")
    desk.get_by_role("button", name="通过").first.click()
    expect(desk.get_by_role("status").filter(has_text="已通过 1 件作品")).to_be_visible()

    page.goto(f"{live_server}/c/{contest.slug}/entries")
    card = page.get_by_role("link", name=re.compile(TITLE))
    expect(card).to_be_visible()
    card.click()
    expect(page.get_by_role("heading", name=TITLE)).to_be_visible()
    page.get_by_role("link", name="分享这件作品").click()
    poster = page.locator("img.share-poster")
    poster.scroll_into_view_if_needed()
    page.wait_for_function("() => document.querySelector('img.share-poster').naturalWidth === 1080")
    screenshot(page, "phone-share.png")
    response = page.request.get(poster.get_attribute("src") if poster.get_attribute("src").startswith("http")
                                else live_server + poster.get_attribute("src"))
    assert response.status == 200 and response.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(response.body())).size == (1080, 1600)

    assert browser_log.errors == [], browser_log.errors
    assert browser_log.foreign_requests() == []
