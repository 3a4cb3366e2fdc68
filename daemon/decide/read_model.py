"""What `status` reads from the store, in one place and in plain SQL.

`status` used to replay every thread with mail of ours: 10-16 s on a 100k-message
database, and SQLAlchemy's ORM (~0.3 s of imports) even when nothing needed a
replay. The stored decisions (`sequences`, written by `decide`) already say which
threads can change what plain `status` shows; only those are replayed.

The rule is the daemon's own (`threads_to_decide`): a sequence that ended stays
ended until its thread is marked dirty (a new message, a control, a returning
contact). So a thread whose stored sequences all ended, decided at or before
`now`, not dirty and without a recent return (shown for RETURN_NEWS) shows
nothing in plain `status` and is not replayed. Everything else is: open
sequences (their risk and next step depend on `now`), dirty threads, threads
never decided yet, and every thread for `--all`.

On a current SQLite database the queries run on the sqlite3 module directly, so
a `status` with nothing to replay never imports SQLAlchemy; any other database
(or a schema that needs migrating) goes through the Store.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

RETURN_NEWS = timedelta(days=7)  # a contact who came back stays in plain `status` this long
OPEN_STATES = frozenset({"waiting", "draft_pending"})

Rows = Callable[[str, Mapping[str, Any]], list[tuple[Any, ...]]]

_ACCOUNTS = "SELECT id, name, health, rescans, last_error FROM accounts ORDER BY name"
_OUTBOUND = (
    "SELECT DISTINCT thread_id FROM messages"
    " WHERE account_id = :acct AND direction = 'out' AND thread_id IS NOT NULL"
)
_DIRTY = "SELECT id FROM threads WHERE account_id = :acct AND dirty"
_STORED = (
    "SELECT thread_id, state, returned_from, ended_at, decided_at FROM sequences"
    " WHERE account_id = :acct AND thread_id IS NOT NULL"
)


@dataclass(frozen=True, slots=True)
class AccountRow:
    id: int
    name: str
    health: str
    rescans: int
    last_error: str | None


class StatusReads:
    """The status queries over any DB-API-like row function (sqlite3 or a Session)."""

    def __init__(self, rows: Rows) -> None:
        self._rows = rows

    def accounts(self) -> list[AccountRow]:
        return [
            AccountRow(i, name, health or "ok", rescans or 0, err)
            for i, name, health, rescans, err in self._rows(_ACCOUNTS, {})
        ]

    def outbound_threads(self, acct: int) -> list[int]:
        """Every thread with a message of ours: `sync` alone stores messages, not sequences."""
        return sorted(t for (t,) in self._rows(_OUTBOUND, {"acct": acct}))

    def threads_to_replay(self, acct: int, now: datetime, *, everything: bool) -> list[int]:
        """The threads whose replay can change what `status` shows (see the module doc)."""
        threads = self.outbound_threads(acct)
        if everything:
            return threads
        dirty = {t for (t,) in self._rows(_DIRTY, {"acct": acct})}
        settled: dict[int, bool] = {}
        for tid, state, returned_from, ended_at, decided_at in self._rows(_STORED, {"acct": acct}):
            ended, decided = _when(ended_at), _when(decided_at)
            quiet = (
                state not in OPEN_STATES
                and decided is not None
                and decided <= now
                and not (returned_from and ended is not None and ended >= now - RETURN_NEWS)
            )
            settled[tid] = settled.get(tid, True) and quiet
        return [t for t in threads if t in dirty or not settled.get(t, False)]


def _when(value: datetime | str | None) -> datetime | None:
    """A stored time as aware UTC: sqlite3 hands back SQLAlchemy's naive UTC text."""
    if value is None:
        return None
    at = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def sqlite_path(url: str) -> Path | None:
    """The file of a plain `sqlite:///PATH` URL; None for anything that needs SQLAlchemy."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or "?" in url or url == prefix or url.endswith(":memory:"):
        return None
    return Path(url[len(prefix) :]).expanduser()


@contextmanager
def sqlite_reads(url: str) -> Iterator[StatusReads | None]:
    """Reads straight from a current SQLite database; None when the Store must open it
    (another database, no file yet, a schema to migrate, anything unexpected)."""
    from daemon.db.schema_version import head_revisions

    path = sqlite_path(url)
    if path is None or not path.is_file():
        yield None
        return
    try:
        conn = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        yield None
        return
    try:
        conn.execute("PRAGMA busy_timeout=10000")
        versions = {r[0] for r in conn.execute("SELECT version_num FROM alembic_version")}
        current = bool(versions) and versions == set(head_revisions())
    except sqlite3.Error:
        current = False
    try:
        if not current:
            yield None
        else:
            yield StatusReads(lambda sql, params: conn.execute(sql, params).fetchall())
    finally:
        conn.close()


def session_reads(session: Any) -> StatusReads:
    """The same queries through a SQLAlchemy Session (PostgreSQL, or after a migration)."""
    from sqlalchemy import text

    return StatusReads(lambda sql, params: [tuple(r) for r in session.execute(text(sql), params)])
