"""Snooze (pure): no step of a thread before a date (SPEC §3, §4).

Set by a `gw:snooze:2026-12-10` tag on any message of the thread, or by
`ghostwatch snooze CONTACT 2026-12-10` (a `controls` row whose action is
`snooze:20261210`). The one set last wins, so a later, shorter snooze can
undo a longer one. Only the drafts wait: a reply, a bounce or a meeting still
ends the sequence, and the schedule after the date is the playbook's own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from daemon.decide.views import ControlView, MsgView
from daemon.tracker.business_calendar import BusinessCalendar
from daemon.tracker.states import Intent, NextAction, WriteDraft, WriteReminder

TAG = "gw:snooze:"
ACTION = "snooze:"


def control_action(until: date) -> str:
    """The `controls.action` of a snooze command (the column holds 16 characters)."""
    return f"{ACTION}{until:%Y%m%d}"


def parse_day(text: str) -> date | None:
    for fmt in ("%Y-%m-%d", "%Y%m%d"):
        try:
            return datetime.strptime(text.strip(), fmt).date()
        except ValueError:
            continue
    return None


def snoozed_until(
    messages: Iterable[MsgView], controls: Iterable[ControlView], calendar: BusinessCalendar
) -> datetime | None:
    """The first working instant of the snooze date set last, or None without a snooze."""
    found: list[tuple[datetime, date]] = []
    for m in messages:
        for tag in m.tags:
            day = parse_day(tag[len(TAG) :]) if tag.lower().startswith(TAG) else None
            if day is not None:
                found.append((max(m.at, m.seen_at or m.at), day))
    for c in controls:
        day = parse_day(c.action[len(ACTION) :]) if c.action.startswith(ACTION) else None
        if day is not None:
            found.append((c.at, day))
    if not found:
        return None
    _, day = max(found)
    start = datetime.combine(day, time(0), tzinfo=ZoneInfo(calendar.timezone))
    return calendar.next_working_instant(start)


def hold(
    nxt: NextAction, due: list[Intent], until: datetime | None, now: datetime
) -> tuple[NextAction, list[Intent]]:
    """The next step and what is due, with the snooze applied."""
    if until is None or nxt.action != "draft" or nxt.due is None or nxt.due >= until:
        return nxt, due
    why = f"snoozed: no step before {until.isoformat()}"
    held = dataclasses.replace(nxt, due=until, trace=(*nxt.trace, why))
    if now >= until:
        return held, due
    return held, [i for i in due if not isinstance(i, WriteDraft | WriteReminder)]
