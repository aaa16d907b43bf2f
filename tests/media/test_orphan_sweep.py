"""Uploads leave nothing behind and never delete what another request uses: a failed
request keeps its stored files, and the orphan sweep deletes files no row refers to once
they have been left alone for the grace period (and leftovers of interrupted writes).

Stored files carry real modification times while the app's clock is fixed in 2023, so
these tests age files with os.utime and sweep at the real time."""

from __future__ import annotations

import errno
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask

from contest.clock import LOCAL_TZ
from contest.contests.models import Entry
from contest.errors import InvalidInput
from contest.extensions import db
from contest.media import orphans
from contest.media import storage as storage_module
from contest.media.models import MediaItem
from contest.media.storage import LocalStorage
from contest.results.models import ObjectionEvidence
from tests.media.conftest import (
    FullAfter,
    count,
    intact,
    jpeg,
    leftovers,
    media_root,
    page,
    photo_entry,
    send,
    sign_in,
    stored_files,
    submit_url,
    swept,
    upload,
)

FULL = "服务器存储空间不足，您提交的内容没有保存，请稍后再试。"


def storage(app: Flask) -> LocalStorage:
    return app.extensions["storage"]


def age(path: Path, hours: float) -> None:
    """Make a file look untouched for `hours`."""
    then = (datetime.now(UTC) - timedelta(hours=hours)).timestamp()
    os.utime(path, (then, then))


def age_all(app: Flask, hours: float = 48) -> None:
    for path in stored_files(app):
        age(path, hours)


def sweep(app: Flask, *, dry_run: bool = False) -> orphans.SweepReport:
    db.session.rollback()
    return orphans.sweep_orphans(db.session, storage(app), now=datetime.now(UTC), grace=timedelta(hours=24),
                                 dry_run=dry_run)


def referenced_keys() -> set[str]:
    db.session.rollback()
    keys: set[str] = set()
    for item in db.session.query(MediaItem).all():
        keys.update(item.stored_keys())
    return keys


def test_the_sweep_deletes_old_orphans_and_keeps_referenced_and_young_files(app, client, citizen, media_contest):
    assert send(client, submit_url(media_contest), photo_entry(media_contest)).status_code == 302
    old_orphan = storage(app).put(b"an old orphan", "jpg")
    leftover = storage(app).path(old_orphan).parent / ".tmp-interrupted"
    leftover.write_bytes(b"half a file")
    age_all(app)
    young_orphan = storage(app).put(b"a young orphan", "jpg")
    young_leftover = storage(app).path(young_orphan).parent / ".tmp-writing-now"
    young_leftover.write_bytes(b"being written")
    used = referenced_keys()
    assert len(used) == 6  # the clean original, display, thumbnail and three width renditions

    report = sweep(app)

    assert report.deleted == [old_orphan]
    assert report.deleted_temporary == [f"{old_orphan[:2]}/.tmp-interrupted"]
    assert (report.kept_referenced, report.kept_young) == (6, 2)
    assert {p.name for p in stored_files(app)} == used | {young_orphan, ".tmp-writing-now"}
    assert "deleted 1 unreferenced and 1 temporary" in report.summary()


def test_a_dry_run_deletes_nothing(app):
    key = storage(app).put(b"an old orphan", "pdf")
    age(storage(app).path(key), 48)
    report = sweep(app, dry_run=True)
    assert report.deleted == [key]
    assert storage(app).exists(key)
    assert "would delete 1 unreferenced" in report.summary()


def test_every_column_that_holds_a_storage_key_protects_its_file(app, make_contest, make_entry):
    """A cover key on an entry (no media row) and objection evidence count as references
    as much as media rows do; the models declare them."""
    assert {f"{c.table.name}.{c.name}" for c in orphans.storage_key_columns()} == {
        "entry.cover_key", "media_item.original_key", "media_item.display_key", "media_item.thumb_key",
        "media_item.poster_key", "media_item.playback_key", "media_item.w400_key", "media_item.w800_key",
        "media_item.w1600_key", "result_objection_evidence.storage_key"}
    cover = storage(app).put(b"a cover thumbnail", "jpg")
    entry = make_entry(make_contest())
    entry.cover_key = cover
    db.session.commit()
    age(storage(app).path(cover), 48)
    assert sweep(app).deleted == []
    assert storage(app).exists(cover)


