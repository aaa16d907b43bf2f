"""An API client that checks every response against the served OpenAPI document.

Each call finds its operation in /api/v1/openapi.json, asserts that the status it got is
declared there, and validates the JSON body against the declared schema (Draft 2020-12).
Every test in this folder is therefore also a test that the document matches the code.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012
from sqlalchemy import func, select

from contest.extensions import db
from contest.voting.models import Vote
from tests.conftest import PASSWORD

PREFIX = "/api/v1"
SPEC_URI = "urn:contest-api"


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


class ApiClient:
    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self._spec: dict[str, Any] | None = None
        self.checked: list[tuple[str, str, int]] = []

    @property
    def spec(self) -> dict[str, Any]:
        if self._spec is None:
            response = self.client.get(PREFIX + "/openapi.json")
            assert response.status_code == 200 and response.mimetype == "application/json"
            self._spec = response.get_json()
        return self._spec

    def operation_path(self, url: str) -> str:
        path = url.split("?", 1)[0]
        assert path.startswith(PREFIX), path
        path = path[len(PREFIX):]
        for template in self.spec["paths"]:
            pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
            if re.match(pattern, path):
                return template
        raise AssertionError(f"{path} is not described in the OpenAPI document")

    def check(self, method: str, url: str, response: Any) -> None:
        template = self.operation_path(url)
        operation = self.spec["paths"][template].get(method.lower())
        assert operation is not None, f"{method} {template} is not described"
        status = str(response.status_code)
        declared = operation["responses"].get(status)
        assert declared is not None, (
            f"{method} {template} answered {status}, which the document does not declare: {response.get_data(as_text=True)[:300]}")
        self.check_headers(f"{method} {template} {status}", declared.get("headers", {}), response.headers)
        content = declared.get("content", {})
        if "application/json" in content:
            assert response.mimetype == "application/json", response.mimetype
            pointer = "/".join(["#", "paths", _escape(template), method.lower(), "responses", status, "content",
                                "application~1json", "schema"])
            validator = Draft202012Validator(
                {"$ref": SPEC_URI + pointer},
                registry=Registry().with_resource(SPEC_URI, DRAFT202012.create_resource(self.spec)),
                format_checker=Draft202012Validator.FORMAT_CHECKER,
            )
            errors = sorted(validator.iter_errors(response.get_json()), key=lambda e: list(e.path))
            assert not errors, f"{method} {template} {status}: " + "; ".join(
                f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors)
        self.checked.append((method.upper(), template, response.status_code))

    @staticmethod
    def check_headers(where: str, declared: dict[str, Any], headers: Any) -> None:
        """Required headers are sent; every declared header that is sent fits its schema."""
        for name, header in declared.items():
            if name not in headers:
                assert not header.get("required"), f"{where}: header {name} is missing"
                continue
            value: Any = headers[name]
            if header["schema"].get("type") in ("integer", "number"):
                value = float(value) if header["schema"]["type"] == "number" else int(value)
            errors = list(Draft202012Validator(header["schema"]).iter_errors(value))
            assert not errors, f"{where}: header {name}: {errors[0].message}"

    def call(self, method: str, url: str, *, token: str | None = None, headers: dict[str, str] | None = None,
             **kwargs: Any) -> Any:
        headers = {"User-Agent": "ContestApp/2.3 (iPhone; iOS 17.4)", **(headers or {})}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        response = self.client.open(url, method=method, headers=headers, **kwargs)
        self.check(method, url, response)
        return response

    def get(self, url: str, **kwargs: Any) -> Any:
        return self.call("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> Any:
        return self.call("POST", url, **kwargs)

    def token_for(self, user: Any, password: str = PASSWORD) -> str:
        response = self.post(PREFIX + "/auth/token", json={"phone": user.phone, "password": password})
        assert response.status_code == 201, response.get_json()
        return response.get_json()["token"]


@pytest.fixture
def api(client: FlaskClient) -> ApiClient:
    return ApiClient(client)


def error_of(response: Any) -> tuple[int, str]:
    body = response.get_json()
    return response.status_code, body["error"]["code"]


def vote_count(**filters: Any) -> int:
    """Votes in the database, read on a connection of its own (what is really stored)."""
    query = select(func.count()).select_from(Vote)
    for name, value in filters.items():
        query = query.where(getattr(Vote, name) == value)
    with db.engine.connect() as conn:
        return conn.execute(query).scalar() or 0


@pytest.fixture
def ballot(make_contest: Callable[..., Any], make_entry: Callable[..., Any]) -> Any:
    """A contest in its voting stage with eight approved entries."""
    contest = make_contest(kind="media", stage="voting", rules={"captcha_mode": "never"})
    entries = [make_entry(contest, title=f"参赛作品{i}") for i in range(8)]
    return contest, entries


@pytest.fixture
def make_voter(api: ApiClient, make_user: Callable[..., Any], clock: Any) -> Callable[[], Any]:
    """Verified citizens of some standing (no new-account risk points), with an API token."""
    def make() -> Any:
        user = make_user()
        user.created_at = clock.now() - timedelta(days=90)
        db.session.commit()
        user.token = api.token_for(user)
        return user
    return make


@pytest.fixture
def voter(make_voter: Callable[[], Any]) -> Any:
    return make_voter()
