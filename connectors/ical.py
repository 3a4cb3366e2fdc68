"""iCalendar (RFC 5545) <-> CalendarEvent, pure: no I/O, no clock unless passed in.

Shared by the CalDAV and vdir connectors, and by the daemon for iMIP replies
that arrive as mail attachments (`parse_imip_reply`).

What ghostwatch writes (`build_calendar`): one VEVENT with a deterministic UID,
tz-aware times (a VTIMEZONE for the event's zone, or UTC; never floating),
a DISPLAY VALARM, and `X-GHOSTWATCH-KEY`, which together with the UID prefix
marks the event as ghostwatch's own. It never writes ATTENDEE or ORGANIZER:
on a server with scheduling that would send the candidate an invitation.

What it reads (`parse_calendar`): whatever other clients wrote. Anything it
cannot make sense of is skipped with a reason, never raised.
"""

from __future__ import annotations

import hashlib
import re
import warnings
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr
from icalendar import Alarm, Calendar, Event

from connectors.errors import Permanent
from connectors.model import Address, CalendarEvent

UID_PREFIX = "ghostwatch-"
KEY_PROPERTY = "X-GHOSTWATCH-KEY"
PRODID = "-//ghostwatch//ghostwatch calendar connector//EN"

Skip = tuple[str, str]  # (uid or "?", reason)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SAFE_NAME = re.compile(r"[A-Za-z0-9_.@+=-]{1,200}")

# What a reader may set on an event without it being a different event
# (server bookkeeping, or what ghostwatch never writes itself).
_NOT_CONTENT = {"etag": None, "href": None, "sequence": 0, "attendees": (), "organizer": None}


def uid_for_key(key: str) -> str:
    """The deterministic UID of the reminder for idempotency key `<sequence-id>.<step>`."""
    return f"{UID_PREFIX}{key}"


def is_ghostwatch(uid: str, key: str | None) -> bool:
    """True for events ghostwatch wrote: the only ones it may update or delete."""
    return uid.startswith(UID_PREFIX) or bool(key)


def require_ghostwatch(event: CalendarEvent) -> None:
    """Raise Permanent unless ghostwatch wrote `event`: the user's own events are never changed."""
    if not is_ghostwatch(event.uid, event.ghostwatch_key):
        raise Permanent(
            f"{event.uid} is not a ghostwatch event (no {KEY_PROPERTY}, UID without "
            f"{UID_PREFIX!r}); ghostwatch never changes the user's own events"
        )


def resource_name(uid: str) -> str:
    """The file / resource name for `uid`: vdirsyncer's rule (a tame UID as is, else a hash)."""
    if _SAFE_NAME.fullmatch(uid) and not uid.startswith("."):
        return uid + ".ics"
    return hashlib.sha1(uid.encode("utf-8")).hexdigest() + ".ics"


def same_content(stored: CalendarEvent, desired: CalendarEvent) -> bool:
    """True when writing `desired` over `stored` would change nothing a user can see.

    `desired` is compared as it would be written (defaults such as the busy
    status filled in), so a retry of an unchanged write is recognised as one.
    """
    return _content(stored) == _content(as_written(desired))


def as_written(event: CalendarEvent) -> CalendarEvent:
    """`event` as a reader gets it back after `build_calendar`."""
    events, _ = parse_calendar(build_calendar(event, now=_EPOCH))
    return replace(events[0], etag=event.etag, href=event.href)


def _content(event: CalendarEvent) -> CalendarEvent:
    return replace(event, **_NOT_CONTENT)  # type: ignore[arg-type]


# -- building -------------------------------------------------------------------


def build_calendar(event: CalendarEvent, *, now: datetime) -> bytes:
    """A VCALENDAR holding `event` as one VEVENT (plus the VTIMEZONE it needs)."""
    if event.start.tzinfo is None or event.end.tzinfo is None:
        raise ValueError(f"event {event.uid}: start and end must be tz-aware")
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add_component(_vevent(event, now))
    if not event.all_day:
        # Only the years around the event: a 70-year VTIMEZONE bloats every file.
        year = event.start.year
        cal.add_missing_timezones(date(year - 1, 1, 1), date(year + 2, 1, 1))
    return cal.to_ical()


def _vevent(event: CalendarEvent, now: datetime) -> Event:
    ev = Event()
    ev.add("uid", event.uid)
    ev.add("dtstamp", now.astimezone(UTC))
    start, end = _wire_times(event)
    ev.add("dtstart", start)
    ev.add("dtend", end)
    ev.add("summary", event.summary)
    if event.description:
        ev.add("description", event.description)
    if event.status:
        ev.add("status", event.status.upper())
    ev.add("sequence", max(event.sequence, 0))
    ev.add("transp", "TRANSPARENT" if event.transparent else "OPAQUE")
    # Outlook and Exchange ignore TRANSP and read this one.
    busy = event.busy_status or ("FREE" if event.transparent else "BUSY")
    ev.add("x-microsoft-cdo-busystatus", busy.upper())
    if event.categories:
        ev.add("categories", list(event.categories))
    if event.ghostwatch_key:
        ev.add(KEY_PROPERTY.lower(), event.ghostwatch_key)
    if event.alarm_minutes is not None:
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("trigger", timedelta(minutes=-max(event.alarm_minutes, 0)))
        alarm.add("description", event.summary or "ghostwatch")
        ev.add_component(alarm)
    return ev


