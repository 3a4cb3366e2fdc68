"""A calendar entry as the pure rules see it (a stored CalendarEntry row as plain data)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True, slots=True)
class EntryView:
    """One calendar entry as stored (CalendarEntry row), plain data for the pure rules."""

    uid: str
    summary: str
    start: datetime
    end: datetime
    first_seen: datetime
    last_seen: datetime
    all_day: bool = False
    start_day: date | None = None
    end_day: date | None = None  # exclusive
    attendees: tuple[str, ...] = ()
    organizer: str | None = None
    mentions: tuple[str, ...] = ()
    status: str = ""
    busy_status: str = ""
    transparent: bool = False
    categories: tuple[str, ...] = ()
    is_ghostwatch: bool = False
    times_moved: int = 0
    moved_at: datetime | None = None
    cancelled_at: datetime | None = None
    cancelled_by: str | None = None
    deleted: bool = False

    @property
    def cancelled(self) -> bool:
        return self.status.upper() == "CANCELLED" or self.cancelled_at is not None
