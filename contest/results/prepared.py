"""Files the job runner makes for organisers: the large exports (the audit log, up to
100,000 rows) and every certificate of a publication in one PDF.

An organiser asks (`request_file`, a row in prepared_file, queued with the job runner once
the request commits); the job (`make_file`) claims the row, builds the file, reporting
how far it has got, and stores it in the row; the exports and certificates pages show the
progress and, when it is ready, a download link. Files are kept for KEPT_FOR, then
removed by the hourly housekeeping (`remove_expired`). The request never waits for the
file, and a second identical request while one is being made is that one.

Making a file is safe to run twice: the claim is a conditional UPDATE that one runner
wins; a claim older than CLAIM_FOR (a runner that died) may be taken over; a file ready
or failed is left alone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from ..accounts.actors import Actor
from ..accounts.models import User
from ..contests import service as contests
from ..contests.models import Contest
from ..db import SessionLike, after_commit, rowcount
from ..errors import DomainError, Forbidden, InvalidInput, NotFound
from ..i18n import N_, _
from . import certificates, exports
from .models import PreparedFile

log = logging.getLogger(__name__)

KEPT_FOR = timedelta(hours=24)
CLAIM_FOR = timedelta(minutes=30)
PROGRESS_EVERY = 500  # rows (or certificates: 1) between two progress reports
SHOWN = 10  # the latest files an exports or certificates page lists
FAILED = N_("文件生成失败，请重新生成；如果再次失败，请联系平台运维人员。")
STATE_LABELS = {"queued": N_("排队中"), "running": N_("正在生成"), "ready": N_("可以下载"), "failed": N_("生成失败")}
KINDS: dict[str, tuple[str, ...]] = {"audit": ("xlsx", "csv"), "certificates": ("pdf",)}
NAMES = {"audit": N_("操作日志"), "certificates": N_("全部获奖证书")}

#: How a new file reaches the job runner (its id, after the commit).
Queue = Callable[[int], object]


def request_file(session: SessionLike, actor: Actor, contest: Contest, *, what: str, fmt: str, params: dict[str, str],
                 now: datetime, queue: Queue | None) -> PreparedFile:
    """Ask for a file (flushed; queued with the job runner once the caller commits). The
    same file already on its way is returned instead of a second one."""
    contests.require_in(session, actor, contest, "view")
    if not isinstance(actor, User):  # a file is made for the person who asked for it
        raise Forbidden(_("您没有权限进行此操作。"))
    user = actor
    if fmt not in KINDS.get(what, ()):
        raise InvalidInput(_("没有这种导出。"), code="unknown_export")
    params = {k: str(v)[:60] for k, v in sorted(params.items()) if v}
    if what == "certificates":
        publication = certificates.issuable_publication(session, contest)  # NotFound before 公示
        params = {"publication": str(publication.id)}
    for earlier in session.scalars(select(PreparedFile).where(
            PreparedFile.contest_id == contest.id, PreparedFile.what == what, PreparedFile.fmt == fmt,
            PreparedFile.state.in_(("queued", "running")))):
        if earlier.params == params:
            return earlier
    ascii_name, name = file_names(contest, what, fmt)
    prepared = PreparedFile(contest_id=contest.id, what=what, fmt=fmt, params=params, requested_by_id=user.id,
                            state="queued", file_name=name, created_at=now, expires_at=now + KEPT_FOR)
    session.add(prepared)
    session.flush()
    if queue is not None:
        prepared_id = prepared.id
        after_commit(session, lambda: queue(prepared_id))
    return prepared


def file_names(contest: Contest, what: str, fmt: str) -> tuple[str, str]:
    """(ASCII fallback, Chinese name) of the file."""
    title = contest.short_title or contest.title
    return f"{contest.slug}-{what}.{fmt}", f"{title}-{_(NAMES[what])}.{fmt}"


def recent(session: SessionLike, contest: Contest, what: str, now: datetime) -> list[PreparedFile]:
    """The contest's latest files of this kind that are still kept, newest first."""
    return list(session.scalars(
        select(PreparedFile).where(PreparedFile.contest_id == contest.id, PreparedFile.what == what,
                                   PreparedFile.expires_at > now)
        .order_by(PreparedFile.id.desc()).limit(SHOWN)))


def get_file(session: SessionLike, actor: Actor, contest: Contest, file_id: int, now: datetime) -> PreparedFile:
    """One of the contest's files, for an organiser; NotFound when it is not the
    contest's or no longer kept."""
    contests.require_in(session, actor, contest, "view")
    prepared = session.get(PreparedFile, file_id)
    if prepared is None or prepared.contest_id != contest.id or prepared.expires_at <= now:
        raise NotFound(_("没有这个文件，或者它已过期（生成的文件保留 24 小时）。"), code="file_not_found")
    return prepared


