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

import json
import sqlite3
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from daemon.decide.status_row import StatusRow

RETURN_NEWS = timedelta(days=7)  # a contact who came back stays in plain `status` this long

Rows = Callable[[str, Mapping[str, Any]], list[tuple[Any, ...]]]

_ACCOUNTS = "SELECT id, name, health, rescans, last_error FROM accounts ORDER BY name"
# `+account_id`: a plain scan of messages. SQLite would otherwise walk the
# (account_id, sender_addr) index and look every row up: 78 ms against 50 ms for
# the scan at 100k messages, 71 against 22 ms for _MAIL_NEWS.
_OUTBOUND = (
    "SELECT DISTINCT thread_id FROM messages"
    " WHERE +account_id = :acct AND direction = 'out' AND thread_id IS NOT NULL"
)
_DIRTY = "SELECT id FROM threads WHERE account_id = :acct AND dirty"
# The stored line itself only where plain `status` may show it (open, or a return):
# the others' text is most of the table and only --all needs it.
_STORED = (
    "SELECT thread_id, decided_at, contact_addr, aliases, state, returned_from, ended_at,"
    " status_row IS NOT NULL, CASE WHEN :everything OR returned_from IS NOT NULL"
    " OR state IN ('waiting', 'draft_pending') THEN status_row END"
    " FROM sequences WHERE account_id = :acct AND thread_id IS NOT NULL"
)
OPEN_STATES = frozenset({"waiting", "draft_pending"})
# What may change an ended sequence without marking its thread dirty: mail from (or a
# bounce naming) its contact in another thread, and anything dated after the decision
# (with --now a decision can predate mail already stored), calendar entries and answers.
_MAIL_NEWS = (
    "SELECT thread_id, sender_addr, kind, bounce_recipients, seen_at, sent_at, received_at"
    " FROM messages"
    " WHERE +account_id = :acct"
    " AND (seen_at > :since OR COALESCE(sent_at, received_at) > :since)"
)
_CALENDAR_NEWS = (
    "SELECT attendees, mentions, organizer, first_seen, start, moved_at, cancelled_at"
    " FROM calendar_entries WHERE account_id = :acct AND (first_seen > :since"
    " OR start > :since OR moved_at > :since OR cancelled_at > :since)"
)
_ANSWER_NEWS = (
    "SELECT attendee, received_at FROM invite_answers"
    " WHERE account_id = :acct AND received_at > :since"
)
# Drafts and controls mark their thread dirty where they change; read anyway, as the
# daemon re-decides open threads every cycle and need not rely on it.
_THREAD_NEWS = (
    "SELECT thread_id, created_at, written_at, resolved_at FROM drafts"
    " WHERE account_id = :acct AND (created_at >= :since OR written_at >= :since"
    " OR resolved_at >= :since)"
    " UNION ALL SELECT thread_id, at, NULL, NULL FROM controls"
    " WHERE account_id = :acct AND at >= :since"
)


@dataclass(frozen=True, slots=True)
class Plan:
    replay: list[int]  # threads to replay, ascending
    stored: dict[int, list[StatusRow]]  # the others: their rows as decided, in order


def _stored(text: str | None) -> tuple[StatusRow | None, int, str]:
    if not text:
        return None, 0, ""
    data = json.loads(text)
    return StatusRow.from_data(data), int(data.get("order", 0)), str(data.get("policy", ""))


def _steady(row: StatusRow, now: datetime) -> bool:
    """An open row still says what a replay would: none of its boundaries passed."""
    return row.changes_at is None or now < row.changes_at


@dataclass(frozen=True, slots=True)
class AccountRow:
    id: int
    name: str
    health: str
    rescans: int
    last_error: str | None


