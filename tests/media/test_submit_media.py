"""全民美拍 through the browser's forms: photo and video entries, the entrant's list,
editing and withdrawing, and the submission window."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image
from sqlalchemy import select

from contest.contests.models import Entry
from contest.extensions import db
from contest.media.models import MediaItem, QuotaSlot
from tests.conftest import csrf_token
from tests.media.conftest import (
    assert_nothing_stored,
    count,
    entries,
    gps_exif,
    jpeg,
    media_root,
    page,
    photo_entry,
    send,
    set_rules,
    sign_in,
    stored_files,
    submit_url,
    upload,
    video_entry,
)

CLOSED = "本活动当前不在作品征集期，不能提交或修改作品。"
QUOTA_FULL = "每人在本活动最多投稿 %s 件，您已达到上限。"


def test_visitor_is_sent_to_login(client, media_contest):
    for url in (submit_url(media_contest), "/me/entries", "/me/entries/1/edit"):
        response = client.get(url)
        assert response.status_code == 302
        assert "/account/login" in response.headers["Location"]


def test_form_page_offers_photo_and_video_and_loads_the_upload_script(client, citizen, media_contest):
    response = client.get(submit_url(media_contest))
    assert response.status_code == 200
    html = page(response)
    assert 'enctype="multipart/form-data"' in html
    assert 'name="photos"' in html and "multiple" in html
    assert 'name="video"' in html and 'name="cover"' in html
    assert "1920×1080" in html  # the contest's minimum, from its rules
    assert "/static/js/upload.js" in html
    assert "<script>" not in html  # the page's policy forbids inline script
    assert "<progress" in html


def test_photo_entry_is_submitted_listed_and_not_public(app, client, citizen, media_contest):
    photos = [upload(jpeg(mark=1), "one.jpg", "image/jpeg"), upload(jpeg(1080, 1920, "seagreen", mark=2), "two.jpg", "image/jpeg")]
    response = send(client, submit_url(media_contest), photo_entry(media_contest, "灶台前的火候", photos=photos))
    assert response.status_code == 302, page(response)[:2000]
    assert response.headers["Location"].endswith("/me/entries")

    [entry] = entries()
    assert (entry.status, entry.title, entry.submitted_by_id) == ("submitted", "灶台前的火候", citizen.id)
    items = list(db.session.scalars(select(MediaItem).where(MediaItem.entry_id == entry.id).order_by(MediaItem.position)))
    assert [(i.kind, i.role, i.width, i.height) for i in items] == [("image", "photo", 1920, 1080), ("image", "photo", 1080, 1920)]
    for item in items:
        for key in (item.original_key, item.display_key, item.thumb_key):
            assert (media_root(app) / key[:2] / key).is_file()
    assert entry.cover_key == items[0].thumb_key
    assert count(QuotaSlot) == 1

    mine = client.get("/me/entries")
    assert mine.status_code == 200
    assert "灶台前的火候" in page(mine) and "待审核" in page(mine)
    assert "作品已提交" in page(mine)  # the flashed confirmation
    gallery = client.get(f"/c/{media_contest.slug}/entries")
    assert gallery.status_code == 200 and "灶台前的火候" not in page(gallery)
    assert client.get(f"/c/{media_contest.slug}/entries/{entry.id}").status_code == 404


def test_video_entry_with_cover(app, client, citizen, media_contest, clips):
    data = video_entry(media_contest, upload(clips.read("two_seconds"), "clip.mp4", "video/mp4"),
                       cover=upload(jpeg(1280, 720, "wheat"), "cover.jpg", "image/jpeg"))
    response = send(client, submit_url(media_contest), data)
    assert response.status_code == 302, page(response)[:2000]
    [entry] = entries()
    assert entry.status == "submitted"
    items = list(db.session.scalars(select(MediaItem).where(MediaItem.entry_id == entry.id).order_by(MediaItem.position)))
    assert [(i.kind, i.role) for i in items] == [("video", "video"), ("image", "cover")]
    video = items[0]
    assert (video.width, video.height, video.content_type) == (1280, 720, "video/mp4")
    assert 1.5 < (video.duration_seconds or 0) < 2.6
    assert video.poster_key and (media_root(app) / video.poster_key[:2] / video.poster_key).is_file()
    assert entry.cover_key == items[1].thumb_key  # the chosen cover, not the poster frame
    assert "面点师的清晨" in page(client.get("/me/entries"))


def test_category_must_belong_to_the_contest(client, app, citizen, media_contest):
    response = send(client, submit_url(media_contest), photo_entry(media_contest, category="999999"))
    assert response.status_code == 400
    assert "请选择作品类别。" in page(response)
    assert_nothing_stored(app)


def test_category_is_recorded(client, citizen, media_contest):
    category = media_contest.categories_of("category")[1]
    response = send(client, submit_url(media_contest), photo_entry(media_contest, category=str(category.id)))
    assert response.status_code == 302
    assert entries()[0].category_id == category.id


def test_missing_title_is_refused(client, app, citizen, media_contest):
    response = send(client, submit_url(media_contest), photo_entry(media_contest, title="  "))
    assert response.status_code == 400
    assert "请填写作品名称。" in page(response)
    assert_nothing_stored(app)


def test_photo_entry_without_photos_is_refused(client, app, citizen, media_contest):
    response = send(client, submit_url(media_contest), photo_entry(media_contest, photos=[]))
    assert response.status_code == 400
    assert "请上传至少 1 张照片。" in page(response)
    assert_nothing_stored(app)


def test_too_many_photos_are_refused(client, app, citizen, media_contest):
    set_rules(media_contest, photos_max=2, min_image_width=100, min_image_height=100)
    photos = [upload(jpeg(200, 200, mark=i), f"{i}.jpg", "image/jpeg") for i in range(3)]
    response = send(client, submit_url(media_contest), photo_entry(media_contest, photos=photos))
    assert response.status_code == 400
    assert "照片最多 2 张。" in page(response)
    assert_nothing_stored(app)


def test_small_photo_is_refused_with_the_contest_minimum(client, app, citizen, media_contest):
    response = send(client, submit_url(media_contest), photo_entry(media_contest, photos=[upload(jpeg(1280, 720), "s.jpg")]))
    assert response.status_code == 422
    assert "图片分辨率太低（1280×720），至少需要 1920×1080。" in page(response)
    assert_nothing_stored(app)


def test_one_bad_photo_among_good_ones_leaves_nothing(client, app, citizen, media_contest):
    photos = [upload(jpeg(mark=1), "good.jpg"), upload(b"<html><body>hi</body></html>", "bad.jpg", "image/jpeg")]
    response = send(client, submit_url(media_contest), photo_entry(media_contest, photos=photos))
    assert response.status_code == 415
    assert "只接受 JPEG、PNG 或 WebP 格式的图片。" in page(response)
    assert_nothing_stored(app)


def test_refused_form_keeps_what_was_typed(client, citizen, media_contest):
    response = send(client, submit_url(media_contest), photo_entry(media_contest, title="我的标题", photos=[]))
    assert response.status_code == 400
    assert 'value="我的标题"' in page(response)


def test_submission_outside_the_window_is_refused(client, app, citizen, make_contest):
    contest = make_contest(kind="media", stage="voting")
    page_response = client.get(submit_url(contest))
    assert page_response.status_code == 403
    assert CLOSED in page(page_response) and 'name="photos"' not in page(page_response)
    response = send(client, submit_url(contest), photo_entry(contest))
    assert response.status_code == 403
    assert CLOSED in page(response)
    assert_nothing_stored(app)


def test_submit_needs_the_csrf_token(client, app, citizen, media_contest):
    data = photo_entry(media_contest)
    response = client.post(submit_url(media_contest), data=data, content_type="multipart/form-data")
    assert response.status_code == 400
    assert "页面已过期或来源不明，请刷新页面后重新提交。" in page(response)
    assert_nothing_stored(app)


def test_unknown_contest_is_404(client, citizen):
    assert client.get("/c/no-such-contest/submit").status_code == 404


def test_stored_photo_has_no_exif_at_all(app, client, citizen, media_contest):
    data = jpeg(exif=gps_exif())
    assert Image.open(io.BytesIO(data)).getexif().get(0x8825)  # the upload does carry GPS
    response = send(client, submit_url(media_contest), photo_entry(media_contest, photos=[upload(data, "gps.jpg", "image/jpeg")]))
    assert response.status_code == 302, page(response)[:2000]
    [item] = db.session.scalars(select(MediaItem)).all()
    keys = (item.original_key, item.display_key, item.thumb_key)
    assert len(set(keys)) == 3
    for key in keys:
        raw = (media_root(app) / key[:2] / key).read_bytes()
        assert b"Exif\x00\x00" not in raw and b"PhoneMaker" not in raw
        with Image.open(io.BytesIO(raw)) as image:
            assert not image.getexif()
            assert "exif" not in image.info


# --- the entrant's list, editing and withdrawing -------------------------------------------

def _submit_one(client, contest, title="初稿标题"):  # type: ignore[no-untyped-def]
    response = send(client, submit_url(contest), photo_entry(contest, title))
    assert response.status_code == 302, page(response)[:2000]
    return entries()[-1]


def test_edit_title_and_description(client, citizen, media_contest):
    entry = _submit_one(client, media_contest)
    url = f"/me/entries/{entry.id}/edit"
    form = client.get(url)
    assert form.status_code == 200 and 'value="初稿标题"' in page(form)
    response = send(client, url, {"title": "改好的标题", "description": "补充的介绍"})
    assert response.status_code == 302
    db.session.rollback()
    changed = db.session.get(Entry, entry.id)
    assert (changed.title, changed.description, changed.status) == ("改好的标题", "补充的介绍", "submitted")
    assert "作品信息已保存。" in page(client.get("/me/entries"))


def test_edit_with_empty_title_is_refused(client, citizen, media_contest):
    entry = _submit_one(client, media_contest)
    response = send(client, f"/me/entries/{entry.id}/edit", {"title": "", "description": ""})
    assert response.status_code == 400
    assert "请填写作品名称。" in page(response)
    db.session.rollback()
    assert db.session.get(Entry, entry.id).title == "初稿标题"


def test_someone_elses_entry_is_not_found(client, app, citizen, media_contest, make_user):
    entry = _submit_one(client, media_contest)
    other = app.test_client()
    sign_in(other, make_user())
    assert other.get(f"/me/entries/{entry.id}/edit").status_code == 404
    response = send(other, f"/me/entries/{entry.id}/edit", {"title": "抢来的", "description": ""})
    assert response.status_code == 404
    assert "没有找到这件作品。" in page(response)
    response = other.post(f"/me/entries/{entry.id}/withdraw", data={"csrf_token": _token(other)})
    assert response.status_code == 404
    assert "没有找到这件作品。" in page(response)
    db.session.rollback()
    assert db.session.get(Entry, entry.id).status == "submitted"


def _token(client):  # type: ignore[no-untyped-def]
    """The token of the withdraw forms on the entrant's list (any page's token will do)."""
    return csrf_token(client, "/me/entries")


def test_approved_entry_cannot_be_edited(client, citizen, media_contest):
    entry = _submit_one(client, media_contest)
    db.session.get(Entry, entry.id).status = "approved"
    db.session.commit()
    url = f"/me/entries/{entry.id}/edit"
    assert "不能再修改" in page(client.get(url))
    response = send(client, url, {"title": "新标题", "description": ""})
    assert response.status_code == 403
    assert "作品已通过审核或已撤回，不能再修改。" in page(response)
    assert f'href="/me/entries/{entry.id}/edit"' not in page(client.get("/me/entries"))


def test_returned_entry_shows_the_reason_and_resubmits(client, citizen, media_contest):
    entry = _submit_one(client, media_contest)
    stored = db.session.get(Entry, entry.id)
    stored.status, stored.moderation_reason = "draft", "请补充拍摄地点。"
    db.session.commit()
    mine = page(client.get("/me/entries"))
    assert "退回修改" in mine and "请补充拍摄地点。" in mine
    # The returned entry's page is the whole form, filled in: the browser sends every field back.
    response = send(client, f"/me/entries/{entry.id}/edit", {"title": "初稿标题", "description": "拍摄于历城区。",
                                                             "category": str(stored.category_id)})
    assert response.status_code == 302
    db.session.rollback()
    assert db.session.get(Entry, entry.id).status == "submitted"


def test_rejected_entry_shows_the_reason(client, citizen, media_contest):
    entry = _submit_one(client, media_contest)
    stored = db.session.get(Entry, entry.id)
    stored.status, stored.moderation_reason = "rejected", "作品与活动主题无关。"
    db.session.commit()
    mine = page(client.get("/me/entries"))
    assert "未通过" in mine and "作品与活动主题无关。" in mine


def test_withdraw_frees_the_quota(client, citizen, media_contest):
    set_rules(media_contest, entries_per_person=1)
    entry = _submit_one(client, media_contest)
    second = send(client, submit_url(media_contest), photo_entry(media_contest, "第二件", photos=[upload(jpeg(mark=5), "b.jpg")]))
    assert second.status_code == 409
    assert QUOTA_FULL % 1 in page(second)
    assert len(entries()) == 1

    response = client.post(f"/me/entries/{entry.id}/withdraw", data={"csrf_token": _token(client)})
    assert response.status_code == 302
    assert entries()[0].status == "withdrawn"
    assert count(QuotaSlot) == 0
    mine = page(client.get("/me/entries"))
    assert "已撤回" in mine and f"/me/entries/{entry.id}/withdraw" not in mine

    again = send(client, submit_url(media_contest), photo_entry(media_contest, "第二件", photos=[upload(jpeg(mark=5), "b.jpg")]))
    assert again.status_code == 302
    assert [e.status for e in entries()] == ["withdrawn", "submitted"]


def test_withdraw_twice_is_a_conflict(client, citizen, media_contest):
    entry = _submit_one(client, media_contest)
    assert client.post(f"/me/entries/{entry.id}/withdraw", data={"csrf_token": _token(client)}).status_code == 302
    response = client.post(f"/me/entries/{entry.id}/withdraw", data={"csrf_token": _token(client)})
    assert response.status_code == 409
    assert "作品已撤回。" in page(response)


def test_withdraw_needs_the_csrf_token(client, citizen, media_contest):
    entry = _submit_one(client, media_contest)
    response = client.post(f"/me/entries/{entry.id}/withdraw")
    assert response.status_code == 400
    assert "页面已过期或来源不明" in page(response)
    assert entries()[0].status == "submitted"


def test_edit_outside_the_window_is_refused(client, clock, citizen, media_contest):
    entry = _submit_one(client, media_contest)
    clock.advance(days=10)  # the window has closed
    url = f"/me/entries/{entry.id}/edit"
    assert f'href="{url}"' not in page(client.get("/me/entries"))
    response = send(client, url, {"title": "迟到的修改", "description": ""})
    assert response.status_code == 403
    assert CLOSED in page(response)
    assert entries()[0].title == "初稿标题"


def test_contest_page_offers_the_submit_button_only_in_the_window(client, citizen, media_contest, make_contest):
    assert f'href="{submit_url(media_contest)}"' in page(client.get(f"/c/{media_contest.slug}"))
    closed = make_contest(kind="media", stage="voting")
    assert f'href="{submit_url(closed)}"' not in page(client.get(f"/c/{closed.slug}"))


def test_header_links_to_my_entries(client, citizen):
    assert 'href="/me/entries"' in page(client.get("/"))


def test_empty_list(client, citizen):
    response = client.get("/me/entries")
    assert response.status_code == 200
    assert "您还没有提交过作品。" in page(response)


def test_files_of_a_refused_entry_are_removed_but_shared_ones_stay(app, client, citizen, media_contest):
    # The same photo in a second entry: the refusal must not take the first entry's files.
    set_rules(media_contest, entries_per_person=1)
    _submit_one(client, media_contest)
    before = stored_files(app)
    response = send(client, submit_url(media_contest), photo_entry(media_contest, "再来一件"))
    assert response.status_code == 409
    assert stored_files(app) == before
    assert all(Path(p).is_file() for p in before)
