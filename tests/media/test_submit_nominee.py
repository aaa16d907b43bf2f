"""最美职校生: a school contact nominates a student through the form."""

from __future__ import annotations

from sqlalchemy import select

from contest.contests.models import NomineeProfile
from contest.extensions import db
from contest.media.models import MediaItem
from tests.media.conftest import (
    add_contact,
    assert_nothing_stored,
    entries,
    jpeg,
    nominee_entry,
    page,
    send,
    set_rules,
    sign_in,
    submit_url,
    upload,
)

CONTACTS_ONLY = "只有学校联络人可以推荐选手或报名团队。"
CONSENT = "学生未满 18 周岁，请上传监护人签字的同意书（照片或 PDF）。"
# START in tests/conftest.py is 2023-05-16: born 2006-09-01 is 16, born 2000-03-01 is 23.
MINOR, ADULT = "2006-09-01", "2000-03-01"


def test_form_explains_consent_and_what_is_public(client, contact, school, selection_contest):
    response = client.get(submit_url(selection_contest))
    assert response.status_code == 200
    html = page(response)
    assert "未满 18 周岁" in html and 'name="consent"' in html and 'type="file"' in html
    for name in ("show_photo", "show_major", "show_story", "name_form"):
        assert f'name="{name}"' in html
    assert "手机号、身份证号和出生日期从不公开" in html
    assert school.name in html
    assert 'type="date"' in html


def test_nominee_with_photos_and_video(app, client, contact, school, selection_contest, clips):
    photos = [upload(jpeg(800, 600, mark=i), f"{i}.jpg", "image/jpeg") for i in range(3)]
    data = nominee_entry(selection_contest, MINOR, consent=upload(jpeg(900, 1200, "white", mark=5), "同意书.jpg"),
                         photos=photos, show_story="",
                         video=upload(clips.read("two_seconds"), "v.mp4", "video/mp4"), title="把青春写在焊花里")
    response = send(client, submit_url(selection_contest), data)
    assert response.status_code == 302, page(response)[:2000]
    [entry] = entries()
    assert (entry.status, entry.school_id, entry.title, entry.submitted_by_id) == ("submitted", school.id, "把青春写在焊花里", contact.id)
    profile = db.session.get(NomineeProfile, entry.id)
    assert (profile.name, profile.gender, str(profile.birth_date), profile.guardian_consent) == ("李小燕", "female", MINOR, True)
    assert profile.public_fields == {"photo": True, "major": True, "story": False, "school": True, "name": "full"}
    items = list(db.session.scalars(select(MediaItem).where(MediaItem.entry_id == entry.id).order_by(MediaItem.position)))
    assert [(i.kind, i.role) for i in items] == [("image", "photo")] * 3 + [("video", "video"), ("image", "consent")]
    assert items[-1].original_key.endswith(".cjpg") and items[-1].caption == "同意书.jpg"
    assert "把青春写在焊花里" in page(client.get("/me/entries"))
    assert "把青春写在焊花里" not in page(client.get(f"/c/{selection_contest.slug}/entries"))


def test_adult_needs_no_guardian_consent(client, contact, selection_contest):
    response = send(client, submit_url(selection_contest), nominee_entry(selection_contest, ADULT))
    assert response.status_code == 302, page(response)[:2000]
    # No title given: a neutral one (the contest's name), never the student's name, which a
    # blind round must not show its judges.
    assert entries()[0].title == "最美职校生测试候选人"
    assert {i.alt_text for i in db.session.scalars(select(MediaItem))} == {"最美职校生测试候选人"}


def test_minor_without_consent_is_refused(app, client, contact, selection_contest):
    response = send(client, submit_url(selection_contest), nominee_entry(selection_contest, MINOR))
    assert response.status_code == 400
    assert CONSENT in page(response)
    assert_nothing_stored(app)


def test_unreadable_birth_date_is_refused(app, client, contact, selection_contest):
    response = send(client, submit_url(selection_contest), nominee_entry(selection_contest, "16/05/2006"))
    assert response.status_code == 400
    assert "请按“年-月-日”填写出生日期" in page(response)
    assert_nothing_stored(app)


