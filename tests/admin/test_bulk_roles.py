"""Granting or revoking one role for several accounts of the list at once."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from contest.accounts.models import AuditEvent, User, UserRole
from contest.contests import service as contests
from contest.contests.models import SchoolContact
from contest.errors import Forbidden, InvalidInput
from contest.extensions import db
from tests.conftest import IsolatedClient, csrf_token
from tests.site.isolation import committed

from .conftest import sign_in

USERS = "/admin/users"
BULK = "/admin/users/roles"


def roles_of(user: User) -> set[str]:
    """The account's roles as committed."""
    with db.engine.connect() as conn:
        return set(conn.execute(select(UserRole.role).where(UserRole.user_id == user.id)).scalars())


def html(response: Any) -> str:
    return response.get_data(as_text=True)


def role_events() -> int:
    return committed(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "user.roles"))


def test_grant_then_revoke_for_the_ticked_accounts(client, organiser, make_user, make_school):  # type: ignore[no-untyped-def]
    picked = [make_user("citizen") for _ in range(3)]
    left = make_user("citizen")
    page = html(client.get(USERS))
    assert 'id="bulk-roles"' in page and f'name="user_ids" value="{picked[0].id}" form="bulk-roles"' in page
    token = csrf_token(client, USERS)
    before = role_events()
    response = client.post(BULK, data={"csrf_token": token, "op": "grant", "role": "school_contact",
                                       "user_ids": [str(u.id) for u in picked]})
    assert response.status_code == 302
    assert "已为 3 个账号授予角色。" in html(client.get(USERS))
    assert all(roles_of(u) == {"citizen", "school_contact"} for u in picked) and roles_of(left) == {"citizen"}
    assert role_events() == before + 3

    school = make_school()
    db.session.add(SchoolContact(user_id=picked[0].id, school_id=school.id))
    db.session.commit()
    response = client.post(BULK, data={"csrf_token": token, "op": "revoke", "role": "school_contact",
                                       "user_ids": [str(picked[0].id), str(picked[1].id)]})
    assert response.status_code == 302
    assert roles_of(picked[0]) == {"citizen"} and roles_of(picked[2]) == {"citizen", "school_contact"}
    # a former contact's links to schools end with the role, as on the single form
    assert committed(select(func.count()).select_from(SchoolContact).where(SchoolContact.user_id == picked[0].id)) == 0


@pytest.mark.parametrize(("data", "status", "message"), [
    ({"op": "grant", "role": "judge"}, 400, "请先选择账号。"),
    ({"op": "grant", "role": "wizard", "ids": True}, 400, "请选择要授予或撤销的角色。"),
    ({"op": "", "role": "judge", "ids": True}, 400, "请选择授予还是撤销。"),
    ({"op": "grant", "role": "admin", "ids": True}, 403, "您无权更改这些角色：管理员"),
])
def test_bad_bulk_requests_change_nothing(client, organiser, make_user, data, status, message):  # type: ignore[no-untyped-def]
    users = [make_user("citizen") for _ in range(2)]
    before = role_events()
    post = {k: v for k, v in data.items() if k != "ids"}
    if data.get("ids"):
        post["user_ids"] = [str(u.id) for u in users]
    response = client.post(BULK, data={"csrf_token": csrf_token(client, USERS), **post})
    assert response.status_code == status and message in html(response)
    assert all(roles_of(u) == {"citizen"} for u in users) and role_events() == before


def test_all_or_nothing(make_user, organiser, clock):  # type: ignore[no-untyped-def]
    other, me = make_user("admin"), make_user("admin")  # accounts are changed in order of id
    with pytest.raises(Forbidden) as refused:
        # the other admin comes first and would lose the role; then the actor's own is refused
        contests.change_role_of_users(db.session, actor=me, user_ids=[me.id, other.id], role="admin",
                                      grant=False, now=clock.now())
    assert refused.value.message == "不能撤销自己的管理员角色。"
    db.session.rollback()
    assert roles_of(me) == {"admin"} and roles_of(other) == {"admin"}
    with pytest.raises(InvalidInput) as too_many:
        contests.change_role_of_users(db.session, actor=organiser, user_ids=list(range(1, 300)), role="judge",
                                      grant=True, now=clock.now())
    assert too_many.value.message == "一次最多选择 200 个账号。"


def test_citizens_and_school_contacts_get_403(app, make_user):  # type: ignore[no-untyped-def]
    target = make_user("citizen")
    for user in (make_user("citizen"), make_user("school_contact")):
        client = IsolatedClient(app, app.response_class, use_cookies=True)
        sign_in(client, user)
        response = client.post(BULK, data={"csrf_token": csrf_token(client, "/"), "op": "grant", "role": "judge",
                                           "user_ids": [str(target.id)]})
        assert response.status_code == 403
    assert roles_of(target) == {"citizen"}
