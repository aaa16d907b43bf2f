"""Who acts in a service call: a signed-in user or SYSTEM, never None. SYSTEM is stored
exactly as the command line's actor always was (no user), and a signed-out visitor
cannot reach a service through a view, with or without the view's own guard."""

from __future__ import annotations

import inspect
from dataclasses import FrozenInstanceError
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_login import AnonymousUserMixin
from sqlalchemy import func, select

from contest import web
from contest.accounts import audit
from contest.accounts import service as accounts
from contest.accounts.actors import SYSTEM, SystemActor, actor_id, is_system
from contest.accounts.models import AuditEvent
from contest.contests import service as contests
from contest.contests.models import School
from contest.errors import Forbidden
from contest.extensions import csrf, db
from contest.judging import service as judging
from contest.results import service as results
from contest.voting import review
from contest.voting import service as voting
from tests.conftest import login

REFUSED = "您没有权限进行此操作。"
NOT_ACTORS = [None, AnonymousUserMixin(), "admin"]


def test_system_is_one_frozen_value_labelled_as_pages_show_it() -> None:
    assert SYSTEM == SystemActor() and is_system(SYSTEM)
    assert SYSTEM.label == "系统" and str(SYSTEM) == "SYSTEM"
    with pytest.raises(FrozenInstanceError):
        SYSTEM.label = "root"  # type: ignore[misc]


def test_a_user_is_not_the_system_and_nothing_else_is_an_actor(make_user: Any) -> None:
    user = make_user("admin")
    assert not is_system(user) and actor_id(user) == user.id and actor_id(SYSTEM) is None
    for not_an_actor in NOT_ACTORS:
        with pytest.raises(Forbidden) as refused:
            is_system(not_an_actor)  # type: ignore[arg-type]
        assert refused.value.message == REFUSED
        with pytest.raises(Forbidden):
            actor_id(not_an_actor)  # type: ignore[arg-type]


def test_require_role_wants_a_user_with_the_role(make_user: Any) -> None:
    """SYSTEM holds no roles: services that let it act skip the check for it themselves."""
    organiser = make_user("organiser")
    assert accounts.require_role(organiser, "organiser", "admin") is organiser
    for actor in (SYSTEM, *NOT_ACTORS, make_user("judge")):
        with pytest.raises(Forbidden) as refused:
            accounts.require_role(actor, "organiser", "admin")
        assert refused.value.message == REFUSED


@pytest.mark.usefixtures("app")
def test_system_audit_rows_store_no_actor_and_none_is_refused(clock: Any) -> None:
    event = audit.record(db.session, actor=SYSTEM, action="demo.test", target_type="contest", target_id=1,
                         now=clock.now(), summary="由系统执行")
    db.session.commit()
    stored = db.session.get(AuditEvent, event.id)
    assert stored is not None and stored.actor_id is None and stored.actor is None
    with pytest.raises(Forbidden):
        audit.record(db.session, actor=None, action="demo.test", target_type="contest", target_id=1,  # type: ignore[arg-type]
                     now=clock.now())
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == 1


def test_system_may_set_any_role_and_none_may_set_none(clock: Any, make_user: Any) -> None:
    user = make_user("citizen")
    with pytest.raises(Forbidden) as refused:
        accounts.set_roles(db.session, actor=None, user=user, roles={"admin"}, now=clock.now())  # type: ignore[arg-type]
    assert refused.value.message == REFUSED
    db.session.rollback()
    assert user.role_names == {"citizen"}

    assert accounts.set_roles(db.session, actor=SYSTEM, user=user, roles={"admin"}, now=clock.now()) == (["citizen"], ["admin"])
    db.session.commit()
    row = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "user.roles")).one()
    assert row.actor_id is None and row.after == {"roles": ["admin"]}


SERVICE_MODULES = [accounts, audit, contests, judging, results, review, voting]


def test_no_service_takes_none_as_its_actor() -> None:
    """An `actor` is a User, or SYSTEM where the system may act; never optional."""
    for module in SERVICE_MODULES:
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if function.__module__ != module.__name__:
                continue
            parameter = inspect.signature(function).parameters.get("actor")
            if parameter is not None:
                annotation = str(parameter.annotation)
                assert annotation in ("User", "Actor"), f"{module.__name__}.{name}: actor: {annotation}"


# --- a signed-out visitor and the views ------------------------------------------------------


def _school_count() -> int:
    return db.session.scalar(select(func.count()).select_from(School)) or 0


@pytest.fixture
def probes(app: Flask, client: FlaskClient) -> FlaskClient:
    """Two views that call a service which lets SYSTEM act: one passes `web.user()`, as
    views do; the other forgets every guard and passes the optional `web.actor()`."""

    def save(actor: Any) -> str:
        contests.save_school(db.session, actor=actor, school=None, name="探针职业学校", district="历下区", level="中职",
                             enrolment=100, now=web.now())
        db.session.commit()
        return "saved"

    def probe_user() -> str:
        return save(web.user())

    def probe_unguarded() -> str:
        return save(web.actor())

    for view in (probe_user, probe_unguarded):
        app.add_url_rule(f"/probe/{view.__name__}", view.__name__, csrf.exempt(view), methods=["POST"])
    return client


def test_a_signed_out_visitor_is_sent_to_log_in_before_any_service(probes: FlaskClient) -> None:
    response = probes.post("/probe/probe_user")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/account/login?next=")
    assert _school_count() == 0


def test_a_view_without_a_guard_still_cannot_pass_for_the_system(probes: FlaskClient) -> None:
    response = probes.post("/probe/probe_unguarded")
    assert response.status_code == 403
    assert _school_count() == 0


def test_a_signed_in_user_is_the_actor_and_is_checked(app: Flask, probes: FlaskClient, make_user: Any) -> None:
    login(probes, make_user("citizen"))
    assert probes.post("/probe/probe_user").status_code == 403
    assert _school_count() == 0

    organiser, other = make_user("organiser"), app.test_client()
    login(other, organiser)
    response = other.post("/probe/probe_user")
    assert response.status_code == 200 and response.get_data(as_text=True) == "saved"
    row = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "school.create")).one()
    assert row.actor_id == organiser.id
