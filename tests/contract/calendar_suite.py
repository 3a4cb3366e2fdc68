"""The CalendarSource + CalendarSink contract, run against every calendar connector.

How to plug a connector in
--------------------------
Subclass `CalendarContract` and override the `harness` fixture so it returns
an object with these methods (the hook interface; names are stable):

    open_calendar() -> CalendarSource & CalendarSink
        A new connector over the harness's calendar (call it again for a
        "restarted daemon"; it must find what an earlier instance wrote).
        The connector exposes `skipped`: the (uid, reason) pairs its last
        `fetch_changes` could not read.

    open_without_sync_tokens() -> connector | None
        The same calendar read without RFC 6578 sync tokens (the ctag/etag
        fallback), or None when the connector never has sync tokens.

    write_foreign(name: str, data: bytes) -> bool
        Another client (the user's calendar app) stores `data` as item `name`
        (creating or overwriting it). False when the server refuses the data,
        e.g. a strict server rejecting a broken RRULE.

    delete_foreign(name: str) -> None
        Another client deletes item `name`.

    read_foreign(name: str) -> bytes | None
        The item's bytes as another client sees them.

    count_items() -> int
        How many items the calendar holds, as another client sees it.

    drop_write_responses(calendar, n: int) -> None
        The next `n` writes (create, update, delete) of `calendar` reach the
        server or disk, but their answers are lost: the connector sees a
        timeout, exactly as when a response dies on the network.
"""

from __future__ import annotations

import contextlib
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import pytest

from connectors import ical
from connectors.base import CalendarSink, CalendarSource
from connectors.errors import CursorExpired, Permanent, Transient
from connectors.model import CalendarChanges, CalendarEvent

SINCE = datetime(2026, 1, 1, tzinfo=UTC)
SHANGHAI = ZoneInfo("Asia/Shanghai")


class CalendarHarness(Protocol):
    def open_calendar(self) -> Any: ...

    def open_without_sync_tokens(self) -> Any | None: ...

    def write_foreign(self, name: str, data: bytes) -> bool: ...

    def delete_foreign(self, name: str) -> None: ...

    def read_foreign(self, name: str) -> bytes | None: ...

    def count_items(self) -> int: ...

    def drop_write_responses(self, calendar: Any, n: int) -> None: ...


def reminder(key: str = "seq42.2", **overrides: Any) -> CalendarEvent:
    start = datetime(2026, 10, 26, 9, 30, tzinfo=SHANGHAI)
    fields: dict[str, Any] = {
        "uid": ical.uid_for_key(key),
        "summary": "打电话给 王芳 (Wang Fang)",
        "start": start,
        "end": start + timedelta(minutes=15),
        "description": "Wang Fang <wang.fang@example.org>, +86 138 0000 0000\n"
        "Role: Senior Python engineer\nThread: Re: Senior Python role",
        "categories": ("ghostwatch", "call"),
        "ghostwatch_key": key,
        "alarm_minutes": 15,
    }
    fields.update(overrides)
    return CalendarEvent(**fields)


def foreign_ics(
    uid: str,
    *,
    start: str = "20260310T100000Z",
    extra: str = "",
    summary: str = "Lunch with Wang Fang",
    dtstart: bool = True,
) -> bytes:
    """An event as a user's calendar app writes it (no ghostwatch markers)."""
    lines = [
        "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Example Corp//Calendar 1.0//EN",
        "BEGIN:VEVENT", f"UID:{uid}", "DTSTAMP:20260101T000000Z",
        *([f"DTSTART:{start}", "DURATION:PT1H"] if dtstart else []),
        f"SUMMARY:{summary}",
        "ORGANIZER;CN=Li Lei:mailto:li.lei@example.com",
        "ATTENDEE;CN=Wang Fang;PARTSTAT=ACCEPTED:mailto:Wang.Fang@Example.org",
        *([extra] if extra else []),
        "END:VEVENT", "END:VCALENDAR", "",
    ]  # fmt: skip
    return "\r\n".join(lines).encode()


def by_uid(changes: CalendarChanges) -> dict[str, CalendarEvent]:
    return {e.uid: e for e in changes.events}


def put_until_done(calendar: Any, event: CalendarEvent, tries: int = 6) -> CalendarEvent:
    """What the outbox does: retry a write that timed out."""
    for _ in range(tries):
        with contextlib.suppress(Transient):
            return calendar.put_event(event)
    raise AssertionError(f"{event.uid} was never written")


