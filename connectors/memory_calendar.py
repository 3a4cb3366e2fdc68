"""In-memory fake of a calendar (CalendarSource and CalendarSink), for unit tests of
the daemon; it keeps the real calendars' promises (the same contract suite) and
counts changes on a logical clock, like the memory mailbox.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime

from connectors import ical
from connectors.errors import CursorExpired, Permanent
from connectors.model import (
    CalendarChanges,
    CalendarEvent,
    Capabilities,
)


@dataclass(slots=True)
class MemoryCalendar:
    """CalendarSource and CalendarSink fake with the same logical-clock cursor."""

    events: dict[str, tuple[CalendarEvent, int]] = field(default_factory=dict)
    removed: dict[str, int] = field(default_factory=dict)
    clock: int = 0
    recurring: set[str] = field(default_factory=set)  # uids that recur after their first end

    def add_event(self, event: CalendarEvent, *, recurs: bool = False) -> CalendarEvent:
        """Someone (the user, an invitation) puts an event in the calendar.

        `recurs`: it repeats (RRULE), so a first read lists it whatever its first end."""
        self.clock += 1
        if recurs:
            self.recurring.add(event.uid)
        else:
            self.recurring.discard(event.uid)
        stored = replace(event, etag=str(self.clock), href=event.href or f"{event.uid}.ics")
        self.events[event.uid] = (stored, self.clock)
        self.removed.pop(event.uid, None)
        return stored

    def remove_event(self, uid: str) -> bool:
        if uid not in self.events:
            return False
        self.clock += 1
        del self.events[uid]
        self.removed[uid] = self.clock
        return True

    def open(self) -> None:
        """Nothing to connect."""

    def close(self) -> None:
        """Nothing to release."""

    def capabilities(self) -> Capabilities:
        return Capabilities(frozenset({"logical-clock"}))

    def fetch_changes(self, cursor: str | None, *, since: datetime) -> CalendarChanges:
        try:
            data = json.loads(cursor) if cursor else {"v": 1, "calendar": 0}
            if data["v"] != 1:
                raise ValueError("version")
            pos = int(data["calendar"])
        except (ValueError, KeyError, TypeError) as exc:
            raise CursorExpired("memory calendar cursor unreadable") from exc
        changed = tuple(
            e
            for e, tick in self.events.values()
            if tick > pos and (cursor is not None or e.end >= since or e.uid in self.recurring)
        )
        gone = tuple(uid for uid, tick in self.removed.items() if tick > pos and cursor)
        return CalendarChanges(changed, gone, _calendar_cursor(self.clock))

    def find_event(self, uid: str) -> CalendarEvent | None:
        found = self.events.get(uid)
        return found[0] if found else None

    def put_event(self, event: CalendarEvent) -> CalendarEvent:
        """As the real sinks: only ghostwatch's own events, once per content."""
        if not ical.is_ghostwatch(event.uid, event.ghostwatch_key):
            raise Permanent(f"refusing to write {event.uid}: it is not a ghostwatch event")
        found = self.find_event(event.uid)
        if found is None:
            href = event.href or ical.resource_name(event.uid)
            return self.add_event(ical.as_written(replace(event, href=href)))
        ical.require_ghostwatch(found)
        if ical.same_content(found, event):
            return found
        moved = replace(event, sequence=found.sequence + 1, href=found.href)
        return self.add_event(ical.as_written(moved))

    def delete_event(self, uid: str) -> bool:
        found = self.find_event(uid)
        if found is None:
            return False
        ical.require_ghostwatch(found)
        return self.remove_event(uid)


def _calendar_cursor(clock: int) -> str:
    return json.dumps({"v": 1, "calendar": clock}, separators=(",", ":"))
