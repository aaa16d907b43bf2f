"""黄炎培: a school contact registers a team through the form."""

from __future__ import annotations

from sqlalchemy import select

from contest.contests.models import TeamMember
from contest.extensions import db
from contest.media.models import MediaItem
from tests.conftest import csrf_token
from tests.media.conftest import (
    MINIMAL_PDF,
    assert_nothing_stored,
    entries,
    page,
    send,
    set_rules,
    submit_url,
    team_entry,
    upload,
)


def _pitch(clips):  # type: ignore[no-untyped-def]
    return upload(clips.read("two_seconds"), "pitch.mp4", "video/mp4")


def test_form_has_five_student_rows_two_advisors_and_the_files(client, contact, innovation_contest):
    response = client.get(submit_url(innovation_contest))
    assert response.status_code == 200
    html = page(response)
    for i in range(5):
        assert f'name="students-{i}-name"' in html and f'name="students-{i}-student_no"' in html
        assert f'id="leader-{i}"' in html
    assert 'name="advisors-0-name"' in html and 'name="advisors-1-name"' in html
    assert 'name="advisors-2-name"' not in html
    for name in ("plan", "pitch", "cover"):
        assert f'name="{name}"' in html
    assert "中职组" in html and "创意组" in html


def test_team_is_registered(app, client, contact, school, innovation_contest, clips):
    # Rows 1, 3 and 4 filled (row 2 left empty), the leader is row 4.
    data = team_entry(innovation_contest, 0, pitch=_pitch(clips), leader=3)
    for row, (name, number) in {0: ("张三", "S1001"), 2: ("李四", "S1002"), 3: ("王五", "s1003")}.items():
        data.update({f"students-{row}-name": name, f"students-{row}-student_no": number, f"students-{row}-major": "电子商务"})
    data["advisors-1-name"] = "刘老师"
    response = send(client, submit_url(innovation_contest), data)
    assert response.status_code == 302, page(response)[:2000]
    [entry] = entries()
    assert (entry.status, entry.title, entry.school_id) == ("submitted", "智慧农业小管家", school.id)
    assert entry.category_id == innovation_contest.categories_of("track")[0].id
    assert entry.group_id == innovation_contest.categories_of("group")[0].id
    members = list(db.session.scalars(select(TeamMember).where(TeamMember.entry_id == entry.id).order_by(TeamMember.position)))
    assert [(m.name, m.role, m.student_no) for m in members] == [
        ("张三", "member", "S1001"), ("李四", "member", "S1002"), ("王五", "leader", "S1003"),
        ("王老师", "advisor", None), ("刘老师", "advisor", None),
    ]
    items = list(db.session.scalars(select(MediaItem).where(MediaItem.entry_id == entry.id).order_by(MediaItem.position)))
    assert [(i.kind, i.role) for i in items] == [("image", "cover"), ("video", "pitch"), ("pdf", "plan")]
    assert items[2].caption == "计划书.pdf"
    assert "智慧农业小管家" in page(client.get("/me/entries"))


def test_team_of_two_students_is_refused(app, client, contact, innovation_contest, clips):
    response = send(client, submit_url(innovation_contest), team_entry(innovation_contest, 2, pitch=_pitch(clips)))
    assert response.status_code == 400
    assert "团队需要 3–5 名学生。" in page(response)
    assert_nothing_stored(app)


def test_leader_on_an_empty_row_is_refused(app, client, contact, innovation_contest, clips):
    response = send(client, submit_url(innovation_contest), team_entry(innovation_contest, 3, leader=4, pitch=_pitch(clips)))
    assert response.status_code == 400
    assert "请指定一名学生为团队负责人。" in page(response)
    assert_nothing_stored(app)


def test_team_without_advisor_is_refused(app, client, contact, innovation_contest, clips):
    data = team_entry(innovation_contest, 3, pitch=_pitch(clips), **{"advisors-0-name": ""})
    response = send(client, submit_url(innovation_contest), data)
    assert response.status_code == 400
    assert "团队需要 1–2 名指导教师。" in page(response)
    assert_nothing_stored(app)


