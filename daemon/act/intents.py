"""The intent pipeline that drafts and reminders share.

Delivery is at-least-once and every write is idempotent by key (nylas'
ActionLog rule):

1. `commit_intent`: the row saying what will be written is committed first
   (state `intent`), once per key; a second call for the same key is a no-op.
2. `write_once`: the sink is asked for the key before anything is created, so a
   retry after a timeout that did write finds the earlier write instead of
   making a second one; the provider's handle is stored after (`written`), or
   the failure with its backoff (`failed`, retried from the table).
3. `resolve`: the row ends (cancelled, withdrawn, removed, ...).

What to write and when, and the re-checks before writing, stay with the
callers (drafts.py, reminders.py): this module knows rows and sinks only by key.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.orm import InstrumentedAttribute

from connectors.errors import ConnectorError
from daemon.backoff import mark_failed
from daemon.db.engine import Store


@dataclass(frozen=True, slots=True)
class Stored:
    """What one attempt left in the sink: the columns to keep, and whether it was there."""

    columns: dict[str, Any]  # the provider's handle (ref, hash, href, etag)
    found: bool  # written by an earlier try, found by its key


Attempt = Callable[[], Stored]


def commit_intent(store: Store, table: type[Any], key: str, make: Callable[[], Any]) -> None:
    """Commit the intent row `make()` unless a row with `key` exists already."""
    with store.transaction() as s:
        if s.get(table, key) is None:
            s.add(make())


def write_once(
    store: Store,
    table: type[Any],
    key: str,
    now: datetime,
    attempt: Attempt,
    *,
    what: str,
    log: logging.Logger,
) -> Stored | None:
    """Run `attempt` (find by key, else create) and record its outcome on the row.

    None when the sink refused: the row is `failed` with its next try scheduled.
    """
    try:
        stored = attempt()
    except ConnectorError as exc:
        record_failure(store, table, key, str(exc), now)
        log.warning("%s %s not written: %s (will retry)", what, key, exc)
        return None
    with store.transaction() as s:
        row = s.get(table, key)
        if row is not None:
            row.state = "written"
            for name, value in stored.columns.items():
                setattr(row, name, value)
            row.written_at = now
            row.attempts += 1
            row.last_error = None
    return stored


def record_failure(store: Store, table: type[Any], key: str, error: str, now: datetime) -> None:
    with store.transaction() as s:
        row = s.get(table, key)
        if row is not None:
            mark_failed(row, error, now)


def resolve(
    store: Store,
    table: type[Any],
    key: str,
    state: str,
    now: datetime,
    also: Callable[[Any], None] | None = None,
) -> None:
    """End the row in `state`; `also` adds what the caller's table records besides."""
    with store.transaction() as s:
        row = s.get(table, key)
        if row is not None:
            row.state = state
            row.resolved_at = now
            if also is not None:
                also(row)


def held_by(column: InstrumentedAttribute[str | None], name: str | None) -> ColumnElement[bool]:
    """Rows written into `name`'s Drafts or calendar; None: the account's own."""
    if name is None:
        return column.is_(None)
    return column == name
