"""Which reminders the tracker asks for, and each one's event: its key and UID, its
wording, and its slot in the working day.

The UID is derived from the key, so a retry finds the event an earlier try wrote
(intents.py); the event is built once and committed in the intent row, and
`event_of` gives it back exactly as committed.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from connectors.model import CalendarEvent
from daemon.act.render import KINDS, DraftVars, render_reminder
from daemon.db.calendar_tables import Reminder
from daemon.decide.replay import Decision, mask
from daemon.tracker.business_calendar import BusinessCalendar
from daemon.tracker.machine import Context, advance, next_action
from daemon.tracker.states import State, WriteReminder

log = logging.getLogger("daemon.act.reminders")  # its lines read as the reminder outbox's

DURATION = timedelta(minutes=15)
ALARM_MINUTES = 10
SLOT = timedelta(minutes=15)
DEAD_ADDRESS_FRESH = timedelta(days=7)
CATEGORY = "ghostwatch"
PhoneLookup = Callable[[Decision], str | None]


@dataclass(frozen=True, slots=True)
class Writer:
    """How reminders are worded and where they land."""

    locale: str
    templates_dir: str | None
    calendar: BusinessCalendar
    phone_lookup: PhoneLookup
    # Set while the owner is away and the backup's calendar holds the reminder.
    on_behalf_of: str | None = None
    calendar_account: str | None = None


def reminder_key(sequence_id: str, step: int, kind: str) -> str:
    return f"{sequence_id}.{step}.{kind}"


def reminder_uid(key: str) -> str:
    """Deterministic, and with the prefix connectors treat as ghostwatch's own."""
    return f"ghostwatch-{key}@ghostwatch"


def reminder_slot(at: datetime, now: datetime, calendar: BusinessCalendar) -> datetime:
    """The start: `at` if still ahead, else the next quarter hour; inside working hours."""
    start = at if at > now else _ceil(now, SLOT)
    start = calendar.next_working_instant(start)
    last_minute = start + DURATION - timedelta(minutes=1)
    if calendar.next_working_instant(last_minute) != last_minute:
        start = calendar.next_working_instant(start + DURATION)
    return start


def _ceil(t: datetime, step: timedelta) -> datetime:
    base = t.replace(minute=0, second=0, microsecond=0)
    passed = t - base
    steps = -(-passed // step)  # ceiling division of timedeltas
    return base + step * steps


def build_event(d: Decision, intent: WriteReminder, now: datetime, writer: Writer) -> CalendarEvent:
    """The reminder as it will be written (calls `phone_lookup`)."""
    key = reminder_key(d.sequence_id, intent.step, intent.kind)
    variables = _variables(d, intent, _phone(d, writer), now)
    summary, description = render_reminder(
        writer.locale, intent.kind, variables, writer.templates_dir
    )
    role = dict(d.playbook.tags).get("role")
    summary, description = _decorate(summary, description, role, key, writer)
    start = reminder_slot(intent.at, now, writer.calendar).astimezone(
        ZoneInfo(writer.calendar.timezone)
    )
    return event_at(key, start, summary, description, categories=(CATEGORY,))


def event_at(
    key: str, start: datetime, summary: str, description: str, categories: tuple[str, ...] = ()
) -> CalendarEvent:
    """A reminder event under its deterministic UID, with the standard length and alarm."""
    return CalendarEvent(
        uid=reminder_uid(key),
        summary=summary,
        start=start,
        end=start + DURATION,
        description=description,
        categories=categories,
        ghostwatch_key=key,
        alarm_minutes=ALARM_MINUTES,
    )


def _phone(d: Decision, writer: Writer) -> str | None:
    try:
        return writer.phone_lookup(d)
    except Exception as exc:  # a lookup is a nicety; the reminder matters more
        log.warning("no phone number for %s: %s", mask(d.facts.contact), exc)
        return None


def _variables(d: Decision, intent: WriteReminder, phone: str | None, now: datetime) -> DraftVars:
    tags = dict(d.playbook.tags)
    kind = tags.get("kind") or "candidate"
    return DraftVars(
        kind=kind if kind in KINDS else "candidate",
        step=intent.step,
        contact_name=d.facts.contact_name,
        contact_address=d.facts.contact,
        contact_phone=phone,
        # The template's role is the job title; the role tag is added by _decorate.
        role=d.playbook.title,
        company=d.playbook.company,
        original_subject=d.facts.subject,
        stage=tags.get("stage") or None,
        days_silent=max(0, (now - d.run.record.started_at).days),
        bounce_reason=d.run.record.call_instead,
    )


def _decorate(
    summary: str, description: str, role: str | None, key: str, writer: Writer
) -> tuple[str, str]:
    zh = writer.locale.lower().startswith("zh")
    lines = [description.rstrip("\n")] if description.strip() else []
    if role:
        lines.append(f"角色标签：{role}" if zh else f"Role tag: {role}")
    if writer.on_behalf_of:
        owner = writer.on_behalf_of
        summary = f"【代{owner}】{summary}" if zh else f"[for {owner}] {summary}"
        lines.append(
            f"{owner} 不在办公室，由你代为跟进。" if zh else f"{owner} is away; you are covering."
        )
    lines.append(f"ghostwatch {key}")
    return summary, "\n".join(lines) + "\n"


def event_of(row: Reminder, zone: ZoneInfo | None = None) -> CalendarEvent:
    """The event exactly as committed in the intent row."""
    start, end = row.at, row.end
    if zone is not None:
        start, end = start.astimezone(zone), end.astimezone(zone)
    return CalendarEvent(
        uid=row.uid,
        summary=row.summary,
        start=start,
        end=end,
        description=row.description or "",
        categories=(CATEGORY,),
        ghostwatch_key=row.key,
        alarm_minutes=row.alarm_minutes,
    )


def wanted(
    decisions: Sequence[Decision], now: datetime, calendar: BusinessCalendar
) -> list[tuple[Decision, WriteReminder]]:
    """The reminders the tracker asks for as of `now` (not yet checked against drafts)."""
    out: list[tuple[Decision, WriteReminder]] = []
    for d in decisions:
        rec = d.run.record
        for intent in d.run.end_intents:
            if (
                isinstance(intent, WriteReminder)
                and intent.kind == "dead_address"
                and rec.ended_at is not None
                and rec.ended_at >= now - DEAD_ADDRESS_FRESH
            ):
                out.append((d, intent))
        if not d.current or not rec.state.open:
            continue
        due = [i for i in d.run.due if isinstance(i, WriteReminder)]
        if not due:
            pending = _pending_reminder(d, calendar)
            due = [pending] if pending is not None else []
        out.extend((d, i) for i in due)
    return out


def _pending_reminder(d: Decision, calendar: BusinessCalendar) -> WriteReminder | None:
    """What the tracker asked for when the pending draft came due (asked again)."""
    rec = d.run.record
    if rec.state is not State.DRAFT_PENDING or rec.pending_step is None:
        return None
    ctx = Context(playbook=d.playbook, calendar=calendar)
    waiting = dataclasses.replace(rec, state=State.WAITING, pending_step=None)
    nxt = next_action(waiting, ctx)
    if nxt.step != rec.pending_step or nxt.due is None:
        return None
    _, intents, _ = advance(waiting, nxt.due, ctx)
    return next(
        (i for i in intents if isinstance(i, WriteReminder) and i.step == rec.pending_step), None
    )
