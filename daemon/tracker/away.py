"""Is the consultant away, and what happens to their follow-ups meanwhile (pure).

Away periods come from the account's own calendar. An entry is an absence when
all of these hold:

- it is not ghostwatch's own, not cancelled and not deleted;
- it is long: an all-day event (any number of days) or a timed one of at
  least 8 hours (Outlook users often book a working day as 09:00-18:00 rather
  than all day). Shorter entries are appointments: the consultant is back the
  same day, and a step due meanwhile is only hours late;
- it says so: busy status OOF ("out of office"), or a category or summary
  naming leave: vacation, holiday(s) (but not "holiday party"), out of office,
  OOO/OOF/PTO, annual/sick/parental leave, on leave, 休假, 年假, 请假, 病假,
  事假, 婚假, 产假, 陪产假, 丧假, 调休, 放假;
- a leave word only counts on the consultant's own entry (no organizer, or the
  consultant as organizer): "张三年假" shared by a colleague is not the
  consultant's absence. An OOF busy status is the consultant's own answer to
  an invitation, so it counts whoever organized the event.

A business trip (出差, "business trip", "travel") is *not* an absence by its
words: the consultant is working elsewhere, usually reads mail on the phone,
and pausing every follow-up for a trip costs more than it saves. It counts
only when the entry is marked OOF like any other.

All-day entries are read as calendar dates in the account's zone (a DATE has
no zone; the connector's choice of floating zone must not shift the days).

What happens to a step that falls in an absence:

- without a backup the schedule pauses and resumes on return (`shift_for_away`):
  a step due during the absence moves to the first working instant after it;
  with `since` (when the sequence began) given, an absence that lies wholly
  between `since` and the due time delays the due by the working days it
  covered, so the spacing between steps is kept (never compressed);
- with a backup configured, the backup acts (`handoff`): reminders go to the
  backup's calendar naming the original owner, drafts go to the backup's
  Drafts when the backup has a mail connector, at the original due time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from daemon.tracker.business_calendar import BusinessCalendar
from daemon.tracker.calendar_entry import EntryView
from daemon.tracker.policy import Duration, Unit

MIN_TIMED_ABSENCE = timedelta(hours=8)

_LEAVE_WORDS = re.compile(
    r"(?i)(vacation|\bholidays?\b(?!\s*(party|dinner|lunch|drinks|celebration))|"
    r"out[\s-]of[\s-](the[\s-])?office|\bOOO\b|\bOOF\b|\bPTO\b|"
    r"\b(annual|sick|parental|maternity|paternity|personal)\s+leave\b|\bon\s+leave\b|"
    r"休假|年假|请假|病假|事假|婚假|产假|陪产假|丧假|调休|放假)"
)


@dataclass(frozen=True, slots=True)
class Away:
    """One absence of the consultant: [start, end) and why it counts."""

    start: datetime
    end: datetime
    why: str


def is_absence(entry: EntryView, owner: str | None = None) -> str | None:
    """Why the entry is an absence of the consultant, or None when it is not."""
    if entry.is_ghostwatch or entry.cancelled or entry.deleted:
        return None
    if not entry.all_day and entry.end - entry.start < MIN_TIMED_ABSENCE:
        return None
    if entry.busy_status.upper() == "OOF":
        return f"out of office: {entry.summary}".rstrip(": ")
    own = entry.organizer is None or (owner is not None and entry.organizer == owner.lower())
    text = " ".join((entry.summary, *entry.categories))
    if own and _LEAVE_WORDS.search(text):
        return f"leave: {entry.summary}"
    return None


def _span(entry: EntryView, zone: ZoneInfo) -> tuple[datetime, datetime]:
    if entry.all_day:
        first = entry.start_day or entry.start.date()
        last = entry.end_day or entry.end.date()
        last = max(last, first + timedelta(days=1))
        return _midnight(first, zone), _midnight(last, zone)
    return entry.start.astimezone(zone), entry.end.astimezone(zone)


def _midnight(d: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(d, time(0), tzinfo=zone)


def away_periods(
    entries: Iterable[EntryView], tz: str | ZoneInfo, *, owner: str | None = None
) -> list[Away]:
    """The consultant's absences, merged where they overlap or touch, oldest first."""
    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    found: list[Away] = []
    for entry in entries:
        why = is_absence(entry, owner)
        if why is not None:
            start, end = _span(entry, zone)
            found.append(Away(start, end, why))
    found.sort(key=lambda a: (a.start, a.end))
    merged: list[Away] = []
    for away in found:
        if merged and away.start <= merged[-1].end:
            last = merged[-1]
            why = last.why if away.why in last.why else f"{last.why}; {away.why}"
            merged[-1] = Away(last.start, max(last.end, away.end), why)
        else:
            merged.append(away)
    return merged


def away_at(t: datetime, periods: Sequence[Away]) -> Away | None:
    """The absence `t` falls in, if any."""
    return next((p for p in periods if p.start <= t < p.end), None)


def _covered_working_days(p: Away, calendar: BusinessCalendar) -> int:
    return round(calendar.business_days_between(p.start, p.end))


def shift_for_away(
    due: datetime,
    periods: Sequence[Away],
    calendar: BusinessCalendar,
    *,
    since: datetime | None = None,
) -> tuple[datetime, str]:
    """Where a due time lands when the schedule pauses for absences; reason '' if unchanged."""
    at = due
    reasons: list[str] = []
    if since is not None:
        for p in periods:
            if since <= p.start and p.end <= at:
                days = _covered_working_days(p, calendar)
                if days:
                    at = calendar.add(at, Duration(days, Unit.BUSINESS_DAYS)).at
                    reasons.append(
                        f"paused {days} working day(s) while away "
                        f"{_fmt(p.start)}..{_fmt(p.end)} ({p.why})"
                    )
    # Absences may follow each other (vacation, then a public holiday, then leave).
    for _ in range(len(periods) + 1):
        current = away_at(at, periods)
        if current is None:
            break
        at = calendar.next_working_instant(current.end)
        reasons.append(
            f"away {_fmt(current.start)}..{_fmt(current.end)} ({current.why}): "
            f"resumes on return {_fmt(at)}"
        )
    return at, "; ".join(reasons)


@dataclass(frozen=True, slots=True)
class Handoff:
    """Who acts on a due step: the backup (named) or the owner (`to` None)."""

    to: str | None
    until: datetime | None = None
    reason: str = ""


def handoff(due: datetime, periods: Sequence[Away], backup: str | None) -> Handoff:
    """The backup takes over a step due while the owner is away, when one is configured.

    Without a backup the owner keeps it (and `shift_for_away` moves it).
    """
    current = away_at(due, periods)
    if current is None:
        return Handoff(None)
    if not backup:
        return Handoff(None, current.end, f"away ({current.why}), no backup: the schedule pauses")
    return Handoff(
        backup, current.end, f"away until {_fmt(current.end)} ({current.why}): {backup} acts"
    )


def _fmt(t: datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M")
