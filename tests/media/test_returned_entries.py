"""An entry an organiser returned for changes is corrected on its edit page and sent again
as the same entry: photos, videos, documents, the nominee's profile, the team's members and
the category can all change; files go through the submission's checks; the entry keeps its
id, its times (its place in the queue) and its audit history; the moderation desk shows it
waiting again with what changed. Anything else (an entry not returned, someone else's, a
bad file) is refused and changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import select

from contest.accounts.models import AuditEvent, User
from contest.contests.models import Contest, Entry, NomineeProfile, School
from contest.errors import Conflict
from contest.extensions import db
from contest.media import moderation, submissions
from contest.media.models import MediaItem
from tests.conftest import csrf_token
from tests.media.conftest import (
    MINIMAL_PDF,
    add_contact,
    entries,
    gif,
    gps_exif,
    jpeg,
    nominee_entry,
    page,
    photo_entry,
    send,
    set_rules,
    sign_in,
    stored_files,
    submit_url,
    swept,
    team_entry,
    upload,
    video_entry,
    zip_bytes,
)

REASON = "请更换照片"


# --- helpers -------------------------------------------------------------------------------

def edit_url(entry: Entry) -> str:
    return f"/me/entries/{entry.id}/edit"


def team_form(contest: Contest, students: int = 3, **kwargs: Any) -> dict[str, Any]:
    """The team's correction form with no file chosen but those named (the rest are kept)."""
    data = team_entry(contest, students, **kwargs)
    for name in ("plan", "pitch", "cover"):
        if kwargs.get(name) is None:
            data.pop(name, None)
    return data


def submitted(client: FlaskClient, contest: Contest, data: dict[str, Any]) -> Entry:
    response = send(client, submit_url(contest), data)
    assert response.status_code == 302, page(response)[:3000]
    return entries()[-1]


def return_entry(app: Flask, organiser: User, entry: Entry, reason: str = REASON) -> None:
    moderation.decide(db.session, app.extensions["sms_sender"], actor=organiser, entry_ids=[entry.id],
                      decision="return", reason=reason, now=app.extensions["clock"].now())
    db.session.commit()


def fresh(entry: Entry) -> Entry:
    db.session.rollback()
    got = db.session.get(Entry, entry.id)
    assert got is not None
    return got


def media_of(entry: Entry) -> list[MediaItem]:
    db.session.rollback()
    return list(db.session.scalars(select(MediaItem).where(MediaItem.entry_id == entry.id)
                                   .order_by(MediaItem.position, MediaItem.id)))


def history(entry: Entry) -> list[AuditEvent]:
    db.session.rollback()
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.target_type == "entry",
                                                            AuditEvent.target_id == str(entry.id))
                                   .order_by(AuditEvent.id)))


def last_changes(entry: Entry) -> list[str]:
    """What the latest resubmission of the entry changed, as its audit row says."""
    after = history(entry)[-1].after or {}
    return list(after.get("changes") or [])


def state(entry: Entry) -> tuple[Any, ...]:
    """Everything a refused correction must leave as it was."""
    e = fresh(entry)
    members = [(m.role, m.name, m.student_no) for m in e.team_members]
    nominee = db.session.get(NomineeProfile, e.id)
    return (e.status, e.title, e.description, e.category_id, e.group_id, e.moderation_reason, e.cover_key, members,
            nominee.name if nominee else None, [(m.role, m.original_key) for m in media_of(entry)],
            [a.action for a in history(entry)])


@pytest.fixture
def organiser(make_user: Callable[..., User]) -> User:
    return make_user("organiser", name="组织者小王")


# --- 全民美拍: a photo replaced --------------------------------------------------------------

