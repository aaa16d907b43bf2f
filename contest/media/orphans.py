"""The orphan sweep: stored files that no row refers to are deleted once nothing has
stored or touched them for a grace period; so are leftovers of interrupted writes.

Requests never delete files (see media.storage): a file stored by a request that then
failed stays until the sweep finds it unreferenced and older than the grace period.
Storing existing bytes refreshes the file's modification time (or writes the file anew
where the time may not be changed), so a file that a request in flight is about to
commit a row for is always younger than the grace period; the grace period must
therefore be longer than any upload takes (an hour at the least).

Which columns hold storage keys is declared by the models themselves
(`info={"storage_key": True}` on the column), so a new kind of stored file is protected
the moment its column is marked. The models must be loaded (the app factory does it).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Column, select

from ..db import Base, SessionLike
from ..errors import InvalidInput
from ..i18n import _
from .storage import Storage, StoredObject

log = logging.getLogger(__name__)

MIN_GRACE = timedelta(hours=1)
DEFAULT_GRACE = timedelta(hours=24)
BATCH = 500  # files examined together, and keys per IN (...) query


@dataclass
class SweepReport:
    """What one sweep found and did."""

    dry_run: bool
    examined: int = 0
    kept_young: int = 0
    kept_referenced: int = 0
    deleted: list[str] = field(default_factory=list)
    deleted_temporary: list[str] = field(default_factory=list)
    freed_bytes: int = 0

    def summary(self) -> str:
        verb = "would delete" if self.dry_run else "deleted"
        return (f"examined {self.examined} files: {verb} {len(self.deleted)} unreferenced and "
                f"{len(self.deleted_temporary)} temporary ({self.freed_bytes / 1024 / 1024:.1f} MB); "
                f"kept {self.kept_referenced} referenced and {self.kept_young} within the grace period")


def storage_key_columns() -> list[Column[str]]:
    """Every column that holds a storage key, as the models mark them."""
    return [column for table in Base.metadata.sorted_tables for column in table.columns
            if column.info.get("storage_key")]


def referenced_keys(session: SessionLike, keys: Iterable[str]) -> set[str]:
    """Which of these keys a row refers to."""
    wanted = sorted(set(keys))
    used: set[str] = set()
    if not wanted:
        return used
    for column in storage_key_columns():
        for start in range(0, len(wanted), BATCH):
            used.update(session.scalars(select(column).where(column.in_(wanted[start:start + BATCH]))))
    return used


def sweep_orphans(session: SessionLike, storage: Storage, *, now: datetime, grace: timedelta = DEFAULT_GRACE,
                  dry_run: bool = False) -> SweepReport:
    """Delete stored files no row refers to, and temporary leftovers, untouched for `grace`."""
    if grace < MIN_GRACE:
        raise InvalidInput(_("宽限期至少 1 小时：更短的宽限期可能删除正在上传中的文件。"), code="grace_too_short")
    cutoff = now - grace
    report = SweepReport(dry_run=dry_run)
    batch: list[StoredObject] = []
    for item in storage.listing():
        report.examined += 1
        if item.modified_at >= cutoff:
            report.kept_young += 1
            continue
        batch.append(item)
        if len(batch) == BATCH:
            _sweep_batch(session, storage, batch, cutoff, report)
            batch = []
    _sweep_batch(session, storage, batch, cutoff, report)
    if not dry_run and (report.deleted or report.deleted_temporary):
        log.info("orphan sweep: %s", report.summary())
    return report


def _sweep_batch(session: SessionLike, storage: Storage, old: list[StoredObject], cutoff: datetime,
                 report: SweepReport) -> None:
    # The files were listed as old before the references are read: a row committed in
    # between belongs to a request that touched its file, which the deletion re-checks.
    used = referenced_keys(session, [i.name for i in old if not i.temporary])
    session.rollback()  # read only: end the transaction rather than hold it over the deletions
    for item in old:
        if not item.temporary and item.name in used:
            report.kept_referenced += 1
            continue
        if not report.dry_run and not storage.remove_if_unused_since(item, cutoff):
            report.kept_young += 1  # touched since it was listed
            continue
        (report.deleted_temporary if item.temporary else report.deleted).append(item.name)
        report.freed_bytes += item.size