def test_missing_birth_date_is_refused(app, client, contact, selection_contest):
    response = send(client, submit_url(selection_contest), nominee_entry(selection_contest, ""))
    assert response.status_code == 400
    assert "请填写出生日期。" in page(response)
    assert_nothing_stored(app)


def test_seven_photos_are_refused(app, client, contact, selection_contest):
    photos = [upload(jpeg(400, 300, mark=i), f"{i}.jpg") for i in range(7)]
    response = send(client, submit_url(selection_contest), nominee_entry(selection_contest, photos=photos))
    assert response.status_code == 400
    assert "照片最多 6 张。" in page(response)
    assert_nothing_stored(app)


def test_story_over_1500_characters_is_refused(app, client, contact, selection_contest):
    response = send(client, submit_url(selection_contest), nominee_entry(selection_contest, story="好" * 1501))
    assert response.status_code == 400
    assert "事迹介绍不能超过 1500 个字。" in page(response)
    assert_nothing_stored(app)


def test_citizen_cannot_nominate(app, client, citizen, selection_contest):
    form = client.get(submit_url(selection_contest))
    assert form.status_code == 403
    assert CONTACTS_ONLY in page(form) and 'name="consent"' not in page(form)
    response = send(client, submit_url(selection_contest), nominee_entry(selection_contest, ADULT))
    assert response.status_code == 403
    assert CONTACTS_ONLY in page(response)
    assert_nothing_stored(app)


def test_contact_cannot_nominate_for_another_school(app, client, contact, make_school, selection_contest):
    other = make_school("济南电子机械工程学校")
    response = send(client, submit_url(selection_contest), nominee_entry(selection_contest, ADULT, school=str(other.id)))
    assert response.status_code == 403
    assert "您只能代表自己所在的学校报名。" in page(response)
    assert_nothing_stored(app)


def test_contact_of_two_schools_picks_one(app, client, make_user, make_school, selection_contest):
    first, second = make_school("济南旅游学校"), make_school("济南商贸学校")
    user = make_user("school_contact")
    add_contact(user, first)
    add_contact(user, second)
    sign_in(client, user)
    html = page(client.get(submit_url(selection_contest)))
    assert "请选择学校" in html and first.name in html and second.name in html
    missing = send(client, submit_url(selection_contest), nominee_entry(selection_contest, ADULT, school=""))
    assert missing.status_code == 403
    assert "您只能代表自己所在的学校报名。" in page(missing)
    response = send(client, submit_url(selection_contest), nominee_entry(selection_contest, ADULT, school=str(second.id)))
    assert response.status_code == 302
    assert entries()[0].school_id == second.id


def test_school_quota_counts_nominations(app, client, contact, selection_contest):
    set_rules(selection_contest, school_quota_small=1)
    assert send(client, submit_url(selection_contest), nominee_entry(selection_contest, ADULT)).status_code == 302
    response = send(client, submit_url(selection_contest), nominee_entry(selection_contest, ADULT, name="王强",
                    photos=[upload(jpeg(640, 480, mark=3), "x.jpg")]))
    assert response.status_code == 409
    assert "贵校在本活动的名额（1 个）已用完。" in page(response)
    assert len(entries()) == 1


def test_another_contact_of_the_school_sees_and_edits_the_nomination(app, client, contact, school, make_user, selection_contest):
    assert send(client, submit_url(selection_contest), nominee_entry(selection_contest, ADULT)).status_code == 302
    [entry] = entries()
    colleague = make_user("school_contact")
    add_contact(colleague, school)
    other = app.test_client()
    sign_in(other, colleague)
    assert "李小燕" in page(other.get("/me/entries"))
    assert other.get(f"/me/entries/{entry.id}/edit").status_code == 200


def test_the_guardian_consent_links_the_privacy_policy_on_minors(client, contact, selection_contest):
    html = page(client.get(submit_url(selection_contest)))
    part = html[html.index('class="consent-form"'):]
    part = part[:part.index("</fieldset>")]
    assert "监护人签字的同意书" in part and 'href="/privacy#minors"' in part
    assert 'id="minors"' in page(client.get("/privacy"))
