"""Results in a real browser: two organisers publish the 最美职校生 results, a visitor
reads them on a phone and on a desktop (awards, ranking, formula and fingerprint, the
sealed ledger head, the daily chart, objections and their answers), checks a vote
counted in them on the receipt page, looks at the transparency page, and a citizen files
an objection during 公示.

Along the way no page may log a console error (a CSP violation would show there) nor
request anything from another origin.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from contest.accounts.models import User
from contest.clock import LOCAL_TZ, FixedClock
from contest.contests.models import Contest, Entry
from contest.extensions import db
from contest.results import formulas
from contest.results import service as results
from contest.voting.models import Vote
from tests.conftest import PASSWORD
from tests.results.test_public_views import World, finalise_round

from .browser import DESKTOP, PHONE, BrowserLog, screenshot

pytestmark = pytest.mark.e2e

SLUG = "zuimei"
# (title, school, expert score, votes on each of the four voting days, birth date)
NOMINEES = [
    ("焊花里的青春", 0, 92, (9, 14, 11, 6), date(2003, 6, 1)),
    ("护理之星", 1, 88, (12, 10, 9, 5), date(2007, 3, 15)),
    ("数控追梦人", 2, 85, (4, 7, 6, 3), date(2004, 11, 20)),
    ("面点师的清晨", 0, 81, (6, 5, 8, 2), date(2005, 2, 8)),
    ("城市夜色中的维修工", 1, 79, (3, 4, 2, 1), date(2002, 9, 30)),
    ("泉城非遗小传人", 2, 74, (5, 3, 4, 2), date(2004, 5, 5)),
]
SCHOOLS = [("济南第一职业中等专业学校", "历下区"), ("济南护理职业学院", "槐荫区"), ("济南工程职业技术学院", "长清区")]


@pytest.fixture
def published(app: Flask, clock: FixedClock, make_contest: Callable[..., Contest], make_entry: Callable[..., Entry],
              make_school: Callable[..., object], make_user: Callable[..., User]) -> tuple[World, Vote]:
    """The selection contest after four days of voting, a finalised expert round, a formula
    override with its reason, and results requested by one organiser, confirmed by another.
    Returns the world and a valid vote counted in the results."""
    contest = make_contest(kind="selection", slug=SLUG, title="最美职校生网络评选", stage="voting", categories=())
    schools = [make_school(name, district=district) for name, district in SCHOOLS]
    entries: dict[str, Entry] = {}
    for title, school, _score, _votes, born in NOMINEES:
        entry = make_entry(contest, title=title, school=schools[school], nominee=f"{title[:2]}同学")  # type: ignore[arg-type]
        assert entry.nominee is not None
        entry.nominee.birth_date = born
        entries[title] = entry
    db.session.commit()
    organisers = (make_user("organiser", name="组织者甲"), make_user("organiser", name="组织者乙"))
    world = World(contest, entries, organisers, clock, make_user)

    formula, _fp = results.formula_of(db.session, contest)
    results.set_formula(db.session, actor=organisers[0], contest=contest, now=clock.now(), override=True,
                        reason="参评人数少于预期，按比例调整奖项名额",
                        formula={**formula, "awards": [{"name": "最美职校生", "count": 3}, {"name": "提名奖", "count": 3}]})
    db.session.commit()

    opened = contest.voting_starts_at
    assert opened is not None
    for day in range(4):
        clock.set(opened.astimezone(LOCAL_TZ).replace(hour=12, minute=0) + timedelta(days=day))
        if clock.now() >= contest.voting_ends_at:  # type: ignore[operator]
            clock.set(contest.voting_ends_at - timedelta(hours=1))  # type: ignore[operator]
        for title, _school, _score, votes, _born in NOMINEES:
            for _ in range(votes[day]):
                world.vote(title)
    counted = next(v for v in world.votes if v.entry_id == entries["焊花里的青春"].id)
    world.vote("数控追梦人", held=True)
    world.void([v for v in world.votes if v.entry_id == entries["护理之星"].id][:3], reason="同一设备多个账号集中投票")
    world.void([v for v in world.votes if v.entry_id == entries["面点师的清晨"].id][:2], reason="异常时段集中投票")
    finalise_round(contest, organisers[0], make_user("judge", name="评委"),
                   {entries[t]: s for t, _sc, s, _v, _b in NOMINEES}, clock.now())
    world.publish()

    # One objection already answered, as organisers do during 公示.
    citizen = make_user(name="不应出现的名字")
    objection = results.file_objection(db.session, user=citizen, contest=contest, entry_id=entries["数控追梦人"].id,
                                       subject="score", body="该选手的专家评分明显偏低，请复核评分过程。",
                                       storage=app.extensions["storage"], now=clock.now())
    results.answer_objection(db.session, actor=organisers[1], objection=objection, outcome="rejected", now=clock.now(),
                             answer="经复核，三位评委的评分记录完整，评分符合评分标准，维持原结果。")
    db.session.commit()
    return world, counted


def test_results_from_publication_to_a_receipt_check(
    published: tuple[World, Vote], live_server: str, new_page: Callable[..., Page], browser_log: BrowserLog,
    make_user: Callable[..., User],
) -> None:
    world, counted = published
    publication = results.current_publication(db.session, world.contest)
    assert publication is not None
    head = publication.ledger_head
    page = new_page(**PHONE)

    # From the contest page to its results.
    page.goto(f"{live_server}/c/{SLUG}")
    page.get_by_role("link", name="评选结果", exact=True).first.click()
    expect(page).to_have_url(f"{live_server}/c/{SLUG}/results")
    expect(page.locator(".result-badges")).to_contain_text("公示中，截至 2023-05-23")
    awards = page.locator(".award-list")
    expect(awards).to_have_count(2)
    expect(awards.first.get_by_role("heading")).to_contain_text("最美职校生")
    expect(awards.first.locator("li a")).to_have_text(["焊花里的青春", "护理之星", "数控追梦人"])
    ranking = page.get_by_role("table", name="全部作品排名")
    expect(ranking.locator("tbody tr")).to_have_count(len(NOMINEES))
    minor = ranking.locator("tbody tr").filter(has_text="护理之星")
    expect(minor.locator('td[data-label="有效票数"]')).to_have_text("不公开")
    expect(page.get_by_text(formulas.display_fingerprint(publication.fingerprint)).first).to_be_visible()
    expect(page.get_by_text("参评人数少于预期，按比例调整奖项名额")).to_be_visible()
    expect(page.locator(".ledger-head")).to_contain_text(head["hash"])
    expect(page.get_by_role("img", name="每日有效票数柱状图")).to_be_visible()
    expect(page.get_by_text("经复核，三位评委的评分记录完整，评分符合评分标准，维持原结果。")).to_be_visible()
    expect(page.get_by_text("不应出现的名字")).to_have_count(0)
    screenshot(page, "phone-results.png")

    # The same page on a desktop screen.
    desktop = new_page(**DESKTOP)
    desktop.goto(f"{live_server}/c/{SLUG}/results")
    expect(desktop.get_by_role("table", name="全部作品排名")).to_be_visible()
    screenshot(desktop, "desktop-results.png")

    # Transparency: voided votes per entry and reason.
    page.get_by_role("navigation", name="本页目录").get_by_role("link", name="投票透明度").click()
    expect(page.get_by_role("heading", name="投票透明度报告")).to_be_visible()
    by_reason = page.get_by_role("table", name="按原因汇总")
    expect(by_reason.get_by_role("row", name=re.compile("异常时段集中投票"))).to_contain_text("2")
    # used on the minor's entry only: a total would give its hidden count away
    expect(by_reason.get_by_role("row", name=re.compile("同一设备多个账号集中投票"))).to_have_count(0)
    expect(page.get_by_text("件作品的票数因此显示为“不公开”", exact=False)).to_be_visible()
    by_entry = page.get_by_role("table", name="按作品和原因统计")
    expect(by_entry.get_by_role("row").filter(has_text="面点师的清晨")).to_contain_text("异常时段集中投票")
    expect(by_entry.get_by_role("row").filter(has_text="护理之星")).to_contain_text("不公开")
    expect(page.get_by_text("作废的票不会被删除", exact=False)).to_be_visible()
    screenshot(page, "phone-transparency.png")

    # A voter checks that a vote counted in the results is in the sealed ledger.
    page.goto(f"{live_server}/c/{SLUG}/results")
    page.locator(".ledger-head").get_by_role("link", name="查投票凭证").click()
    page.get_by_label("投票凭证").fill(counted.receipt)
    page.get_by_role("button", name="查询").click()
    expect(page.get_by_text("已计入票数")).to_be_visible()
    expect(page.get_by_text("焊花里的青春")).to_be_visible()
    proof = page.locator(".proof-result").first
    expect(proof).to_have_class(re.compile(r"\bok\b"))
    height = int(re.search(r"#(\d+)", proof.inner_text()).group(1))  # type: ignore[union-attr]
    assert height <= head["height"]

    # A citizen files an objection during 公示: sent to log in first, then back to the form.
    citizen = make_user(name="李市民")
    page.goto(f"{live_server}/c/{SLUG}/results")
    page.locator(".result-state").get_by_role("link", name="提出异议").click()
    expect(page).to_have_url(re.compile(r"/account/login\?next="))
    page.get_by_label("手机号").fill(citizen.phone)
    page.get_by_label("密码", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name="对评选结果提出异议")).to_be_visible()
    page.get_by_label("针对的作品").select_option(label="第 4 名 · 面点师的清晨（济南第一职业中等专业学校）")
    page.get_by_label("投票情况").check()
    page.get_by_label("异议内容").fill("该作品在投票第二天的票数增长异常，请核实是否存在刷票。")
    page.get_by_role("button", name="提交异议").click()
    expect(page.get_by_text("异议已提交")).to_be_visible()
    mine = page.locator(".objection").filter(has_text="该作品在投票第二天的票数增长异常")
    expect(mine).to_contain_text("待答复")
    expect(mine).to_contain_text("针对：面点师的清晨")

    assert browser_log.errors == []
    assert browser_log.foreign_requests() == []
