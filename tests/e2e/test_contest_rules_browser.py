"""The 全民美拍 contest page on a phone: its rules as numbered lists written from the
contest's data, then the organisers' own words under their own heading."""

from __future__ import annotations

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from contest import demo
from contest.accounts.actors import SYSTEM
from contest.clock import FixedClock
from contest.contests import service as contests
from contest.extensions import db
from tests.conftest import fixture_unit

from .browser import SCREENSHOTS, BrowserLog, wait_for_images

pytestmark = pytest.mark.e2e


def test_the_rules_read_as_numbered_lists_on_a_phone(app: Flask, clock: FixedClock, live_server: str,
                                                       browser_page: Page, browser_log: BrowserLog) -> None:
    changes, category_kind, names = next(c for c in demo.contest_changes(clock.now()) if c[0].kind == "media")
    changes.unit_id = fixture_unit(clock).id
    contest = contests.create_contest(db.session, actor=SYSTEM, changes=changes, now=clock.now())
    for name in names:
        contests.add_category(db.session, actor=SYSTEM, contest=contest, kind=category_kind, name=name, now=clock.now())
    db.session.commit()

    page = browser_page
    page.goto(f"{live_server}/c/{contest.slug}")
    rules = page.locator("ol.rule-sections")
    expect(rules.locator("> li > h3")).to_have_text(["参赛与作品", "公众投票", "评奖办法", "活动日程（北京时间）"])
    expect(rules.locator("#rules-entries li")).to_contain_text(["每人最多投稿 3 件。"])
    expect(rules.locator("#rules-awards li").first).to_have_text("按类别分别评奖，下列名额在每个类别内分别计算。")
    expect(page.locator("h3.rules-text-title")).to_have_text("补充说明")
    # each section is numbered 一、二、…, each item 1. 2. …
    markers = page.evaluate("""() => [...document.querySelectorAll('ol.rule-sections, ol.rule-items')]
        .map(list => getComputedStyle(list).listStyleType)""")
    assert markers[0] == "simp-chinese-informal" and set(markers[1:]) == {"decimal"}

    wait_for_images(page)
    top = page.locator("#rules-title").bounding_box()
    bottom = page.locator(".rules-text").bounding_box()
    assert top is not None and bottom is not None
    scroll = page.evaluate("() => window.scrollY")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "contest-rules-phone.png"), full_page=True,
                    clip={"x": 0, "y": top["y"] + scroll - 12, "width": page.viewport_size["width"] if page.viewport_size else 390,
                          "height": bottom["y"] + bottom["height"] - top["y"] + 24})
    assert browser_log.errors == [] and browser_log.foreign_requests() == []
