"""Every limit of a submission is a rule of its contest: the forms say it and the
service applies it (photos of a nomination, nominee age, team size, school-size bands).
The defaults are the limits the forms had before they were rules."""

from __future__ import annotations

from contest.contests import service as contests
from contest.contests.rules import Rules
from tests.media.conftest import (
    assert_nothing_stored,
    entries,
    jpeg,
    nominee_entry,
    page,
    photo_entry,
    send,
    set_rules,
    submit_url,
    team_entry,
    upload,
)

ADULT = "2000-03-01"  # 23 on 2023-05-16 (START in tests/conftest.py)


def photos(n: int) -> list:  # type: ignore[type-arg]
    return [upload(jpeg(400, 300, mark=i), f"{i}.jpg", "image/jpeg") for i in range(n)]


def _pitch(clips):  # type: ignore[no-untyped-def]
    return upload(clips.read("two_seconds"), "pitch.mp4", "video/mp4")


# --- nomination (最美职校生) -----------------------------------------------------------------

def test_a_nomination_takes_six_photos_by_default(app, client, contact, selection_contest):
    rules = contests.rules_of(selection_contest)
    assert (rules.photos_min, rules.photos_max) == (1, 6)
    assert Rules.build("media", None).photos_max == 9  # 全民美拍 keeps its own default
    html = page(client.get(submit_url(selection_contest)))
    assert "照片（1–6 张）" in html and "1–6 张，可一次选择多张。" in html
    response = send(client, submit_url(selection_contest), nominee_entry(selection_contest, ADULT, photos=photos(6)))
    assert response.status_code == 302, page(response)[:2000]


def test_nomination_photos_follow_the_rule(app, client, contact, selection_contest):
    set_rules(selection_contest, photos_min=2, photos_max=3)
    html = page(client.get(submit_url(selection_contest)))
    assert "照片（2–3 张）" in html and "2–3 张，可一次选择多张。" in html
    over = send(client, submit_url(selection_contest), nominee_entry(selection_contest, ADULT, photos=photos(4)))
    assert over.status_code == 400
    assert "照片最多 3 张。" in page(over)
    assert_nothing_stored(app)
    under = send(client, submit_url(selection_contest), nominee_entry(selection_contest, ADULT, photos=photos(1)))
    assert under.status_code == 400
    assert "请上传至少 2 张照片。" in page(under)
    assert_nothing_stored(app)
    response = send(client, submit_url(selection_contest), nominee_entry(selection_contest, ADULT, photos=photos(3)))
    assert response.status_code == 302, page(response)[:2000]
    assert len(entries()) == 1


def test_nominee_age_follows_the_rule(app, client, contact, selection_contest):
    # 12–40 by default: a 43-year-old is refused with the range in the message
    too_old = send(client, submit_url(selection_contest), nominee_entry(selection_contest, "1980-01-01"))
    assert too_old.status_code == 400
    assert "被推荐学生的年龄应为 12–40 周岁，请检查出生日期。" in page(too_old)
    assert_nothing_stored(app)
    assert "被推荐学生应为 12–40 周岁。" in page(client.get(submit_url(selection_contest)))

    set_rules(selection_contest, nominee_age_min=15, nominee_age_max=22)
    assert "被推荐学生应为 15–22 周岁。" in page(client.get(submit_url(selection_contest)))
    adult = send(client, submit_url(selection_contest), nominee_entry(selection_contest, ADULT))
    assert adult.status_code == 400
    assert "被推荐学生的年龄应为 15–22 周岁，请检查出生日期。" in page(adult)
    assert_nothing_stored(app)
    young = send(client, submit_url(selection_contest), nominee_entry(selection_contest, "2001-09-01"))  # 21
    assert young.status_code == 302, page(young)[:2000]


def test_the_photo_rules_of_a_media_entry_are_its_own(app, client, citizen, media_contest):
    set_rules(media_contest, photos_min=2)
    assert "2–9 张，可一次选择多张。" in page(client.get(submit_url(media_contest)))
    response = send(client, submit_url(media_contest), photo_entry(media_contest))
    assert response.status_code == 400
    assert "请上传至少 2 张照片。" in page(response)
    assert_nothing_stored(app)