def test_no_key_column_is_left_unmarked():
    """A new column holding storage keys must be marked, or the sweep deletes its files."""
    from contest.db import Base

    unmarked = [f"{t.name}.{c.name}" for t in Base.metadata.sorted_tables for c in t.columns
                # idempotency_key: a client's request key; voter_key: a contest's ledger secret
                if (c.name.endswith("_key") and c.name not in ("idempotency_key", "voter_key") and not c.primary_key)
                and not c.info.get("storage_key")]
    assert unmarked == []
    assert ObjectionEvidence.__table__.c.storage_key.info.get("storage_key")


def test_a_failed_submission_leaves_its_files_to_the_sweep(app, client, citizen, media_contest):
    root = media_root(app)
    app.extensions["storage"] = FullAfter(root, writes=2)  # the original and the display copy fit; the thumbnail does not
    response = send(client, submit_url(media_contest), photo_entry(media_contest))
    assert response.status_code == 503
    assert FULL in page(response)
    assert int(response.headers["Retry-After"]) >= 590  # ten minutes (the limiter's header rounds down)
    assert count(Entry) == 0 and count(MediaItem) == 0
    kept = stored_files(app)
    assert len(kept) == 2  # not deleted at once: another request may be about to use them
    assert leftovers(app) == [] and intact(app)

    assert swept(app).deleted and stored_files(app) == []


def test_a_file_another_request_committed_survives_the_failure_and_the_sweep(app, client, citizen, media_contest, make_user):
    """Request A stores a photo and fails; request B sends the same photo and commits:
    B's row points at the file A stored, which must still be there, and stay."""
    photo = jpeg(mark=3)
    app.extensions["storage"] = FullAfter(media_root(app), writes=1)
    failed = send(client, submit_url(media_contest), photo_entry(media_contest, photos=[upload(photo, "a.jpg", "image/jpeg")]))
    assert failed.status_code == 503
    (shared,) = stored_files(app)
    age(shared, 48)

    app.extensions["storage"] = LocalStorage(media_root(app))
    other = app.test_client()
    sign_in(other, make_user())
    committed = send(other, submit_url(media_contest), photo_entry(media_contest, photos=[upload(photo, "b.jpg", "image/jpeg")]))
    assert committed.status_code == 302
    assert shared.name in referenced_keys()
    assert shared.stat().st_mtime > datetime.now(UTC).timestamp() - 3600  # B's store refreshed it

    age_all(app)
    report = sweep(app)
    assert report.deleted == [] and report.kept_referenced == 6
    assert all(storage(app).exists(k) for k in referenced_keys())
    assert intact(app)


def test_a_file_reused_by_a_request_in_flight_is_young_again(app):
    """Storing bytes already stored (a request that has not committed yet) restarts the
    grace period, so the sweep leaves the file alone."""
    key = storage(app).put(b"shared bytes", "jpg")
    age(storage(app).path(key), 48)
    assert storage(app).put(b"shared bytes", "jpg") == key
    assert sweep(app).deleted == []
    assert storage(app).exists(key)


def test_a_file_touched_after_it_was_listed_is_put_back(app):
    """The sweep lists, reads the references, then deletes: a request that reuses the file in
    between (touching it) keeps it."""
    key = storage(app).put(b"listed, then reused", "jpg")
    age(storage(app).path(key), 48)
    (item,) = [i for i in storage(app).listing() if i.name == key]
    storage(app).put(b"listed, then reused", "jpg")  # another request reuses the file
    cutoff = datetime.now(UTC) - timedelta(hours=24)
    assert storage(app).remove_if_unused_since(item, cutoff) is False
    assert storage(app).exists(key)
    assert [p.name for p in leftovers(app)] == []


def test_the_grace_period_is_at_least_an_hour(app):
    with pytest.raises(InvalidInput) as refused:
        orphans.sweep_orphans(db.session, storage(app), now=datetime.now(UTC), grace=timedelta(minutes=10))
    assert refused.value.message == "宽限期至少 1 小时：更短的宽限期可能删除正在上传中的文件。"


