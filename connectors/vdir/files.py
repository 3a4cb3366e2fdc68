"""The files of one vdir calendar: one item per `<name>.ics`, written atomically.

The layout is vdirsyncer's (and khal's): a calendar is a directory, each item
a file named after its UID, plus optional `color` and `displayname` files.
Every write goes to a hidden temp file first and is then linked or renamed
into place, so a reader (khal, vdirsyncer, our own scan) never sees half a file.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import secrets
from dataclasses import dataclass

ICS = ".ics"


def fingerprint(data: bytes) -> str:
    """The item's etag: a hash of its bytes (mtimes lie on some filesystems)."""
    return hashlib.sha256(data).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Stat:
    mtime_ns: int
    size: int


class ItemStore:
    """Reads and writes the `.ics` files of one directory."""

    def __init__(self, directory: str) -> None:
        self.directory = directory

    def path(self, name: str) -> str:
        return os.path.join(self.directory, name)

    def list(self) -> dict[str, Stat]:
        """name -> Stat of every item; temp and hidden files are not items."""
        found: dict[str, Stat] = {}
        with os.scandir(self.directory) as entries:
            for entry in entries:
                if entry.name.startswith(".") or not entry.name.endswith(ICS):
                    continue
                with contextlib.suppress(FileNotFoundError):  # removed while listing
                    if entry.is_file():
                        st = entry.stat()
                        found[entry.name] = Stat(st.st_mtime_ns, st.st_size)
        return found

    def read(self, name: str) -> bytes | None:
        """The item's bytes, None when it is gone."""
        try:
            with open(self.path(name), "rb") as fh:
                return fh.read()
        except (FileNotFoundError, IsADirectoryError):
            return None

    def create(self, name: str, data: bytes) -> bool:
        """Write a new item; False (and nothing written) when `name` already exists."""
        tmp = self._write_temp(data)
        try:
            try:
                # link() fails if the target exists: an atomic If-None-Match.
                os.link(tmp, self.path(name))
            except FileExistsError:
                return False
            except OSError as exc:
                if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EXDEV, errno.EMLINK):
                    raise
                # A filesystem without hard links (some FUSE, SMB): check, then rename.
                if os.path.exists(self.path(name)):
                    return False
                os.replace(tmp, self.path(name))
            return True
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)

    def replace(self, name: str, data: bytes, *, expect: str) -> bool:
        """Overwrite the item if it still has fingerprint `expect` (an If-Match)."""
        current = self.read(name)
        if current is None or fingerprint(current) != expect:
            return False
        tmp = self._write_temp(data)
        try:
            os.replace(tmp, self.path(name))
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        return True

    def remove(self, name: str, *, expect: str) -> bool:
        """Delete the item if it still has fingerprint `expect`; False otherwise."""
        current = self.read(name)
        if current is None or fingerprint(current) != expect:
            return False
        try:
            os.unlink(self.path(name))
        except FileNotFoundError:
            return False
        return True

    def _write_temp(self, data: bytes) -> str:
        tmp = self.path(f".{secrets.token_hex(8)}.tmp")
        # 0600: reminders name candidates and their phone numbers.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        return tmp
