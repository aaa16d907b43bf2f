"""The embedded set-up's private files (phone numbers, password hashes, the secret key)
are created readable by the app's user alone, whatever the process's umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from contest import create_app
from contest.config import Settings
from contest.extensions import db


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """The worst umask: without explicit modes, everything would be world-readable."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def test_a_fresh_app_creates_its_instance_folder_database_and_key_private(tmp_path, permissive_umask):
    instance = tmp_path / "deploy" / "instance"
    app = create_app(Settings(env="testing", instance_path=str(instance), media_root=str(tmp_path / "media")))
    database = instance / "contest.sqlite3"
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{database}"
    with app.app_context():
        db.session.execute(text("CREATE TABLE phone_book (phone TEXT)"))
        db.session.execute(text("INSERT INTO phone_book VALUES ('13700000001')"))
        db.session.commit()
        assert mode(instance) == 0o700
        assert mode(instance / "secret_key") == 0o600
        assert mode(database) == 0o600
        # written through the write-ahead log, whose files take the database's mode
        for name in ("contest.sqlite3-wal", "contest.sqlite3-shm"):
            assert mode(instance / name) == 0o600, name
        db.engine.dispose()


def test_an_existing_database_file_keeps_its_mode(tmp_path):
    # Only a file the app creates is given its mode: an operator's choice stays.
    path = tmp_path / "chosen.sqlite3"
    path.touch(mode=0o640)
    os.chmod(path, 0o640)
    app = create_app(Settings(env="testing", instance_path=str(tmp_path / "instance"), secret_key="k" * 40,
                              database_url=f"sqlite:///{path}", media_root=str(tmp_path / "media")))
    with app.app_context():
        db.session.execute(text("SELECT 1"))
        db.engine.dispose()
    assert mode(path) == 0o640
