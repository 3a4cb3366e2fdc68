"""Engine and session setup, and schema migration at start.

SQLite runs in WAL mode with a busy timeout so `ghostwatch status` can read
while the daemon writes; PostgreSQL gets the same schema through Alembic.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from daemon.db.guard import check_sqlite_file, classify, disk_full, translate_sqlite
from daemon.db.schema_version import is_current
from daemon.errors import StoreError

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).with_name("migrations")


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    # Each checkpoint costs two fsyncs; at the default 1000 pages a 100k-message
    # first scan waited ~4 s on them. 16 MB of WAL between checkpoints changes
    # nothing about durability (commits are atomic either way), and the limit
    # truncates the WAL file back after a checkpoint.
    cur.execute("PRAGMA wal_autocheckpoint=4000")
    cur.execute("PRAGMA journal_size_limit=16777216")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL; None for other databases and :memory:."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"database URL {url!r} is not valid: {exc}") from None
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        return Path(parsed.database).expanduser()
    return None


def make_engine(url: str) -> Engine:
    path = sqlite_file(url)
    parsed = make_url(url)
    if path is not None:
        check_sqlite_file(path)
        parsed = parsed.set(database=str(path))
    try:
        engine = create_engine(parsed, future=True)
    except Exception as exc:  # a missing driver shows up here (e.g. psycopg)
        raise StoreError(f"cannot use database {parsed.render_as_string()}: {exc}") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        from daemon.db.tables import for_dialect

        for_dialect(engine.dialect.name)
    return engine


def alembic_config(engine: Engine) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def _transactional_ddl(engine: Engine) -> Engine:
    """An engine on the same SQLite file whose CREATE TABLEs roll back with the transaction.

    pysqlite commits DDL on its own, so a crash in the middle of the first
    migration would leave tables without an alembic_version row and every later
    start would fail. SQLAlchemy's documented recipe: let SQLAlchemy say BEGIN.
    """
    ddl = create_engine(engine.url, poolclass=NullPool)
    event.listen(ddl, "connect", _sqlite_pragmas)

    @event.listens_for(ddl, "connect")
    def _no_implicit(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_conn.isolation_level = None

    @event.listens_for(ddl, "begin")
    def _begin(conn) -> None:  # type: ignore[no-untyped-def]
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return ddl


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision; safe to call on every start.

    Alembic is loaded only when there is something to do.
    """
    if is_current(engine):  # any error there (no such table, no file yet) means "not current"
        return
    from alembic import command

    target = _transactional_ddl(engine) if engine.dialect.name == "sqlite" else engine
    try:
        with target.begin() as conn:
            cfg = alembic_config(engine)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    except DBAPIError as exc:
        raise store_error(engine.url.render_as_string(), exc) from None
    finally:
        if target is not engine:
            target.dispose()


def store_error(url: str, exc: DBAPIError) -> StoreError:
    path = sqlite_file(url)
    if path is not None:
        return translate_sqlite(exc, path)
    where = mask_url(url)
    if classify(exc) == "full":
        return disk_full(where)
    return StoreError(f"the database {where} failed: {str(exc.orig).splitlines()[0]}")


def mask_url(url: str) -> str:
    """The URL without its password, for messages."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return url


def schema_tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


class Store:
    """The database handle: one engine, short transactions."""

    def __init__(self, url: str, *, upgrade: bool = True) -> None:
        self.url = url
        self.engine = make_engine(url)
        if upgrade:
            migrate(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with self._translated(), self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def reader(self) -> Iterator[Session]:
        with self._translated(), self._sessions() as session:
            yield session

    @contextmanager
    def _translated(self) -> Iterator[None]:
        """Disk full, read-only, damaged: a StoreError naming the file. Other database
        errors (a constraint race the caller handles) pass through unchanged."""
        try:
            yield
        except DBAPIError as exc:
            if classify(exc) is None:
                raise
            raise store_error(self.url, exc) from exc

    def close(self) -> None:
        self.engine.dispose()