def test_the_sweep_command(app, runner, clock):
    orphan = storage(app).put(b"an orphan", "jpg")
    keep = storage(app).put(b"a young file", "jpg")
    clock.set(datetime.now(LOCAL_TZ) + timedelta(hours=30))  # 30 hours after both were stored ...
    keep_time = datetime.now(UTC).timestamp() + 30 * 3600
    os.utime(storage(app).path(keep), (keep_time, keep_time))  # ... but this one was used just now

    dry = runner.invoke(args=["media", "sweep", "--grace-hours", "24", "--dry-run", "--verbose"])
    assert dry.exit_code == 0, dry.output
    assert orphan in dry.output and "would delete 1 unreferenced" in dry.output
    assert storage(app).exists(orphan)

    done = runner.invoke(args=["media", "sweep", "--grace-hours", "24"])
    assert done.exit_code == 0, done.output
    assert "deleted 1 unreferenced and 0 temporary" in done.output
    assert not storage(app).exists(orphan) and storage(app).exists(keep)

    refused = runner.invoke(args=["media", "sweep", "--grace-hours", "0"])
    assert refused.exit_code == 2 and "--grace-hours" in refused.output


def test_the_sweep_works_through_many_files_in_batches(app, client, citizen, media_contest, monkeypatch):
    monkeypatch.setattr(orphans, "BATCH", 2)
    assert send(client, submit_url(media_contest), photo_entry(media_contest)).status_code == 302
    orphaned = {storage(app).put(f"orphan {i}".encode(), "jpg") for i in range(5)}
    age_all(app)
    report = sweep(app)
    assert set(report.deleted) == orphaned
    assert (report.examined, report.kept_referenced) == (11, 6)
    assert {p.name for p in stored_files(app)} == referenced_keys()


def refuse_touch(monkeypatch: pytest.MonkeyPatch, error: OSError) -> None:
    """Files this process may read but not touch (restored from a backup under another
    owner): refreshing a modification time fails; setting an explicit one (the tests'
    `age`) still works."""
    real_utime = os.utime

    def utime(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        if args or kwargs:
            return real_utime(path, *args, **kwargs)
        raise error
    monkeypatch.setattr(storage_module.os, "utime", utime)


@pytest.mark.parametrize("error", [PermissionError(errno.EPERM, "Operation not permitted"),
                                   OSError(errno.EIO, "Input/output error")])
def test_a_file_that_cannot_be_touched_is_written_anew(app, monkeypatch, error):
    """Reusing bytes whose file's time cannot be refreshed writes the file again (a new file
    renamed over it), so it is young again all the same."""
    key = storage(app).put(b"restored from a backup", "jpg")
    path = storage(app).path(key)
    age(path, 48)
    refuse_touch(monkeypatch, error)
    assert storage(app).put(b"restored from a backup", "jpg") == key
    assert path.stat().st_mtime > datetime.now(UTC).timestamp() - 3600
    assert path.read_bytes() == b"restored from a backup"
    assert leftovers(app) == []
    assert sweep(app).deleted == [] and storage(app).exists(key)


def test_a_file_reused_without_touch_between_the_sweeps_steps_survives(app, client, citizen, media_contest, monkeypatch):
    """The sweep lists an old, unreferenced photo and reads the references; a request then
    sends the same photo (its file cannot be touched) and commits; the sweep must keep
    the file the committed row names."""
    photo = jpeg(mark=5)
    first = send(client, submit_url(media_contest), photo_entry(media_contest, photos=[upload(photo, "a.jpg", "image/jpeg")]))
    assert first.status_code == 302
    db.session.rollback()
    db.session.execute(MediaItem.__table__.delete())
    db.session.execute(Entry.__table__.update().values(cover_key=""))
    db.session.commit()
    age_all(app)  # the photo's files: old, and no row refers to them
    refuse_touch(monkeypatch, PermissionError(errno.EPERM, "Operation not permitted"))
    real_references = orphans.referenced_keys

    def references_then_a_request(session, keys):  # type: ignore[no-untyped-def]
        used = real_references(session, keys)
        again = send(client, submit_url(media_contest),
                     photo_entry(media_contest, title="再投一次", photos=[upload(photo, "a.jpg", "image/jpeg")]))
        assert again.status_code == 302
        return used
    monkeypatch.setattr(orphans, "referenced_keys", references_then_a_request)

    report = sweep(app)

    keys = referenced_keys()
    assert len(keys) == 6 and not keys & set(report.deleted)
    assert all(storage(app).exists(k) for k in keys) and intact(app)
    (item,) = db.session.query(MediaItem).all()
    assert client.get(f"/media/{item.original_key}").status_code == 200
