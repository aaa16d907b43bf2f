"""Content-addressed file storage behind a small interface.

Keys are "<sha256 of the bytes>.<extension>", so the same bytes are stored once and a
key can never point at different content. An object store can replace LocalStorage by
implementing the same four methods.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO, Protocol

KEY_RE = re.compile(r"^[0-9a-f]{64}\.[a-z0-9]{2,5}$")


class Storage(Protocol):
    def put(self, data: bytes, extension: str) -> str: ...
    def put_file(self, source: str | os.PathLike[str], extension: str) -> str: ...
    def open(self, key: str) -> BinaryIO: ...
    def exists(self, key: str) -> bool: ...
    def delete(self, key: str) -> None: ...


def make_key(data: bytes, extension: str) -> str:
    return f"{hashlib.sha256(data).hexdigest()}.{extension.lower().lstrip('.')}"


def valid_key(key: str) -> bool:
    return bool(KEY_RE.fullmatch(key))


class LocalStorage:
    """Files under a root folder, fanned out by the first two hex digits."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path:
        if not valid_key(key):
            raise KeyError(key)
        return self.root / key[:2] / key

    def put(self, data: bytes, extension: str) -> str:
        key = make_key(data, extension)
        target = self.path(key)
        if target.exists():
            return key
        target.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename: a reader never sees half a file under a valid key.
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return key

    def put_file(self, source: str | os.PathLike[str], extension: str) -> str:
        """Store a file (a large video) by copying it in chunks, never whole in memory."""
        digest = hashlib.sha256()
        with open(source, "rb") as fh:
            for chunk in iter(lambda: fh.read(1024 * 1024), b""):
                digest.update(chunk)
        key = f"{digest.hexdigest()}.{extension.lower().lstrip('.')}"
        target = self.path(key)
        if target.exists():
            return key
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out, open(source, "rb") as fh:
                shutil.copyfileobj(fh, out, 1024 * 1024)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return key

    def open(self, key: str) -> BinaryIO:
        return self.path(key).open("rb")

    def exists(self, key: str) -> bool:
        try:
            return self.path(key).is_file()
        except KeyError:
            return False

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)
