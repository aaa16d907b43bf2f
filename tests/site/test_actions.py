"""run_action, the one way views commit or settle an operation, and forms.Posted, the one
way back-office views read a posted form without a Flask-WTF class."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask, get_flashed_messages
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from contest.actions import run_action
from contest.contests.models import School
from contest.errors import DomainError, InvalidInput
from contest.extensions import db
from contest.forms import Posted
from tests.site.isolation import committed


class Recorded(DomainError):
    """A refusal whose changes are kept (as a failed code attempt is)."""

    status = 429
    keep_changes = True


def schools() -> int:
    return committed(select(func.count()).select_from(School))


def add_school(name: str) -> School:
    school = School(name=name, district="历下区", level="中职", enrolment=100)
    db.session.add(school)
    db.session.flush()
    return school


def test_done_commits_flashes_and_redirects(app: Flask) -> None:
    with app.test_request_context("/admin/", method="POST"):
        response: Any = run_action(lambda: add_school("甲校"), refused=pytest.fail,
                                   success=lambda school: f"已保存 {school.name}", redirect_to=lambda s: f"/admin/schools/{s.id}")
        assert response.status_code == 302 and response.headers["Location"].startswith("/admin/schools/")
        assert get_flashed_messages(with_categories=True) == [("success", "已保存 甲校")]
    assert schools() == 1


def test_then_answers_after_the_commit(app: Flask) -> None:
    with app.test_request_context("/admin/", method="POST"):
        answer = run_action(lambda: add_school("乙校"), refused=pytest.fail, then=lambda school: (school.name, schools()))
        assert answer == ("乙校", 1)
        assert get_flashed_messages() == []


def test_a_refusal_rolls_back_and_answers_with_the_error(app: Flask) -> None:
    def refuse() -> None:
        add_school("丙校")
        raise InvalidInput("名称有误。", field="name")

    with app.test_request_context("/admin/", method="POST"):
        answer = run_action(refuse, refused=lambda exc: (exc.message, exc.status), success="不该出现", redirect_to="/")
        assert answer == ("名称有误。", 400)
        assert get_flashed_messages() == []
    assert schools() == 0


def test_a_refusal_that_keeps_its_changes_is_committed(app: Flask) -> None:
    def refuse() -> None:
        add_school("丁校")
        raise Recorded("太频繁。")

    with app.test_request_context("/admin/", method="POST"):
        assert run_action(refuse, refused=lambda exc: exc.status, then=pytest.fail) == 429
    assert schools() == 1


def test_other_errors_are_not_caught(app: Flask) -> None:
    with app.test_request_context("/admin/", method="POST"), pytest.raises(ZeroDivisionError):
        run_action(lambda: 1 / 0, refused=pytest.fail, then=pytest.fail)


def test_posted_fields() -> None:
    form = Posted(MultiDict([
        ("reason", "x" * 400), ("name", "张\u200b三 "), ("n", " 42 "), ("big", "1" * 10), ("neg", "-1"), ("d", "7.5"),
        ("inf", "Infinity"), ("ids", "3"), ("ids", "x"), ("ids", "12345678901"), ("ids", "4"), ("confirm", "1"),
        ("rule_a", "1"), ("rule_b", "2"), ("other", "3"),
    ]))
    assert form.text("reason", 300) == "x" * 300 and form.text("missing") == ""
    assert form.line("name") == "张三"
    assert (form.number("n"), form.number("big"), form.number("big", digits=None), form.number("neg")) == (
        42, None, 1111111111, None)
    assert (form.decimal("d"), form.decimal("inf"), form.decimal("reason"), form.decimal("missing")) == (7.5, None, None, None)
    assert form.ids("ids") == [3, 4] and form.values("ids") == ["3", "x", "12345678901", "4"]
    assert form.is_set("confirm") and not form.is_set("confirm", "yes") and not form.is_set("missing")
    assert form.prefixed("rule_") == {"a": "1", "b": "2"}
