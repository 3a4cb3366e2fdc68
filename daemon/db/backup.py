"""`ghostwatch backup PATH`: a consistent copy of the database while the daemon runs.

SQLite's online backup API copies page by page under the database's own locks,
so a `run` writing at the same time is neither stopped nor copied half-way (a
plain `cp` of a WAL database can be). The copy is written next to PATH and
renamed into place only after an integrity check, so PATH is a backup or absent.
PostgreSQL is backed up with its own tool; the error says how.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from daemon.db.engine import mask_url, sqlite_file
from daemon.db.guard import check_sqlite_file, sidecars, translate_sqlite
from daemon.errors import GhostwatchError, StoreError


def backup(url: str, target: Path, now: datetime | None = None) -> Path:
    """Copy the database at `url` to `target` (a file, or a folder to put a dated file in)."""
    source = sqlite_file(url)
    if source is None:
        raise GhostwatchError(
            f"`ghostwatch backup` copies SQLite databases; {mask_url(url)} is not one",
            hint=f"for PostgreSQL use pg_dump: pg_dump --format=custom --file={target} "
            "'<the database URL>' (restore with pg_restore --clean)",
        )
    if not source.exists():
        raise StoreError(f"there is no database at {source} to back up")
    check_sqlite_file(source)
    target = target.expanduser()
    if target.is_dir():
        stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
        target = target / f"ghostwatch-{stamp}.db"
    if target.exists():
        raise GhostwatchError(
            f"{target} already exists", hint="give a new file name or a folder; nothing was copied"
        )
    if target.resolve() == source.resolve():
        raise GhostwatchError(f"{target} is the database itself")
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    try:
        _copy(source, partial)
        os.replace(partial, target)
    except sqlite3.Error as exc:
        raise translate_sqlite(exc, target) from None
    except OSError as exc:
        raise StoreError(f"cannot write the backup {target}: {exc.strerror}") from None
    finally:
        for leftover in sidecars(partial):
            leftover.unlink(missing_ok=True)
    return target


def _copy(source: Path, partial: Path) -> None:
    with (
        contextlib.closing(sqlite3.connect(source, timeout=30)) as src,
        contextlib.closing(sqlite3.connect(partial)) as dst,
    ):
        src.backup(dst)
        # A self-contained file: no -wal beside it to forget when copying it around.
        dst.execute("PRAGMA journal_mode=DELETE")
        (verdict,) = dst.execute("PRAGMA quick_check").fetchone()
        if verdict != "ok":
            raise StoreError(f"the copy of {source} failed its check ({verdict}); not kept")
    partial.chmod(0o600)
