"""What the calendar says about a contact, as tracker events (pure, no I/O).

Rules (SPEC §3 "a meeting with the contact appears in the calendar, or the
contact accepts an invitation" -> `met`; §5 red flags):

- An event that is not ghostwatch's own involves the contact when one of the
  contact's addresses is its organizer, one of its attendees, or is written in
  its summary, description or location (`mentions`, extracted at ingest).
- Such an event that starts at or after the sequence began (`since`) is a
  `Meeting`. Its time is when ghostwatch first saw the event, or the event's
  start when that is earlier (an event synced late, or found by the first
  scan, still happened when it happened); never before `since`, so it lands
  in the sequence it ends. An event first seen already cancelled was never a
  meeting.
- An accepted iMIP REPLY from the contact (ACCEPTED, received at or after
  `since`) is a `Meeting` at the time the reply arrived.
- An involved event moved twice or more (`times_moved >= 2`) raises
  `RedFlag("rescheduled")`; one cancelled (STATUS:CANCELLED) raises
  `RedFlag("cancelled_by_contact")`, once per event. Best effort: a cancellation
  cannot say who pressed the button; the contact being involved is enough.
  A flag on an event that also counted as a meeting is placed at the meeting's
  time, just before it (order 1), because the tracker ignores events after a
  sequence ended and the case library must still see the flag.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Set
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from daemon.tracker.calendar_entry import EntryView
from daemon.tracker.states import Event, Meeting, RedFlag

MOVES_FOR_FLAG = 2
_ADDRESS = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")


class InviteReply(Protocol):
    """An attendee's answer to an invitation (connectors.ical.ImipReply has these fields)."""

    @property
    def attendee(self) -> str: ...

    @property
    def partstat(self) -> str: ...

    @property
    def uid(self) -> str: ...


@dataclass(frozen=True, slots=True)
class InviteAnswer:
    """An iMIP REPLY as received: who answered what, and when the mail arrived."""

    attendee: str
    partstat: str
    uid: str
    dtstart: datetime | None
    at: datetime


def answers_from(replies: Iterable[InviteReply], received_at: datetime) -> list[InviteAnswer]:
    """The answers of one REPLY mail, stamped with the time that mail arrived."""
    return [
        InviteAnswer(
            attendee=r.attendee.strip().lower(),
            partstat=r.partstat.upper(),
            uid=r.uid,
            dtstart=getattr(r, "dtstart", None),
            at=received_at,
        )
        for r in replies
    ]


def mentioned_addresses(*texts: str) -> tuple[str, ...]:
    """Lower-case mail addresses written in free text, first occurrence order."""
    found: dict[str, None] = {}
    for text in texts:
        for match in _ADDRESS.finditer(text or ""):
            found.setdefault(match.group(0).lower().strip(".'"), None)
    return tuple(found)


def involves(entry: EntryView, contacts: Set[str]) -> bool:
    people = {*entry.attendees, *entry.mentions}
    if entry.organizer:
        people.add(entry.organizer)
    return not people.isdisjoint(contacts)


def calendar_events_for(
    entries: Iterable[EntryView],
    contacts: Set[str],
    since: datetime,
    answers: Iterable[InviteAnswer] = (),
) -> list[Event]:
    """Tracker events for one thread's contact (and aliases) from the calendar.

    `contacts` are lower-case addresses; `since` is when the thread's first
    sequence began (its first outbound message).
    """
    wanted = {c.lower() for c in contacts if c}
    events: list[Event] = []
    for entry in entries:
        if entry.is_ghostwatch or not involves(entry, wanted) or entry.start < since:
            continue
        events.extend(_entry_events(entry, since))
    for answer in answers:
        if answer.attendee in wanted and answer.partstat == "ACCEPTED" and answer.at >= since:
            events.append(Meeting(at=answer.at, ref=answer.uid, summary="accepted the invitation"))
    return events


def _entry_events(entry: EntryView, since: datetime) -> list[Event]:
    flags = []
    if entry.times_moved >= MOVES_FOR_FLAG:
        flags.append("rescheduled")
    if entry.cancelled:
        flags.append("cancelled_by_contact")
    seen_live = entry.cancelled_at is None or entry.cancelled_at > entry.first_seen
    if not seen_live:
        # Never a meeting: the flags land on whatever sequence is open when it was seen.
        at = max(entry.cancelled_at or entry.first_seen, since)
        return [RedFlag(at=at, flag=flag) for flag in flags]
    at = max(min(entry.first_seen, entry.start), since)
    out: list[Event] = [RedFlag(at=at, flag=flag, order=1) for flag in flags]
    out.append(Meeting(at=at, ref=entry.uid, summary=entry.summary))
    return out
