"""The in-memory fakes must keep the same promises as the real connectors."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import pytest

from connectors.base import CalendarSink, CalendarSource
from connectors.errors import CursorExpired
from connectors.memory import MemoryCalendar, MemoryDrafts, MemoryMailbox, raw_message
from connectors.model import CalendarEvent, DraftRef, MailMessage
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
    meet = CalendarEvent("m1", "Interview", now + timedelta(days=1), now + timedelta(days=1))
    cal.add_event(old)
    cal.put_event(meet)
    first = cal.fetch_changes(None, since=now - timedelta(days=90))
    assert [e.uid for e in first.events] == ["m1"]
    assert cal.fetch_changes(first.cursor, since=now).events == ()
    assert cal.find_event("m1") is not None
    assert cal.delete_event("m1") is True and cal.delete_event("m1") is False
    after = cal.fetch_changes(first.cursor, since=now)
    assert after.removed_uids == ("m1",) and after.events == ()