def describe(prepared: PreparedFile) -> dict[str, Any]:
    """What the page (and its progress check) shows of a file."""
    percent = 100 if prepared.state == "ready" else (
        min(99, prepared.done * 100 // prepared.total) if prepared.total else 0)
    return {"id": prepared.id, "state": prepared.state, "label": _(STATE_LABELS[prepared.state]), "done": prepared.done,
            "total": prepared.total, "percent": percent, "name": prepared.file_name, "size": prepared.size,
            "error": prepared.error}


# --- the job ------------------------------------------------------------------------------


def _claim(session: Session, file_id: int, now: datetime) -> bool:
    claimed = rowcount(session.execute(
        update(PreparedFile)
        .where(PreparedFile.id == file_id,
               or_(PreparedFile.state == "queued",
                   (PreparedFile.state == "running") & (PreparedFile.claimed_at < now - CLAIM_FOR)))
        .values(state="running", claimed_at=now, done=0)
        .execution_options(synchronize_session=False)))
    session.commit()
    return claimed == 1


def make_file(session: Session, file_id: int, *, now: datetime, font_path: str) -> str:
    """Make one file (committing its claim, its progress and its outcome); the state it
    is left in, or "busy" when another runner holds it."""
    if not _claim(session, file_id, now):
        prepared = session.get(PreparedFile, file_id)
        return "gone" if prepared is None else (prepared.state if prepared.state != "running" else "busy")
    prepared = session.get(PreparedFile, file_id, populate_existing=True)
    assert prepared is not None
    contest = session.get(Contest, prepared.contest_id)
    assert contest is not None

    def progress(done: int, total: int) -> None:
        prepared.done, prepared.total = done, total
        session.commit()

    try:
        if prepared.what == "certificates":
            content = _certificates_pdf(session, contest, int(prepared.params["publication"]), font_path, progress)
        else:
            content = _export(session, contest, prepared, progress)
    except DomainError as exc:  # the data changed since the request (a round reopened, results withdrawn)
        session.rollback()
        return _finish(session, file_id, now, error=exc.message)
    except Exception:
        log.exception("making prepared file %s (%s.%s) failed", file_id, prepared.what, prepared.fmt)
        session.rollback()
        return _finish(session, file_id, now, error=_(FAILED))
    return _finish(session, file_id, now, content=content)


def _finish(session: Session, file_id: int, now: datetime, *, content: bytes | None = None, error: str = "") -> str:
    prepared = session.get(PreparedFile, file_id, populate_existing=True)
    assert prepared is not None
    prepared.state = "ready" if content is not None else "failed"
    prepared.content, prepared.size = content, len(content or b"")
    prepared.error, prepared.finished_at, prepared.claimed_at = error[:200], now, None
    if content is not None:
        prepared.done = prepared.total
    session.commit()
    return prepared.state


def _export(session: Session, contest: Contest, prepared: PreparedFile, progress: Callable[[int, int], None]) -> bytes:
    params = prepared.params or {}
    table = exports.build_table(session, contest, prepared.what, action=params.get("action", ""),
                                target_type=params.get("target", ""))
    total = len(table.rows)
    progress(0, total)
    if prepared.fmt == "xlsx":
        return exports.xlsx_bytes(table)
    chunks, done = [], 0
    for chunk in exports.csv_chunks(table, rows_per_chunk=PROGRESS_EVERY):
        chunks.append(chunk)
        done = min(total, done + PROGRESS_EVERY)
        progress(done, total)
    return b"".join(chunks)


def _certificates_pdf(session: Session, contest: Contest, publication_id: int, font_path: str,
                      progress: Callable[[int, int], None]) -> bytes:
    publication = certificates.issuable_publication(session, contest)
    if publication.id != publication_id:
        raise InvalidInput(_("结果已有新的版本，请重新生成证书。"), code="publication_changed")
    winners = certificates.winners(publication)
    if not winners:
        raise NotFound(_("这一版结果没有获奖作品。"), code="no_winners")
    found: list[certificates.Certificate] = []
    for row in winners:
        found.extend(certificates.certificates_for(session, contest, publication, int(row["entry_id"])))
    progress(0, len(found))
    return certificates.pdf_bytes(found, font_path, on_page=lambda n: progress(n, len(found)))


def remove_expired(session: SessionLike, now: datetime) -> int:
    """Delete the files past their day (flushed); how many."""
    return rowcount(session.execute(delete(PreparedFile).where(PreparedFile.expires_at <= now)
                                    .execution_options(synchronize_session=False)))