def _wire_times(event: CalendarEvent) -> tuple[date | datetime, date | datetime]:
    if event.all_day:
        first = event.start.date()
        last = event.end.astimezone(event.start.tzinfo).date()
        return first, max(last, first + timedelta(days=1))
    zone = event.start.tzinfo
    if not isinstance(zone, ZoneInfo) or zone.key == "UTC":
        # A fixed offset has no name a calendar client could show; UTC is exact.
        return event.start.astimezone(UTC), event.end.astimezone(UTC)
    return event.start, event.end.astimezone(zone)


# -- parsing --------------------------------------------------------------------


def parse_calendar(
    data: bytes | str,
    *,
    floating_tz: tzinfo = UTC,
    href: str | None = None,
    etag: str | None = None,
    since: datetime | None = None,
) -> tuple[list[CalendarEvent], list[Skip]]:
    """Every event in one iCalendar object: (events, skipped as (uid or "?", reason)).

    Recurring events come back as their master (overrides with RECURRENCE-ID
    are folded into it); floating and DATE times are read in `floating_tz`.
    With `since`, events over before it that do not recur after it are left
    out (not skipped: they are fine, just old).
    """
    try:
        cal = Calendar.from_ical(data)
    except Exception as exc:  # icalendar raises ValueError, KeyError, IndexError...
        return [], [("?", f"not iCalendar: {_short(exc)}")]
    events: list[CalendarEvent] = []
    skipped: list[Skip] = []
    for uid, vevent in _masters(cal.walk("VEVENT")):
        try:
            parsed = _event(vevent, uid, floating_tz)
        except _Unusable as why:
            skipped.append((uid, str(why)))
            continue
        except Exception as exc:  # a value icalendar accepted but cannot decode
            skipped.append((uid, f"unreadable: {_short(exc)}"))
            continue
        if since is None or parsed.end >= since or _recurs_after(vevent, parsed, since):
            events.append(replace(parsed, href=href, etag=etag))
    return events, skipped


class _Unusable(Exception):
    """Why an event cannot become a CalendarEvent."""


def _masters(vevents: Iterable[Any]) -> list[tuple[str, Any]]:
    """One VEVENT per UID: the master, else the first override seen."""
    chosen: dict[str, Any] = {}
    for ev in vevents:
        uid = _text(ev.get("UID")) or "?"
        current = chosen.get(uid)
        if current is None or (
            ev.get("RECURRENCE-ID") is None and current.get("RECURRENCE-ID") is not None
        ):
            chosen[uid] = ev
    return list(chosen.items())


def _event(ev: Any, uid: str, floating_tz: tzinfo) -> CalendarEvent:
    errors = dict(getattr(ev, "errors", ()) or ())
    for prop in ("DTSTART", "DTEND", "DURATION", "RRULE"):
        if prop in errors:
            raise _Unusable(f"broken {prop}: {errors[prop]}")
    if uid == "?":
        raise _Unusable("no UID")
    if ev.get("DTSTART") is None:
        raise _Unusable("no DTSTART")
    raw_start = ev.get("DTSTART").dt
    all_day = not isinstance(raw_start, datetime)
    start = _aware(raw_start, floating_tz)
    end = _aware(ev.end, floating_tz) if _has_end(ev) else _default_end(start, all_day)
    if end < start:
        raise _Unusable(f"ends before it starts ({end.isoformat()} < {start.isoformat()})")
    _check_rrule(ev, start)
    return CalendarEvent(
        uid=uid,
        summary=_text(ev.get("SUMMARY")),
        start=start,
        end=end,
        all_day=all_day,
        description=_text(ev.get("DESCRIPTION")),
        attendees=tuple(a for a in map(_address, _list(ev.get("ATTENDEE"))) if a),
        organizer=_address(ev.get("ORGANIZER")),
        status=_text(ev.get("STATUS")).upper(),
        busy_status=_text(ev.get("X-MICROSOFT-CDO-BUSYSTATUS")).upper(),
        transparent=_text(ev.get("TRANSP")).upper() == "TRANSPARENT",
        categories=_categories(ev.get("CATEGORIES")),
        sequence=_int(ev.get("SEQUENCE")),
        ghostwatch_key=_text(ev.get(KEY_PROPERTY)) or None,
        alarm_minutes=_alarm_minutes(ev),
    )


