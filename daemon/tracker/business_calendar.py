"""The business calendar: working days (weekends, holidays, make-up days), working
hours, and the due times of a playbook's steps (pure, no I/O).

Units, as `BusinessCalendar.add` applies them:
- ``bd``: a start outside working hours first moves to the next working instant;
  then N working days later (weekends, holidays and substituted days off are
  not counted, make-up working days are) at the same local clock time.
- ``d``: N calendar days later at the same local clock time, then moved to the
  next working instant.
- ``h`` / ``m``: N hours / minutes of elapsed real time, then moved to the next
  working instant.
Day arithmetic is done on local dates and clock times, never as 24 h blocks, so
a DST change in between does not shift the hour.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from types import MappingProxyType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from daemon.tracker.policy import Duration, Playbook, Unit

# A holiday table spans a year at most, so a longer run of days off means the
# calendar itself is broken (e.g. a country whose data marks every day off).
_MAX_DAYS_OFF = 366


def parse_working_hours(text: str) -> tuple[time, time]:
    """'09:00-18:00' -> (time(9), time(18)); ValueError says what is valid."""
    hint = "write the start and end as HH:MM-HH:MM with the start first, e.g. '09:00-18:00'"
    try:
        first, second = str(text).split("-")
        start, end = time.fromisoformat(first.strip()), time.fromisoformat(second.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not a working-hours range; {hint}") from None
    if start >= end:
        # Overnight shifts would make "the working day" of a due time ambiguous.
        raise ValueError(f"{text!r}: the start must be before the end; {hint}")
    return start, end


@dataclass(frozen=True, slots=True)
class DueTime:
    """A moment in working hours plus, for `ghostwatch explain`, how it was reached."""

    at: datetime
    trace: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _YearTable:
    days_off: Mapping[date, str]  # every non-working day of the year -> why
    makeup_days: frozenset[date]  # weekend days that are working days


def _parse_holiday_code(code: str) -> tuple[str, str | None] | None:
    """'CN' -> ('CN', None), 'US-CA' -> ('US', 'CA'), 'none' -> None; ValueError otherwise."""
    raw = str(code).strip()
    if raw.lower() == "none":
        return None
    country, _, subdiv = raw.partition("-")
    country, subdiv = country.upper(), (subdiv.upper() or None)
    if country not in holiday_countries():
        raise ValueError(
            f"holidays = {code!r} is not a known holiday calendar; use 'CN' (mainland China, "
            "the default), 'none' (only Saturday and Sunday off) or a country code such as "
            "'DE' or 'US-CA' (country-subdivision)"
        )
    if subdiv is not None and subdiv not in holiday_subdivisions(country):
        known = ", ".join(holiday_subdivisions(country)[:12]) or "none"
        raise ValueError(
            f"holidays = {code!r}: {country} has no subdivision {subdiv!r} (known: {known}...)"
        )
    return country, subdiv


@functools.cache
def holiday_countries() -> dict[str, str]:
    """Country code (aliases too) -> the holidays class, from the package's registry.

    holidays.list_supported_countries() imports every country module (~40 ms,
    paid by every command that loads the config); the registry is a plain dict,
    and the class of the one country in use is imported when its days are needed.
    """
    from holidays.registry import COUNTRIES, EntityLoader

    codes = set(EntityLoader.get_country_codes())
    return {code: names[0] for names in COUNTRIES.values() for code in names[1:] if code in codes}


@functools.cache
def holiday_subdivisions(country: str) -> tuple[str, ...]:
    """The subdivision codes of one known country (imports only that country's module)."""
    import holidays

    return tuple(getattr(holidays, holiday_countries()[country]).subdivisions)


@functools.lru_cache(maxsize=64)
def _year_table(country: str | None, subdiv: str | None, year: int) -> _YearTable:
    first = date(year, 1, 1)
    days = [first + timedelta(days=i) for i in range((date(year + 1, 1, 1) - first).days)]
    if country is None:
        off = {d: "weekend" for d in days if d.weekday() >= 5}
        return _YearTable(MappingProxyType(off), frozenset())
    import holidays as holidays_lib  # only here: the package costs ~30 ms to import

    table = holidays_lib.country_holidays(country, subdiv=subdiv, years=year)
    if "en_US" in (table.supported_languages or ()):
        # Traces are English; the library's default for CN would be Chinese names.
        table = holidays_lib.country_holidays(country, subdiv=subdiv, years=year, language="en_US")
    weekend = set(table.weekend)
    off = {}
    makeup = set()
    for d in days:
        if table.is_working_day(d):
            if d.weekday() in weekend:
                makeup.add(d)
        else:
            off[d] = table.get(d) or "weekend"
    return _YearTable(MappingProxyType(off), frozenset(makeup))


_INSIDE = ("inside working hours",)
_MEMO_SIZE = 8192


def _fmt(t: datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M")


def _fmt_clock(c: time) -> str:
    return c.strftime("%H:%M")


class BusinessCalendar:
    """Working days and hours of one account; all results are in its timezone.

    Working hours are the half-open interval [start, end): at exactly the end
    the working day is over, so nothing is ever scheduled at 18:00 sharp.
    """

    __slots__ = (
        "_code", "_end", "_memo", "_start", "_tz", "holidays", "timezone", "working_hours",
    )  # fmt: skip

    def __init__(
        self,
        timezone: str = "Asia/Shanghai",
        holidays: str = "CN",
        working_hours: tuple[time, time] = (time(9, 0), time(18, 0)),
    ) -> None:
        try:
            self._tz = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"timezone = {timezone!r} is not a known IANA time zone; "
                "write e.g. 'Asia/Shanghai' or 'Europe/Berlin'"
            ) from None
        self._code = _parse_holiday_code(holidays)
        start, end = working_hours
        if start >= end:
            raise ValueError(
                f"working hours {_fmt_clock(start)}-{_fmt_clock(end)}: the start must be "
                "before the end, e.g. '09:00-18:00'"
            )
        if start.tzinfo is not None or end.tzinfo is not None:
            raise ValueError("working hours are local clock times; give them without a timezone")
        self.timezone = timezone
        self.holidays = holidays
        self.working_hours = (start, end)
        self._memo: dict[tuple[datetime, Duration], DueTime] = {}
        self._start, self._end = start, end

    def __repr__(self) -> str:
        hours = f"{_fmt_clock(self._start)}-{_fmt_clock(self._end)}"
        return f"BusinessCalendar({self.timezone!r}, {self.holidays!r}, {hours!r})"

    # -- days ---------------------------------------------------------------

    def _table(self, year: int) -> _YearTable:
        country, subdiv = self._code if self._code else (None, None)
        return _year_table(country, subdiv, year)

    def is_working_day(self, d: date) -> bool:
        return d not in self._table(d.year).days_off

    def day_off_reason(self, d: date) -> str | None:
        """Why `d` is not a working day (holiday name or 'weekend'), None if it is one."""
        return self._table(d.year).days_off.get(d)

    def is_makeup_day(self, d: date) -> bool:
        """A weekend day that is worked to make up for a holiday bridge (调休)."""
        return d in self._table(d.year).makeup_days

    def _next_working_day(self, d: date) -> date:
        """The first working day strictly after `d`."""
        for _ in range(_MAX_DAYS_OFF):
            d += timedelta(days=1)
            if self.is_working_day(d):
                return d
        raise ValueError(f"the {self.holidays!r} calendar has no working day after {d}")

    def _describe_days_off(self, first: date, last: date) -> str:
        reasons: list[str] = []
        d = first
        while d <= last:
            reason = self.day_off_reason(d)
            if reason and reason not in reasons:
                reasons.append(reason)
            d += timedelta(days=1)
        span = f"{first}" if first == last else f"{first}..{last}"
        return f"{span} ({', '.join(reasons)})"

    # -- instants -----------------------------------------------------------

    def _local(self, t: datetime) -> datetime:
        if t.tzinfo is None or t.utcoffset() is None:
            raise ValueError(f"{t!r} has no timezone; pass timezone-aware datetimes")
        return t.astimezone(self._tz)

    def _at(self, d: date, clock: time) -> datetime:
        """Local date + clock -> instant; a clock time skipped by a DST jump moves forward."""
        naive = datetime.combine(d, clock.replace(tzinfo=None, fold=0))
        # fold=0 resolves ambiguous times to the first occurrence; the UTC round
        # trip turns a non-existent (spring-forward) time into the real one after it.
        return naive.replace(tzinfo=self._tz).astimezone(UTC).astimezone(self._tz)

    def _inside(self, local: datetime) -> bool:
        return self.is_working_day(local.date()) and self._start <= local.time() < self._end

    def next_working_instant(self, t: datetime) -> datetime:
        """`t` if it is inside working hours of a working day, else the next start of work."""
        return self._settle(t)[0]

    def _settle(self, t: datetime) -> tuple[datetime, tuple[str, ...]]:
        local = self._local(t)
        day, clock = local.date(), local.time()
        if self._inside(local):
            return local, _INSIDE
        if self.is_working_day(day) and clock < self._start:
            at = self._at(day, self._start)
            return at, (f"before {_fmt_clock(self._start)} -> {_fmt(at)}",)
        target = self._next_working_day(day)
        at = self._at(target, self._start)
        first_off = day if not self.is_working_day(day) else day + timedelta(days=1)
        last_off = target - timedelta(days=1)
        parts = [f"after {_fmt_clock(self._end)}"] if self.is_working_day(day) else []
        if first_off <= last_off:
            parts.append(f"skip {self._describe_days_off(first_off, last_off)}")
        why = "; ".join(parts)
        return at, (f"{why} -> {_fmt(at)}",)

    # -- durations ----------------------------------------------------------

    def add(self, start: datetime, d: Duration) -> DueTime:
        """`start` + `d`, landing inside working hours; see the module notes for units."""
        # Replaying a thread asks for the same due times several times (next action,
        # risk, the advance check), with day-by-day walks and traces: remember them.
        key = (start, d)
        found = self._memo.get(key)
        if found is None:
            found = self._add(start, d)
            if len(self._memo) >= _MEMO_SIZE:
                self._memo.clear()
            self._memo[key] = found
        return found

    def _add(self, start: datetime, d: Duration) -> DueTime:
        if d.amount < 0:
            raise ValueError(f"{d}: durations cannot be negative")
        local = self._local(start)
        trace = [f"start {_fmt(local)} {self.timezone}"]
        if d.unit is Unit.BUSINESS_DAYS:
            moved, why = self._settle(local)
            if why != _INSIDE:
                trace.append(f"start is outside working hours: {why[0]}")
            raw = self._add_business_days(moved, d.amount, trace)
        elif d.unit is Unit.DAYS:
            # Calendar days keep the local clock time, so a DST change in between
            # neither shifts the hour nor double-counts a day.
            raw = self._at(local.date() + timedelta(days=d.amount), local.time())
            trace.append(f"+{d} -> {_fmt(raw)}")
        else:
            # Hours and minutes are elapsed real time (what "48 h" means to a
            # person); doing it in UTC keeps DST from stretching or shrinking it.
            step = (
                timedelta(hours=d.amount) if d.unit is Unit.HOURS else timedelta(minutes=d.amount)
            )
            raw = (local.astimezone(UTC) + step).astimezone(self._tz)
            trace.append(f"+{d} -> {_fmt(raw)}")
        at, why = self._settle(raw)
        trace.extend(why)
        return DueTime(at, tuple(trace))

    def _add_business_days(self, moved: datetime, n: int, trace: list[str]) -> datetime:
        day = moved.date()
        skipped: list[str] = []
        makeup: list[date] = []
        for _ in range(n):
            target = self._next_working_day(day)
            if target > day + timedelta(days=1):
                skipped.append(
                    self._describe_days_off(day + timedelta(days=1), target - timedelta(days=1))
                )
            if self.is_makeup_day(target):
                makeup.append(target)
            day = target
        line = f"+{n}{Unit.BUSINESS_DAYS.value}"
        notes = []
        if skipped:
            notes.append("skip " + "; ".join(skipped))
        if makeup:
            listed = ", ".join(str(m) for m in makeup)
            notes.append(f"{listed} counted as make-up working day{'s' if len(makeup) > 1 else ''}")
        trace.append(f"{line}: {'; '.join(notes)}" if notes else line)
        raw = self._at(day, moved.time())
        trace.append(f"-> {_fmt(raw)}")
        return raw

    def business_days_between(self, a: datetime, b: datetime) -> float:
        """Working time from `a` to `b` in business days (negative if b is earlier).

        Each working day counts as 1 spread evenly over its working hours, so
        Mon 16:10 -> Tue 16:10 is 1.0 and Fri 18:00 -> Mon 09:00 is 0.0.
        """
        if b.timestamp() < a.timestamp():
            return -self.business_days_between(b, a)
        la, lb = self._local(a), self._local(b)
        day_length = _seconds(self._end) - _seconds(self._start)
        total = 0.0
        d = la.date()
        while d <= lb.date():
            if self.is_working_day(d):
                lo = _seconds(self._start)
                hi = _seconds(self._end)
                if d == la.date():
                    lo = min(max(lo, _seconds(la.time())), hi)
                if d == lb.date():
                    hi = max(min(hi, _seconds(lb.time())), lo)
                total += hi - lo
            d += timedelta(days=1)
        return total / day_length


def _seconds(c: time) -> float:
    return c.hour * 3600 + c.minute * 60 + c.second + c.microsecond / 1e6


# ---------------------------------------------------------------------------
# Due times of the steps
# ---------------------------------------------------------------------------


def due_times(
    playbook: Playbook, calendar: BusinessCalendar, start: datetime
) -> tuple[DueTime, ...]:
    """Due time of every step, each measured from the start of the silence (not chained)."""
    return tuple(calendar.add(start, step) for step in playbook.steps)


def step_due(
    playbook: Playbook,
    calendar: BusinessCalendar,
    start: datetime,
    step_index: int,
    last_touch: datetime | None,
) -> DueTime:
    """When step `step_index` (0-based) may go out: its schedule, but never within
    `min_gap` of the last touch, so a late manual follow-up pushes the next step back."""
    if not 0 <= step_index < len(playbook.steps):
        raise IndexError(
            f"step index {step_index} is outside the playbook's {len(playbook.steps)} steps"
        )
    step = playbook.steps[step_index]
    scheduled = calendar.add(start, step)
    label = f"step {step_index + 1}/{len(playbook.steps)}"
    trace = [f"{label}: {step} after silence began", *scheduled.trace]
    if last_touch is None:
        trace.append(f"due {_fmt(scheduled.at)} (no earlier touch)")
        return DueTime(scheduled.at, tuple(trace))
    gap = calendar.add(last_touch, playbook.min_gap)
    trace.append(f"min_gap: {playbook.min_gap} after the last touch")
    trace.extend(gap.trace)
    if gap.at.timestamp() > scheduled.at.timestamp():
        trace.append(f"due {_fmt(gap.at)}: min_gap after the last touch is later than the schedule")
        return DueTime(gap.at, tuple(trace))
    trace.append(f"due {_fmt(scheduled.at)}: the schedule ({step}) is later; min_gap is satisfied")
    return DueTime(scheduled.at, tuple(trace))
