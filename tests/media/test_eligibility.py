"""Before a school contact fills in a form: the school's quota (and that none is left), the
group that fits the school's type, and errors that name their field and their person."""

from __future__ import annotations

import re

from contest.errors import InvalidInput
from contest.extensions import db
from contest.media import moderation, submissions
from tests.media.conftest import (
    add_contact,
    entries,
    nominee_entry,
    page,
    send,
    set_rules,
    sign_in,
    submit_url,
    team_entry,
    upload,
)

ADULT = "2000-03-01"


def field_block(html: str, name: str) -> str:
    """The .field element holding the named input (its label, input and errors)."""
    at = html.index(f'name="{name}"')
    start = html.rindex('<div class="field', 0, at)
    return html[start:html.index("</div>", at)]


# --- the quota, before the form ---------------------------------------------------------------

def test_the_page_shows_the_quota_before_the_form(client, contact, school, selection_contest):
    set_rules(selection_contest, school_quota_small=2, school_quota_medium=2, school_quota_large=2)
    html = page(client.get(submit_url(selection_contest)))
    quota = html.index('class="card quota-status"')
    assert quota < html.index('name="name"')
    assert "共 2 个，已用 0 个，" in html and "还剩 2 个" in html
    assert send(client, submit_url(selection_contest), nominee_entry(selection_contest, ADULT)).status_code == 302
    html = page(client.get(submit_url(selection_contest)))
    assert "共 2 个，已用 1 个，" in html and "还剩 1 个" in html


def test_no_form_when_no_place_is_left(client, contact, school, selection_contest):
    set_rules(selection_contest, school_quota_small=1, school_quota_medium=1, school_quota_large=1)
    assert send(client, submit_url(selection_contest), nominee_entry(selection_contest, ADULT)).status_code == 302
    response = client.get(submit_url(selection_contest))
    html = page(response)
    assert response.status_code == 403
    assert "还剩 0 个" in html and "贵校在本活动的名额已经用完，不能再推荐或报名。" in html
    assert 'name="name"' not in html and "提交推荐" not in html


def test_a_withdrawn_nomination_gives_its_place_back(app, client, contact, school, selection_contest):
    set_rules(selection_contest, school_quota_small=1, school_quota_medium=1, school_quota_large=1)
    send(client, submit_url(selection_contest), nominee_entry(selection_contest, ADULT))
    [entry] = entries()
    submissions.withdraw_entry(db.session, actor=contact, entry_id=entry.id, now=app.extensions["clock"].now())
    db.session.commit()
    [status] = submissions.quota_status(db.session, selection_contest, [school])
    assert (status.limit, status.used, status.left) == (1, 0, 1)


def test_a_contact_of_two_schools_sees_each_quota(app, client, make_user, make_school, selection_contest):
    first, second = make_school("济南旅游学校", enrolment=500), make_school("济南商贸学校", enrolment=5000)
    user = make_user("school_contact")
    add_contact(user, first)
    add_contact(user, second)
    sign_in(client, user)
    html = page(client.get(submit_url(selection_contest)))
    for school in (first, second):
        limit = submissions.school_quota(selection_contest, school)
        assert f"{school.name}：共 {limit} 个，已用 0 个，" in html


def test_citizens_see_no_school_quota(client, citizen, media_contest):
    assert "quota-status" not in page(client.get(submit_url(media_contest)))


# --- the group fits the school's type ---------------------------------------------------------

def group_id(contest, name: str) -> str:
    return str(next(c.id for c in contest.categories_of("group") if c.name == name))


def test_a_higher_vocational_school_cannot_enter_the_secondary_group(app, client, make_user, make_school,
                                                                    innovation_contest, clips):
    college = make_school("济南职业学院", level="高职")
    user = make_user("school_contact")
    add_contact(user, college)
    sign_in(client, user)
    response = send(client, submit_url(innovation_contest),
                    team_entry(innovation_contest, group=group_id(innovation_contest, "中职组")))
    assert response.status_code == 400
    message = "济南职业学院是高职学校，不能报名“中职组”，请选择与学校类型相符的组别。"
    assert message in field_block(page(response), "group")
    assert entries() == []


def test_a_secondary_school_cannot_enter_the_higher_group(client, contact, innovation_contest):
    response = send(client, submit_url(innovation_contest),
                    team_entry(innovation_contest, group=group_id(innovation_contest, "高职组")))
    assert response.status_code == 400
    assert "是中职学校，不能报名“高职组”" in field_block(page(response), "group")


def test_a_technical_school_enters_the_secondary_group_only(app, make_school, make_user, innovation_contest):
    technical = make_school("济南市技师学院", level="技工")
    user = make_user("school_contact")
    add_contact(user, technical)
    submissions._check_group(next(c for c in innovation_contest.categories_of("group") if c.name == "中职组"), technical)
    try:
        submissions._check_group(next(c for c in innovation_contest.categories_of("group") if c.name == "高职组"), technical)
    except InvalidInput as exc:
        assert exc.field == "group" and exc.code == "group_level"
    else:
        raise AssertionError("a 技工 school entered the 高职 group")