def _has_end(ev: Any) -> bool:
    return ev.get("DTEND") is not None or ev.get("DURATION") is not None


def _default_end(start: datetime, all_day: bool) -> datetime:
    # RFC 5545 3.6.1: a DATE start lasts one day, a DATE-TIME start is an instant.
    return start + timedelta(days=1) if all_day else start


def _aware(value: date | datetime, floating_tz: tzinfo) -> datetime:
    if not isinstance(value, datetime):
        return datetime.combine(value, time(0), tzinfo=floating_tz)
    if value.tzinfo is None:  # floating, or a TZID nobody can resolve
        return value.replace(tzinfo=floating_tz)
    return value


def _rrule(text: str, start: datetime) -> Any:
    # dateutil warns (and will one day raise) on COUNT together with UNTIL;
    # other clients write that, and the rule still means something.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return rrulestr(text, dtstart=start)


def _check_rrule(ev: Any, start: datetime) -> None:
    for one in _list(ev.get("RRULE")):
        text = one.to_ical().decode("utf-8", "replace")
        problem: Exception | None = None
        # Clients mix a zoned DTSTART with a floating UNTIL (and the reverse);
        # only a rule that fails both ways is broken.
        for dtstart in (start, start.replace(tzinfo=None)):
            try:
                next(iter(_rrule(text, dtstart)), None)
            except Exception as exc:  # dateutil raises ValueError, TypeError, OverflowError
                problem = exc
            else:
                problem = None
                break
        if problem is not None:
            raise _Unusable(f"broken RRULE {text!r}: {_short(problem)}")


def _recurs_after(ev: Any, event: CalendarEvent, since: datetime) -> bool:
    rules = _list(ev.get("RRULE"))
    if not rules:
        return False
    try:
        for one in rules:
            rule = _rrule(one.to_ical().decode("utf-8", "replace"), event.start)
            if rule.after(since - (event.end - event.start), inc=True) is not None:
                return True
    except Exception:  # an UNTIL dateutil cannot compare: keep the event rather than lose it
        return True
    return False


def _alarm_minutes(ev: Any) -> int | None:
    for sub in ev.subcomponents:
        if sub.name != "VALARM" or sub.get("TRIGGER") is None:
            continue
        trigger = getattr(sub.get("TRIGGER"), "dt", None)
        if isinstance(trigger, timedelta) and trigger <= timedelta(0):
            return int(-trigger.total_seconds() // 60)
    return None


def _address(value: Any) -> Address | None:
    if value is None:
        return None
    addr = str(value).strip()
    if addr.lower().startswith("mailto:"):
        addr = addr[7:]
    if "@" not in addr:
        return None
    params = getattr(value, "params", {}) or {}
    return Address(addr, str(params.get("CN", "")).strip('"'))


def _categories(value: Any) -> tuple[str, ...]:
    found: list[str] = []
    for item in _list(value):
        for cat in getattr(item, "cats", None) or [item]:
            text = str(cat).strip()
            if text and text not in found:
                found.append(text)
    return tuple(found)


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):  # a property repeated where one was expected
        value = value[0]
    return str(value).strip()


def _int(value: Any) -> int:
    try:
        return int(str(value)) if value is not None else 0
    except ValueError:
        return 0


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]


# -- iMIP replies ---------------------------------------------------------------


class ImipReply(NamedTuple):
    """One attendee's answer in a METHOD:REPLY (RFC 5546), e.g. ACCEPTED."""

    attendee: str  # lower-cased address without mailto:
    partstat: str  # ACCEPTED, DECLINED, TENTATIVE, DELEGATED...
    uid: str
    dtstart: datetime | None


def parse_imip_reply(data: bytes, *, floating_tz: tzinfo = UTC) -> list[ImipReply]:
    """The attendee answers in an iMIP REPLY (a text/calendar mail part); [] if none."""
    try:
        cal = Calendar.from_ical(data)
    except Exception:
        return []
    if _text(cal.get("METHOD")).upper() != "REPLY":
        return []
    answers: list[ImipReply] = []
    for ev in cal.walk("VEVENT"):
        uid = _text(ev.get("UID"))
        start = _reply_start(ev, floating_tz)
        for attendee in _list(ev.get("ATTENDEE")):
            addr = _address(attendee)
            params = getattr(attendee, "params", {}) or {}
            partstat = str(params.get("PARTSTAT", "NEEDS-ACTION")).upper()
            if addr and uid:
                answers.append(ImipReply(addr.addr, partstat, uid, start))
    return answers


def _reply_start(ev: Any, floating_tz: tzinfo) -> datetime | None:
    try:
        prop = ev.get("DTSTART")
        return _aware(prop.dt, floating_tz) if prop is not None else None
    except Exception:  # a broken DTSTART does not make the answer less true
        return None
