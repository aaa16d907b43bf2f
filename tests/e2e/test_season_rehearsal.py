"""The season rehearsal: each of the week's three contests run end to end in headless
Chromium, as its people would, with the clock moved through the stages (entries,
checks, voting, judging, 公示, publication).

An organiser sets the contest up in the back office on a desktop screen: the form with
its dates and rules, its categories, its result formula. School contacts nominate and
register teams, citizens upload a photo and a short video (phones); the organiser
approves them and turns one down; one is withdrawn while the public votes. Citizens
vote on their phones, through the captcha where it is asked for; the crowd votes beside
them through the voting service, and a click farm's burst from one address is held by
the anti-fraud rules until an organiser voids it at the fraud desk and releases some of
what was held. Judges score on their phones (网评, then the live final with its big
screen), two organisers publish the results, a citizen objects during 公示 and is
answered, the results become final, and the exports and a certificate are downloaded.

At every stage the rehearsal reads the vote figures off every page that shows them
(season.figures, one reader per page) and holds them to what it knows it cast, held,
released and voided. Disagreements are collected over the whole season and reported
together at the end, each naming its page; where the rules keep a minor's count private
it must be absent from every public page. Screenshots of the steps go to
docs/screenshots (or SCREENSHOTS_DIR) as season-<contest>-<nn>-<step>.png.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from contest.clock import FixedClock
from contest.contests.models import SchoolContact
from contest.extensions import db
from contest.media.submissions import MemberInput, NomineeInput, TeamInput
from tests.conftest import fixture_unit
from tests.video_entries import clip_bytes

from .browser import BrowserLog, log_in
from .season import crowd, steps
from .season.figures import (
    CastVote,
    Standing,
    Voter,
    api_leaderboard_status,
    big_screen_ranking,
    check_back_office,
    check_public_pages,
    check_published,
    check_receipts,
    check_results_preview,
    exported_results,
    published_results,
    published_round_scores,
    published_version,
    results_preview,
)
from .season.stage import People, Season, schedule

pytestmark = pytest.mark.e2e

SCHOOLS = (("济南第一职业中等专业学校", "历下区", 2600, "中职"), ("济南工程职业技术学院", "长清区", 5200, "高职"))
ORGANISER = "济南市中华职业教育社"  # the organising unit; 济南市教育局 co-organises


@pytest.fixture
def people(app: Flask, clock: FixedClock, make_user: Callable, make_school: Callable) -> People:
    """The season's accounts, registered a week before it starts, and the schools with
    their contacts (the platform has no page that links a contact to a school)."""
    start = clock.now()
    clock.set(start - timedelta(days=7))
    society = fixture_unit(clock, ORGANISER)
    fixture_unit(clock, "济南市教育局")
    organisers = (make_user("organiser", name="市教育局 王老师", unit=society),
                  make_user("organiser", name="市职教社 李老师", unit=society))
    citizens = [make_user(name="泉城小李"), make_user(name="历下张阿姨")]
    crowd_ = [make_user(name=f"市民{i + 1:02d}") for i in range(10)]
    judges = [make_user("judge", name=name) for name in ("周教授", "吴高工", "郑校长")]
    schools = [make_school(name, district=district, enrolment=enrolment, level=level)
               for name, district, enrolment, level in SCHOOLS]
    contacts = [make_user("school_contact", name=name) for name in ("一职专 陈老师", "工程职院 孙老师")]
    for school, contact in zip(schools, contacts, strict=True):
        db.session.add(SchoolContact(user_id=contact.id, school_id=school.id))
    db.session.commit()
    clock.set(start)
    return People(organisers, citizens, crowd_, judges, schools, contacts)


@pytest.fixture
def season(request: pytest.FixtureRequest, app: Flask, clock: FixedClock, live_server: str,
           new_page: Callable[..., Page], browser_log: BrowserLog, people: People) -> Season:
    return Season(request.param, app, clock, live_server, new_page, browser_log, people)


def _photo(folder: Path, name: str, variant: int, size: tuple[int, int] = (1280, 860)) -> Path:
    path = folder / name
    path.write_bytes(crowd.jpeg(variant, size))
    return path


def _ids_in_gallery(page: Page, base: str, slug: str) -> dict[str, int]:
    """Titles → entry ids, as the public gallery links them."""
    page.goto(f"{base}/c/{slug}/entries")
    return dict(page.evaluate("""() => [...document.querySelectorAll('.entry-card')].map(card =>
        [card.querySelector('h3').textContent.trim(), Number(card.querySelector('a').getAttribute('href').match(/entries\\/(\\d+)/)[1])])"""))


def _fraud_desk(s: Season, st: Standing, *, rule_entry: int, rule: dict[str, str], farmed: list[CastVote],
                picked_entry: int, picked: list[CastVote]) -> None:
    """The fraud desk the morning after the burst: one entry's farmed votes voided by a
    rule, and of another's held votes the first released after a call, the next voided,
    the rest left for later."""
    desk = s.desk(s.people.organisers[0])
    steps.void_by_rule(desk, s.base, rule_entry, **rule, expected=len(farmed), shots=s.shots)
    s.tally.change(farmed, "voided", rule["reason"])
    steps.act_on_picked(desk, s.base, picked_entry, [v.vote_id for v in picked[:1] if v.vote_id], release=True,
                        reason=RELEASE_REASON)
    s.tally.change(picked[:1], "valid", RELEASE_REASON)
    steps.act_on_picked(desk, s.base, picked_entry, [v.vote_id for v in picked[1:2] if v.vote_id], release=False,
                        reason=PICK_VOID_REASON)
    s.tally.change(picked[1:2], "voided", PICK_VOID_REASON)


def _publish(s: Season, st: Standing, *, objector: Voter, entry_id: int, subject: str, objection: str, answer: str,
             votes: bool = True) -> None:
    """Two organisers publish (one requests, the other confirms); 公示 begins; a citizen
    objects and the organiser answers, in public."""
    organiser, second = s.people.organisers
    desk = s.desk(organiser)
    steps.request_publication(desk, s.base, st.slug, s.shots)
    steps.confirm_publication(s.desk(second), s.base, st.slug)
    st.same("公示", "published version /admin/results/<slug>/versions/1", published_version(desk, s.base, st.slug, 1),
            {e: st.tally.split(e) if votes else None for e in st.running()})
    steps.file_objection(objector.page, s.base, st.slug, entry_id, subject, objection)
    steps.answer_objection(desk, s.base, st.slug, answer, "异议不成立")
    s.shots.take(objector.page, "results-publicity", f"{s.base}/c/{st.slug}/results")
    expect(objector.page.get_by_text(answer)).to_be_visible()


def _finish(s: Season, st: Standing, *, votes: bool) -> None:
    """公示 over: the results become final; the exports and a winner's certificate."""
    desk = s.desk(s.people.organisers[0])
    steps.finalise_publication(desk, s.base, st.slug)
    exported = exported_results(desk, s.base, st.slug)
    st.same("final", "results export (XLSX)", exported,
            {e: st.tally.split(e) if votes else None for e in st.running()})
    winners = [int(e) for e, awards in published_results(desk, s.base, st.slug)["awards"].items() if awards]
    assert winners, "the published results name no winner"
    s.shots.take(desk, "certificates", f"{s.base}/admin/results/{st.slug}/certificates")
    pdf = steps.certificate(desk, s.base, st.slug, winners[0])
    assert pdf.startswith(b"%PDF-") and len(pdf) > 10_000