class CalendarContract:
    """Abstract: subclasses override the `harness` fixture (see module docstring)."""

    @pytest.fixture
    def harness(self) -> CalendarHarness:
        raise NotImplementedError("a connector's contract test must provide `harness`")

    @pytest.fixture
    def calendar(self, harness: CalendarHarness) -> Any:
        return harness.open_calendar()

    # -- writing --

    def test_is_a_source_and_a_sink(self, calendar: Any) -> None:
        assert isinstance(calendar, CalendarSource)
        assert isinstance(calendar, CalendarSink)

    def test_create_then_find(self, harness: CalendarHarness, calendar: Any) -> None:
        assert calendar.find_event(reminder().uid) is None
        made = calendar.put_event(reminder())
        assert made.etag and made.href
        assert ical.same_content(made, reminder())
        assert made.ghostwatch_key == "seq42.2" and made.alarm_minutes == 15
        assert made.categories == ("ghostwatch", "call")
        assert calendar.find_event(made.uid) == made
        assert harness.open_calendar().find_event(made.uid) == made
        assert harness.count_items() == 1

    def test_same_uid_twice_is_one_event(self, harness: CalendarHarness, calendar: Any) -> None:
        first = calendar.put_event(reminder())
        again = harness.open_calendar().put_event(reminder())
        assert again.etag == first.etag and again.href == first.href
        assert harness.count_items() == 1

    def test_lost_answer_then_retry_is_one_event(
        self, harness: CalendarHarness, calendar: Any
    ) -> None:
        harness.drop_write_responses(calendar, 1)
        with pytest.raises(Transient):
            calendar.put_event(reminder())
        assert harness.count_items() == 1  # the write did land
        assert ical.same_content(calendar.put_event(reminder()), reminder())
        assert harness.count_items() == 1

    def test_three_timeouts_still_one_event(self, harness: CalendarHarness, calendar: Any) -> None:
        harness.drop_write_responses(calendar, 3)
        put_until_done(calendar, reminder(summary="first"))
        changed = reminder(summary="second")
        harness.drop_write_responses(calendar, 3)
        stored = put_until_done(calendar, changed)
        assert harness.count_items() == 1
        assert stored.summary == "second"
        assert harness.open_calendar().find_event(changed.uid) == stored

    def test_update_in_place(self, harness: CalendarHarness, calendar: Any) -> None:
        first = calendar.put_event(reminder())
        moved = reminder(start=first.start + timedelta(days=1), end=first.end + timedelta(days=1))
        second = calendar.put_event(moved)
        assert second.href == first.href and second.etag != first.etag
        assert second.start == moved.start and second.sequence == first.sequence + 1
        assert harness.count_items() == 1
        assert calendar.find_event(first.uid) == second

    def test_delete(self, harness: CalendarHarness, calendar: Any) -> None:
        made = calendar.put_event(reminder())
        assert calendar.delete_event(made.uid) is True
        assert calendar.find_event(made.uid) is None
        assert harness.count_items() == 0
        assert calendar.delete_event(made.uid) is False

    def test_delete_after_lost_answer(self, harness: CalendarHarness, calendar: Any) -> None:
        made = calendar.put_event(reminder())
        harness.drop_write_responses(calendar, 1)
        with pytest.raises(Transient):
            calendar.delete_event(made.uid)
        assert calendar.delete_event(made.uid) is False  # already gone: nothing to do
        assert harness.count_items() == 0

    def test_never_touches_the_users_events(self, harness: CalendarHarness, calendar: Any) -> None:
        mine = foreign_ics("user-meeting-1")
        assert harness.write_foreign("user-meeting-1.ics", mine)
        before = harness.read_foreign("user-meeting-1.ics")
        hijack = reminder(uid="user-meeting-1")  # carries a key, but the stored event does not
        with pytest.raises(Permanent):
            calendar.put_event(hijack)
        with pytest.raises(Permanent):
            calendar.delete_event("user-meeting-1")
        unmarked = reminder(uid="someone-else", ghostwatch_key=None)
        with pytest.raises(Permanent):
            calendar.put_event(unmarked)
        assert harness.read_foreign("user-meeting-1.ics") == before
        assert harness.count_items() == 1

    # -- reading --

    def _incremental_story(self, harness: CalendarHarness, calendar: Any) -> str:
        """Creates, updates and deletes by another client, seen one read at a time."""
        first = calendar.fetch_changes(None, since=SINCE)
        assert first.events == () and first.removed_uids == ()
        assert harness.write_foreign("lunch.ics", foreign_ics("lunch-1"))
        seen = calendar.fetch_changes(first.cursor, since=SINCE)
        lunch = by_uid(seen)["lunch-1"]
        assert lunch.summary == "Lunch with Wang Fang"
        assert [a.addr for a in lunch.attendees] == ["wang.fang@example.org"]
        assert lunch.organizer is not None and lunch.organizer.addr == "li.lei@example.com"
        assert lunch.end - lunch.start == timedelta(hours=1)
        quiet = calendar.fetch_changes(seen.cursor, since=SINCE)
        assert quiet.events == () and quiet.removed_uids == ()
        moved = foreign_ics("lunch-1", start="20260311T100000Z", summary="Lunch (moved)")
        assert harness.write_foreign("lunch.ics", moved)
        updated = calendar.fetch_changes(quiet.cursor, since=SINCE)
        assert [e.summary for e in updated.events] == ["Lunch (moved)"]
        assert updated.events[0].start == datetime(2026, 3, 11, 10, tzinfo=UTC)
        harness.delete_foreign("lunch.ics")
        gone = calendar.fetch_changes(updated.cursor, since=SINCE)
        assert gone.events == () and gone.removed_uids == ("lunch-1",)
        return gone.cursor

    def test_incremental_reads_see_another_clients_changes(
        self, harness: CalendarHarness, calendar: Any
    ) -> None:
        cursor = self._incremental_story(harness, calendar)
        # A restarted daemon continues from the stored cursor.
        later = harness.open_calendar()
        made = later.put_event(reminder())
        seen = later.fetch_changes(cursor, since=SINCE)
        assert list(by_uid(seen)) == [made.uid]
        later.delete_event(made.uid)
        assert later.fetch_changes(seen.cursor, since=SINCE).removed_uids == (made.uid,)

    def test_fallback_without_sync_tokens(self, harness: CalendarHarness) -> None:
        calendar = harness.open_without_sync_tokens()
        if calendar is None:
            pytest.skip("this connector has no sync tokens to fall back from")
        self._incremental_story(harness, calendar)

    def test_first_read_starts_at_since(self, harness: CalendarHarness, calendar: Any) -> None:
        assert harness.write_foreign("old.ics", foreign_ics("old-1", start="20200105T100000Z"))
        weekly = foreign_ics("weekly-1", start="20200106T020000Z", extra="RRULE:FREQ=WEEKLY")
        assert harness.write_foreign("weekly.ics", weekly)
        assert harness.write_foreign("new.ics", foreign_ics("new-1"))
        first = calendar.fetch_changes(None, since=SINCE)
        assert set(by_uid(first)) == {"weekly-1", "new-1"}
        assert calendar.fetch_changes(first.cursor, since=SINCE).events == ()

    def test_unreadable_events_are_skipped_with_a_reason(
        self, harness: CalendarHarness, calendar: Any
    ) -> None:
        first = calendar.fetch_changes(None, since=SINCE)
        broken_rrule = foreign_ics("broken-rrule", extra="RRULE:FREQ=SOMETIMES;COUNT=x")
        no_start = foreign_ics("no-start", dtstart=False)
        written = {
            "broken-rrule": harness.write_foreign("broken-rrule.ics", broken_rrule),
            "no-start": harness.write_foreign("no-start.ics", no_start),
        }
        assert harness.write_foreign("fine.ics", foreign_ics("fine-1"))
        if not any(written.values()):
            pytest.skip("the server refuses broken events, so no client can store one")
        changes = calendar.fetch_changes(first.cursor, since=SINCE)
        assert set(by_uid(changes)) == {"fine-1"}
        reasons = dict(calendar.skipped)
        if written["broken-rrule"]:
            assert "RRULE" in reasons["broken-rrule"]
        if written["no-start"]:
            assert "DTSTART" in reasons["no-start"]

    @pytest.mark.parametrize("zone", ["Asia/Shanghai", "Europe/Berlin"])
    def test_local_time_survives_the_dst_change(
        self, harness: CalendarHarness, calendar: Any, zone: str
    ) -> None:
        tz = ZoneInfo(zone)
        start = datetime(2026, 10, 26, 9, 30, tzinfo=tz)  # Berlin left summer time on the 25th
        event = reminder(start=start, end=start + timedelta(minutes=15))
        calendar.put_event(event)
        for read in (
            harness.open_calendar().find_event(event.uid),
            by_uid(harness.open_calendar().fetch_changes(None, since=SINCE)).get(event.uid),
        ):
            assert read is not None
            local = read.start.astimezone(tz)
            assert (local.date(), local.time()) == (start.date(), time(9, 30))
            assert read.start.utcoffset() == start.utcoffset()
            assert read.end - read.start == timedelta(minutes=15)
            assert read.alarm_minutes == 15
        raw = harness.read_foreign(ical.resource_name(event.uid))
        assert raw is not None
        text = raw.replace(b"\r\n ", b"").decode()
        assert "BEGIN:VALARM" in text and "TRIGGER:-PT15M" in text and "ACTION:DISPLAY" in text
        assert f"DTSTART;TZID={zone}:20261026T093000" in text
        assert f"TZID:{zone}" in text  # the VTIMEZONE travels with the event

    def test_utc_reminder_is_written_in_utc(self, harness: CalendarHarness, calendar: Any) -> None:
        start = datetime(2026, 10, 26, 1, 30, tzinfo=UTC)
        made = calendar.put_event(reminder(start=start, end=start + timedelta(minutes=15)))
        assert made.start == start
        raw = harness.read_foreign(ical.resource_name(made.uid)) or b""
        assert b"DTSTART:20261026T013000Z" in raw

    def test_damaged_cursor_is_cursor_expired(self, calendar: Any) -> None:
        good = calendar.fetch_changes(None, since=SINCE).cursor
        for bad in ("not json", '{"v": 99}', good.replace('"v":1', '"v":7'), "[]"):
            with pytest.raises(CursorExpired):
                calendar.fetch_changes(bad, since=SINCE)

    def test_own_reminders_show_up_in_reads(self, calendar: Any) -> None:
        first = calendar.fetch_changes(None, since=SINCE)
        made = calendar.put_event(reminder())
        seen = by_uid(calendar.fetch_changes(first.cursor, since=SINCE))
        assert seen[made.uid].ghostwatch_key == "seq42.2"
        assert replace(seen[made.uid], href=None, etag=None) == replace(made, href=None, etag=None)
