"""One `ghostwatch run` per database.

Two daemons on one database would both write drafts: the outbox's idempotency
keys prevent duplicates in the mailbox, but two writers still race on the
cursor and double the server load. So `run` takes a lock the kernel or the
database server releases by itself when the holder dies:

- SQLite: `flock` on `<database>.lock` next to the database file. The kernel
  drops it when the process exits, however it exits (crash, SIGKILL, OOM), so
  there is never a stale lock to clean up and no heartbeat to tune. The lock
  file lives in the same directory as the database, which is the one place
  the daemon can always write (systemd `StateDirectory=`).
- PostgreSQL: a session-level advisory lock held on one dedicated connection.
  The server drops it when that connection ends, for the same reason. A
  heartbeat row in `daemon_lock` would instead need a staleness timeout that
  is either too short (a slow cycle loses the lock) or too long (a crashed
  daemon blocks its restart). The daemon checks the connection each round
  (`alive`) and re-takes the lock if the connection was lost.

The `daemon_lock` table is still written (service.py) as information: who runs,
last seen when; it is not what excludes a second daemon.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url

from daemon.db.engine import make_engine
from daemon.db.guard import translate_os
from daemon.errors import AlreadyRunning, StoreError

# One fixed 64-bit key: advisory locks are scoped to the database already.
ADVISORY_KEY = int.from_bytes(hashlib.sha256(b"ghostwatch run").digest()[:8], "big", signed=True)


class DatabaseLock(Protocol):
    def alive(self) -> bool:
        """False when the lock may have been lost (the PostgreSQL connection dropped)."""
        ...

    def release(self) -> None: ...


def holder_text() -> str:
    return (
        f"pid {os.getpid()} on {socket.gethostname()} since {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )


def acquire(database_url: str) -> DatabaseLock:
    """Take the writer lock for this database or raise AlreadyRunning."""
    url = make_url(database_url)
    backend = url.get_backend_name()
    if backend == "sqlite":
        if url.database in (None, "", ":memory:"):
            return _NoLock()  # an in-memory database is private to this process
        return FileLock.take(Path(url.database).expanduser())
    if backend == "postgresql":
        return AdvisoryLock.take(database_url)
    raise StoreError(f"cannot lock a {backend} database; use sqlite or postgresql")


class _NoLock:
    def alive(self) -> bool:
        return True

    def release(self) -> None:
        pass


class FileLock:
    def __init__(self, fd: int, path: Path) -> None:
        self._fd = fd
        self.path = path

    @classmethod
    def take(cls, database: Path) -> FileLock:
        database.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = database.with_name(database.name + ".lock")
        # os.open is close-on-exec by default (PEP 446): a password_command child
        # that outlives us must not inherit, and so keep, the lock.
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise translate_os(exc, path) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 200).decode("utf-8", "replace").strip() or "another process"
            os.close(fd)
            raise AlreadyRunning(
                f"another `ghostwatch run` ({holder}) already uses the database {database}",
                hint=f"stop it first (the lock is {path}); `status` works while it runs",
            ) from None
        except OSError as exc:
            os.close(fd)
            raise StoreError(f"cannot lock {path}: {exc.strerror}") from None
        os.ftruncate(fd, 0)
        os.write(fd, (holder_text() + "\n").encode())
        return cls(fd, path)

    def alive(self) -> bool:
        return True  # the kernel keeps it until we close the descriptor

    def release(self) -> None:
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)
        os.close(self._fd)  # closing drops the flock; the file stays for the next run


class AdvisoryLock:
    def __init__(self, conn: Connection, url: str) -> None:
        self._conn = conn
        self.url = url

    @classmethod
    def take(cls, url: str) -> AdvisoryLock:
        engine = make_engine(url)
        try:
            # AUTOCOMMIT: the lock belongs to the session, and a transaction held
            # open for the daemon's life would stall VACUUM.
            conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY})
            if not got.scalar():
                conn.close()
                engine.dispose()
                raise AlreadyRunning(
                    "another `ghostwatch run` already uses this PostgreSQL database",
                    hint="stop it first; `status` works while it runs",
                )
        except AlreadyRunning:
            raise
        except Exception as exc:  # driver errors come in many types; name the class only
            engine.dispose()
            raise StoreError(f"cannot lock the database: {type(exc).__name__}") from None
        return cls(conn, url)

    def alive(self) -> bool:
        try:
            self._conn.execute(text("SELECT 1"))
        except Exception:
            return False
        return True

    def release(self) -> None:
        with contextlib.suppress(Exception):
            self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
        with contextlib.suppress(Exception):
            self._conn.close()
        self._conn.engine.dispose()
