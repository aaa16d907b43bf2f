"""The small typed helpers: contest.db.real_session and rowcount, contest.forms.required."""

from __future__ import annotations

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from contest.accounts.models import User
from contest.db import real_session, rowcount
from contest.extensions import db
from contest.forms import required


def test_real_session_is_the_session_behind_the_proxy(app):
    session = real_session(db.session)
    assert isinstance(session, Session)
    assert session is db.session()
    assert real_session(session) is session


def test_rowcount_counts_the_rows_an_update_matched(app, make_user):
    make_user(phone="13800138001")
    make_user(phone="13800138002")
    db.session.commit()
    assert rowcount(db.session.execute(update(User).values(display_name="x"))) == 2
    assert rowcount(db.session.execute(update(User).where(User.phone == "13800138001").values(display_name="y"))) == 1
    assert rowcount(db.session.execute(update(User).where(User.phone == "nobody").values(display_name="z"))) == 0


def test_required_gives_a_validated_fields_data():
    assert required("text") == "text"
    assert required(0) == 0  # falsy data is data
    assert required("") == ""
    with pytest.raises(ValueError):
        required(None)