class StatusReads:
    """The status queries over any DB-API-like row function (sqlite3 or a Session).

    `stamp` turns a time into the parameter the database compares stored times with
    (SQLite keeps SQLAlchemy's naive UTC text)."""

    def __init__(self, rows: Rows, stamp: Callable[[datetime], object]) -> None:
        self._rows = rows
        self._stamp = stamp

    def accounts(self) -> list[AccountRow]:
        return [
            AccountRow(i, name, health or "ok", rescans or 0, err)
            for i, name, health, rescans, err in self._rows(_ACCOUNTS, {})
        ]

    def outbound_threads(self, acct: int) -> list[int]:
        """Every thread with a message of ours: `sync` alone stores messages, not sequences."""
        return sorted(t for (t,) in self._rows(_OUTBOUND, {"acct": acct}))

    def plan(self, acct: int, now: datetime, fingerprint: str, *, everything: bool) -> Plan:
        """Which threads to replay as of `now`, and the stored rows of the others.

        Without `everything` (plain `status`), only the rows it can show are parsed:
        open ones and recent returns; an ended row says all it needs in its columns."""
        threads = self.outbound_threads(acct)
        dirty = {t for (t,) in self._rows(_DIRTY, {"acct": acct})}
        usable: dict[int, bool] = {}
        decided_of: dict[int, datetime] = {}
        contacts: dict[int, list[str]] = defaultdict(list)
        aliased: dict[int, list[str]] = defaultdict(list)
        stored: dict[int, list[tuple[int, StatusRow]]] = defaultdict(list)
        # The policy of the last decision read: a config changed since shows there.
        newest: tuple[datetime | None, str | None] = (None, None)
        query = {"acct": acct, "everything": everything}
        for (
            tid,
            decided_at,
            contact,
            aliases,
            state,
            returned,
            ended_at,
            has_row,
            text,
        ) in self._rows(_STORED, query):
            decided = _when(decided_at)
            if not has_row or decided is None or decided > now:
                usable[tid] = False
                continue
            if text is not None and (newest[0] is None or decided > newest[0]):
                newest = (decided, text)
            decided_of[tid] = min(decided, decided_of.get(tid, decided))
            contacts[tid].append(contact)
            if aliases and aliases != "[]":
                aliased[tid].append(aliases)
            is_open = state in OPEN_STATES
            recent = returned and (ended := _when(ended_at)) and ended >= now - RETURN_NEWS
            ok = True
            if everything or is_open or recent:
                row, order, policy = _stored(text)
                stored[tid].append((order, row))
                ok = not is_open or (policy == fingerprint and _steady(row, now))
            usable[tid] = usable.get(tid, True) and ok
        if newest[1] is not None and _stored(newest[1])[2] != fingerprint:
            # The config changed since the last decision: replay all.
            return Plan(replay=threads, stored={})
        candidates = {t: decided_of[t] for t, ok in usable.items() if ok and t not in dirty}
        for tid in self._woken(acct, candidates, contacts, aliased):
            del candidates[tid]
        # Clean threads without a sequence were decided to have none: outreach() found no
        # contact to follow, whatever `now`, and their mail has not changed since.
        empty = {t: [] for t in threads if t not in dirty and t not in usable}
        return Plan(
            replay=[t for t in threads if t not in candidates and t not in empty],
            stored={
                **empty,
                **{t: [r for _, r in sorted(stored[t], key=lambda x: x[0])] for t in candidates},
            },
        )

    def _woken(
        self,
        acct: int,
        decided: dict[int, datetime],
        contacts: Mapping[int, list[str]],
        aliased: Mapping[int, list[str]],
    ) -> set[int]:
        """Threads that something happened to since their decision (see _MAIL_NEWS).

        A contact who returns in a new thread of their own leaves the old one clean,
        yet its replay turns a ghosted sequence into a returned one."""
        if not decided:
            return set()
        # Mail and calendar stored in the cycle that decided carry its very instant and
        # were counted (sync comes first): only later ones wake a thread. Drafts and
        # controls written in that cycle come after the decision: those at it count.
        heard: dict[str, datetime] = {}  # per address: the last time it was heard of
        latest: dict[int, datetime] = {}  # per thread: its newest message
        touched: dict[int, datetime] = {}  # per thread: its newest draft or control

        def note(key: str | int, at: datetime | None, into: dict[Any, datetime]) -> None:
            if at is not None and (key not in into or into[key] < at):
                into[key] = at

        params = {"acct": acct, "since": self._stamp(min(decided.values()))}
        for tid, sender, kind, named, *times in self._rows(_MAIL_NEWS, params):
            when = _latest(times)
            note(tid, when, latest)
            if sender:
                note(sender, when, heard)
            for addr in _listed(named) if kind == "bounce" else ():
                note(addr.lower(), when, heard)
        for attendees, mentions, organizer, *times in self._rows(_CALENDAR_NEWS, params):
            when = _latest(times)
            for addr in {*_listed(attendees), *_listed(mentions), organizer or ""} - {""}:
                note(addr, when, heard)
        for attendee, received_at in self._rows(_ANSWER_NEWS, params):
            note(attendee, _when(received_at), heard)
        for tid, *times in self._rows(_THREAD_NEWS, params):
            note(tid, _latest(times), touched)

        def reached(tid: int, at: datetime) -> bool:
            if latest.get(tid, at) > at or touched.get(tid, at - _TICK) >= at:
                return True
            if not heard:
                return False
            who = [*contacts[tid], *(a for text in aliased.get(tid, ()) for a in _listed(text))]
            return any(heard.get(c, at) > at for c in who)

        return {tid for tid, at in decided.items() if reached(tid, at)}


_TICK = timedelta(microseconds=1)


def _latest(times: list[datetime | str | None]) -> datetime | None:
    return max((t for t in map(_when, times) if t is not None), default=None)


def _listed(value: list[str] | str | None) -> list[str]:
    """A JSON list column: a list from PostgreSQL, text from sqlite3."""
    if not value:
        return []
    return list(value) if isinstance(value, list) else list(json.loads(value))


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
            yield StatusReads(
                lambda sql, params: conn.execute(sql, params).fetchall(), sqlite_stamp
            )
    finally:
        conn.close()


def session_reads(session: Any) -> StatusReads:
    """The same queries through a SQLAlchemy Session (PostgreSQL, or after a migration)."""
    from sqlalchemy import text

    stamp = sqlite_stamp if session.get_bind().dialect.name == "sqlite" else _aware
    return StatusReads(
        lambda sql, params: [tuple(r) for r in session.execute(text(sql), params)], stamp
    )


def sqlite_stamp(at: datetime) -> str:
    """How SQLAlchemy stores a time in SQLite (naive UTC, microseconds always written)."""
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _aware(at: datetime) -> datetime:
    return at
