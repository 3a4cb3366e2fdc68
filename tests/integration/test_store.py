"""The store on real SQLite and a real PostgreSQL: same migrations, same behaviour."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select

from daemon.db.engine import Store
from daemon.db.tables import Account, Base, Message


def test_migrations_match_the_models(store: Store) -> None:
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_migrate_twice_is_harmless(store: Store) -> None:
    Store(store.url).close()


def test_head_revision_read_from_the_files_is_alembics(store: Store) -> None:
    from alembic.script import ScriptDirectory

    from daemon.db.engine import alembic_config
    from daemon.db.schema_version import head_revisions, is_current

    script = ScriptDirectory.from_config(alembic_config(store.engine))
    assert head_revisions() == frozenset(script.get_heads())
    assert is_current(store.engine)


def test_a_database_behind_the_head_is_still_migrated(store: Store) -> None:
    """The cheap "is it current?" check must send an old schema on to Alembic."""
    from alembic import command

    from daemon.db.engine import alembic_config
    from daemon.db.schema_version import head_revisions, is_current

    with store.engine.begin() as conn:
        cfg = alembic_config(store.engine)
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0001")
    assert not is_current(store.engine)
    Store(store.url).close()
    with store.engine.connect() as conn:
        versions = {r[0] for r in conn.exec_driver_sql("SELECT version_num FROM alembic_version")}
    assert versions == set(head_revisions())
    assert is_current(store.engine)


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
