"""Only organisers and admins reach the back office."""

from __future__ import annotations

from sqlalchemy import func, select

from contest.accounts.models import AuditEvent, User
from contest.contests.models import Category, Contest, School
from contest.extensions import db
from tests.conftest import csrf_token, login, submit
from tests.site.isolation import committed

PAGES = ("/admin/", "/admin/contests/new", "/admin/schools", "/admin/schools/new", "/admin/users", "/admin/audit")


def test_anonymous_is_sent_to_login(client):
    for path in PAGES:
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/account/login?next="), path
    page = client.get("/admin/", follow_redirects=True)
    assert page.status_code == 200
    assert "请先登录。" in page.get_data(as_text=True)


def test_after_login_the_organiser_comes_back_to_the_back_office(client, make_user):
    user = make_user("organiser")
    target = client.get("/admin/users").headers["Location"]
    response = submit(client, target, {"phone": user.phone, "password": "Passw0rd2023"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/users"


def test_other_roles_get_the_403_page(new_client, make_user):
    for roles in (("citizen",), ("judge",), ("school_contact",), ("citizen", "judge")):
        client = new_client()
        login(client, make_user(*roles))
        for path in PAGES:
            response = client.get(path)
            assert response.status_code == 403, (roles, path)
            html = response.get_data(as_text=True)
            assert "<h1>没有访问权限</h1>" in html
            assert "您没有权限访问此页面。" in html
        # and the header offers no way in
        assert "管理后台" not in client.get("/").get_data(as_text=True)


def test_other_roles_cannot_post_either(client, make_user, make_contest):
    contest = make_contest()
    login(client, make_user("citizen"))
    token = csrf_token(client, "/")
    for path in ("/admin/contests/new", f"/admin/contests/{contest.id}", "/admin/schools/new", "/admin/users/1/roles"):
        assert client.post(path, data={"csrf_token": token}).status_code == 403, path


def test_organisers_and_admins_get_in(new_client, make_user):
    for role in ("organiser", "admin"):
        client = new_client()
        login(client, make_user(role))
        for path in PAGES:
            assert client.get(path).status_code == 200, (role, path)
        assert 'href="/admin/"' in client.get("/").get_data(as_text=True)


def test_posts_without_csrf_token_are_400(client, organiser, make_contest, make_user, make_school):
    contest = make_contest()
    citizen = make_user("citizen")
    school = make_school()
    category = contest.categories[0]
    audit_rows = committed(select(func.count()).select_from(AuditEvent))
    posts = {
        "/admin/contests/new": {"slug": "no-token", "kind": "media", "title": "无令牌"},
        f"/admin/contests/{contest.id}": {"slug": contest.slug, "kind": "media", "title": "改名"},
        f"/admin/contests/{contest.id}/categories": {"kind": "category", "name": "新分类"},
        f"/admin/contests/{contest.id}/categories/{category.id}/delete": {},
        "/admin/schools/new": {"name": "无令牌学校", "district": "历下区", "level": "中职", "enrolment": "10"},
        f"/admin/schools/{school.id}": {"name": "改名学校", "district": "历下区", "level": "中职", "enrolment": "10"},
        f"/admin/users/{citizen.id}/roles": {"roles": ["citizen", "judge"]},
    }
    for path, data in posts.items():
        for token in (None, "forged-token"):
            sent = dict(data, csrf_token=token) if token else data
            response = client.post(path, data=sent)
            assert response.status_code == 400, path
            assert "页面已过期或来源不明，请刷新页面后重新提交。" in response.get_data(as_text=True), path
    assert committed(select(func.count()).select_from(AuditEvent)) == audit_rows
    assert committed(select(Contest.title).where(Contest.id == contest.id)) == contest.title
    assert committed(select(func.count()).select_from(Category).where(Category.contest_id == contest.id)) == 2
    assert committed(select(School.name).where(School.id == school.id)) == school.name
    db.session.expire_all()
    assert db.session.get(User, citizen.id).role_names == {"citizen"}
