"""Organising units: who may do what, where.

The matrix is generated from the app's URL map: every back-office route (GET and POST) is
asked by every unit role in the contest's own unit, by the same role in another unit, and
by a staff account with no unit. A route that forgets its scope check (or a new one added
without it) fails here. The same is asserted of the services called with a scoped actor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from contest.accounts import units
from contest.accounts.actors import SYSTEM
from contest.accounts.models import UNIT_ROLES, AuditEvent, OrganisingUnit, User
from contest.contests import service as contests
from contest.contests.models import Contest, Entry
from contest.errors import Forbidden
from contest.extensions import db
from contest.judging import service as judging
from contest.media import moderation
from contest.media.models import DuplicateFlag, MediaItem, WithdrawalRequest
from contest.results import exports
from contest.voting import review
from tests.conftest import IsolatedClient, csrf_token, sign_in_id

# Which unit roles may read (GET) and act (POST) in each part of the back office. Written
# out here, not taken from the code, so that the code is checked against it.
EVERYONE = frozenset(UNIT_ROLES)
ALLOWED: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "admin": (EVERYONE, frozenset({"admin", "organiser"})),
    "moderation": (frozenset({"admin", "organiser", "reviewer"}),) * 2,
    "fraud": (frozenset({"admin", "organiser"}),) * 2,
    "judging_admin": (EVERYONE, frozenset({"admin", "organiser", "judge_manager"})),
    "results_admin": (EVERYONE, frozenset({"admin", "organiser"})),
}
EXCEPTIONS = {
    ("admin.contest_notice", "GET"): frozenset({"admin", "organiser"}),  # the page is for sending
    ("results_admin.prepare", "POST"): EVERYONE,  # viewers make exports too
    ("admin.unit_member_add", "POST"): frozenset({"admin"}),  # a unit's members are its admins'
    ("admin.unit_member_remove", "POST"): frozenset({"admin"}),
    ("admin.unit_create", "POST"): frozenset(),  # units are the platform operators'
    # Schools and accounts' global roles are platform-wide: a 区县 unit's people (both units
    # here are 区县) do not keep them; a city unit's admins and organisers do.
    **{(endpoint, method): frozenset() for endpoint in (
        "admin.users", "admin.user_roles", "admin.users_bulk_roles", "admin.schools", "admin.school_edit",
        "admin.school_import_page", "admin.school_import_confirm", "admin.school_import_template")
       for method in ("GET", "POST")},
}
# URL arguments that tie a request to one contest (or one unit).
SCOPED_BY = {"contest_id", "slug", "round_id", "entry_id", "flag_id", "request_id", "unit_id"}
BACK_OFFICE = tuple(ALLOWED)


@dataclass
class Scene:
    own: OrganisingUnit
    other: OrganisingUnit
    contest: Contest
    entry: Entry
    round_id: int
    people: dict[tuple[str, str], User]  # (role, "own" / "other") → account; ("none", "none"): no unit
    platform_admin: User
    flag_id: int
    request_id: int


@pytest.fixture
def scene(app: Flask, clock: Any, make_user: Callable[..., User], make_contest: Callable[..., Contest],
          make_entry: Callable[..., Entry], make_unit: Callable[..., OrganisingUnit]) -> Scene:
    own = make_unit("历下区教育和体育局", district="历下区")
    other = make_unit("章丘区教育和体育局", district="章丘区")
    contest = make_contest(kind="media", stage="voting", slug="lixia", unit_id=own.id)
    make_contest(kind="media", stage="voting", slug="zhangqiu", unit_id=other.id)
    entry = make_entry(contest, status="submitted")
    twin = make_entry(contest, status="approved")
    now = clock.now()
    photos = [MediaItem(entry_id=e.id, kind="image", original_key=f"{'ab' * 32}.jpg", content_type="image/jpeg",
                        created_at=now) for e in (entry, twin)]
    db.session.add_all(photos)
    db.session.flush()
    flag = DuplicateFlag(entry_id=entry.id, media_item_id=photos[0].id, other_entry_id=twin.id,
                         other_media_item_id=photos[1].id, distance=2, created_at=now)
    request = WithdrawalRequest(entry_id=twin.id, reason="学生转学", created_at=now)
    db.session.add_all([flag, request])
    rnd = judging.create_round(db.session, actor=SYSTEM, contest=contest, now=clock.now(),
                               fields=judging.RoundFields(key="r1", name="网络评审"),
                               criteria=[judging.CriterionFields(name="创意", maximum=100, weight=100)])
    db.session.commit()
    people = {(role, where): make_user(unit=unit, unit_role=role, name=f"{role}-{where}")
              for role in UNIT_ROLES for where, unit in (("own", own), ("other", other))}
    people[("none", "none")] = make_user("citizen", "judge")  # no role in any unit
    db.session.commit()
    return Scene(own, other, contest, entry, rnd.id, people, make_user("admin"), flag.id, request.id)


def _url(app: Flask, rule: Any, scene: Scene) -> str:
    values: dict[str, Any] = {}
    for arg in rule.arguments:
        values[arg] = {"contest_id": scene.contest.id, "slug": scene.contest.slug, "round_id": scene.round_id,
                       "entry_id": scene.entry.id, "unit_id": scene.own.id, "what": "results", "fmt": "csv",
                       "flag_id": scene.flag_id, "request_id": scene.request_id,
                       "token": "x"}.get(arg, 10**6)
    if rule.endpoint == "results_admin.prepare":
        values.update(what="audit", fmt="csv")
    with app.test_request_context():
        return app.url_for(rule.endpoint, **values)


def _routes(app: Flask) -> list[tuple[str, str, Any]]:
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.partition(".")[0] not in BACK_OFFICE:
            continue
        for method in sorted((rule.methods or set()) & {"GET", "POST"}):
            found.append((rule.endpoint, method, rule))
    return found


def _allowed(endpoint: str, method: str) -> frozenset[str]:
    if (endpoint, method) in EXCEPTIONS:
        return EXCEPTIONS[(endpoint, method)]
    reading, acting = ALLOWED[endpoint.partition(".")[0]]
    return reading if method == "GET" else acting


def _ask(client: FlaskClient, method: str, url: str) -> int:
    if method == "GET":
        return client.get(url).status_code
    return client.post(url, data={"csrf_token": csrf_token(client, "/")}).status_code


def test_every_back_office_route_answers_by_the_role_in_the_contests_unit(app: Flask, scene: Scene) -> None:
    routes = _routes(app)
    assert len(routes) > 60  # the URL map was read
    clients: dict[tuple[str, str], FlaskClient] = {}
    app.test_client_class = IsolatedClient
    for key, user in [*scene.people.items(), (("platform", "admin"), scene.platform_admin)]:
        client = app.test_client()
        with client.session_transaction() as session:
            session["_user_id"] = sign_in_id(user)
            session["_fresh"] = True
        clients[key] = client
    wrong = []
    for endpoint, method, rule in routes:
        url = _url(app, rule, scene)
        allowed = _allowed(endpoint, method)
        scoped = bool(SCOPED_BY & set(rule.arguments))
        for (role, where), client in clients.items():
            status = _ask(client, method, url)
            if role == "platform":
                expect_refused = False
            elif where == "none":
                expect_refused = True
            elif where == "other" and scoped:
                expect_refused = True
            else:
                expect_refused = role not in allowed
            if (status == 403) != expect_refused or status >= 500:
                wrong.append(f"{method} {url} as {role}/{where}: {status}, expected {'403' if expect_refused else 'not 403'}")
    assert not wrong, "\n".join(wrong)


def test_the_services_refuse_other_units(app: Flask, scene: Scene, clock: Any) -> None:
    """Called directly, with the actor of another unit (or a role without the capability)."""
    sender = app.extensions["sms_sender"]
    calls: dict[str, Callable[[User], object]] = {
        "moderate": lambda u: moderation.decide(db.session, sender, actor=u, entry_ids=[scene.entry.id], decision="approve",
                                                reason="", now=clock.now()),
        "review entry": lambda u: moderation.entry_for_review(db.session, actor=u, entry_id=scene.entry.id),
        "queue": lambda u: moderation.moderation_queue(db.session, actor=u, contest_id=scene.contest.id),
        "configure": lambda u: contests.set_rules(db.session, actor=u, contest=scene.contest, values={"votes_per_day": 4},
                                                  now=clock.now()),
        "category": lambda u: contests.add_category(db.session, actor=u, contest=scene.contest, kind="category",
                                                    name="新分类", now=clock.now()),
        "fraud": lambda u: review.contest_overview(db.session, actor=u, contest_id=scene.contest.id, now=clock.now()),
        "judging": lambda u: judging.create_invite(db.session, actor=u, rnd=judging.get_round(db.session, scene.round_id),
                                                   name="张老师", now=clock.now()),
    }
    capable = {"moderate": "reviewer", "review entry": "reviewer", "queue": "reviewer", "configure": "organiser",
               "category": "organiser", "fraud": "organiser", "judging": "judge_manager"}
    for name, call in calls.items():
        for role in UNIT_ROLES:
            user = scene.people[(role, "other")]
            with pytest.raises(Forbidden):
                call(user)
            db.session.rollback()
        refused = [r for r in ("viewer", "reviewer", "judge_manager") if r != capable[name]
                   and not units.can(scene.people[(r, "own")], {"moderate": "moderate", "review entry": "moderate",
                                                                "queue": "moderate", "configure": "configure",
                                                                "category": "configure", "fraud": "fraud",
                                                                "judging": "judging"}[name],
                                     unit_id=scene.own.id)]
        for role in refused:
            with pytest.raises(Forbidden):
                call(scene.people[(role, "own")])
            db.session.rollback()
        call(scene.people[(capable[name], "own")])  # the capable role of the own unit is let through
        db.session.rollback()


def test_lists_show_only_the_persons_contests(app: Flask, scene: Scene, make_entry: Callable[..., Entry]) -> None:
    theirs = db.session.scalar(select(Contest).where(Contest.slug == "zhangqiu"))
    assert theirs is not None
    make_entry(theirs, status="submitted", title="章丘的作品")
    organiser = scene.people[("organiser", "own")]
    assert [c.slug for c in contests.back_office_contests(db.session, actor=organiser)] == ["lixia"]
    items, total = moderation.moderation_queue(db.session, actor=organiser)
    assert total == 1 and items[0].entry.contest_id == scene.contest.id
    assert {c.contest.slug for c in review.contests_with_voting(db.session, actor=organiser, now=scene.contest.created_at)} \
        == {"lixia"}
    everything = contests.back_office_contests(db.session, actor=scene.platform_admin)
    assert {"lixia", "zhangqiu"} <= {c.slug for c in everything}


def test_a_membership_for_one_contest_reaches_that_contest_only(app: Flask, scene: Scene, clock: Any,
                                                               make_contest: Callable[..., Contest],
                                                               make_user: Callable[..., User]) -> None:
    second = make_contest(kind="media", stage="voting", slug="lixia-2", unit_id=scene.own.id)
    reviewer = make_user("citizen")
    units.add_member(db.session, actor=SYSTEM, unit=scene.own, user=reviewer, role="reviewer",
                     contest_id=scene.contest.id, now=clock.now())
    db.session.commit()
    assert units.can(reviewer, "moderate", unit_id=scene.own.id, contest_id=scene.contest.id)
    assert not units.can(reviewer, "moderate", unit_id=scene.own.id, contest_id=second.id)
    assert not units.can(reviewer, "create", unit_id=scene.own.id, contest_id=scene.contest.id)
    assert [c.slug for c in contests.back_office_contests(db.session, actor=reviewer)] == ["lixia"]


def test_audit_rows_carry_the_contest_and_unit_and_the_export_is_per_contest(app: Flask, scene: Scene, clock: Any) -> None:
    organiser = scene.people[("organiser", "own")]
    contests.add_category(db.session, actor=organiser, contest=scene.contest, kind="category", name="历下风光", now=clock.now())
    theirs = db.session.scalar(select(Contest).where(Contest.slug == "zhangqiu"))
    assert theirs is not None
    contests.add_category(db.session, actor=scene.people[("organiser", "other")], contest=theirs, kind="category",
                          name="章丘铁锅", now=clock.now())
    db.session.commit()
    rows = {e.summary: (e.contest_id, e.unit_id) for e in db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "category.create"))}
    assert rows[f"{scene.contest.title} / 历下风光"] == (scene.contest.id, scene.own.id)
    assert rows[f"{theirs.title} / 章丘铁锅"] == (theirs.id, scene.other.id)
    table = exports.build_table(db.session, scene.contest, "audit")
    assert any("历下风光" in str(cell) for row in table.rows for cell in row)
    assert not any("章丘铁锅" in str(cell) for row in table.rows for cell in row)
    # The audit page of a unit's organiser shows their unit's rows only.
    events, _total = units_audit(organiser)
    assert {e.unit_id for e in events} == {scene.own.id}


def units_audit(user: User) -> tuple[list[AuditEvent], int]:
    from contest.accounts import audit
    return audit.list_events(db.session, scopes=units.visible_scopes(user))


def test_a_contest_moved_to_another_unit_leaves_the_old_units_single_contest_roles(
        app: Flask, scene: Scene, clock: Any, make_user: Callable[..., User]) -> None:
    reviewer = make_user("citizen")
    units.add_member(db.session, actor=SYSTEM, unit=scene.own, user=reviewer, role="reviewer",
                     contest_id=scene.contest.id, now=clock.now())
    db.session.commit()
    assert [c.slug for c in contests.back_office_contests(db.session, actor=reviewer)] == ["lixia"]
    scene.contest.unit_id = scene.other.id  # the contest now belongs to the other unit
    db.session.commit()
    db.session.expire_all()
    assert contests.back_office_contests(db.session, actor=reviewer) == []
    items, total = moderation.moderation_queue(db.session, actor=reviewer)
    assert (items, total) == ([], 0)


def test_accounts_and_schools_are_kept_by_city_staff_only(app: Flask, scene: Scene, clock: Any,
                                                         make_user: Callable[..., User],
                                                         make_unit: Callable[..., OrganisingUnit]) -> None:
    """A 区县 unit's admin changes nobody's global roles (a judge of another unit stays a
    judge) and edits no school; a city unit's organiser does."""
    from contest.accounts import service as accounts

    judge = make_user("judge")
    district = make_user("organiser", unit=scene.own, unit_role="admin")  # staff, as add_member makes them
    with pytest.raises(Forbidden):
        accounts.set_roles(db.session, actor=district, user=judge, roles=set(), now=clock.now())
    db.session.rollback()
    with pytest.raises(Forbidden):
        contests.save_school(db.session, actor=district, school=None, name="新学校", district="历下区",
                             level="中职", enrolment=100, now=clock.now())
    db.session.rollback()
    city = make_user("organiser", unit=make_unit("济南市教育局", level="city"))
    accounts.set_roles(db.session, actor=city, user=judge, roles={"judge", "school_contact"}, now=clock.now())
    assert judge.role_names == {"judge", "school_contact"}