def test_the_group_is_checked_when_a_returned_team_is_corrected(app, client, contact, make_user, innovation_contest, clips):
    set_rules(innovation_contest, video_max_seconds=5)
    response = send(client, submit_url(innovation_contest), team_entry(
        innovation_contest, pitch=upload(clips.read("two_seconds"), "pitch.mp4", "video/mp4")))
    assert response.status_code == 302, page(response)[:2000]
    [entry] = entries()
    organiser = make_user("organiser")
    moderation.decide(db.session, app.extensions["sms_sender"], actor=organiser, entry_ids=[entry.id], decision="return",
                      reason="请核对组别", now=app.extensions["clock"].now())
    db.session.commit()
    data = team_entry(innovation_contest, group=group_id(innovation_contest, "高职组"))
    for name in ("plan", "pitch", "cover"):
        data.pop(name)
    refused = send(client, f"/me/entries/{entry.id}/edit", data)
    assert refused.status_code == 400
    assert "不能报名“高职组”" in field_block(page(refused), "group")


# --- errors name their field and their person -------------------------------------------------

def test_a_bad_student_number_names_the_row_and_the_student(client, contact, innovation_contest):
    response = send(client, submit_url(innovation_contest), team_entry(innovation_contest, 3,
                                                                       numbers=("20230001", "20230002", "12")))
    assert response.status_code == 400
    html = page(response)
    assert "第 3 名学生（学生3）：学号格式不正确（4–30 位字母、数字或短横线）。" in field_block(html, "students-2-student_no")
    assert "has-error" in field_block(html, "students-2-student_no")
    assert "has-error" not in field_block(html, "students-1-student_no")
    assert entries() == []


def test_a_missing_number_counts_rows_as_the_form_shows_them(client, contact, innovation_contest):
    # Row 2 left empty: the student in row 4 is still called the 4th.
    data = team_entry(innovation_contest, 3)
    data.update({"students-1-name": "", "students-1-student_no": "", "students-1-major": "",
                 "students-3-name": "孙丽", "students-3-student_no": "", "students-3-major": ""})
    response = send(client, submit_url(innovation_contest), data)
    assert response.status_code == 400
    assert "第 4 名学生（孙丽）：请填写学号。" in field_block(page(response), "students-3-student_no")


def test_a_repeated_number_names_both_students(client, contact, innovation_contest):
    response = send(client, submit_url(innovation_contest), team_entry(innovation_contest, 3,
                                                                       numbers=("20230001", "20230002", "20230001")))
    assert response.status_code == 400
    assert "第 3 名学生（学生3）：学号 20230001 与第 1 名学生（学生1）重复。" in field_block(page(response),
                                                                                        "students-2-student_no")


def test_a_student_in_another_team_is_named_at_the_field(client, contact, innovation_contest, clips):
    set_rules(innovation_contest, video_max_seconds=5)
    first = team_entry(innovation_contest, 3, numbers=("A001", "A002", "A003"),
                       pitch=upload(clips.read("two_seconds"), "pitch.mp4", "video/mp4"))
    assert send(client, submit_url(innovation_contest), first).status_code == 302
    second = team_entry(innovation_contest, 3, numbers=("B001", "A002", "B003"), project="第二个项目",
                        pitch=upload(clips.read("two_seconds"), "pitch.mp4", "video/mp4"))
    response = send(client, submit_url(innovation_contest), second)
    assert response.status_code == 409
    assert "学生“学生2”（学号 A002）已在本次大赛的其他团队中" in field_block(page(response), "students-1-student_no")


def test_an_advisors_overlong_name_names_the_advisor(client, contact, innovation_contest):
    response = send(client, submit_url(innovation_contest), team_entry(innovation_contest, 3,
                                                                       **{"advisors-1-name": "王" * 41}))
    assert response.status_code == 400
    assert "第 2 位指导教师：姓名不能超过 40 个字。" in field_block(page(response), "advisors-1-name")


def test_a_missing_category_is_shown_at_its_field(client, contact, selection_contest):
    response = send(client, submit_url(selection_contest), nominee_entry(selection_contest, ADULT, category=""))
    assert response.status_code == 400
    assert "请选择组别。" in field_block(page(response), "category")


# --- the team form's rows ---------------------------------------------------------------------

def test_the_team_form_has_rows_up_to_the_rules_and_the_row_script(client, contact, innovation_contest):
    set_rules(innovation_contest, team_students_min=2, team_students_max=6, team_advisors_min=1, team_advisors_max=3)
    html = page(client.get(submit_url(innovation_contest)))
    assert len(re.findall(r'name="students-\d+-name"', html)) == 6
    assert len(re.findall(r'name="advisors-\d+-name"', html)) == 3
    # Rows past the minimum can be added and removed by the script; without it they are all there.
    assert html.count("data-member-row") - html.count("data-member-rows") == 4 + 2
    assert 'data-member-rows="students"' in html and 'data-member-rows="advisors"' in html
    assert "/static/js/member-rows.js" in html
    assert "已达到每队 6 名学生的上限" in html


def test_six_students_are_accepted_when_the_rules_allow_six(client, contact, innovation_contest, clips):
    set_rules(innovation_contest, team_students_max=6, video_max_seconds=5)
    data = team_entry(innovation_contest, 5, pitch=upload(clips.read("two_seconds"), "pitch.mp4", "video/mp4"))
    data.update({"students-5-name": "第六人", "students-5-student_no": "20230006", "students-5-major": "园艺"})
    response = send(client, submit_url(innovation_contest), data)
    assert response.status_code == 302, page(response)[:2000]
    assert len([m for m in entries()[0].team_members if m.role != "advisor"]) == 6
