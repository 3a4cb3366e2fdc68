"""The shared intent pipeline (daemon/act/intents.py) on its own, against a real
SQLite store and the in-memory calendar: one row per key, a lost answer is found
again by key instead of written twice, a failure is kept with its next try."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from connectors.errors import Transient
from connectors.memory_calendar import MemoryCalendar
from connectors.model import CalendarEvent
from daemon.act.intents import Stored, commit_intent, resolve, write_once
from daemon.act.reminder_event import event_at
from daemon.act.reminders import commit_reminder
from daemon.db.calendar_tables import Reminder
from daemon.db.engine import Store
from tests.unit import test_reminders

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
KEY = "s1.2.call"
log = logging.getLogger("test_intents")


store = test_reminders.store  # the same SQLite store with account 1


def commit(store: Store, summary: str) -> None:
    event = event_at(KEY, NOW + timedelta(hours=1), summary, "ghostwatch s1.2.call\n")
    commit_reminder(
        store,
        KEY,
        event,
        NOW,
        account_id=1,
        calendar_account=None,
        sequence_id="s1",
        thread_id=None,
        step=2,
        kind="call",
    )


def row(store: Store) -> Reminder:
    with store.reader() as s:
        found = s.get(Reminder, KEY)
    assert found is not None
    return found


def put_once(cal: MemoryCalendar, store: Store) -> Stored:
    """The attempt the reminder outbox makes: ask by UID first, create only if absent."""
    committed = row(store)
    existing = cal.find_event(committed.uid)
    stored = existing or cal.put_event(
        CalendarEvent(
            uid=committed.uid,
            summary=committed.summary,
            start=committed.at,
            end=committed.end,
            ghostwatch_key=KEY,
        )
    )
    return Stored({"href": stored.href, "etag": stored.etag}, found=existing is not None)


def test_the_intent_is_committed_once_per_key(store: Store) -> None:
    commit(store, "Call Wang Fang")
    commit(store, "a second try with other words")
    assert row(store).summary == "Call Wang Fang"
    assert row(store).state == "intent"

    def must_not_build() -> Reminder:
        raise AssertionError("an existing key builds no second row")

    commit_intent(store, Reminder, KEY, must_not_build)


def test_a_lost_answer_is_found_by_key_not_written_twice(store: Store) -> None:
    cal = MemoryCalendar()
    commit(store, "Call Wang Fang")

    def times_out_after_writing() -> Stored:
        put_once(cal, store)
        raise Transient("read timed out")

    assert write_once(store, Reminder, KEY, NOW, times_out_after_writing, what="t", log=log) is None
    failed = row(store)
    assert (failed.state, failed.attempts, failed.last_error) == ("failed", 1, "read timed out")
    assert failed.next_attempt_at is not None and failed.next_attempt_at > NOW

    later = NOW + timedelta(hours=6)
    done = write_once(store, Reminder, KEY, later, lambda: put_once(cal, store), what="t", log=log)
    assert done is not None and done.found
    written = row(store)
    assert (written.state, written.attempts, written.last_error) == ("written", 2, None)
    assert written.written_at == later and written.href
    assert list(cal.events) == [written.uid]  # one event, not two


def test_resolve_ends_the_row_and_lets_the_caller_add_its_columns(store: Store) -> None:
    commit(store, "Call Wang Fang")
    seen: list[str] = []
    resolve(store, Reminder, KEY, "cancelled", NOW, also=lambda r: seen.append(r.state))
    assert (row(store).state, row(store).resolved_at) == ("cancelled", NOW)
    assert seen == ["cancelled"]
    resolve(store, Reminder, "no.such.key", "cancelled", NOW)  # a vanished row is no error
