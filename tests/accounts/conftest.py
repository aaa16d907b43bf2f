"""Fixtures for the accounts tests."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient


@pytest.fixture
def other_client(app: Flask, client: FlaskClient) -> FlaskClient:
    """A second browser (requests isolated like the first, see tests/conftest.py)."""
    return app.test_client()
