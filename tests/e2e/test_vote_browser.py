"""A citizen on a phone is sent to log in from an entry, comes back to it, votes: the
button turns into 今日已投 without a reload, and 我的投票 lists the vote with its receipt
next to earlier ones that were held, voided and released."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from contest.accounts.actors import SYSTEM
from contest.antifraud.service import Verdict
from contest.clock import FixedClock
from contest.extensions import db
from contest.voting import service as voting
from tests.conftest import PASSWORD

from .browser import PHONE_BROWSER, BrowserLog, screenshot

pytestmark = pytest.mark.e2e

TITLES = ("焊花里的青春", "面点师的清晨", "城市夜色中的维修工", "车间里的光")


def test_vote_on_a_phone_then_find_it_in_my_votes(
    live_server: str, new_page: Callable[..., Page], browser_log: BrowserLog, clock: FixedClock,
    make_contest: Callable, make_entry: Callable, make_user: Callable,
) -> None:
    contest = make_contest(kind="media", stage="voting", slug="meipai-vote", title="全民美拍（测试）", short_title="全民美拍")
    entries = [make_entry(contest, title=title) for title in TITLES]
    start = clock.now()
    clock.set(start - timedelta(days=2))
    citizen = make_user(name="泉城小李")
    # Yesterday's votes: one voided after review, one still held, one held and then released.
    clock.set(start - timedelta(hours=20))
    voided = voting.record_vote(db.session, voter=citizen, entry_id=entries[1].id, now=clock.now()).vote.id
    hold = Verdict(action="hold", score=80, reasons=("subnet_velocity",))
    voting.record_vote(db.session, voter=citizen, entry_id=entries[2].id, now=clock.now(), verdict=hold)
    released = voting.record_vote(db.session, voter=citizen, entry_id=entries[3].id, now=clock.now(), verdict=hold).vote.id
    voting.change_status(db.session, actor=SYSTEM, vote_ids=[voided], to="voided", reason="同一设备集中投票，经核查作废",
                         now=clock.now())
    voting.change_status(db.session, actor=SYSTEM, vote_ids=[released], to="valid", reason="核实为正常投票", now=clock.now())
    db.session.commit()
    clock.set(start)

    page = new_page(**PHONE_BROWSER)
    entry_url = f"{live_server}/c/{contest.slug}/entries/{entries[0].id}"
    page.goto(entry_url)
    page.get_by_role("link", name="登录后投票").click()
    page.get_by_label("手机号").fill(citizen.phone)
    page.get_by_label("密码", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(entry_url)  # back where the visitor was

    vote_box = page.locator("#vote")
    button = vote_box.get_by_role("button", name="投一票")
    expect(button).to_be_enabled()
    expect(vote_box.locator("[data-votes-left]")).to_have_text("今日还可投 5 票")
    clock.advance(seconds=12)  # time spent looking at the entry
    button.click()

    done = vote_box.locator("button[type=submit]")
    expect(done).to_have_text("今日已投")
    expect(done).to_be_disabled()
    expect(vote_box.locator("[data-votes-left]")).to_have_text("今日还可投 4 票")
    status = vote_box.locator("[data-vote-status]")
    expect(status).to_contain_text("投票成功！投票凭证：")
    receipt = re.search(r"投票凭证：([A-Z0-9]{12})", status.inner_text()).group(1)
    expect(status.get_by_role("link", name="查看凭证")).to_have_attribute("href", f"/receipts/{receipt}")
    screenshot(page, "vote-done-phone.png")

    # The state is the server's: a reload and the gallery say the same.
    page.reload()
    expect(page.locator("#vote button[type=submit]")).to_have_text("今日已投")
    page.goto(f"{live_server}/c/{contest.slug}/entries")
    card = page.locator(".entry-card").filter(has_text=TITLES[0])
    expect(card.get_by_role("button")).to_be_disabled()
    expect(card.get_by_role("button")).to_contain_text("今日已投")
    expect(page.locator(".entry-card").filter(has_text=TITLES[1]).get_by_role("button")).to_be_enabled()

    # 我的投票, from the header.
    page.get_by_role("navigation", name="账号").get_by_role("link", name="我的投票").click()
    expect(page.get_by_role("heading", level=1, name="我的投票")).to_be_visible()
    rows = page.locator(".vote-row")
    expect(rows).to_have_count(4)
    expect(rows.nth(0)).to_contain_text(TITLES[0])
    expect(rows.nth(0)).to_contain_text("有效")
    expect(rows.nth(0).get_by_role("link", name=receipt)).to_have_attribute("href", f"/receipts/{receipt}")
    expect(page.locator(".vote-row-voided")).to_contain_text("作废原因：同一设备集中投票，经核查作废")
    expect(page.locator(".vote-row-held")).to_contain_text("审核中")
    expect(page.locator(".vote-row-released")).to_contain_text("已恢复")
    screenshot(page, "my-votes-phone.png")

    rows.nth(0).get_by_role("link", name=receipt).click()
    expect(page.get_by_role("heading", name=re.compile("投票凭证"))).to_contain_text(receipt)

    assert browser_log.errors == []
    assert browser_log.foreign_requests() == []