def _end(s: Season) -> None:
    if s.checks.failures:
        pytest.fail(s.checks.report(), pytrace=False)
    assert s.unexpected_console_errors() == []
    assert s.log.foreign_requests() == []


# --- 最美职校生 ------------------------------------------------------------------------------

ZUIMEI = "zuimei-rehearsal"
ZUIMEI_TITLE = "济南市“最美职校生”网络评选活动"
# (name, gender, age on the first day, major, grade, title, story)
NOMINEES = {
    "minor": ("王雨桐", "女", 16, "护理", "二年级", "把微笑带进病房", "在社区卫生服务中心志愿服务两百余小时，为独居老人建立健康档案。"),
    "a": ("李浩然", "男", 20, "数控技术", "三年级", "毫厘之间的坚守", "省职业院校技能大赛数控车赛项一等奖，带领兴趣小组为乡镇企业改造夹具。"),
    "b": ("张欣怡", "女", 19, "中式烹调", "二年级", "灶台前的青春", "鲁菜传承人的徒弟，把家乡的面点做进了校园开放日。"),
    "w": ("赵子轩", "男", 18, "汽车运用与维修", "三年级", "奔跑的维修工", "利用课余时间为社区居民免费检测车辆。"),
    "r": ("刘佳琪", "女", 17, "电子商务", "一年级", "直播间里的家乡味", "为平阴玫瑰开设助农直播。"),
}
FARM_REASON = "同一 IP 和设备集中投票，新注册账号，经核查为刷票"
RELEASE_REASON = "电话回访确认为本人投票"
PICK_VOID_REASON = "同一设备多个账号投票"


def _born(clock: FixedClock, age: int) -> date:
    today = clock.now().date()
    return today.replace(year=today.year - age) - timedelta(days=40)


