"""Input no view should ever see is refused once, for the whole app (contest/input_guard.py).

Ids beyond the database's integer range in any `<int:…>` of any route are 404s; control
characters in paths, query strings, form fields and JSON strings are 400s before anything
is stored; JSON nested too deep is a 400 in the JSON error shape. Every case is tried as
an anonymous visitor, a signed-in citizen and an admin, never answered with a 5xx.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from contest.db import Base
from contest.extensions import db
from contest.input_guard import MAX_ID, MAX_JSON_BODY, MAX_JSON_DEPTH
from tests.accounts.support import register, request_code, sent_code
from tests.api.conftest import ApiClient
from tests.conftest import CSRF_RE, IsolatedClient, login

CONTROL = "提交的内容里有无法识别的隐藏字符，请删除后重新输入。"
TOO_DEEP = "请求内容的嵌套层数过多。"
NOT_FOUND = "您要找的页面不存在，可能已被删除或链接有误。"
API_MAX_BODY = 16 * 1024
HOSTILE_IDS = (MAX_ID + 1, 2**63, 2**64, -1)
ARGUMENT = re.compile(r"<(?:(\w+)(?:\(([^)]*)\))?:)?(\w+)>")


class Visitor:
    """A client as someone: anonymous, or signed in on the site and holding an API token."""

    def __init__(self, app: Flask, name: str, user: Any = None) -> None:
        self.name = name
        self.client: FlaskClient = app.test_client()
        self.headers: dict[str, str] = {}
        if user is not None:
            login(self.client, user)
            self.headers["Authorization"] = "Bearer " + ApiClient(self.client).token_for(user)
        page = self.client.get("/account/login" if user is None else "/")
        match = CSRF_RE.search(page.get_data(as_text=True))
        assert match, f"no csrf token for {name}"
        self.csrf = match.group(1)

    def open(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {**self.headers, "X-CSRFToken": self.csrf, **kwargs.pop("headers", {})}
        if method == "POST" and "json" not in kwargs and "data" not in kwargs:
            kwargs["data"] = {"csrf_token": self.csrf}
        return self.client.open(path, method=method, headers=headers, **kwargs)


@pytest.fixture
def site(app: Flask, make_user: Callable[..., Any], make_contest: Callable[..., Any],
         make_entry: Callable[..., Any]) -> dict[str, Any]:
    app.test_client_class = IsolatedClient
    contest = make_contest(kind="media", stage="voting", slug="hostile", rules={"captcha_mode": "never"})
    entry = make_entry(contest)
    visitors = [Visitor(app, "anonymous"), Visitor(app, "citizen", make_user()), Visitor(app, "admin", make_user("admin"))]
    return {"contest": contest, "entry": entry, "visitors": visitors}


def row_counts() -> dict[str, int]:
    """Rows in every table, read on a connection of its own (what requests committed)."""
    with db.engine.connect() as conn:
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one() for t in Base.metadata.sorted_tables}


def assert_refused(response: Any, status: int, message: str, *, code: str | None = None, api: bool = False) -> None:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:300])
    if api:
        assert response.mimetype == "application/json"
        body = response.get_json()
        assert body["error"]["message"] == message
        if code:
            assert body["error"]["code"] == code
    else:
        assert message in response.get_data(as_text=True)


# --- ids beyond the database's range ----------------------------------------------------

def routes_with_ids(app: Flask, slug: str, value: int) -> Iterator[tuple[str, str, set[int]]]:
    """(method, path, statuses expected) for every route with an `<int:…>` argument, that
    argument set to `value`, any other argument to something the route accepts.

    404 is expected; where another rule has the same pattern for other methods, Werkzeug
    tests the method before converting the arguments, and answers 405."""
    patterns: dict[str, int] = {}
    for rule in app.url_map.iter_rules():
        patterns[rule.rule] = patterns.get(rule.rule, 0) + 1

    def argument(match: re.Match[str]) -> str:
        converter, args, name = match.groups()
        if converter == "int":
            return str(value)
        if converter == "any":
            return args.split(",")[0].strip()
        return slug if name == "slug" else "x"

    for rule in app.url_map.iter_rules():
        if "<int:" not in rule.rule:
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            yield method, ARGUMENT.sub(argument, rule.rule), {404, 405} if patterns[rule.rule] > 1 else {404}


def test_every_route_answers_404_for_ids_beyond_the_databases_range(app, site):
    checked, wrong = 0, []
    for value in HOSTILE_IDS:
        for method, path, expected in routes_with_ids(app, site["contest"].slug, value):
            for visitor in site["visitors"]:
                body = {"json": {}} if path.startswith("/api/") and method == "POST" else {}
                response = visitor.open(method, path, **body)
                checked += 1
                if response.status_code not in expected:
                    wrong.append((visitor.name, method, path, response.status_code))
                elif response.status_code == 405:
                    continue
                elif path.startswith("/api/"):
                    assert response.get_json()["error"]["code"] == "not_found"
                else:
                    assert NOT_FOUND in response.get_data(as_text=True)
    assert checked > 200
    assert not wrong, sorted(set((m, p.split("?")[0], s) for _n, m, p, s in wrong))


def test_the_largest_id_is_still_looked_up(app, site):
    for visitor in site["visitors"]:
        assert visitor.open("GET", f"/api/v1/entries/{MAX_ID}").status_code == 404
        assert visitor.open("GET", f"/c/hostile/entries/{MAX_ID}").status_code == 404
    entry = site["entry"]
    assert site["visitors"][0].open("GET", f"/api/v1/entries/{entry.id}").status_code == 200
    assert site["visitors"][0].open("GET", f"/c/hostile/entries/{entry.id}").status_code == 200


# --- control characters -----------------------------------------------------------------

@pytest.mark.parametrize("char", ["%00", "%01", "%1B", "%7F%00"])
def test_control_characters_in_paths_and_query_strings_are_refused(site, char):
    before = row_counts()
    for visitor in site["visitors"]:
        for path in (f"/c/hostile/entries?q=a{char}b", f"/receipts?code=AB{char}CD", f"/receipts/AB{char}CD",
                     f"/c/host{char}ile", f"/c/{char}/entries", f"/c/hostile/entries?{char}=1"):
            assert_refused(visitor.open("GET", path), 400, CONTROL)
        for path in (f"/api/v1/contests/hostile/entries?q={char}", f"/api/v1/receipts/AB{char}CD",
                     f"/api/v1/contests/host{char}ile/entries", f"/api/v1/contests/hostile/leaderboard?category={char}"):
            assert_refused(visitor.open("GET", path), 400, CONTROL, code="invalid_parameter", api=True)
    assert row_counts() == before


def test_tabs_and_line_breaks_are_not_control_characters_here(site):
    visitor = site["visitors"][1]
    assert visitor.open("GET", "/c/hostile/entries?q=a%09b%0D%0Ac").status_code == 200
    assert visitor.open("GET", "/api/v1/contests/hostile/entries?q=a%09b%0Ac").status_code == 200


def test_a_login_with_a_nul_in_the_phone_is_refused_and_nothing_is_stored(app, site, make_user):
    user = make_user()
    client = app.test_client()
    before = row_counts()
    page = client.get("/account/login")
    token = CSRF_RE.search(page.get_data(as_text=True)).group(1)
    response = client.post("/account/login", data={"csrf_token": token, "phone": user.phone[:5] + "\x00" + user.phone[5:],
                                                   "password": "Passw0rd2023"})
    assert_refused(response, 400, CONTROL)
    assert response.headers["X-Request-ID"]
    assert row_counts() == before
    # the same form without the NUL signs in
    assert client.post("/account/login", data={"csrf_token": token, "phone": user.phone,
                                               "password": "Passw0rd2023"}).status_code == 302


def test_forms_with_control_characters_store_nothing(app, site):
    client = app.test_client()
    phone = "13912345678"
    before = row_counts()
    page = client.get("/account/register")
    token = CSRF_RE.search(page.get_data(as_text=True)).group(1)
    response = client.post("/account/sms-code", data={"csrf_token": token, "phone": phone + "\x00", "purpose": "register"})
    assert_refused(response, 400, CONTROL)
    assert row_counts() == before  # no code, no text message

    request_code(client, phone)
    code = sent_code(phone)
    before = row_counts()
    assert_refused(register(client, phone, code, display_name="小\x00明"), 400, CONTROL)
    assert_refused(register(client, phone, code, display_name="小明\x1b[2J"), 400, CONTROL)
    assert row_counts() == before  # no account
    # a multipart form is checked the same way, field names and file names included
    for data in ({"csrf_token": token, "phone\x00": phone},
                 {"csrf_token": token, "photo": (io.BytesIO(b"x"), "a\x00.jpg")}):
        response = client.post("/account/register", data=data, content_type="multipart/form-data")
        assert_refused(response, 400, CONTROL)
    assert row_counts() == before
    response = register(client, phone, code, display_name="小明")
    assert response.status_code == 302, response.get_data(as_text=True)[:300]


def test_json_strings_with_control_characters_are_refused_and_store_nothing(site):
    entry = site["entry"]
    before = row_counts()
    for visitor in site["visitors"]:
        for path, body in (("/api/v1/auth/token", {"phone": "1380000\u00000000", "password": "Passw0rd2023"}),
                           (f"/api/v1/entries/{entry.id}/votes", {"captcha_id": "\u0000"}),
                           (f"/api/v1/entries/{entry.id}/votes", {"view\u001ftoken": ""}),
                           ("/captcha", {"purpose": "\u0000"})):
            response = visitor.open("POST", path, json=body)
            if visitor.name == "anonymous" and path.endswith("/votes"):
                assert response.status_code == 401  # refused before the body is read
            else:
                assert_refused(response, 400, CONTROL, code="bad_json", api=True)
    assert row_counts() == before


def test_json_text_that_only_looks_like_an_escape_is_fine(site):
    # "\\u0000" is a backslash followed by the letters u0000: text, not a control character.
    visitor = site["visitors"][1]
    response = visitor.open("POST", "/captcha", data=json.dumps({"purpose": "vote", "note": "\\u0000 \t\n"}),
                            content_type="application/json")
    assert response.status_code == 201, response.get_data(as_text=True)


def test_json_with_a_lone_surrogate_is_refused(site):
    visitor = site["visitors"][1]
    before = row_counts()
    response = visitor.open("POST", f"/api/v1/entries/{site['entry'].id}/votes", data='{"captcha_id": "\\ud800"}',
                            content_type="application/json")
    assert_refused(response, 400, "请求内容含有无效的字符。", code="bad_json", api=True)
    assert row_counts() == before


# --- JSON nested too deep ---------------------------------------------------------------

def json_routes(entry_id: int) -> list[str]:
    """The routes that read a JSON body (/api/v1/captchas takes none, and reads none)."""
    return ["/api/v1/auth/token", f"/api/v1/entries/{entry_id}/votes", "/captcha"]


@pytest.mark.parametrize("body", [
    "[" * 10 * 1024, "[" * 100 * 1024, '{"a":' * 2048 + "1" + "}" * 2048,
    "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1), '{"x": "[[[[", "y":' + "[" * 5000,
], ids=["10KB-brackets", "100KB-brackets", "objects", "just-too-deep", "after-a-string"])
def test_deeply_nested_json_is_a_400_on_every_json_route(site, body):
    before = row_counts()
    for visitor in site["visitors"]:
        for path in json_routes(site["entry"].id):
            response = visitor.open("POST", path, data=body, content_type="application/json")
            if visitor.name == "anonymous" and path.endswith("/votes"):
                assert response.status_code == 401  # refused before the body is read
            elif len(body) > (API_MAX_BODY if path.startswith("/api/") else MAX_JSON_BODY):
                # No JSON route takes a body this large: refused before it is parsed.
                assert_refused(response, 413, "上传的内容太大了。", code="too_large", api=True)
            else:
                assert_refused(response, 400, TOO_DEEP, code="bad_json", api=True)
    assert row_counts() == before


def test_nesting_within_the_limit_is_parsed(site):
    visitor = site["visitors"][1]
    nested = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    response = visitor.open("POST", "/captcha", data='{"purpose": "vote", "extra": ' + nested + '}',
                            content_type="application/json")
    assert response.status_code == 201, response.get_data(as_text=True)
    # brackets inside strings do not nest
    response = visitor.open("POST", "/captcha", data=json.dumps({"purpose": "vote", "x": "[" * 5000}),
                            content_type="application/json")
    assert response.status_code == 201, response.get_data(as_text=True)


def test_a_json_body_larger_than_any_route_takes_is_refused_unparsed(site):
    visitor = site["visitors"][1]
    body = json.dumps({"purpose": "vote", "padding": ["x"] * (MAX_JSON_BODY // 4)})
    assert len(body) > MAX_JSON_BODY
    response = visitor.open("POST", "/captcha", data=body, content_type="application/json")
    assert_refused(response, 413, "上传的内容太大了。", code="too_large", api=True)
