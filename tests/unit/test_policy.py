"""Business-calendar math: working days, working hours, durations, DST, step due times."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.tracker.business_calendar import (
    BusinessCalendar,
    DueTime,
    due_times,
    parse_working_hours,
    step_due,
)
from daemon.tracker.policy import Duration, Playbook, Unit, parse_duration

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")

CN = BusinessCalendar("Asia/Shanghai", "CN", (time(9), time(18)))
NONE = BusinessCalendar("Asia/Shanghai", "none", (time(9), time(18)))
DE = BusinessCalendar("Europe/Berlin", "DE", (time(9), time(18)))
CALENDARS = {"CN": CN, "none": NONE, "DE": DE}


def sh(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=SHANGHAI)


def ber(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=BERLIN)


# -- working days -------------------------------------------------------------


@pytest.mark.parametrize(
    ("cal", "day", "working"),
    [
        # National Day 2026: Oct 1-7 off, make-up working days Sun 09-20 and Sat 10-10.
        ("CN", date(2026, 9, 18), True),
        ("CN", date(2026, 9, 19), False),
        ("CN", date(2026, 9, 20), True),
        ("CN", date(2026, 9, 30), True),
        *[("CN", date(2026, 10, d), False) for d in range(1, 8)],
        ("CN", date(2026, 10, 8), True),
        ("CN", date(2026, 10, 10), True),
        ("CN", date(2026, 10, 11), False),
        # Spring Festival 2026: Feb 15-23 off, make-up Sat 02-14 and Sat 02-28.
        ("CN", date(2026, 2, 13), True),
        ("CN", date(2026, 2, 14), True),
        *[("CN", date(2026, 2, d), False) for d in range(15, 24)],
        ("CN", date(2026, 2, 24), True),
        ("CN", date(2026, 2, 28), True),
        # "none": only the weekend is off, holidays are ignored.
        ("none", date(2026, 10, 1), True),
        ("none", date(2026, 10, 3), False),
        ("none", date(2026, 10, 4), False),
        ("none", date(2026, 10, 10), False),
        ("DE", date(2026, 12, 25), False),
        ("DE", date(2026, 10, 26), True),
    ],
)
def test_is_working_day(cal: str, day: date, working: bool) -> None:
    assert CALENDARS[cal].is_working_day(day) is working


def test_country_subdivisions_add_their_own_holidays() -> None:
    california = BusinessCalendar("America/Los_Angeles", "US-CA", (time(9), time(17)))
    federal = BusinessCalendar("America/New_York", "US", (time(9), time(17)))
    assert california.day_off_reason(date(2026, 3, 31)) == "Cesar Chavez Day"
    assert federal.is_working_day(date(2026, 3, 31))
    assert not BusinessCalendar("Europe/Berlin", "de-by").is_working_day(date(2026, 1, 6))


def test_day_off_reason_names_the_holiday() -> None:
    assert CN.day_off_reason(date(2026, 10, 1)) == "National Day"
    assert CN.day_off_reason(date(2026, 10, 4)) == "weekend"
    assert CN.day_off_reason(date(2026, 10, 8)) is None
    assert CN.is_makeup_day(date(2026, 10, 10))
    assert not CN.is_makeup_day(date(2026, 10, 9))


# -- working hours ------------------------------------------------------------


@pytest.mark.parametrize(
    ("t", "expected"),
    [
        (sh(2026, 9, 29, 9, 0), sh(2026, 9, 29, 9, 0)),
        (sh(2026, 9, 29, 17, 59), sh(2026, 9, 29, 17, 59)),
        (sh(2026, 9, 29, 8, 59), sh(2026, 9, 29, 9, 0)),
        # Working hours are [09:00, 18:00): at 18:00 sharp the day is over.
        (sh(2026, 9, 29, 18, 0), sh(2026, 9, 30, 9, 0)),
        (sh(2026, 9, 30, 23, 0), sh(2026, 10, 8, 9, 0)),
        (sh(2026, 10, 3, 12, 0), sh(2026, 10, 8, 9, 0)),
        (sh(2026, 9, 19, 12, 0), sh(2026, 9, 20, 9, 0)),
        # 01:30 UTC is 09:30 in Shanghai: inside, and returned in the account zone.
        (datetime(2026, 9, 29, 1, 30, tzinfo=UTC), sh(2026, 9, 29, 9, 30)),
        (datetime(2026, 9, 29, 10, 0, tzinfo=UTC), sh(2026, 9, 30, 9, 0)),
    ],
)
def test_next_working_instant(t: datetime, expected: datetime) -> None:
    got = CN.next_working_instant(t)
    assert got == expected
    assert got.tzinfo == SHANGHAI


def test_custom_working_hours_clamp() -> None:
    cal = BusinessCalendar("Asia/Shanghai", "CN", (time(8, 30), time(17, 30)))
    assert cal.next_working_instant(sh(2026, 9, 29, 8, 0)) == sh(2026, 9, 29, 8, 30)
    assert cal.next_working_instant(sh(2026, 9, 29, 17, 30)) == sh(2026, 9, 30, 8, 30)
    assert cal.add(sh(2026, 9, 29, 17, 45), Duration(0, Unit.BUSINESS_DAYS)).at == sh(
        2026, 9, 30, 8, 30
    )


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        CN.next_working_instant(datetime(2026, 9, 29, 10, 0))


# -- adding durations ------------------------------------------------------------


@pytest.mark.parametrize(
    ("cal", "start", "duration", "expected"),
    [
        # A Friday outreach + 1bd lands on the make-up Sunday.
        ("CN", sh(2026, 9, 18, 16, 10), "1bd", sh(2026, 9, 20, 16, 10)),
        # The whole National Day week is skipped, the make-up Saturday counts.
        ("CN", sh(2026, 9, 30, 16, 10), "1bd", sh(2026, 10, 8, 16, 10)),
        ("CN", sh(2026, 9, 30, 16, 10), "3bd", sh(2026, 10, 10, 16, 10)),
        ("CN", sh(2026, 9, 30, 16, 10), "6bd", sh(2026, 10, 14, 16, 10)),
        # Spring Festival: Fri 02-13 -> make-up Sat 02-14 -> after the break.
        ("CN", sh(2026, 2, 13, 10, 0), "1bd", sh(2026, 2, 14, 10, 0)),
        ("CN", sh(2026, 2, 13, 10, 0), "2bd", sh(2026, 2, 24, 10, 0)),
        ("CN", sh(2026, 2, 12, 11, 0), "3bd", sh(2026, 2, 24, 11, 0)),
        # A start outside working hours first moves to the next working instant.
        ("CN", sh(2026, 9, 29, 19, 30), "1bd", sh(2026, 10, 8, 9, 0)),
        ("CN", sh(2026, 9, 29, 7, 0), "1bd", sh(2026, 9, 30, 9, 0)),
        ("CN", sh(2026, 10, 3, 11, 0), "1bd", sh(2026, 10, 9, 9, 0)),
        ("CN", sh(2026, 10, 3, 11, 0), "0bd", sh(2026, 10, 8, 9, 0)),
        # Calendar days, then the next working instant.
        ("CN", sh(2026, 9, 28, 10, 0), "1d", sh(2026, 9, 29, 10, 0)),
        ("CN", sh(2026, 9, 28, 20, 0), "1d", sh(2026, 9, 30, 9, 0)),
        ("CN", sh(2026, 9, 28, 7, 30), "1d", sh(2026, 9, 29, 9, 0)),
        ("CN", sh(2026, 9, 29, 19, 10), "2d", sh(2026, 10, 8, 9, 0)),
        # Hours (offer stage: 48h) are real elapsed time, then clamped.
        ("CN", sh(2026, 9, 14, 10, 0), "48h", sh(2026, 9, 16, 10, 0)),
        ("CN", sh(2026, 9, 29, 10, 0), "48h", sh(2026, 10, 8, 9, 0)),
        ("CN", sh(2026, 9, 17, 17, 30), "48h", sh(2026, 9, 20, 9, 0)),
        ("CN", sh(2026, 9, 29, 17, 40), "15m", sh(2026, 9, 29, 17, 55)),
        ("CN", sh(2026, 9, 29, 17, 50), "15m", sh(2026, 9, 30, 9, 0)),
        # "none": a plain weekend, National Day is a normal working day.
        ("none", sh(2026, 10, 2, 16, 0), "1bd", sh(2026, 10, 5, 16, 0)),
        ("none", sh(2026, 10, 3, 10, 0), "1bd", sh(2026, 10, 6, 9, 0)),
        ("none", sh(2026, 10, 2, 16, 0), "1d", sh(2026, 10, 5, 9, 0)),
        ("none", sh(2026, 9, 30, 16, 10), "1bd", sh(2026, 10, 1, 16, 10)),
        # Europe/Berlin across the 2026-10-25 change: days keep the clock time...
        ("DE", ber(2026, 10, 23, 10, 0), "1bd", ber(2026, 10, 26, 10, 0)),
        ("DE", ber(2026, 10, 22, 10, 0), "4d", ber(2026, 10, 26, 10, 0)),
        # ...while 72 real hours include the extra hour of the night of the change.
        ("DE", ber(2026, 10, 23, 17, 0), "72h", ber(2026, 10, 26, 16, 0)),
        # and the spring change (2026-03-29) the other way round.
        ("DE", ber(2026, 3, 27, 10, 0), "1bd", ber(2026, 3, 30, 10, 0)),
        ("DE", ber(2026, 3, 27, 16, 0), "72h", ber(2026, 3, 30, 17, 0)),
    ],
)
def test_add(cal: str, start: datetime, duration: str, expected: datetime) -> None:
    got = CALENDARS[cal].add(start, parse_duration(duration))
    # Compare both the instant and the local clock: a DST slip would differ in one.
    assert got.at.timestamp() == expected.timestamp()
    assert got.at.replace(tzinfo=None) == expected.replace(tzinfo=None)


def test_berlin_business_day_keeps_the_clock_across_dst() -> None:
    got = DE.add(ber(2026, 10, 23, 10, 0), Duration(1, Unit.BUSINESS_DAYS)).at
    assert got.utcoffset() == timedelta(hours=1)
    assert got.astimezone(UTC) == datetime(2026, 10, 26, 9, 0, tzinfo=UTC)


def test_add_trace_explains_national_day() -> None:
    due = CN.add(sh(2026, 9, 30, 16, 10), Duration(1, Unit.BUSINESS_DAYS))
    assert due.trace[0] == "start 2026-09-30 16:10 Asia/Shanghai"
    assert due.trace[1].startswith("+1bd: skip 2026-10-01..2026-10-07 (National Day, ")
    assert "Day off (substituted from 09/20/2026)" in due.trace[1]
    assert due.trace[2:] == ("-> 2026-10-08 16:10", "inside working hours")


def test_add_trace_mentions_makeup_day_and_moves() -> None:
    assert (
        "2026-10-10 counted as make-up working day"
        in CN.add(sh(2026, 9, 30, 16, 10), Duration(3, Unit.BUSINESS_DAYS)).trace[1]
    )
    moved = CN.add(sh(2026, 9, 29, 19, 10), Duration(2, Unit.DAYS))
    assert moved.trace[1] == "+2d -> 2026-10-01 19:10"
    assert moved.trace[2].startswith("skip 2026-10-01..2026-10-07 (National Day")
    assert moved.trace[2].endswith("-> 2026-10-08 09:00")
    late = CN.add(sh(2026, 9, 29, 19, 30), Duration(1, Unit.BUSINESS_DAYS))
    assert late.trace[1] == "start is outside working hours: after 18:00 -> 2026-09-30 09:00"


def test_negative_duration_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        CN.add(sh(2026, 9, 29, 10), Duration(-1, Unit.DAYS))


# -- business days between ------------------------------------------------------


@pytest.mark.parametrize(
    ("cal", "a", "b", "expected"),
    [
        ("CN", sh(2026, 9, 14, 16, 10), sh(2026, 9, 15, 16, 10), 1.0),
        ("CN", sh(2026, 9, 30, 16, 10), sh(2026, 10, 10, 16, 10), 3.0),
        ("CN", sh(2026, 10, 2, 9, 0), sh(2026, 10, 7, 18, 0), 0.0),
        ("CN", sh(2026, 9, 29, 9, 0), sh(2026, 9, 29, 13, 30), 0.5),
        # Evening after work and the next morning count nothing, not negative time.
        ("CN", sh(2026, 9, 14, 20, 0), sh(2026, 9, 15, 13, 30), 0.5),
        ("CN", sh(2026, 9, 14, 20, 0), sh(2026, 9, 15, 7, 0), 0.0),
        ("CN", sh(2026, 9, 15, 16, 10), sh(2026, 9, 14, 16, 10), -1.0),
        ("none", sh(2026, 10, 2, 18, 0), sh(2026, 10, 5, 9, 0), 0.0),
        ("none", sh(2026, 10, 2, 7, 0), sh(2026, 10, 5, 22, 0), 2.0),
        ("DE", ber(2026, 10, 23, 10, 0), ber(2026, 10, 26, 10, 0), 1.0),
    ],
)
def test_business_days_between(cal: str, a: datetime, b: datetime, expected: float) -> None:
    assert CALENDARS[cal].business_days_between(a, b) == pytest.approx(expected)


# -- construction ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timezone": "Asia/Shangai"}, "not a known IANA time zone"),
        ({"holidays": "XX"}, "not a known holiday calendar"),
        ({"holidays": "US-XX"}, "no subdivision 'XX'"),
        ({"working_hours": (time(18), time(9))}, "start must be before the end"),
    ],
)
def test_bad_calendar_settings(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BusinessCalendar(**kwargs)  # type: ignore[arg-type]


def test_defaults_are_mainland_china_office_hours() -> None:
    cal = BusinessCalendar()
    assert (cal.timezone, cal.holidays, cal.working_hours) == (
        "Asia/Shanghai",
        "CN",
        (
            time(9),
            time(18),
        ),
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [("09:00-18:00", (time(9), time(18))), (" 08:30 - 17:45 ", (time(8, 30), time(17, 45)))],
)
def test_parse_working_hours(text: str, expected: tuple[time, time]) -> None:
    assert parse_working_hours(text) == expected


@pytest.mark.parametrize("text", ["9-18", "18:00-09:00", "09:00", "09:00-18:00-20:00", ""])
def test_parse_working_hours_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="HH:MM-HH:MM"):
        parse_working_hours(text)


# -- step due times --------------------------------------------------------------

DEFAULT = Playbook(
    steps=(
        Duration(1, Unit.BUSINESS_DAYS),
        Duration(3, Unit.BUSINESS_DAYS),
        Duration(6, Unit.BUSINESS_DAYS),
    ),
    close_after=Duration(3, Unit.BUSINESS_DAYS),
    min_gap=Duration(1, Unit.BUSINESS_DAYS),
    ooo_default=Duration(5, Unit.BUSINESS_DAYS),
)


def test_due_times_are_measured_from_the_silence_start() -> None:
    got = due_times(DEFAULT, CN, sh(2026, 9, 30, 16, 10))
    assert [d.at for d in got] == [
        sh(2026, 10, 8, 16, 10),
        sh(2026, 10, 10, 16, 10),
        sh(2026, 10, 14, 16, 10),
    ]


def test_step_due_without_touch_follows_the_schedule() -> None:
    got = step_due(DEFAULT, CN, sh(2026, 9, 30, 16, 10), 1, None)
    assert got.at == sh(2026, 10, 10, 16, 10)
    assert got.trace[0] == "step 2/3: 3bd after silence began"


def test_step_due_min_gap_wins_after_a_late_touch() -> None:
    # Step 1 was sent late, on Fri 10-09 11:00: step 2 (scheduled Sat 10-10 16:10)
    # must wait one business day after that touch.
    got = step_due(DEFAULT, CN, sh(2026, 9, 30, 16, 10), 1, sh(2026, 10, 9, 17, 0))
    assert got.at == sh(2026, 10, 10, 17, 0)
    assert "min_gap after the last touch is later" in got.trace[-1]


def test_step_due_schedule_wins_after_an_early_touch() -> None:
    got = step_due(DEFAULT, CN, sh(2026, 9, 30, 16, 10), 1, sh(2026, 10, 8, 16, 30))
    assert got.at == sh(2026, 10, 10, 16, 10)
    assert "the schedule (3bd) is later" in got.trace[-1]


def test_step_due_rejects_a_step_beyond_the_playbook() -> None:
    with pytest.raises(IndexError):
        step_due(DEFAULT, CN, sh(2026, 9, 30, 16, 10), 3, None)


# -- properties ------------------------------------------------------------------

PROPERTY_CALENDARS = [
    CN,
    NONE,
    DE,
    BusinessCalendar("America/Los_Angeles", "US-CA", (time(8, 30), time(17, 15))),
    BusinessCalendar("Australia/Sydney", "AU", (time(9), time(17))),
]
ZONES = [SHANGHAI, BERLIN, UTC, ZoneInfo("America/Los_Angeles"), ZoneInfo("Australia/Sydney")]

calendars = st.sampled_from(PROPERTY_CALENDARS)
instants = st.datetimes(
    min_value=datetime(2025, 6, 1),
    max_value=datetime(2027, 6, 30),
    timezones=st.sampled_from(ZONES),
    allow_imaginary=False,
)
durations = st.builds(Duration, st.integers(0, 40), st.sampled_from(list(Unit)))


def _inside_working_hours(cal: BusinessCalendar, t: datetime) -> bool:
    local = t.astimezone(ZoneInfo(cal.timezone))
    start, end = cal.working_hours
    return cal.is_working_day(local.date()) and start <= local.time() < end


@settings(max_examples=300, deadline=None)
@given(cal=calendars, start=instants, duration=durations)
def test_due_time_is_inside_working_hours_and_not_before_start(
    cal: BusinessCalendar, start: datetime, duration: Duration
) -> None:
    due = cal.add(start, duration)
    assert isinstance(due, DueTime)
    assert _inside_working_hours(cal, due.at)
    assert due.at.timestamp() >= start.timestamp()
    assert due.at.tzinfo == ZoneInfo(cal.timezone)


@settings(max_examples=300, deadline=None)
@given(cal=calendars, start=instants, n=st.integers(0, 40), unit=st.sampled_from(list(Unit)))
def test_more_time_never_gives_an_earlier_due_time(
    cal: BusinessCalendar, start: datetime, n: int, unit: Unit
) -> None:
    earlier = cal.add(start, Duration(n, unit)).at
    later = cal.add(start, Duration(n + 1, unit)).at
    assert later.timestamp() >= earlier.timestamp()
    if unit is Unit.BUSINESS_DAYS:
        assert later.timestamp() > earlier.timestamp()


@settings(max_examples=300, deadline=None)
@given(cal=calendars, t=instants)
def test_next_working_instant_is_idempotent(cal: BusinessCalendar, t: datetime) -> None:
    once = cal.next_working_instant(t)
    assert cal.next_working_instant(once) == once
    assert once.timestamp() >= t.timestamp()
    assert _inside_working_hours(cal, once)
    if _inside_working_hours(cal, t):
        assert once.timestamp() == t.timestamp()


@settings(max_examples=200, deadline=None)
@given(cal=calendars, start=instants, n=st.integers(0, 30))
def test_business_days_between_inverts_add(cal: BusinessCalendar, start: datetime, n: int) -> None:
    begin = cal.next_working_instant(start)
    due = cal.add(start, Duration(n, Unit.BUSINESS_DAYS)).at
    assert cal.business_days_between(begin, due) == pytest.approx(n, abs=1e-6)