@pytest.mark.parametrize("season", ["zuimei"], indirect=True)
def test_zuimei_season(season: Season, make_user: Callable, tmp_path: Path) -> None:
    s, p, clock, base = season, season.people, season.clock, season.base
    windows = schedule(clock.now())
    desk = s.desk(p.organisers[0])

    # The organiser sets the contest up: the form (dates, rules) and the result formula.
    contest_id, surprises = steps.create_contest(desk, base, steps.ContestForm(
        slug=ZUIMEI, kind="selection", title=ZUIMEI_TITLE, short_title="最美职校生", organiser=ORGANISER,
        summary="寻找技能成才、德技并修的身边榜样。学校推荐，网络投票与专家评审相结合（投票占 30%，专家评审占 70%）。",
        rules_text="每所学校按在校生人数推荐。\n\n未满 18 周岁的学生须取得监护人同意。", windows=windows,
        awarded_on=windows["publicity"][0].date(),
        rules={"photos_min": "1", "photos_max": "3", "votes_per_day": "5", "votes_per_entry_per_day": "1",
               "captcha_mode": "risk", "hide_counts_hours_before_close": "24", "hide_minor_vote_counts": True},
    ), s.shots)
    steps.set_formula(desk, base, ZUIMEI, {
        "vote_weight": 30, "expert_weight": 70, "vote_scoring": "max", "expert_round": "expert", "per_category": False,
        "awards": [{"name": "最美职校生", "count": 1}, {"name": "提名奖", "count": 2}]})
    st = s.standing(ZUIMEI_TITLE, ZUIMEI, contest_id)
    st.same("set-up", "new contest /admin/contests/new: rules a new contest starts with (shown, default)", surprises, {})

    # Schools nominate: the first school's contact on a phone (a 16-year-old, with her
    # guardian's consent); the other nominations came in through the same intake.
    clock.advance(hours=1)
    first_contact, second_contact = p.contacts
    name, gender, age, major, grade, title, story = NOMINEES["minor"]
    contact_phone = s.phone(first_contact)
    steps.nominate(contact_phone, base, ZUIMEI, name=name, gender=gender, born=_born(clock, age), major=major, grade=grade,
                   title=title, story=story, consent=_photo(tmp_path, "consent.jpg", 5), photo=_photo(tmp_path, "minor.jpg", 0),
                   shots=s.shots)
    s.shots.take(contact_phone, "nominated")
    rejected = None
    for variant, (key, contact, school) in enumerate((("a", first_contact, p.schools[0]), ("b", second_contact, p.schools[1]),
                                                     ("w", second_contact, p.schools[1]), ("r", first_contact, p.schools[0])), 1):
        name, gender, age, major, grade, title, story = NOMINEES[key]
        entry = crowd.nominate(s.app, clock, contact, ZUIMEI, tmp_path, school_id=school.id, variant=variant,
                               data=NomineeInput(school_id=None, category_id=None, name=name, gender="female" if gender == "女" else "male",
                                                 birth_date=_born(clock, age), major=major, grade=grade, story=story, title=title))
        rejected = entry.id if key == "r" else rejected

    # Checks: four nominations approved together, one turned down with the reason.
    s.at(windows["review"][0] + timedelta(hours=1))
    steps.moderate(desk, base, contest_id, s.shots, approve=[NOMINEES[k][5] for k in ("minor", "a", "b", "w")],
                   reject={NOMINEES["r"][5]: "推荐材料中的获奖证书与本人信息不符，请学校核实。"})
    ids = _ids_in_gallery(desk, base, ZUIMEI)
    assert sorted(ids) == sorted(NOMINEES[k][5] for k in ("minor", "a", "b", "w"))
    minor, a, b, w = (st.add(k, ids[NOMINEES[k][5]], NOMINEES[k][5]) for k in ("minor", "a", "b", "w"))
    assert rejected is not None
    st.out.add(st.add("r", rejected, NOMINEES["r"][5]))
    st.minors.add(minor)

    # Voting. Citizens on their phones: the first votes at once (too fast: the page asks
    # for the captcha), then from the gallery; the second after a look at the entry.
    s.at(windows["voting"][0] + timedelta(hours=1))
    li = s.voter("泉城小李", p.citizens[0])
    li.receipts.append(s.tally.cast(steps.vote_on_entry_page(li.page, base, ZUIMEI, minor, clock, app=s.app, shots=s.shots),
                                    minor, "valid").receipt)
    s.shots.take(li.page, "voted-after-captcha")
    li.receipts.append(s.tally.cast(steps.vote_on_gallery_card(li.page, base, ZUIMEI, NOMINEES["a"][5], clock), a, "valid").receipt)
    s.shots.take(li.page, "gallery-voted")
    zhang = s.voter("历下张阿姨", p.citizens[1])
    zhang.receipts.append(s.tally.cast(steps.vote_on_entry_page(zhang.page, base, ZUIMEI, a, clock), a, "valid").receipt)
    zhang.receipts.append(s.tally.cast(steps.vote_on_gallery_card(zhang.page, base, ZUIMEI, NOMINEES["b"][5], clock),
                                       b, "valid").receipt)
    crowd.crowd_votes(s.app, clock, s.tally, p.crowd, {a: 8, b: 6, minor: 5, w: 3})
    check_public_pages(st, "voting, day 1", li.page, base)
    s.shots.take(li.page, "leaderboard", f"{base}/c/{ZUIMEI}/leaderboard")

    # A click farm in the evening: fresh accounts, one address, one device, a script.
    s.at(windows["voting"][0] + timedelta(days=1, hours=13))
    farmed, farm_accounts = crowd.click_farm(s.app, clock, s.tally, make_user, {a: 10, b: 4})
    check_public_pages(st, "click farm held", li.page, base)
    check_back_office(st, "click farm held", desk, base, entry_pages=(a, b))
    s.shots.take(desk, "fraud-desk-held", f"{base}/admin/fraud/{contest_id}")

    # Next morning at the fraud desk; then the second school withdraws its nomination
    # (which had votes): it leaves every public page.
    s.at(windows["voting"][0] + timedelta(days=2, hours=1))
    _fraud_desk(s, st, rule_entry=a, rule={"ip_range": crowd.FARM_RANGE, "reason": FARM_REASON}, farmed=farmed[a],
                picked_entry=b, picked=farmed[b])
    steps.request_withdrawal(s.phone(second_contact), base, NOMINEES["w"][5], "该生因病休学，无法参加后续评审",
                             shot="withdrawal-request-phone.png")
    steps.approve_withdrawal(desk, base, NOMINEES["w"][5], "该生因病休学，无法参加后续评审", "学校出具了休学证明，同意撤回",
                             shot="withdrawal-desk.png")
    st.out.add(w)
    farm_receipts = (farmed[a][0].receipt, farmed[b][0].receipt, farmed[b][1].receipt, farmed[b][3].receipt)
    # Two of the farm's account holders look at 我的投票: what was voided says why.
    for n, account in ((1, farm_accounts[0]), (2, farm_accounts[3])):
        s.voter(f"刷票账号{n}", account).receipts.extend(v.receipt for v in s.tally.votes.values() if v.voter_id == account.id)
    check_public_pages(st, "after the fraud desk", li.page, base)
    check_back_office(st, "after the fraud desk", desk, base, entry_pages=(a, b, w))
    check_receipts(st, "after the fraud desk", base, s.voters, sealed=False, others=farm_receipts)
    s.shots.take(li.page, "transparency", f"{base}/c/{ZUIMEI}/transparency")
    s.shots.take(s.voters["刷票账号1"].page, "my-votes-voided", f"{base}/me/votes")

    # The last day: counts hide (the rule), rankings stay.
    s.at(windows["voting"][1] - timedelta(hours=6))
    check_public_pages(st, "counts hidden before close", li.page, base, counts_visible=False)
    s.shots.take(li.page, "leaderboard-hidden", f"{base}/c/{ZUIMEI}/leaderboard")

    # Judging: the expert round set up in the back office, scored on a phone.
    s.at(windows["judging"][0] + timedelta(hours=1))
    round_id = steps.create_round(desk, base, ZUIMEI, steps.RoundForm(
        key="expert", name="专家评审", kind="网络评审", judges_per_entry=1, blind=False,
        criteria=[("事迹与品德", 60, 60), ("技能与成长", 40, 40)], instructions="请结合推荐材料评分。"))
    steps.add_all_entries(desk, base, round_id, 3)
    steps.add_judges(desk, base, round_id, [p.judges[0].phone])
    steps.set_round_state(desk, base, round_id, "开启评审", "评审已开启。")
    judge = s.phone(p.judges[0])
    steps.sign_declaration(judge, base, "专家评审")
    marks = {NOMINEES["a"][5]: (55, 36), NOMINEES["b"][5]: (50, 33), NOMINEES["minor"][5]: (52, 35)}
    steps.score_queue(judge, base, round_id, lambda t: dict(zip(("事迹与品德", "技能与成长"), marks[t], strict=True)), s.shots)
    steps.set_round_state(desk, base, round_id, "截止评审", "评审已截止。")
    steps.set_round_state(desk, base, round_id, "定稿", "本轮已定稿。")
    s.seal()
    check_public_pages(st, "judging", li.page, base)
    check_results_preview(st, "judging", desk, base)

    # 公示, then final.
    s.at(windows["publicity"][0] + timedelta(hours=1))
    _publish(s, st, objector=zhang, entry_id=b, subject="投票情况", objection="这件作品在投票第三天有一批票被作废，请公开核查依据。",
             answer="经核查，被作废的票来自同一设备上新注册的多个账号，作废依据和票数已在投票透明度页公开。")
    check_published(st, "公示", li.page, base, s.voters, others=farm_receipts)
    check_public_pages(st, "公示", li.page, base)
    s.at(windows["publicity"][1] + timedelta(hours=1))
    _finish(s, st, votes=True)
    check_published(st, "final", li.page, base, s.voters)
    check_back_office(st, "final", desk, base)
    s.shots.take(li.page, "my-votes", f"{base}/me/votes")
    _end(s)


