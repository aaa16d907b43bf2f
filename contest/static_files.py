"""Static files (CSS, scripts, icons) as a phone on mobile data should get them.

- Every `url_for('static', filename=…)` carries the file's content version (`?v=` the
  first 12 hex digits of its SHA-256), so a changed file has a new address. A request
  naming the current version is answered with `Cache-Control: public, max-age=31536000,
  immutable`: the phone never asks again. A request without a version, or with an old
  one, gets the file with the short max-age (SEND_FILE_MAX_AGE_DEFAULT).
- Text files (CSS, JS, SVG, JSON, plain text) are sent compressed when the client says
  it accepts it: brotli where the `brotli` module is installed, else gzip. The compressed
  bytes are made once per file version and kept in memory (the files are small), so the
  embedded server sends precompressed files as nginx's gzip_static would; behind nginx,
  DEPLOY.md has nginx serve the same.

ETags and 304 answers work as for any static file; `Vary: Accept-Encoding` tells caches
that the body depends on it.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
import os
import threading
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask, Response, abort, request
from werkzeug.security import safe_join

try:  # optional: brotli where installed (requirements.txt pins it), gzip otherwise
    import brotli  # type: ignore[import-untyped]
except ImportError:  # pragma: no cover - depends on the machine
    brotli = None

YEAR = int(timedelta(days=365).total_seconds())
COMPRESSIBLE = ("text/css", "text/javascript", "application/javascript", "image/svg+xml", "application/json",
                "text/plain")
MIN_COMPRESS = 512  # bytes: smaller files are not worth a Content-Encoding


@dataclass(frozen=True)
class StaticFile:
    path: str
    mtime: float
    size: int
    version: str
    mimetype: str
    data: bytes
    encoded: dict[str, bytes]  # content-coding → the compressed bytes


class StaticFiles:
    """The app's static folder, versioned and compressed (see the module's note)."""

    def __init__(self, folder: str, short_max_age: int) -> None:
        self.folder = folder
        self.short_max_age = short_max_age
        self._lock = threading.Lock()
        self._files: dict[str, StaticFile] = {}

    def get(self, filename: str) -> StaticFile | None:
        path = safe_join(self.folder, filename)
        if path is None or not os.path.isfile(path):
            return None
        stat = os.stat(path)
        known = self._files.get(path)
        if known is not None and known.mtime == stat.st_mtime and known.size == stat.st_size:
            return known
        data = Path(path).read_bytes()
        mimetype = mimetypes.guess_type(path)[0] or "application/octet-stream"
        encoded: dict[str, bytes] = {}
        if mimetype in COMPRESSIBLE and len(data) >= MIN_COMPRESS:
            encoded["gzip"] = gzip.compress(data, compresslevel=9, mtime=0)
            if brotli is not None:
                encoded["br"] = brotli.compress(data, quality=11)
        found = StaticFile(path, stat.st_mtime, stat.st_size, hashlib.sha256(data).hexdigest()[:12], mimetype, data,
                           encoded)
        with self._lock:
            self._files[path] = found
        return found

    def version(self, filename: str) -> str | None:
        found = self.get(filename)
        return found.version if found is not None else None

    def serve(self, filename: str) -> Response:
        found = self.get(filename)
        if found is None:
            abort(404)
        coding = _chosen_coding(found)
        body = found.encoded[coding] if coding else found.data
        text = found.mimetype.startswith("text/") or found.mimetype == "application/javascript"
        response = Response(body, content_type=f"{found.mimetype}; charset=utf-8" if text else found.mimetype)
        if coding:
            response.headers["Content-Encoding"] = coding
        if found.encoded:
            response.vary.add("Accept-Encoding")
        # one ETag per file version and coding: a gzip body is not the brotli body
        response.set_etag(f"{found.version}-{coding or 'identity'}")
        if request.args.get("v") == found.version:
            response.cache_control.public = True
            response.cache_control.max_age = YEAR
            response.cache_control.immutable = True
        else:
            response.cache_control.public = True
            response.cache_control.max_age = self.short_max_age
        response.make_conditional(request)
        return response


def _chosen_coding(found: StaticFile) -> str:
    if not found.encoded:
        return ""
    accepted = request.accept_encodings
    for coding in ("br", "gzip"):
        if coding in found.encoded and accepted[coding] > 0:
            return coding
    return ""


def install(app: Flask) -> StaticFiles:
    """Serve the app's static folder through StaticFiles and version its URLs."""
    files = StaticFiles(str(app.static_folder), int(app.config["SEND_FILE_MAX_AGE_DEFAULT"].total_seconds()))

    def static(filename: str) -> Response:
        return files.serve(filename)

    app.view_functions["static"] = static

    @app.url_defaults
    def _versioned(endpoint: str, values: dict[str, Any]) -> None:
        if endpoint == "static" and "v" not in values and "filename" in values:
            version = files.version(values["filename"])
            if version is not None:
                values["v"] = version

    app.extensions["static_files"] = files
    return files
