"""Calendar entries and invitation answers -> Meeting / RedFlag, and the ingest behind them."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from connectors.errors import CursorExpired
from connectors.ical import parse_imip_reply
from connectors.memory_calendar import MemoryCalendar
from connectors.model import Address, CalendarChanges, CalendarEvent
from daemon.db.calendar_tables import CalendarEntry
from daemon.db.engine import Store
from daemon.db.tables import Account, Base
from daemon.decide.calendar_signals import (
    InviteAnswer,
    answers_from,
    calendar_events_for,
    mentioned_addresses,
)
from daemon.ingest.calendar import load_answers, load_entries, record_answers, sync_calendar
from daemon.tracker.business_calendar import BusinessCalendar
from daemon.tracker.calendar_entry import EntryView
from daemon.tracker.machine import Context, replay
from daemon.tracker.policy import Playbook, parse_duration
from daemon.tracker.states import Event, Meeting, Outbound, RedFlag, State

SH = ZoneInfo("Asia/Shanghai")
CONTACT = "wang.fang@example.com"
ALIAS = "fang.wang@gmail.example"


def at(day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=SH)


SINCE = at(2)  # Mon: the outreach


def entry(**kw: object) -> EntryView:
    values: dict[str, object] = {
        "uid": "ev1",
        "summary": "面试：王芳",
        "start": at(6, 14),
        "end": at(6, 15),
        "first_seen": at(3),
        "last_seen": at(3),
        "attendees": (CONTACT, "li.lei@hunter.example"),
        "organizer": "li.lei@hunter.example",
    }
    values.update(kw)
    return EntryView(**values)  # type: ignore[arg-type]


MEET = Meeting(at=at(3), ref="ev1", summary="面试：王芳")

ENTRY_CASES = [
    ("contact is an attendee", entry(), [MEET]),
    (
        "contact organized it",
        entry(attendees=("li.lei@hunter.example",), organizer=CONTACT),
        [MEET],
    ),
    (
        "address written in the text",
        entry(attendees=(), organizer=None, mentions=(CONTACT,)),
        [MEET],
    ),
    ("an alias counts", entry(attendees=(ALIAS,)), [MEET]),
    ("someone else's meeting", entry(attendees=("zhang.san@example.com",)), []),
    ("ghostwatch's own reminder", entry(is_ghostwatch=True, uid="ghostwatch-s1.2.call"), []),
    ("happened before the outreach", entry(start=at(1, 14), end=at(1, 15)), []),
    (
        "booked before the outreach, held after: ends it at once",
        entry(first_seen=at(1)),
        [dataclasses.replace(MEET, at=SINCE)],
    ),
    (
        "first seen after it took place: it happened when it happened",
        entry(start=at(4, 14), end=at(4, 15), first_seen=at(9)),
        [dataclasses.replace(MEET, at=at(4, 14))],
    ),
    ("deleted later: the meeting still existed", entry(deleted=True), [MEET]),
    ("moved once", entry(times_moved=1), [MEET]),
    (
        "moved twice: rescheduled, flagged before the meeting ends the sequence",
        entry(times_moved=2, moved_at=at(5)),
        [RedFlag(at=at(3), flag="rescheduled", order=1), MEET],
    ),
    (
        "cancelled after it was seen",
        entry(status="CANCELLED", cancelled_at=at(5), cancelled_by=CONTACT),
        [RedFlag(at=at(3), flag="cancelled_by_contact", order=1), MEET],
    ),
    (
        "first seen already cancelled: never a meeting, flagged once",
        entry(status="CANCELLED", first_seen=at(5), cancelled_at=at(5)),
        [RedFlag(at=at(5), flag="cancelled_by_contact")],
    ),
]


@pytest.mark.parametrize(("case", "view", "expected"), ENTRY_CASES, ids=[c[0] for c in ENTRY_CASES])
def test_entry_signals(case: str, view: EntryView, expected: list[object]) -> None:
    assert calendar_events_for([view], {CONTACT, ALIAS}, SINCE) == expected


def answer(
    partstat: str = "ACCEPTED", attendee: str = CONTACT, when: datetime | None = None
) -> InviteAnswer:
    return InviteAnswer(attendee, partstat, "inv1", at(9, 14), when or at(4))


ANSWER_CASES = [
    ("accepted", answer(), [Meeting(at=at(4), ref="inv1", summary="accepted the invitation")]),
    ("declined", answer("DECLINED"), []),
    ("tentative", answer("TENTATIVE"), []),
    ("someone else accepted", answer(attendee="zhang.san@example.com"), []),
    ("accepted before the outreach", answer(when=at(1)), []),
]


@pytest.mark.parametrize(
    ("case", "reply", "expected"), ANSWER_CASES, ids=[c[0] for c in ANSWER_CASES]
)
def test_invitation_answers(case: str, reply: InviteAnswer, expected: list[object]) -> None:
    assert calendar_events_for([], {CONTACT}, SINCE, [reply]) == expected


def test_answers_from_imip_replies_are_stamped_with_the_mail_time() -> None:
    class Reply:  # the shape of connectors.ical.ImipReply
        def __init__(self, attendee: str, partstat: str) -> None:
            self.attendee, self.partstat, self.uid, self.dtstart = attendee, partstat, "u", None

    got = answers_from([Reply(" Wang.Fang@Example.com", "accepted")], at(4))
    assert got == [InviteAnswer(CONTACT, "ACCEPTED", "u", None, at(4))]


def test_mentioned_addresses_are_lower_case_and_unique() -> None:
    text = "Call Wang.Fang@Example.com (or wang.fang@example.com), cc hr@corp.example.cn."
    assert mentioned_addresses("面试", text) == ("wang.fang@example.com", "hr@corp.example.cn")


# ---- through the tracker ----------------------------------------------------------------


def ctx() -> Context:
    playbook = Playbook(
        steps=tuple(parse_duration(s) for s in ("1bd", "3bd", "6bd")),
        close_after=parse_duration("3bd"),
        min_gap=parse_duration("1bd"),
        ooo_default=parse_duration("5bd"),
    )
    return Context(playbook, BusinessCalendar("Asia/Shanghai", "CN", (time(9), time(18))))


def test_a_rescheduled_meeting_ends_the_sequence_met_with_the_flag_kept() -> None:
    events: list[Event] = [Outbound(at=SINCE, ref="o1")]
    events += calendar_events_for([entry(times_moved=3)], {CONTACT}, SINCE)
    (run,) = replay(events, at(10), ctx())
    assert run.record.state is State.MET
    assert run.record.red_flags == ("rescheduled",)


def test_a_meeting_cancelled_unseen_flags_the_open_sequence() -> None:
    view = entry(status="CANCELLED", first_seen=at(5), cancelled_at=at(5))
    events = [Outbound(at=SINCE, ref="o1"), *calendar_events_for([view], {CONTACT}, SINCE)]
    (run,) = replay(events, at(5, 12), ctx())
    assert run.record.state.open
    assert run.record.red_flags == ("cancelled_by_contact",)


# ---- ingest: what the calendar holds, as rows -------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'gw.db'}", upgrade=False)
    Base.metadata.create_all(s.engine)
    with s.transaction() as tx:
        tx.add(Account(id=1, name="work", address="li.lei@hunter.example"))
    yield s
    s.close()


def interview(start: datetime, **kw: object) -> CalendarEvent:
    values: dict[str, object] = {
        "uid": "iv-1",
        "summary": "Interview",
        "start": start,
        "end": start + timedelta(hours=1),
        "attendees": (Address(CONTACT.upper()),),
        "organizer": Address("li.lei@hunter.example"),
        "description": f"Dial-in for {ALIAS}",
    }
    values.update(kw)
    return CalendarEvent(**values)  # type: ignore[arg-type]


def sync(store: Store, cal: MemoryCalendar, now: datetime) -> None:
    sync_calendar(store, 1, cal, now, lookback=timedelta(days=90))


def views(store: Store) -> list[EntryView]:
    with store.reader() as s:
        return load_entries(s, 1, since=at(1))


def test_ingest_counts_moves_and_keeps_first_seen(store: Store) -> None:
    cal = MemoryCalendar()
    cal.add_event(interview(at(6, 14)))
    sync(store, cal, at(3))
    sync(store, cal, at(3, 11))  # nothing changed: nothing moves
    cal.add_event(interview(at(9, 14)))
    sync(store, cal, at(4))
    cal.add_event(interview(at(10, 14), summary="Interview (new time)"))
    sync(store, cal, at(5))
    (view,) = views(store)
    assert (view.times_moved, view.moved_at, view.first_seen) == (2, at(5), at(3))
    assert view.attendees == (CONTACT,)
    assert view.mentions == (ALIAS,)
    events = calendar_events_for(views(store), {CONTACT}, SINCE)
    assert [type(e).__name__ for e in events] == ["RedFlag", "Meeting"]


def test_ingest_stamps_cancellation_once_and_keeps_removed_entries(store: Store) -> None:
    cal = MemoryCalendar()
    cal.add_event(interview(at(6, 14)))
    sync(store, cal, at(3))
    cal.add_event(interview(at(6, 14), status="CANCELLED", organizer=Address(CONTACT)))
    sync(store, cal, at(4))
    cal.add_event(interview(at(6, 14), status="cancelled", sequence=2))
    sync(store, cal, at(5))
    cal.remove_event("iv-1")
    sync(store, cal, at(6))
    (view,) = views(store)
    assert (view.cancelled_at, view.cancelled_by, view.deleted) == (at(4), CONTACT, True)


def test_ingest_marks_ghostwatch_events_and_leaves_them_out_of_signals(store: Store) -> None:
    cal = MemoryCalendar()
    cal.add_event(
        interview(at(6, 14), uid="ghostwatch-s1.2.call@ghostwatch", ghostwatch_key="s1.2.call")
    )
    sync(store, cal, at(3))
    assert views(store) == []
    with store.reader() as s:
        assert s.query(CalendarEntry).one().is_ghostwatch


def test_all_day_entries_keep_their_calendar_dates(store: Store) -> None:
    cal = MemoryCalendar()
    start = datetime(2026, 11, 9, tzinfo=SH)  # floating DATE read in Shanghai time
    cal.add_event(interview(start, end=start + timedelta(days=2), all_day=True, uid="off"))
    sync(store, cal, at(3))
    (view,) = views(store)
    assert view.start.tzinfo == UTC  # the instant went through the database in UTC
    assert (view.start_day, view.end_day) == (start.date(), start.date() + timedelta(days=2))


class ExpiringCalendar(MemoryCalendar):
    """A server that forgot our sync token once."""

    expired: bool = False

    def fetch_changes(self, cursor: str | None, *, since: datetime) -> CalendarChanges:
        if cursor is not None and self.expired:
            self.expired = False
            raise CursorExpired("sync-token no longer valid")
        return MemoryCalendar.fetch_changes(self, cursor, since=since)


def test_expired_cursor_rescans_and_marks_what_disappeared(store: Store) -> None:
    cal = ExpiringCalendar()
    cal.add_event(interview(at(6, 14)))
    cal.add_event(interview(at(7, 14), uid="iv-2"))
    sync(store, cal, at(3))
    # Removed while the token expired: only the full listing can tell.
    del cal.events["iv-2"]
    cal.expired = True
    report = sync_calendar(store, 1, cal, at(4), lookback=timedelta(days=90))
    assert report.rescanned and report.removed == 1
    assert {(v.uid, v.deleted) for v in views(store)} == {("iv-1", False), ("iv-2", True)}


IMIP_REPLY = b"""BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Google Inc//Google Calendar 70.9054//EN
METHOD:REPLY
BEGIN:VEVENT
UID:inv-42@hunter.example
DTSTAMP:20261104T020000Z
DTSTART:20261109T060000Z
ATTENDEE;CN=Wang Fang;PARTSTAT=ACCEPTED:mailto:Wang.Fang@example.com
END:VEVENT
END:VCALENDAR
"""


def test_an_accepted_invitation_mail_is_recorded_once_and_reads_back_as_a_meeting(
    store: Store,
) -> None:
    replies = parse_imip_reply(IMIP_REPLY)
    for _ in range(2):  # the same mail read again (rescan)
        with store.transaction() as s:
            record_answers(s, 1, "INBOX/7", replies, at(4, 10, 2))
    with store.reader() as s:
        answers = load_answers(s, 1, since=SINCE)
    assert len(answers) == 1
    assert calendar_events_for([], {CONTACT}, SINCE, answers) == [
        Meeting(at=at(4, 10, 2), ref="inv-42@hunter.example", summary="accepted the invitation")
    ]
