"""The database file as a thing that can be lost, damaged, full or read-only.

Two jobs, both so the user reads one line that names the file and the fix:

- `check_sqlite_file` before the engine touches a file: an existing file that is
  not a ghostwatch database (zero-length included) is refused, never initialised
  over, because a new empty state would re-decide every thread. A new file is
  created whole (header written, then renamed into place), so ghostwatch itself
  never leaves a zero-length database behind.
- `translate` turns the driver's failures that the user must fix (disk full,
  read-only file, damaged file) into a `StoreError` that names the file.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

from sqlalchemy.exc import DBAPIError

from daemon.errors import StoreError

SQLITE_MAGIC = b"SQLite format 3\x00"
RESTORE_HINT = (
    "restore it from a backup (`ghostwatch backup PATH` makes one; README 'Restore'), "
    "or move it aside to start fresh"
)


class DatabaseFull(StoreError):
    hint = ""


class DatabaseReadOnly(StoreError):
    hint = ""


class DatabaseDamaged(StoreError):
    """Said in one line: what is wrong with which file, and what to do."""

    hint = ""

    def __init__(self, message: str, *, hint: str = RESTORE_HINT) -> None:
        super().__init__(f"{message}; {hint}")


def sidecars(path: Path) -> list[Path]:
    """The database and the files SQLite keeps next to it in WAL mode."""
    return [path, Path(f"{path}-wal"), Path(f"{path}-shm")]


def check_sqlite_file(path: Path) -> None:
    """Refuse what is not ours; create a new database file whole."""
    if not path.exists():
        _create(path)
        return
    if path.is_dir():
        raise DatabaseDamaged(f"the database {path} is a directory, not a ghostwatch database")
    try:
        with path.open("rb") as fh:
            head = fh.read(len(SQLITE_MAGIC))
    except PermissionError:
        raise readonly(path, path) from None
    if not head:
        raise DatabaseDamaged(
            f"the database {path} is empty (0 bytes): not a ghostwatch database, "
            "so ghostwatch will not start it over"
        )
    if head != SQLITE_MAGIC:
        raise DatabaseDamaged(f"the database {path} is not a SQLite file (damaged or overwritten)")
    tables = _tables(path)
    if tables and "alembic_version" not in tables:
        raise DatabaseDamaged(
            f"{path} is a SQLite database of something else, not ghostwatch's",
            hint="point [daemon] database at ghostwatch's own file, or move this one aside",
        )


def _create(path: Path) -> None:
    """The header on disk before the name exists: no zero-length window after a crash."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.new-{os.getpid()}")
    try:
        conn = sqlite3.connect(tmp)
        try:
            conn.execute("PRAGMA journal_mode=WAL")  # writes the header
        finally:
            conn.close()
        # link, not rename: if another process created the database meanwhile, theirs stays.
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        except OSError:
            if not path.exists():  # a file system without hard links
                os.replace(tmp, path)
    except (OSError, sqlite3.Error) as exc:
        raise translate_os(exc, path) from None
    finally:
        for leftover in sidecars(tmp):
            leftover.unlink(missing_ok=True)


def _tables(path: Path) -> set[str]:
    try:
        conn = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)
        try:
            rows = conn.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        translated = translate_sqlite(exc, path)
        if isinstance(translated, DatabaseReadOnly):
            return {"alembic_version"}  # cannot look inside; the real open says what is wrong
        raise translated from None
    return {r[0] for r in rows}


def readonly(path: Path, culprit: Path | None = None) -> DatabaseReadOnly:
    """Name the file (or folder) ghostwatch cannot write, and what it needs."""
    culprit = culprit or _unwritable(path)
    if culprit is None:
        return DatabaseReadOnly(
            f"cannot write the database {path} (a read-only mount?); ghostwatch needs to "
            "read and write it, its -wal and -shm files and its folder"
        )
    what = "folder" if culprit.is_dir() else "file"
    fix = "u+rwx" if culprit.is_dir() else "u+rw"
    return DatabaseReadOnly(
        f"cannot write the database {path}: the {what} {culprit} is read-only; ghostwatch "
        f"needs read and write permission on it (chmod {fix} {culprit}, as its owner)"
    )


def _unwritable(path: Path) -> Path | None:
    for candidate in (*sidecars(path), path.parent):
        if candidate.exists() and not os.access(candidate, os.R_OK | os.W_OK):
            return candidate
    return None


def disk_full(path: Path | str) -> DatabaseFull:
    return DatabaseFull(
        f"the database disk is full: {path} cannot grow; "
        "nothing was lost, run again when there is space"
    )


def translate_os(exc: BaseException, path: Path) -> StoreError:
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return disk_full(path)
    if isinstance(exc, OSError) and exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return readonly(path)
    if isinstance(exc, sqlite3.Error):
        return translate_sqlite(exc, path)
    return StoreError(f"cannot create the database {path}: {exc}")


def translate_sqlite(exc: BaseException, path: Path) -> StoreError:
    """The driver's error as something the user can act on (always a StoreError)."""
    found = classify(exc)
    if found == "full":
        return disk_full(path)
    if found == "readonly":
        return readonly(path)
    if found == "damaged":
        return DatabaseDamaged(
            f"the database {path} is damaged ({_first_line(exc)}); ghostwatch cannot read it"
        )
    return StoreError(f"the database {path} failed: {_first_line(exc)}")


def classify(exc: BaseException) -> str | None:
    """'full', 'readonly', 'damaged', or None (an error the user cannot fix from here)."""
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    text = str(orig).lower()
    code = getattr(orig, "sqlite_errorcode", None)
    if code == 13 or "disk is full" in text or "no space left" in text:  # SQLITE_FULL
        return "full"
    if (code is not None and code & 0xFF == 8) or "readonly" in text or "read-only" in text:
        return "readonly"  # SQLITE_READONLY and its extended codes
    if "unable to open database file" in text:
        return "readonly"  # as non-root: a folder or -shm we may not create
    if (
        (code is not None and code & 0xFF in (11, 26))
        or "malformed" in text
        or ("not a database" in text)
    ):
        return "damaged"  # SQLITE_CORRUPT, SQLITE_NOTADB
    return None


def _first_line(exc: BaseException) -> str:
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    return (str(orig).splitlines() or [type(orig).__name__])[0]
