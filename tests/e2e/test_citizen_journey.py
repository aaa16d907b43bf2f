"""A citizen's first visit, in a real browser: register with an SMS code, log out and in,
find the photo contest, its schedule, its gallery and one entry.

Every step asserts on what the visitor sees. Along the way the pages must not log a
console error (a CSP violation would show there) nor request anything from another
origin: the site works with no network beyond the server itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask import Flask
from PIL import Image, ImageDraw
from playwright.sync_api import Page, expect

from contest.accounts import service as accounts
from contest.clock import FixedClock
from contest.contests.models import Contest, Entry
from contest.extensions import db
from contest.media.service import attach_image

from .browser import DESKTOP, BrowserLog, screenshot

pytestmark = pytest.mark.e2e

PHONE_NUMBER = "13912345678"
PASSWORD = "CitizenJn01x"
MEDIA_TITLE = "技能：让生活更美好 全民美拍"
PHOTO_TITLE = "焊花里的青春"
CODE_RE = re.compile(r"验证码是 (\d{6})")


def _poster() -> Image.Image:
    """A photo stand-in with some shapes, so the resized renditions have something to show."""
    image = Image.new("RGB", (1200, 800), (238, 232, 220))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 560, 1200, 800), fill=(70, 110, 150))
    draw.ellipse((820, 90, 1040, 310), fill=(240, 170, 40))
    draw.polygon([(120, 560), (420, 200), (720, 560)], fill=(180, 50, 40))
    draw.line((100, 700, 1100, 650), fill=(255, 255, 255), width=12)
    return image


@pytest.fixture
def seeded(app: Flask, clock: FixedClock, make_school: Callable, make_contest: Callable,
           make_entry: Callable) -> tuple[Contest, Entry]:
    """The week's three contests; the photo contest is in its voting stage with three
    approved entries (the newest has a photo) and one still waiting for review."""
    first = make_school(name="济南第一职业中等专业学校", district="历下区")
    second = make_school(name="济南工程职业技术学院", district="长清区")
    make_contest(kind="selection", slug="zuimei", title="最美职校生网络评选", stage="voting", position=1,
                 categories=())
    media = make_contest(kind="media", slug="meipai", title=MEDIA_TITLE, stage="voting", position=2)
    make_contest(kind="innovation", slug="huangyanpei", title="黄炎培职业教育创新创业大赛", stage="submission",
                 position=3, categories=())
    category = {c.name: c.id for c in media.categories_of("category")}
    photos, videos = category["摄影作品"], category["短视频"]
    make_entry(media, title="城市夜色中的维修工", school=first, category_id=videos, published_offset=1)
    make_entry(media, title="面点师的清晨", school=second, category_id=photos, published_offset=2)
    make_entry(media, title="尚未审核的投稿", school=first, category_id=photos, status="submitted")
    photo = make_entry(media, title=PHOTO_TITLE, school=first, category_id=photos, published_offset=3)
    attach_image(db.session, app.extensions["storage"], entry=photo, image=_poster(), now=clock.now(),
                 caption="实训车间里的焊接练习")
    db.session.commit()
    return media, photo


def _latest_code(phone: str) -> str:
    """The code in the newest text message sent to phone, read from the outbox."""
    db.session.rollback()  # end any open transaction so the read sees the server's commit
    messages = accounts.outbox(db.session, phone=phone, limit=1)
    assert messages, f"no SMS was sent to {phone}"
    match = CODE_RE.search(messages[0].body)
    assert match, messages[0].body
    return match.group(1)


def test_citizen_registers_logs_in_and_browses_the_gallery(
    seeded: tuple[Contest, Entry], live_server: str, browser_page: Page, new_page: Callable[..., Page],
    browser_log: BrowserLog,
) -> None:
    page = browser_page

    # Home: the week's three contests.
    page.goto(live_server + "/")
    expect(page.get_by_role("heading", level=1)).to_have_text("技能：让生活更美好")
    for title in ("最美职校生网络评选", MEDIA_TITLE, "黄炎培职业教育创新创业大赛"):
        expect(page.get_by_role("heading", name=title)).to_be_visible()
    expect(page.locator(".contest-card")).to_have_count(3)
    screenshot(page, "phone-home.png")

    # Register, step one: ask for a code.
    page.get_by_role("link", name="注册", exact=True).click()
    expect(page.get_by_role("heading", name="注册账号")).to_be_visible()
    code_form = page.locator("form.code-form")
    code_form.get_by_label("手机号").fill(PHONE_NUMBER)
    code_form.get_by_role("button", name="获取短信验证码").click()
    expect(page.get_by_text("验证码已发送，5 分钟内有效。")).to_be_visible()

    # Step two: the number is carried over; type the code from the text message.
    form = page.locator("form").filter(has=page.get_by_label("短信验证码"))
    expect(form.get_by_label("手机号")).to_have_value(PHONE_NUMBER)
    form.get_by_label("短信验证码").fill(_latest_code(PHONE_NUMBER))
    form.get_by_label("密码", exact=True).fill(PASSWORD)
    form.get_by_label("再次输入密码").fill(PASSWORD)
    form.get_by_role("checkbox", name="我已阅读并同意《用户协议》").check()
    form.get_by_role("checkbox", name="我已阅读并同意《隐私政策》").check()
    screenshot(page, "phone-register.png")
    form.get_by_role("button", name="注册").click()

    expect(page.get_by_text("注册成功，欢迎参与！")).to_be_visible()
    expect(page.get_by_role("button", name="退出")).to_be_visible()
    expect(page.get_by_text("139****5678")).to_be_visible()

    # Log out, then back in with the new password.
    page.get_by_role("button", name="退出").click()
    expect(page.get_by_text("您已退出登录。")).to_be_visible()
    expect(page.get_by_role("button", name="退出")).to_have_count(0)
    page.get_by_role("link", name="登录", exact=True).click()
    expect(page.get_by_role("heading", name="登录")).to_be_visible()
    page.get_by_label("手机号").fill(PHONE_NUMBER)
    page.get_by_label("密码", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("button", name="退出")).to_be_visible()
    expect(page).to_have_url(live_server + "/")

    # The photo contest: its stage and schedule.
    page.get_by_role("link").filter(has_text=MEDIA_TITLE).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(MEDIA_TITLE)
    expect(page.get_by_role("heading", name="活动日程", exact=True)).to_be_visible()
    timeline = page.locator(".timeline")
    for stage in ("作品征集", "资格审核", "公众投票", "专家评审", "结果公示"):
        expect(timeline.get_by_text(stage)).to_be_visible()
    expect(timeline.locator("li").filter(has_text="公众投票")).to_contain_text("进行中")
    screenshot(page, "phone-contest.png")

    # The gallery: approved entries only, newest first.
    page.get_by_role("link", name="浏览作品").click()
    expect(page.get_by_text("共 3 件作品")).to_be_visible()
    cards = page.locator(".entry-card h3")
    expect(cards).to_have_text([PHOTO_TITLE, "面点师的清晨", "城市夜色中的维修工"])
    expect(page.get_by_text("尚未审核的投稿")).to_have_count(0)
    screenshot(page, "phone-gallery.png")

    # One entry, with its photo.
    page.get_by_role("link").filter(has_text=PHOTO_TITLE).click()
    expect(page.get_by_role("heading", level=2, name=PHOTO_TITLE)).to_be_visible()
    expect(page.get_by_role("img", name="实训车间里的焊接练习")).to_be_visible()
    expect(page.get_by_text("济南第一职业中等专业学校（历下区）")).to_be_visible()
    expect(page.locator("article .chip")).to_have_text("摄影作品")
    screenshot(page, "phone-entry.png")

    # The same pages on a desktop screen, as a visitor who is not logged in.
    desktop = new_page(**DESKTOP)
    desktop.goto(live_server + "/")
    expect(desktop.get_by_role("heading", name=MEDIA_TITLE)).to_be_visible()
    screenshot(desktop, "desktop-home.png")
    desktop.get_by_role("link").filter(has_text=MEDIA_TITLE).click()
    desktop.get_by_role("navigation", name="活动导航").get_by_role("link", name="作品展示").click()
    expect(desktop.get_by_text("共 3 件作品")).to_be_visible()
    expect(desktop.get_by_role("heading", name=PHOTO_TITLE)).to_be_visible()
    screenshot(desktop, "desktop-gallery.png")

    assert browser_log.errors == []
    assert browser_log.foreign_requests() == []
    assert any(url.startswith(live_server + "/media/") for url in browser_log.requests)
    # Chromium takes the WebP width renditions from the pictures' srcset.
    assert any(url.startswith(live_server + "/media/") and url.endswith(".webp") for url in browser_log.requests)


def test_tab_first_focuses_the_skip_link(live_server: str, browser_page: Page, browser_log: BrowserLog) -> None:
    page = browser_page
    page.goto(live_server + "/account/login")
    expect(page.get_by_role("heading", name="登录")).to_be_visible()

    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="跳到主要内容")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()

    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()

    assert browser_log.errors == []
    assert browser_log.foreign_requests() == []