# --- 全民美拍 --------------------------------------------------------------------------------

MEIPAI = "meipai-rehearsal"
MEIPAI_TITLE = "“技能：让生活更美好”全民美拍活动"
PHOTO, VIDEO, OTHER, GONE, TURNED_DOWN = "泉城工匠的清晨", "一分钟学会清洗空调滤网", "毫厘之间", "焊花绽放", "网上找来的风景照"
JURY = ("主题表达", "拍摄技巧", "创意")


@pytest.mark.parametrize("season", ["meipai"], indirect=True)
def test_meipai_season(season: Season, make_user: Callable, tmp_path: Path) -> None:
    s, p, clock, base = season, season.people, season.clock, season.base
    windows = schedule(clock.now())
    desk = s.desk(p.organisers[0])

    # The organiser: the form (a captcha for every vote, photos of at least 1200×800),
    # the two categories, the formula (one 评委奖 and one 人气奖 per category).
    contest_id, surprises = steps.create_contest(desk, base, steps.ContestForm(
        slug=MEIPAI, kind="media", title=MEIPAI_TITLE, short_title="全民美拍", organiser=ORGANISER,
        summary="用照片和短视频记录身边的技能之美。全体市民均可投稿，公众投票评出人气奖，专家评委评出评委奖。",
        rules_text="投稿须为本人原创。\n\n拍摄他人须征得同意。", windows=windows, awarded_on=windows["publicity"][0].date(),
        rules={"entries_per_person": "3", "min_image_width": "1200", "min_image_height": "800", "video_max_seconds": "120",
               "votes_per_day": "5", "votes_per_entry_per_day": "1", "captcha_mode": "always",
               "hide_counts_hours_before_close": "24"},
    ), s.shots)
    steps.add_categories(desk, base, contest_id, [("类别", "摄影作品"), ("类别", "短视频")])
    steps.set_formula(desk, base, MEIPAI, {
        "popular_award": {"name": "人气奖", "count": 1}, "jury_award": {"name": "评委奖", "count": 1},
        "jury_round": "jury", "exclusive": True, "per_category": True})
    st = s.standing(MEIPAI_TITLE, MEIPAI, contest_id)
    st.same("set-up", "new contest /admin/contests/new: rules a new contest starts with (shown, default)", surprises, {})

    # Citizens upload: a photo and a short video from their phones; three more came in.
    clock.advance(hours=1)
    li, zhang = s.voter("泉城小李", p.citizens[0]), s.voter("历下张阿姨", p.citizens[1])
    steps.upload_media(li.page, base, MEIPAI, title=PHOTO, description="清晨六点，实训车间里已经响起了机床声。", category="摄影作品",
                       photo=_photo(tmp_path, "photo.jpg", 0, (1600, 1067)), shots=s.shots)
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(clip_bytes())
    steps.upload_media(zhang.page, base, MEIPAI, title=VIDEO, description="断电、拆网、冲洗、晾干、复位，五步让空调“呼吸”更顺畅。",
                       category="短视频", video=clip)
    s.shots.take(zhang.page, "my-entries")
    others = {}
    for variant, (title, citizen) in enumerate(((OTHER, p.crowd[0]), (GONE, p.crowd[1]), (TURNED_DOWN, p.crowd[2])), 1):
        others[title] = crowd.submit_photo(s.app, clock, citizen, MEIPAI, tmp_path, title=title, description="实训课上的一瞬。",
                                           category="摄影作品", variant=variant).id

    s.at(windows["review"][0] + timedelta(hours=1))
    steps.moderate(desk, base, contest_id, s.shots, approve=[PHOTO, VIDEO, OTHER, GONE],
                   reject={TURNED_DOWN: "作品为网络图片，并非本人拍摄。"})
    ids = _ids_in_gallery(desk, base, MEIPAI)
    assert sorted(ids) == sorted([PHOTO, VIDEO, OTHER, GONE])
    photo, video, other, gone = (st.add(k, ids[t], t) for k, t in (("photo", PHOTO), ("video", VIDEO), ("other", OTHER), ("gone", GONE)))
    st.out.add(st.add("turned-down", others[TURNED_DOWN], TURNED_DOWN))

    # Voting, a captcha with every vote: the short video plays on a phone, then votes.
    s.at(windows["voting"][0] + timedelta(hours=2))
    li.page.goto(f"{base}/c/{MEIPAI}/entries/{video}")
    li.page.locator("video").scroll_into_view_if_needed()
    li.page.wait_for_function("() => document.querySelector('video').readyState >= 1", timeout=15_000)
    li.receipts.append(s.tally.cast(steps.vote_on_entry_page(li.page, base, MEIPAI, video, clock, app=s.app, shots=s.shots),
                                    video, "valid").receipt)
    s.shots.take(li.page, "video-voted")
    li.receipts.append(s.tally.cast(steps.vote_on_entry_page(li.page, base, MEIPAI, other, clock, app=s.app), other, "valid").receipt)
    zhang.receipts.append(s.tally.cast(steps.vote_on_entry_page(zhang.page, base, MEIPAI, photo, clock, app=s.app),
                                       photo, "valid").receipt)
    crowd.crowd_votes(s.app, clock, s.tally, p.crowd, {photo: 6, video: 9, other: 4, gone: 2}, with_captcha=True)
    check_public_pages(st, "voting, day 1", li.page, base)
    s.shots.take(li.page, "gallery", f"{base}/c/{MEIPAI}/entries")

    # The farm solves the captchas too, and is held all the same.
    s.at(windows["voting"][0] + timedelta(days=1, hours=22))
    farm_start = clock.now()
    farmed, _accounts = crowd.click_farm(s.app, clock, s.tally, make_user, {video: 8, other: 3}, with_captcha=True)
    check_public_pages(st, "click farm held", li.page, base)
    check_back_office(st, "click farm held", desk, base, entry_pages=(video,))

    # The fraud desk: the video's farmed votes by address and time; the photo's by pick.
    s.at(windows["voting"][0] + timedelta(days=2, hours=2))
    _fraud_desk(s, st, rule_entry=video, farmed=farmed[video], picked_entry=other, picked=farmed[other], rule={
        "ip_range": crowd.FARM_ADDRESS, "reason": FARM_REASON, "start": steps.local_input(farm_start),
        "end": steps.local_input(farm_start + timedelta(hours=1))})
    # A citizen takes their photo back while the public votes: it leaves every public page.
    steps.request_withdrawal(s.phone(p.crowd[1]), base, GONE, "照片里的朋友不同意公开，想撤回")
    steps.approve_withdrawal(desk, base, GONE, "照片里的朋友不同意公开", "涉及他人肖像，同意撤回")
    st.out.add(gone)
    farm_receipts = (farmed[video][0].receipt, farmed[other][0].receipt, farmed[other][1].receipt, farmed[other][2].receipt)
    check_public_pages(st, "after the fraud desk", zhang.page, base)
    check_back_office(st, "after the fraud desk", desk, base, entry_pages=(video, other, gone))
    check_receipts(st, "after the fraud desk", base, s.voters, sealed=False, others=farm_receipts)
    s.shots.take(zhang.page, "leaderboard", f"{base}/c/{MEIPAI}/leaderboard")

    # The jury round: two judges, blind; one on a phone, one at their desk.
    s.at(windows["judging"][0] + timedelta(hours=1))
    round_id = steps.create_round(desk, base, MEIPAI, steps.RoundForm(
        key="jury", name="评委评审", kind="网络评审", judges_per_entry=2, blind=True,
        criteria=[(JURY[0], 40, 40), (JURY[1], 30, 30), (JURY[2], 30, 30)]))
    steps.add_all_entries(desk, base, round_id, 3)
    steps.add_judges(desk, base, round_id, [p.judges[1].phone, p.judges[2].phone])
    steps.set_round_state(desk, base, round_id, "开启评审", "评审已开启。")
    marks = {PHOTO: (36, 26, 25), VIDEO: (34, 27, 28), OTHER: (30, 22, 21)}
    judge = s.phone(p.judges[1])
    steps.sign_declaration(judge, base, "评委评审")
    steps.score_queue(judge, base, round_id, lambda t: dict(zip(JURY, marks[t], strict=True)), s.shots)
    crowd.panel_scores(clock, p.judges[2], round_id, {photo: (35, 25, 26), video: (36, 26, 27), other: (31, 20, 22)})
    steps.set_round_state(desk, base, round_id, "截止评审", "评审已截止。")
    steps.set_round_state(desk, base, round_id, "定稿", "本轮已定稿。")
    s.seal()
    check_public_pages(st, "judging", li.page, base)
    check_results_preview(st, "judging", desk, base)

    s.at(windows["publicity"][0] + timedelta(hours=1))
    _publish(s, st, objector=li, entry_id=photo, subject="评审评分", objection="我的照片评委分偏低，请说明评分标准。",
             answer="评委按主题表达、拍摄技巧、创意三项匿名评分，两位评委的评分均已核对无误。")
    check_published(st, "公示", zhang.page, base, s.voters, others=farm_receipts)
    s.at(windows["publicity"][1] + timedelta(hours=1))
    _finish(s, st, votes=True)
    check_published(st, "final", zhang.page, base, s.voters)
    check_public_pages(st, "final", zhang.page, base)
    check_back_office(st, "final", desk, base)
    _end(s)


