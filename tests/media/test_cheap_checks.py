"""Cheap refusals first: an account at its quota, a school at its quota, a team with a
student already registered are refused before any file is decoded or stored; and the
upload routes are rate limited per account and per address.

A refusal that comes before decoding is told apart from one that comes after by sending
a file that decoding would refuse with a different answer (a truncated JPEG: 422, a
decompression bomb's header: 413, a video that is not one)."""

from __future__ import annotations

from typing import Any

import pytest

from contest.contests.models import Entry
from tests.conftest import csrf_token
from tests.media.conftest import (
    add_contact,
    count,
    huge_png,
    jpeg,
    nominee_entry,
    page,
    photo_entry,
    send,
    set_rules,
    sign_in,
    stored_files,
    submit_url,
    team_entry,
    upload,
)

BROKEN = jpeg()[:6000]  # decoding it answers 422 "图片已损坏或不完整"
PERSON_QUOTA = "每人在本活动最多投稿 1 件，您已达到上限。"
SCHOOL_QUOTA = "贵校在本活动的名额（1 个）已用完。"


def _refused_before_decoding(response: Any, status: int, message: str) -> None:
    # Decoding would have answered 413, 415 or 422 with its own message.
    html = page(response)
    assert response.status_code == status, html[:1500]
    assert message in html


@pytest.mark.parametrize("photo", [
    pytest.param(upload(BROKEN, "cut.jpg", "image/jpeg"), id="truncated-jpeg"),
    pytest.param(upload(huge_png(), "huge.png", "image/png"), id="bomb-header"),
])
def test_a_citizen_at_the_quota_is_refused_before_the_photo_is_decoded(app, client, citizen, media_contest, photo):
    set_rules(media_contest, entries_per_person=1)
    assert send(client, submit_url(media_contest), photo_entry(media_contest)).status_code == 302
    before = stored_files(app)
    response = send(client, submit_url(media_contest), photo_entry(media_contest, "第二件", photos=[photo]))
    _refused_before_decoding(response, 409, PERSON_QUOTA)
    assert stored_files(app) == before
    assert count(Entry) == 1


def test_a_citizen_at_the_quota_is_refused_before_the_video_is_probed(app, client, citizen, media_contest):
    set_rules(media_contest, entries_per_person=1)
    assert send(client, submit_url(media_contest), photo_entry(media_contest)).status_code == 302
    before = stored_files(app)
    response = send(client, submit_url(media_contest), {
        "kind": "video", "title": "第二件", "description": "", "category": str(media_contest.categories[0].id),
        "video": upload(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 4000, "clip.mp4", "video/mp4"),
    })
    _refused_before_decoding(response, 409, PERSON_QUOTA)
    assert stored_files(app) == before


def test_a_school_at_its_quota_is_refused_before_the_nominee_photos_are_decoded(app, client, contact, selection_contest):
    set_rules(selection_contest, school_quota_small=1)
    assert send(client, submit_url(selection_contest), nominee_entry(selection_contest)).status_code == 302
    before = stored_files(app)
    response = send(client, submit_url(selection_contest),
                    nominee_entry(selection_contest, photos=[upload(BROKEN, "cut.jpg", "image/jpeg")]))
    _refused_before_decoding(response, 409, SCHOOL_QUOTA)
    assert stored_files(app) == before
    assert count(Entry) == 1


def test_a_school_at_its_quota_is_refused_before_the_team_files_are_looked_at(app, client, contact, innovation_contest, clips):
    set_rules(innovation_contest, school_quota_small=1, video_max_seconds=5)
    first = send(client, submit_url(innovation_contest),
                 team_entry(innovation_contest, pitch=upload(clips.read("two_seconds"), "pitch.mp4", "video/mp4")))
    assert first.status_code == 302, page(first)[:1500]
    before = stored_files(app)
    response = send(client, submit_url(innovation_contest), team_entry(
        innovation_contest, numbers=("S9001", "S9002", "S9003"), cover=upload(BROKEN, "cover.jpg", "image/jpeg"),
        pitch=upload(b"not a video", "pitch.mp4", "video/mp4")))
    _refused_before_decoding(response, 409, SCHOOL_QUOTA)
    assert stored_files(app) == before


