"""connectors.ical: building reminders and reading whatever other clients wrote."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from connectors import ical
from connectors.errors import Permanent
from connectors.model import Address, CalendarEvent

NOW = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)
SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")


def event(**kw: object) -> CalendarEvent:
    start = datetime(2026, 10, 26, 9, 30, tzinfo=BERLIN)
    fields: dict[str, object] = {
        "uid": ical.uid_for_key("seq7.2"),
        "summary": "Call Wang Fang",
        "start": start,
        "end": start + timedelta(minutes=15),
        "ghostwatch_key": "seq7.2",
        "alarm_minutes": 15,
    }
    fields.update(kw)
    return CalendarEvent(**fields)  # type: ignore[arg-type]


def ics(*vevent_lines: str, method: str | None = None, extra: tuple[str, ...] = ()) -> bytes:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//t//t//EN"]
    if method:
        lines.append(f"METHOD:{method}")
    lines += [*extra, "BEGIN:VEVENT", *vevent_lines, "END:VEVENT", "END:VCALENDAR", ""]
    return "\r\n".join(lines).encode()


def one(data: bytes, **kw: object) -> CalendarEvent:
    events, skipped = ical.parse_calendar(data, **kw)  # type: ignore[arg-type]
    assert skipped == [] and len(events) == 1
    return events[0]


# -- building -------------------------------------------------------------------


def test_reminder_round_trips_with_zone_alarm_and_key() -> None:
    data = ical.build_calendar(event(description="+86 138 0000 0000"), now=NOW)
    text = data.decode()
    assert "DTSTART;TZID=Europe/Berlin:20261026T093000" in text
    assert "BEGIN:VTIMEZONE" in text and "TZOFFSETTO:+0100" in text
    assert "TRIGGER:-PT15M" in text and "ACTION:DISPLAY" in text
    assert "X-GHOSTWATCH-KEY:seq7.2" in text and "DTSTAMP:20261001T080000Z" in text
    assert "X-MICROSOFT-CDO-BUSYSTATUS:BUSY" in text and "TRANSP:OPAQUE" in text
    assert "ATTENDEE" not in text and "ORGANIZER" not in text
    back = one(data)
    assert back.start.utcoffset() == timedelta(hours=1)
    assert (back.alarm_minutes, back.ghostwatch_key) == (15, "seq7.2")
    assert ical.same_content(back, event(description="+86 138 0000 0000"))


def test_fixed_offset_and_utc_are_written_as_utc() -> None:
    start = datetime(2026, 10, 26, 9, 30, tzinfo=timezone(timedelta(hours=8)))
    data = ical.build_calendar(event(start=start, end=start + timedelta(hours=1)), now=NOW)
    assert b"DTSTART:20261026T013000Z" in data and b"VTIMEZONE" not in data
    assert one(data).start == start


def test_floating_times_are_refused() -> None:
    naive = datetime(2026, 10, 26, 9, 30)
    with pytest.raises(ValueError):
        ical.build_calendar(event(start=naive, end=naive), now=NOW)


def test_all_day_event_uses_dates() -> None:
    start = datetime(2026, 10, 1, tzinfo=SHANGHAI)
    data = ical.build_calendar(event(start=start, end=start, all_day=True), now=NOW)
    assert b"DTSTART;VALUE=DATE:20261001" in data and b"DTEND;VALUE=DATE:20261002" in data
    back = one(data, floating_tz=SHANGHAI)
    assert back.all_day and back.start == start and back.end == start + timedelta(days=1)


def test_transparent_categories_and_status() -> None:
    data = ical.build_calendar(
        event(transparent=True, categories=("ghostwatch", "电话"), status="tentative"), now=NOW
    )
    back = one(data)
    assert back.transparent and back.busy_status == "FREE"
    assert back.categories == ("ghostwatch", "电话") and back.status == "TENTATIVE"


def test_ownership() -> None:
    assert ical.is_ghostwatch("ghostwatch-seq1.1", None)
    assert ical.is_ghostwatch("abc", "seq1.1")
    assert not ical.is_ghostwatch("abc", None)
    with pytest.raises(Permanent):
        ical.require_ghostwatch(event(uid="user-1", ghostwatch_key=None))


def test_resource_names() -> None:
    assert ical.resource_name("ghostwatch-seq1.2") == "ghostwatch-seq1.2.ics"
    odd = ical.resource_name("a/b c")
    assert odd.endswith(".ics") and "/" not in odd and len(odd) == 44


# -- parsing --------------------------------------------------------------------


def test_other_clients_event_with_attendees() -> None:
    data = ics(
        "UID:m1", "DTSTAMP:20260101T000000Z", "DTSTART;TZID=Asia/Shanghai:20261026T140000",
        "DTEND;TZID=Asia/Shanghai:20261026T150000", "SUMMARY:面试 Interview", "STATUS:CONFIRMED",
        "SEQUENCE:3", "ORGANIZER;CN=李雷:mailto:Li.Lei@example.com",
        "ATTENDEE;CN=Wang Fang;PARTSTAT=ACCEPTED:mailto:Wang.Fang@Example.org",
        "ATTENDEE;CUTYPE=ROOM:urn:uuid:room-1", "CATEGORIES:a,b", "CATEGORIES:c",
    )  # fmt: skip
    ev = one(data)
    assert ev.attendees == (Address("wang.fang@example.org", "Wang Fang"),)
    assert ev.organizer == Address("li.lei@example.com", "李雷")
    assert (ev.status, ev.sequence, ev.categories) == ("CONFIRMED", 3, ("a", "b", "c"))
    assert ev.start == datetime(2026, 10, 26, 14, tzinfo=SHANGHAI)
    assert ev.ghostwatch_key is None and ev.alarm_minutes is None


@pytest.mark.parametrize(
    ("lines", "start", "end"),
    [
        (("DTSTART:20261026T010000Z",), datetime(2026, 10, 26, 1, tzinfo=UTC),
         datetime(2026, 10, 26, 1, tzinfo=UTC)),
        (("DTSTART:20261026T010000Z", "DURATION:PT90M"), datetime(2026, 10, 26, 1, tzinfo=UTC),
         datetime(2026, 10, 26, 2, 30, tzinfo=UTC)),
        (("DTSTART;VALUE=DATE:20261026",), datetime(2026, 10, 26, tzinfo=SHANGHAI),
         datetime(2026, 10, 27, tzinfo=SHANGHAI)),
        (("DTSTART:20261026T090000",), datetime(2026, 10, 26, 9, tzinfo=SHANGHAI),
         datetime(2026, 10, 26, 9, tzinfo=SHANGHAI)),
        (("DTSTART;TZID=China Standard Time:20261026T090000",),
         datetime(2026, 10, 26, 9, tzinfo=SHANGHAI), datetime(2026, 10, 26, 9, tzinfo=SHANGHAI)),
    ],
)  # fmt: skip
def test_start_and_end_forms(lines: tuple[str, ...], start: datetime, end: datetime) -> None:
    ev = one(ics("UID:x", *lines), floating_tz=SHANGHAI)
    assert (ev.start, ev.end) == (start, end)
    assert ev.start.tzinfo is not None


@pytest.mark.parametrize(
    ("lines", "reason"),
    [
        (("UID:r1", "DTSTART:20261026T010000Z", "RRULE:FREQ=SOMETIMES"), "RRULE"),
        (("UID:r2", "DTSTART:20261026T010000Z", "RRULE:FREQ=WEEKLY;BYDAY=XX"), "RRULE"),
        (("UID:r3", "SUMMARY:no start"), "DTSTART"),
        (("UID:r4", "DTSTART:2026BAD"), "DTSTART"),
        (("UID:r5", "DTSTART:20261026T010000Z", "DTEND:20261025T010000Z"), "ends before"),
        (("DTSTART:20261026T010000Z",), "UID"),
    ],
)  # fmt: skip
def test_unusable_events_are_skipped_with_a_reason(lines: tuple[str, ...], reason: str) -> None:
    events, skipped = ical.parse_calendar(ics(*lines))
    assert events == [] and len(skipped) == 1
    assert reason in skipped[0][1]


def test_not_icalendar_at_all() -> None:
    for junk in (b"", b"hello", b"\x00\xff\xfe", b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n"):
        assert ical.parse_calendar(junk)[0] == []


def test_recurring_master_wins_over_overrides() -> None:
    data = (
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:t\r\n"
        b"BEGIN:VEVENT\r\nUID:w\r\nRECURRENCE-ID:20260112T020000Z\r\n"
        b"DTSTART:20260112T030000Z\r\nSUMMARY:moved once\r\nEND:VEVENT\r\n"
        b"BEGIN:VEVENT\r\nUID:w\r\nDTSTART:20260105T020000Z\r\nRRULE:FREQ=WEEKLY\r\n"
        b"SUMMARY:weekly 1:1\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    assert one(data).summary == "weekly 1:1"


def test_since_keeps_recurring_and_drops_old() -> None:
    since = datetime(2026, 1, 1, tzinfo=UTC)
    weekly = ics("UID:w", "DTSTART:20200106T020000Z", "RRULE:FREQ=WEEKLY")
    ended = ics("UID:e", "DTSTART:20200106T020000Z", "RRULE:FREQ=WEEKLY;UNTIL=20200301T000000Z")
    old = ics("UID:o", "DTSTART:20200106T020000Z")
    assert [e.uid for e in ical.parse_calendar(weekly, since=since)[0]] == ["w"]
    assert ical.parse_calendar(ended, since=since) == ([], [])
    assert ical.parse_calendar(old, since=since) == ([], [])


def test_count_with_until_is_tolerated_quietly(recwarn: pytest.WarningsRecorder) -> None:
    data = ics("UID:cu", "DTSTART:20261026T010000Z",
               "RRULE:FREQ=DAILY;COUNT=2;UNTIL=20270101T000000Z")  # fmt: skip
    assert one(data, since=datetime(2026, 1, 1, tzinfo=UTC)).uid == "cu"
    assert not [w for w in recwarn if issubclass(w.category, DeprecationWarning)]


def test_floating_until_with_zoned_start_is_not_broken() -> None:
    data = ics("UID:f", "DTSTART;TZID=Europe/Berlin:20260105T090000",
               "RRULE:FREQ=WEEKLY;UNTIL=20260301T090000")  # fmt: skip
    assert one(data).uid == "f"


def test_alarm_after_start_is_not_a_reminder_lead() -> None:
    data = ics("UID:a", "DTSTART:20261026T010000Z", "BEGIN:VALARM", "ACTION:DISPLAY",
               "TRIGGER;RELATED=END:PT5M", "DESCRIPTION:x", "END:VALARM")  # fmt: skip
    assert one(data).alarm_minutes is None


# -- iMIP -----------------------------------------------------------------------


def test_imip_reply_accepted() -> None:
    data = ics(
        "UID:invite-1", "DTSTAMP:20261001T000000Z", "DTSTART;TZID=Asia/Shanghai:20261027T100000",
        "ATTENDEE;PARTSTAT=ACCEPTED;CN=Wang Fang:mailto:Wang.Fang@Example.org",
        method="REPLY",
    )  # fmt: skip
    assert ical.parse_imip_reply(data) == [
        ical.ImipReply("wang.fang@example.org", "ACCEPTED", "invite-1",
                       datetime(2026, 10, 27, 10, tzinfo=SHANGHAI)),
    ]  # fmt: skip


def test_imip_reply_without_start_and_other_methods() -> None:
    reply = ics("UID:i2", "ATTENDEE;PARTSTAT=DECLINED:mailto:a@example.org", method="REPLY")
    assert ical.parse_imip_reply(reply) == [ical.ImipReply("a@example.org", "DECLINED", "i2", None)]
    request = ics("UID:i3", "ATTENDEE;PARTSTAT=ACCEPTED:mailto:a@example.org", method="REQUEST")
    assert ical.parse_imip_reply(request) == []
    assert ical.parse_imip_reply(b"\x00garbage") == []
    broken_start = ics("UID:i4", "DTSTART:nope", "ATTENDEE;PARTSTAT=ACCEPTED:mailto:b@example.org",
                       method="REPLY")  # fmt: skip
    assert ical.parse_imip_reply(broken_start)[0].dtstart is None


def test_all_day_reply_start_is_a_date_at_midnight() -> None:
    data = ics("UID:i5", "DTSTART;VALUE=DATE:20261027",
               "ATTENDEE;PARTSTAT=TENTATIVE:mailto:c@example.org", method="REPLY")  # fmt: skip
    (answer,) = ical.parse_imip_reply(data, floating_tz=SHANGHAI)
    assert answer.dtstart is not None and answer.dtstart.date() == date(2026, 10, 27)
