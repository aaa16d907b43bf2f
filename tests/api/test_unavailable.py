"""With its database out of reach the API answers 503 `unavailable` with Retry-After, as
its document says, on every operation that needs the database; /ping still answers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from contest import create_app
from contest.clock import FixedClock
from contest.config import Settings
from contest.extensions import db
from tests.api.conftest import PREFIX, ApiClient, error_of
from tests.conftest import START, IsolatedClient

CALLS = {
    ("post", "/auth/token"): {"json": {"phone": "13700000001", "password": "Passw0rd2023"}},
    ("get", "/contests"): {},
    ("get", "/contests/{slug}/entries"): {},
    ("get", "/entries/{entry_id}"): {},
    ("post", "/captchas"): {},
    ("post", "/entries/{entry_id}/votes"): {"json": {}, "token": "t" * 43},
    ("get", "/contests/{slug}/leaderboard"): {},
    ("get", "/receipts/{code}"): {},
    ("get", "/ledger/blocks/{height}"): {},
    ("get", "/ledger/blocks/{height}/leaves"): {},
    ("get", "/ledger/head"): {},
    ("get", "/ledger/consistency?from=1&to=2"): {},
}


@pytest.fixture
def unreachable(tmp_path: Path) -> Iterator[ApiClient]:
    """An app whose SQLite file is in a folder that does not exist (no Redis either: the
    captchas need the database then)."""
    app: Flask = create_app(Settings(
        env="testing", instance_path=str(tmp_path / "instance"), secret_key="k" * 40,
        database_url=f"sqlite:///{tmp_path / 'gone' / 'contest.sqlite3'}", media_root=str(tmp_path / "media"),
        extra={"clock": FixedClock(START)}))
    app.test_client_class = IsolatedClient
    yield ApiClient(app.test_client())
    with app.app_context():
        db.engine.dispose()


def test_every_operation_on_the_database_answers_503_as_documented(unreachable):
    api = unreachable
    documented = {(method, path) for path, item in api.spec["paths"].items() for method, operation in item.items()
                  if "503" in operation["responses"]}
    assert documented == {(method, path.split("?")[0]) for method, path in CALLS}
    for (method, path), kwargs in CALLS.items():
        url = PREFIX + path.format(slug="meipai", entry_id=1, code="ABCDEFGHJKLM", height=1)
        response = api.call(method.upper(), url, **kwargs)  # checked against the document, headers too
        assert error_of(response) == (503, "unavailable"), (method, path)
        assert int(response.headers["Retry-After"]) > 0
    assert api.get(PREFIX + "/ping").status_code == 200