# --- 黄炎培 ---------------------------------------------------------------------------------

HYP = "huangyanpei-rehearsal"
HYP_TITLE = "济南市首届黄炎培职业教育创新创业大赛"
TEAMS = {
    "t1": steps.Team("泉水智灌：丘陵果园的节水灌溉系统", "用土壤湿度传感器和太阳能水泵，为丘陵果园按需滴灌，节水四成。", "创意组", "中职组",
                     [("王一鸣", "S2023001", "现代农艺技术"), ("李思雨", "S2023002", "电子技术应用"), ("陈浩然", "S2023003", "市场营销")],
                     ["马建国"]),
    "t2": steps.Team("非遗面塑数字工坊", "把面塑非遗做成线上课程和文创产品，带动社区老人增收。", "初创组", "高职组",
                     [("刘欣怡", "G2023011", "艺术设计"), ("孙嘉豪", "G2023012", "电子商务"), ("周子涵", "G2023013", "会计")], ["郭老师"]),
    "t3": steps.Team("社区助老智能药盒", "按时提醒服药、异常时通知家属的智能药盒。", "创意组", "中职组",
                     [("赵立新", "S2023021", "电子技术应用"), ("钱多多", "S2023022", "计算机应用"), ("孔明", "S2023023", "护理")], ["何老师"]),
    "t4": steps.Team("校园二手书循环平台", "校内二手教材的回收与流转。", "初创组", "高职组",
                     [("吴桐", "G2023031", "软件技术"), ("郑爽", "G2023032", "物流管理"), ("冯远", "G2023033", "市场营销")], ["许老师"]),
}
ONLINE = ("创新性", "商业可行性", "团队")
BIG_SCREEN = dict(viewport={"width": 1920, "height": 1080}, locale="zh-CN", timezone_id="Asia/Shanghai")
FINAL = ("创新性", "商业可行性", "团队", "路演表现")


