"""A backup restores into a new database with the same sealed ledger: `flask votes verify`
passes there and names the same head (docs/DEPLOY.md, "Backups"). On PostgreSQL with
pg_dump / pg_restore into a database of its own on the test server; on the embedded
default with SQLite's online backup."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from contest import create_app
from contest.config import Settings
from contest.extensions import db
from contest.voting import ledger
from contest.voting import service as voting
from tests.conftest import TEST_DATABASE_URL


def _season(make_contest: Any, make_entry: Any, make_user: Any, clock: Any) -> tuple[int, str]:
    """Votes, a void, all sealed: the head's height and hash."""
    contest = make_contest(kind="media", stage="voting")
    entries = [make_entry(contest) for _ in range(3)]
    cast = [voting.record_vote(db.session, voter=make_user(), entry_id=e.id, now=clock.now()) for e in entries * 3]
    db.session.commit()
    voting.change_status(db.session, actor=make_user("organiser"), vote_ids=[cast[0].vote.id], to="voided",
                         reason="刷票", now=clock.now())
    db.session.commit()
    clock.advance(seconds=5)
    head = ledger.seal_pending(db.session, now=clock.now())
    db.session.commit()
    assert head is not None
    return head.id, head.hash


def _verify_in(database_url: str, tmp_path: Path) -> Result:
    restored = create_app(Settings(env="testing", instance_path=str(tmp_path / "restored"), secret_key="r" * 40,
                                   database_url=database_url, media_root=str(tmp_path / "restored-media")))
    try:
        return restored.test_cli_runner().invoke(args=["votes", "verify"])
    finally:
        with restored.app_context():
            db.engine.dispose()


def test_a_backup_restores_with_the_same_sealed_head(app, make_contest, make_entry, make_user, clock, tmp_path):
    height, head_hash = _season(make_contest, make_entry, make_user, clock)
    url = app.extensions["settings"].database_url
    if TEST_DATABASE_URL:
        target = make_url(url)
        plain = target.set(drivername="postgresql")
        dump = tmp_path / "contest.dump"
        subprocess.run(["pg_dump", "--format=custom", "--no-owner", "--file", str(dump),
                        plain.render_as_string(hide_password=False)], check=True, timeout=120)
        restored_name = f"{target.database}_restore_{os.getpid()}"
        admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{restored_name}"'))
            conn.execute(text(f'CREATE DATABASE "{restored_name}"'))
        try:
            subprocess.run(["pg_restore", "--no-owner", "--dbname",
                            plain.set(database=restored_name).render_as_string(hide_password=False), str(dump)],
                           check=True, timeout=120)
            result = _verify_in(target.set(database=restored_name).render_as_string(hide_password=False), tmp_path)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{restored_name}" WITH (FORCE)'))
            admin.dispose()
    else:
        source = Path(make_url(url).database or "")
        copy = tmp_path / "backup.sqlite3"
        with sqlite3.connect(source) as live, sqlite3.connect(copy) as backup:
            live.backup(backup)  # the online backup: consistent while the site runs
        result = _verify_in(f"sqlite:///{copy}", tmp_path)
    assert result.exit_code == 0, result.output
    # 9 votes and a void: 10 events, every one recomputed, and the same head as before
    assert f"OK: {height} blocks, 10 events; head #{height} {head_hash}" in result.output


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="the dump tools are PostgreSQL's")
def test_the_dump_tools_match_the_server() -> None:
    """pg_dump refuses a server newer than itself: the tools on the machine that backs up
    must be at least the server's major version."""
    client = subprocess.run(["pg_dump", "--version"], capture_output=True, text=True, check=True).stdout
    engine = create_engine(TEST_DATABASE_URL)
    with engine.connect() as conn:
        server = int(conn.execute(text("SHOW server_version_num")).scalar_one()) // 10000
    engine.dispose()
    assert int(client.split()[-1].split(".")[0]) >= server
