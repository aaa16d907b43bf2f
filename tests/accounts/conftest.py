"""Fixtures for the accounts tests.

Each test-client request runs in its own application context, as it does in
production: the root `app` fixture keeps one context open for the whole test, and
without this every request would share flask `g` (flask-login caches the signed-in
user there) and the test's own database session (so uncommitted work would look
stored).
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient


class IsolatedClient(FlaskClient):
    def open(self, *args: Any, **kwargs: Any):  # type: ignore[no-untyped-def, override]
        with self.application.app_context():
            return super().open(*args, **kwargs)


@pytest.fixture(autouse=True)
def isolated_requests(app: Flask) -> None:
    app.test_client_class = IsolatedClient


@pytest.fixture
def client(app: Flask, isolated_requests: None) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def other_client(app: Flask, isolated_requests: None) -> FlaskClient:
    """A second browser."""
    return app.test_client()
