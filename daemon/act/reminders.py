"""The reminder outbox: "call X", "final follow-up" and "dead address" events
in the consultant's own calendar (SPEC §2, §5).

Which reminders: the tracker asks for them (`WriteReminder` in `run.due` for
steps 2 and the last; in `end_intents` for a hard bounce). A call/final
reminder accompanies its draft: it is written once the step's draft is in
Drafts (the reminder says so), which also keeps it under
`max_drafts_per_cycle` and out of the way when the re-check before writing
cancelled the draft. A dead-address reminder is written only for a bounce of
the last `DEAD_ADDRESS_FRESH`, so the first scan of 90 days of history does not
fill the calendar with old news.

When: at the intent's time, or, when that has passed, at the next quarter hour
inside working hours; the 15 minutes must fit before the working day ends.

Idempotent like the drafts outbox: the row with the exact event content is
committed first (state `intent`), the calendar is asked for the deterministic
UID before anything is written, and the href/etag are stored after. A retry
after a timeout that did create the event finds it instead of writing a
second one; a row that failed is retried with backoff from the table, even
when the decision no longer lists the reminder (its draft is pending by then).

Removal: when a sequence ends early (replied, met, stopped) its reminders that
are still in the future are deleted; past ones are history the consultant may
have acted on and stay. Ghosted and undeliverable sequences keep theirs (a
phone call is the way to reach a contact whose mail bounces). Only events this
table wrote are ever touched, and each is checked to carry its key first.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, select

from connectors.base import CalendarSink
from connectors.errors import ConnectorError
from connectors.model import CalendarEvent
from daemon.act.draft_spec import draft_key
from daemon.act.intents import Stored, commit_intent, held_by, resolve, write_once
from daemon.act.reminder_event import (
    DURATION,
    PhoneLookup,
    Writer,
    build_event,
    event_of,
    reminder_key,
    reminder_slot,
    wanted,
)
from daemon.act.reminder_event import reminder_uid as reminder_uid
from daemon.db.calendar_tables import Reminder
from daemon.db.engine import Store
from daemon.db.tables import Draft
from daemon.decide.replay import Decision
from daemon.tracker.business_calendar import BusinessCalendar
from daemon.tracker.states import State, WriteReminder

log = logging.getLogger(__name__)

# A draft written this recently without its reminder: the cycle stopped in between.
CATCH_UP = timedelta(days=1)
EARLY_END = (State.REPLIED, State.MET, State.STOPPED)
PENDING = ("intent", "failed")


@dataclass(slots=True)
class ReminderReport:
    written: list[str] = field(default_factory=list)  # keys, newly created
    found: list[str] = field(default_factory=list)  # created by an earlier try
    failed: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # already in the past: left alone
    gone: list[str] = field(default_factory=list)  # the user had deleted it


# ---- what and when ---------------------------------------------------------------------------


# Reminders that stand for an email that will not be written (the address is dead, or
# their server refuses our mail): nothing waits in Drafts for them.
NO_DRAFT = frozenset({"dead_address", "rejected", "mailbox"})


def _draft_ready(store: Store, d: Decision, intent: WriteReminder, now: datetime) -> bool:
    if intent.kind in NO_DRAFT:
        return True
    with store.reader() as s:
        row = s.get(Draft, draft_key(d.sequence_id, intent.step))
    if row is None or row.state != "written" or row.written_at is None:
        return False
    fresh = row.written_at >= now - CATCH_UP
    return fresh or any(i == intent for i in d.run.due)


# ---- write -----------------------------------------------------------------------------------


def write_reminders(
    store: Store,
    account_id: int,
    sink: CalendarSink,
    decisions: Sequence[Decision],
    now: datetime,
    *,
    locale: str,
    templates_dir: str | None,
    calendar: BusinessCalendar,
    phone_lookup: PhoneLookup,
    on_behalf_of: str | None = None,
    calendar_account: str | None = None,
) -> ReminderReport:
    """Write every reminder that is due and not yet in the calendar; retry failed ones."""
    writer = Writer(locale, templates_dir, calendar, phone_lookup, on_behalf_of, calendar_account)
    report = ReminderReport()
    _queue(store, account_id, decisions, now, writer, report)
    ended = {d.sequence_id for d in decisions if not d.run.record.state.open}
    for row in _pending_rows(store, account_id, calendar_account, now):
        if row.sequence_id in ended and row.kind != "dead_address":
            _resolve(store, row.key, "cancelled", now)
            report.cancelled.append(row.key)
            continue
        _write_one(store, sink, row, calendar, now, report)
    return report


def _queue(
    store: Store,
    account_id: int,
    decisions: Sequence[Decision],
    now: datetime,
    writer: Writer,
    report: ReminderReport,
) -> None:
    """Commit the intent row of every wanted reminder whose draft is in Drafts."""
    for d, intent in wanted(decisions, now, writer.calendar):
        key = reminder_key(d.sequence_id, intent.step, intent.kind)
        with store.reader() as s:
            known = s.get(Reminder, key) is not None
        if known or not _draft_ready(store, d, intent, now):
            continue
        try:
            event = build_event(d, intent, now, writer)
        except Exception as exc:  # a broken user template must not stop the cycle
            log.warning("reminder %s not rendered: %s", key, exc)
            report.failed.append(key)
            continue
        commit_reminder(
            store,
            key,
            event,
            now,
            account_id=account_id,
            calendar_account=writer.calendar_account,
            sequence_id=d.sequence_id,
            thread_id=d.thread_id,
            step=intent.step,
            kind=intent.kind,
        )


def preview_reminders(
    store: Store,
    decisions: Sequence[Decision],
    now: datetime,
    *,
    locale: str,
    templates_dir: str | None,
    calendar: BusinessCalendar,
    phone_lookup: PhoneLookup,
    on_behalf_of: str | None = None,
) -> list[CalendarEvent]:
    """What `write_reminders` would write now, for `once --dry-run`; writes nothing.

    A dry run writes no drafts either, so the draft check is left out: every
    reminder the tracker asks for and the table does not know yet is shown.
    """
    writer = Writer(locale, templates_dir, calendar, phone_lookup, on_behalf_of)
    events = []
    for d, intent in wanted(decisions, now, calendar):
        with store.reader() as s:
            if s.get(Reminder, reminder_key(d.sequence_id, intent.step, intent.kind)):
                continue
        events.append(build_event(d, intent, now, writer))
    return events


def commit_reminder(
    store: Store,
    key: str,
    event: CalendarEvent,
    now: datetime,
    *,
    account_id: int,
    calendar_account: str | None,
    sequence_id: str,
    thread_id: int | None,
    step: int,
    kind: str,
) -> None:
    """Commit the intent row holding `event` exactly, unless `key` has one already."""
    commit_intent(
        store,
        Reminder,
        key,
        lambda: Reminder(
            key=key,
            uid=event.uid,
            account_id=account_id,
            calendar_account=calendar_account,
            sequence_id=sequence_id,
            thread_id=thread_id,
            step=step,
            kind=kind,
            state="intent",
            at=event.start,
            end=event.end,
            summary=event.summary,
            description=event.description,
            alarm_minutes=event.alarm_minutes,
            created_at=now,
            attempts=0,
        ),
    )


def _pending_rows(
    store: Store, account_id: int, calendar_account: str | None, now: datetime
) -> list[Reminder]:
    with store.reader() as s:
        rows = s.scalars(
            select(Reminder)
            .where(
                Reminder.account_id == account_id,
                Reminder.state.in_(PENDING),
                _same_calendar(calendar_account),
            )
            .order_by(Reminder.at)
        )
        return [r for r in rows if r.next_attempt_at is None or r.next_attempt_at <= now]


def _same_calendar(calendar_account: str | None) -> ColumnElement[bool]:
    return held_by(Reminder.calendar_account, calendar_account)


def _write_one(
    store: Store,
    sink: CalendarSink,
    row: Reminder,
    calendar: BusinessCalendar,
    now: datetime,
    report: ReminderReport,
) -> None:
    def attempt() -> Stored:
        nonlocal row
        existing = sink.find_event(row.uid)
        if existing is None:
            row = _reslot(store, row, now, calendar)
        zone = ZoneInfo(calendar.timezone)
        stored = existing if existing is not None else sink.put_event(event_of(row, zone))
        columns = {"href": stored.href, "etag": stored.etag, "next_attempt_at": None}
        return Stored(columns, found=existing is not None)

    done = write_once(store, Reminder, row.key, now, attempt, what="reminder", log=log)
    if done is None:
        report.failed.append(row.key)
        return
    (report.found if done.found else report.written).append(row.key)
    log.info(
        "reminder %s %s: %s at %s",
        row.key,
        "found from an earlier try" if done.found else "written",
        row.kind,
        row.at.isoformat(),
    )


def _reslot(store: Store, row: Reminder, now: datetime, calendar: BusinessCalendar) -> Reminder:
    """A retry that comes after the committed start moves it ahead: a reminder in the
    past rings for nobody. Safe, since the UID (not the time) makes it the same event."""
    if row.at > now:
        return row
    start = reminder_slot(row.at, now, calendar)
    if start == row.at:
        return row
    with store.transaction() as s:
        fresh = s.get(Reminder, row.key)
        if fresh is None:
            return row
        fresh.at, fresh.end = start, start + DURATION
    return fresh


def _resolve(store: Store, key: str, state: str, now: datetime) -> None:
    resolve(store, Reminder, key, state, now)


# ---- remove ----------------------------------------------------------------------------------


def remove_ended(
    store: Store,
    account_id: int,
    sink: CalendarSink,
    decisions: Sequence[Decision],
    now: datetime,
    *,
    calendar_account: str | None = None,
) -> ReminderReport:
    """Delete the future reminders of sequences that ended early; cancel unwritten ones."""
    report = ReminderReport()
    ended = {d.sequence_id: d.run.record.state for d in decisions if not d.run.record.state.open}
    if ended:
        _end_rows(store, account_id, calendar_account, ended, now, report)
    with store.reader() as s:
        removing = list(
            s.scalars(
                select(Reminder).where(
                    Reminder.account_id == account_id,
                    Reminder.state == "removing",
                    _same_calendar(calendar_account),
                )
            )
        )
    for row in removing:
        _remove_one(store, sink, row, now, report)
    return report


def _end_rows(
    store: Store,
    account_id: int,
    calendar_account: str | None,
    ended: dict[str, State],
    now: datetime,
    report: ReminderReport,
) -> None:
    """Cancel the unwritten reminders of ended sequences; mark written ones for removal."""
    with store.transaction() as s:
        rows = s.scalars(
            select(Reminder).where(
                Reminder.account_id == account_id,
                Reminder.sequence_id.in_(list(ended)),
                _same_calendar(calendar_account),
            )
        )
        for row in rows:
            if row.state in PENDING and row.kind != "dead_address":
                row.state = "cancelled"
                row.resolved_at = now
                report.cancelled.append(row.key)
            elif row.state == "written" and ended[row.sequence_id] in EARLY_END:
                row.state = "removing"  # committed first: a failed delete is retried


def _remove_one(
    store: Store, sink: CalendarSink, row: Reminder, now: datetime, report: ReminderReport
) -> None:
    try:
        current = sink.find_event(row.uid)
        if current is None:
            outcome = "gone"
        elif current.ghostwatch_key not in (None, row.key) or current.start <= now:
            # Past reminders are history; an event under our UID without our key is not ours.
            outcome = "kept"
        else:
            outcome = "removed" if sink.delete_event(row.uid) else "gone"
    except ConnectorError as exc:
        log.warning("reminder %s not removed: %s (will retry)", row.key, exc)
        return
    _resolve(store, row.key, outcome, now)
    getattr(report, outcome).append(row.key)
    if outcome == "removed":
        log.info("removed future reminder %s: the sequence ended", row.key)
