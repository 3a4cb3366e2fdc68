"""One calendar reminder a day while follow-ups wait unsent in Drafts.

"3 follow-ups are waiting in Drafts" at the next free quarter hour, at most one
per day (the key is the day), through the reminder outbox (`reminders` rows),
so a retry never writes a second event. When no draft is stale any more, a
digest that is still ahead in the calendar is removed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from connectors.base import CalendarSink
from connectors.model import CalendarEvent
from daemon.act.reminder_event import event_at, reminder_slot
from daemon.act.reminders import PENDING, ReminderReport, commit_reminder, remove_ended
from daemon.db.calendar_tables import Reminder
from daemon.db.engine import Store
from daemon.decide.replay import Decision
from daemon.decide.stale import stale_risk
from daemon.tracker.business_calendar import BusinessCalendar
from daemon.tracker.policy import Duration
from daemon.tracker.states import Risk

DIGEST = "stale-drafts"  # the rows' sequence_id: no sequence has it
KIND = "stale_drafts"


def stale_drafts(
    decisions: Sequence[Decision], now: datetime, calendar: BusinessCalendar, stale: Duration
) -> list[Decision]:
    return [
        d
        for d in decisions
        if d.current and stale_risk(d.draft_waiting_since, now, calendar, stale) is not Risk.GREEN
    ]


def wording(waiting: Sequence[Decision], tz: ZoneInfo, locale: str) -> tuple[str, str]:
    zh = locale.lower().startswith("zh")
    n = len(waiting)
    if zh:
        summary = f"有 {n} 封跟进邮件在草稿箱等你发送"
    else:
        summary = f"{n} follow-up{' is' if n == 1 else 's are'} waiting in Drafts"
    lines = []
    for d in sorted(waiting, key=lambda d: d.draft_waiting_since or d.run.record.started_at):
        since = _day(d.draft_waiting_since, tz)
        name = d.facts.contact_name or d.facts.contact
        lines.append(f"- {name}: {d.facts.subject} ({'草稿写于' if zh else 'since'} {since})")
    return summary, "\n".join([*lines, f"ghostwatch {DIGEST}"]) + "\n"


def _slot(now: datetime, calendar: BusinessCalendar) -> tuple[str, datetime]:
    """The digest's key (one a day: the day it rings) and start, in the policy's zone."""
    start = reminder_slot(now, now, calendar).astimezone(ZoneInfo(calendar.timezone))
    return f"{DIGEST}.{start:%Y%m%d}", start


def _day(t: datetime | None, tz: ZoneInfo) -> str:
    return t.astimezone(tz).strftime("%m-%d") if t else "?"


def queue_digest(
    store: Store,
    account_id: int,
    sink: CalendarSink,
    decisions: Sequence[Decision],
    now: datetime,
    *,
    calendar: BusinessCalendar,
    stale: Duration,
    locale: str,
) -> ReminderReport:
    """Commit today's digest (the reminder outbox writes it), or remove one no longer true."""
    waiting = stale_drafts(decisions, now, calendar, stale)
    if not waiting:
        return _withdraw(store, account_id, sink, now)
    key, start = _slot(now, calendar)
    summary, description = wording(waiting, ZoneInfo(calendar.timezone), locale)
    commit_reminder(
        store,
        key,
        event_at(key, start, summary, description),
        now,
        account_id=account_id,
        calendar_account=None,
        sequence_id=DIGEST,
        thread_id=None,
        step=0,
        kind=KIND,
    )
    return ReminderReport()


def preview_digest(
    store: Store,
    decisions: Sequence[Decision],
    now: datetime,
    *,
    calendar: BusinessCalendar,
    stale: Duration,
    locale: str,
) -> list[CalendarEvent]:
    """The digest `queue_digest` would add now, for `once --dry-run`; writes nothing."""
    waiting = stale_drafts(decisions, now, calendar, stale)
    if not waiting:
        return []
    key, start = _slot(now, calendar)
    with store.reader() as s:
        if s.get(Reminder, key) is not None:
            return []
    summary, description = wording(waiting, ZoneInfo(calendar.timezone), locale)
    return [event_at(key, start, summary, description)]


def _withdraw(store: Store, account_id: int, sink: CalendarSink, now: datetime) -> ReminderReport:
    with store.transaction() as s:
        rows = s.scalars(
            select(Reminder).where(
                Reminder.account_id == account_id,
                Reminder.sequence_id == DIGEST,
                Reminder.at > now,
            )
        )
        for row in rows:
            if row.state in PENDING:
                row.state, row.resolved_at = "cancelled", now
            elif row.state == "written":
                row.state = "removing"  # remove_ended deletes it (and retries on failure)
    return remove_ended(store, account_id, sink, [], now)
