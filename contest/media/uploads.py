"""One shape for every route that takes files (entries, objection evidence): the
request's uploads copied to a private temporary folder, and one transaction committed
at the end or rolled back on any failure.

Stored files are never deleted on failure: storage is content-addressed, so a file this
request stored may be the very file another request is about to commit a row for. What
no row refers to is removed by the orphan sweep (`flask media sweep`) after a grace
period. A full disk, while spooling or storing, is answered with StorageFull (503).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import PurePosixPath

from flask import current_app, has_request_context, request
from werkzeug.datastructures import FileStorage

from .. import metrics, web
from ..errors import DomainError
from ..extensions import db
from .storage import is_no_space, storage_full
from .submissions import IncomingFile

CHUNK = 1024 * 1024


class Uploads:
    """This request's files, copied to a private temporary folder that goes with the request."""

    def __init__(self, workdir: str) -> None:
        self.workdir = workdir
        self._count = 0

    def one(self, upload: FileStorage | None) -> IncomingFile | None:
        return self._spool(upload) if upload else None

    def many(self, uploads: list[FileStorage] | None) -> list[IncomingFile]:
        return [self._spool(upload) for upload in uploads or [] if upload]

    def _spool(self, upload: FileStorage) -> IncomingFile:
        self._count += 1
        path = f"{self.workdir}/upload-{self._count}"
        size = 0
        with open(path, "wb") as out:
            # In chunks: a video may be hundreds of megabytes.
            while chunk := upload.stream.read(CHUNK):
                out.write(chunk)
                size += len(chunk)
        # Only the last part of the client's name (old browsers send a whole path).
        name = PurePosixPath((upload.filename or "").replace("\\", "/")).name
        return IncomingFile(name=name, path=path, size=size)


@contextmanager
def upload_transaction() -> Iterator[Uploads]:
    """The request's rows committed together at the end, or none of them (rolled back).

    Files already stored stay for the orphan sweep; the temporary copies go in every case.
    The operators' upload counter learns each outcome here: accepted, or refused with its code.
    """
    workdir = ""
    endpoint = (request.endpoint or "") if has_request_context() else ""  # a CLI or a test has no request
    try:
        workdir = tempfile.mkdtemp(prefix="contest-upload-")
        yield Uploads(workdir)
        db.session.commit()
    except BaseException as exc:
        db.session.rollback()
        if is_no_space(exc):  # the temporary folder, or a video's transcoding scratch
            full = storage_full()
            metrics.upload_refused(endpoint, full.code)
            raise full from exc
        if isinstance(exc, DomainError):
            metrics.upload_refused(endpoint, exc.code)
        raise
    else:
        metrics.upload_accepted(endpoint)
    finally:
        if workdir:
            shutil.rmtree(workdir, ignore_errors=True)


def uploader_key() -> str:
    """Rate-limit key of the signed-in account (anonymous requests: their address)."""
    user = web.actor()
    return f"uploader:{user.id}" if user is not None else f"uploader-anonymous:{web.client_ip()}"


def refusal_headers(exc: DomainError) -> dict[str, str]:
    """Headers a page answering a refusal carries (Retry-After when the refusal names a wait)."""
    return {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else {}


def queue_playback(media_item_id: int) -> None:
    """Ask the job runner for a video's playback rendition (run after the upload's commit)."""
    current_app.extensions["job_tasks"].transcode_video(media_item_id)