def test_a_returned_photo_entry_gets_a_new_photo_as_the_same_entry(app, client, citizen, organiser, media_contest,
                                                                    clock):
    entry = submitted(client, media_contest, photo_entry(media_contest, title="灶台前的火候"))
    created, sent_at = entry.created_at, entry.submitted_at
    [old] = media_of(entry)
    old_keys = {old.original_key, old.display_key, old.thumb_key}  # (a reused id would refresh `old`)
    return_entry(app, organiser, entry)

    form = page(client.get(edit_url(entry)))
    assert REASON in form and "主办方退回修改的意见" in form
    assert 'enctype="multipart/form-data"' in form and 'name="photos"' in form
    assert 'value="灶台前的火候"' in form  # the form starts from the entry as it is
    assert "当前照片" in form

    clock.advance(hours=2)
    new_photo = jpeg(1920, 1080, "darkred", exif=gps_exif(), mark=5)
    response = send(client, edit_url(entry), {"kind": "photo", "title": "灶台前的火候（新）", "description": "换了一张",
                                              "category": str(entry.category_id),
                                              "photos": [upload(new_photo, "new.jpg", "image/jpeg")]})
    assert response.status_code == 302, page(response)[:3000]
    assert response.headers["Location"] == "/me/entries"

    again = fresh(entry)
    assert (again.id, again.status, again.title) == (entry.id, "submitted", "灶台前的火候（新）")
    assert (again.created_at, again.submitted_at) == (created, sent_at)  # its place in the queue
    [new] = media_of(entry)
    assert new.original_key not in old_keys and new.role == "photo"
    assert again.cover_key == new.thumb_key
    # The same pipeline as the first upload: the location and the camera are gone.
    with Image.open(app.extensions["storage"].path(new.original_key)) as image:
        exif = image.getexif()
        assert 0x8825 not in exif and 0x010F not in exif

    actions = [(a.action, (a.after or {}).get("changes")) for a in history(entry)]
    assert [a for a, _ in actions][-2:] == ["entry.return", "entry.resubmit"]
    assert actions[-1][1] == ["title", "description", "photo"]
    assert history(entry)[-1].actor_id == citizen.id

    # Sent again: waiting for moderation, no longer open to file changes.
    listing = page(client.get("/me/entries"))
    assert "待审核" in listing
    assert 'name="photos"' not in page(client.get(edit_url(entry)))
    with pytest.raises(Conflict) as refused:
        submissions.resubmit_media_entry(db.session, app.extensions["storage"], actor=citizen, entry_id=entry.id,
                                         data=submissions.MediaEntryInput("再改", "", entry.category_id, "photo"),
                                         photos=[], video=None, cover=None, now=clock.now())
    assert (refused.value.status, refused.value.code) == (409, "not_returned")
    db.session.rollback()

    # The replaced photo's files are left to the orphan sweep; the new ones stay.
    report = swept(app)
    assert old_keys <= set(report.deleted)
    left = {p.name for p in stored_files(app)}
    assert {new.original_key, new.display_key, new.thumb_key} <= left and not old_keys & left


def test_the_desk_shows_the_entry_waiting_again_with_what_changed(app, client, citizen, organiser, media_contest):
    entry = submitted(client, media_contest, photo_entry(media_contest, title="面点师"))
    return_entry(app, organiser, entry)
    response = send(client, edit_url(entry), {"title": "面点师", "description": "实训课上的一瞬间。",
                                              "category": str(entry.category_id),
                                              "photos": [upload(jpeg(mark=3, color="olive"), "b.jpg", "image/jpeg")]})
    assert response.status_code == 302, page(response)[:3000]

    sign_in(client, organiser)
    queue = page(client.get("/admin/moderation/"))
    assert "面点师" in queue and "退回修改后重新提交" in queue and "修改了：照片" in queue and REASON in queue
    one = page(client.get(f"/admin/moderation/{entry.id}"))
    assert "退回修改后重新提交" in one and "修改了：照片" in one

    moderation.decide(db.session, app.extensions["sms_sender"], actor=organiser, entry_ids=[entry.id],
                      decision="approve", reason="", now=app.extensions["clock"].now())
    db.session.commit()
    assert [a.action for a in history(entry)][-3:] == ["entry.return", "entry.resubmit", "entry.approve"]
    assert "退回修改后重新提交" not in page(client.get("/admin/moderation/?status=approved"))


# --- 最美职校生: the nominee's profile and photo ----------------------------------------------

def test_a_returned_nomination_gets_new_profile_and_photo(app, client, contact, school, organiser,
                                                          selection_contest):
    entry = submitted(client, selection_contest, nominee_entry(selection_contest))
    [old_key] = [m.original_key for m in media_of(entry)]
    return_entry(app, organiser, entry, "请更换照片，并补充专业全称")

    form = page(client.get(edit_url(entry)))
    assert "请更换照片，并补充专业全称" in form and 'value="李小燕"' in form and 'value="护理"' in form

    other_category = str(selection_contest.categories_of("category")[1].id)
    data = nominee_entry(selection_contest, major="护理（涉外护理方向）", category=other_category,
                         photos=[upload(jpeg(900, 700, "navy", mark=2), "new.jpg", "image/jpeg")])
    response = send(client, edit_url(entry), data)
    assert response.status_code == 302, page(response)[:3000]

    again = fresh(entry)
    assert (again.id, again.status, str(again.category_id)) == (entry.id, "submitted", other_category)
    profile = db.session.get(NomineeProfile, entry.id)
    assert profile is not None and profile.major == "护理（涉外护理方向）" and profile.name == "李小燕"
    [new] = media_of(entry)
    assert new.original_key != old_key
    assert last_changes(entry) == ["category", "nominee", "photo"], history(entry)[-1].after


