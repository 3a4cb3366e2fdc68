"""Calendar changes -> CalendarEntry rows: what the account's calendar holds.

One fetch, one transaction: the changed entries, the removed ones and the new
cursor are committed together, so a crash re-reads the same changes instead
of skipping them. A stale cursor (`CursorExpired`) restarts with a full scan;
entries the full scan no longer lists are then marked deleted.

Facts only: a moved start increments `times_moved`, STATUS:CANCELLED stamps
`cancelled_at` once; the rules that turn them into tracker events live in
calendar_signals.py and away.py.

Invitation answers arrive by mail (iMIP REPLY); the mail side hands the parsed
answers to `record_answers` while it reads the message, since bodies are not
kept for later.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from connectors.base import CalendarSource
from connectors.errors import CursorExpired
from connectors.model import CalendarEvent
from daemon.db.calendar_tables import CalendarCursor, CalendarEntry, InviteAnswerRow
from daemon.db.engine import Store
from daemon.db.tables import Sequence as SequenceRow
from daemon.db.tables import Thread
from daemon.decide.calendar_signals import (
    InviteAnswer,
    InviteReply,
    answers_from,
    mentioned_addresses,
)
from daemon.tracker.calendar_entry import EntryView

log = logging.getLogger(__name__)
UID_PREFIX = "ghostwatch-"  # connectors/ical.py marks ghostwatch's own events the same way


@dataclass(slots=True)
class CalendarSyncReport:
    new: int = 0
    changed: int = 0
    moved: int = 0
    cancelled: int = 0
    removed: int = 0
    rescanned: bool = False


def is_own_event(event: CalendarEvent) -> bool:
    return event.uid.startswith(UID_PREFIX) or bool(event.ghostwatch_key)


def sync_calendar(
    store: Store,
    account_id: int,
    source: CalendarSource,
    now: datetime,
    *,
    lookback: timedelta,
) -> CalendarSyncReport:
    """Fetch what changed since the stored cursor and record it; one commit."""
    report = CalendarSyncReport()
    since = now - lookback
    with store.reader() as s:
        state = s.get(CalendarCursor, account_id)
        cursor = state.cursor if state is not None else None
    try:
        changes = source.fetch_changes(cursor, since=since)
    except CursorExpired as exc:
        if cursor is None:
            raise
        log.warning("calendar cursor expired (%s): rescanning", exc)
        changes = source.fetch_changes(None, since=since)
        report.rescanned = True
    full_scan = cursor is None or report.rescanned
    with store.transaction() as s:
        seen: set[str] = set()
        for event in changes.events:
            seen.add(event.uid)
            _upsert(s, account_id, event, now, report)
        for uid in changes.removed_uids:
            _mark_deleted(s, account_id, uid, now, report)
        if full_scan and cursor is not None:
            # A full scan lists every live entry that ends after `since`: the others are gone.
            stale = select(CalendarEntry).where(
                CalendarEntry.account_id == account_id,
                CalendarEntry.deleted.is_(False),
                CalendarEntry.end >= since,
            )
            for row in s.scalars(stale):
                if row.uid not in seen:
                    _delete(row, now, report)
        _recheck_contacts(s, account_id, {*seen, *changes.removed_uids})
        state = s.get(CalendarCursor, account_id)
        if state is None:
            state = CalendarCursor(account_id=account_id, rescans=0)
            s.add(state)
        state.cursor = changes.cursor
        state.last_sync_at = now
        state.rescans = (state.rescans or 0) + (1 if report.rescanned else 0)
    return report


def _recheck_contacts(s: Session, account_id: int, uids: set[str]) -> None:
    """Mark the threads of everyone in the changed entries for a new decision.

    Ended sequences are otherwise never decided again, and a meeting moved after it
    ended the sequence `met` must still bring its red flag into the case library.
    """
    if not uids:
        return
    people: set[str] = set()
    query = select(CalendarEntry).where(
        CalendarEntry.account_id == account_id,
        CalendarEntry.uid.in_(sorted(uids)),
        CalendarEntry.is_ghostwatch.is_(False),
    )
    for row in s.scalars(query):
        people.update(row.attendees or ())
        people.update(row.mentions or ())
        if row.organizer:
            people.add(row.organizer)
    if not people:
        return
    threads = select(SequenceRow.thread_id).where(
        SequenceRow.account_id == account_id, SequenceRow.contact_addr.in_(sorted(people))
    )
    s.execute(update(Thread).where(Thread.id.in_(threads)).values(dirty=True))


def _fields(event: CalendarEvent) -> dict[str, object]:
    location = str(getattr(event, "location", "") or "")  # not every model carries it
    return {
        "summary": event.summary,
        "start": event.start,
        "end": event.end,
        "all_day": event.all_day,
        "start_day": event.start.date() if event.all_day else None,
        "end_day": event.end.date() if event.all_day else None,
        "attendees": sorted({a.addr for a in event.attendees if a.addr}),
        "organizer": event.organizer.addr if event.organizer else None,
        "mentions": list(mentioned_addresses(event.summary, event.description, location)),
        "status": event.status.upper(),
        "busy_status": event.busy_status.upper(),
        "transparent": event.transparent,
        "categories": list(event.categories),
        "is_ghostwatch": is_own_event(event),
    }


def _upsert(
    s: Session, account_id: int, event: CalendarEvent, now: datetime, report: CalendarSyncReport
) -> None:
    values = _fields(event)
    cancelled = values["status"] == "CANCELLED"
    row = s.scalar(
        select(CalendarEntry).where(
            CalendarEntry.account_id == account_id, CalendarEntry.uid == event.uid
        )
    )
    if row is None:
        s.add(
            CalendarEntry(
                account_id=account_id,
                uid=event.uid,
                times_moved=0,
                cancelled_at=now if cancelled else None,
                cancelled_by=values["organizer"] if cancelled else None,
                first_seen=now,
                last_seen=now,
                deleted=False,
                **values,
            )
        )
        report.new += 1
        report.cancelled += int(cancelled)
        return
    if _start_changed(row, event):
        row.times_moved = (row.times_moved or 0) + 1
        row.moved_at = now
        report.moved += 1
    if cancelled and row.cancelled_at is None:
        row.cancelled_at = now
        row.cancelled_by = values["organizer"]  # type: ignore[assignment]
        report.cancelled += 1
    for key, value in values.items():
        setattr(row, key, value)
    row.last_seen = now
    row.deleted = False
    row.deleted_at = None
    report.changed += 1


def _start_changed(row: CalendarEntry, event: CalendarEvent) -> bool:
    if row.all_day and event.all_day:
        return row.start_day != event.start.date()
    return row.all_day != event.all_day or row.start != event.start


def _mark_deleted(
    s: Session, account_id: int, uid: str, now: datetime, report: CalendarSyncReport
) -> None:
    row = s.scalar(
        select(CalendarEntry).where(
            CalendarEntry.account_id == account_id, CalendarEntry.uid == uid
        )
    )
    if row is not None and not row.deleted:
        _delete(row, now, report)


def _delete(row: CalendarEntry, now: datetime, report: CalendarSyncReport) -> None:
    row.deleted = True
    row.deleted_at = now
    report.removed += 1


# ---- reading back ----------------------------------------------------------------------------


def to_view(row: CalendarEntry) -> EntryView:
    return EntryView(
        uid=row.uid,
        summary=row.summary or "",
        start=row.start,
        end=row.end,
        first_seen=row.first_seen,
        last_seen=row.last_seen,
        all_day=row.all_day,
        start_day=row.start_day,
        end_day=row.end_day,
        attendees=tuple(row.attendees or ()),
        organizer=row.organizer,
        mentions=tuple(row.mentions or ()),
        status=row.status or "",
        busy_status=row.busy_status or "",
        transparent=row.transparent,
        categories=tuple(row.categories or ()),
        is_ghostwatch=row.is_ghostwatch,
        times_moved=row.times_moved or 0,
        moved_at=row.moved_at,
        cancelled_at=row.cancelled_at,
        cancelled_by=row.cancelled_by,
        deleted=row.deleted,
    )


def load_entries(
    s: Session, account_id: int, *, since: datetime, include_own: bool = False
) -> list[EntryView]:
    """Entries that end at or after `since` (deleted ones included: they happened)."""
    query = select(CalendarEntry).where(
        CalendarEntry.account_id == account_id, CalendarEntry.end >= since
    )
    if not include_own:
        query = query.where(CalendarEntry.is_ghostwatch.is_(False))
    return [to_view(row) for row in s.scalars(query.order_by(CalendarEntry.start))]


# ---- invitation answers (iMIP REPLY mails) ---------------------------------------------------


def record_answers(
    s: Session,
    account_id: int,
    message_ref: str,
    replies: Iterable[InviteReply],
    received_at: datetime,
) -> int:
    """Keep the answers of one REPLY mail (connectors.ical.parse_imip_reply); returns how many
    were new. Runs inside the caller's transaction, next to the message it came with."""
    added = 0
    for answer in answers_from(replies, received_at):
        exists = s.scalar(
            select(InviteAnswerRow.id).where(
                InviteAnswerRow.account_id == account_id,
                InviteAnswerRow.message_ref == message_ref,
                InviteAnswerRow.uid == answer.uid,
                InviteAnswerRow.attendee == answer.attendee,
            )
        )
        if exists is None:
            s.add(
                InviteAnswerRow(
                    account_id=account_id,
                    message_ref=message_ref,
                    uid=answer.uid,
                    attendee=answer.attendee,
                    partstat=answer.partstat,
                    dtstart=answer.dtstart,
                    received_at=received_at,
                )
            )
            added += 1
    return added


def load_answers(s: Session, account_id: int, *, since: datetime) -> list[InviteAnswer]:
    query = select(InviteAnswerRow).where(
        InviteAnswerRow.account_id == account_id, InviteAnswerRow.received_at >= since
    )
    return [
        InviteAnswer(r.attendee, r.partstat, r.uid, r.dtstart, r.received_at)
        for r in s.scalars(query.order_by(InviteAnswerRow.received_at))
    ]
