"""Roles: who may grant what; and the audit page."""

from __future__ import annotations

import re

from sqlalchemy import select

from contest.accounts.models import AuditEvent, User
from contest.extensions import db
from tests.conftest import submit


def roles_of(user: User) -> set[str]:
    db.session.expire_all()
    return db.session.get(User, user.id).role_names


def role_events() -> list[AuditEvent]:
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == "user.roles").order_by(AuditEvent.id)))


def set_roles(client, user: User, roles: list[str]):  # type: ignore[no-untyped-def]
    return submit(client, f"/admin/users?phone={user.phone}", {"roles": roles}, action=f"/admin/users/{user.id}/roles")


def test_users_page_finds_by_phone_and_role(client, organiser, make_user):
    judge = make_user("judge", phone="13912340001")
    citizen = make_user("citizen", phone="13912340002")
    html = client.get("/admin/users?phone=1391234").get_data(as_text=True)
    assert judge.phone in html and citizen.phone in html
    assert "共 2 个账号" in html
    html = client.get("/admin/users?phone=1391234&role=judge").get_data(as_text=True)
    assert judge.phone in html and citizen.phone not in html


def test_organiser_sees_only_grantable_roles_enabled(client, organiser, make_user):
    citizen = make_user("citizen")
    html = client.get(f"/admin/users?phone={citizen.phone}").get_data(as_text=True)
    boxes = re.findall(r'<input type="checkbox" name="roles" value="(\w+)"([^>]*)>', html)
    assert {role for role, rest in boxes if "disabled" not in rest} == {"school_contact", "judge"}
    assert {role for role, rest in boxes if "disabled" in rest} == {"citizen", "organiser", "admin"}


def test_organiser_grants_judge(client, organiser, make_user, clock):
    citizen = make_user("citizen")
    response = set_roles(client, citizen, ["citizen", "judge"])
    assert response.status_code == 302
    assert response.headers["Location"] == f"/admin/users?phone={citizen.phone}"
    assert roles_of(citizen) == {"citizen", "judge"}
    [event] = role_events()
    assert event.actor_id == organiser.id
    assert event.target_type == "user" and event.target_id == str(citizen.id)
    assert event.before == {"roles": ["citizen"]} and event.after == {"roles": ["citizen", "judge"]}
    assert event.created_at == clock.now()
    assert "角色已更新。" in client.get(response.headers["Location"]).get_data(as_text=True)


def test_organiser_revokes_judge(client, organiser, make_user):
    judge = make_user("citizen", "judge")
    assert set_roles(client, judge, ["citizen"]).status_code == 302
    assert roles_of(judge) == {"citizen"}
    [event] = role_events()
    assert event.before == {"roles": ["citizen", "judge"]} and event.after == {"roles": ["citizen"]}


def test_organiser_cannot_grant_admin_or_organiser(client, organiser, make_user):
    citizen = make_user("citizen")
    for wanted, named in ((["citizen", "admin"], "管理员"), (["citizen", "organiser"], "组织者"),
                          (["citizen", "judge", "admin"], "管理员")):
        response = set_roles(client, citizen, wanted)
        assert response.status_code == 403, wanted
        html = response.get_data(as_text=True)
        assert "<h1>没有访问权限</h1>" in html
        assert f"您无权更改这些角色：{named}" in html
    assert roles_of(citizen) == {"citizen"}
    assert role_events() == []


def test_organiser_cannot_take_away_a_role_they_cannot_grant(client, organiser, make_user):
    other = make_user("citizen", "organiser")
    response = set_roles(client, other, ["citizen"])
    assert response.status_code == 403
    assert "您无权更改这些角色：组织者" in response.get_data(as_text=True)
    assert roles_of(other) == {"citizen", "organiser"}


def test_organiser_keeps_roles_shown_but_not_grantable(client, organiser, make_user):
    # the page posts roles the organiser may not change as hidden fields, so they survive
    other = make_user("citizen", "organiser")
    page = client.get(f"/admin/users?phone={other.phone}").get_data(as_text=True)
    assert '<input type="hidden" name="roles" value="organiser">' in page
    assert set_roles(client, other, ["citizen", "organiser", "judge"]).status_code == 302
    assert roles_of(other) == {"citizen", "organiser", "judge"}


def test_admin_grants_organiser(client, admin_user, make_user):
    citizen = make_user("citizen")
    assert set_roles(client, citizen, ["citizen", "organiser"]).status_code == 302
    assert roles_of(citizen) == {"citizen", "organiser"}
    [event] = role_events()
    assert event.actor_id == admin_user.id
    assert event.after == {"roles": ["citizen", "organiser"]}


def test_admin_cannot_remove_own_admin_role(client, admin_user):
    response = set_roles(client, admin_user, ["citizen"])
    assert response.status_code == 403
    assert "不能撤销自己的管理员角色。" in response.get_data(as_text=True)
    assert roles_of(admin_user) == {"admin"}


def test_unknown_roles_are_ignored_and_unknown_user_is_404(client, admin_user, make_user):
    citizen = make_user("citizen")
    assert set_roles(client, citizen, ["citizen", "superuser"]).status_code == 302
    assert roles_of(citizen) == {"citizen"}
    assert role_events() == []  # nothing changed, nothing logged
    response = submit(client, "/admin/users", {"roles": ["citizen"]}, action="/admin/users/99999/roles")
    assert response.status_code == 404
    assert "账号不存在。" in response.get_data(as_text=True)


def test_audit_page_lists_and_filters_events(client, admin_user, make_user, make_school):
    citizen = make_user("citizen")
    set_roles(client, citizen, ["citizen", "judge"])
    submit(client, "/admin/schools/new", {"name": "审计学校", "district": "历下区", "level": "中职", "enrolment": "10"})
    make_school("系统建的学校")  # made with no actor
    html = client.get("/admin/audit").get_data(as_text=True)
    # each action in words, its code kept out of sight for the filter
    rows = re.findall(r'<td data-action="([\w.]+)">(.*?)</td>', html)
    assert rows == [("school.create", "添加学校"), ("school.create", "添加学校"), ("user.roles", "修改账号角色")]  # newest first
    assert "共 3 条" in html
    assert "管理员" in html and "系统" in html  # the actor's name, or the system
    assert "审计学校" in html and "学校 #" in html and "账号 #" in html  # the target's kind in words
    assert "&#34;judge&#34;" in html or "\"judge\"" in html  # before → after are shown
    # the filter offers the actions present
    assert re.findall(r'<option value="([\w.]+)" (?:selected )?>(.*?)</option>', html) == [
        ("school.create", "添加学校"), ("user.roles", "修改账号角色")]
    filtered = client.get("/admin/audit?action=user.roles").get_data(as_text=True)
    assert re.findall(r'<td data-action="([\w.]+)">', filtered) == ["user.roles"]
    assert "共 1 条" in filtered
    assert '<option value="user.roles" selected>修改账号角色</option>' in filtered
    assert re.findall(r'<td data-action="([\w.]+)">', client.get("/admin/audit?action=nothing.like.this").get_data(as_text=True)) == []


def test_audit_page_paging_is_robust(client, organiser):
    for page in ("-1", "abc", "99999999", "0"):
        assert client.get(f"/admin/audit?page={page}").status_code == 200, page
        assert client.get(f"/admin/users?page={page}").status_code == 200, page