def test_a_nomination_kept_photo_when_none_is_chosen(app, client, contact, school, organiser, selection_contest):
    entry = submitted(client, selection_contest, nominee_entry(selection_contest))
    before = [(m.id, m.original_key) for m in media_of(entry)]
    return_entry(app, organiser, entry, "请修改事迹介绍")
    response = send(client, edit_url(entry), nominee_entry(selection_contest, story="她每周去社区服务，坚持三年。",
                                                           photos=[]))
    assert response.status_code == 302, page(response)[:3000]
    assert [(m.id, m.original_key) for m in media_of(entry)] == before
    profile = db.session.get(NomineeProfile, entry.id)
    assert profile is not None and profile.story == "她每周去社区服务，坚持三年。"
    assert last_changes(entry) == ["nominee"]


def test_another_contact_of_the_school_may_correct_it(app, client, contact, school, organiser, selection_contest,
                                                       make_user):
    entry = submitted(client, selection_contest, nominee_entry(selection_contest))
    return_entry(app, organiser, entry)
    colleague = make_user("school_contact", name="钱老师")
    add_contact(colleague, school)
    sign_in(client, colleague)
    response = send(client, edit_url(entry), nominee_entry(selection_contest,
                                                           photos=[upload(jpeg(800, 600, mark=6), "x.jpg", "image/jpeg")]))
    assert response.status_code == 302, page(response)[:3000]
    assert history(entry)[-1].actor_id == colleague.id


# --- 黄炎培: the team's members ---------------------------------------------------------------

def test_a_returned_team_changes_its_members_and_plan(app, client, contact, school, organiser, innovation_contest,
                                                      clips):
    set_rules(innovation_contest, video_max_seconds=5)
    team = team_entry(innovation_contest, 3, pitch=upload(clips.read("two_seconds"), "pitch.mp4", "video/mp4"))
    entry = submitted(client, innovation_contest, team)
    plan_before = next(m.original_key for m in media_of(entry) if m.role == "plan")
    return_entry(app, organiser, entry, "请更换第三名学生，并上传新版计划书")

    form = page(client.get(edit_url(entry)))
    assert 'value="20230003"' in form and "当前商业计划书" in form

    data = team_form(innovation_contest, 3, numbers=("20230001", "20230002", "20239999"), leader=1,
                      plan=upload(MINIMAL_PDF.replace(b"595 842", b"842 595"), "计划书v2.pdf", "application/pdf"))
    data["students-2-name"] = "新同学"
    response = send(client, edit_url(entry), data)
    assert response.status_code == 302, page(response)[:3000]

    again = fresh(entry)
    assert again.status == "submitted"
    students = [(m.role, m.name, m.student_no) for m in again.team_members if m.role != "advisor"]
    assert students == [("member", "学生1", "20230001"), ("leader", "学生2", "20230002"), ("member", "新同学", "20239999")]
    plan = next(m for m in media_of(entry) if m.role == "plan")
    assert plan.original_key != plan_before and plan.caption == "计划书v2.pdf"
    assert [m.role for m in media_of(entry)] == ["cover", "pitch", "plan"]
    assert last_changes(entry) == ["members", "plan"]

    # The student who left may join another team now.
    other = team_entry(innovation_contest, 3, numbers=("20230003", "20231111", "20232222"),
                       pitch=upload(clips.read("two_seconds"), "pitch.mp4", "video/mp4"))
    assert send(client, submit_url(innovation_contest), other).status_code == 302


