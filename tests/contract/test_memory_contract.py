"""The in-memory fakes must keep the same promises as the real connectors."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors import ical
from connectors.base import CalendarSink, CalendarSource
from connectors.errors import CursorExpired, Transient
from connectors.memory import MemoryMailbox, raw_message
from connectors.memory_calendar import MemoryCalendar
from connectors.memory_drafts import MemoryDrafts
from connectors.model import CalendarEvent, DraftRef, MailMessage
from tests.contract.calendar_suite import SINCE, CalendarContract
from tests.contract.draft_sink_suite import DraftSinkContract, make_spec
from tests.contract.mail_source_suite import MailSourceContract, scan


class MemoryHarness:
    def __init__(self) -> None:
        self.mailbox = MemoryMailbox()
        self.drafts = MemoryDrafts(self.mailbox)

    def open_source(self, *, batch_size: int = 500) -> MemoryMailbox:
        self.mailbox.batch_size = batch_size
        return self.mailbox

    def deliver(
        self,
        folder: str,
        raw: bytes,
        *,
        flags: Iterable[str] = (),
        tags: Iterable[str] = (),
        received: datetime | None = None,
    ) -> None:
        self.mailbox.deliver(folder, raw, flags=flags, tags=tags, received=received)

    def remove(self, folder: str, message_id: str) -> None:
        self.mailbox.remove(folder, message_id)

    def set_tags(self, folder: str, message_id: str, tags: Iterable[str]) -> None:
        self.mailbox.set_tags(folder, message_id, tags)

    def set_flags(self, folder: str, message_id: str, flags: Iterable[str]) -> None:
        self.mailbox.set_flags(folder, message_id, flags)

    def open_sink(self) -> MemoryDrafts:
        return MemoryDrafts(self.mailbox)

    def edit_draft(self, ref: DraftRef, body: str) -> None:
        self.drafts.edit_draft(ref, body)

    def delete_draft(self, ref: DraftRef) -> None:
        self.drafts.delete_draft(ref)

    def count_drafts(self) -> int:
        return sum(1 for _ in self.drafts._drafts())


class TestMemorySource(MailSourceContract):
    @pytest.fixture
    def harness(self) -> MemoryHarness:
        return MemoryHarness()


class TestMemoryDrafts(DraftSinkContract):
    @pytest.fixture
    def harness(self) -> MemoryHarness:
        return MemoryHarness()


def test_sent_draft_shows_up_as_gone_draft_and_new_sent_message() -> None:
    h = MemoryHarness()
    _, cursor, _ = scan(h.mailbox, None)
    made = h.drafts.create_draft(make_spec())
    changes, cursor, _ = scan(h.mailbox, cursor)
    assert [m.ref for m in changes if isinstance(m, MailMessage)] == [made.ref]
    h.drafts.send_draft(made)
    changes, _, _ = scan(h.mailbox, cursor)
    assert {type(c).__name__ for c in changes} == {"MessageGone", "MailMessage"}
    assert h.drafts.draft_state(made) == "gone"


def test_reported_message_stays_known_after_it_leaves_the_lookback_window() -> None:
    h = MemoryHarness()
    h.mailbox.deliver(
        "inbox",
        raw_message(
            sender="a@example.org",
            to="b@example.com",
            subject="x",
            message_id="x@example.org",
            date=datetime.now(UTC) - timedelta(days=80),
        ),
    )
    _, cursor, _ = scan(h.mailbox, None)
    h.mailbox.remove("inbox", "x@example.org")
    later = datetime.now(UTC) - timedelta(days=30)  # the window has moved past the message
    changes, _, _ = scan(h.mailbox, cursor, since=later)
    assert [type(c).__name__ for c in changes] == ["MessageGone"]


def test_damaged_cursor_is_cursor_expired() -> None:
    with pytest.raises(CursorExpired):
        list(MemoryMailbox().fetch_changes("{", since=datetime.now(UTC), header_fields=()))


def test_calendar_fake_reports_changes_and_removals() -> None:
    cal = MemoryCalendar()
    assert isinstance(cal, CalendarSource) and isinstance(cal, CalendarSink)
    now = datetime.now(UTC)
    old = CalendarEvent("old", "past", now - timedelta(days=200), now - timedelta(days=200))
    # put_event and delete_event take only ghostwatch's own events, as the real sinks do.
    meet = CalendarEvent(
        "m1", "Interview", now + timedelta(days=1), now + timedelta(days=1), ghostwatch_key="s1.2"
    )
    cal.add_event(old)
    cal.put_event(meet)
    first = cal.fetch_changes(None, since=now - timedelta(days=90))
    assert [e.uid for e in first.events] == ["m1"]
    assert cal.fetch_changes(first.cursor, since=now).events == ()
    assert cal.find_event("m1") is not None
    assert cal.delete_event("m1") is True and cal.delete_event("m1") is False
    after = cal.fetch_changes(first.cursor, since=now)
    assert after.removed_uids == ("m1",) and after.events == ()


class LossyCalendar(MemoryCalendar):
    """Writes land, but the next `lose` answers are lost on the way back."""

    lose = 0

    def put_event(self, event: CalendarEvent) -> CalendarEvent:
        return self._answer(MemoryCalendar.put_event(self, event))

    def delete_event(self, uid: str) -> bool:
        return self._answer(MemoryCalendar.delete_event(self, uid))

    def _answer(self, done: Any) -> Any:
        if self.lose > 0:
            self.lose -= 1
            raise Transient("the answer was lost (test)")
        return done


class MemoryCalendarHarness:
    """The memory calendar holds events, not files: another client's item is
    parsed as the calendar app would show it within the suite's window
    (recurrences expanded from SINCE), and an item no app could parse is
    refused, as a strict server refuses it."""

    _EPOCH = datetime(2026, 1, 1, tzinfo=UTC)  # DTSTAMP of the bytes read_foreign shows

    def __init__(self) -> None:
        self.calendar = LossyCalendar()
        self.foreign: dict[str, bytes] = {}  # name -> bytes another client stored

    def open_calendar(self) -> MemoryCalendar:
        return self.calendar  # a "restarted daemon" sees the same calendar

    def open_without_sync_tokens(self) -> None:
        return None

    def write_foreign(self, name: str, data: bytes) -> bool:
        events, skipped = ical.parse_calendar(data, href=name)
        if skipped or not events:
            return False
        # What a reader still lists after SINCE although its first end is older: it recurs.
        window = {e.uid for e in ical.parse_calendar(data, since=SINCE)[0]}
        for uid in self._uids_in(name):
            self.calendar.remove_event(uid)
        for event in events:
            recurs = event.uid in window and event.end < SINCE
            self.calendar.add_event(replace(event, href=name), recurs=recurs)
        self.foreign[name] = data
        return True

    def delete_foreign(self, name: str) -> None:
        for uid in self._uids_in(name):
            self.calendar.remove_event(uid)
        self.foreign.pop(name, None)

    def read_foreign(self, name: str) -> bytes | None:
        if name in self.foreign:
            return self.foreign[name]
        for event, _ in self.calendar.events.values():
            if event.href == name:
                return ical.build_calendar(event, now=self._EPOCH)
        return None

    def count_items(self) -> int:
        return len(self.calendar.events)

    def drop_write_responses(self, calendar: LossyCalendar, n: int) -> None:
        calendar.lose = n

    def _uids_in(self, name: str) -> list[str]:
        return [uid for uid, (e, _) in self.calendar.events.items() if e.href == name]


class TestMemoryCalendar(CalendarContract):
    @pytest.fixture
    def harness(self) -> MemoryCalendarHarness:
        return MemoryCalendarHarness()
