"""Plain words in a real browser. A voter on a phone reads a receipt: what the ledger is,
in one sentence, and the proof folded away until asked for. An organiser on a desktop
reviews held votes: the anti-fraud reasons in words, and the audit trail's actions too."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from contest.accounts.models import User
from contest.antifraud.service import Verdict
from contest.clock import FixedClock
from contest.contests.models import Contest, Entry
from contest.extensions import db
from contest.voting import service as voting
from tests.conftest import PASSWORD
from tests.results.test_public_views import YOUNG_ADULT, build_selection_world

from .browser import DESKTOP, PHONE, BrowserLog, screenshot

pytestmark = pytest.mark.e2e

PLAIN = "每一票都记入一本只能追加、不能改写的公开账本；凭投票凭证可以核对自己的票是否被如实记录。"
HELD_REASONS = [("shared_device", "new_account"), ("ip_velocity", "too_fast"), ("headless_user_agent",)]


def test_a_plain_receipt_and_back_office_words(
    live_server: str, new_page: Callable[..., Page], browser_log: BrowserLog, clock: FixedClock,
    make_contest: Callable[..., Contest], make_entry: Callable[..., Entry], make_school: Callable[..., object],
    make_user: Callable[..., User],
) -> None:
    world = build_selection_world(make_contest, make_entry, make_school, make_user, clock)  # type: ignore[arg-type]
    for reasons in HELD_REASONS:
        voting.record_vote(db.session, voter=make_user(), entry_id=world.entry(YOUNG_ADULT).id, now=clock.now(),
                           verdict=Verdict(action="hold", score=75, reasons=reasons))
    db.session.commit()
    world.publish()  # seals the ledger
    counted = world.votes[2]

    # A voter's receipt, on a phone: the ledger in one sentence, the proof folded away.
    page = new_page(**PHONE)
    page.goto(f"{live_server}/receipts/{counted.receipt}")
    expect(page.get_by_text("已计入票数")).to_be_visible()
    expect(page.get_by_text(PLAIN)).to_be_visible()
    expect(page.locator(".proof-result").first).to_be_visible()
    proof = page.locator("details.ledger-proof").first
    expect(proof.get_by_text("默克尔根", exact=True)).to_be_hidden()
    screenshot(page, "receipt-plain-phone.png")
    proof.locator("summary").click()
    expect(proof.get_by_text("默克尔根", exact=True)).to_be_visible()

    # An organiser, on a desktop: held votes with their reasons in words.
    desk = new_page(**DESKTOP)
    desk.goto(f"{live_server}/account/login")
    desk.get_by_label("手机号").fill(world.organisers[0].phone)
    desk.get_by_label("密码", exact=True).fill(PASSWORD)
    desk.get_by_role("button", name="登录").click()
    desk.goto(f"{live_server}/admin/fraud/entries/{world.entry(YOUNG_ADULT).id}")
    held = desk.locator(".held-table")
    for words in ("一台设备上多个账号投票", "新注册的账号", "同一 IP 集中投票", "打开页面后投票过快", "自动程序或无界面浏览器"):
        expect(held.get_by_text(words).first).to_be_visible()
    expect(held).not_to_contain_text("shared_device")
    screenshot(desk, "backoffice-labels.png")
    desk.goto(f"{live_server}/admin/audit")
    expect(desk.get_by_role("cell", name="作废投票").first).to_be_visible()
    expect(desk.locator("table.audit")).not_to_contain_text("votes.void")

    assert browser_log.errors == []
    assert browser_log.foreign_requests() == []
