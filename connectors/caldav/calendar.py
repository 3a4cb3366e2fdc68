"""CalendarSource and CalendarSink over one CalDAV calendar.

Writes are idempotent by UID (SPEC §5: the UID derives from the sequence key):
look the UID up first; create with `If-None-Match: *` at a name derived from
the UID; update with `If-Match: <etag>`. A failed precondition means someone
(often our own earlier attempt whose answer was lost) got there first: look
again and write only if the content differs. A retried write therefore never
makes a second event. Only ghostwatch's own events are ever changed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime, tzinfo
from typing import ClassVar
from zoneinfo import ZoneInfo

from connectors import ical
from connectors.caldav import cursor as cur
from connectors.caldav.client import CaldavWire, ClientFactory, Resource, default_client
from connectors.caldav.settings import Settings
from connectors.caldav.source import first_read, next_read
from connectors.errors import CursorExpired, Permanent, Transient
from connectors.model import CalendarChanges, CalendarEvent, Capabilities

log = logging.getLogger(__name__)

# Rounds of "look, then write if nothing changed meanwhile" before giving up.
_WRITE_ROUNDS = 3


@dataclass(frozen=True, slots=True)
class _Found:
    href: str
    event: CalendarEvent


class CaldavCalendar:
    """One CalDAV calendar. Methods connect on first use; `open()` connects early."""

    kind: ClassVar[str] = "caldav"

    def __init__(self, settings: Settings, client_factory: ClientFactory = default_client) -> None:
        self.settings = settings
        self.wire = CaldavWire(settings, client_factory)
        self.floating_tz: tzinfo = ZoneInfo(settings.timezone) if settings.timezone else UTC
        self.skipped: list[ical.Skip] = []  # what the last fetch_changes could not read
        self._mode: str | None = None  # "sync" or "etag", as the last read used

    def capabilities(self) -> Capabilities:
        """What the server offered on the last read (`check` lists it)."""
        names = {"sync-token": self._mode == "sync", "etag": self._mode == "etag"}
        return Capabilities(frozenset(n for n, on in names.items() if on))

    def open(self) -> None:
        """Find (or create) the calendar; raises AuthFailed, ConfigProblem, Transient."""
        self.wire.connect()

    def close(self) -> None:
        self.wire.close()

    # -- CalendarSource --

    def fetch_changes(self, cursor: str | None, *, since: datetime) -> CalendarChanges:
        self.open()
        if cursor is None:
            read = first_read(self.wire, since, use_sync=self.settings.sync_tokens,
                              tz=self.floating_tz)  # fmt: skip
        else:
            stored = cur.decode(cursor, self.wire.calendar_url)
            if stored.mode == "sync" and not self.settings.sync_tokens:
                raise CursorExpired("sync_tokens was turned off; reading the calendar afresh")
            read = next_read(self.wire, stored, tz=self.floating_tz)
        for uid, reason in read.skipped:
            log.warning("calendar %s: event %s skipped: %s", self.settings.calendar, uid, reason)
        self.skipped = read.skipped
        self._mode = read.cursor.mode
        fresh = {e.uid for e in read.events}
        removed = tuple(dict.fromkeys(u for u in read.removed if u not in fresh))
        return CalendarChanges(tuple(read.events), removed, read.cursor.encode())

    # -- CalendarSink --

    def find_event(self, uid: str) -> CalendarEvent | None:
        self.open()
        found = self._locate(uid)
        return found.event if found else None

    def put_event(self, event: CalendarEvent) -> CalendarEvent:
        if not ical.is_ghostwatch(event.uid, event.ghostwatch_key):
            raise Permanent(f"refusing to write {event.uid}: it is not a ghostwatch event")
        self.open()
        for _ in range(_WRITE_ROUNDS):
            stored = self._put_once(event)
            if stored is not None:
                return stored
        raise Transient(f"{event.uid} kept changing while ghostwatch wrote it; will retry")

    def delete_event(self, uid: str) -> bool:
        self.open()
        for _ in range(_WRITE_ROUNDS):
            found = self._locate(uid)
            if found is None:
                return False
            ical.require_ghostwatch(found.event)
            status = self.wire.delete(found.href, found.event.etag)
            if status in (404, 410):
                return False
            if status != 412:
                return True
        raise Transient(f"{uid} kept changing while ghostwatch deleted it; will retry")

    def _put_once(self, event: CalendarEvent) -> CalendarEvent | None:
        """One look-then-write round; None when a precondition failed."""
        found = self._locate(event.uid)
        now = datetime.now(UTC)  # DTSTAMP: when this copy was written, not the daemon's --now
        if found is None:
            href = self.wire.href_for(ical.resource_name(event.uid))
            data = ical.build_calendar(event, now=now)
            status, etag = self.wire.put(href, data, etag=None)
            return self._stored(href, data, etag) if status < 300 else None
        ical.require_ghostwatch(found.event)
        if ical.same_content(found.event, event):
            return found.event
        if not found.event.etag:
            raise Permanent(f"the server gave no etag for {event.uid}; cannot update it safely")
        data = ical.build_calendar(replace(event, sequence=found.event.sequence + 1), now=now)
        status, etag = self.wire.put(found.href, data, etag=found.event.etag)
        return self._stored(found.href, data, etag) if status < 300 else None

    def _stored(self, href: str, data: bytes, etag: str | None) -> CalendarEvent:
        if etag is None:  # the server rewrote what we sent (RFC 4791 5.3.4): read it back
            fetched = self.wire.get(href)
            if fetched is not None:
                data, etag = fetched.data, fetched.etag
        events, _ = ical.parse_calendar(data, floating_tz=self.floating_tz, href=href, etag=etag)
        return events[0]

    def _locate(self, uid: str) -> _Found | None:
        """Where `uid` lives: the name ghostwatch gives it first, else a UID query."""
        usual = self.wire.get(self.wire.href_for(ical.resource_name(uid)))
        found = self._match(usual, uid) if usual is not None else None
        if found is not None:
            return found
        for res in self.wire.query_uid(uid):
            found = self._match(res, uid)
            if found is not None:
                return found
        return None

    def _match(self, res: Resource, uid: str) -> _Found | None:
        events, skipped = ical.parse_calendar(
            res.data, floating_tz=self.floating_tz, href=res.href, etag=res.etag
        )
        for event in events:
            if event.uid == uid:
                return _Found(res.href, event)
        if any(u == uid for u, _ in skipped):
            # Ours or not, an unreadable event is never overwritten blindly.
            raise Permanent(f"{uid} exists at {res.href} but cannot be read; leaving it alone")
        return None
