"""contest.db.after_commit: work that waits for the transaction's commit, and only for it."""

from __future__ import annotations

from sqlalchemy import text

from contest.db import after_commit
from contest.extensions import db


def test_work_runs_once_after_the_commit_in_order(app):
    done = []
    db.session.execute(text("SELECT 1"))
    after_commit(db.session, lambda: done.append("first"))
    after_commit(db.session, lambda: done.append("second"))
    assert done == []
    db.session.flush()
    assert done == []
    db.session.commit()
    assert done == ["first", "second"]
    db.session.execute(text("SELECT 1"))
    db.session.commit()  # a later commit runs nothing again
    assert done == ["first", "second"]


def test_work_of_a_rolled_back_transaction_is_dropped(app):
    done = []
    db.session.execute(text("SELECT 1"))
    after_commit(db.session, lambda: done.append("lost"))
    db.session.rollback()
    db.session.execute(text("SELECT 1"))
    db.session.commit()
    assert done == []


def test_work_inside_a_savepoint_follows_the_savepoint(app):
    done = []
    db.session.execute(text("SELECT 1"))
    with db.session.begin_nested():
        after_commit(db.session, lambda: done.append("kept"))
    assert done == []  # releasing the savepoint is not the commit
    savepoint = db.session.begin_nested()
    after_commit(db.session, lambda: done.append("dropped"))
    savepoint.rollback()
    db.session.commit()
    assert done == ["kept"]


def test_a_failing_piece_of_work_does_not_stop_the_rest(app, caplog):
    done = []
    db.session.execute(text("SELECT 1"))
    after_commit(db.session, lambda: 1 / 0)
    after_commit(db.session, lambda: done.append("still"))
    db.session.commit()
    assert done == ["still"]
    assert "work after a commit failed" in caplog.text
