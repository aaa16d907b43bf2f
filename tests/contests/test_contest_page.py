"""The public contest page: rules, timeline, counts, and what stays hidden."""

from __future__ import annotations

import re

from contest.extensions import db


def test_contest_page_shows_title_summary_and_stage(client, make_contest):
    contest = make_contest(stage="voting", title="技能美拍大赛")
    page = client.get(f"/c/{contest.slug}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<h1>技能美拍大赛</h1>" in html
    assert "测试用的活动" in html
    assert '<span class="badge stage-voting">公众投票</span>' in html
    # the next stage and when it starts, in Asia/Shanghai time (stored as UTC)
    assert contest.judging_starts_at.hour == 2
    assert "下一阶段：专家评审，2023-05-18\u00a010:00 开始" in html  # no line break inside a time


def test_rules_text_is_escaped_and_split_into_paragraphs(client, make_contest):
    contest = make_contest()
    contest.rules_text = "第一条：遵守规则\n\n<script>alert(1)</script>\n\n<b>加粗</b>"
    db.session.commit()
    html = client.get(f"/c/{contest.slug}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>加粗</b>" not in html
    assert "<p>第一条：遵守规则</p>" in html
    assert "<p>&lt;b&gt;加粗&lt;/b&gt;</p>" in html


def test_other_texts_are_escaped_too(client, make_contest):
    contest = make_contest(title="<i>标题</i>")
    contest.summary = '<img src=x onerror="alert(2)">'
    db.session.commit()
    html = client.get(f"/c/{contest.slug}").get_data(as_text=True)
    assert "<i>标题</i>" not in html and "&lt;i&gt;标题&lt;/i&gt;" in html
    assert "<img src=x" not in html


def _timeline(html: str) -> str:
    match = re.search(r'<ol class="timeline">(.*?)</ol>', html, re.S)
    assert match
    return match.group(1)


def test_timeline_lists_every_stage_in_local_time_and_marks_the_current_one(client, make_contest):
    contest = make_contest(stage="voting")
    timeline = _timeline(client.get(f"/c/{contest.slug}").get_data(as_text=True))
    labels = re.findall(r"<strong>(.*?)</strong>", timeline)
    assert labels == ["作品征集", "资格审核", "公众投票", "专家评审", "结果公示"]
    assert re.findall(r'<li class="step-(\w+)">', timeline) == ["past", "past", "current", "future", "future"]
    assert timeline.count("进行中") == 1
    # voting runs 05-15 10:00 to 05-18 10:00 Shanghai time (now 05-16 10:00, one day in)
    assert "05-15\u00a010:00</time> – <time" in timeline
    assert "05-18\u00a010:00" in timeline


def test_contest_without_windows_says_the_schedule_is_pending(client, make_contest):
    contest = make_contest()
    for stage in ("submission", "review", "voting", "judging", "publicity"):
        setattr(contest, f"{stage}_starts_at", None)
        setattr(contest, f"{stage}_ends_at", None)
    db.session.commit()
    html = client.get(f"/c/{contest.slug}").get_data(as_text=True)
    assert "日程待公布" in _timeline(html)
    assert '<span class="badge stage-upcoming">即将开始</span>' in html


def test_counts_include_only_approved_entries(client, make_contest, make_entry, make_school):
    contest = make_contest(kind="selection", categories=("摄影作品", "短视频"))
    photo, video = contest.categories
    school_a, school_b = make_school(), make_school()
    make_entry(contest, school=school_a, category_id=photo.id)
    make_entry(contest, school=school_a, category_id=photo.id)
    make_entry(contest, school=school_b, category_id=video.id)
    for status in ("draft", "submitted", "rejected", "withdrawn"):
        make_entry(contest, status=status, school=make_school(), category_id=video.id)
    html = client.get(f"/c/{contest.slug}").get_data(as_text=True)
    assert "<dt>参赛作品</dt><dd>3</dd>" in html
    assert "<dt>参与学校</dt><dd>2</dd>" in html
    assert f'category={photo.id}">摄影作品 <span class="count">2</span>' in html
    assert f'category={video.id}">短视频 <span class="count">1</span>' in html


def test_a_citizens_contest_counts_its_authors_not_schools(client, make_contest, make_entry, make_user):
    contest = make_contest(kind="media")
    first, second = make_user(name="泉城光影"), make_user(name="大明湖畔")
    for author, status in ((first, "approved"), (first, "approved"), (second, "approved"), (make_user(), "submitted")):
        entry = make_entry(contest, status=status)
        entry.submitted_by_id = author.id
    db.session.commit()
    html = client.get(f"/c/{contest.slug}").get_data(as_text=True)
    assert "<dt>参赛作品</dt><dd>3</dd>" in html
    assert "<dt>参与作者</dt><dd>2</dd>" in html and "参与学校" not in html


def test_unknown_slug_is_the_sites_404_page(client, make_contest):
    make_contest()
    page = client.get("/c/no-such-contest")
    assert page.status_code == 404
    html = page.get_data(as_text=True)
    assert "页面不存在" in html
    assert "没有找到这项活动，请检查链接。" in html
    assert 'class="site-header"' in html
    for path in ("/c/no-such-contest/entries", "/c/no-such-contest/entries/1"):
        assert client.get(path).status_code == 404


def test_unpublished_contest_is_404_for_the_public(client, make_contest, make_entry):
    contest = make_contest(title="草稿活动")
    entry = make_entry(contest)
    contest.is_published = False
    db.session.commit()
    for path in (f"/c/{contest.slug}", f"/c/{contest.slug}/entries", f"/c/{contest.slug}/entries/{entry.id}"):
        page = client.get(path)
        assert page.status_code == 404, path
        assert "草稿活动" not in page.get_data(as_text=True)
        assert "页面不存在" in page.get_data(as_text=True)
