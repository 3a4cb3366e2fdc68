"""The store on real SQLite and a real PostgreSQL: same migrations, same behaviour."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select, text

from daemon.db.engine import Store
from daemon.db.tables import Account, Base, Message
from tests.servers.postgres import find_bin, running_postgres


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    if find_bin("initdb") is None:
        if os.environ.get("GHOSTWATCH_REQUIRE_SERVERS"):
            pytest.fail("PostgreSQL is required but not installed")
        pytest.skip("PostgreSQL not installed (scripts/test installs it)")
    with running_postgres() as pg:
        yield pg.create_database("ghostwatch_test")


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'gw.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    s = Store(url)
    yield s
    if request.param == "postgres":
        with s.engine.begin() as conn:
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(table.delete())
            conn.execute(text("DELETE FROM alembic_version"))
            conn.execute(text("DROP TABLE alembic_version"))
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(text(f'DROP TABLE "{table.name}" CASCADE'))
    s.close()


def test_migrations_match_the_models(store: Store) -> None:
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_migrate_twice_is_harmless(store: Store) -> None:
    Store(store.url).close()


def test_times_come_back_timezone_aware_and_equal(store: Store) -> None:
    sent = datetime(2026, 10, 1, 9, 30, tzinfo=timezone(timedelta(hours=8)))
    with store.transaction() as s:
        acct = Account(name="work", address="li@example.com", health="ok", rescans=0)
        s.add(acct)
        s.flush()
        s.add(
            Message(
                account_id=acct.id, ref="r1", folder="INBOX", folder_role="inbox", direction="in",
                kind="human", sent_at=sent, subject="面试安排", references=["a@b"], recipients=[],
            )
        )  # fmt: skip
    with store.reader() as s:
        row = s.scalar(select(Message).where(Message.ref == "r1"))
        assert row is not None
        assert row.sent_at == sent
        assert row.sent_at.tzinfo is not None
        assert row.subject == "面试安排"
        assert row.references == ["a@b"]


def test_naive_datetimes_are_refused(store: Store) -> None:
    with pytest.raises(Exception, match="naive"), store.transaction() as s:
        s.add(Account(name="x", address="x@example.com", last_sync_at=datetime(2026, 1, 1)))


def test_sqlite_reader_is_not_blocked_by_a_writer(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'wal.db'}")
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    with store.transaction() as s:
        s.add(Account(name="a", address="a@example.com", health="ok", rescans=0))
    writing = threading.Event()
    release = threading.Event()

    def writer() -> None:
        with store.transaction() as s:
            s.add(Account(name="b", address="b@example.com", health="ok", rescans=0))
            s.flush()
            writing.set()
            release.wait(5)

    t = threading.Thread(target=writer)
    t.start()
    assert writing.wait(5)
    started = datetime.now(UTC)
    with store.reader() as s:
        names = list(s.scalars(select(Account.name)))
    assert names == ["a"]  # the uncommitted row is invisible, and the read did not wait
    assert datetime.now(UTC) - started < timedelta(seconds=2)
    release.set()
    t.join()
    store.close()
