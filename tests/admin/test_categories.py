"""Categories, tracks and groups of a contest."""

from __future__ import annotations

from sqlalchemy import func, select

from contest.accounts.models import AuditEvent
from contest.contests.models import Category
from contest.extensions import db
from tests.conftest import submit
from tests.site.isolation import committed

from .form_fields import error_message


def names(contest_id: int) -> list[str]:
    return list(db.session.scalars(select(Category.name).where(Category.contest_id == contest_id).order_by(Category.id)))


def events(action: str) -> list[AuditEvent]:
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action, AuditEvent.actor_id.is_not(None))))


def test_categories_page_lists_them(client, organiser, make_contest):
    contest = make_contest(categories=("摄影作品", "短视频"))
    html = client.get(f"/admin/contests/{contest.id}/categories").get_data(as_text=True)
    assert "摄影作品" in html and "短视频" in html
    assert html.count("/delete") == 2


def test_add_category(client, organiser, make_contest):
    contest = make_contest(categories=())
    url = f"/admin/contests/{contest.id}/categories"
    response = submit(client, url, {"kind": "track", "name": " 现代农业 ", "description": "种植与养殖"})
    assert response.status_code == 302
    assert response.headers["Location"] == url
    [category] = db.session.scalars(select(Category).where(Category.contest_id == contest.id))
    assert (category.kind, category.name, category.description) == ("track", "现代农业", "种植与养殖")
    [event] = events("category.create")
    assert event.actor_id == organiser.id
    assert event.target_type == "contest" and event.target_id == str(contest.id)
    assert event.after == {"id": category.id, "kind": "track", "name": "现代农业"}
    assert "已添加。" in client.get(url).get_data(as_text=True)


def test_duplicate_name_is_409(client, organiser, make_contest):
    contest = make_contest(categories=("摄影作品",))
    url = f"/admin/contests/{contest.id}/categories"
    response = submit(client, url, {"kind": "category", "name": "摄影作品"})
    assert response.status_code == 409
    assert error_message(response.get_data(as_text=True)) == "已有同名的分类“摄影作品”。"
    assert names(contest.id) == ["摄影作品"]
    assert events("category.create") == []


def test_same_name_as_another_kind_or_contest_is_fine(client, organiser, make_contest):
    contest = make_contest(categories=("中职组",))
    other = make_contest(categories=())
    assert submit(client, f"/admin/contests/{contest.id}/categories", {"kind": "group", "name": "中职组"}).status_code == 302
    assert submit(client, f"/admin/contests/{other.id}/categories", {"kind": "category", "name": "中职组"}).status_code == 302
    assert names(contest.id) == ["中职组", "中职组"] and names(other.id) == ["中职组"]


def test_bad_category_input_is_400(client, organiser, make_contest):
    contest = make_contest(categories=())
    url = f"/admin/contests/{contest.id}/categories"
    for data in ({"kind": "category", "name": ""}, {"kind": "category", "name": "长" * 61}, {"kind": "prize", "name": "奖项"}):
        response = submit(client, url, data)
        assert response.status_code == 400, data
        assert error_message(response.get_data(as_text=True)) == "请检查填写的内容。"
    assert names(contest.id) == []
    assert committed(select(func.count()).select_from(Category).where(Category.contest_id == contest.id)) == 0


def test_delete_unused_category(client, organiser, make_contest, make_entry):
    contest = make_contest(categories=("摄影作品", "短视频"))
    photo, video = contest.categories
    make_entry(contest, category_id=photo.id)
    video_id = video.id
    url = f"/admin/contests/{contest.id}/categories"
    response = submit(client, url, {}, action=f"{url}/{video_id}/delete")
    assert response.status_code == 302
    assert names(contest.id) == ["摄影作品"]
    [event] = events("category.delete")
    assert event.actor_id == organiser.id
    assert event.before == {"id": video_id, "kind": "category", "name": "短视频"}
    assert "已删除。" in client.get(url).get_data(as_text=True)


def test_delete_used_category_is_409_and_keeps_it(client, organiser, make_contest, make_entry):
    contest = make_contest(categories=("摄影作品",))
    [photo] = contest.categories
    make_entry(contest, category_id=photo.id)
    make_entry(contest, category_id=photo.id, status="draft")
    url = f"/admin/contests/{contest.id}/categories"
    response = submit(client, url, {}, action=f"{url}/{photo.id}/delete")
    assert response.status_code == 409
    assert error_message(response.get_data(as_text=True)) == "已有 2 件作品属于“摄影作品”，不能删除。"
    assert committed(select(func.count()).select_from(Category).where(Category.id == photo.id)) == 1
    assert events("category.delete") == []


def test_delete_unknown_or_foreign_category_is_404(client, organiser, make_contest):
    contest, other = make_contest(), make_contest()
    url = f"/admin/contests/{contest.id}/categories"
    for category_id in (99999, other.categories[0].id):
        response = submit(client, url, {}, action=f"{url}/{category_id}/delete")
        assert response.status_code == 404
        assert error_message(response.get_data(as_text=True)) == "没有找到这个分类。"
    assert len(names(other.id)) == 2
