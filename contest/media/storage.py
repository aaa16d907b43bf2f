"""Content-addressed file storage behind a small interface.

Keys are "<sha256 of the bytes>.<extension>", so the same bytes are stored once and a
key can never point at different content. An object store can replace LocalStorage by
implementing the same methods.

Files are never deleted by the request that stored them: two requests storing the same
bytes share one file, and a request that fails cannot know whether another one is about
to commit a row pointing at it. Files no row refers to are removed later by the orphan
sweep (media.orphans), once they have been left alone for a grace period. Storing bytes
that are already there refreshes the file's modification time (or, where that is not
permitted, writes the file anew), so the grace period always counts from the last
request that used the file.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, Protocol

from ..errors import Unavailable
from ..i18n import _

KEY_RE = re.compile(r"^[0-9a-f]{64}\.[a-z0-9]{2,5}$")
# Names of files a write or a sweep left half done (a crash between two steps).
TEMPORARY_PREFIXES = (".tmp-", ".sweep-")
# errno values that mean "no room": a full disk, or the storage account's quota.
NO_SPACE = {errno.ENOSPC, errno.EDQUOT}


class StorageFull(Unavailable):
    """The storage has no room for a file: nothing of the file was kept."""

    code = "storage_full"
    retry_after = 600  # freeing space takes an operator, not a moment


def storage_full() -> StorageFull:
    return StorageFull(_("服务器存储空间不足，您提交的内容没有保存，请稍后再试。"))


def is_no_space(exc: BaseException) -> bool:
    """Whether an error means the file system (or quota) is full."""
    return isinstance(exc, OSError) and exc.errno in NO_SPACE


@dataclass(frozen=True)
class StoredObject:
    """A file in storage as the sweep sees it: a key, or a temporary leftover's name."""

    name: str
    modified_at: datetime  # UTC
    size: int
    temporary: bool


class Storage(Protocol):
    def put(self, data: bytes, extension: str) -> str: ...
    def put_file(self, source: str | os.PathLike[str], extension: str) -> str: ...
    def open(self, key: str) -> BinaryIO: ...
    def exists(self, key: str) -> bool: ...
    def delete(self, key: str) -> None: ...
    def listing(self) -> Iterator[StoredObject]: ...
    def remove_if_unused_since(self, item: StoredObject, cutoff: datetime) -> bool: ...


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
        if _reuse(target):
            return key
        self._write(target, lambda out: out.write(data))
        return key

    def put_file(self, source: str | os.PathLike[str], extension: str) -> str:
        """Store a file (a large video) by copying it in chunks, never whole in memory."""
        digest = hashlib.sha256()
        with open(source, "rb") as fh:
            for chunk in iter(lambda: fh.read(1024 * 1024), b""):
                digest.update(chunk)
        key = f"{digest.hexdigest()}.{extension.lower().lstrip('.')}"
        target = self.path(key)
        if _reuse(target):
            return key

        def copy(out: BinaryIO) -> None:
            with open(source, "rb") as fh:
                shutil.copyfileobj(fh, out, 1024 * 1024)

        self._write(target, copy)
        return key

    def _write(self, target: Path, fill: Callable[[BinaryIO], object]) -> None:
        # Write then rename: a reader never sees half a file under a valid key, and a
        # write that fails (a full disk) leaves no part of the file behind.
        tmp = ""
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
            with os.fdopen(fd, "wb") as out:
                fill(out)
            os.replace(tmp, target)
        except BaseException as exc:
            if tmp:
                Path(tmp).unlink(missing_ok=True)
            if is_no_space(exc):
                raise storage_full() from exc
            raise

    def open(self, key: str) -> BinaryIO:
        return self.path(key).open("rb")

    def exists(self, key: str) -> bool:
        try:
            return self.path(key).is_file()
        except KeyError:
            return False

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def listing(self) -> Iterator[StoredObject]:
        """Every stored file and every temporary leftover, in no particular order."""
        if not self.root.is_dir():
            return
        for folder in self.root.iterdir():
            if not folder.is_dir() or len(folder.name) != 2:
                continue
            for path in folder.iterdir():
                temporary = path.name.startswith(TEMPORARY_PREFIXES)
                if not temporary and not (valid_key(path.name) and path.name[:2] == folder.name):
                    continue  # not ours: leave it alone
                try:
                    info = path.stat()
                except FileNotFoundError:
                    continue  # renamed or removed a moment ago
                yield StoredObject(f"{folder.name}/{path.name}" if temporary else path.name,
                                   datetime.fromtimestamp(info.st_mtime, UTC), info.st_size, temporary)

    def remove_if_unused_since(self, item: StoredObject, cutoff: datetime) -> bool:
        """Delete a listed file unless something stored or touched it after `cutoff`.

        A stored file is first renamed out of its key, so a request storing the same
        bytes from then on writes a fresh copy; if a request touched the file just before
        the rename (its modification time moved past `cutoff`), it is put back.
        """
        if item.temporary:
            path = self.root / item.name
            try:
                if path.stat().st_mtime >= cutoff.timestamp():
                    return False
                path.unlink()
            except FileNotFoundError:
                return False
            return True
        path = self.path(item.name)
        aside = path.with_name(f".sweep-{secrets.token_hex(6)}-{path.name}")
        try:
            os.rename(path, aside)
        except FileNotFoundError:
            return False
        try:
            if aside.stat().st_mtime >= cutoff.timestamp():
                os.replace(aside, path)  # the same bytes as any copy written meanwhile
                return False
            aside.unlink()
        except FileNotFoundError:
            return False  # another sweep running at the same time took it
        return True


def _reuse(target: Path) -> bool:
    """True if the file is already stored and its modification time has been refreshed,
    so the orphan sweep's grace period starts again for the request now using it.

    False when it is missing, and also when its time cannot be refreshed (a file this
    process may read but not touch, e.g. restored from a backup under another owner): the
    caller then writes the bytes anew (a temporary file renamed over it, which needs only
    the folder's permission). Reusing such a file as it is would leave it looking
    abandoned, and a sweep that read the references just before this request committed
    its row would delete a file the row uses."""
    try:
        os.utime(target)
    except OSError:
        return False
    return True