def test_missing_pitch_video_is_refused(app, client, contact, innovation_contest):
    response = send(client, submit_url(innovation_contest), team_entry(innovation_contest, 3))
    assert response.status_code == 400
    assert "请上传商业计划书（PDF）、路演视频和封面图片。" in page(response)
    assert_nothing_stored(app)


def test_truncated_pdf_is_refused(app, client, contact, innovation_contest, clips):
    data = team_entry(innovation_contest, plan=upload(MINIMAL_PDF[:60], "plan.pdf", "application/pdf"), pitch=_pitch(clips))
    response = send(client, submit_url(innovation_contest), data)
    assert response.status_code == 422
    assert "文件不完整，可能没有上传完，请重新导出 PDF 后上传。" in page(response)
    assert_nothing_stored(app)


def test_student_cannot_join_a_second_team(app, client, contact, innovation_contest, clips):
    first = team_entry(innovation_contest, 3, numbers=("A001", "A002", "A003"), pitch=_pitch(clips))
    assert send(client, submit_url(innovation_contest), first).status_code == 302
    files_before = sorted(p.name for p in (app.extensions["storage"].root).rglob("*") if p.is_file())
    second = team_entry(innovation_contest, 3, numbers=("B001", "a002", "B003"), pitch=_pitch(clips), project="第二个项目")
    response = send(client, submit_url(innovation_contest), second)
    assert response.status_code == 409
    assert "学生“学生2”（学号 A002）已在本次大赛的其他团队中，每名学生只能参加一个团队。" in page(response)
    assert [e.title for e in entries()] == ["智慧农业小管家"]
    assert sorted(p.name for p in (app.extensions["storage"].root).rglob("*") if p.is_file()) == files_before


def test_withdrawn_team_frees_its_students(app, client, contact, innovation_contest, clips):
    data = team_entry(innovation_contest, 3, numbers=("A001", "A002", "A003"), pitch=_pitch(clips))
    assert send(client, submit_url(innovation_contest), data).status_code == 302
    [entry] = entries()
    assert f"/me/entries/{entry.id}/withdraw" in page(client.get("/me/entries"))
    assert client.post(f"/me/entries/{entry.id}/withdraw", data={"csrf_token": csrf_token(client, "/me/entries")}).status_code == 302
    again = team_entry(innovation_contest, 3, numbers=("A001", "A002", "A003"), pitch=_pitch(clips), project="改过的项目")
    response = send(client, submit_url(innovation_contest), again)
    assert response.status_code == 302, page(response)[:2000]
    assert [(e.title, e.status) for e in entries()] == [("智慧农业小管家", "withdrawn"), ("改过的项目", "submitted")]


def test_school_quota_is_enforced(app, client, contact, innovation_contest, clips):
    set_rules(innovation_contest, school_quota_small=1)
    first = team_entry(innovation_contest, 3, numbers=("A001", "A002", "A003"), pitch=_pitch(clips))
    assert send(client, submit_url(innovation_contest), first).status_code == 302
    second = team_entry(innovation_contest, 3, numbers=("B001", "B002", "B003"), pitch=_pitch(clips), project="第二个项目")
    response = send(client, submit_url(innovation_contest), second)
    assert response.status_code == 409
    assert "贵校在本活动的名额（1 个）已用完。" in page(response)
    assert len(entries()) == 1


def test_citizen_cannot_register_a_team(app, client, citizen, innovation_contest, clips):
    assert client.get(submit_url(innovation_contest)).status_code == 403
    response = send(client, submit_url(innovation_contest), team_entry(innovation_contest, 3, pitch=_pitch(clips)))
    assert response.status_code == 403
    assert "只有学校联络人可以推荐选手或报名团队。" in page(response)
    assert_nothing_stored(app)