# --- team registration (黄炎培) --------------------------------------------------------------

def test_team_form_rows_and_texts_follow_the_rules(client, contact, innovation_contest):
    html = page(client.get(submit_url(innovation_contest)))
    assert "每支团队 3–5 名学生、1–2 名指导教师" in html
    assert "学生成员（3–5 名）" in html and "指导教师（1–2 名）" in html and "添加第 4、5 名学生（选填）" in html
    set_rules(innovation_contest, team_students_min=2, team_students_max=7, team_advisors_min=0, team_advisors_max=3)
    html = page(client.get(submit_url(innovation_contest)))
    assert "每支团队 2–7 名学生、0–3 名指导教师" in html
    assert "学生成员（2–7 名）" in html and "至少填写 2 名学生" in html and "添加第 3–7 名学生（选填）" in html
    assert 'name="students-6-name"' in html and 'id="leader-6"' in html and 'name="students-7-name"' not in html
    assert 'name="advisors-2-name"' in html and 'name="advisors-3-name"' not in html
    assert "指导教师 1 姓名（选填）" in html


def test_team_size_follows_the_rules(app, client, contact, innovation_contest, clips):
    set_rules(innovation_contest, team_students_min=4, team_students_max=4)
    three = send(client, submit_url(innovation_contest), team_entry(innovation_contest, 3, pitch=_pitch(clips)))
    assert three.status_code == 400
    assert "团队需要 4 名学生。" in page(three)
    assert_nothing_stored(app)
    four = send(client, submit_url(innovation_contest), team_entry(innovation_contest, 4, pitch=_pitch(clips)))
    assert four.status_code == 302, page(four)[:2000]


def test_a_larger_team_is_read_from_the_extra_rows(app, client, contact, innovation_contest, clips):
    set_rules(innovation_contest, team_students_max=6)
    data = team_entry(innovation_contest, 5, pitch=_pitch(clips), leader=5)
    data.update({"students-5-name": "学生6", "students-5-student_no": "20230006", "students-5-major": "现代农艺"})
    response = send(client, submit_url(innovation_contest), data)
    assert response.status_code == 302, page(response)[:2000]
    [entry] = entries()
    members = sorted(entry.team_members, key=lambda m: m.position)
    assert [m.name for m in members if m.role != "advisor"] == [f"学生{i}" for i in range(1, 7)]
    assert members[5].role == "leader"


def test_advisor_count_follows_the_rules(app, client, contact, innovation_contest, clips):
    set_rules(innovation_contest, team_advisors_min=2)
    response = send(client, submit_url(innovation_contest), team_entry(innovation_contest, 3, pitch=_pitch(clips)))
    assert response.status_code == 400
    assert "团队需要 2 名指导教师。" in page(response)
    assert_nothing_stored(app)
    set_rules(innovation_contest, team_advisors_min=0)
    data = team_entry(innovation_contest, 3, pitch=_pitch(clips), **{"advisors-0-name": ""})
    assert send(client, submit_url(innovation_contest), data).status_code == 302


def test_school_size_bands_follow_the_breakpoints(app, client, contact, school, innovation_contest, clips):
    # The school has 1,500 students: small by default, medium once small means below 1,000.
    set_rules(innovation_contest, school_small_below=1000, school_quota_small=5, school_quota_medium=1)
    first = team_entry(innovation_contest, 3, numbers=("A001", "A002", "A003"), pitch=_pitch(clips))
    assert send(client, submit_url(innovation_contest), first).status_code == 302
    second = team_entry(innovation_contest, 3, numbers=("B001", "B002", "B003"), pitch=_pitch(clips), project="第二个项目")
    response = send(client, submit_url(innovation_contest), second)
    assert response.status_code == 409
    assert "贵校在本活动的名额（1 个）已用完。" in page(response)
    assert len(entries()) == 1
