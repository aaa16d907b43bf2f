"""Views stay thin (DESIGN.md §3, docs/ARCHITECTURE.md §1): no SQL in a blueprint module
(queries are the services'), no raw form reads in the back office (a Flask-WTF form or
`forms.posted()`), and no second CSRF check, because CSRFProtect checks every POST outside
the API before any view runs; the last test holds the app to that."""

from __future__ import annotations

import re
from collections.abc import Collection
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "contest"
CSRF_REFUSAL = "页面已过期或来源不明，请刷新页面后重新提交。"

# The health check asks the database `SELECT 1`: its only job is to see it answer.
QUERY_ALLOWED = {("contest/site/views.py", "db.session.execute(text(\"SELECT 1\"))")}
QUERIES = re.compile(r"\bselect\(|\bsession\.(scalars?|execute|get|query)\(|\.query\.")
RAW_FORM = re.compile(r"\brequest\.form\b")
CSRF_RECHECK = re.compile(r"_check_csrf|EmptyForm\(\)\.validate\(|csrf\.protect\(")


def view_modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p.name == "views.py" or p.name.endswith("_views.py"))


def offending_lines(paths: list[Path], pattern: re.Pattern[str],
                    allowed: Collection[tuple[str, str]] = frozenset()) -> list[str]:
    found = []
    for path in paths:
        name = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.name
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if pattern.search(line) and (name, line.strip()) not in allowed:
                found.append(f"{name}:{number}: {line.strip()}")
    return found


def test_the_view_modules_are_found() -> None:
    names = {p.relative_to(PACKAGE).as_posix() for p in view_modules()}
    assert {"admin/judging_views.py", "admin/results_views.py", "results/views.py", "judging/views.py"} <= names


def test_no_view_module_runs_a_query() -> None:
    found = offending_lines(view_modules(), QUERIES, QUERY_ALLOWED)
    assert not found, "move these queries into a service function taking the session:\n" + "\n".join(found)


def test_back_office_views_read_no_raw_form_fields() -> None:
    admin = [p for p in view_modules() if p.parent.name == "admin"]
    assert admin
    found = offending_lines(admin, RAW_FORM)
    assert not found, "read posted fields with a Flask-WTF form or forms.posted():\n" + "\n".join(found)


def test_no_view_checks_the_csrf_token_again() -> None:
    found = offending_lines(view_modules(), CSRF_RECHECK)
    assert not found, "CSRFProtect already checks every POST:\n" + "\n".join(found)


def test_the_checks_can_fail(tmp_path: Path) -> None:
    module = tmp_path / "views.py"
    module.write_text("rows = db.session.scalars(select(User))\nname = request.form.get('name')\n"
                      "if not EmptyForm().validate():\n    abort(400)\n", encoding="utf-8")
    assert offending_lines([module], QUERIES) == ["views.py:1: rows = db.session.scalars(select(User))"]
    assert offending_lines([module], RAW_FORM) == ["views.py:2: name = request.form.get('name')"]
    assert offending_lines([module], CSRF_RECHECK) == ["views.py:3: if not EmptyForm().validate():"]
    assert not QUERIES.search("contests.select_entries(session)") and not RAW_FORM.search("form.text('name')")


def test_every_post_outside_the_api_is_refused_without_a_csrf_token(app: Flask, client: FlaskClient) -> None:
    """The back office's views no longer check the token themselves: the app-wide check
    must cover every one of their routes (and every other POST but the API's)."""
    checked = []
    for rule in app.url_map.iter_rules():
        if "POST" not in (rule.methods or set()) or rule.endpoint.startswith("api."):
            continue
        values = {arg: ("x" if arg in ("slug", "token", "code", "key") else 1) for arg in rule.arguments}
        if "what" in rule.arguments:  # an export (results) or a file made by the job runner (audit)
            values.update(what="audit" if rule.endpoint == "results_admin.prepare" else "results", fmt="csv")
        with app.test_request_context():
            path = app.url_for(rule.endpoint, **values)
        response = client.post(path, data={"reason": "无令牌"})
        assert response.status_code == 400, (rule.endpoint, path, response.status_code)
        assert CSRF_REFUSAL in response.get_data(as_text=True), rule.endpoint
        checked.append(rule.endpoint)
    for endpoint in ("judging_admin.set_state", "judging_admin.advance", "judging_admin.invite", "results_admin.formula",
                     "results_admin.request_publication", "results_admin.answer", "fraud.void", "moderation.decide"):
        assert endpoint in checked, endpoint


def test_the_vote_views_only_parse_and_answer():
    """A vote is one use case (voting.cast_vote): both vote views stay at most 15 lines,
    decorators aside, and leave every step of the vote to it."""
    import ast

    for path, name in (("contest/voting/views.py", "vote"), ("contest/api/views.py", "cast_vote")):
        tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
        view = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == name)
        assert view.end_lineno - view.lineno + 1 <= 15, f"{path}:{name} has grown past 15 lines"
        called = {ast.unparse(n.func) for n in ast.walk(view) if isinstance(n, ast.Call)}
        assert "voting.cast_vote" in called, path
        assert not called & {"antifraud.assess_vote", "voting.record_vote", "live.after_vote", "sealing.seal_due"}
