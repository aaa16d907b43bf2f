"""The public page of one entry."""

from __future__ import annotations

from datetime import date

from contest.contests.models import Entry, TeamMember
from contest.extensions import db


def test_approved_entry_shows_title_school_and_nominee_story(client, make_contest, make_entry, make_school):
    contest = make_contest(kind="selection")
    entry = make_entry(contest, title="护理之星", school=make_school("济南护理职业学校", district="槐荫区"),
                       nominee="刘芳", category_id=contest.categories[0].id)
    entry.nominee.story = "第一段故事\n\n<script>alert(3)</script>"
    db.session.commit()
    page = client.get(f"/c/{contest.slug}/entries/{entry.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<h2>护理之星</h2>" in html
    assert "济南护理职业学校（槐荫区）" in html
    assert "<dd>刘芳</dd>" in html
    assert "<p>第一段故事</p>" in html
    assert "<script>alert(3)</script>" not in html and "&lt;script&gt;alert(3)&lt;/script&gt;" in html
    assert "<dd>护理</dd>" in html and "<dd>二年级</dd>" in html  # major is public in the fixture
    assert '<span class="chip">摄影作品</span>' in html
    assert "发布于 2023-05-16\u00a010:" in html


def test_story_and_major_are_hidden_without_consent(client, make_contest, make_entry):
    contest = make_contest(kind="selection")
    entry = make_entry(contest, nominee="赵静")
    entry.nominee.story = "不公开的故事"
    entry.nominee.major = "不公开的专业"
    entry.nominee.birth_date = date(2006, 3, 15)
    entry.nominee.public_fields = {"photo": True}
    db.session.commit()
    html = client.get(f"/c/{contest.slug}/entries/{entry.id}").get_data(as_text=True)
    assert "赵静" in html
    assert "不公开的故事" not in html
    assert "不公开的专业" not in html and "二年级" not in html
    assert "2006" not in html  # the birth date is never shown


def test_story_shown_only_for_the_story_flag(client, make_contest, make_entry):
    contest = make_contest(kind="selection")
    entry = make_entry(contest, nominee="孙悦")
    entry.nominee.story = "公开的故事"
    entry.nominee.public_fields = {"story": True}
    db.session.commit()
    html = client.get(f"/c/{contest.slug}/entries/{entry.id}").get_data(as_text=True)
    assert "公开的故事" in html
    assert "<dd>护理</dd>" not in html


def test_team_members_are_listed_with_roles(client, make_contest, make_entry):
    contest = make_contest(kind="innovation")
    entry = make_entry(contest, title="智能农机")
    for pos, (role, name) in enumerate((("leader", "队长甲"), ("member", "队员乙"), ("advisor", "老师丙"))):
        db.session.add(TeamMember(entry_id=entry.id, contest_id=contest.id, role=role, name=name, position=pos))
    db.session.commit()
    html = client.get(f"/c/{contest.slug}/entries/{entry.id}").get_data(as_text=True)
    assert "<strong>队长甲</strong> <span class=\"chip\">负责人</span>" in html
    assert "<strong>老师丙</strong> <span class=\"chip\">指导教师</span>" in html


def test_unknown_entry_is_404(client, make_contest, make_entry):
    contest = make_contest()
    entry = make_entry(contest)
    page = client.get(f"/c/{contest.slug}/entries/{entry.id + 1000}")
    assert page.status_code == 404
    html = page.get_data(as_text=True)
    assert "页面不存在" in html
    assert "没有找到这件作品，可能尚未通过审核或已撤回。" in html


def test_entry_of_another_contest_is_404_under_this_slug(client, make_contest, make_entry):
    here, there = make_contest(), make_contest()
    entry = make_entry(there, title="别处的作品")
    assert client.get(f"/c/{there.slug}/entries/{entry.id}").status_code == 200
    page = client.get(f"/c/{here.slug}/entries/{entry.id}")
    assert page.status_code == 404
    assert "别处的作品" not in page.get_data(as_text=True)


def test_entry_that_is_not_approved_is_404(client, make_contest, make_entry):
    contest = make_contest()
    for status in ("draft", "submitted", "rejected", "withdrawn"):
        entry = make_entry(contest, status=status, title=f"未公开作品{status}")
        page = client.get(f"/c/{contest.slug}/entries/{entry.id}")
        assert page.status_code == 404, status
        assert "未公开作品" not in page.get_data(as_text=True), status


def test_entry_withdrawn_after_approval_disappears(client, make_contest, make_entry):
    contest = make_contest()
    entry = make_entry(contest)
    url = f"/c/{contest.slug}/entries/{entry.id}"
    assert client.get(url).status_code == 200
    db.session.get(Entry, entry.id).status = "withdrawn"
    db.session.commit()
    assert client.get(url).status_code == 404


def test_non_numeric_entry_id_is_404(client, make_contest):
    contest = make_contest()
    assert client.get(f"/c/{contest.slug}/entries/abc").status_code == 404
    assert client.get(f"/c/{contest.slug}/entries/-1").status_code == 404