def test_a_team_cannot_take_a_student_of_another_team(app, client, contact, school, organiser, innovation_contest,
                                                      clips):
    set_rules(innovation_contest, video_max_seconds=5)
    pitch = upload(clips.read("two_seconds"), "pitch.mp4", "video/mp4")
    first = submitted(client, innovation_contest, team_entry(innovation_contest, 3, pitch=pitch))
    second = submitted(client, innovation_contest, team_entry(
        innovation_contest, 3, numbers=("20235551", "20235552", "20235553"),
        pitch=upload(clips.read("two_seconds"), "pitch.mp4", "video/mp4")))
    return_entry(app, organiser, second, "请核对成员")
    before = state(second)

    data = team_form(innovation_contest, 3, numbers=("20235551", "20235552", "20230002"))
    data["students-2-name"] = "张三"
    response = send(client, edit_url(second), data)
    assert response.status_code == 409
    assert "学生“张三”（学号 20230002）已在本次大赛的其他团队中，每名学生只能参加一个团队。" in page(response)
    assert state(second) == before
    assert fresh(first).status == "submitted"
    # Its own students are not "another team": kept as they are, the team goes through.
    response = send(client, edit_url(second), team_form(innovation_contest, 3,
                                                          numbers=("20235551", "20235552", "20235553")))
    assert response.status_code == 302, page(response)[:3000]
    assert last_changes(second) == []


def test_a_team_with_a_repeated_number_is_refused(app, client, contact, school, organiser, innovation_contest, clips):
    set_rules(innovation_contest, video_max_seconds=5)
    entry = submitted(client, innovation_contest, team_entry(
        innovation_contest, 3, pitch=upload(clips.read("two_seconds"), "pitch.mp4", "video/mp4")))
    return_entry(app, organiser, entry)
    before = state(entry)
    response = send(client, edit_url(entry), team_form(innovation_contest, 3,
                                                        numbers=("20230001", "20230001", "20230003")))
    assert response.status_code == 400
    assert "第 2 名学生（学生2）：学号 20230001 与第 1 名学生（学生1）重复。" in page(response)
    assert state(entry) == before


# --- refusals ------------------------------------------------------------------------------

def test_a_bad_replacement_file_changes_nothing(app, client, citizen, organiser, media_contest):
    entry = submitted(client, media_contest, photo_entry(media_contest))
    return_entry(app, organiser, entry)
    before, files = state(entry), stored_files(app)
    data = {"title": "新标题", "description": "", "category": str(entry.category_id)}

    response = send(client, edit_url(entry), {**data, "photos": [upload(gif(), "animation.png", "image/png")]})
    assert response.status_code == 415  # as at submission: the same checks, the same answer
    assert "只接受 JPEG、PNG 或 WebP 格式的图片。" in page(response) and REASON in page(response)
    assert state(entry) == before and stored_files(app) == files

    too_many = [upload(jpeg(mark=i), f"{i}.jpg", "image/jpeg") for i in range(10)]
    response = send(client, edit_url(entry), {**data, "photos": too_many})
    assert response.status_code == 400
    assert "照片最多 9 张。" in page(response)
    assert state(entry) == before

    response = send(client, edit_url(entry), {**data, "title": ""})
    assert response.status_code == 400 and "请填写作品名称。" in page(response)
    assert state(entry) == before


def test_a_bad_plan_changes_nothing(app, client, contact, school, organiser, innovation_contest, clips):
    set_rules(innovation_contest, video_max_seconds=5)
    entry = submitted(client, innovation_contest, team_entry(
        innovation_contest, 3, pitch=upload(clips.read("two_seconds"), "pitch.mp4", "video/mp4")))
    return_entry(app, organiser, entry)
    before = state(entry)
    response = send(client, edit_url(entry), team_form(innovation_contest, 3,
                                                        plan=upload(zip_bytes(), "plan.pdf", "application/pdf")))
    assert response.status_code in (400, 415, 422)
    assert "PDF" in page(response)
    assert state(entry) == before


def test_someone_elses_returned_entry_is_not_found(app, client, citizen, organiser, media_contest, make_user):
    entry = submitted(client, media_contest, photo_entry(media_contest))
    return_entry(app, organiser, entry)
    before = state(entry)
    sign_in(client, make_user(name="路人"))
    assert client.get(edit_url(entry)).status_code == 404
    response = client.post(edit_url(entry), data={"csrf_token": csrf_token(client, "/me/entries"), "title": "抢改",
                                                  "photos": [upload(jpeg(mark=4), "x.jpg", "image/jpeg")]},
                           content_type="multipart/form-data")
    assert response.status_code == 404 and "没有找到这件作品。" in page(response)
    assert state(entry) == before


