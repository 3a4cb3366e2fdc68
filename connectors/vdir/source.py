"""Incremental reads of a vdir calendar: the directory listing diffed against the cursor."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from connectors import ical
from connectors.model import CalendarEvent
from connectors.vdir.cursor import Entry
from connectors.vdir.files import ItemStore, Stat, fingerprint

# A file written this recently may be rewritten within the same mtime tick with
# the same size (coarse-mtime filesystems); its stat is then not trusted to
# prove "unchanged" next time, so the next scan hashes it again.
_SETTLE_NS = 2_000_000_000


@dataclass
class Scan:
    events: list[CalendarEvent] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[ical.Skip] = field(default_factory=list)
    files: dict[str, Entry] = field(default_factory=dict)


def scan(
    store: ItemStore,
    known: dict[str, Entry] | None,
    *,
    since: datetime,
    floating_tz: tzinfo,
) -> Scan:
    """What changed since `known` (None: the first read, limited to `since`)."""
    result = Scan()
    now_ns = time.time_ns()
    previous = known or {}
    listing = store.list()
    for name, stat in listing.items():
        old = previous.get(name)
        if old is not None and old.mtime_ns == stat.mtime_ns and old.size == stat.size:
            result.files[name] = old
            continue
        _read_one(store, name, stat, old, result, now_ns=now_ns,
                  since=None if known is not None else since, floating_tz=floating_tz)  # fmt: skip
    for name, old in previous.items():
        if name not in listing:
            result.removed.extend(old.uids)
    return result


def _read_one(
    store: ItemStore,
    name: str,
    stat: Stat,
    old: Entry | None,
    result: Scan,
    *,
    now_ns: int,
    since: datetime | None,
    floating_tz: tzinfo,
) -> None:
    data = store.read(name)
    if data is None:  # removed between listing and reading
        if old is not None:
            result.removed.extend(old.uids)
        return
    digest = fingerprint(data)
    events, skipped = ical.parse_calendar(
        data, floating_tz=floating_tz, href=name, etag=digest, since=since
    )
    # Only UIDs the daemon was told about: an old event it never saw needs no removal.
    uids = tuple(dict.fromkeys([e.uid for e in events] + [u for u, _ in skipped if u != "?"]))
    settled = now_ns - stat.mtime_ns > _SETTLE_NS
    result.files[name] = Entry(stat.mtime_ns if settled else 0, stat.size, digest, uids)
    if old is not None and old.hash == digest:
        return  # touched (or copied back), not changed
    if old is not None:
        result.removed.extend(u for u in old.uids if u not in uids)
    result.skipped.extend(skipped)
    result.events.extend(events)
