"""Serving stored media by key."""

from __future__ import annotations

from flask import Blueprint, Response, abort, send_file

from .. import web
from .consent_form import CONTENT_TYPES as PRIVATE_TYPES
from .storage import LocalStorage, valid_key

bp = Blueprint("media", __name__, url_prefix="/media")

CONTENT_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp", "mp4": "video/mp4",
                 "webm": "video/webm", "mov": "video/quicktime", "pdf": "application/pdf"}


@bp.get("/<key>")
def serve(key: str) -> Response:
    storage = web.storage()
    # A signed consent form is stored under a private extension: it is opened through
    # submit.signed_consent, by the organisers and its school only.
    if not valid_key(key) or key.rsplit(".", 1)[1] in PRIVATE_TYPES or not storage.exists(key):
        abort(404)
    mimetype = CONTENT_TYPES.get(key.rsplit(".", 1)[1], "application/octet-stream")
    source = storage.path(key) if isinstance(storage, LocalStorage) else storage.open(key)
    # Keys are content hashes: the bytes behind one never change, so caches may keep them.
    response = send_file(source, mimetype=mimetype, conditional=True, max_age=365 * 24 * 3600,
                         as_attachment=mimetype == "application/pdf", download_name=key)
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    return response
