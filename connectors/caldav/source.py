"""Incremental reads of a CalDAV calendar: sync tokens, or ctag + etags without them.

First read (no cursor): the position is taken *before* the data (sync token,
or ctag and etags), then a time-range REPORT fetches what ends after `since`;
anything that changes in between is reported again next time (at least once,
never lost). Later reads fetch only what the token or the etags say changed,
with one calendar-multiget.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from connectors import ical
from connectors.caldav.client import CaldavWire, Resource, SyncUnavailable
from connectors.caldav.cursor import Cursor
from connectors.errors import CursorExpired
from connectors.model import CalendarEvent

log = logging.getLogger(__name__)


@dataclass
class Read:
    cursor: Cursor
    events: list[CalendarEvent] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[ical.Skip] = field(default_factory=list)


def first_read(wire: CaldavWire, since: datetime, *, use_sync: bool, tz: tzinfo) -> Read:
    cal = wire.calendar_url
    if use_sync:
        try:
            token = wire.sync(None).token
        except SyncUnavailable as why:
            log.info("%s: no sync tokens (%s); comparing etags instead", cal, why)
        else:
            read = Read(Cursor(cal, "sync", token=token))
            _absorb(read, wire.query_since(since), tz)
            return read
    ctag, etags = wire.ctag(), wire.etags()
    read = Read(Cursor(cal, "etag", ctag=ctag, etags=etags))
    _absorb(read, wire.query_since(since), tz)
    return read


def next_read(wire: CaldavWire, cursor: Cursor, *, tz: tzinfo) -> Read:
    if cursor.mode == "sync":
        return _by_token(wire, cursor, tz)
    return _by_etags(wire, cursor, tz)


def _by_token(wire: CaldavWire, cursor: Cursor, tz: tzinfo) -> Read:
    try:
        page = wire.sync(cursor.token)
    except SyncUnavailable as why:
        raise CursorExpired(f"the server stopped offering sync tokens ({why})") from None
    read = Read(Cursor(cursor.calendar, "sync", token=page.token, uids=dict(cursor.uids)))
    found, gone = wire.multiget(sorted(page.changed))
    _forget(read, page.deleted | gone)
    _absorb(read, found, tz)
    return read


def _by_etags(wire: CaldavWire, cursor: Cursor, tz: tzinfo) -> Read:
    ctag = wire.ctag()
    if ctag is not None and ctag == cursor.ctag:
        return Read(cursor)  # one PROPFIND for a quiet calendar
    etags = wire.etags()
    read = Read(Cursor(cursor.calendar, "etag", ctag=ctag, uids=dict(cursor.uids), etags=etags))
    changed = [h for h, e in etags.items() if e is None or cursor.etags.get(h) != e]
    found, gone = wire.multiget(sorted(changed))
    _forget(read, {h for h in cursor.etags if h not in etags} | gone)
    _absorb(read, found, tz)
    for href in gone:
        read.cursor.etags.pop(href, None)
    return read


def _forget(read: Read, hrefs: set[str] | frozenset[str]) -> None:
    for href in hrefs:
        uid = read.cursor.uids.pop(href, "")
        read.cursor.etags.pop(href, None)
        if uid:
            read.removed.append(uid)


def _absorb(read: Read, resources: list[Resource], tz: tzinfo) -> None:
    for res in resources:
        events, skipped = ical.parse_calendar(
            res.data, floating_tz=tz, href=res.href, etag=res.etag
        )
        read.events.extend(events)
        read.skipped.extend(skipped)
        uids = [e.uid for e in events] + [u for u, _ in skipped if u != "?"]
        before = read.cursor.uids.get(res.href, "")
        if before and before not in uids:
            read.removed.append(before)  # the href now holds another event
        read.cursor.uids[res.href] = uids[0] if uids else ""
        if read.cursor.mode == "etag":
            read.cursor.etags[res.href] = res.etag
