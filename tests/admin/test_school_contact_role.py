"""Taking the school_contact role away also ends the account's links to its schools, from
the users page and from the command line, audit-logged; granting the role again does not
bring the old schools back."""

from __future__ import annotations

from sqlalchemy import select

from contest.accounts.models import AuditEvent, User
from contest.contests.models import School, SchoolContact
from contest.extensions import db
from tests.conftest import submit


def link(user: User, school: School) -> None:
    db.session.add(SchoolContact(user_id=user.id, school_id=school.id))
    db.session.commit()


def schools_linked(user: User) -> set[int]:
    db.session.expire_all()
    return set(db.session.scalars(select(SchoolContact.school_id).where(SchoolContact.user_id == user.id)))


def school_events() -> list[AuditEvent]:
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == "user.schools").order_by(AuditEvent.id)))


def set_roles(client, user: User, roles: list[str]):  # type: ignore[no-untyped-def]
    return submit(client, f"/admin/users?phone={user.phone}", {"roles": roles}, action=f"/admin/users/{user.id}/roles")


def test_revoking_the_role_ends_the_links_to_schools(client, organiser, make_user, make_school, clock):
    first, second = make_school("济南第一职专"), make_school("济南第二职专")
    former = make_user("citizen", "school_contact")
    link(former, first)
    link(former, second)
    colleague = make_user("citizen", "school_contact")
    link(colleague, first)

    response = set_roles(client, former, ["citizen"])

    assert response.status_code == 302
    assert schools_linked(former) == set()
    assert schools_linked(colleague) == {first.id}
    [event] = school_events()
    assert (event.actor_id, event.target_type, event.target_id) == (organiser.id, "user", str(former.id))
    assert event.before == {"school_ids": sorted([first.id, second.id]), "schools": ["济南第一职专", "济南第二职专"]}
    assert event.after == {"school_ids": [], "schools": []}
    assert event.created_at == clock.now()

    assert set_roles(client, former, ["citizen", "school_contact"]).status_code == 302
    assert schools_linked(former) == set()


def test_other_role_changes_keep_the_links(client, organiser, make_user, make_school):
    school = make_school()
    contact = make_user("citizen", "school_contact")
    link(contact, school)
    assert set_roles(client, contact, ["citizen", "school_contact", "judge"]).status_code == 302
    assert schools_linked(contact) == {school.id}
    assert school_events() == []


def test_revoking_from_the_command_line_ends_the_links(app, runner, make_user, make_school):
    school = make_school()
    contact = make_user("citizen", "school_contact")
    link(contact, school)
    result = runner.invoke(args=["users", "revoke", contact.phone, "school_contact"])
    assert result.exit_code == 0, result.output
    assert schools_linked(contact) == set()
    [event] = school_events()
    assert event.actor_id is None and event.target_id == str(contact.id)
