"""Editing a category, track or group: rename, description, order, kind (while unused)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from contest.accounts.models import AuditEvent
from contest.contests import service as contests
from contest.contests.models import Category, Contest
from contest.errors import Conflict, Forbidden, NotFound
from contest.extensions import db
from tests.conftest import IsolatedClient, csrf_token
from tests.site.isolation import committed

from .conftest import sign_in


def category(contest: Contest, name: str) -> Category:
    found = db.session.scalar(select(Category).where(Category.contest_id == contest.id, Category.name == name))
    assert found is not None
    return found


def stored(category_id: int) -> tuple[str, str, str, int]:
    """The category as committed."""
    db.session.rollback()
    db.session.expire_all()
    c = db.session.get(Category, category_id)
    assert c is not None
    return (c.kind, c.name, c.description, c.position)


def events() -> list[AuditEvent]:
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == "category.update")))


def html(response: Any) -> str:
    return response.get_data(as_text=True)


def test_rename_and_describe_through_the_page(client, organiser, make_contest):  # type: ignore[no-untyped-def]
    contest = make_contest(categories=("摄影作品", "短视频"))
    photo = category(contest, "摄影作品")
    url = f"/admin/contests/{contest.id}/categories"
    page = html(client.get(url))
    assert f'action="{url}/{photo.id}/edit"' in page
    token = csrf_token(client, url)
    response = client.post(f"{url}/{photo.id}/edit", data={"csrf_token": token, "kind": "category", "name": " 摄影 ",
                                                           "description": "单张或组照", "position": "5"})
    assert response.status_code == 302 and response.headers["Location"] == url
    assert stored(photo.id) == ("category", "摄影", "单张或组照", 5)
    [event] = events()
    assert event.actor_id == organiser.id and event.target_id == str(contest.id)
    assert event.before == {"id": photo.id, "name": "摄影作品", "description": "", "position": 0}
    assert event.after == {"id": photo.id, "name": "摄影", "description": "单张或组照", "position": 5}
    # saving without a change writes no audit row
    client.post(f"{url}/{photo.id}/edit", data={"csrf_token": token, "kind": "category", "name": "摄影",
                                                "description": "单张或组照", "position": "5"})
    assert len(events()) == 1


@pytest.mark.parametrize(("data", "status", "message"), [
    ({"kind": "category", "name": "  "}, 400, "请填写分类名称（最多 60 个字）。"),
    ({"kind": "category", "name": "名" * 61}, 400, "请填写分类名称（最多 60 个字）。"),
    ({"kind": "stage", "name": "摄影"}, 400, "未知的分类类型。"),
    ({"kind": "category", "name": "摄影", "description": "说" * 301}, 400, "说明最多 300 个字。"),
    ({"kind": "category", "name": "摄影", "position": "-1"}, 400, "排序应在 0 到 999 之间。"),
    ({"kind": "category", "name": "摄影", "position": "abc"}, 400, "排序应在 0 到 999 之间。"),
    ({"kind": "category", "name": "短视频"}, 409, "已有同名的分类“短视频”。"),
])
def test_bad_edits_are_refused_and_store_nothing(client, organiser, make_contest, data, status, message):  # type: ignore[no-untyped-def]
    contest = make_contest(categories=("摄影作品", "短视频"))
    photo = category(contest, "摄影作品")
    url = f"/admin/contests/{contest.id}/categories"
    response = client.post(f"{url}/{photo.id}/edit", data={"csrf_token": csrf_token(client, url), **data})
    assert response.status_code == status and message in html(response)
    assert stored(photo.id) == ("category", "摄影作品", "", 0)
    assert events() == []


def test_the_kind_of_a_used_category_stays(client, organiser, make_contest, make_entry, clock):  # type: ignore[no-untyped-def]
    contest = make_contest(categories=("摄影作品",))
    photo = category(contest, "摄影作品")
    make_entry(contest, category_id=photo.id)
    with pytest.raises(Conflict) as refused:
        contests.update_category(db.session, actor=organiser, contest=contest, category_id=photo.id, kind="group",
                                 name="摄影作品", now=clock.now())
    assert refused.value.message == "已有 1 件作品属于“摄影作品”，不能更改类型。"
    db.session.rollback()
    # renaming it is fine
    contests.update_category(db.session, actor=organiser, contest=contest, category_id=photo.id, kind="category",
                             name="摄影", now=clock.now())
    db.session.commit()
    assert stored(photo.id)[1] == "摄影"


def test_an_unused_category_changes_kind(organiser, make_contest, clock):  # type: ignore[no-untyped-def]
    contest = make_contest(categories=("中职组",))
    group = category(contest, "中职组")
    contests.update_category(db.session, actor=organiser, contest=contest, category_id=group.id, kind="group",
                             name="中职组", now=clock.now())
    db.session.commit()
    assert stored(group.id)[0] == "group"
    assert events()[0].after == {"id": group.id, "kind": "group"}


def test_unknown_category_and_other_contests(client, organiser, make_contest, clock):  # type: ignore[no-untyped-def]
    contest, other = make_contest(), make_contest()
    theirs = category(other, "摄影作品")
    with pytest.raises(NotFound) as missing:
        contests.update_category(db.session, actor=organiser, contest=contest, category_id=theirs.id, kind="category",
                                 name="x", now=clock.now())
    assert missing.value.message == "没有找到这个分类。"
    url = f"/admin/contests/{contest.id}/categories"
    response = client.post(f"{url}/{theirs.id}/edit", data={"csrf_token": csrf_token(client, url), "kind": "category",
                                                            "name": "x"})
    assert response.status_code == 404


def test_only_organisers_edit(app, make_user, make_contest, clock):  # type: ignore[no-untyped-def]
    contest = make_contest(categories=("摄影作品",))
    photo = category(contest, "摄影作品")
    for user in (make_user("citizen"), make_user("school_contact")):
        with pytest.raises(Forbidden):
            contests.update_category(db.session, actor=user, contest=contest, category_id=photo.id, kind="category",
                                     name="x", now=clock.now())
        client = IsolatedClient(app, app.response_class, use_cookies=True)
        sign_in(client, user)
        token = csrf_token(client, "/")
        response = client.post(f"/admin/contests/{contest.id}/categories/{photo.id}/edit",
                               data={"csrf_token": token, "kind": "category", "name": "x"})
        assert response.status_code == 403
    assert stored(photo.id)[1] == "摄影作品"
    assert committed(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "category.update")) == 0
