"""A judge scores the live final (路演) on a phone, and the hall's big screen shows the result.

The judge signs the 回避 declaration, scores the project on stage (the running total
follows what they type, and submitting asks first), waits on the queue until the next
project comes on stage (the page updates itself), scores it too. The other four judges
submit through the service; the big screen (1920×1080, signed in as an organiser)
shows "已提交 4/5" and then, by itself, the highest and lowest totals struck through and
the trimmed mean. No console errors, nothing requested from another host.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from contest.accounts.actors import SYSTEM
from contest.accounts.models import User
from contest.clock import FixedClock
from contest.contests.models import Entry, TeamMember
from contest.extensions import db
from contest.judging import service as judging
from contest.judging.models import Round
from contest.media.service import attach_image

from .browser import PHONE, BrowserLog, log_in, sample_photo, screenful, screenshot

pytestmark = pytest.mark.e2e

BIG_SCREEN = dict(viewport={"width": 1920, "height": 1080}, locale="zh-CN", timezone_id="Asia/Shanghai")
RUBRIC = (("创新性", "理念、技术或模式的新颖程度", 25), ("商业可行性", "市场分析、商业模式与财务测算", 25),
          ("团队", "分工、能力结构与执行力", 20), ("社会价值", "对就业、乡村振兴与绿色发展的带动", 15),
          ("路演表现", "陈述清晰、答辩准确", 15))
PROJECTS = (("泉水智灌：丘陵果园的节水灌溉系统", "济南第一职业中等专业学校", ("王一鸣", "李思雨", "陈浩然", "赵立新")),
            ("非遗面塑数字工坊", "济南商贸职业学校", ("刘欣怡", "孙嘉豪", "周子涵", "马老师")))
# The phone judge's marks (totals 88 and 85) and the other four judges' totals.
MINE = ((22, 22, 17.5, 13.5, 13), (21.5, 21, 17, 13, 12.5))
OTHERS = ((92, 79, 86, 83), (90, 80, 70, 95))  # second project: 90, 80, 85, 70, 95 → drop 95 and 70 → 85.00


def _marks(total: float) -> list[float]:
    """Marks on the 0.5 step adding up to total, each within its criterion's maximum."""
    marks = [int(weight * total / 100 * 2) / 2 for _name, _desc, weight in RUBRIC]
    rest = total - sum(marks)
    for i, (_name, _desc, weight) in enumerate(RUBRIC):
        add = min(rest, weight - marks[i])
        marks[i] += add
        rest -= add
    assert rest == 0
    return marks


@pytest.fixture
def live_final(app: Flask, clock: FixedClock, make_user, make_school, make_contest, make_entry):  # type: ignore[no-untyped-def]
    now = clock.now()
    contest = make_contest(kind="innovation", stage="judging", slug="huangyanpei-e2e", title="黄炎培职业教育创新创业大赛",
                           short_title="黄炎培大赛", categories=())
    entries: list[Entry] = []
    for i, (title, school_name, team) in enumerate(PROJECTS):
        school = make_school(name=school_name)
        entry = make_entry(contest, title=title, school=school)
        for position, name in enumerate(team):
            entry.team_members.append(TeamMember(contest_id=contest.id, role="advisor" if position == 3 else "leader" if position == 0 else "member",
                                                 name=name, student_no=f"S{i}{position}", school_id=school.id, position=position))
        attach_image(db.session, app.extensions["storage"], entry=entry, image=sample_photo((70, 110, 150) if i else (180, 60, 40)),
                     now=now, caption="项目现场")
        entries.append(entry)
    db.session.commit()
    rnd = judging.create_round(
        db.session, actor=SYSTEM, contest=contest, now=now,
        fields=judging.RoundFields(key="final", name="决赛路演", kind="live", judges_per_entry=5, blind=False,
                                   score_step=0.5, instructions="每个项目路演 8 分钟、答辩 5 分钟。项目下台前请提交评分。"),
        criteria=[judging.CriterionFields(name, weight, weight, desc) for name, desc, weight in RUBRIC],
    )
    judging.add_entries(db.session, actor=SYSTEM, rnd=rnd, entry_ids=[e.id for e in entries], now=now)
    phone_judge = make_user("judge", name="张评委")
    others = [make_user("judge", name=f"评委{i}") for i in range(4)]
    for judge in (phone_judge, *others):
        judging.add_judge(db.session, actor=SYSTEM, rnd=rnd, user=judge, now=now)
    judging.set_state(db.session, actor=SYSTEM, rnd=rnd, state="open", now=now)
    for judge in others:
        judging.sign_declaration(db.session, judge=judge, rnd=rnd, accepted=True, now=now)
    judging.set_live_entry(db.session, actor=SYSTEM, rnd=rnd, entry_id=entries[0].id, now=now)
    db.session.commit()
    return rnd, entries, phone_judge, others, make_user("organiser", name="大屏幕")


def _submit(rnd: Round, judge: User, entry: Entry, total: float, clock: FixedClock) -> None:
    db.session.rollback()  # see what the server committed
    fresh = db.session.get(Round, rnd.id)
    assert fresh is not None
    marks = _marks(total)
    judging.save_score(db.session, judge=judge, rnd=fresh, entry_id=entry.id, submit=True, now=clock.now(),
                       raw_values={str(c.id): m for c, m in zip(fresh.criteria, marks, strict=True)})
    db.session.commit()