def test_a_student_in_another_team_is_refused_before_the_team_files_are_looked_at(app, client, contact, innovation_contest, clips):
    set_rules(innovation_contest, video_max_seconds=5)
    first = send(client, submit_url(innovation_contest),
                 team_entry(innovation_contest, pitch=upload(clips.read("two_seconds"), "pitch.mp4", "video/mp4")))
    assert first.status_code == 302, page(first)[:1500]
    before = stored_files(app)
    response = send(client, submit_url(innovation_contest), team_entry(
        innovation_contest, numbers=("S9001", "20230002", "S9003"), cover=upload(BROKEN, "cover.jpg", "image/jpeg"),
        pitch=upload(b"not a video", "pitch.mp4", "video/mp4")))
    _refused_before_decoding(response, 409, "学生“学生2”（学号 20230002）已在本次大赛的其他团队中，每名学生只能参加一个团队。")
    assert stored_files(app) == before
    assert count(Entry) == 1


# --- rate limits ----------------------------------------------------------------------------

def _empty_post(client: Any, url: str) -> Any:
    """A post refused by the form itself: cheap, and still counted by the limiter."""
    return client.post(url, data={"csrf_token": csrf_token(client, "/me/entries"), "kind": "photo", "title": ""},
                       content_type="multipart/form-data")


def test_submissions_are_limited_per_account(client, citizen, media_contest):
    url = submit_url(media_contest)
    for _ in range(4):
        assert _empty_post(client, url).status_code == 400
    response = _empty_post(client, url)
    assert response.status_code == 429
    assert "提交太频繁，请稍后再试。" in page(response)
    assert int(response.headers["Retry-After"]) > 0
    assert client.get(url).status_code == 200  # the form itself is still shown


def test_submissions_are_limited_per_address(app, client, make_user, media_contest):
    url = submit_url(media_contest)  # (the client fixture gives each request its own app context)
    statuses = []
    for _ in range(8):  # eight accounts behind one address, four posts each, then a ninth
        client = app.test_client()
        sign_in(client, make_user())
        statuses += [_empty_post(client, url).status_code for _ in range(4)]
    assert statuses == [400] * 30 + [429] * 2
    client = app.test_client()
    sign_in(client, make_user())
    response = _empty_post(client, url)
    assert response.status_code == 429
    assert "提交太频繁，请稍后再试。" in page(response)


def test_edits_are_limited_per_account(client, citizen, media_contest):
    assert send(client, submit_url(media_contest), photo_entry(media_contest)).status_code == 302
    url = f"/me/entries/{count(Entry) and _only_entry_id()}/edit"
    token = csrf_token(client, url)
    for _ in range(20):
        assert client.post(url, data={"csrf_token": token, "title": "", "description": ""}).status_code == 400
    response = client.post(url, data={"csrf_token": token, "title": "新标题", "description": ""})
    assert response.status_code == 429
    assert "修改太频繁，请稍后再试。" in page(response)
    assert client.get(url).status_code == 200


def _only_entry_id() -> int:
    from tests.media.conftest import entries

    (entry,) = entries()
    return entry.id


def test_another_school_contact_is_not_limited_by_the_first(app, client, make_user, school, media_contest):
    """The per-account limit counts each account apart."""
    first = make_user("school_contact")
    add_contact(first, school)
    sign_in(client, first)
    for _ in range(4):
        _empty_post(client, submit_url(media_contest))
    assert _empty_post(client, submit_url(media_contest)).status_code == 429
    other = app.test_client()
    sign_in(other, make_user())
    assert _empty_post(other, submit_url(media_contest)).status_code == 400
