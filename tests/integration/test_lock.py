"""One `run` per database: flock for SQLite, an advisory lock for PostgreSQL."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from daemon.errors import AlreadyRunning
from daemon.runtime.lock import AdvisoryLock, FileLock, acquire


def test_sqlite_lock_refuses_a_second_holder_and_names_the_first(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state' / 'gw.db'}"
    first = acquire(url)
    assert isinstance(first, FileLock)
    assert first.path == tmp_path / "state" / "gw.db.lock"
    # flock belongs to the open file, so a second open in this process conflicts
    # exactly as a second process would.
    with pytest.raises(AlreadyRunning, match=f"pid {os.getpid()} on "):
        acquire(url)
    first.release()
    acquire(url).release()


def test_sqlite_lock_file_is_private(tmp_path: Path) -> None:
    lock = acquire(f"sqlite:///{tmp_path / 'gw.db'}")
    try:
        assert (tmp_path / "gw.db.lock").stat().st_mode & 0o077 == 0
    finally:
        lock.release()


def test_in_memory_database_needs_no_lock() -> None:
    acquire("sqlite://").release()
    acquire("sqlite:///:memory:").release()


@pytest.mark.postgres
def test_postgres_advisory_lock_refuses_a_second_holder(postgres_url: str) -> None:
    first = acquire(postgres_url)
    assert isinstance(first, AdvisoryLock)
    assert first.alive()
    with pytest.raises(AlreadyRunning):
        acquire(postgres_url)
    first.release()
    acquire(postgres_url).release()


@pytest.mark.postgres
def test_postgres_lock_is_freed_when_its_connection_dies(postgres_url: str) -> None:
    first = acquire(postgres_url)
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_locks "
                "WHERE locktype = 'advisory' AND pid <> pg_backend_pid()"
            )
        )
    admin.dispose()
    assert not first.alive()  # the daemon notices and re-takes it (service.py)
    second = acquire(postgres_url)
    second.release()
    first.release()
