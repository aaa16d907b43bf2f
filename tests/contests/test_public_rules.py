"""The public rules on the contest page are written from the contest's data: its rule set,
its results formula and its stage windows, as numbered lists. The organisers' free text
follows under its own heading, and the demo's free text restates none of those numbers."""

from __future__ import annotations

import re
from html import unescape

import pytest

from contest import demo
from contest.accounts.actors import SYSTEM
from contest.contests import service as contests
from contest.contests.models import Contest
from contest.extensions import db
from contest.results import service as results
from tests.conftest import fixture_unit


def make_demo_contest(kind: str, clock) -> Contest:  # type: ignore[no-untyped-def]
    """One of the demo's three contests as the demo creates it (rules, windows, texts)."""
    changes, category_kind, names = next(c for c in demo.contest_changes(clock.now()) if c[0].kind == kind)
    changes.unit_id = fixture_unit(clock).id
    contest = contests.create_contest(db.session, actor=SYSTEM, changes=changes, now=clock.now())
    for name in names:
        contests.add_category(db.session, actor=SYSTEM, contest=contest, kind=category_kind, name=name, now=clock.now())
    db.session.commit()
    return contest


def rule_sections(client, contest: Contest) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    """The numbered rules on the contest page: section heading -> its items, in order."""
    page = client.get(f"/c/{contest.slug}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    block = re.search(r'<ol class="rule-sections"[^>]*>(.*?)</ol>\s*</li>\s*</ol>', html, re.S)
    assert block, "no numbered rules on the page"
    sections = {}
    for title, items in re.findall(r"<h3>(.*?)</h3>\s*<ol class=\"rule-items\">(.*?)</ol>", block.group(0), re.S):
        sections[unescape(title)] = [unescape(re.sub(r"<[^>]+>", "", item)).replace("\xa0", " ")
                                     for item in re.findall(r"<li>(.*?)</li>", items, re.S)]
    return sections


def texts(sections: dict[str, list[str]]) -> str:
    return "\n".join(item for items in sections.values() for item in items)


def set_rules(contest: Contest, clock, **values) -> None:  # type: ignore[no-untyped-def]
    contests.set_rules(db.session, actor=SYSTEM, contest=contest, values=values, now=clock.now())
    db.session.commit()


def test_media_contest_lists_its_rules_from_the_data(client, clock):
    contest = make_demo_contest("media", clock)
    sections = rule_sections(client, contest)
    assert list(sections) == ["参赛与作品", "公众投票", "评奖办法", "活动日程（北京时间）"]
    assert sections["参赛与作品"] == [
        "全体市民均可参加，投稿前须完成手机验证。",
        "每人最多投稿 3 件。",
        "照片作品每件 1–9 张，每张分辨率不低于 1600×900 像素。",
        "视频作品每件一段，最长 180 秒，不超过 300 MB。",
    ]
    assert sections["公众投票"] == [
        "仅限完成手机验证的注册用户投票。",
        "每人每天最多投 5 票，对同一作品每天最多投 1 票（按北京时间计日）。",
        "系统发现异常时，会要求完成图形验证码。",
        "投票期间公开实时票数；截止前 24 小时起隐藏票数，只显示名次，投票结束后重新公开。",
    ]
    awards = sections["评奖办法"]
    # the formula's defaults: 10 of each award per category, no work wins both
    assert awards[0] == "按类别分别评奖，下列名额在每个类别内分别计算。"
    assert "评委奖 10 名" in awards[1] and "人气奖 10 名" in awards[2]
    assert "同一作品不重复获奖：先定评委奖，人气奖在其余作品中按票数顺延。" in awards
    assert all(line in awards for line in results.award_rules(db.session, contest))
    start, end = contest.window("submission")
    assert sections["活动日程（北京时间）"][0] == (
        f"作品征集：{start.astimezone(clock.now().tzinfo).strftime('%Y-%m-%d %H:%M')} 至 "
        f"{end.astimezone(clock.now().tzinfo).strftime('%Y-%m-%d %H:%M')}")
    assert [item.split("：")[0] for item in sections["活动日程（北京时间）"]] == ["作品征集", "资格审核", "公众投票", "专家评审", "结果公示"]
    html = client.get(f"/c/{contest.slug}").get_data(as_text=True)
    assert f'<time datetime="{start.isoformat()}">' in html[html.index('id="rules-schedule"'):]
    # school quotas, teams and ages are no rules of 全民美拍
    assert "限报" not in texts(sections) and "团队" not in texts(sections) and "周岁" not in texts(sections)


def test_media_rules_on_the_page_follow_a_change_of_the_data(client, clock):
    contest = make_demo_contest("media", clock)
    set_rules(contest, clock, votes_per_day=8, photos_min=2, photos_max=5, counts_public=False, captcha_mode="never",
              min_account_age_hours=48, verified_only=False)
    results.set_formula(db.session, actor=SYSTEM, contest=contest, now=clock.now(), override=True, reason="按主办方要求调整奖项",
                        formula={"popular_award": {"name": "人气奖", "count": 3}, "exclusive": False, "per_category": False})
    db.session.commit()
    sections = rule_sections(client, contest)
    assert "照片作品每件 2–5 张，每张分辨率不低于 1600×900 像素。" in sections["参赛与作品"]
    assert sections["公众投票"] == [
        "注册用户均可投票。",
        "账号注册满 48 小时后才能投票。",
        "每人每天最多投 8 票，对同一作品每天最多投 1 票（按北京时间计日）。",
        "不公开票数，排行榜只显示名次。",
    ]
    awards = sections["评奖办法"]
    assert awards[0] == "全部作品一起排名评奖。"
    assert "人气奖 3 名" in awards[2]
    assert "同一作品可同时获得评委奖和人气奖。" in awards
    assert not any("不重复获奖" in line for line in awards)


def test_selection_contest_lists_its_rules_from_the_data(client, clock):
    contest = make_demo_contest("selection", clock)
    sections = rule_sections(client, contest)
    assert list(sections) == ["参赛与作品", "公众投票", "评奖办法", "活动日程（北京时间）"]
    assert sections["参赛与作品"] == [
        "由学校联络人代表本校推荐学生。",
        "被推荐学生应为 12–40 周岁；未满 18 周岁的，须取得监护人同意。",
        "各校推荐名额按在校生人数确定：在校生少于 2000 人的学校 3 名，2000–5000 人的学校 4 名，多于 5000 人的学校 5 名。",
        "每名学生提交照片 3–6 张，可附一段短视频（最长 60 秒，不超过 300 MB）。",
    ]
    assert any(item.startswith("未满 18 周岁选手的票数不公开：他们的作品不上排行榜") for item in sections["公众投票"])
    awards = sections["评奖办法"]
    assert awards[0] == "全部作品一起排名评奖。"
    assert "总分 = 投票分 × 30% + 专家分 × 70%；专家分为轮次“expert”的定稿得分。" in awards
    assert any("最美职校生 10 名；提名奖 20 名" in line for line in awards)

    set_rules(contest, clock, school_small_below=1000, school_large_above=3000, school_quota_medium=6, nominee_age_min=14,
              nominee_age_max=22, photos_max=4)
    sections = rule_sections(client, contest)
    assert sections["参赛与作品"][1:4] == [
        "被推荐学生应为 14–22 周岁；未满 18 周岁的，须取得监护人同意。",
        "各校推荐名额按在校生人数确定：在校生少于 1000 人的学校 3 名，1000–3000 人的学校 6 名，多于 3000 人的学校 5 名。",
        "每名学生提交照片 3–4 张，可附一段短视频（最长 60 秒，不超过 300 MB）。",
    ]


def test_innovation_contest_lists_its_rules_and_has_no_vote(client, clock):
    contest = make_demo_contest("innovation", clock)
    sections = rule_sections(client, contest)
    assert list(sections) == ["参赛与作品", "评奖办法", "活动日程（北京时间）"]
    assert sections["参赛与作品"] == [
        "由学校联络人代表本校报名，以团队参赛；每名学生只能参加一支团队。",
        "每支团队由 3–5 名学生和 1–2 名指导教师组成。",
        "各校限报项目数按在校生人数确定：在校生少于 2000 人的学校 3 项，2000–5000 人的学校 4 项，多于 5000 人的学校 5 项。",
        "提交商业计划书（PDF）、路演视频（最长 300 秒，不超过 300 MB）和封面图片。",
    ]
    awards = sections["评奖办法"]
    assert awards[0] == "按组别分别评奖，下列名额在每个组别内分别计算。"
    assert any("一等奖 10%；二等奖 20%；三等奖 30%；优秀奖 40%" in line for line in awards)
    assert "票" not in "".join(sections["参赛与作品"])
    # stages without a window are not listed
    assert [item.split("：")[0] for item in sections["活动日程（北京时间）"]] == ["作品征集", "资格审核", "专家评审", "结果公示"]

    set_rules(contest, clock, team_students_min=2, team_students_max=2, team_advisors_min=0)
    assert "每支团队由 2 名学生和 0–2 名指导教师组成。" in rule_sections(client, contest)["参赛与作品"]


def test_a_contest_without_windows_says_its_schedule_is_pending(client, make_contest):
    contest = make_contest(kind="media")
    for stage in ("submission", "review", "voting", "judging", "publicity"):
        setattr(contest, f"{stage}_starts_at", None)
        setattr(contest, f"{stage}_ends_at", None)
    db.session.commit()
    sections = rule_sections(client, contest)
    assert sections["活动日程（北京时间）"] == ["日程待公布"]
    assert "公众投票" not in sections  # no voting window, no public vote


def test_free_text_follows_the_numbered_rules_under_its_own_heading(client, make_contest):
    contest = make_contest()
    contest.rules_text = "一、作品要求\n\n画面清晰。\n不得合成。\n\n"
    db.session.commit()
    html = client.get(f"/c/{contest.slug}").get_data(as_text=True)
    assert html.index('<ol class="rule-sections"') < html.index("<h3 class=\"rules-text-title\">补充说明</h3>")
    assert "<p>一、作品要求</p><p>画面清晰。<br>不得合成。</p>" in html
    contest.rules_text = "  \n\n "
    db.session.commit()
    assert "补充说明" not in client.get(f"/c/{contest.slug}").get_data(as_text=True)


def test_the_page_is_in_english_for_english_readers(client, clock):
    contest = make_demo_contest("media", clock)
    client.get("/lang/en?next=/")
    sections = rule_sections(client, contest)
    for items in sections.values():
        for item in items:
            assert not re.search(r"[\u4e00-\u9fff]", item.replace("评委奖", "").replace("人气奖", "")
                                 .replace("评委评审", "")), item


@pytest.mark.parametrize("prose", [demo.MEIPAI_RULES, demo.HUANGYANPEI_RULES, demo.ZUIMEI_RULES],
                         ids=["meipai", "huangyanpei", "zuimei"])
def test_the_demos_free_text_restates_no_rule(prose):
    # Numbers come from the data; the only one left in the prose is the year of the week.
    assert set(re.findall(r"\d+", prose)) <= {"2023"}
    for restated in ("每天", "限报", "最多投稿", "不超过", "以内", "周岁", "名额", "%", "×", "公示 ", "人气奖 ", "一等奖"):
        assert restated not in prose, restated