def _team_input(team: steps.Team) -> TeamInput:
    return TeamInput(school_id=None, track_id=None, group_id=None, project=team.project, summary=team.summary,
                     students=[MemberInput(name, number, major) for name, number, major in team.students], leader_index=0,
                     advisors=[MemberInput(name) for name in team.advisors])


@pytest.mark.parametrize("season", ["huangyanpei"], indirect=True)
def test_huangyanpei_season(season: Season, make_user: Callable, tmp_path: Path) -> None:
    s, p, clock, base = season, season.people, season.clock, season.base
    windows = schedule(clock.now(), voting=False)
    desk = s.desk(p.organisers[0])

    # The organiser: no public vote (no voting window), tracks and groups, tiers.
    contest_id, surprises = steps.create_contest(desk, base, steps.ContestForm(
        slug=HYP, kind="innovation", title=HYP_TITLE, short_title="黄炎培大赛", organiser=ORGANISER,
        summary="职业院校学生团队以创新创业项目参赛，经网络评审和决赛路演评出奖项。",
        rules_text="每名学生只能参加一支团队。\n\n决赛现场路演 8 分钟、答辩 5 分钟。", windows=windows,
        awarded_on=windows["publicity"][0].date(),
        rules={"team_students_min": "3", "team_students_max": "5", "team_advisors_min": "1", "team_advisors_max": "2",
               "video_max_seconds": "300", "school_quota_medium": "3", "school_quota_large": "4"},
    ), s.shots)
    steps.add_categories(desk, base, contest_id, [("赛道", "创意组"), ("赛道", "初创组"), ("组别", "中职组"), ("组别", "高职组")])
    steps.set_formula(desk, base, HYP, {"final_round": "final", "per_group": False, "per_track": False,
                                        "tiers": [{"name": "一等奖", "count": 1}, {"name": "二等奖", "count": 1}]})
    st = s.standing(HYP_TITLE, HYP, contest_id)
    st.same("set-up", "new contest /admin/contests/new: rules a new contest starts with (shown, default)", surprises, {})

    # Teams: the first school registers one on a phone (plan, pitch video, cover); the
    # other registrations came in through the same intake.
    clock.advance(hours=1)
    clip = clip_bytes()
    pitch = tmp_path / "pitch.mp4"
    pitch.write_bytes(clip)
    plan = tmp_path / "plan.pdf"
    plan.write_bytes(crowd.pdf_plan(TEAMS["t1"].project))
    contact_phone = s.phone(p.contacts[0])
    steps.register_team(contact_phone, base, HYP, TEAMS["t1"], plan=plan, pitch=pitch,
                        cover=_photo(tmp_path, "cover.jpg", 0), shots=s.shots)
    s.shots.take(contact_phone, "team-registered")
    turned_down = 0
    for variant, (key, contact, school) in enumerate((("t2", p.contacts[1], p.schools[1]), ("t3", p.contacts[0], p.schools[0]),
                                                     ("t4", p.contacts[1], p.schools[1])), 1):
        team = TEAMS[key]
        entry = crowd.register_team(s.app, clock, contact, HYP, tmp_path, school_id=school.id, team=_team_input(team),
                                    track=team.track, group=team.group, clip=clip, variant=variant)
        turned_down = entry.id if key == "t4" else turned_down

    s.at(windows["review"][0] + timedelta(hours=1))
    steps.moderate(desk, base, contest_id, s.shots, approve=[TEAMS[k].project for k in ("t1", "t2", "t3")],
                   reject={TEAMS["t4"].project: "项目与往届获奖项目雷同，不符合参赛要求。"})
    ids = _ids_in_gallery(desk, base, HYP)
    t1, t2, t3 = (st.add(k, ids[TEAMS[k].project], TEAMS[k].project) for k in ("t1", "t2", "t3"))
    st.out.add(st.add("t4", turned_down, TEAMS["t4"].project))

    # No public vote: no vote box, no leaderboard, no transparency page, nothing at the fraud desk.
    viewer = s.voter("泉城小李", p.citizens[0])
    _no_public_vote(s, st, viewer.page, "entries approved")

    # 网评: two judges, blind; the phone judge from the queue, the other at their desk.
    s.at(windows["judging"][0] + timedelta(hours=1))
    online = steps.create_round(desk, base, HYP, steps.RoundForm(
        key="online", name="网络评审", kind="网络评审", judges_per_entry=2, blind=True,
        criteria=[(ONLINE[0], 40, 40), (ONLINE[1], 30, 30), (ONLINE[2], 30, 30)], instructions="请阅读商业计划书并观看路演视频。"))
    steps.add_all_entries(desk, base, online, 3)
    steps.add_judges(desk, base, online, [p.judges[0].phone, p.judges[1].phone])
    steps.set_round_state(desk, base, online, "开启评审", "评审已开启。")
    judge = s.phone(p.judges[0])
    steps.sign_declaration(judge, base, "网络评审")
    online_marks = {TEAMS["t1"].project: (36, 26, 27), TEAMS["t2"].project: (33, 25, 25), TEAMS["t3"].project: (28, 20, 22)}
    steps.score_queue(judge, base, online, lambda t: dict(zip(ONLINE, online_marks[t], strict=True)), s.shots)
    crowd.panel_scores(clock, p.judges[1], online, {t1: (35, 27, 26), t2: (34, 24, 26), t3: (27, 21, 21)})
    steps.set_round_state(desk, base, online, "截止评审", "评审已截止。")
    steps.set_round_state(desk, base, online, "定稿", "本轮已定稿。")

    # 决赛: the best two advance; the live final with three judges and the big screen.
    clock.advance(days=1)
    final = steps.create_round(desk, base, HYP, steps.RoundForm(
        key="final", name="决赛路演", kind="现场路演", judges_per_entry=3, blind=False,
        criteria=[(FINAL[0], 30, 30), (FINAL[1], 30, 30), (FINAL[2], 20, 20), (FINAL[3], 20, 20)],
        instructions="每个项目路演 8 分钟、答辩 5 分钟。项目下台前请提交评分。"))
    steps.advance_top(desk, base, online, final, 2)
    steps.add_judges(desk, base, final, [j.phone for j in p.judges])
    steps.set_round_state(desk, base, final, "开启评审", "评审已开启。")
    steps.sign_declaration(judge, base, "决赛路演")
    for n, (key, mine, theirs) in enumerate((("t1", (27, 26, 18, 18), [(26, 25, 17, 17), (28, 27, 18, 19)]),
                                             ("t2", (25, 24, 17, 16), [(24, 25, 16, 17), (26, 23, 17, 16)]))):
        entry_id = st.entries[key]
        steps.bring_on_stage(desk, base, final, TEAMS[key].project)
        judge.goto(f"{base}/judge/rounds/{final}")
        judge.locator(".on-stage").get_by_role("link", name="为该项目评分").click()
        steps.score(judge, dict(zip(FINAL, mine, strict=True)))
        for other_judge, marks in zip(p.judges[1:], theirs, strict=True):
            crowd.panel_scores(clock, other_judge, final, {entry_id: marks}, declare=n == 0)
    screen = s.new_page(**BIG_SCREEN)
    log_in(screen, base, p.organisers[1].phone, f"/judge/rounds/{final}/screen")
    expect(screen.locator("[data-stage-progress]")).to_have_text("已提交 3/3")
    expect(screen.locator("[data-ranking] li")).to_have_count(2)
    s.shots.take_screen(screen, "big-screen")
    on_screen = big_screen_ranking(screen)
    steps.set_round_state(desk, base, final, "截止评审", "评审已截止。")
    steps.set_round_state(desk, base, final, "定稿", "本轮已定稿。")
    _no_public_vote(s, st, viewer.page, "judged")
    preview = results_preview(desk, base, HYP)
    st.same("judged", "results preview /admin/results/<slug>/: no vote column", preview, {t1: None, t2: None, t3: None})

    s.at(windows["publicity"][0] + timedelta(hours=1))
    _publish(s, st, objector=viewer, entry_id=t2, subject="评审评分", objection="决赛评分中路演表现一项的分差较大，请说明评分过程。",
             answer="决赛三位评委现场独立评分，评分记录完整，分差在合理范围内，维持原结果。", votes=False)
    shown = published_results(viewer.page, base, HYP)
    st.same("公示", "published results: 有效票数 column", shown["votes"], {str(e): None for e in (t1, t2, t3)})
    # What the hall saw on the big screen is what the results say of the final.
    published = published_round_scores(viewer.page, base, HYP, "决赛路演")
    st.same("公示", "big screen /judge/rounds/<final>/screen against the published 决赛路演 scores", on_screen,
            {title: published[title] for title in on_screen})
    s.at(windows["publicity"][1] + timedelta(hours=1))
    _finish(s, st, votes=False)
    _no_public_vote(s, st, viewer.page, "final")
    _end(s)


def _no_public_vote(s: Season, st: Standing, page: Page, stage: str) -> None:
    """A contest without a public vote shows no vote figure anywhere."""
    for e in st.running():
        page.goto(f"{s.base}/c/{st.slug}/entries/{e}")
        st.checks.true(stage, f"entry page of {st.name(e)}", page.locator("#vote").count() == 0, "shows a vote box")
    for path in (f"/c/{st.slug}/leaderboard", f"/c/{st.slug}/transparency"):
        s.refusals.add(path)
        response = page.goto(s.base + path)
        st.same(stage, f"{path}: status", response.status if response else None, 404)
    st.same(stage, "API leaderboard: status", api_leaderboard_status(page, s.base, st.slug), 404)
    desk = s.desk(s.people.organisers[0])
    desk.goto(f"{s.base}/admin/fraud/")
    st.checks.true(stage, "fraud desk index /admin/fraud/", desk.get_by_text(st.title).count() == 0, "lists the contest")
