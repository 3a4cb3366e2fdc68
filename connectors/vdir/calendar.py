"""CalendarSource and CalendarSink over a vdir calendar directory."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, replace
from datetime import UTC, datetime, tzinfo
from typing import ClassVar
from zoneinfo import ZoneInfo

from connectors import ical
from connectors.errors import ConfigProblem, Permanent, Transient
from connectors.model import CalendarChanges, CalendarEvent, Capabilities
from connectors.vdir import cursor as cur
from connectors.vdir.files import ItemStore, fingerprint
from connectors.vdir.settings import Settings
from connectors.vdir.source import scan

log = logging.getLogger(__name__)

# Rounds of "look, then write if nothing changed meanwhile" before giving up
# on an item another program keeps rewriting.
_WRITE_ROUNDS = 3


@dataclass(frozen=True, slots=True)
class _Found:
    name: str
    event: CalendarEvent


class VdirCalendar:
    """One vdir calendar. Methods open it on first use; `open()` checks it early."""

    kind: ClassVar[str] = "vdir"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = ItemStore(settings.directory)
        self.floating_tz: tzinfo = ZoneInfo(settings.timezone) if settings.timezone else UTC
        self.skipped: list[ical.Skip] = []  # what the last fetch_changes could not read
        self._opened = False

    def open(self) -> None:
        """Check the directory; create the named calendar subdirectory if missing."""
        if self._opened:
            return
        root = os.path.abspath(os.path.expanduser(self.settings.path))
        if not os.path.isdir(root):
            raise ConfigProblem(
                f"vdir path {root} is not a directory",
                hint="create it, or point `path` at the directory vdirsyncer/khal use",
            )
        if self.settings.calendar and not os.path.isdir(self.store.directory):
            try:
                os.mkdir(self.store.directory, 0o700)
                with open(os.path.join(self.store.directory, "displayname"), "w") as fh:
                    fh.write(self.settings.calendar)
            except FileExistsError:
                pass
            except OSError as exc:
                raise ConfigProblem(
                    f"cannot create vdir calendar {self.store.directory}: {exc.strerror}"
                ) from None
        self._opened = True

    def capabilities(self) -> Capabilities:
        # Incremental reads compare each file's mtime, size and hash with the cursor.
        return Capabilities(frozenset({"file-cursor"}))

    def close(self) -> None:
        """Nothing to release; here so both calendar connectors look alike."""

    # -- CalendarSource --

    def fetch_changes(self, cursor: str | None, *, since: datetime) -> CalendarChanges:
        self.open()
        directory = self.store.directory
        known = cur.decode(cursor, directory) if cursor is not None else None
        try:
            result = scan(self.store, known, since=since, floating_tz=self.floating_tz)
        except OSError as exc:
            raise Transient(f"cannot read vdir {directory}: {exc.strerror}") from None
        for uid, reason in result.skipped:
            log.warning("vdir %s: event %s skipped: %s", directory, uid, reason)
        self.skipped = result.skipped
        fresh = {e.uid for e in result.events}
        removed = tuple(dict.fromkeys(u for u in result.removed if u not in fresh))
        return CalendarChanges(tuple(result.events), removed, cur.encode(directory, result.files))

    # -- CalendarSink --

    def find_event(self, uid: str) -> CalendarEvent | None:
        self.open()
        found = self._locate(uid)
        return found.event if found else None

    def put_event(self, event: CalendarEvent) -> CalendarEvent:
        if not ical.is_ghostwatch(event.uid, event.ghostwatch_key):
            raise Permanent(f"refusing to write {event.uid}: it is not a ghostwatch event")
        self.open()
        try:
            for _ in range(_WRITE_ROUNDS):
                stored = self._put_once(event)
                if stored is not None:
                    return stored
        except OSError as exc:
            raise Transient(f"cannot write {event.uid} to vdir: {exc.strerror or exc}") from None
        raise Transient(f"{event.uid} kept changing while ghostwatch wrote it; will retry")

    def delete_event(self, uid: str) -> bool:
        self.open()
        try:
            for _ in range(_WRITE_ROUNDS):
                found = self._locate(uid)
                if found is None:
                    return False
                ical.require_ghostwatch(found.event)
                if self.store.remove(found.name, expect=found.event.etag or ""):
                    return True
        except OSError as exc:
            raise Transient(f"cannot delete {uid} from vdir: {exc.strerror or exc}") from None
        raise Transient(f"{uid} kept changing while ghostwatch deleted it; will retry")

    def _put_once(self, event: CalendarEvent) -> CalendarEvent | None:
        """One look-then-write round; None when something changed meanwhile."""
        found = self._locate(event.uid)
        now = datetime.now(UTC)  # DTSTAMP: when this copy was written, not the daemon's --now
        if found is None:
            name = ical.resource_name(event.uid)
            data = ical.build_calendar(event, now=now)
            return self._stored(name, data) if self.store.create(name, data) else None
        ical.require_ghostwatch(found.event)
        if ical.same_content(found.event, event):
            return found.event
        data = ical.build_calendar(replace(event, sequence=found.event.sequence + 1), now=now)
        if self.store.replace(found.name, data, expect=found.event.etag or ""):
            return self._stored(found.name, data)
        return None

    def _stored(self, name: str, data: bytes) -> CalendarEvent:
        events, _ = ical.parse_calendar(
            data, floating_tz=self.floating_tz, href=name, etag=fingerprint(data)
        )
        return events[0]

    def _locate(self, uid: str) -> _Found | None:
        """The item holding `uid`: its usual file name first, then every file."""
        usual = ical.resource_name(uid)
        found = self._match(usual, uid)
        if found is not None:
            return found
        needle = uid.encode("utf-8")
        for name in self.store.list():
            if name == usual:
                continue
            data = self.store.read(name)
            # Cheap pre-check; unfolded because a long UID line may be folded.
            if data and needle in data.replace(b"\r\n ", b"").replace(b"\n ", b""):
                found = self._match(name, uid, data)
                if found is not None:
                    return found
        return None

    def _match(self, name: str, uid: str, data: bytes | None = None) -> _Found | None:
        data = self.store.read(name) if data is None else data
        if data is None:
            return None
        events, skipped = ical.parse_calendar(
            data, floating_tz=self.floating_tz, href=name, etag=fingerprint(data)
        )
        for event in events:
            if event.uid == uid:
                return _Found(name, event)
        if any(u == uid for u, _ in skipped):
            # Ours or not, an unreadable item is never overwritten blindly.
            raise Permanent(f"{uid} exists in {name} but cannot be read; leaving it alone")
        return None