def test_an_entry_not_returned_keeps_its_files(app, client, citizen, organiser, media_contest, clock):
    entry = submitted(client, media_contest, photo_entry(media_contest))
    before_media = [(m.id, m.original_key) for m in media_of(entry)]
    # Waiting for moderation: the page offers the text only, and files sent anyway are ignored.
    form = page(client.get(edit_url(entry)))
    assert 'name="photos"' not in form
    response = send(client, edit_url(entry), {"title": "只改标题", "description": "",
                                              "photos": [upload(jpeg(mark=7), "x.jpg", "image/jpeg")]})
    assert response.status_code == 302
    assert [(m.id, m.original_key) for m in media_of(entry)] == before_media
    # Rejected (not returned): the service refuses a correction with 409.
    fresh(entry)
    moderation.decide(db.session, app.extensions["sms_sender"], actor=organiser, entry_ids=[entry.id],
                      decision="reject", reason="不符合主题", now=clock.now())
    db.session.commit()
    with pytest.raises(Conflict) as refused:
        submissions.resubmit_media_entry(db.session, app.extensions["storage"], actor=citizen, entry_id=entry.id,
                                         data=submissions.MediaEntryInput("再改", "", entry.category_id, "photo"),
                                         photos=[], video=None, cover=None, now=clock.now())
    assert (refused.value.status, refused.value.code) == (409, "not_returned")


def test_after_the_window_closes_a_returned_entry_cannot_change(app, client, citizen, organiser, media_contest, clock):
    entry = submitted(client, media_contest, photo_entry(media_contest))
    return_entry(app, organiser, entry)
    before = state(entry)
    token_page = page(client.get(edit_url(entry)))
    assert 'name="photos"' in token_page
    _start, end = fresh(entry).contest.window("submission")
    assert end is not None
    clock.set(end)
    clock.advance(minutes=1)
    form = page(client.get(edit_url(entry)))
    assert REASON in form and 'name="photos"' not in form
    response = send(client, edit_url(entry), {"title": "晚了", "description": "", "category": str(entry.category_id),
                                              "photos": [upload(jpeg(mark=2), "x.jpg", "image/jpeg")]})
    assert response.status_code == 403
    assert "本活动当前不在作品征集期" in page(response)
    assert state(entry) == before


def test_a_school_contact_may_not_correct_a_citizens_entry_naming_the_school(app, client, citizen, organiser,
                                                                              media_contest, make_user,
                                                                              school: School):
    entry = submitted(client, media_contest, photo_entry(media_contest))
    fresh(entry).school_id = school.id
    db.session.commit()
    return_entry(app, organiser, entry)
    contact = make_user("school_contact", name="赵老师")
    add_contact(contact, school)
    sign_in(client, contact)
    assert client.get(edit_url(entry)).status_code == 404


def test_a_returned_video_entry_gets_a_new_video(app, client, citizen, organiser, media_contest, clips):
    set_rules(media_contest, video_max_seconds=5)
    response = send(client, submit_url(media_contest), video_entry(
        media_contest, upload(clips.read("two_seconds"), "v.mp4", "video/mp4")))
    assert response.status_code == 302, page(response)[:3000]
    [entry] = entries()
    [old_video] = [(m.original_key, m.thumb_key) for m in media_of(entry) if m.kind == "video"]
    return_entry(app, organiser, entry, "视频画面太暗，请更换")
    form = page(client.get(edit_url(entry)))
    assert 'name="video"' in form and 'name="photos"' not in form and "当前视频" in form

    response = send(client, edit_url(entry), {"title": "面点师的清晨", "description": "", "category": str(entry.category_id),
                                              "video": upload(clips.read("three_seconds"), "new.mp4", "video/mp4")})
    assert response.status_code == 302, page(response)[:3000]
    [new] = [m for m in media_of(entry) if m.kind == "video"]
    assert (new.original_key, new.thumb_key) != old_video and new.duration_seconds and new.duration_seconds > 2.5
    assert new.playback_state in ("pending", "ready")  # the same playback pipeline as at submission
    assert fresh(entry).cover_key == new.thumb_key  # the new video's frame is the cover
    assert last_changes(entry) == ["video"]


def test_the_text_only_service_sends_a_returned_entry_again_as_the_same_entry(app, client, citizen, organiser,
                                                                              media_contest, clock):
    entry = submitted(client, media_contest, photo_entry(media_contest))
    sent_at = entry.submitted_at
    return_entry(app, organiser, entry, "请补充作品介绍")
    clock.advance(hours=3)
    submissions.update_entry_text(db.session, actor=citizen, entry_id=entry.id, title=entry.title,
                                  description="补充了介绍", now=clock.now())
    db.session.commit()
    again = fresh(entry)
    assert (again.status, again.submitted_at, again.description) == ("submitted", sent_at, "补充了介绍")
    assert history(entry)[-1].action == "entry.resubmit" and last_changes(entry) == ["description"]