def _on_stage(rnd: Round, entry: Entry, clock: FixedClock) -> None:
    db.session.rollback()
    fresh = db.session.get(Round, rnd.id)
    judging.set_live_entry(db.session, actor=SYSTEM, rnd=fresh, entry_id=entry.id, now=clock.now())  # type: ignore[arg-type]
    db.session.commit()


def _score(page: Page, marks: tuple[float, ...], total: str) -> None:
    for (name, _desc, _weight), mark in zip(RUBRIC, marks, strict=True):
        page.get_by_role("group", name=name).get_by_label("得分").fill(f"{mark:g}")
    expect(page.locator("[data-total-value]")).to_have_text(total)  # the running total, as typed


def test_judge_scores_the_live_final_and_the_big_screen_shows_the_trimmed_mean(
    live_final, live_server: str, new_page: Callable[..., Page], browser_log: BrowserLog, clock: FixedClock,
) -> None:
    rnd, entries, phone_judge, others, organiser = live_final
    page = new_page(**PHONE)
    log_in(page, live_server, phone_judge.phone, "/judge/")
    expect(page.get_by_role("heading", name="我的评审")).to_be_visible()
    expect(page.get_by_text("已提交 0 / 2")).to_be_visible()

    # The declaration first.
    page.get_by_role("link", name="签署回避声明").click()
    expect(page.get_by_role("heading", name="关于回避的承诺")).to_be_visible()
    expect(page.get_by_label(PROJECTS[1][0])).not_to_be_checked()
    page.get_by_label("我已阅读以上承诺").check()
    page.get_by_role("button", name="签署声明").click()

    # The queue: the project on stage stands out.
    expect(page.get_by_text("回避声明已签署。")).to_be_visible()
    stage = page.locator(".on-stage")
    expect(stage).to_contain_text(PROJECTS[0][0])
    screenshot(page, "phone-judge-queue.png")

    stage.get_by_role("link", name="为该项目评分").click()
    expect(page.get_by_role("heading", name=PROJECTS[0][0])).to_be_visible()
    _score(page, MINE[0], "88.00")
    page.get_by_label("评语（选填）").fill("节水效果数据扎实，建议补充推广成本测算。")
    page.get_by_role("group", name="创新性").scroll_into_view_if_needed()
    screenshot(page, "phone-judge-score.png")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="提交评分").click()
    expect(page.get_by_text(f"“{PROJECTS[0][0]}”的评分已提交。")).to_be_visible()
    expect(page.get_by_text("已提交 1 / 2")).to_be_visible()

    # The other judges score the first project; the next one comes on stage and the
    # queue updates itself.
    for judge, total in zip(others, OTHERS[0], strict=True):
        _submit(rnd, judge, entries[0], total, clock)
    _on_stage(rnd, entries[1], clock)
    stage = page.locator(".on-stage")
    expect(stage).to_contain_text(PROJECTS[1][0], timeout=12_000)
    stage.get_by_role("link", name="为该项目评分").click()
    _score(page, MINE[1], "85.00")
    # Cancelling the confirmation keeps the score open.
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="提交评分").click()
    expect(page.get_by_role("button", name="提交评分")).to_be_visible()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="提交评分").click()
    expect(page.get_by_text("已提交 2 / 2")).to_be_visible()

    # The second project waits for one judge.
    for judge, total in zip(others[:3], OTHERS[1][:3], strict=True):
        _submit(rnd, judge, entries[1], total, clock)

    screen = new_page(**BIG_SCREEN)
    log_in(screen, live_server, organiser.phone, f"/judge/rounds/{rnd.id}/screen")
    expect(screen.locator("[data-stage-title]")).to_have_text(PROJECTS[1][0])
    expect(screen.locator("[data-stage-meta]")).to_contain_text(PROJECTS[1][1])
    expect(screen.locator("[data-stage-progress]")).to_have_text("已提交 4/5")
    expect(screen.locator("[data-stage-result]")).to_be_hidden()
    expect(screen.locator("[data-ranking] li")).to_have_count(1)

    _submit(rnd, others[3], entries[1], OTHERS[1][3], clock)
    # No reload: the page polls screen.json.
    expect(screen.locator("[data-stage-progress]")).to_have_text("已提交 5/5", timeout=10_000)
    expect(screen.locator("[data-stage-mean]")).to_have_text("85.00")
    expect(screen.locator("s[data-stage-high]")).to_have_text("95.00")
    expect(screen.locator("s[data-stage-low]")).to_have_text("70.00")
    expect(screen.locator("[data-ranking] li")).to_have_count(2)
    expect(screen.locator("[data-ranking] [data-rank-mean]")).to_have_text(["85.67", "85.00"])
    expect(screen.locator("[data-ranking] li.current")).to_contain_text(PROJECTS[1][0])
    # The projector page hides the site header (and its logo), which the shared helper
    # would wait on: the screen is captured as the hall sees it, one 1920×1080 frame.
    screenful(screen, "desktop-big-screen.png")
    # The whole screen fits a 16:9 projector without scrolling.
    assert screen.evaluate("() => document.documentElement.scrollHeight") <= 1080

    assert re.search(r"/judge/rounds/\d+/screen\.json", " ".join(browser_log.requests))
    assert browser_log.errors == [], browser_log.errors
    assert browser_log.foreign_requests() == []
