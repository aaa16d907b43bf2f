from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from contest.accounts.models import User
from tests.conftest import sign_in_id


@pytest.fixture
def new_client(app: Flask, client: FlaskClient):  # type: ignore[no-untyped-def]
    """Another browser: a client with its own cookies (isolated like `client`)."""
    return app.test_client


def sign_in(client: FlaskClient, user: User) -> None:
    """Sign in through the session cookie, as the login form does, without the password
    hashing (tests/admin/test_access.py covers the real login form)."""
    with client.session_transaction() as session:
        session["_user_id"] = sign_in_id(user)
        session["_fresh"] = True


@pytest.fixture
def organiser(client, make_user):  # type: ignore[no-untyped-def]
    """A signed-in organiser (the client is theirs)."""
    user = make_user("citizen", "organiser", name="组织者小王")
    sign_in(client, user)
    return user


@pytest.fixture
def admin_user(client, make_user):  # type: ignore[no-untyped-def]
    """A signed-in admin (the client is theirs)."""
    user = make_user("admin", name="管理员")
    sign_in(client, user)
    return user
